"""Compiled reads (graphql/compiler/) answer byte for byte as the executor does.

Every document here is sent to two apps on the same database: one with compiled reads on,
one with ``compiled_reads=False`` (the executor, the reference). Response caches are off in
both, so every answer is computed. The bodies, status codes and media types must be equal;
the documents that the compiler covers must also really be compiled (no fallback counted)
and run one statement for their data.
"""

import asyncio
import base64
import logging
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from graphql import GraphQLObjectType, get_named_type
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event as event_module
from sqlalchemy import update
from starlette.applications import Starlette

from offerdesk.app import create_app
from offerdesk.auth.models import ApiClient, ApiToken
from offerdesk.auth.scopes import Scope
from offerdesk.auth.service import create_client, hash_secret, issue_token
from offerdesk.content import service as content_service
from offerdesk.content.models import ContentItem, ContentType
from offerdesk.db import Database
from offerdesk.enrollments import service as enrollments_service
from offerdesk.enrollments.service import EnrollRequest
from offerdesk.events import service as events_service
from offerdesk.events.models import OfferEvent
from offerdesk.graphql.compiler.extension import FALLBACKS
from offerdesk.graphql.direct import ANSWERED
from offerdesk.graphql.schema import TYPE_MAPS, build_schema
from offerdesk.offers import service as offers_service
from offerdesk.offers.models import Offer
from offerdesk.users import service as users_service

from .conftest import empty_all_tables, make_token, settings_for
from .helpers import count_statements


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"response_cache_mb": 0, "compiled_reads": True}


@pytest.fixture
async def reference(database_url: str) -> AsyncIterator[Starlette]:
    """The same database answered by the executor alone."""
    app = create_app(settings_for(database_url, response_cache_mb=0, compiled_reads=False))
    yield app
    await app.state.db.dispose()


@dataclass
class Seeded:
    offers: dict[str, uuid.UUID]
    events: dict[str, uuid.UUID]
    content: dict[str, uuid.UUID]
    users: dict[str, uuid.UUID]


T0 = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)


async def seed(db: Database) -> Seeded:
    """The edge cases: unlimited capacity, full events, waiting lists, archived offers, events
    and content, events without dates or content, fractional seconds, offers without events,
    several content links, unicode and control characters in text, equal creation times."""
    offers: dict[str, uuid.UUID] = {}
    events: dict[str, uuid.UUID] = {}
    content: dict[str, uuid.UUID] = {}
    users: dict[str, uuid.UUID] = {}
    async with db.transaction() as session:
        for key, kind, title in (
            ("intro", ContentType.TRAINING, "Intro 🚀 «ünïcödé»"),
            ("video", ContentType.VIDEO, 'Vidéo "quoted" \\ back\tslash\x01\x1f\u2028 end'),
            ("course", ContentType.COURSE, "Course"),
        ):
            item = await content_service.create(
                session,
                {"type": kind, "title": title, "ref": f"content-{key}", "url": "https://x/é"},
            )
            content[key] = item.id
        for key, name, email in (
            ("ada", "Ada Lövelace", "Ada.Lovelace@Example.org"),
            ("bob", "Bob 🚲", "bob@example.org"),
            ("cy", "Cy", "cy@example.org"),
            ("dee", "Dee", "dee@example.org"),
            ("gone", "Gone User", "gone@example.org"),
            ("ärztin", "Ärztin", "ärztin@müller.de"),
            ("böb", "Böb", "böb@example.org"),
        ):
            user = await users_service.create(
                session, {"name": name, "email": email, "ref": f"user-{key}"}
            )
            users[key] = user.id
        await users_service.archive(session, [users["gone"]], True)
        for key, title, description in (
            ("main", "Zeta offer — ünïcödé", "Line one\nline two"),
            ("empty", "alpha offer", None),
            ("archived", "Archived offer", "gone"),
            ("off", "Switched off", None),
            ("percent", "50% off_sale/x", "100%"),
            ("twin", "Twin", "same created_at as main"),
        ):
            offer = await offers_service.create(
                session,
                {"title": title, "description": description, "ref": f"offer-{key}"},
            )
            offers[key] = offer.id
        await offers_service.archive(session, [offers["archived"]], True)
        await offers_service.update(session, offers["off"], {"is_active": False})

        def dates(*starts: datetime) -> list[events_service.DateChanges]:
            return [
                {"start": start, "end": start + timedelta(hours=2), "location": f"Room {i}"}
                for i, start in enumerate(starts)
            ]

        specs: list[tuple[str, str, dict[str, Any], list[events_service.DateChanges]]] = [
            (
                "full",
                "main",
                {
                    "title": "Full — waiting list",
                    "max_participants": 10,
                    "min_participants": 3,
                    "waiting_list": True,
                    "content_id": content["intro"],
                    "content_ids": [content["video"]],
                    "closing_date": T0 + timedelta(days=3, microseconds=120),
                },
                dates(
                    T0 + timedelta(days=2, microseconds=500000),
                    T0 + timedelta(days=1, microseconds=100),
                    T0 + timedelta(days=5),
                ),
            ),
            ("unlimited", "main", {"title": "Unlimited, no dates, no content"}, []),
            (
                "some",
                "main",
                {"title": "Some spots", "max_participants": 5, "content_id": content["video"]},
                dates(T0 + timedelta(days=1, microseconds=100), T0 + timedelta(days=9)),
            ),
            (
                "tie",
                "main",
                {"title": "Same first date", "max_participants": 1},
                dates(T0 + timedelta(days=1, microseconds=100)),
            ),
            (
                "elsewhere",
                "archived",
                {"title": "In the archived offer", "content_id": content["course"]},
                dates(T0 - timedelta(days=400, microseconds=1)),
            ),
            ("twin", "twin", {"title": "Ünïcödé ✓"}, dates(T0)),
            (
                "queue",
                "twin",
                {"title": "One seat, a queue", "max_participants": 1, "waiting_list": True},
                dates(T0 + timedelta(days=3)),
            ),
        ]
        for key, offer_key, changes, event_dates in specs:
            event = await events_service.create(
                session,
                {"offer_id": offers[offer_key], "ref": f"event-{key}", **changes},  # type: ignore[typeddict-item]
                event_dates,
            )
            events[key] = event.id
        await events_service.archive(session, [events["unlimited"]], True)
        await session.execute(
            update(OfferEvent)
            .where(OfferEvent.id == events["full"])
            .values(enrolled_count=10, waitlisted_count=3)
        )
        await session.execute(
            update(OfferEvent).where(OfferEvent.id == events["some"]).values(enrolled_count=2)
        )
        await session.execute(
            update(ContentItem).where(ContentItem.id == content["video"]).values(is_active=False)
        )
        # Creation times with and without fractional seconds, and two offers created at the
        # same instant (the keyset's tie on id).
        for index, key in enumerate(offers):
            created = T0 - timedelta(days=30 - index, microseconds=250000 * (index % 2))
            await session.execute(
                update(Offer).where(Offer.id == offers[key]).values(created_at=created)
            )
        await session.execute(
            update(Offer)
            .where(Offer.id == offers["twin"])
            .values(created_at=T0 - timedelta(days=30))
        )
    # Enrollments with a history: one seat, three in the queue, the first withdraws (the
    # second is promoted), the last declines; Ada also holds a seat elsewhere.
    async with db.transaction() as session:
        queue = {
            key: await enrollments_service.enroll(
                session, EnrollRequest(users[key], events["queue"], send_mail=key == "cy")
            )
            for key in ("ada", "bob", "cy", "dee")
        }
        await enrollments_service.enroll(session, EnrollRequest(users["ada"], events["some"]))
        await enrollments_service.unenroll(session, users["ada"], events["queue"])
        await enrollments_service.decline(session, [queue["dee"].id])
    return Seeded(offers, events, content, users)


ENROLLMENT_FIELDS = (
    "id userId offerEventId status enrolledAt updatedAt waitlistPosition "
    "history { fromStatus toStatus cause sendMail at }"
)
USER_ENROLLMENTS = (
    "query($userId: UUID) { enrollments(userId: $userId) { %s user { id name email } "
    "offerEvent { id title spotsAvailable waitlistedCount } } }" % ENROLLMENT_FIELDS
)
ONE_ENROLLMENT = (
    "query($userId: UUID!, $eventId: UUID!) { enrollment(userId: $userId, offerEventId: $eventId)"
    " { %s __typename } }" % ENROLLMENT_FIELDS
)
ROSTER = (
    "query($id: UUID!, $status: EnrollmentStatus, $first: Int, $after: String) "
    "{ offerEvent(id: $id) { id enrollments(status: $status, first: $first, after: $after) "
    "{ count pageInfo { hasNextPage endCursor } edges { cursor node { id status "
    "waitlistPosition enrolledAt user { name } history { toStatus cause } } } } } }"
)
NESTED_ROSTERS = (
    "query($id: UUID!) { offer(id: $id) { offerEvents { title enrollments(first: 2) "
    "{ count edges { node { userId status offerEvent { enrolledCount waitlistedCount } } } "
    "pageInfo { endCursor } } } } }"
)
EVENT_FIELDS = (
    "id ref title offerId contentId contentType contentTitle isActive maxParticipants "
    "minParticipants enrolledCount waitlistedCount spotsAvailable waitingList closingDate "
    "createdAt updatedAt"
)
DATE_FIELDS = "id offerEventId start end location"
OFFER_FIELDS = "id ref title description isActive archivedAt createdAt updatedAt"
CONTENT_FIELDS = "id ref type title description url isActive createdAt updatedAt"

Q1 = (
    "query($id: UUID!) { offerEvent(id: $id) "
    "{ id title dates { start end } contentTitle spotsAvailable } }"
)
Q2 = "query($id: UUID!) { offer(id: $id) { offerEvents { id title } } }"
Q3 = (
    "query { paginatedOffers(first: 50) { edges { node { offerEvents "
    "{ title dates { start end } contentTitle spotsAvailable } } } } }"
)
FULL_EVENT = (
    "query($id: UUID, $ref: String) { offerEvent(id: $id, ref: $ref) { %s "
    "dates { %s } offer { %s } contentItems { %s } } }"
    % (EVENT_FIELDS, DATE_FIELDS, OFFER_FIELDS, CONTENT_FIELDS)
)
ALL_OFFERS = (
    "query($search: String, $all: Boolean!) { offers(search: $search, includeArchived: $all) "
    "{ %s offerEvents { %s dates { %s } } } }" % (OFFER_FIELDS, EVENT_FIELDS, DATE_FIELDS)
)
PAGE = (
    "query($first: Int, $after: String, $search: String, $all: Boolean! = false) { "
    "paginatedOffers(first: $first, after: $after, search: $search, includeArchived: $all) "
    "{ __typename count edges { __typename cursor node { __typename id title createdAt } } "
    "pageInfo { __typename hasNextPage endCursor } } }"
)
SHAPES = """
query($id: UUID!, $offer: UUID!, $yes: Boolean!, $no: Boolean!, $active: Boolean) {
  __typename
  first: offerEvent(id: $id) { ...Event title @include(if: $yes) spotsAvailable @skip(if: $no) }
  second: offerEvent(id: $id) { id @include(if: $no) ... on OfferEvent { t: title } }
  offer(id: $offer) {
    __typename
    offerEvents(isActive: $active) { __typename ...Event dates { ...Date } }
    again: offerEvents { id }
    ... @include(if: $yes) { title description }
  }
  ... on Query { offers { id } }
}
fragment Event on OfferEvent { id title contentId offer { id title } dates { start } }
fragment Date on OfferEventDate { id start end offerEventId }
"""

CONTENT_PAGE = (
    "query($type: ContentType, $search: String, $first: Int, $after: String) { "
    "paginatedContentItems(type: $type, search: $search, first: $first, after: $after) "
    "{ count edges { cursor node { %s } } pageInfo { hasNextPage endCursor } } }" % CONTENT_FIELDS
)
CONTENT_ITEM = "query($id: UUID, $ref: String) { contentItem(id: $id, ref: $ref) { %s } }" % (
    CONTENT_FIELDS
)
USER_FIELDS = "id ref name email isActive createdAt updatedAt"
USER_PAGE = (
    "query($active: Boolean, $search: String, $first: Int, $after: String) { "
    "paginatedUsers(isActive: $active, search: $search, first: $first, after: $after) "
    "{ count edges { cursor node { %s } } pageInfo { hasNextPage endCursor } } }" % USER_FIELDS
)
USER = (
    "query($id: UUID, $ref: String, $email: String) { "
    "user(id: $id, ref: $ref, email: $email) { %s } }" % USER_FIELDS
)


def cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


Case = tuple[str, dict[str, Any] | None, bool | None]


def hand_written(s: Seeded) -> list[Case]:
    """(document, variables, compiles): documents of the covered fields, and bad input
    (which the executor answers with its errors; None: refused before either path runs)."""
    missing = str(uuid.uuid4())
    cases: list[Case] = []
    for event in [*s.events.values(), missing]:
        cases.append((Q1, {"id": str(event)}, True))
        cases.append((FULL_EVENT, {"id": str(event).upper()}, True))
    for key in s.events:
        cases.append((FULL_EVENT, {"ref": f"event-{key}"}, True))
    for offer in [*s.offers.values(), missing]:
        cases.append((Q2, {"id": str(offer)}, True))
    for user in [*s.users.values(), missing]:
        cases.append((USER_ENROLLMENTS, {"userId": str(user)}, True))
        for event in (s.events["queue"], s.events["some"], missing):
            cases.append((ONE_ENROLLMENT, {"userId": str(user), "eventId": str(event)}, True))
    for event in (*s.events.values(), missing):
        for status in (None, "ENROLLED", "WAITLISTED", "CANCELLED", "DECLINED"):
            for first in (None, 1, 3):
                variables = {"id": str(event), "status": status, "first": first}
                cases.append((ROSTER, variables, True))
    cases.append((NESTED_ROSTERS, {"id": str(s.offers["twin"])}, True))
    cases.append((ROSTER, {"id": str(s.events["queue"]), "first": 0}, False))
    cases.append((ROSTER, {"id": str(s.events["queue"]), "after": "forged"}, False))
    cases.append((USER_ENROLLMENTS, {"userId": None}, False))
    cases.append((USER_ENROLLMENTS, {"userId": "not-a-uuid"}, False))
    cases.append((Q3, None, True))
    for search in (None, "ALPHA", "50%", "_", "/", "  ", "ünï", "Zeta", "nothing"):
        for everything in (False, True):
            cases.append((ALL_OFFERS, {"search": search, "all": everything}, True))
    for first in (None, 1, 2, 5, 100):
        for everything in (False, True):
            cases.append((PAGE, {"first": first, "all": everything}, True))
    for active in (None, True, False):
        for yes in (True, False):
            cases.append(
                (
                    SHAPES,
                    {
                        "id": str(s.events["full"]),
                        "offer": str(s.offers["main"]),
                        "yes": yes,
                        "no": not yes,
                        "active": active,
                    },
                    True,
                )
            )
    for kind in (None, "TRAINING", "VIDEO", "SCORM"):
        for search in (None, "vid", "CONTENT-", " "):
            cases.append((CONTENT_PAGE, {"type": kind, "search": search, "first": 2}, True))
    for key, item in s.content.items():
        cases.append((CONTENT_ITEM, {"id": str(item)}, True))
        cases.append((CONTENT_ITEM, {"ref": f"content-{key}"}, True))
    for active in (None, True, False):
        for search in (None, "ÖVE", "example", "%"):
            cases.append((USER_PAGE, {"active": active, "search": search}, True))
    for key, user in s.users.items():
        cases.append((USER, {"id": str(user)}, True))
        cases.append((USER, {"ref": f"user-{key}"}, True))
    # Canonical e-mail look-ups (users.service.email_address): case, padding, a decomposed
    # letter, an IDNA domain in its ASCII form.
    for email in (
        "ada.lovelace@example.org",
        " BOB@example.org ",
        "nobody@example.org",
        "ÄRZTIN@MÜLLER.de",
        "bo\u0308b@example.org",
        "ärztin@xn--mller-kva.de",
    ):
        cases.append((USER, {"email": email}, True))
    cases += [
        (CONTENT_PAGE, {"type": "NOPE"}, False),
        (CONTENT_PAGE, {"first": 1, "after": "bad"}, False),
        (USER, {"email": "nul\x00@example.org"}, False),
        (USER, {"email": ""}, False),
        (USER, {"email": "not-an-address"}, False),
        (USER, {"email": "a@example.org", "ref": "user-ada"}, False),
        (USER_PAGE, {"first": 500}, False),
    ]
    cases += [
        ('{ offerEvent(ref: "event-full") { contentTitle contentId } }', None, True),
        ('{ offer(ref: "offer-main") { offerEvents(isActive: false) { id } } }', None, True),
        ('{ offers(search: "a", includeArchived: true) { title } }', None, True),
        ("{ paginatedOffers { count } }", None, True),
        ("{ paginatedOffers(first: 3) { pageInfo { endCursor } } }", None, True),
        # Bad input: the executor's errors, through the fallback.
        (Q1, {"id": "not-a-uuid"}, False),
        (Q1, {"id": None}, False),
        (Q1, {}, False),
        (FULL_EVENT, {}, False),
        (FULL_EVENT, {"id": str(s.events["full"]), "ref": "event-full"}, False),
        (FULL_EVENT, {"ref": "nul\x00ref"}, False),
        (ALL_OFFERS, {"search": "nul\x00", "all": True}, False),
        (ALL_OFFERS, {"search": "x"}, False),
        (PAGE, {"first": 0}, False),
        (PAGE, {"first": 101}, False),
        (PAGE, {"first": -1}, False),
        (PAGE, {"after": "forged"}, False),
        (PAGE, {"after": cursor(f"2025-09-01T09:00:00|{missing}")}, False),
        (PAGE, {"after": cursor("not a time|x")}, False),
        (PAGE, {"after": "%%%"}, False),
        ("{ paginatedOffers(first: 0) { count } }", None, False),
        # Refused by validation, before either path runs.
        ('{ offerEvent(id: "nope") { id } }', None, None),
        ('{ offer(id: "%s", ref: "offer-main") { id } }' % s.offers["main"], None, False),
        ('{ offerEvent(ref: "event-full") { enrollments { count } } }', None, True),
        # Introspection is the executor's: the whole operation goes there.
        ("{ offers { id } paginatedUsers { count } }", None, True),
        ("{ offers { id } enrollments { id } }", None, False),
        ("{ __schema { queryType { name } } }", None, False),
    ]
    return cases


async def pages(post: Any, s: Seeded) -> list[Case]:
    """Every page of the offers, two at a time, and of the queue's roster, one at a time (all
    of it, and its WAITLISTED only), with the cursors the API gives out."""
    cases: list[Case] = []
    after = None
    for _ in range(10):
        variables = {"first": 2, "after": after, "all": True}
        cases.append((PAGE, variables, True))
        body = (await post(PAGE, variables)).json()["data"]["paginatedOffers"]
        if not body["pageInfo"]["hasNextPage"]:
            break
        after = body["pageInfo"]["endCursor"]
    for status in (None, "WAITLISTED"):
        after = None
        for _ in range(10):
            variables = {"id": str(s.events["queue"]), "status": status, "first": 1, "after": after}
            cases.append((ROSTER, variables, True))
            body = (await post(ROSTER, variables)).json()["data"]["offerEvent"]["enrollments"]
            if not body["pageInfo"]["hasNextPage"]:
                break
            after = body["pageInfo"]["endCursor"]
    return cases


def generated(s: Seeded, count: int) -> list[Case]:
    """Documents made of random subsets of the covered fields, with aliases, fragments,
    inline fragments and directives; the same documents every run (a fixed seed)."""
    rng = random.Random(10)
    event_leaves = EVENT_FIELDS.split()
    offer_leaves = OFFER_FIELDS.split()

    def pick(names: list[str]) -> list[str]:
        chosen = rng.sample(names, rng.randint(1, min(5, len(names))))
        out = []
        for index, name in enumerate(chosen):
            roll = rng.random()
            if roll < 0.15:
                out.append(f"a{index}: {name}")
            elif roll < 0.25:
                out.append(f"{name} @include(if: $flag)")
            elif roll < 0.3:
                out.append(f"{name} @skip(if: $flag)")
            elif roll < 0.35:
                out.append("__typename")
            else:
                out.append(name)
        return out

    def event(depth: int) -> str:
        parts = pick(event_leaves)
        if rng.random() < 0.5:
            parts.append("dates { %s }" % " ".join(pick(DATE_FIELDS.split())))
        if rng.random() < 0.3:
            parts.append("contentItems { %s }" % " ".join(pick(CONTENT_FIELDS.split())))
        if depth and rng.random() < 0.4:
            parts.append("offer { %s }" % offer(depth - 1))
        if rng.random() < 0.2:
            parts.append("... on OfferEvent { %s }" % " ".join(pick(event_leaves)))
        return " ".join(parts)

    def offer(depth: int) -> str:
        parts = pick(offer_leaves)
        if depth and rng.random() < 0.6:
            argument = rng.choice(["", "(isActive: true)", "(isActive: $flag)"])
            parts.append("offerEvents%s { %s }" % (argument, event(depth - 1)))
        return " ".join(parts)

    cases: list[Case] = []
    for _ in range(count):
        root = rng.choice(["event", "offer", "offers", "page", "content", "users"])
        if root == "event":
            body = "offerEvent(id: $id) { %s }" % event(2)
        elif root == "offer":
            body = "offer(id: $offer) { %s }" % offer(2)
        elif root == "offers":
            body = "offers(includeArchived: $flag) { %s }" % offer(2)
        elif root == "page":
            body = "paginatedOffers(first: 3) { edges { cursor node { %s } } count }" % offer(1)
        elif root == "content":
            body = "paginatedContentItems(first: 2) { edges { node { %s } } } x: contentItem" % (
                " ".join(pick(CONTENT_FIELDS.split()))
            ) + '(ref: "content-intro") { %s }' % " ".join(pick(CONTENT_FIELDS.split()))
        else:
            body = "paginatedUsers(isActive: $flag) { pageInfo { %s } edges { node { %s } } }" % (
                " ".join(pick(["hasNextPage", "endCursor"])),
                " ".join(pick(USER_FIELDS.split())),
            )
        used = [
            f"${name}: {kind}"
            for name, kind in (("id", "UUID!"), ("offer", "UUID!"), ("flag", "Boolean!"))
            if f"${name}" in body
        ]
        document = "query%s { %s }" % (f"({', '.join(used)})" if used else "", body)
        for flag in (True, False):
            variables = {
                "id": str(rng.choice(list(s.events.values()))),
                "offer": str(rng.choice(list(s.offers.values()))),
                "flag": flag,
            }
            variables = {name: value for name, value in variables.items() if f"${name}" in body}
            cases.append((document, variables, True))
    return cases


async def test_compiled_answers_are_byte_identical_to_the_executors(
    app: Starlette, reference: Starlette, db: Database
) -> None:
    seeded = await seed(db)
    token = await make_token(db)
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "differential"}
    transport, reference_transport = ASGITransport(app=app), ASGITransport(app=reference)
    async with (
        AsyncClient(transport=transport, base_url="http://t") as compiled,
        AsyncClient(transport=reference_transport, base_url="http://t") as executor,
    ):

        async def post(client: AsyncClient, query: str, variables: dict[str, Any] | None) -> Any:
            body: dict[str, Any] = {"query": query}
            if variables is not None:
                body["variables"] = variables
            return await client.post("/graphql", json=body, headers=headers)

        cases = hand_written(seeded) + generated(seeded, 40)
        cases += await pages(lambda q, v: post(executor, q, v), seeded)
        mismatches = []
        not_compiled = []
        plans = app.state.schema.plans
        for query, variables, compiles in cases:
            before = sum(FALLBACKS.values())
            got = await post(compiled, query, variables)
            fell_back = sum(FALLBACKS.values()) != before
            want = await post(executor, query, variables)
            # Once a document has compiled, the same request again is answered by the direct
            # path (graphql/direct.py: one statement, the token checked in it).
            known = plans.known(query, None) is not None
            again = await post(compiled, query, variables)
            for answer in (got, again):
                if (answer.status_code, answer.content, answer.headers["content-type"]) != (
                    want.status_code,
                    want.content,
                    want.headers["content-type"],
                ):
                    mismatches.append((query, variables, answer.content, want.content))
            if compiles and not fell_back and "data" in got.json() and not known:
                not_compiled.append((query, variables, "not known to the direct path", {}))
            # A request refused before either path runs (over the cost limit, an argument with
            # a NUL: the same answer, compared above, and no data) neither compiles nor falls
            # back.
            refused = "data" not in got.json()
            if compiles is not None and compiles == fell_back and not refused:
                not_compiled.append((query, variables, compiles, dict(FALLBACKS)))
    assert mismatches == []
    assert not_compiled == []
    assert len(cases) > 150


async def test_a_compiled_read_runs_one_statement_for_its_data(
    app: Starlette, db: Database
) -> None:
    await seed(db)
    token = await make_token(db)
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        async with count_statements(db) as statements:
            response = await client.post(
                "/graphql",
                json={"query": Q3.replace("first: 50", "first: 5, includeArchived: true")},
                headers={"Authorization": f"Bearer {token}"},
            )
        offers = response.json()["data"]["paginatedOffers"]["edges"]
        assert len(offers) == 5
        data = [sql for sql in statements if "offer" in sql.lower()]
        # The token's look-up reads api_tokens only; SQLite's BEGIN reads nothing.
        assert len(data) == 1, statements
        assert "Zeta offer" not in response.text  # offers' titles were not asked for
        assert "Full — waiting list" in response.text


@pytest.mark.parametrize(
    "query",
    [
        Q1,
        "query($id: UUID!) { offerEvent(id: $id) { id } paginatedUsers { count } }",
        'query($id: UUID!) { offerEvent(id: $id) { id } a: contentItem(ref: "content-intro") '
        "{ title } }",
    ],
)
async def test_a_principal_without_a_scope_gets_the_executors_forbidden_answer(
    app: Starlette, reference: Starlette, db: Database, query: str
) -> None:
    seeded = await seed(db)
    token = await make_token(db, frozenset({Scope.CONTENT_READ}))
    body = {"query": query, "variables": {"id": str(seeded.events["full"])}}
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "scope"}
    answers = []
    for application in (app, reference):
        async with AsyncClient(transport=ASGITransport(app=application), base_url="http://t") as c:
            answers.append((await c.post("/graphql", json=body, headers=headers)).content)
    assert answers[0] == answers[1]
    assert b"FORBIDDEN" in answers[0]


@pytest.mark.parametrize(
    "scopes",
    [
        frozenset({Scope.EVENTS_READ}),
        frozenset({Scope.EVENTS_READ, Scope.CONTENT_READ}),
        frozenset({Scope.EVENTS_READ, Scope.CONTENT_WRITE}),
    ],
    ids=["events.read", "content.read", "content.write"],
)
async def test_a_nested_type_without_its_scope_falls_back_and_with_it_compiles(
    app: Starlette, reference: Starlette, db: Database, scopes: frozenset[Scope]
) -> None:
    """An event's content items need content.read or content.write (issue 14): without
    either the plan falls back and the executor's partial answer (the event, contentItems
    null, FORBIDDEN) is given unchanged; with either the plan answers."""
    seeded = await seed(db)
    token = await make_token(db, scopes)
    body = {"query": FULL_EVENT, "variables": {"id": str(seeded.events["full"])}}
    headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "nested-scope"}
    before = FALLBACKS.total()
    answers = []
    for application in (app, reference):
        async with AsyncClient(transport=ASGITransport(app=application), base_url="http://t") as c:
            answers.append((await c.post("/graphql", json=body, headers=headers)).content)
    assert answers[0] == answers[1]
    answer = orjson.loads(answers[0])
    assert answer["data"]["offerEvent"]["id"] == str(seeded.events["full"])
    if scopes == {Scope.EVENTS_READ}:
        assert answer["data"]["offerEvent"]["contentItems"] is None
        assert [error["extensions"]["code"] for error in answer["errors"]] == ["FORBIDDEN"]
        assert FALLBACKS.total() == before + 1
    else:
        assert answer["data"]["offerEvent"]["contentItems"], answer
        assert "errors" not in answer
        assert FALLBACKS.total() == before


async def test_callers_with_different_scopes_asking_one_document_get_their_own_answers(
    app: Starlette, reference: Starlette, db: Database
) -> None:
    """One plan serves every caller, and remembers what each set of scopes lacks
    (Plan.missing_scopes): callers with different scopes asking the same document in turn,
    known to the direct path after the first answer, each get the answer the executor gives
    them."""
    seeded = await seed(db)
    scope_sets = [
        frozenset({Scope.EVENTS_READ, Scope.CONTENT_READ}),
        frozenset({Scope.EVENTS_READ}),
        frozenset({Scope.CONTENT_READ}),
    ]
    tokens = [await make_token(db, scopes) for scopes in scope_sets]
    body = {"query": FULL_EVENT, "variables": {"id": str(seeded.events["full"])}}
    codes = []
    async with (
        AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client,
        AsyncClient(transport=ASGITransport(app=reference), base_url="http://t") as executor,
    ):
        for token in [*tokens, *reversed(tokens), *tokens]:
            headers = {"Authorization": f"Bearer {token}", "X-Request-Id": "scope-sets"}
            answer = (await client.post("/graphql", json=body, headers=headers)).content
            expected = (await executor.post("/graphql", json=body, headers=headers)).content
            assert answer == expected
            errors = orjson.loads(answer).get("errors", [])
            codes.append([error["extensions"]["code"] for error in errors])
    first = [[], ["FORBIDDEN"], ["FORBIDDEN"]]
    assert codes == [*first, *reversed(first), *first]


async def test_plans_are_compiled_once_per_variable_shape(
    app: Starlette, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    seeded = await seed(db)
    token = await make_token(db)
    plans = app.state.schema.plans
    headers = {"Authorization": f"Bearer {token}"}

    async def send(variables: dict[str, Any]) -> None:
        base = {"id": str(seeded.events["full"]), "offer": str(seeded.offers["main"])}
        body = {"query": document, "variables": {**base, **variables}}
        async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
            response = await client.post("/graphql", json=body, headers=headers)
        assert "errors" not in response.json()

    # The schema (and its plans) is shared by the apps of this process: a fresh document, and
    # room in the cache, which the differential test may have filled to its bound.
    document = f"{SHAPES}\n# {uuid.uuid4()}"
    monkeypatch.setattr(plans._plans, "max_bytes", plans._plans.bytes + 2**26)
    before = len(plans)
    await send({"yes": True, "no": False, "active": None})
    await send({"yes": True, "no": False, "active": None, "id": str(seeded.events["some"])})
    assert len(plans) == before + 1  # another id: the same plan, the id a parameter
    await send({"yes": False, "no": True, "active": None})
    await send({"yes": True, "no": False, "active": True})
    assert len(plans) == before + 3  # a boolean or a null changes the statement


async def test_a_fallback_is_logged_with_the_field_that_forced_it_and_counted(
    app: Starlette, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    token = await make_token(db)
    query = '{ offerEvent(ref: "none") { id } __schema { queryType { name } } }'
    before = FALLBACKS["Query.__schema"]
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        with caplog.at_level(logging.DEBUG, logger="offerdesk.compiled_reads"):
            response = await client.post(
                "/graphql", json={"query": query}, headers={"Authorization": f"Bearer {token}"}
            )
    assert response.json() == {
        "data": {"offerEvent": None, "__schema": {"queryType": {"name": "Query"}}}
    }
    assert FALLBACKS["Query.__schema"] == before + 1
    assert any("Query.__schema" in record.getMessage() for record in caplog.records)


# Query fields the executor answers, and why (issue 10, item 3): the change feed's order is
# read against the server's transaction horizon and its rows filtered by the reader's scopes
# (outbox/service.py), and the webhook administration is a handful of rows read by operators;
# neither is a hot read path worth a second implementation yet.
EXECUTOR_FIELDS = frozenset(
    {
        "Query.changes",
        "Query.webhookSubscription",
        "Query.webhookSubscriptions",
        "Query.webhookDeliveries",
    }
)


def test_every_field_reachable_from_query_has_a_declaration() -> None:
    """Coverage (issue 10, item 3): only introspection and ``EXECUTOR_FIELDS`` fall back to
    the executor; the connection, edge and page-info types are the compiler's own."""
    schema = build_schema()._schema
    assert schema.query_type is not None
    seen: set[str] = set()
    todo: list[GraphQLObjectType] = [schema.query_type]
    undeclared = []
    while todo:
        parent = todo.pop()
        if parent.name in seen:
            continue
        seen.add(parent.name)
        structural = parent.name.endswith(("Connection", "Edge")) or parent.name == "PageInfo"
        for name, field in parent.fields.items():
            if f"{parent.name}.{name}" in EXECUTOR_FIELDS:
                continue
            declared = parent.name in TYPE_MAPS and name in TYPE_MAPS[parent.name].fields
            if not structural and not declared:
                undeclared.append(f"{parent.name}.{name}")
            named = get_named_type(field.type)
            if isinstance(named, GraphQLObjectType):
                todo.append(named)
    assert undeclared == []
    assert {"Query", "OfferEvent", "Enrollment", "EnrollmentStatusChange", "User"} <= seen


# --- the direct path: a known document, its token checked in its one statement -------------


async def _client_token(db: Database) -> tuple[str, str]:
    """A token of an API client (the client's id and the token)."""
    async with db.transaction() as session:
        client, _secret = await create_client(session, "Portal", "events.read")
        issued = await issue_token(session, frozenset({Scope.EVENTS_READ}), 3600, client)
        return str(client.id), issued.token


async def _spoil(db: Database, how: str, token: str, client_id: str) -> None:
    """Make ``token`` unusable: revoked, expired, or its client deactivated."""
    async with db.transaction() as session:
        if how == "revoked":
            await session.execute(
                update(ApiToken)
                .where(ApiToken.token_hash == hash_secret(token))
                .values(revoked_at=datetime.now(UTC))
            )
        elif how == "expired":
            await session.execute(
                update(ApiToken)
                .where(ApiToken.token_hash == hash_secret(token))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        else:
            await session.execute(
                update(ApiClient)
                .where(ApiClient.id == uuid.UUID(client_id))
                .values(is_active=False)
            )


@pytest.mark.parametrize("how", ["revoked", "expired", "client deactivated", "unknown"])
async def test_a_known_document_with_an_unusable_token_gets_the_same_401(
    app: Starlette, reference: Starlette, db: Database, how: str
) -> None:
    seeded = await seed(db)
    client_id, token = await _client_token(db)
    body = {"query": Q1, "variables": {"id": str(seeded.events["full"])}}
    answers = []
    for application in (app, reference):
        async with AsyncClient(transport=ASGITransport(app=application), base_url="http://t") as c:
            for _ in range(2):
                # Known to the direct path from here on, answered in one statement.
                ok = await c.post(
                    "/graphql", json=body, headers={"Authorization": f"Bearer {token}"}
                )
                assert "errors" not in ok.json(), ok.text
            assert app.state.schema.plans.known(Q1, None) is not None
            if how == "unknown":
                spoiled = token[:-4] + "AAAA"
            else:
                spoiled = token
                await _spoil(db, how, token, client_id)
            refused = await c.post(
                "/graphql", json=body, headers={"Authorization": f"Bearer {spoiled}"}
            )
            answers.append(
                (refused.status_code, refused.content, refused.headers["www-authenticate"])
            )
            if how != "unknown":
                await _restore(db, token, client_id)
    assert answers[0] == answers[1]
    assert answers[0][0] == 401


async def _restore(db: Database, token: str, client_id: str) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_secret(token))
            .values(revoked_at=None, expires_at=datetime.now(UTC) + timedelta(hours=1))
        )
        await session.execute(
            update(ApiClient).where(ApiClient.id == uuid.UUID(client_id)).values(is_active=True)
        )


async def test_known_reads_at_once_share_at_most_half_the_pool(
    database_url: str, reference: Starlette
) -> None:
    """Database.driver_connection: on PostgreSQL, direct requests share at most half the
    pool's connections (kept checked out between requests) and wait their turn for one,
    rather than taking the pool's overflow; on SQLite each gives its connection back."""
    app = create_app(settings_for(database_url, db_pool_size=4, response_cache_mb=0))
    db: Database = app.state.db
    pool = db.engine.sync_engine.pool
    peak = 0

    def checkout(*_: Any) -> None:
        nonlocal peak
        peak = max(peak, pool.checkedout())

    event_module.listen(pool, "checkout", checkout)
    try:
        seeded = await seed(db)
        token = await make_token(db)
        headers = {"Authorization": f"Bearer {token}"}
        ids = [str(event) for event in seeded.events.values()]
        async with (
            AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client,
            AsyncClient(transport=ASGITransport(app=reference), base_url="http://t") as executor,
        ):
            expected = {}
            for event in ids:
                body = {"query": Q1, "variables": {"id": event}}
                expected[event] = (
                    await executor.post("/graphql", json=body, headers=headers)
                ).content
                # The document becomes known to the direct path.
                await client.post("/graphql", json=body, headers=headers)
            before = ANSWERED["read"]
            peak = 0

            async def ask(event: str) -> None:
                body = {"query": Q1, "variables": {"id": event}}
                answer = await client.post("/graphql", json=body, headers=headers)
                assert answer.content == expected[event]

            await asyncio.gather(*(ask(ids[n % len(ids)]) for n in range(40)))
        assert ANSWERED["read"] - before == 40
        if db.dialect == "postgresql":
            assert 1 <= peak <= 2
            assert pool.checkedout() == len(db._kept) <= 2
        else:
            assert pool.checkedout() == 0
    finally:
        event_module.remove(pool, "checkout", checkout)
        await empty_all_tables(db)
        await db.dispose()


async def test_a_known_compiled_read_is_one_statement_with_its_token(
    app: Starlette, db: Database
) -> None:
    seeded = await seed(db)
    _client_id, token = await _client_token(db)
    body = {"query": Q1, "variables": {"id": str(seeded.events["full"])}}
    headers = {"Authorization": f"Bearer {token}"}
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://t") as client:
        first = await client.post("/graphql", json=body, headers=headers)
        async with count_statements(db) as statements:
            second = await client.post("/graphql", json=body, headers=headers)
    assert first.content == second.content
    assert "errors" not in second.json()
    assert len(statements) == 1, statements
    assert "api_tokens" in statements[0]
    assert "offer_events" in statements[0]
