"""Compiled reads without the executor's pipeline: one statement, the token check included.

A query operation that has once been answered by its compiled plan (compiler/extension.py)
has passed everything that depends on its document alone: parsing, the token limit,
validation (depth, aliases, directives), the choice of operation. A later request with the
same document text and operation name is answered here, before the schema's pipeline:

* what depends on the request's variables is checked again, by the same functions the
  pipeline uses: the variables' shape and String arguments (graphql/inputs.py), the cost
  (graphql/cost.py), coercion, and the plan's own parameters (page sizes, cursors, keys);
* ONE statement checks the bearer token (auth/service.token_lookup, the same statement
  authentication runs) and computes the answer only when the token is valid: one round trip
  to the database, the token included (issue 10, item 4). PostgreSQL prepares it once per
  connection (asyncpg's statement cache, keyed by the SQL text compiled once per plan).

Anything that is not the plain case answers None, and the request takes the full path, which
authenticates and answers exactly as always (the reference): no token, or one that is
unknown, expired, revoked or lacks a scope the plan needs; a value the checks refuse; a
document not seen compiled yet; a database error.

The response cache (graphql/cache.py) rides in the same statement: it reads the data version
beside the token and computes the answer only when the stored one is not current, so a hit and
a miss both cost one round trip (docs/decisions.md).

Mutations whose one root field has a ``Write`` declaration (``enrollUserInOfferEvent``,
issue 11) are known once the executor has answered them without errors, and are then carried
out here. On PostgreSQL, in two statements on one connection, each its own transaction:

* the token check and the change: the same function call the service makes (the event is
  locked for that one round trip), joined LATERAL to the token's row under the condition that
  the token is valid and holds the plan's scopes (auth/service.token_allows, the SQL form of
  the rule the full path applies in Python), so that nothing runs for a caller who may not;
* the payload, compiled like a read, by the id the change reports.

On SQLite, which has no functions, in one hop to the process's writer thread
(``Database.sqlite_writer``), on one connection: a write transaction whose first statement
checks the token beside the data version (the rights are checked in Python, by the full
path's functions), then, for a principal who may, the change's statements (``Write.sqlite``)
and the commit; then the payload.

A refused change wrote nothing, and the full path answers it (the executor's errors); so
does a caller without the right (401, FORBIDDEN), and a change whose connection failed,
which the declaration guarantees may run again.
"""

import sqlite3
import weakref
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLSchema
from graphql.execution.values import VariableValues, get_variable_values
from sqlalchemy import Text, and_, bindparam, case, literal_column, null, select, true

from offerdesk.auth.service import (
    Principal,
    hash_secret,
    principal_from_row,
    token_allows,
    token_lookup,
)
from offerdesk.db import Database, utcnow, write_transaction
from offerdesk.errors import DomainError
from offerdesk.graphql.cache import CacheKey, ResponseCache, cache_key
from offerdesk.graphql.compiler.declarations import RESULT_ID, Fallback, Write
from offerdesk.graphql.compiler.plan import Plan, PlannedWrite, Plans, Unsupported
from offerdesk.graphql.documents import DocumentCache
from offerdesk.graphql.inputs import check_strings, check_variables

# Requests of this process answered here, by kind ("read", "write"): what the tests check to
# know this path ran.
ANSWERED: Counter[str] = Counter()


@dataclass(frozen=True)
class DirectAnswer:
    """A compiled answer: ``data`` (the answer's ``data`` as JSON bytes), who asked, and the
    operation's name (for the access log and metrics)."""

    data: bytes
    principal: Principal
    operation_name: str | None
    # A mutation's change committed (the answer's data is its payload).
    wrote: bool = False


class _Refused(Exception):
    """A change the rules refused: its transaction is rolled back (it wrote nothing)."""


@dataclass(frozen=True)
class _Written:
    """A change made on SQLite: who made it and the payload's row."""

    principal: Principal
    data: tuple[Any, ...] | None


@dataclass(frozen=True)
class _Prepared:
    """A plan's statement with the token check, as the driver takes it: the SQL text, the
    bound parameters in the driver's order and how each value is converted."""

    sql: str
    names: tuple[str, ...]
    processors: Mapping[str, Callable[[Any], Any]]
    defaults: Mapping[str, Any]


class DirectReads:
    """Answers known compiled query operations in one statement (see the module)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        plans: Plans,
        documents: DocumentCache,
        max_tokens: int,
        max_cost: int,
    ) -> None:
        self.schema = schema
        self.plans = plans
        self.documents = documents
        self.max_tokens = max_tokens
        self.max_cost = max_cost
        # Per plan, while the plan is cached (Plans evicts least recently used ones).
        self._prepared: weakref.WeakKeyDictionary[Plan, _Prepared] = weakref.WeakKeyDictionary()
        self._writes: weakref.WeakKeyDictionary[Plan, tuple[_Prepared, _Prepared]] = (
            weakref.WeakKeyDictionary()
        )
        self._sqlite_payloads: weakref.WeakKeyDictionary[Plan, _Prepared] = (
            weakref.WeakKeyDictionary()
        )
        self._sqlite_token_check: _Prepared | None = None

    async def answer(
        self,
        db: Database,
        cache: ResponseCache | None,
        query: str,
        variables: dict[str, Any],
        operation_name: str | None,
        token: str,
        reads: bool = True,
        writes: bool = False,
        on_commit: Callable[[], None] = lambda: None,
    ) -> DirectAnswer | None:
        """The answer to a request whose body asked for ``query`` with ``variables`` and
        ``operation_name`` (as sent) with bearer ``token``; None when the full path must
        answer (see the module). ``reads``/``writes``: whether a query / a mutation may be
        answered here (a mutation only over POST, without an Idempotency-Key). Cancellation
        (the request's time budget) propagates. ``on_commit`` is called once a mutation's
        change has committed, before its payload is read: a failure from then on (the time
        budget included) must not be answered as "nothing was written".

        With a response ``cache``, the statement also reads the data version and computes the
        answer only when it differs from the stored answer's: a hit costs the same one
        statement, without the data's work (graphql/cache.py)."""
        known = self.plans.known(query, operation_name)
        if known is None:
            return None
        try:
            check_variables(variables)
            strings = self.documents.string_arguments(
                self.schema, query, self.max_tokens, known.document
            )
            check_strings(strings, variables)
        except DomainError:
            return None
        if known.cost(variables) > self.max_cost:
            return None
        coerced = get_variable_values(
            self.schema, known.operation.variable_definitions or (), variables
        )
        if isinstance(coerced, list):
            return None
        plan = self.plans.get(
            self.schema, db.dialect, query, known.document, known.operation, coerced
        )
        if isinstance(plan, Unsupported) or not (writes if plan.write else reads):
            return None
        try:
            parameters = plan.parameters(coerced)
        except Fallback:
            return None
        name = operation_name or known.name
        if plan.write is not None:
            return await self._write(
                db, plan, plan.write, coerced, parameters, token, name, on_commit
            )
        # A compiled answer depends on the caller only through the scopes the plan needs, which
        # the caller is checked to hold: those, not the caller's, are in the key.
        # No doorkeeper (ResponseCache.admit): the version is read in the same statement
        # anyway, so storing a first answer costs only its place in the cache.
        key: CacheKey | None = None
        if cache is not None:
            key = cache_key(query, operation_name, variables, frozenset().union(*plan.scopes))
        parameters["cached_version"] = cache.version(key) if cache is not None and key else None
        parameters["token_hash"] = hash_secret(token)
        parameters["token_now"] = utcnow()
        row = await self._fetch(db, self._prepare(plan, db), parameters)
        principal = principal_from_row(row)
        if row is None or principal is None:
            return None
        if plan.missing_scopes(principal.scopes):
            return None
        version, data = row[4], row[5]
        if data is None:
            encoded = cache.get(key, version) if cache is not None and key else None
            if encoded is None:
                return None
        else:
            encoded = str(data).encode()
            if cache is not None and key:
                cache.put_encoded(key, version, encoded)
        ANSWERED["read"] += 1
        return DirectAnswer(encoded, principal, name)

    async def _write(
        self,
        db: Database,
        plan: Plan,
        planned: PlannedWrite,
        coerced: VariableValues,
        parameters: dict[str, Any],
        token: str,
        operation_name: str | None,
        on_commit: Callable[[], None],
    ) -> DirectAnswer | None:
        """A known mutation carried out in two statements (see the module), or None."""
        write = planned.write
        try:
            values = write.values(planned.arguments(coerced))
        except (Fallback, DomainError):
            return None
        if db.dialect == "sqlite":
            return await self._write_on_sqlite(
                db, plan, write, values, parameters, token, operation_name, on_commit
            )
        change, payload = self._prepare_write(plan, write, db)
        try:
            async with db.driver_connection() as driver:
                credentials = {"token_hash": hash_secret(token), "token_now": utcnow()}
                row = await _record(driver, change, {**values, **credentials})
                if row is None:
                    return None
                principal = principal_from_row(
                    (row["valid"], row["scopes"], row["client_scopes"], row["client_id"])
                )
                # The statement made the change only for a principal that may (token_allows):
                # without one, nothing was written and the full path answers (401, FORBIDDEN).
                result = write.result(row)
                if principal is None or result is None:
                    return None
                write.committed(row)
                on_commit()
                data = await _run(driver, db.dialect, payload, {**parameters, RESULT_ID: result})
        except Exception:
            # As for reads; the change may run again (``Write``'s contract).
            return None
        if data is None:
            return None
        ANSWERED["write"] += 1
        return DirectAnswer(str(data[0]).encode(), principal, operation_name, wrote=True)

    async def _write_on_sqlite(
        self,
        db: Database,
        plan: Plan,
        write: Write,
        values: Mapping[str, Any],
        parameters: dict[str, Any],
        token: str,
        operation_name: str | None,
        on_commit: Callable[[], None],
    ) -> DirectAnswer | None:
        """A known mutation on SQLite, in one hop to the writer thread (see the module)."""
        check = self._sqlite_token_check
        if check is None:
            versioned = _TOKEN_CHECK.add_columns(db.data_version_sql().label("version"))
            check = self._sqlite_token_check = _compile(versioned, db)
        payload = self._sqlite_payloads.get(plan)
        if payload is None:
            payload = self._sqlite_payloads[plan] = _compile(select(plan.data), db)
        credentials = {"token_hash": hash_secret(token), "token_now": utcnow()}
        # The change's row once committed: told below whatever happens after the commit.
        committed: list[Mapping[str, Any]] = []

        def work(connection: sqlite3.Connection) -> _Written | None:
            cursor = connection.cursor()
            try:
                # The token is checked in the transaction, beside the data version that the
                # commit moves on: one statement for both.
                with write_transaction(cursor) as version:
                    token = cursor.execute(check.sql, _arguments(check, credentials)).fetchone()
                    principal = principal_from_row(token)
                    if principal is None or plan.missing_scopes(principal.scopes):
                        # The full path answers (401, FORBIDDEN).
                        raise _Refused
                    version.value = token[4]
                    row = write.sqlite(cursor, values)
                    result = write.result(row)
                    if result is None:
                        # Nothing was written; the full path answers with the refusal.
                        raise _Refused
                committed.append(row)
                data = cursor.execute(
                    payload.sql, _arguments(payload, {**parameters, RESULT_ID: result})
                ).fetchone()
                return _Written(principal, data)
            except _Refused:
                return None
            finally:
                cursor.close()

        try:
            written = await db.sqlite_writer(work)
        except Exception:
            # As for PostgreSQL: the change may run again (``Write``'s contract).
            written = None
        finally:
            # Cancelled too: sqlite_writer has waited for the work to end.
            if committed:
                write.committed(committed[0])
                on_commit()
        if written is None or written.data is None:
            return None
        ANSWERED["write"] += 1
        return DirectAnswer(
            str(written.data[0]).encode(), written.principal, operation_name, wrote=True
        )

    def _prepare_write(self, plan: Plan, write: Write, db: Database) -> tuple[_Prepared, _Prepared]:
        """The plan's change beside its token check, and its payload, compiled once."""
        prepared = self._writes.get(plan)
        if prepared is None:
            token = _TOKEN_CHECK.subquery("token")
            change = write.statement(token_allows(token, plan.scopes)).lateral("change")
            statement = select(*token.c, literal_column(f"{change.name}.*")).select_from(
                token.outerjoin(change, true())
            )
            prepared = (_compile(statement, db), _compile(select(plan.data), db))
            self._writes[plan] = prepared
        return prepared

    def _prepare(self, plan: Plan, db: Database) -> _Prepared:
        prepared = self._prepared.get(plan)
        if prepared is None:
            token = _TOKEN_CHECK.add_columns(db.data_version_sql().label("version")).subquery(
                "token"
            )
            stale = token.c.version.is_distinct_from(bindparam("cached_version", type_=Text))
            statement = select(
                *token.c, case((and_(token.c.valid, stale), plan.data), else_=null()).label("data")
            ).select_from(token)
            prepared = self._prepared[plan] = _compile(statement, db)
        return prepared

    async def _fetch(
        self, db: Database, prepared: _Prepared, parameters: dict[str, Any]
    ) -> tuple[Any, ...] | None:
        # The driver's own connection: SQLAlchemy's execution (cache key of a statement this
        # size, result processing) cost more than the rest of the request.
        try:
            async with db.driver_connection() as driver:
                return await _run(driver, db.dialect, prepared, parameters)
        except Exception:
            # The full path runs the request again and answers as it does (a masked error, or
            # 503 when the database is unavailable); the connection that failed here is closed
            # (Database.driver_connection).
            return None


# The bearer token's check (auth/service.token_lookup) with its values as bound parameters.
_TOKEN_CHECK = token_lookup(bindparam("token_hash"), bindparam("token_now"))


def _compile(statement: Any, db: Database) -> _Prepared:
    """``statement`` as the driver of ``db`` takes it (compiled once by the callers)."""
    dialect = db.engine.dialect
    compiled = statement.compile(dialect=dialect)
    names = tuple(compiled.positiontup or ())
    processors = {}
    # A parameter takes the type of what it is compared with: the typed copies are among the
    # compiler's bind_names, under the same name.
    for bind, name in compiled.bind_names.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        if processor is not None:
            processors[name] = processor
    # Values the statement fixed itself (a LIMIT of 1, …).
    defaults = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
    return _Prepared(str(compiled), names, processors, defaults)


def _arguments(prepared: _Prepared, parameters: Mapping[str, Any]) -> list[Any]:
    values = {**prepared.defaults, **parameters}
    return [
        prepared.processors[name](values[name]) if name in prepared.processors else values[name]
        for name in prepared.names
    ]


async def _run(
    driver: Any, dialect: str, prepared: _Prepared, parameters: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """The first row of ``prepared`` run with ``parameters`` on the ``driver`` connection
    (asyncpg or aiosqlite, by ``dialect``), or None when there is none."""
    arguments = _arguments(prepared, parameters)
    if dialect == "postgresql":
        record = await driver.fetchrow(prepared.sql, *arguments)
        return tuple(record) if record is not None else None
    rows = await driver.execute_fetchall(prepared.sql, arguments)
    return tuple(rows[0]) if rows else None


async def _record(
    driver: Any, prepared: _Prepared, parameters: Mapping[str, Any]
) -> dict[str, Any] | None:
    """The first row of ``prepared`` run with ``parameters`` on an asyncpg ``driver``
    connection, by column name (``SELECT *`` of a function), or None when there is none."""
    record = await driver.fetchrow(prepared.sql, *_arguments(prepared, parameters))
    return dict(record.items()) if record is not None else None
