"""How the GraphQL types of events/schema.py are read by compiled reads (graphql/compiler/):
one declaration per field, the rules (orders, filters, computed values) taken from the
service and the models, so a compiled answer and the executor's share one definition."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.orm import aliased

from offerdesk.enrollments import service as enrollments
from offerdesk.events import service
from offerdesk.events.models import OfferEvent, OfferEventContent, OfferEventDate
from offerdesk.graphql.compiler.declarations import (
    Args,
    Connection,
    First,
    Link,
    Rows,
    TypeMap,
    Value,
    column,
)
from offerdesk.repository import key_condition, key_value


def _dates(event: Any, date: Any, _: Args) -> Rows:
    return Rows(where=[date.offer_event_id == event.id], order_by=service.date_order(date))


def _offer(event: Any, offer: Any, _: Args) -> Rows:
    return Rows(where=[offer.id == event.offer_id])


def _content_items(event: Any, item: Any, _: Args) -> Rows:
    link = aliased(OfferEventContent)
    return Rows(
        where=[link.offer_event_id == event.id],
        order_by=service.content_link_order(link),
        joins=[(link, link.content_item_id == item.id)],
    )


def _roster(event: Any, enrollment: Any, args: Args) -> Sequence[ColumnElement[bool]]:
    by_status = args.given("status")
    status = args.param("status") if by_status else None
    return enrollments.roster_conditions(enrollment, event.id, by_status, status)


def _by_key(_: None, event: Any, args: Args) -> Rows:
    key = args.one_of("id", "ref")
    return Rows(where=[key_condition(event, key, args.param(key, key_value))])


MAPS = [
    TypeMap(
        "OfferEvent",
        OfferEvent,
        {
            "id": column("id"),
            "ref": column("ref"),
            "title": column("title"),
            "offerId": column("offer_id"),
            "contentType": column("content_type"),
            "isActive": column("is_active"),
            "maxParticipants": column("max_participants"),
            "minParticipants": column("min_participants"),
            "enrolledCount": column("enrolled_count"),
            "waitlistedCount": column("waitlisted_count"),
            "waitingList": column("waiting_list"),
            "closingDate": column("closing_date"),
            "createdAt": column("created_at"),
            "updatedAt": column("updated_at"),
            # The hybrid's SQL side: the one definition of a free spot (events/models.py).
            "spotsAvailable": Value(lambda event: event.spots_available),
            "dates": Link("OfferEventDate", _dates, many=True),
            "offer": Link("Offer", _offer, many=False),
            "contentItems": Link("ContentItem", _content_items, many=True),
            "contentId": First("contentItems", "id"),
            "contentTitle": First("contentItems", "title"),
            "enrollments": Connection("Enrollment", _roster),
        },
    ),
    TypeMap(
        "OfferEventDate",
        OfferEventDate,
        {
            "id": column("id"),
            "offerEventId": column("offer_event_id"),
            "start": column("start"),
            "end": column("end"),
            "location": column("location"),
        },
    ),
    TypeMap("Query", None, {"offerEvent": Link("OfferEvent", _by_key, many=False)}),
]
