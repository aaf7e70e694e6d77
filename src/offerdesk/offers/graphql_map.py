"""How the GraphQL types of offers/schema.py are read by compiled reads (graphql/compiler/):
one declaration per field, the rules taken from the services."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement

from offerdesk.events import service as events
from offerdesk.graphql.compiler.declarations import (
    Args,
    Connection,
    Link,
    Rows,
    TypeMap,
    column,
)
from offerdesk.offers import service
from offerdesk.offers.models import Offer
from offerdesk.repository import key_condition, key_value
from offerdesk.validation import search_term


def _offer_events(offer: Any, event: Any, args: Args) -> Rows:
    where = events.EventFilter(args.flag("isActive"))
    return Rows(
        where=[event.offer_id == offer.id, *events.event_conditions(event, where)],
        order_by=events.event_order(event),
    )


def _listing(_: None, offer: Any, args: Args) -> Sequence[ColumnElement[bool]]:
    term = args.param("search", search_term) if args.text_given("search") else None
    return service.listing_conditions(offer, bool(args.flag("includeArchived")), term)


def _offers(_: None, offer: Any, args: Args) -> Rows:
    return Rows(where=_listing(None, offer, args), order_by=service.listing_order(offer))


def _by_key(_: None, offer: Any, args: Args) -> Rows:
    key = args.one_of("id", "ref")
    return Rows(where=[key_condition(offer, key, args.param(key, key_value))])


MAPS = [
    TypeMap(
        "Offer",
        Offer,
        {
            "id": column("id"),
            "ref": column("ref"),
            "title": column("title"),
            "description": column("description"),
            "isActive": column("is_active"),
            "archivedAt": column("archived_at"),
            "createdAt": column("created_at"),
            "updatedAt": column("updated_at"),
            "offerEvents": Link("OfferEvent", _offer_events, many=True),
        },
    ),
    TypeMap(
        "Query",
        None,
        {
            "offer": Link("Offer", _by_key, many=False),
            "offers": Link("Offer", _offers, many=True),
            "paginatedOffers": Connection("Offer", _listing),
        },
    ),
]
