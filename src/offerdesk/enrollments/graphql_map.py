"""How the GraphQL types of enrollments/schema.py are read by compiled reads
(graphql/compiler/): one declaration per field, the rules (waiting-list position, history
order, a user's enrollments in creation order) taken from the service."""

from collections.abc import Mapping
from typing import Any

from offerdesk import metrics
from offerdesk.enrollments import service
from offerdesk.enrollments.models import Enrollment, EnrollmentStatus, EnrollmentStatusChange
from offerdesk.graphql.compiler.declarations import (
    Args,
    Fallback,
    Link,
    Rows,
    TypeMap,
    Value,
    Write,
    column,
    result_id,
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


def _result(_: None, enrollment: Any, __: Args) -> Rows:
    return Rows(where=[enrollment.id == result_id()])


def _enroll_values(arguments: Mapping[str, Any]) -> dict[str, Any]:
    # graphql-core's coercion of EnrollUserInput (schema.py): a dict by the GraphQL names, the
    # enum by its name. The differential tests hold this to the resolver's request.
    enrollment = arguments["enrollment"]
    status = enrollment.get("status")
    request = service.EnrollRequest(
        user_id=enrollment["userId"],
        offer_event_id=enrollment["offerEventId"],
        status=EnrollmentStatus(status) if status is not None else None,
    )
    return service.enroll_call_values(request)


def _enroll_on_sqlite(cursor: Any, values: Mapping[str, Any]) -> Mapping[str, Any]:
    return vars(service.enroll_on_sqlite(cursor, values))


def _count_changes(row: Mapping[str, Any]) -> None:
    metrics.count_enrollment_changes(row["causes"] or ())


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
    # enrollUserInOfferEvent without the executor (graphql/direct.py): the function call the
    # service makes, then the payload's enrollment read by its id.
    TypeMap("EnrollUserPayload", None, {"enrollment": Link("Enrollment", _result, many=False)}),
    TypeMap(
        "Mutation",
        None,
        {
            "enrollUserInOfferEvent": Write(
                payload="EnrollUserPayload",
                statement=service.enroll_call,
                values=_enroll_values,
                result=service.enrolled_id,
                committed=_count_changes,
                sqlite=_enroll_on_sqlite,
                dialects=frozenset({"postgresql", "sqlite"}),
            ),
        },
    ),
]
