"""How a domain tells the compiler what its GraphQL types are in SQL: one declaration per field.

Each domain writes these in its ``graphql_map.py``, beside its ``schema.py``. A declaration
names SQL through the domain's service (its orders, filters, computed expressions), so the
compiled read and the executor's read share one definition of each rule.

Expressions are functions of a row *alias* (an ``sqlalchemy.orm.aliased`` model): the same
table can appear several times in one statement (an offer's events' offer's events …).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import BindParameter, ColumnElement, bindparam


class Fallback(Exception):
    """The operation, or this request's values, cannot be answered by a compiled statement;
    the executor answers instead (its answer, errors included, is the reference)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Args(Protocol):
    """A field's arguments as a declaration sees them while its plan is built.

    A plan serves every request whose variables have the same *shape* (null or not, blank or
    not, and the value of booleans), so a declaration may branch on ``given``, ``text_given``
    and ``flag``; every other value reaches the SQL only as a bound parameter (``param``).
    """

    def given(self, name: str) -> bool:
        """Whether the argument is non-null."""
        ...

    def text_given(self, name: str) -> bool:
        """Whether the (string) argument is non-null and not only blanks."""
        ...

    def flag(self, name: str) -> bool | None:
        """The value of a Boolean argument."""
        ...

    def one_of(self, *names: str) -> str:
        """The one non-null argument of ``names``; ``Fallback`` when not exactly one is (the
        executor's BAD_USER_INPUT answers that)."""
        ...

    def param(self, name: str, prepare: Callable[[Any], Any] | None = None) -> Any:
        """A bound parameter whose value, per request, is ``prepare(argument value)``. A
        ``DomainError`` raised by ``prepare`` makes that request fall back."""
        ...


@dataclass(frozen=True)
class Rows:
    """The rows of a relation: conditions on the child alias (correlated to the parent's),
    their order, and tables joined to reach them (a link table: ``(table, on clause)``)."""

    where: Sequence[ColumnElement[bool]]
    order_by: Sequence[ColumnElement[Any]] = ()
    joins: Sequence[tuple[Any, ColumnElement[bool]]] = ()


@dataclass(frozen=True)
class Value:
    """A leaf field: a column or an expression over the row (``lambda row: row.title``)."""

    sql: Callable[[Any], ColumnElement[Any]]


@dataclass(frozen=True)
class Link:
    """An object field (``many=False``) or list field (``many=True``) of type ``target``:
    ``rows(parent, child, args)`` says which rows of the target's table, in which order."""

    target: str
    rows: Callable[[Any, Any, Args], Rows]
    many: bool


@dataclass(frozen=True)
class First:
    """A leaf field that is field ``field`` of the first row of this type's ``link``
    (``contentTitle``: the title of the first of ``contentItems``)."""

    link: str
    field: str


@dataclass(frozen=True)
class Connection:
    """A Relay connection of ``target`` rows (SPEC §2.6): keyset pages over (created_at, id)
    as pagination.py reads them, the rows filtered by ``where(parent, child, args)`` (parent
    None at the root); the arguments ``first`` and ``after`` are the connection's own."""

    target: str
    where: Callable[[Any, Any, Args], Sequence[ColumnElement[bool]]]


@dataclass(frozen=True)
class Write:
    """A mutation root field that graphql/direct.py may carry out in ONE statement with the
    token check, followed by its payload read as a compiled read.

    * ``statement(allowed)``: the change, a SELECT (of a function making it) with named bound
      parameters, returning one row, that makes the change only where the condition
      ``allowed`` (the caller's rights, on the token check's row) holds: graphql/direct.py
      joins it LATERAL to the token check, so that nothing runs for a caller who may not;
    * ``values(arguments)``: its parameters, for the field's coerced GraphQL ``arguments``
      (input objects as dicts by GraphQL name, enums as their names);
    * ``result(row)``: the id of the object the payload reports, bound as ``:result_id`` in
      ``payload``'s declarations; None when the row says the change was refused, or was not
      made (its columns null: the caller may not). The full path then answers, with the
      executor's errors: a refusal writes nothing;
    * ``committed(row)``: what the change's commit means to the rest of the process
      (metrics), called once the statement returned;
    * ``payload``: the field's payload type, whose map has no table (``model`` None): its
      fields reach rows through ``result_id``;
    * ``sqlite``: the change on SQLite, which has no functions to call: ``sqlite(cursor,
      values)`` makes it with a DB-API ``cursor`` inside a write transaction and returns the
      row ``statement`` would, as a mapping (the caller checks the rights first);
    * ``dialects``: the engines that have what ``statement`` calls, or ``sqlite`` (other
      engines' requests take the executor).

    Only a change that may run again unchanged belongs here: when its connection fails
    mid-statement, the full path runs the request again.
    """

    payload: str
    statement: Callable[[ColumnElement[bool]], Any]
    values: Callable[[Mapping[str, Any]], dict[str, Any]]
    result: Callable[[Mapping[str, Any]], Any]
    committed: Callable[[Mapping[str, Any]], None]
    sqlite: Callable[[Any, Mapping[str, Any]], Mapping[str, Any]]
    dialects: frozenset[str]


Declaration = Value | Link | First | Connection | Write


@dataclass(frozen=True)
class TypeMap:
    """A GraphQL object type's table (``model``: a mapped class, aliased per use) and its
    fields. ``Query``'s and ``Mutation``'s maps have no model: their fields are the root
    fields; nor has a mutation's payload type's (``Write``)."""

    name: str
    model: Any
    fields: Mapping[str, Declaration] = field(default_factory=dict)


def result_id() -> BindParameter[Any]:
    """The id a ``Write`` reports (``Write.result``), as a payload's declarations bind it."""
    return bindparam(RESULT_ID)


# The bound parameter of ``result_id``.
RESULT_ID = "result_id"


def column(name: str) -> Value:
    """The leaf field that is the row's column (or hybrid) ``name``."""
    return Value(lambda row: getattr(row, name))


def merge(*groups: Sequence[TypeMap]) -> dict[str, TypeMap]:
    """The domains' maps by type name; the fields of a type declared in several domains
    (``Query``) are merged, and a field declared twice is an error."""
    merged: dict[str, TypeMap] = {}
    for group in groups:
        for type_map in group:
            known = merged.get(type_map.name)
            if known is None:
                merged[type_map.name] = type_map
                continue
            twice = set(known.fields) & set(type_map.fields)
            if twice:
                raise ValueError(f"{type_map.name} fields declared twice: {sorted(twice)}")
            merged[type_map.name] = TypeMap(
                type_map.name, known.model or type_map.model, {**known.fields, **type_map.fields}
            )
    return merged


__all__ = [
    "Args",
    "Connection",
    "Declaration",
    "Fallback",
    "First",
    "Link",
    "Rows",
    "TypeMap",
    "Value",
    "Write",
    "column",
    "merge",
    "result_id",
]
