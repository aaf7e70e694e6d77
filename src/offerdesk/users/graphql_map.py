"""How the GraphQL types of users/schema.py are read by compiled reads (graphql/compiler/):
one declaration per field, the rules taken from the service."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement

from offerdesk.graphql.compiler.declarations import Args, Connection, Link, Rows, TypeMap, column
from offerdesk.repository import key_condition, key_value
from offerdesk.users import service
from offerdesk.users.models import User
from offerdesk.validation import search_term


def _listing(_: None, user: Any, args: Args) -> Sequence[ColumnElement[bool]]:
    term = args.param("search", search_term) if args.text_given("search") else None
    return service.listing_conditions(user, args.flag("isActive"), term)


def _by_key(_: None, user: Any, args: Args) -> Rows:
    key = args.one_of("id", "ref", "email")
    if key == "email":
        return Rows(where=[service.email_condition(user, args.param(key, service.email_key))])
    return Rows(where=[key_condition(user, key, args.param(key, key_value))])


MAPS = [
    TypeMap(
        "User",
        User,
        {
            "id": column("id"),
            "ref": column("ref"),
            "name": column("name"),
            "email": column("email"),
            "isActive": column("is_active"),
            "createdAt": column("created_at"),
            "updatedAt": column("updated_at"),
        },
    ),
    TypeMap(
        "Query",
        None,
        {
            "user": Link("User", _by_key, many=False),
            "paginatedUsers": Connection("User", _listing),
        },
    ),
]
