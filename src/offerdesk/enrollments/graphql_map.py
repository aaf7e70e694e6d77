"""How the GraphQL types of enrollments/schema.py are read by compiled reads
(graphql/compiler/): one declaration per field, the rules (waiting-list position, history
order, a user's enrollments in creation order) taken from the service."""

from typing import Any

from offerdesk.enrollments import service
from offerdesk.enrollments.models import Enrollment, EnrollmentStatusChange
from offerdesk.graphql.compiler.declarations import (
    Args,
    Fallback,
    Link,
    Rows,
    TypeMap,
    Value,
    column,
)


def _user(enrollment: Any, user: Any, _: Args) -> Rows:
    return Rows(where=[user.id == enrollment.user_id])


def _offer_event(enrollment: Any, event: Any, _: Args) -> Rows:
    return Rows(where=[event.id == enrollment.offer_event_id])


def _history(enrollment: Any, change: Any, _: Args) -> Rows:
    return Rows(
        where=[change.enrollment_id == enrollment.id], order_by=service.history_order(change)
    )


def _one(_: None, enrollment: Any, args: Args) -> Rows:
    return Rows(
        where=[
            enrollment.user_id == args.param("userId"),
            enrollment.offer_event_id == args.param("offerEventId"),
        ]
    )


def _of_user(_: None, enrollment: Any, args: Args) -> Rows:
    if not args.given("userId"):
        # The executor's BAD_USER_INPUT answers a roster asked for this way.
        raise Fallback("enrollments without userId")
    return Rows(
        where=[enrollment.user_id == args.param("userId")],
        order_by=service.user_enrollments_order(enrollment),
    )


MAPS = [
    TypeMap(
        "Enrollment",
        Enrollment,
        {
            "id": column("id"),
            "userId": column("user_id"),
            "offerEventId": column("offer_event_id"),
            "status": column("status"),
            "enrolledAt": column("enrolled_at"),
            "updatedAt": column("updated_at"),
            "user": Link("User", _user, many=False),
            "offerEvent": Link("OfferEvent", _offer_event, many=False),
            "waitlistPosition": Value(service.waitlist_position),
            "history": Link("EnrollmentStatusChange", _history, many=True),
        },
    ),
    TypeMap(
        "EnrollmentStatusChange",
        EnrollmentStatusChange,
        {
            "fromStatus": column("from_status"),
            "toStatus": column("to_status"),
            "cause": column("cause"),
            "sendMail": column("send_mail"),
            "at": column("at"),
        },
    ),
    TypeMap(
        "Query",
        None,
        {
            "enrollment": Link("Enrollment", _one, many=False),
            "enrollments": Link("Enrollment", _of_user, many=True),
        },
    ),
]
