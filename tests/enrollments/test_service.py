"""The enrollments service's rules (SPEC §2.3, §3.1 to 3.6), through
``offerdesk.enrollments.service`` with a real database session: no HTTP, no GraphQL.

Covers ``enroll`` (a seat, the waiting list, EVENT_FULL, REGISTRATION_CLOSED, EVENT_INACTIVE,
USER_INACTIVE, NOT_FOUND on ``enrollment.user_id`` / ``enrollment.offer_event_id``; enrolling
again while active is idempotent, after CANCELLED or DECLINED it re-activates the same
enrollment and appends to its history), promotion from the waiting list first come, first
served on ``unenroll``, ``decline`` and a capacity raise through ``events.update``,
``enroll_many`` (refs resolved inside the transaction, unknown refs NOT_FOUND on
``user_refs``, more than 1000 users BAD_USER_INPUT on ``user_ids`` / ``user_refs``, all or
nothing, errors on the user's first place ``user_ids.<i>``) and the reads
(``waitlist_positions``, ``histories``, ``find``, ``find_many``, ``page``). Every test runs on
SQLite and PostgreSQL.
"""

import uuid
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from offerdesk.bulk import MAX_BULK_IDS
from offerdesk.db import Database, utcnow
from offerdesk.enrollments import service as enrollments
from offerdesk.enrollments.models import ChangeCause, Enrollment, EnrollmentStatus
from offerdesk.enrollments.service import BulkEnrollRequest, EnrollRequest, RosterFilter
from offerdesk.errors import ErrorCode
from offerdesk.events import service as events
from offerdesk.offers import service as offers
from offerdesk.users import service as users

from ..helpers import snapshot
from ..service_helpers import (
    enroll,
    in_transaction,
    make_event,
    make_offer,
    make_user,
    reading,
    refusal,
    stored_event,
)

ENROLLED = EnrollmentStatus.ENROLLED
WAITLISTED = EnrollmentStatus.WAITLISTED
CANCELLED = EnrollmentStatus.CANCELLED
DECLINED = EnrollmentStatus.DECLINED


async def status_of(db: Database, user_id: uuid.UUID, event_id: uuid.UUID) -> EnrollmentStatus:
    enrollment = await reading(db, lambda session: enrollments.find(session, user_id, event_id))
    assert enrollment is not None
    return enrollment.status


async def history(
    db: Database, enrollment_id: uuid.UUID
) -> list[tuple[EnrollmentStatus | None, EnrollmentStatus, ChangeCause]]:
    changes = await reading(db, lambda session: enrollments.histories(session, [enrollment_id]))
    return [(change.from_status, change.to_status, change.cause) for change in changes[0]]


async def counts(db: Database, event_id: uuid.UUID) -> tuple[int, int]:
    event = await stored_event(db, event_id)
    return event.enrolled_count, event.waitlisted_count


async def positions(db: Database, enrollment_ids: list[uuid.UUID]) -> list[int | None]:
    return await reading(
        db, lambda session: enrollments.waitlist_positions(session, enrollment_ids)
    )


async def users_in(db: Database, count: int, **changes: object) -> list[uuid.UUID]:
    return [(await make_user(db, **changes)).id for _ in range(count)]


# --- enroll (SPEC §3.2, §3.3) ---


async def test_enroll_seats_the_user_counts_them_and_records_the_change(db: Database) -> None:
    event = await make_event(db, max_participants=3)
    user = await make_user(db)
    request = EnrollRequest(user_id=user.id, offer_event_id=event.id, send_mail=True)
    enrollment = await in_transaction(db, lambda session: enrollments.enroll(session, request))
    assert (enrollment.status, enrollment.waitlist_seq) == (ENROLLED, None)
    assert await counts(db, event.id) == (1, 0)
    assert (await stored_event(db, event.id)).spots_available == 2
    assert await history(db, enrollment.id) == [(None, ENROLLED, ChangeCause.ENROLL)]
    changes = await reading(db, lambda session: enrollments.histories(session, [enrollment.id]))
    assert changes[0][0].send_mail is True


@pytest.mark.parametrize("waiting", [False, True])
async def test_enrolling_again_while_active_returns_the_enrollment_unchanged(
    db: Database, waiting: bool
) -> None:
    event = await make_event(db, max_participants=1, waiting_list=True)
    if waiting:
        await enroll(db, (await make_user(db)).id, event.id)
    user = await make_user(db)
    first = await enroll(db, user.id, event.id)
    before = await snapshot(db)
    again = await enroll(db, user.id, event.id)
    assert (again.id, again.status) == (first.id, WAITLISTED if waiting else ENROLLED)
    assert await snapshot(db) == before


async def test_enrolling_again_while_active_is_idempotent_even_after_the_event_closed(
    db: Database,
) -> None:
    event = await make_event(db)
    user = await make_user(db)
    first = await enroll(db, user.id, event.id)
    await in_transaction(db, lambda session: events.archive(session, [event.id], True))
    again = await enroll(db, user.id, event.id)
    assert (again.id, again.status) == (first.id, ENROLLED)


async def test_full_event_without_a_waiting_list_is_event_full_and_changes_nothing(
    db: Database,
) -> None:
    event = await make_event(db, max_participants=1)
    await enroll(db, (await make_user(db)).id, event.id)
    late = await make_user(db)
    before = await snapshot(db)
    error = await refusal(
        db,
        lambda session: enrollments.enroll(
            session, EnrollRequest(user_id=late.id, offer_event_id=event.id)
        ),
        ErrorCode.EVENT_FULL,
        "enrollment.offer_event_id",
    )
    assert error.message == "the offer event is full (1 places)"
    assert await snapshot(db) == before


async def test_full_event_with_a_waiting_list_waitlists_in_arrival_order(db: Database) -> None:
    event = await make_event(db, max_participants=1, waiting_list=True)
    seated = await enroll(db, (await make_user(db)).id, event.id)
    waiting = [await enroll(db, user_id, event.id) for user_id in await users_in(db, 3)]
    assert [enrollment.status for enrollment in waiting] == [WAITLISTED] * 3
    assert await counts(db, event.id) == (1, 3)
    assert await positions(db, [seated.id, *(each.id for each in waiting), uuid.uuid4()]) == [
        None,
        1,
        2,
        3,
        None,
    ]
    assert await history(db, waiting[0].id) == [(None, WAITLISTED, ChangeCause.WAITLIST)]


async def test_asking_for_enrolled_on_a_full_event_is_event_full_never_waitlisted(
    db: Database,
) -> None:
    event = await make_event(db, max_participants=1, waiting_list=True)
    await enroll(db, (await make_user(db)).id, event.id)
    late = await make_user(db)
    await refusal(
        db,
        lambda session: enrollments.enroll(
            session, EnrollRequest(user_id=late.id, offer_event_id=event.id, status=ENROLLED)
        ),
        ErrorCode.EVENT_FULL,
        "enrollment.offer_event_id",
    )
    assert await counts(db, event.id) == (1, 0)


async def test_asking_for_the_waiting_list_on_a_full_event_queues_even_without_a_waiting_list(
    db: Database,
) -> None:
    # SPEC §3.3: with status WAITLISTED the user is placed at the end of the waiting list.
    event = await make_event(db, max_participants=1)
    await enroll(db, (await make_user(db)).id, event.id)
    queued = await enroll(db, (await make_user(db)).id, event.id, WAITLISTED)
    assert queued.status is WAITLISTED
    assert await counts(db, event.id) == (1, 1)


async def test_asking_for_the_waiting_list_while_a_spot_is_free_is_promoted_at_once(
    db: Database,
) -> None:
    # A free spot and a non-empty waiting list never exist together (SPEC §3.4).
    event = await make_event(db, max_participants=2, waiting_list=True)
    enrollment = await enroll(db, (await make_user(db)).id, event.id, WAITLISTED)
    assert enrollment.status is ENROLLED
    assert await counts(db, event.id) == (1, 0)
    assert await history(db, enrollment.id) == [
        (None, WAITLISTED, ChangeCause.WAITLIST),
        (WAITLISTED, ENROLLED, ChangeCause.PROMOTION),
    ]


@pytest.mark.parametrize("status", [CANCELLED, DECLINED])
async def test_enrolling_as_cancelled_or_declined_is_bad_input_on_enrollment_status(
    db: Database, status: EnrollmentStatus
) -> None:
    event = await make_event(db)
    user = await make_user(db)
    await refusal(
        db,
        lambda session: enrollments.enroll(
            session, EnrollRequest(user_id=user.id, offer_event_id=event.id, status=status)
        ),
        ErrorCode.BAD_USER_INPUT,
        "enrollment.status",
    )


async def test_unknown_user_or_event_is_not_found_on_its_field(db: Database) -> None:
    event = await make_event(db)
    user = await make_user(db)
    await refusal(
        db,
        lambda session: enrollments.enroll(
            session, EnrollRequest(user_id=uuid.uuid4(), offer_event_id=event.id)
        ),
        ErrorCode.NOT_FOUND,
        "enrollment.user_id",
    )
    await refusal(
        db,
        lambda session: enrollments.enroll(
            session, EnrollRequest(user_id=user.id, offer_event_id=uuid.uuid4())
        ),
        ErrorCode.NOT_FOUND,
        "enrollment.offer_event_id",
    )


@pytest.mark.parametrize("closed_by", ["archived event", "inactive offer", "archived offer"])
async def test_an_archived_event_or_an_inactive_or_archived_offer_is_event_inactive(
    db: Database, closed_by: str
) -> None:
    offer = await make_offer(db)
    event = await make_event(db, offer.id)
    user = await make_user(db)
    if closed_by == "archived event":
        await in_transaction(db, lambda session: events.archive(session, [event.id], True))
    elif closed_by == "inactive offer":
        await in_transaction(
            db, lambda session: offers.update(session, offer.id, {"is_active": False})
        )
    else:
        await in_transaction(db, lambda session: offers.archive(session, [offer.id], True))
    before = await snapshot(db)
    await refusal(
        db,
        lambda session: enrollments.enroll(
            session, EnrollRequest(user_id=user.id, offer_event_id=event.id)
        ),
        ErrorCode.EVENT_INACTIVE,
        "enrollment.offer_event_id",
    )
    assert await snapshot(db) == before


async def test_a_passed_closing_date_is_registration_closed_and_a_future_one_is_open(
    db: Database,
) -> None:
    closed = await make_event(db, closing_date=utcnow() - timedelta(minutes=1))
    open_ = await make_event(db, closing_date=utcnow() + timedelta(days=1))
    user = await make_user(db)
    await refusal(
        db,
        lambda session: enrollments.enroll(
            session, EnrollRequest(user_id=user.id, offer_event_id=closed.id)
        ),
        ErrorCode.REGISTRATION_CLOSED,
        "enrollment.offer_event_id",
    )
    assert (await enroll(db, user.id, open_.id)).status is ENROLLED


async def test_an_archived_user_is_user_inactive_on_enrollment_user_id(db: Database) -> None:
    event = await make_event(db)
    user = await make_user(db)
    await in_transaction(db, lambda session: users.archive(session, [user.id], True))
    await refusal(
        db,
        lambda session: enrollments.enroll(
            session, EnrollRequest(user_id=user.id, offer_event_id=event.id)
        ),
        ErrorCode.USER_INACTIVE,
        "enrollment.user_id",
    )
    assert await counts(db, event.id) == (0, 0)


@pytest.mark.parametrize("left", ["unenroll", "decline"])
async def test_enrolling_after_leaving_reactivates_the_same_enrollment_and_appends_history(
    db: Database, left: str
) -> None:
    event = await make_event(db, max_participants=5)
    user = await make_user(db)
    first = await enroll(db, user.id, event.id)
    if left == "unenroll":
        await in_transaction(db, lambda session: enrollments.unenroll(session, user.id, event.id))
        gone, cause = CANCELLED, ChangeCause.UNENROLL
    else:
        await in_transaction(db, lambda session: enrollments.decline(session, [first.id]))
        gone, cause = DECLINED, ChangeCause.DECLINE
    assert await counts(db, event.id) == (0, 0)

    again = await enroll(db, user.id, event.id)
    assert (again.id, again.status) == (first.id, ENROLLED)
    assert again.enrolled_at > first.enrolled_at
    assert await counts(db, event.id) == (1, 0)
    assert await history(db, first.id) == [
        (None, ENROLLED, ChangeCause.ENROLL),
        (ENROLLED, gone, cause),
        (gone, ENROLLED, ChangeCause.ENROLL),
    ]


# --- leaving, and promotion first come, first served (SPEC §3.4) ---


async def test_unenroll_frees_the_spot_for_the_longest_waiting_user(db: Database) -> None:
    event = await make_event(db, max_participants=1, waiting_list=True)
    seated_user = await make_user(db)
    await enroll(db, seated_user.id, event.id)
    waiting_users = await users_in(db, 3)
    waiting = [await enroll(db, user_id, event.id) for user_id in waiting_users]

    done = await in_transaction(
        db, lambda session: enrollments.unenroll(session, seated_user.id, event.id)
    )
    assert done is True
    assert await status_of(db, seated_user.id, event.id) is CANCELLED
    assert [await status_of(db, user_id, event.id) for user_id in waiting_users] == [
        ENROLLED,
        WAITLISTED,
        WAITLISTED,
    ]
    assert await counts(db, event.id) == (1, 2)
    assert await positions(db, [each.id for each in waiting]) == [None, 1, 2]
    assert await history(db, waiting[0].id) == [
        (None, WAITLISTED, ChangeCause.WAITLIST),
        (WAITLISTED, ENROLLED, ChangeCause.PROMOTION),
    ]


async def test_unenrolling_from_the_waiting_list_moves_those_behind_up(db: Database) -> None:
    event = await make_event(db, max_participants=1, waiting_list=True)
    await enroll(db, (await make_user(db)).id, event.id)
    waiting_users = await users_in(db, 3)
    waiting = [await enroll(db, user_id, event.id) for user_id in waiting_users]
    await in_transaction(
        db, lambda session: enrollments.unenroll(session, waiting_users[0], event.id)
    )
    assert await counts(db, event.id) == (1, 2)
    assert await positions(db, [each.id for each in waiting]) == [None, 1, 2]


async def test_unenrolling_again_is_a_success_that_changes_nothing(db: Database) -> None:
    event = await make_event(db)
    user = await make_user(db)
    await enroll(db, user.id, event.id)
    await in_transaction(db, lambda session: enrollments.unenroll(session, user.id, event.id))
    before = await snapshot(db)
    again = await in_transaction(
        db, lambda session: enrollments.unenroll(session, user.id, event.id)
    )
    assert again is True
    assert await snapshot(db) == before


async def test_unenroll_of_an_unknown_event_or_a_user_never_enrolled_is_not_found(
    db: Database,
) -> None:
    event = await make_event(db)
    user = await make_user(db)
    await refusal(
        db,
        lambda session: enrollments.unenroll(session, user.id, uuid.uuid4()),
        ErrorCode.NOT_FOUND,
        "offer_event_id",
    )
    await refusal(
        db,
        lambda session: enrollments.unenroll(session, user.id, event.id),
        ErrorCode.NOT_FOUND,
        "user_id",
    )


async def test_decline_promotes_in_order_and_reports_unknown_ids_failed(db: Database) -> None:
    event = await make_event(db, max_participants=2, waiting_list=True)
    seated = [await enroll(db, user_id, event.id) for user_id in await users_in(db, 2)]
    waiting = [await enroll(db, user_id, event.id) for user_id in await users_in(db, 3)]
    unknown = uuid.uuid4()

    result = await in_transaction(
        db,
        lambda session: enrollments.decline(session, [seated[1].id, unknown, seated[0].id]),
    )
    assert (result.succeeded, result.failed) == ([seated[1].id, seated[0].id], [unknown])
    assert [await status_of(db, each.user_id, event.id) for each in seated + waiting] == [
        DECLINED,
        DECLINED,
        ENROLLED,
        ENROLLED,
        WAITLISTED,
    ]
    assert await counts(db, event.id) == (2, 1)
    assert await positions(db, [waiting[2].id]) == [1]
    assert await history(db, seated[0].id) == [
        (None, ENROLLED, ChangeCause.ENROLL),
        (ENROLLED, DECLINED, ChangeCause.DECLINE),
    ]


async def test_declining_an_enrollment_no_longer_active_leaves_it_as_it_is(db: Database) -> None:
    event = await make_event(db)
    user = await make_user(db)
    enrollment = await enroll(db, user.id, event.id)
    await in_transaction(db, lambda session: enrollments.unenroll(session, user.id, event.id))
    before = await snapshot(db)
    result = await in_transaction(db, lambda session: enrollments.decline(session, [enrollment.id]))
    assert (result.succeeded, result.failed) == ([enrollment.id], [])
    assert await status_of(db, user.id, event.id) is CANCELLED
    assert await snapshot(db) == before


async def test_decline_of_more_than_1000_ids_is_bad_input_on_ids(db: Database) -> None:
    ids = [uuid.uuid4() for _ in range(MAX_BULK_IDS + 1)]
    await refusal(
        db, lambda session: enrollments.decline(session, ids), ErrorCode.BAD_USER_INPUT, "ids"
    )


async def test_raising_capacity_through_events_update_promotes_the_longest_waiting(
    db: Database,
) -> None:
    event = await make_event(db, max_participants=1, waiting_list=True)
    await enroll(db, (await make_user(db)).id, event.id)
    waiting_users = await users_in(db, 4)
    for user_id in waiting_users:
        await enroll(db, user_id, event.id)

    await in_transaction(
        db, lambda session: events.update(session, event.id, {"max_participants": 3})
    )
    assert [await status_of(db, user_id, event.id) for user_id in waiting_users] == [
        ENROLLED,
        ENROLLED,
        WAITLISTED,
        WAITLISTED,
    ]
    assert await counts(db, event.id) == (3, 2)

    # No limit at all: everyone left waiting is seated.
    await in_transaction(
        db, lambda session: events.update(session, event.id, {"max_participants": None})
    )
    assert [await status_of(db, user_id, event.id) for user_id in waiting_users] == [ENROLLED] * 4
    assert await counts(db, event.id) == (5, 0)


# --- enroll_many (SPEC §2.3 createOfferEventEnrollments) ---


async def test_enroll_many_by_refs_enrolls_each_user_once_in_the_order_given(
    db: Database,
) -> None:
    event = await make_event(db, ref="eg-1", max_participants=2, waiting_list=True)
    made = [await make_user(db, ref=f"hr-{index}") for index in range(3)]
    request = BulkEnrollRequest(
        offer_event_ref="eg-1", user_refs=["hr-2", "hr-0", "hr-2", "hr-1"], send_mail=False
    )
    result = await in_transaction(db, lambda session: enrollments.enroll_many(session, request))
    assert [(each.user_id, each.status) for each in result] == [
        (made[2].id, ENROLLED),
        (made[0].id, ENROLLED),
        (made[1].id, WAITLISTED),
    ]
    assert await counts(db, event.id) == (2, 1)


async def test_enroll_many_resolves_refs_inside_its_own_transaction(db: Database) -> None:
    # A user created earlier in the same transaction is found by ref: the refs are resolved
    # in the write transaction, not in a read before it.
    event = await make_event(db)

    async def create_and_enroll(session: AsyncSession) -> list[Enrollment]:
        await users.create(session, {"name": "New", "email": "new@example.com", "ref": "hr-new"})
        return await enrollments.enroll_many(
            session, BulkEnrollRequest(offer_event_id=event.id, user_refs=["hr-new"])
        )

    result = await in_transaction(db, create_and_enroll)
    assert [each.status for each in result] == [ENROLLED]
    assert await counts(db, event.id) == (1, 0)


async def test_enroll_many_with_unknown_refs_is_not_found_on_user_refs_and_enrolls_nobody(
    db: Database,
) -> None:
    event = await make_event(db)
    await make_user(db, ref="hr-1")
    before = await snapshot(db)
    error = await refusal(
        db,
        lambda session: enrollments.enroll_many(
            session,
            BulkEnrollRequest(offer_event_id=event.id, user_refs=["hr-1", "hr-x", "hr-y"]),
        ),
        ErrorCode.NOT_FOUND,
        "user_refs",
    )
    assert error.message == "unknown user refs: hr-x, hr-y"
    assert await snapshot(db) == before


@pytest.mark.parametrize("key", ["user_ids", "user_refs"])
async def test_enroll_many_with_more_than_1000_users_is_bad_input_on_its_key(
    db: Database, key: str
) -> None:
    event = await make_event(db)
    many: list[object] = (
        [uuid.uuid4() for _ in range(MAX_BULK_IDS + 1)]
        if key == "user_ids"
        else [f"hr-{index}" for index in range(MAX_BULK_IDS + 1)]
    )
    request = BulkEnrollRequest(offer_event_id=event.id, **{key: many})
    error = await refusal(
        db,
        lambda session: enrollments.enroll_many(session, request),
        ErrorCode.BAD_USER_INPUT,
        key,
    )
    assert error.message == "at most 1000 users per call, got 1001"


async def test_enroll_many_is_all_or_nothing_when_the_event_fills(db: Database) -> None:
    event = await make_event(db, max_participants=2)
    user_ids = await users_in(db, 3)
    before = await snapshot(db)
    await refusal(
        db,
        lambda session: enrollments.enroll_many(
            session, BulkEnrollRequest(offer_event_id=event.id, user_ids=user_ids)
        ),
        ErrorCode.EVENT_FULL,
        "offer_event_id",
    )
    assert await snapshot(db) == before


async def test_enroll_many_names_a_refused_user_by_their_first_place_in_the_input(
    db: Database,
) -> None:
    event = await make_event(db)
    first, second, archived = await users_in(db, 3)
    await in_transaction(db, lambda session: users.archive(session, [archived], True))
    before = await snapshot(db)
    await refusal(
        db,
        lambda session: enrollments.enroll_many(
            session,
            BulkEnrollRequest(
                offer_event_id=event.id, user_ids=[first, second, first, archived, archived]
            ),
        ),
        ErrorCode.USER_INACTIVE,
        "user_ids.3",
    )
    await refusal(
        db,
        lambda session: enrollments.enroll_many(
            session,
            BulkEnrollRequest(offer_event_id=event.id, user_ids=[first, uuid.uuid4()]),
        ),
        ErrorCode.NOT_FOUND,
        "user_ids.1",
    )
    assert await snapshot(db) == before


async def test_enroll_many_refuses_a_nul_in_a_ref_on_its_index(db: Database) -> None:
    event = await make_event(db)
    await refusal(
        db,
        lambda session: enrollments.enroll_many(
            session, BulkEnrollRequest(offer_event_id=event.id, user_refs=["hr-1", "hr\x002"])
        ),
        ErrorCode.BAD_USER_INPUT,
        "user_refs.1",
    )


async def test_enroll_many_needs_exactly_one_event_key_and_one_users_key(db: Database) -> None:
    event = await make_event(db, ref="eg-1")
    user_ids = await users_in(db, 1)
    await refusal(
        db,
        lambda session: enrollments.enroll_many(session, BulkEnrollRequest(user_ids=user_ids)),
        ErrorCode.BAD_USER_INPUT,
        "offer_event_id",
    )
    await refusal(
        db,
        lambda session: enrollments.enroll_many(
            session, BulkEnrollRequest(offer_event_id=event.id, user_ids=user_ids, user_refs=[])
        ),
        ErrorCode.BAD_USER_INPUT,
        "user_ids",
    )
    await refusal(
        db,
        lambda session: enrollments.enroll_many(
            session, BulkEnrollRequest(offer_event_ref="eg-9", user_ids=user_ids)
        ),
        ErrorCode.NOT_FOUND,
        "offer_event_ref",
    )


# --- the reads ---


async def test_page_lists_the_roster_in_creation_order_optionally_by_status(
    db: Database,
) -> None:
    event = await make_event(db, max_participants=1, waiting_list=True)
    made = [await enroll(db, user_id, event.id) for user_id in await users_in(db, 3)]

    async def ids(status: EnrollmentStatus | None) -> list[uuid.UUID]:
        where = RosterFilter(offer_event_id=event.id, status=status)
        page = await reading(db, lambda session: enrollments.page(session, where, None, None))
        return [enrollment.id for enrollment, _ in page.items]

    assert await ids(None) == [each.id for each in made]
    assert await ids(ENROLLED) == [made[0].id]
    assert await ids(WAITLISTED) == [made[1].id, made[2].id]


async def test_find_many_lists_a_users_enrollments_oldest_first(db: Database) -> None:
    user = await make_user(db)
    first_event, second_event = await make_event(db), await make_event(db)
    first = await enroll(db, user.id, first_event.id)
    second = await enroll(db, user.id, second_event.id)
    await enroll(db, (await make_user(db)).id, first_event.id)
    found = await reading(db, lambda session: enrollments.find_many(session, user.id))
    assert [each.id for each in found] == [first.id, second.id]


# KNOWN BUG (reported, src not fixed here): a NUL character in offer_event_ref is refused on
# the path "ref" (repository.find_row checks it as "ref"), so on the wire
# createOfferEventEnrollments(offerEventRef: "e\u0000") answers extensions.field "ref", an
# argument that call does not have, instead of "offerEventRef". This test fails until
# enroll_many names its own key.
async def test_enroll_many_refuses_a_nul_in_the_event_ref_on_offer_event_ref(
    db: Database,
) -> None:
    user_ids = await users_in(db, 1)
    await refusal(
        db,
        lambda session: enrollments.enroll_many(
            session, BulkEnrollRequest(offer_event_ref="eg\x001", user_ids=user_ids)
        ),
        ErrorCode.BAD_USER_INPUT,
        "offer_event_ref",
    )
