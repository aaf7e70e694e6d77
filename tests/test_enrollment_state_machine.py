"""Random sequences of enrollment operations against a plain-Python model of the rules.

A hypothesis state machine drives enroll, unenroll, decline, capacity changes, the waiting-list
switch, archiving events and users, and bulk enrollment through the real GraphQL API (over
ASGI, on both engines). A small model of SPEC §2.3 and §3 rules 1 to 4 and 6 predicts the exact
outcome of every call (the status returned or the error code and field) and the state after it;
after every step the invariants are checked against what the API reports.

Each example runs up to 25 steps on a new offer, two events and six users of its own; 15
examples per engine. A failure prints the shrunk sequence of steps; shrinking a slow stateful
test can take hypothesis a few minutes.
"""

import asyncio
import copy
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from httpx import ASGITransport, AsyncClient
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from offerdesk.app import create_app
from offerdesk.config import Settings
from offerdesk.content import service as content_service
from offerdesk.content.models import ContentType
from offerdesk.db import Database
from offerdesk.enrollments.models import Enrollment, EnrollmentStatusChange
from offerdesk.events import service as events_service
from offerdesk.events.models import OfferEvent
from offerdesk.graphql.direct import ANSWERED
from offerdesk.offers import service as offers_service
from offerdesk.users import service as users_service
from offerdesk.users.models import User

from .conftest import empty_all_tables, make_token
from .helpers import Api

T = TypeVar("T")

USERS = 6
EVENTS = 2
# Only the last two users and the second event are ever archived: with everything archivable,
# most enrollments were refused and the events rarely filled up enough to grow a waiting list.
ARCHIVABLE_USERS = (4, 5)
ARCHIVABLE_EVENTS = (1,)
ENROLLED, WAITLISTED, CANCELLED, DECLINED = "ENROLLED", "WAITLISTED", "CANCELLED", "DECLINED"
ACTIVE = (ENROLLED, WAITLISTED)

MACHINE_SETTINGS = settings(
    max_examples=15,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)

ENROLL = """
mutation($userId: UUID!, $eventId: UUID!, $status: EnrollmentStatus) {
  enrollUserInOfferEvent(enrollment: {userId: $userId, offerEventId: $eventId, status: $status}) {
    enrollment { id userId offerEventId status waitlistPosition }
  }
}"""
UNENROLL = """
mutation($userId: UUID!, $eventId: UUID!) {
  unenrollUserFromOfferEvent(userId: $userId, offerEventId: $eventId) { success }
}"""
DECLINE = """
mutation($ids: [UUID!]!) {
  declineEnrollments(ids: $ids) { response { succeededIds failedIds } }
}"""
UPDATE_EVENT = """
mutation($id: UUID!, $changes: UpdateOfferEventInput!) {
  updateOfferEvent(id: $id, offerEvent: $changes) {
    offerEvent { maxParticipants enrolledCount waitlistedCount spotsAvailable waitingList }
  }
}"""
ARCHIVE_EVENTS = """
mutation($archive: Boolean!, $ids: [UUID!]!) {
  archiveOfferEvents(archive: $archive, ids: $ids) { response { succeededIds failedIds } }
}"""
ARCHIVE_USERS = """
mutation($archive: Boolean!, $ids: [UUID!]!) {
  archiveUsers(archive: $archive, ids: $ids) { response { succeededIds failedIds } }
}"""
BULK_ENROLL = """
mutation($eventId: UUID, $userIds: [UUID!]) {
  createOfferEventEnrollments(offerEventId: $eventId, userIds: $userIds) {
    id userId offerEventId status
  }
}"""
EVENT_STATE = """
fragment state on OfferEvent {
  isActive waitingList maxParticipants enrolledCount waitlistedCount spotsAvailable
  enrollments(first: 100) { edges { node { id userId status waitlistPosition } } }
}"""


# --- the model: the rules in plain Python ---


class Refused(Exception):
    """The model's prediction that a call fails with this error code and field."""

    def __init__(self, code: str, field: str) -> None:
        super().__init__(code, field)
        self.code = code
        self.field = field


@dataclass
class EventModel:
    id: str
    max_participants: int | None
    waiting_list: bool
    active: bool = True
    status: dict[int, str] = field(default_factory=dict)  # user index -> enrollment status
    enrollment_ids: dict[int, str] = field(default_factory=dict)
    queue: list[int] = field(default_factory=list)  # WAITLISTED users, longest-waiting first

    @property
    def enrolled(self) -> int:
        return sum(status == ENROLLED for status in self.status.values())

    def has_free_spot(self) -> bool:
        return self.max_participants is None or self.enrolled < self.max_participants

    def spots_available(self) -> int | None:
        return None if self.max_participants is None else self.max_participants - self.enrolled

    def position(self, user: int) -> int | None:
        return self.queue.index(user) + 1 if user in self.queue else None

    def promote(self) -> None:
        """Rule 4: every free spot goes to the longest-waiting, at once (also while the event
        is archived, and also to a user archived while waiting: their enrollments stay)."""
        while self.queue and self.has_free_spot():
            self.status[self.queue.pop(0)] = ENROLLED

    def enroll(
        self,
        user: int,
        user_active: bool,
        wanted: str | None,
        user_field: str = "enrollment.userId",
        event_field: str = "enrollment.offerEventId",
    ) -> str:
        """Rules 2, 3 and 6: the status the enrollment ends with, or Refused (naming the input
        field the error is about)."""
        current = self.status.get(user)
        if current in ACTIVE:
            # Idempotent: the enrollment as it is, even once the event or the user has been
            # archived since (the service answers a repeat before checking rule 3).
            return current
        if not self.active:
            raise Refused("EVENT_INACTIVE", event_field)
        if not user_active:
            raise Refused("USER_INACTIVE", user_field)
        if wanted != WAITLISTED and self.has_free_spot():
            self.status[user] = ENROLLED
        elif wanted == ENROLLED or (wanted is None and not self.waiting_list):
            raise Refused("EVENT_FULL", event_field)
        else:
            self.status[user] = WAITLISTED
            self.queue.append(user)
            self.promote()
        return self.status[user]

    def leave(self, user: int, status: str) -> None:
        if self.status.get(user) in ACTIVE:
            if self.status[user] == WAITLISTED:
                self.queue.remove(user)
            self.status[user] = status


# --- running async API calls from hypothesis's synchronous state machine ---


class Harness:
    """One event loop, app and HTTP client for all examples of one test on one engine."""

    def __init__(self, database_url: str, compiled: bool) -> None:
        self.loop = asyncio.new_event_loop()
        self.app = create_app(
            Settings(database_url=database_url, compiled_reads=compiled, compiled_writes=compiled)
        )
        self.db: Database = self.app.state.db
        self.client = AsyncClient(transport=ASGITransport(app=self.app), base_url="http://test")
        self.api = Api(self.client, self.run(make_token(self.db)))

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coroutine)

    def call(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        return self.run(self.api(query, variables))

    def close(self) -> None:
        try:
            self.run(self.client.aclose())
            self.run(empty_all_tables(self.db))
            self.run(self.db.dispose())
        finally:
            self.loop.close()


@contextmanager
def harness_for(database_url: str, compiled: bool = True) -> Iterator[Harness]:
    harness = Harness(database_url, compiled)
    try:
        yield harness
    finally:
        harness.close()


async def new_world(
    harness: Harness, configs: list[tuple[int | None, bool]]
) -> tuple[list[str], list[str]]:
    """A new offer with one event per (capacity, waiting list) config, and USERS active users.

    Every example gets its own rows, so examples cannot see each other's enrollments; the
    tables are emptied once, when the test ends (TRUNCATE per example is slow on PostgreSQL).
    """
    async with harness.db.transaction() as session:
        offer = await offers_service.create(session, {"title": "Offer"})
        item = await content_service.create(
            session, {"type": ContentType.COURSE, "title": "Course"}
        )
        events = [
            await events_service.create(
                session,
                {
                    "offer_id": offer.id,
                    "title": f"Event {index}",
                    "content_id": item.id,
                    "max_participants": capacity,
                    "waiting_list": waiting_list,
                },
                [],
            )
            for index, (capacity, waiting_list) in enumerate(configs)
        ]
        users = [
            await users_service.create(
                session,
                {"name": f"User {index}", "email": f"u{index}-{uuid.uuid4().hex}@example.com"},
            )
            for index in range(USERS)
        ]
        return [str(event.id) for event in events], [str(user.id) for user in users]


async def rows_of(
    harness: Harness, event_ids: list[str], user_ids: list[str]
) -> list[list[tuple[Any, ...]]]:
    """Every stored row of one example (its events, users, enrollments and their history):
    equal before and after a call means the call changed nothing."""
    events = [uuid.UUID(id_) for id_ in event_ids]
    users = [uuid.UUID(id_) for id_ in user_ids]
    enrollments = select(Enrollment.id).where(Enrollment.offer_event_id.in_(events))
    statements = [
        select(OfferEvent.__table__).where(OfferEvent.id.in_(events)).order_by(OfferEvent.id),
        select(User.__table__).where(User.id.in_(users)).order_by(User.id),
        select(Enrollment.__table__)
        .where(Enrollment.offer_event_id.in_(events))
        .order_by(Enrollment.id),
        select(EnrollmentStatusChange.__table__)
        .where(EnrollmentStatusChange.enrollment_id.in_(enrollments))
        .order_by(EnrollmentStatusChange.id),
    ]
    async with harness.db.read_session() as session:
        return [[tuple(row) for row in await session.execute(stmt)] for stmt in statements]


# --- the machine ---

users = st.integers(0, USERS - 1)
events = st.integers(0, EVENTS - 1)
capacities = st.sampled_from([1, 2, None, 3, 4])
wanted_statuses = st.sampled_from([None, None, ENROLLED, WAITLISTED])


def seats_first(models: list[EventModel]) -> list[st.SearchStrategy[tuple[int, int]]]:
    """Strategies for the (user, event index) of existing enrollments, seats first: giving up
    a seat is what promotes, and ``st.one_of`` favours its first strategy."""
    seated = [
        (user, event)
        for event, model in enumerate(models)
        for user, status in sorted(model.status.items())
        if status == ENROLLED
    ]
    anything = [
        (user, event) for event, model in enumerate(models) for user in sorted(model.status)
    ]
    return [st.sampled_from(pairs) for pairs in (seated, anything) if pairs]


class EnrollmentMachine(RuleBasedStateMachine):
    harness: Harness  # set on the subclass each test builds

    def __init__(self) -> None:
        super().__init__()
        self.user_ids: list[str] = []
        self.user_active = [True] * USERS
        self.events: list[EventModel] = []

    @initialize(
        first=st.tuples(st.integers(1, 3), st.just(True)),
        second=st.tuples(capacities, st.booleans()),
        crowd=st.permutations(range(USERS)),
        rush=st.integers(2, USERS),
    )
    def create_world(
        self,
        first: tuple[int, bool],
        second: tuple[int | None, bool],
        crowd: list[int],
        rush: int,
    ) -> None:
        """Two events and six users. The first event starts small, with a waiting list, and
        ``rush`` users crowd into it (one bulk call), so most examples start where the rules
        bite: full, with people waiting. The second event starts as anything."""
        configs = [first, second]
        ids, self.user_ids = self.harness.run(new_world(self.harness, configs))
        self.events = [
            EventModel(id=id_, max_participants=capacity, waiting_list=waiting_list)
            for id_, (capacity, waiting_list) in zip(ids, configs, strict=True)
        ]
        self.bulk_enroll(0, crowd[:rush])

    # --- calling the API and comparing with the prediction ---

    def expect_data(self, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        result = self.harness.call(query, variables)
        assert "errors" not in result, (variables, result.get("errors"))
        data: dict[str, Any] = result["data"]
        return data

    def expect_refusal(self, query: str, variables: dict[str, Any], refused: Refused) -> None:
        """The call fails with the predicted code and field, and changes nothing at all."""
        before = self.stored_rows()
        result = self.harness.call(query, variables)
        errors = result.get("errors")
        assert errors, (variables, refused.code, result)
        assert len(errors) == 1, errors
        assert errors[0]["extensions"] == {"code": refused.code, "field": refused.field}, errors
        assert self.stored_rows() == before

    def stored_rows(self) -> list[list[tuple[Any, ...]]]:
        event_ids = [model.id for model in self.events]
        return self.harness.run(rows_of(self.harness, event_ids, self.user_ids))

    def user_of(self, user_id: str) -> int:
        return self.user_ids.index(user_id)

    # --- rules ---

    @rule(user=users, event=events, wanted=wanted_statuses)
    def enroll(self, user: int, event: int, wanted: str | None) -> None:
        model = self.events[event]
        variables = {"userId": self.user_ids[user], "eventId": model.id, "status": wanted}
        predicted = copy.deepcopy(model)
        try:
            status = predicted.enroll(user, self.user_active[user], wanted)
        except Refused as refused:
            self.expect_refusal(ENROLL, variables, refused)
            return
        enrollment = self.expect_data(ENROLL, variables)["enrollUserInOfferEvent"]["enrollment"]
        assert enrollment["userId"] == self.user_ids[user]
        assert enrollment["offerEventId"] == model.id
        assert enrollment["status"] == status, (model, user, wanted, enrollment)
        assert enrollment["waitlistPosition"] == predicted.position(user)
        # Rule 2: one enrollment per (user, event); re-enrolling re-activates the same one.
        known = model.enrollment_ids.get(user)
        assert known in (None, enrollment["id"])
        predicted.enrollment_ids[user] = enrollment["id"]
        self.events[event] = predicted

    @rule(event=events, data=st.data())
    def unenroll(self, event: int, data: st.DataObject) -> None:
        model = self.events[event]
        # Mostly someone enrolled here, now and then anyone (never enrolled: NOT_FOUND).
        enrolled_here = [pairs.map(lambda pair: pair[0]) for pairs in seats_first([model])]
        user = data.draw(st.one_of(*enrolled_here, users), label="user")
        variables = {"userId": self.user_ids[user], "eventId": model.id}
        if user not in model.status:
            self.expect_refusal(UNENROLL, variables, Refused("NOT_FOUND", "userId"))
            return
        result = self.expect_data(UNENROLL, variables)
        assert result["unenrollUserFromOfferEvent"] == {"success": True}
        model.leave(user, CANCELLED)
        model.promote()

    @rule(unknown=st.booleans(), data=st.data())
    def decline(self, unknown: bool, data: st.DataObject) -> None:
        """Decline some enrollments (any status, either event, repeats allowed) by id, and
        sometimes an id nobody has; with no enrollments yet, only the unknown id."""
        pairs: list[tuple[int, int]] = []
        if any(model.enrollment_ids for model in self.events):
            enrollments = st.one_of(*seats_first(self.events))
            pairs = data.draw(st.lists(enrollments, min_size=1, max_size=3), label="pairs")
        ids = [self.events[event].enrollment_ids[user] for user, event in pairs]
        stranger = str(uuid.uuid4())
        if unknown or not ids:
            ids.insert(len(ids) // 2, stranger)
        result = self.expect_data(DECLINE, {"ids": ids})
        known = list(dict.fromkeys(id_ for id_ in ids if id_ != stranger))
        assert result["declineEnrollments"]["response"] == {
            "succeededIds": known,
            "failedIds": [stranger] if stranger in ids else [],
        }
        for user, event in pairs:
            self.events[event].leave(user, DECLINED)
        for model in self.events:
            model.promote()

    @rule(event=events, capacity=capacities)
    def change_capacity(self, event: int, capacity: int | None) -> None:
        model = self.events[event]
        variables = {"id": model.id, "changes": {"maxParticipants": capacity}}
        if capacity is not None and capacity < model.enrolled:
            refused = Refused("CAPACITY_BELOW_ENROLLED", "offerEvent.maxParticipants")
            self.expect_refusal(UPDATE_EVENT, variables, refused)
            return
        model.max_participants = capacity
        model.promote()
        data = self.expect_data(UPDATE_EVENT, variables)
        assert data["updateOfferEvent"]["offerEvent"] == {
            "maxParticipants": capacity,
            "enrolledCount": model.enrolled,
            "waitlistedCount": len(model.queue),
            "spotsAvailable": model.spots_available(),
            "waitingList": model.waiting_list,
        }

    @rule(event=events, waiting_list=st.booleans())
    def switch_waiting_list(self, event: int, waiting_list: bool) -> None:
        model = self.events[event]
        variables = {"id": model.id, "changes": {"waitingList": waiting_list}}
        data = self.expect_data(UPDATE_EVENT, variables)
        model.waiting_list = waiting_list
        assert data["updateOfferEvent"]["offerEvent"]["waitingList"] is waiting_list
        assert data["updateOfferEvent"]["offerEvent"]["enrolledCount"] == model.enrolled

    @rule(event=st.sampled_from(ARCHIVABLE_EVENTS), archive=st.booleans())
    def set_event_archived(self, event: int, archive: bool) -> None:
        model = self.events[event]
        data = self.expect_data(ARCHIVE_EVENTS, {"archive": archive, "ids": [model.id]})
        assert data["archiveOfferEvents"]["response"] == {
            "succeededIds": [model.id],
            "failedIds": [],
        }
        model.active = not archive

    @rule(user=st.sampled_from(ARCHIVABLE_USERS), archive=st.booleans())
    def set_user_archived(self, user: int, archive: bool) -> None:
        user_id = self.user_ids[user]
        data = self.expect_data(ARCHIVE_USERS, {"archive": archive, "ids": [user_id]})
        assert data["archiveUsers"]["response"] == {"succeededIds": [user_id], "failedIds": []}
        self.user_active[user] = not archive

    @rule(event=events, chosen=st.lists(users, min_size=1, max_size=5))
    def bulk_enroll(self, event: int, chosen: list[int]) -> None:
        model = self.events[event]
        variables = {"eventId": model.id, "userIds": [self.user_ids[user] for user in chosen]}
        predicted = copy.deepcopy(model)
        statuses = []
        unique = list(dict.fromkeys(chosen))
        try:
            for user in unique:
                # Errors name the bulk call's own arguments; a user by its first place in them.
                user_field = f"userIds.{chosen.index(user)}"
                active = self.user_active[user]
                statuses.append(predicted.enroll(user, active, None, user_field, "offerEventId"))
        except Refused as refused:
            # All or nothing: one refusal fails the whole call and writes nothing.
            self.expect_refusal(BULK_ENROLL, variables, refused)
            return
        result = self.expect_data(BULK_ENROLL, variables)["createOfferEventEnrollments"]
        assert [(self.user_of(e["userId"]), e["status"]) for e in result] == list(
            zip(unique, statuses, strict=True)
        )
        for enrollment in result:
            user = self.user_of(enrollment["userId"])
            assert enrollment["offerEventId"] == model.id
            assert model.enrollment_ids.get(user) in (None, enrollment["id"])
            predicted.enrollment_ids[user] = enrollment["id"]
        self.events[event] = predicted

    # --- invariants, checked against the API after every step ---

    @invariant()
    def the_api_agrees_with_the_model(self) -> None:
        fields = " ".join(
            f"e{index}: offerEvent(id: $e{index}) {{ ...state }}"
            for index in range(len(self.events))
        )
        params = ", ".join(f"$e{index}: UUID!" for index in range(len(self.events)))
        query = f"query({params}) {{ {fields} }}{EVENT_STATE}"
        variables = {f"e{index}": model.id for index, model in enumerate(self.events)}
        data = self.expect_data(query, variables)
        for index, model in enumerate(self.events):
            self.check_event(model, data[f"e{index}"])

    def check_event(self, model: EventModel, state: dict[str, Any]) -> None:
        nodes = [edge["node"] for edge in state["enrollments"]["edges"]]
        enrolled = sum(node["status"] == ENROLLED for node in nodes)
        waitlisted = sorted(
            (node for node in nodes if node["status"] == WAITLISTED),
            key=lambda node: node["waitlistPosition"] or 0,
        )
        maximum, spots = state["maxParticipants"], state["spotsAvailable"]

        assert state["isActive"] is model.active
        assert state["waitingList"] is model.waiting_list
        assert maximum == model.max_participants
        # enrolledCount is the number of ENROLLED enrollments, and the model's.
        assert state["enrolledCount"] == enrolled == model.enrolled, (model, state)
        assert state["waitlistedCount"] == len(waitlisted) == len(model.queue), (model, state)
        # Rule 1: capacity is never exceeded; spotsAvailable is what is left, never negative.
        if maximum is None:
            assert spots is None
        else:
            assert enrolled <= maximum
            assert spots == maximum - enrolled >= 0
        # Rule 4: a free spot and a non-empty waiting list never exist together.
        if spots is None or spots > 0:
            assert state["waitlistedCount"] == 0, state
        # The waiting list is 1..N in first-come-first-served order.
        assert [node["waitlistPosition"] for node in waitlisted] == list(
            range(1, len(waitlisted) + 1)
        )
        assert [self.user_of(node["userId"]) for node in waitlisted] == model.queue, (
            model,
            state,
        )
        assert all(node["waitlistPosition"] is None for node in nodes if node not in waitlisted)
        # Rule 2: one enrollment per (user, event), with the model's status and id.
        user_ids = [node["userId"] for node in nodes]
        assert len(set(user_ids)) == len(user_ids)
        assert {self.user_of(node["userId"]): node["status"] for node in nodes} == model.status
        assert {self.user_of(node["userId"]): node["id"] for node in nodes} == (
            model.enrollment_ids
        )


def test_enrollment_rules_hold_for_any_sequence_of_operations(
    database_url: str, compiled_reads: bool
) -> None:
    """On both paths (tests/conftest.py), checked below. Compiled: the invariants are read by
    compiled statements, known ones answered directly, and every enroll after the first runs
    through graphql/direct.py (``compiled_writes``: PostgreSQL's function, SQLite's statements
    in the writer thread). The executor: every operation, the reference. Reads and writes
    change path together."""
    reads_before, writes_before = ANSWERED["read"], ANSWERED["write"]
    with harness_for(database_url, compiled_reads) as harness:
        machine = type("BoundEnrollmentMachine", (EnrollmentMachine,), {"harness": harness})
        run_state_machine_as_test(machine, settings=MACHINE_SETTINGS)
    assert (ANSWERED["read"] > reads_before) is compiled_reads
    assert (ANSWERED["write"] > writes_before) is compiled_reads


async def test_bulk_enrollment_errors_name_the_bulk_calls_own_arguments(
    api: Api, db: Database
) -> None:
    """Found by the machine: a refused bulk enrollment named ``enrollment.offerEventId`` (an
    argument of the single enroll call) and counted users after dropping repeats."""
    tag = uuid.uuid4().hex[:8]
    async with db.transaction() as session:
        offer = await offers_service.create(session, {"title": "Offer"})
        event = await events_service.create(
            session,
            {"offer_id": offer.id, "title": "Event", "ref": f"ev-{tag}", "max_participants": 1},
            [],
        )
        users = [
            await users_service.create(
                session,
                {"name": name, "email": f"{name}-{tag}@example.com", "ref": f"{name}-{tag}"},
            )
            for name in ("ann", "bob", "cat")
        ]
    ann, bob, cat = (str(user.id) for user in users)
    refs = [user.ref for user in users]
    await api.data(ARCHIVE_USERS, {"archive": True, "ids": [cat]})
    by_refs = """
    mutation($ref: String, $refs: [String!]) {
      createOfferEventEnrollments(offerEventRef: $ref, userRefs: $refs) { id }
    }"""

    error = await api.error(BULK_ENROLL, {"eventId": str(event.id), "userIds": [ann, ann, cat]})
    assert error["extensions"] == {"code": "USER_INACTIVE", "field": "userIds.2"}
    error = await api.error(BULK_ENROLL, {"eventId": str(event.id), "userIds": [ann, bob]})
    assert error["extensions"] == {"code": "EVENT_FULL", "field": "offerEventId"}
    error = await api.error(by_refs, {"ref": f"ev-{tag}", "refs": [refs[0], refs[0], refs[2]]})
    assert error["extensions"] == {"code": "USER_INACTIVE", "field": "userRefs.2"}
    error = await api.error(by_refs, {"ref": f"ev-{tag}", "refs": refs[:2]})
    assert error["extensions"] == {"code": "EVENT_FULL", "field": "offerEventRef"}
    await api.data(ARCHIVE_EVENTS, {"archive": True, "ids": [str(event.id)]})
    error = await api.error(by_refs, {"ref": f"ev-{tag}", "refs": refs[:1]})
    assert error["extensions"] == {"code": "EVENT_INACTIVE", "field": "offerEventRef"}
