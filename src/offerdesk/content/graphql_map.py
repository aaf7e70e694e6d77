"""How the GraphQL types of content/schema.py are read by compiled reads (graphql/compiler/):
one declaration per field, the rules taken from the service."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement

from offerdesk.content import service
from offerdesk.content.models import ContentItem
from offerdesk.graphql.compiler.declarations import Args, Connection, Link, Rows, TypeMap, column
from offerdesk.repository import key_condition, key_value
from offerdesk.validation import search_term


def _listing(_: None, item: Any, args: Args) -> Sequence[ColumnElement[bool]]:
    type_ = args.param("type") if args.given("type") else None
    term = args.param("search", search_term) if args.text_given("search") else None
    return service.listing_conditions(item, type_, term)


def _by_key(_: None, item: Any, args: Args) -> Rows:
    key = args.one_of("id", "ref")
    return Rows(where=[key_condition(item, key, args.param(key, key_value))])


MAPS = [
    TypeMap(
        "ContentItem",
        ContentItem,
        {
            "id": column("id"),
            "ref": column("ref"),
            "type": column("type"),
            "title": column("title"),
            "description": column("description"),
            "url": column("url"),
            "isActive": column("is_active"),
            "createdAt": column("created_at"),
            "updatedAt": column("updated_at"),
        },
    ),
    TypeMap(
        "Query",
        None,
        {
            "contentItem": Link("ContentItem", _by_key, many=False),
            "paginatedContentItems": Connection("ContentItem", _listing),
        },
    ),
]
