"""JSON text built in SQL, per engine, exactly as the executor's answer is written.

The executor's body is ``orjson.dumps({"data": …})``: no whitespace, fields in selection
order, strings escaped as orjson does (``\\"``, ``\\\\``, ``\\b\\t\\n\\f\\r`` and
lower-case ``\\u00XX`` for other control characters; everything else as UTF-8), ``DateTime``
as graphql/scalars.py ``serialize_datetime`` writes it and ids in lower-case.

The text is concatenated (``||``) on both engines, every value a non-null text expression
(``'null'`` for null):

* PostgreSQL's ``json_build_object``/``json_agg`` put spaces after ``:`` and ``,``;
  ``to_json(text)`` escapes a string the way orjson does; lists are ``string_agg`` with
  ``ORDER BY`` inside the aggregate.
* SQLite's ``json_object`` is compact, but a JSON value loses its "JSON" mark when it
  leaves a subquery (``json()`` would parse it again at every level) and takes at most 63
  members; building the text is as fast and has no limit. ``json_quote`` escapes as orjson does;
  lists are ``group_concat`` over an ordered subquery (no ``ORDER BY`` inside aggregates
  before 3.44; an aggregate keeps its subquery's order). Booleans are stored as 0/1, UUIDs
  as 32 hex digits, timestamps as text ``YYYY-MM-DD HH:MM:SS.ffffff`` (naive UTC).

Every constant written here is a name from the GraphQL document or schema (checked against
the GraphQL name syntax), never a value from a request: those are bound parameters.
"""

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    FromClause,
    Select,
    Text,
    case,
    cast,
    func,
    literal_column,
    not_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql import operators, sqltypes
from sqlalchemy.sql.elements import ClauseList, Grouping

from offerdesk.graphql.compiler.declarations import Fallback

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")

# The GraphQL leaf types the compiler writes, and how (graphql/scalars.py for the last two).
STRING, INT, BOOLEAN, DATETIME, UUID = "string", "int", "boolean", "datetime", "uuid"


def _sql_string(text: str) -> ColumnElement[str]:
    return literal_column("'" + text.replace("'", "''") + "'", Text)


def json_name(name: str) -> str:
    """``"name"`` for a GraphQL name (a key or a type name), which needs no escaping."""
    if not _NAME.match(name):
        raise Fallback(f"not a GraphQL name: {name!r}")
    return f'"{name}"'


def leaf_kind(graphql_type: str, expr: ColumnElement[Any]) -> str:
    """How a leaf of GraphQL type ``graphql_type`` is written; enums are written as their
    stored name, ids of UUID columns as lower-case UUIDs."""
    if graphql_type in ("String", "enum"):
        return STRING
    if graphql_type == "Int":
        return INT
    if graphql_type == "Boolean":
        return BOOLEAN
    if graphql_type == "DateTime":
        return DATETIME
    if graphql_type in ("ID", "UUID"):
        return UUID if isinstance(expr.type, sqltypes.Uuid) else STRING
    raise Fallback(f"leaf type {graphql_type}")


class JsonSql:
    """The JSON building blocks of one engine: every value a non-null SQL text expression of
    JSON (``'null'`` for null), concatenated into objects and lists."""

    def quote(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON string of text ``expr`` (SQL NULL stays NULL)."""
        raise NotImplementedError

    def uuid_text(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A UUID column as lower-case hyphenated text."""
        raise NotImplementedError

    def seconds(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A timestamp column's UTC ``YYYY-MM-DDTHH:MM:SS``."""
        raise NotImplementedError

    def micros(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A timestamp column's six digits of microseconds."""
        raise NotImplementedError

    def aggregate(
        self,
        element: ColumnElement[Any],
        from_: FromClause,
        where: Sequence[ColumnElement[bool]],
        order_by: Sequence[ColumnElement[Any]],
        correlate: Sequence[Any],
    ) -> ColumnElement[Any]:
        """``element`` of every row, in order, joined by commas (NULL when no rows)."""
        raise NotImplementedError

    def base64url(self, text: ColumnElement[Any]) -> ColumnElement[Any]:
        """Unpadded URL-safe base64 of UTF-8 ``text``."""
        raise NotImplementedError

    def leaf(self, kind: str, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A leaf value of ``kind`` (SQL NULL is JSON null)."""
        if kind == STRING:
            text = self.quote(expr)
        elif kind == INT:
            text = cast(expr, Text)
        elif kind == BOOLEAN:
            flag = type_coerce(expr, Boolean)
            return case(
                (flag, _sql_string("true")),
                (not_(flag), _sql_string("false")),
                else_=_sql_string("null"),
            )
        elif kind == UUID:
            text = _concat(['"', self.uuid_text(expr), '"'])
        else:
            text = self.datetime_string(expr)
        return func.coalesce(text, _sql_string("null"))

    def datetime_string(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        """A timestamp column as a JSON string in serialize_datetime's form (graphql/scalars.py):
        seconds, then ".ffffff" without its trailing zeros (none at all when they are all zero),
        then "Z"."""
        fraction = func.rtrim(_concat([".", self.micros(expr)]), _sql_string(".0"))
        return _concat(['"', self.seconds(expr), fraction, 'Z"'])

    def string(self, text: str) -> ColumnElement[Any]:
        """A constant JSON string (``__typename``)."""
        return _sql_string(json_name(text))

    def obj(self, members: Sequence[tuple[str, ColumnElement[Any]]]) -> ColumnElement[Any]:
        """An object of ``(key, value)`` members, in order."""
        parts: list[ColumnElement[Any] | str] = ["{"]
        for index, (key, value) in enumerate(members):
            parts += [("," if index else "") + json_name(key) + ":", value]
        return _concat([*parts, "}"])

    def one(self, rows: Select[Any]) -> ColumnElement[Any]:
        """The value of the first row of ``rows`` (one JSON column), or null."""
        return func.coalesce(rows.limit(1).scalar_subquery(), _sql_string("null"))

    def array(
        self,
        element: ColumnElement[Any],
        from_: FromClause,
        where: Sequence[ColumnElement[bool]],
        order_by: Sequence[ColumnElement[Any]],
        correlate: Sequence[Any],
    ) -> ColumnElement[Any]:
        """The array of ``element`` over the rows of ``from_`` that ``where`` admits, in
        ``order_by`` order (``[]`` when there are none); ``where`` may name the enclosing
        rows ``correlate``."""
        items = self.aggregate(element, from_, where, order_by, correlate)
        return _concat(["[", func.coalesce(items, _sql_string("")), "]"])

    def cursor(self, created_at: ColumnElement[Any], id_: ColumnElement[Any]) -> ColumnElement[Any]:
        """The text of pagination.py's ``encode_cursor(created_at, id)`` (a value for
        ``leaf(STRING, …)``): unpadded URL-safe base64 of ``<created_at.isoformat()>|<id>``."""
        micros = self.micros(created_at)
        # datetime.isoformat(): the fraction only when it is not zero, all six digits.
        fraction = case(
            (micros == _sql_string("000000"), _sql_string("")), else_=_concat([".", micros])
        )
        raw = _concat([self.seconds(created_at), fraction, "+00:00|", self.uuid_text(id_)])
        return self.base64url(raw)


def _concat(parts: Sequence[ColumnElement[Any] | str]) -> ColumnElement[Any]:
    """``a || b || …`` flat (a nested chain of hundreds of fields would exhaust Python's
    recursion limit in SQLAlchemy's compiler); adjacent constants merged."""
    merged: list[ColumnElement[Any] | str] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    elements = [_sql_string(part) if isinstance(part, str) else part for part in merged]
    if len(elements) == 1:
        return elements[0]
    return type_coerce(Grouping(ClauseList(*elements, operator=operators.concat_op)), Text)


def _correlated(rows: Select[Any], correlate: Sequence[Any]) -> Select[Any]:
    # correlate() with nothing would turn automatic correlation off altogether.
    return rows.correlate(*correlate) if correlate else rows


class PostgresJson(JsonSql):
    def quote(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(func.to_json(expr), Text)

    def uuid_text(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return cast(expr, Text)

    def _utc(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.timezone(_sql_string("UTC"), expr)

    def seconds(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.to_char(self._utc(expr), _sql_string('YYYY-MM-DD"T"HH24:MI:SS'))

    def micros(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.to_char(self._utc(expr), _sql_string("US"))

    def datetime_string(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        # PostgreSQL's JSON form of a timestamp is ISO 8601 with the fraction's trailing zeros
        # already dropped: only the "Z" goes in before the closing quote. Half the cost of the
        # two to_char calls, which were a sixth of a catalogue page's time (bench/RESULTS.md).
        return _concat([func.left(cast(func.to_json(self._utc(expr)), Text), -1), 'Z"'])

    def aggregate(
        self,
        element: ColumnElement[Any],
        from_: FromClause,
        where: Sequence[ColumnElement[bool]],
        order_by: Sequence[ColumnElement[Any]],
        correlate: Sequence[Any],
    ) -> ColumnElement[Any]:
        separator = _sql_string(",")
        joined = func.string_agg(
            element, aggregate_order_by(separator, *order_by) if order_by else separator
        )
        rows = select(joined).select_from(from_).where(*where)
        return _correlated(rows, correlate).scalar_subquery()

    def base64url(self, text: ColumnElement[Any]) -> ColumnElement[Any]:
        encoded = func.encode(func.convert_to(text, _sql_string("UTF8")), _sql_string("base64"))
        # PostgreSQL's base64 is the standard alphabet, padded, with a newline every 76
        # characters: translate to the URL-safe alphabet and drop padding and newlines.
        return func.translate(
            encoded, _concat(["+/=", func.chr(literal_column("10"))]), _sql_string("-_")
        )


class SqliteJson(JsonSql):
    def quote(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        # json_quote(NULL) is the text 'null', which the leaf's coalesce would give anyway.
        return func.json_quote(expr)

    def uuid_text(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        hex_ = type_coerce(expr, Text)
        pieces = [func.substr(hex_, start, length) for start, length in _UUID_GROUPS]
        return _concat([pieces[0], "-", pieces[1], "-", pieces[2], "-", pieces[3], "-", pieces[4]])

    def seconds(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        text = type_coerce(expr, Text)
        return _concat([func.substr(text, 1, 10), "T", func.substr(text, 12, 8)])

    def micros(self, expr: ColumnElement[Any]) -> ColumnElement[Any]:
        # A time stored without a fraction reads as six zeros.
        return func.substr(_concat([type_coerce(expr, Text), ".000000"]), 21, 6)

    def aggregate(
        self,
        element: ColumnElement[Any],
        from_: FromClause,
        where: Sequence[ColumnElement[bool]],
        order_by: Sequence[ColumnElement[Any]],
        correlate: Sequence[Any],
    ) -> ColumnElement[Any]:
        rows = select(element.label("item")).select_from(from_).where(*where).order_by(*order_by)
        # A subquery in FROM is not correlated by SQLAlchemy unless told to.
        ordered = _correlated(rows, correlate).subquery()
        return select(func.group_concat(ordered.c.item, _sql_string(","))).scalar_subquery()

    def base64url(self, text: ColumnElement[Any]) -> ColumnElement[Any]:
        # SQLite has no base64: db.py registers this function on every connection.
        return func.offerdesk_base64url(text)


_UUID_GROUPS = ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))


def json_sql(dialect: str) -> JsonSql:
    """The builder for an engine (``postgresql`` or ``sqlite``)."""
    if dialect == "postgresql":
        return PostgresJson()
    if dialect == "sqlite":
        return SqliteJson()
    raise Fallback(f"no compiled reads on {dialect}")
