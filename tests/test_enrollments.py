"""Enrollment rules (SPEC §2.3, §3.1 to 3.4 and 3.6) through the API, on both engines."""

import uuid
from datetime import timedelta
from typing import Any

from offerdesk.content import service as content_service
from offerdesk.content.models import ContentType
from offerdesk.db import Database, utcnow
from offerdesk.events import service as events_service
from offerdesk.offers import service as offers_service
from offerdesk.users import service as users_service

from .helpers import Api, snapshot

ENROLL = """
mutation($userId: UUID!, $eventId: UUID!, $status: EnrollmentStatus) {
  enrollUserInOfferEvent(enrollment: {userId: $userId, offerEventId: $eventId, status: $status}) {
    enrollment { id userId offerEventId status waitlistPosition enrolledAt
                 history { fromStatus toStatus cause sendMail } }
  }
}"""
UNENROLL = """
mutation($userId: UUID!, $eventId: UUID!) {
  unenrollUserFromOfferEvent(userId: $userId, offerEventId: $eventId) { success }
}"""
EVENT = """
query($id: UUID!) {
  offerEvent(id: $id) {
    maxParticipants enrolledCount waitlistedCount spotsAvailable
    enrollments(first: 100) { count edges { node { userId status waitlistPosition } } }
  }
}"""


async def make_event(
    db: Database, capacity: int | None = 2, waiting_list: bool = True, **extra: Any
) -> str:
    async with db.transaction() as session:
        offer = await offers_service.create(session, {"title": "Offer"})
        item = await content_service.create(
            session, {"type": ContentType.COURSE, "title": "Course"}
        )
        event = await events_service.create(
            session,
            {
                "offer_id": offer.id,
                "title": "Event",
                "content_id": item.id,
                "max_participants": capacity,
                "waiting_list": waiting_list,
                **extra,
            },
            [],
        )
        return str(event.id)


async def make_users(db: Database, count: int, prefix: str = "u") -> list[str]:
    async with db.transaction() as session:
        ids = []
        for index in range(count):
            user = await users_service.create(
                session,
                {
                    "name": f"User {index}",
                    "email": f"{prefix}{index}-{uuid.uuid4().hex[:6]}@example.com",
                    "ref": f"{prefix}-{index}-{uuid.uuid4().hex[:6]}",
                },
            )
            ids.append(str(user.id))
        return ids


async def enroll(api: Api, user: str, event: str, status: str | None = None) -> dict[str, Any]:
    data = await api.data(ENROLL, {"userId": user, "eventId": event, "status": status})
    enrollment: dict[str, Any] = data["enrollUserInOfferEvent"]["enrollment"]
    return enrollment


async def roster(api: Api, event: str) -> dict[str, Any]:
    data = await api.data(EVENT, {"id": event})
    state: dict[str, Any] = data["offerEvent"]
    return state


def waiting(state: dict[str, Any]) -> list[tuple[str, int]]:
    nodes = [edge["node"] for edge in state["enrollments"]["edges"]]
    return sorted(
        ((n["userId"], n["waitlistPosition"]) for n in nodes if n["status"] == "WAITLISTED"),
        key=lambda pair: pair[1],
    )


async def test_enrolling_takes_a_seat_and_records_it(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=3)
    [user] = await make_users(db, 1)
    enrollment = await enroll(api, user, event)
    assert enrollment["status"] == "ENROLLED"
    assert enrollment["userId"] == user
    assert enrollment["waitlistPosition"] is None
    assert enrollment["history"] == [
        {"fromStatus": None, "toStatus": "ENROLLED", "cause": "ENROLL", "sendMail": None}
    ]
    state = await roster(api, event)
    assert (state["enrolledCount"], state["spotsAvailable"], state["waitlistedCount"]) == (1, 2, 0)


async def test_enrolling_again_returns_the_same_enrollment_unchanged(
    api: Api, db: Database
) -> None:
    event = await make_event(db, capacity=1)
    [user] = await make_users(db, 1)
    first = await enroll(api, user, event)
    before = await snapshot(db)
    again = await enroll(api, user, event)
    assert again == first
    assert await snapshot(db) == before


async def test_full_event_without_waiting_list_refuses_with_event_full(
    api: Api, db: Database
) -> None:
    event = await make_event(db, capacity=1, waiting_list=False)
    first, second = await make_users(db, 2)
    await enroll(api, first, event)
    before = await snapshot(db)
    error = await api.error(ENROLL, {"userId": second, "eventId": event})
    assert error["extensions"]["code"] == "EVENT_FULL"
    assert await snapshot(db) == before


async def test_full_event_with_waiting_list_queues_in_arrival_order(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=1, waiting_list=True)
    users = await make_users(db, 4)
    statuses = [(await enroll(api, user, event))["status"] for user in users]
    assert statuses == ["ENROLLED", "WAITLISTED", "WAITLISTED", "WAITLISTED"]
    state = await roster(api, event)
    assert waiting(state) == [(users[1], 1), (users[2], 2), (users[3], 3)]
    assert (state["enrolledCount"], state["waitlistedCount"], state["spotsAvailable"]) == (1, 3, 0)


async def test_status_enrolled_is_never_silently_waitlisted(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=1, waiting_list=True)
    first, second = await make_users(db, 2)
    await enroll(api, first, event)
    before = await snapshot(db)
    error = await api.error(ENROLL, {"userId": second, "eventId": event, "status": "ENROLLED"})
    assert error["extensions"]["code"] == "EVENT_FULL"
    assert await snapshot(db) == before


async def test_status_waitlisted_goes_to_the_end_of_the_queue(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=1, waiting_list=False)
    first, second, third = await make_users(db, 3)
    await enroll(api, first, event)
    assert (await enroll(api, second, event, "WAITLISTED"))["waitlistPosition"] == 1
    assert (await enroll(api, third, event, "WAITLISTED"))["waitlistPosition"] == 2


async def test_status_waitlisted_with_a_free_spot_is_promoted_at_once(
    api: Api, db: Database
) -> None:
    # A free spot and a waiting list never exist together (SPEC §3.4).
    event = await make_event(db, capacity=2)
    [user] = await make_users(db, 1)
    enrollment = await enroll(api, user, event, "WAITLISTED")
    assert enrollment["status"] == "ENROLLED"
    assert [h["cause"] for h in enrollment["history"]] == ["WAITLIST", "PROMOTION"]


async def test_unenrolling_promotes_the_longest_waiting(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=1)
    users = await make_users(db, 4)
    for user in users:
        await enroll(api, user, event)
    result = await api.data(UNENROLL, {"userId": users[0], "eventId": event})
    assert result["unenrollUserFromOfferEvent"]["success"] is True
    state = await roster(api, event)
    statuses = {e["node"]["userId"]: e["node"]["status"] for e in state["enrollments"]["edges"]}
    assert statuses[users[0]] == "CANCELLED"
    assert statuses[users[1]] == "ENROLLED"
    assert waiting(state) == [(users[2], 1), (users[3], 2)]
    assert (state["enrolledCount"], state["waitlistedCount"]) == (1, 2)
    promoted = await enroll(api, users[1], event)
    assert [h["cause"] for h in promoted["history"]] == ["WAITLIST", "PROMOTION"]


async def test_unenrolling_from_the_waiting_list_closes_the_gap(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=1)
    users = await make_users(db, 4)
    for user in users:
        await enroll(api, user, event)
    await api.data(UNENROLL, {"userId": users[2], "eventId": event})
    state = await roster(api, event)
    assert waiting(state) == [(users[1], 1), (users[3], 2)]
    assert (state["enrolledCount"], state["waitlistedCount"]) == (1, 2)


async def test_unenrolling_twice_succeeds_and_never_enrolled_is_not_found(
    api: Api, db: Database
) -> None:
    event = await make_event(db)
    enrolled, stranger = await make_users(db, 2)
    await enroll(api, enrolled, event)
    await api.data(UNENROLL, {"userId": enrolled, "eventId": event})
    before = await snapshot(db)
    again = await api.data(UNENROLL, {"userId": enrolled, "eventId": event})
    assert again["unenrollUserFromOfferEvent"]["success"] is True
    assert await snapshot(db) == before
    error = await api.error(UNENROLL, {"userId": stranger, "eventId": event})
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert await snapshot(db) == before


async def test_reenrolling_after_cancel_reactivates_the_same_enrollment(
    api: Api, db: Database
) -> None:
    event = await make_event(db)
    [user] = await make_users(db, 1)
    first = await enroll(api, user, event)
    await api.data(UNENROLL, {"userId": user, "eventId": event})
    again = await enroll(api, user, event)
    assert again["id"] == first["id"]
    assert again["status"] == "ENROLLED"
    assert [(h["fromStatus"], h["toStatus"]) for h in again["history"]] == [
        (None, "ENROLLED"),
        ("ENROLLED", "CANCELLED"),
        ("CANCELLED", "ENROLLED"),
    ]


async def test_declining_frees_the_spot_and_reports_unknown_ids(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=1)
    first, second = await make_users(db, 2)
    declined = await enroll(api, first, event)
    await enroll(api, second, event)
    unknown = str(uuid.uuid4())
    data = await api.data(
        "mutation($ids: [UUID!]!) { declineEnrollments(ids: $ids) "
        "{ response { succeededIds failedIds } } }",
        {"ids": [declined["id"], unknown]},
    )
    assert data["declineEnrollments"]["response"] == {
        "succeededIds": [declined["id"]],
        "failedIds": [unknown],
    }
    state = await roster(api, event)
    statuses = {e["node"]["userId"]: e["node"]["status"] for e in state["enrollments"]["edges"]}
    assert statuses == {first: "DECLINED", second: "ENROLLED"}
    # A declined participant may be enrolled again: the same enrollment, re-activated.
    assert (await enroll(api, first, event))["status"] == "WAITLISTED"


async def test_declining_a_seat_and_the_one_it_promotes_in_one_call_keeps_the_counters(
    api: Api, db: Database
) -> None:
    """Declining the seated one promotes the first in the queue, whom the same call then
    declines too: the second decline must see the promotion (found by the state machine on
    PostgreSQL, where the function read the batch's rows only once)."""
    event = await make_event(db, capacity=1)
    seated, queued, last = await make_users(db, 3)
    ids = [(await enroll(api, user, event))["id"] for user in (seated, queued, last)]
    data = await api.data(
        "mutation($ids: [UUID!]!) { declineEnrollments(ids: $ids) "
        "{ response { succeededIds failedIds } } }",
        {"ids": ids[:2]},
    )
    assert data["declineEnrollments"]["response"] == {"succeededIds": ids[:2], "failedIds": []}
    state = await roster(api, event)
    statuses = {e["node"]["userId"]: e["node"]["status"] for e in state["enrollments"]["edges"]}
    assert statuses == {seated: "DECLINED", queued: "DECLINED", last: "ENROLLED"}
    assert (state["enrolledCount"], state["waitlistedCount"]) == (1, 0)


UPDATE_CAPACITY = """
mutation($id: UUID!, $max: Int) {
  updateOfferEvent(id: $id, offerEvent: {maxParticipants: $max}) {
    offerEvent { maxParticipants enrolledCount waitlistedCount spotsAvailable }
  }
}"""


async def test_raising_capacity_promotes_in_waiting_order(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=1)
    users = await make_users(db, 4)
    for user in users:
        await enroll(api, user, event)
    data = await api.data(UPDATE_CAPACITY, {"id": event, "max": 3})
    assert data["updateOfferEvent"]["offerEvent"] == {
        "maxParticipants": 3,
        "enrolledCount": 3,
        "waitlistedCount": 1,
        "spotsAvailable": 0,
    }
    state = await roster(api, event)
    assert waiting(state) == [(users[3], 1)]


async def test_removing_capacity_promotes_everyone(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=1)
    users = await make_users(db, 3)
    for user in users:
        await enroll(api, user, event)
    data = await api.data(UPDATE_CAPACITY, {"id": event, "max": None})
    assert data["updateOfferEvent"]["offerEvent"] == {
        "maxParticipants": None,
        "enrolledCount": 3,
        "waitlistedCount": 0,
        "spotsAvailable": None,
    }


async def test_lowering_capacity_below_enrolled_is_refused(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=3)
    users = await make_users(db, 2)
    for user in users:
        await enroll(api, user, event)
    before = await snapshot(db)
    error = await api.error(UPDATE_CAPACITY, {"id": event, "max": 1})
    assert error["extensions"] == {
        "code": "CAPACITY_BELOW_ENROLLED",
        "field": "offerEvent.maxParticipants",
    }
    assert await snapshot(db) == before
    lowered = await api.data(UPDATE_CAPACITY, {"id": event, "max": 2})
    assert lowered["updateOfferEvent"]["offerEvent"]["spotsAvailable"] == 0


async def _refused(api: Api, db: Database, user: str, event: str, code: str) -> None:
    before = await snapshot(db)
    error = await api.error(ENROLL, {"userId": user, "eventId": event})
    assert error["extensions"]["code"] == code, error
    assert await snapshot(db) == before


async def test_registration_closed_after_the_closing_date(api: Api, db: Database) -> None:
    event = await make_event(db, closing_date=utcnow() - timedelta(minutes=1))
    [user] = await make_users(db, 1)
    await _refused(api, db, user, event, "REGISTRATION_CLOSED")
    open_event = await make_event(db, closing_date=utcnow() + timedelta(days=1))
    assert (await enroll(api, user, open_event))["status"] == "ENROLLED"


async def test_archived_event_or_offer_takes_no_enrollments(api: Api, db: Database) -> None:
    event = await make_event(db)
    [user] = await make_users(db, 1)
    await api.data(
        "mutation($ids: [UUID!]!) { archiveOfferEvents(archive: true, ids: $ids) "
        "{ response { succeededIds } } }",
        {"ids": [event]},
    )
    await _refused(api, db, user, event, "EVENT_INACTIVE")

    other = await make_event(db)
    offer = await api.data("query($id: UUID!) { offerEvent(id: $id) { offerId } }", {"id": other})
    offer_id = offer["offerEvent"]["offerId"]
    await api.data(
        "mutation($ids: [UUID!]!) { archiveOffers(archive: true, ids: $ids) "
        "{ response { succeededIds } } }",
        {"ids": [offer_id]},
    )
    await _refused(api, db, user, other, "EVENT_INACTIVE")

    third = await make_event(db)
    offer = await api.data("query($id: UUID!) { offerEvent(id: $id) { offerId } }", {"id": third})
    await api.data(
        "mutation($id: UUID!) { updateOffer(id: $id, offer: {isActive: false}) { offer { id } } }",
        {"id": offer["offerEvent"]["offerId"]},
    )
    await _refused(api, db, user, third, "EVENT_INACTIVE")


async def test_archiving_keeps_existing_enrollments(api: Api, db: Database) -> None:
    event = await make_event(db)
    [user] = await make_users(db, 1)
    await enroll(api, user, event)
    await api.data(
        "mutation($ids: [UUID!]!) { archiveOfferEvents(archive: true, ids: $ids) "
        "{ response { succeededIds } } }",
        {"ids": [event]},
    )
    state = await roster(api, event)
    assert state["enrolledCount"] == 1
    assert [e["node"]["status"] for e in state["enrollments"]["edges"]] == ["ENROLLED"]


async def test_archived_user_cannot_enroll(api: Api, db: Database) -> None:
    event = await make_event(db)
    [user] = await make_users(db, 1)
    await api.data(
        "mutation($ids: [UUID!]!) { archiveUsers(archive: true, ids: $ids) "
        "{ response { succeededIds } } }",
        {"ids": [user]},
    )
    await _refused(api, db, user, event, "USER_INACTIVE")


async def test_unknown_user_or_event_is_not_found(api: Api, db: Database) -> None:
    event = await make_event(db)
    [user] = await make_users(db, 1)
    await _refused(api, db, str(uuid.uuid4()), event, "NOT_FOUND")
    await _refused(api, db, user, str(uuid.uuid4()), "NOT_FOUND")


BULK_BY_REFS = """
mutation($ref: String, $refs: [String!], $sendMail: Boolean) {
  createOfferEventEnrollments(offerEventRef: $ref, userRefs: $refs, sendMail: $sendMail) {
    id userId status history { sendMail }
  }
}"""


async def _refs(api: Api, users: list[str]) -> list[str]:
    refs = []
    for user in users:
        data = await api.data("query($id: UUID!) { user(id: $id) { ref } }", {"id": user})
        refs.append(data["user"]["ref"])
    return refs


async def test_bulk_enrollment_by_refs_is_idempotent(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=2, ref="evening-group")
    users = await make_users(db, 3)
    refs = await _refs(api, users)
    data = await api.data(BULK_BY_REFS, {"ref": "evening-group", "refs": refs, "sendMail": True})
    result = data["createOfferEventEnrollments"]
    assert [(e["userId"], e["status"]) for e in result] == [
        (users[0], "ENROLLED"),
        (users[1], "ENROLLED"),
        (users[2], "WAITLISTED"),
    ]
    assert all(e["history"] == [{"sendMail": True}] for e in result)
    again = await api.data(BULK_BY_REFS, {"ref": "evening-group", "refs": refs})
    assert again["createOfferEventEnrollments"] == result
    state = await roster(api, event)
    assert (state["enrolledCount"], state["waitlistedCount"]) == (2, 1)


async def test_bulk_enrollment_with_unknown_refs_writes_nothing(api: Api, db: Database) -> None:
    await make_event(db, ref="morning-group")
    users = await make_users(db, 2)
    refs = await _refs(api, users)
    before = await snapshot(db)
    result = await api(
        BULK_BY_REFS, {"ref": "morning-group", "refs": [refs[0], "nobody-1", refs[1], "nobody-2"]}
    )
    [error] = result["errors"]
    assert error["extensions"] == {"code": "NOT_FOUND", "field": "userRefs"}
    assert "nobody-1" in error["message"]
    assert "nobody-2" in error["message"]
    assert await snapshot(db) == before


async def test_bulk_enrollment_by_ids_fails_whole_on_a_refusal(api: Api, db: Database) -> None:
    event = await make_event(db, capacity=1, waiting_list=False)
    users = await make_users(db, 2)
    before = await snapshot(db)
    result = await api(
        "mutation($id: UUID, $ids: [UUID!]) { createOfferEventEnrollments("
        "offerEventId: $id, userIds: $ids) { id } }",
        {"id": event, "ids": users},
    )
    assert result["errors"][0]["extensions"]["code"] == "EVENT_FULL"
    assert await snapshot(db) == before


async def test_enrollment_queries(api: Api, db: Database) -> None:
    first_event = await make_event(db, capacity=1)
    second_event = await make_event(db, capacity=1)
    one, two = await make_users(db, 2)
    await enroll(api, one, first_event)
    await enroll(api, two, first_event)
    await enroll(api, one, second_event)
    data = await api.data(
        """query($user: UUID!, $event: UUID!) {
             enrollment(userId: $user, offerEventId: $event) {
               status user { id } offerEvent { id } }
             enrollments(userId: $user) { offerEventId status }
           }""",
        {"user": one, "event": first_event},
    )
    assert data["enrollment"] == {
        "status": "ENROLLED",
        "user": {"id": one},
        "offerEvent": {"id": first_event},
    }
    assert sorted((e["offerEventId"], e["status"]) for e in data["enrollments"]) == sorted(
        [(first_event, "ENROLLED"), (second_event, "ENROLLED")]
    )
    filtered = await api.data(
        """query($id: UUID!) { offerEvent(id: $id) {
             enrollments(status: WAITLISTED) { count edges { node { userId } } } } }""",
        {"id": first_event},
    )
    assert filtered["offerEvent"]["enrollments"]["count"] == 1
    assert filtered["offerEvent"]["enrollments"]["edges"] == [{"node": {"userId": two}}]
