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
"""

import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import GraphQLSchema
from graphql.execution.values import get_variable_values
from sqlalchemy import Text, and_, bindparam, case, null, select
from sqlalchemy.ext.asyncio import AsyncEngine

from offerdesk.auth.service import Principal, hash_secret, principal_from_row, token_lookup
from offerdesk.db import Database, utcnow
from offerdesk.errors import DomainError
from offerdesk.graphql.cache import CacheKey, ResponseCache
from offerdesk.graphql.compiler.declarations import Fallback
from offerdesk.graphql.compiler.plan import Plan, Plans, Unsupported
from offerdesk.graphql.cost import operation_cost
from offerdesk.graphql.documents import DocumentCache
from offerdesk.graphql.inputs import check_strings, check_variables


@dataclass(frozen=True)
class DirectAnswer:
    """A compiled answer: ``data`` (the answer's ``data`` as JSON bytes), who asked, and the
    operation's name (for the access log and metrics)."""

    data: bytes
    principal: Principal
    operation_name: str | None


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

    async def answer(
        self,
        db: Database,
        cache: ResponseCache | None,
        query: str,
        variables: dict[str, Any],
        operation_name: str | None,
        token: str,
    ) -> DirectAnswer | None:
        """The answer to a request whose body asked for ``query`` with ``variables`` and
        ``operation_name`` (as sent) with bearer ``token``; None when the full path must
        answer (see the module). Cancellation (the request's time budget) propagates.

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
        if operation_cost(self.schema, known.operation, known.fragments, variables) > (
            self.max_cost
        ):
            return None
        coerced = get_variable_values(
            self.schema, known.operation.variable_definitions or (), variables
        )
        if isinstance(coerced, list):
            return None
        plan = self.plans.get(
            self.schema, db.dialect, query, known.document, known.operation, coerced
        )
        if isinstance(plan, Unsupported):
            return None
        try:
            parameters = plan.parameters(coerced)
        except Fallback:
            return None
        # A compiled answer depends on the caller only through the scopes the plan needs, which
        # the caller is checked to hold: those, not the caller's, are in the key.
        # No doorkeeper (ResponseCache.admit): the version is read in the same statement
        # anyway, so storing a first answer costs only its place in the cache.
        key: CacheKey | None = None
        if cache is not None:
            encoded_variables = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS)
            key = (query, operation_name, encoded_variables, frozenset().union(*plan.scopes))
        parameters["cached_version"] = cache.version(key) if cache is not None and key else None
        parameters["token_hash"] = hash_secret(token)
        parameters["now"] = utcnow()
        row = await self._fetch(db.engine, self._prepare(plan, db), parameters)
        principal = principal_from_row(row)
        if row is None or principal is None:
            return None
        if plan.missing_scopes(frozenset(scope.value for scope in principal.scopes)):
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
        return DirectAnswer(encoded, principal, operation_name or known.name)

    def _prepare(self, plan: Plan, db: Database) -> _Prepared:
        prepared = self._prepared.get(plan)
        if prepared is None:
            dialect = db.engine.dialect
            token = (
                token_lookup(bindparam("token_hash"), bindparam("now"))
                .add_columns(db.data_version_sql().label("version"))
                .subquery("token")
            )
            stale = token.c.version.is_distinct_from(bindparam("cached_version", type_=Text))
            statement = select(
                *token.c, case((and_(token.c.valid, stale), plan.data), else_=null()).label("data")
            ).select_from(token)
            compiled = statement.compile(dialect=dialect)
            names = tuple(compiled.positiontup or ())
            processors = {}
            # A parameter takes the type of what it is compared with: the typed copies are
            # among the compiler's bind_names, under the same name.
            for bind, name in compiled.bind_names.items():
                processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
                if processor is not None:
                    processors[name] = processor
            # Values the statement fixed itself (a LIMIT of 1, …).
            defaults = {
                name: bind.value for name, bind in compiled.binds.items() if not bind.required
            }
            prepared = _Prepared(str(compiled), names, processors, defaults)
            self._prepared[plan] = prepared
        return prepared

    async def _fetch(
        self, engine: AsyncEngine, prepared: _Prepared, parameters: dict[str, Any]
    ) -> tuple[Any, ...] | None:
        values = {**prepared.defaults, **parameters}
        arguments = [
            prepared.processors[name](values[name]) if name in prepared.processors else values[name]
            for name in prepared.names
        ]
        async with engine.connect() as connection:
            # The driver's own connection: SQLAlchemy's execution (cache key of a statement
            # this size, result processing) cost more than the rest of the request.
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            try:
                if engine.dialect.name == "postgresql":
                    record = await driver.fetchrow(prepared.sql, *arguments)
                    return tuple(record) if record is not None else None
                rows = await driver.execute_fetchall(prepared.sql, arguments)
                return tuple(rows[0]) if rows else None
            except Exception:
                # The full path runs the request again and answers as it does (a masked
                # error, or 503 when the database is unavailable); a connection that failed
                # here is not given back to the pool.
                await connection.invalidate()
                return None
