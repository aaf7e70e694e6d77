"""Fuzzing (issue 4, point 6): operations generated from the checked-in ``schema.graphql``.

``hypothesis-graphql`` builds queries and mutations from the published schema; each one goes
through the real app (ASGI, bearer token with every scope) and the answer must be well-formed
GraphQL: a JSON object with ``data`` and/or a non-empty ``errors`` list whose items carry a
``message`` and an ``extensions.code``, never a 5xx and never ``INTERNAL_SERVER_ERROR`` (an
error we did not expect is a bug, whatever the input).

The custom scalars get strategies of our own that mix well-formed values (random UUIDs, the
ids of rows that exist, RFC 3339 times with every offset) with malformed ones (wrong shapes,
naive times, impossible dates, times that leave the representable range once moved to UTC,
other literal kinds), so both execution and input refusal are exercised.

Per engine: 300 queries + 300 mutations + 100 invalid documents (Mode.NEGATIVE) = 700
generated operations, checked by a count at the end of each test. Then the entry points'
other inputs (issue 15, item 4): 300 requests whose variables have any JSON shape (deep
nesting, long strings, NUL, huge lists, wrong types), and 300 requests to the OAuth token
endpoint with generated form fields, Basic credentials and bodies; 200 documents around the
cost limit. ``OFFERDESK_FUZZ_SCALE=7`` multiplies them all: 10,500 generated requests per
engine (issue 15, item 4). ``pytest -s`` prints counts and times.

Every request goes over real HTTP to one real ``offerdesk serve`` process per engine, which
serves the whole module; the last test reads that process's peak memory (issue 15, item 7).
"""

import base64
import json
import os
import string
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import graphql
import pytest
from httpx import AsyncClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, nodes, queries

from offerdesk.db import Database
from offerdesk.errors import ErrorCode

from .concurrency.servers import server_processes
from .helpers import Api, snapshot

pytestmark = pytest.mark.anyio

SCHEMA = (Path(__file__).resolve().parents[1] / "schema.graphql").read_text(encoding="utf-8")
# OFFERDESK_FUZZ_SCALE=7 runs 10,500 generated requests per engine (issue 15, item 4) instead
# of the suite's 1,500; the default keeps the suite quick.
SCALE = int(os.environ.get("OFFERDESK_FUZZ_SCALE", "1"))
QUERY_EXAMPLES = 300 * SCALE
MUTATION_EXAMPLES = 300 * SCALE
NEGATIVE_EXAMPLES = 100 * SCALE
VARIABLE_EXAMPLES = 300 * SCALE
OAUTH_EXAMPLES = 300 * SCALE
COSTLY_EXAMPLES = 200 * SCALE
KNOWN_CODES = {code.value for code in ErrorCode} - {ErrorCode.INTERNAL_SERVER_ERROR.value}
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"

# Ids of rows that exist in the test's database, filled by the ``seeded`` fixture before any
# example runs; the UUID strategy reads it at draw time, so generated operations hit real rows.
KNOWN_IDS: list[str] = []


def _known_id(index: int) -> str:
    return KNOWN_IDS[index % len(KNOWN_IDS)] if KNOWN_IDS else str(uuid.UUID(int=index))


_ODD_TEXT = st.text(alphabet=string.printable + "\x00é😀", max_size=40)


def mostly(
    valid: st.SearchStrategy[graphql.ValueNode], invalid: st.SearchStrategy[graphql.ValueNode]
) -> st.SearchStrategy[graphql.ValueNode]:
    """About one value in twenty malformed: one bad literal refuses the whole document before
    it runs, and a document holds many (lists of ids), so with more of them hardly any
    generated operation would reach execution. (5 is drawn from the middle of the range:
    Hypothesis favours the ends.)"""
    return st.integers(min_value=0, max_value=15).flatmap(lambda i: invalid if i == 5 else valid)


UUIDS = mostly(
    st.one_of(
        st.integers(min_value=0, max_value=10_000).map(_known_id).map(nodes.String),
        st.uuids().map(str).map(nodes.String),
        st.uuids().map(lambda value: str(value).upper()).map(nodes.String),
    ),
    st.one_of(
        st.sampled_from(
            [
                "",
                "not-a-uuid",
                "00000000000000000000000000000000",
                "{123e4567-e89b-12d3-a456-426614174000}",
                "urn:uuid:123e4567-e89b-12d3-a456-426614174000",
                "123e4567-e89b-12d3-a456-42661417400",
                "123e4567-e89b-12d3-a456-4266141740000",
                "123e4567-e89b-12d3-a456-42661417400\x00",
                "g23e4567-e89b-12d3-a456-426614174000",
            ]
        ).map(nodes.String),
        st.uuids().map(lambda value: value.hex).map(nodes.String),
        _ODD_TEXT.map(nodes.String),
        st.integers().map(nodes.Int),
        st.floats(allow_nan=False, allow_infinity=False).map(nodes.Float),
        st.booleans().map(nodes.Boolean),
    ),
)

_OFFSETS = st.integers(min_value=-(24 * 60 - 1), max_value=24 * 60 - 1).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)

DATETIMES = mostly(
    st.one_of(
        # Any instant with any offset, and the Z form.
        st.datetimes(timezones=_OFFSETS).map(datetime.isoformat).map(nodes.String),
        st.datetimes(
            min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
        )
        .map(lambda value: value.strftime("%Y-%m-%dT%H:%M:%SZ"))
        .map(nodes.String),
    ),
    st.one_of(
        st.datetimes().map(datetime.isoformat).map(nodes.String),  # naive: no offset
        st.sampled_from(
            [
                "",
                "2025-09-12",
                "2025-09-12T09:00:00",
                "2025-09-12 09:00:00Z",
                "2025-09-12t09:00:00z",
                "2025-02-29T09:00:00Z",
                "2025-13-01T09:00:00Z",
                "2025-09-12T24:00:00Z",
                "2025-06-30T23:59:60Z",
                "2025-09-12T09:00:00+24:00",
                "2025-09-12T09:00:00+99:99",
                "2025-09-12T09:00:00.1234567891Z",
                "0000-01-01T00:00:00Z",
                # Valid as written, but outside the representable range once moved to UTC.
                "0001-01-01T00:00:00+01:00",
                "0001-01-01T00:30:00+00:45",
                "9999-12-31T23:59:59-01:00",
                "9999-12-31T23:59:59.999999-00:01",
                "1970-01-01T00:00:00Z\x00",
            ]
        ).map(nodes.String),
        _ODD_TEXT.map(nodes.String),
        st.integers().map(nodes.Int),
        st.booleans().map(nodes.Boolean),
    ),
)

CUSTOM_SCALARS = {"UUID": UUIDS, "DateTime": DATETIMES}
PUBLISHED = graphql.build_schema(SCHEMA)


def documents(generate: Any, root: graphql.GraphQLObjectType | None) -> st.SearchStrategy[str]:
    """Half the documents select several root fields, half exactly one: a single field has a
    fair chance to run with valid input, where one bad field among several spoils the lot."""
    assert root is not None
    names = sorted(root.fields)
    single = {
        name: generate(SCHEMA, fields=[name], custom_scalars=CUSTOM_SCALARS) for name in names
    }
    return st.one_of(
        generate(SCHEMA, custom_scalars=CUSTOM_SCALARS),
        st.sampled_from(names).flatmap(single.__getitem__),
    )


def fuzz_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        print_blob=True,
        suppress_health_check=[
            # The app and its database are shared by all examples of a test on purpose.
            HealthCheck.function_scoped_fixture,
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.large_base_example,
        ],
    )


@pytest.fixture(scope="module")
def worker(database_url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """One ``offerdesk serve`` process on the engine's database for the whole module: its base
    URL and process."""
    # Without the webhook dispatcher: the tests compare every table before and after a
    # refused request, and the dispatcher's own bookkeeping (the fan-out position, pruning)
    # moves on its own schedule.
    with server_processes(database_url, 1, {"OFFERDESK_WEBHOOK_DISPATCHER": "0"}) as [started]:
        yield started


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """The in-process app only issues the token and checks the database: the server process
    answers, on its default path, so these tests do not run once per read path (conftest)."""
    return {}


@pytest.fixture
async def client(worker: tuple[str, subprocess.Popen[bytes]]) -> AsyncIterator[AsyncClient]:
    """Real HTTP to the module's server, in place of conftest's in-process client (the
    in-process app still gives the tests their token and database checks)."""
    async with AsyncClient(base_url=worker[0], timeout=60) as http:
        yield http


@dataclass
class Tally:
    """What a test sent: checked at its end, and printed for the notes (pytest -s)."""

    minimum: int
    sent: int = 0
    executed: int = 0
    codes: dict[str, int] = field(default_factory=dict)


@pytest.fixture
async def seeded(api: Api) -> AsyncIterator[None]:
    """A few related rows (offer, content, event with a date, user, enrollment) to hit."""
    data = await api.data(
        """mutation {
          createOffer(offer: {title: "Fuzz offer", ref: "fuzz-offer"}) { offer { id } }
          createContentItem(contentItem: {type: TRAINING, title: "Fuzz training"}) {
            contentItem { id } }
          createUser(user: {name: "Fuzz", email: "fuzz@example.com", ref: "fuzz-user"}) {
            user { id } }
        }"""
    )
    offer = data["createOffer"]["offer"]["id"]
    content = data["createContentItem"]["contentItem"]["id"]
    user = data["createUser"]["user"]["id"]
    event_data = await api.data(
        """mutation($offer: UUID!, $content: UUID!) {
          createOfferEvent(offerEvent: {offerId: $offer, title: "Fuzz event", ref: "fuzz-event",
            contentId: $content, maxParticipants: 3,
            dates: [{start: "2030-01-01T09:00:00Z", end: "2030-01-01T12:00:00Z"}]}) {
            offerEvent { id dates { id } } }
        }""",
        {"offer": offer, "content": content},
    )
    offer_event = event_data["createOfferEvent"]["offerEvent"]
    enrollment = await api.data(
        """mutation($user: UUID!, $event: UUID!) {
          enrollUserInOfferEvent(enrollment: {userId: $user, offerEventId: $event}) {
            enrollment { id } } }""",
        {"user": user, "event": offer_event["id"]},
    )
    KNOWN_IDS[:] = [
        offer,
        content,
        user,
        offer_event["id"],
        offer_event["dates"][0]["id"],
        enrollment["enrollUserInOfferEvent"]["enrollment"]["id"],
    ]
    yield
    KNOWN_IDS.clear()


@pytest.fixture
def tally(request: pytest.FixtureRequest) -> Iterator[Tally]:
    minimum = {
        "test_generated_queries": QUERY_EXAMPLES,
        "test_generated_mutations": MUTATION_EXAMPLES,
        "test_invalid_documents": NEGATIVE_EXAMPLES,
        "test_generated_variables": VARIABLE_EXAMPLES,
        "test_generated_token_requests": OAUTH_EXAMPLES,
        "test_generated_costly_documents": COSTLY_EXAMPLES,
    }[request.function.__name__]
    began = time.perf_counter()
    counts = Tally(minimum)
    yield counts
    print(
        f"\n{request.node.name}: {counts.sent} operations ({counts.executed} executed)"
        f" in {time.perf_counter() - began:.1f} s;"
        f" error codes {dict(sorted(counts.codes.items()))}",
        file=sys.stderr,
    )
    # max_examples is what Hypothesis aims at; this checks the operations really went out.
    assert counts.sent >= counts.minimum, f"only {counts.sent} operations were sent"


async def send(client: AsyncClient, token: str, document: str, graphql_json: bool) -> Any:
    headers = {"Authorization": f"Bearer {token}"}
    if graphql_json:
        headers["Accept"] = GRAPHQL_RESPONSE_JSON
    response = await client.post("/graphql", json={"query": document}, headers=headers)
    assert response.status_code < 500, (response.status_code, response.text)
    media_type = response.headers["content-type"].split(";")[0]
    assert media_type == (GRAPHQL_RESPONSE_JSON if graphql_json else "application/json")
    body = response.json()
    check_well_formed(body)
    if response.status_code != 200:
        # Only a request error (nothing ran) may be a 4xx, and then it has no data.
        assert "data" not in body, body
        assert response.status_code in (400, 413), response.status_code
        if response.status_code == 400:
            assert graphql_json, "with application/json a request error is still a 200"
    elif graphql_json:
        assert "data" in body, "a request error with graphql-response+json must be a 400"
    return body


def check_well_formed(body: Any) -> None:
    assert isinstance(body, dict), body
    assert set(body) <= {"data", "errors", "extensions"}, body
    assert "data" in body or "errors" in body, body
    if "data" in body:
        assert body["data"] is None or isinstance(body["data"], dict), body
    if "errors" in body:
        errors = body["errors"]
        assert isinstance(errors, list), body
        assert errors, body
        for error in errors:
            assert isinstance(error, dict), error
            assert isinstance(error.get("message"), str), error
            assert error["message"], error
            code = error.get("extensions", {}).get("code")
            assert code in KNOWN_CODES, error


def record(tally: Tally, body: dict[str, Any]) -> list[str]:
    tally.sent += 1
    codes = [error["extensions"]["code"] for error in body.get("errors", [])]
    tally.executed += "data" in body
    for code in set(codes) or {"ok"}:
        tally.codes[code] = tally.codes.get(code, 0) + 1
        event(code)
    return codes


@fuzz_settings(QUERY_EXAMPLES)
@given(
    document=documents(queries, PUBLISHED.query_type),
    graphql_json=st.booleans(),
)
async def test_generated_queries(
    client: AsyncClient, token: str, seeded: None, tally: Tally, document: str, graphql_json: bool
) -> None:
    body = await send(client, token, document, graphql_json)
    codes = record(tally, body)
    # The documents are valid against the published schema: if one fails to parse or validate,
    # schema.graphql and the served schema have drifted apart.
    assert ErrorCode.GRAPHQL_PARSE_FAILED not in codes, body
    assert ErrorCode.GRAPHQL_VALIDATION_FAILED not in codes, body


@fuzz_settings(MUTATION_EXAMPLES)
@given(
    document=documents(mutations, PUBLISHED.mutation_type),
    graphql_json=st.booleans(),
)
async def test_generated_mutations(
    client: AsyncClient, token: str, seeded: None, tally: Tally, document: str, graphql_json: bool
) -> None:
    body = await send(client, token, document, graphql_json)
    codes = record(tally, body)
    assert ErrorCode.GRAPHQL_PARSE_FAILED not in codes, body
    assert ErrorCode.GRAPHQL_VALIDATION_FAILED not in codes, body


REFUSED_DOCUMENT = {
    ErrorCode.GRAPHQL_VALIDATION_FAILED.value,
    ErrorCode.BAD_USER_INPUT.value,
    ErrorCode.TOO_COMPLEX.value,
}


@fuzz_settings(NEGATIVE_EXAMPLES)
@given(
    document=st.one_of(
        queries(SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE),
        mutations(SCHEMA, custom_scalars=CUSTOM_SCALARS, mode=Mode.NEGATIVE),
    ),
    graphql_json=st.booleans(),
)
async def test_invalid_documents(
    client: AsyncClient,
    token: str,
    db: Database,
    seeded: None,
    tally: Tally,
    document: str,
    graphql_json: bool,
) -> None:
    """A document with one schema violation is refused as a whole: nothing runs or changes."""
    before = await snapshot(db)
    body = await send(client, token, document, graphql_json)
    codes = record(tally, body)
    assert "data" not in body, body
    assert set(codes) <= REFUSED_DOCUMENT, body
    assert await snapshot(db) == before


# --- the variables' shape and the OAuth endpoint (issue 15, item 4) ---------------------------

VARIABLE_DOCUMENTS = [
    "query($s: String, $a: Boolean!) { offers(search: $s, includeArchived: $a) { id } }",
    "query($id: UUID, $ref: String) { offer(id: $id, ref: $ref) { id title } }",
    "query($f: Int, $after: String, $s: String) {"
    " paginatedOffers(first: $f, after: $after, search: $s) { edges { node { id } } } }",
    "query($e: String, $r: String) { user(email: $e, ref: $r) { id } }",
    "mutation($o: CreateOfferInput!) { createOffer(offer: $o) { offer { id } } }",
    "mutation($e: CreateOfferEventInput!) {"
    " createOfferEvent(offerEvent: $e) { offerEvent { id } } }",
    "mutation($ids: [UUID!]!, $a: Boolean!) {"
    " archiveOffers(archive: $a, ids: $ids) { response { failedIds } } }",
    "mutation($r: String, $refs: [String!]) {"
    " createOfferEventEnrollments(offerEventRef: $r, userRefs: $refs) { id } }",
]
VARIABLE_NAMES = ["s", "a", "id", "ref", "f", "after", "e", "r", "o", "ids", "refs", "junk"]

_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    _ODD_TEXT,
    st.integers(min_value=0, max_value=60_000).map(lambda n: "x" * n),
    st.integers(min_value=0, max_value=10_000).map(_known_id),
)


def _nest(depth: int, leaf: Any, as_list: bool) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value] if as_list else {"title": value}
    return value


JSON_VALUES = st.one_of(
    st.recursive(
        _JSON_LEAVES,
        lambda children: (
            st.lists(children, max_size=5)
            | st.dictionaries(
                st.sampled_from(["title", "offerId", "dates", "start", "end", "ref", "x"]),
                children,
                max_size=5,
            )
        ),
        max_leaves=30,
    ),
    st.builds(_nest, st.integers(min_value=1, max_value=600), _JSON_LEAVES, st.booleans()),
    st.integers(min_value=0, max_value=15_000).map(lambda n: list(range(n))),
)


@fuzz_settings(VARIABLE_EXAMPLES)
@given(
    document=st.sampled_from(VARIABLE_DOCUMENTS),
    variables=st.dictionaries(st.sampled_from(VARIABLE_NAMES), JSON_VALUES, max_size=4),
    graphql_json=st.booleans(),
)
async def test_generated_variables(
    client: AsyncClient,
    token: str,
    seeded: None,
    tally: Tally,
    document: str,
    variables: dict[str, Any],
    graphql_json: bool,
) -> None:
    """Variables of any shape are coerced or refused, never an INTERNAL_SERVER_ERROR."""
    headers = {"Authorization": f"Bearer {token}", "content-type": "application/json"}
    if graphql_json:
        headers["Accept"] = GRAPHQL_RESPONSE_JSON
    # The standard library's encoder: orjson's stops at 254 levels, short of what is sent here.
    content = json.dumps({"query": document, "variables": variables}).encode()
    response = await client.post("/graphql", content=content, headers=headers)
    assert response.status_code in (200, 400, 413), (response.status_code, response.text)
    body = response.json()
    check_well_formed(body)
    record(tally, body)


_FORM_NAMES = st.one_of(
    st.sampled_from(["grant_type", "client_id", "client_secret", "scope"]), _ODD_TEXT
)
_FORM_VALUES = st.one_of(
    st.sampled_from(["client_credentials", "events.read", "events.read users.read", ""]),
    st.integers(min_value=0, max_value=10_000).map(_known_id),
    _ODD_TEXT,
    st.integers(min_value=0, max_value=20_000).map(lambda n: "s" * n),
)
_BASIC = st.one_of(
    st.none(),
    st.one_of(
        st.binary(max_size=600).map(lambda raw: "Basic " + base64.b64encode(raw).decode()),
        st.tuples(_ODD_TEXT, _ODD_TEXT).map(
            lambda pair: "Basic " + base64.b64encode(f"{pair[0]}:{pair[1]}".encode()).decode()
        ),
        _ODD_TEXT.filter(lambda text: all(" " <= c <= "~" or c == "\t" for c in text)).map(
            lambda text: "Basic " + text
        ),
    )
    # What an HTTP client can send in a header: visible ASCII, with spaces and tabs only
    # inside ("Basic " alone is sent as "Basic").
    .map(lambda value: value.rstrip(" \t")),
)
OAUTH_STATUSES = {200, 400, 401, 413}
OAUTH_ERRORS = {
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "invalid_scope",
    "unsupported_grant_type",
}


@fuzz_settings(OAUTH_EXAMPLES)
@given(
    form=st.tuples(st.booleans(), st.lists(st.tuples(_FORM_NAMES, _FORM_VALUES), max_size=8)).map(
        # Half of them with the one grant type, so the credentials are looked at.
        lambda pair: ([("grant_type", "client_credentials")] if pair[0] else []) + pair[1]
    ),
    raw=st.one_of(st.none(), st.binary(max_size=200)),
    authorization=_BASIC,
    content_type=st.sampled_from(
        ["application/x-www-form-urlencoded"] * 4 + ["application/json", "text/plain", ""]
    ),
)
async def test_generated_token_requests(
    client: AsyncClient,
    tally: Tally,
    form: list[tuple[str, str]],
    raw: bytes | None,
    authorization: str | None,
    content_type: str,
) -> None:
    """The token endpoint needs no credentials to be reached: whatever it is sent, it answers
    an OAuth error object or a token, never a 5xx."""
    content = raw if raw is not None else urlencode(form).encode()
    headers = {"content-type": content_type}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await client.post("/oauth/token/", content=content, headers=headers)
    assert response.status_code in OAUTH_STATUSES, (response.status_code, response.text)
    body = response.json()
    assert isinstance(body, dict), body
    if response.status_code == 200:
        assert body["token_type"] == "Bearer"
    else:
        assert body["error"] in OAUTH_ERRORS, body
        assert isinstance(body["error_description"], str), body
    tally.sent += 1
    code = body.get("error", "ok")
    tally.codes[code] = tally.codes.get(code, 0) + 1
    event(code)


# --- documents around the cost limit (issue 15, item 1) --------------------------------------

# From each type, the list and object fields a document can nest through, with what they lead
# to; ``%s`` takes a page size.
_NEXT = {
    "Offer": [("offerEvents", "OfferEvent")],
    "OfferEvent": [
        ("offer", "Offer"),
        ("dates", "OfferEventDate"),
        ("contentItems", "ContentItem"),
        ("enrollments(first: %s) { edges { node", "Enrollment"),
    ],
    "Enrollment": [("offerEvent", "OfferEvent"), ("user", "User"), ("history", "Change")],
}
_LEAVES = {
    "Offer": "id title",
    "OfferEvent": "id title spotsAvailable contentTitle",
    "OfferEventDate": "start end location",
    "ContentItem": "id title",
    "Enrollment": "id status",
    "User": "id name",
    "Change": "toStatus cause",
}
_ROOTS = [
    ("paginatedOffers(first: %s) { edges { node", "Offer"),
    ("offers", "Offer"),
    ("offer(id: $offer)", "Offer"),
    ("offerEvent(id: $event)", "OfferEvent"),
]


@st.composite
def costly_documents(draw: st.DrawFn) -> str:
    """A root list, then a chain of nested lists up to the depth limit, under 1-4 aliases,
    with random page sizes: some far over the cost limit, some under it."""

    def page() -> str:
        return str(draw(st.sampled_from([1, 10, 50, 100, 101, 0])))

    def chain(type_name: str, depth: int) -> str:
        fields = _NEXT.get(type_name, [])
        if depth <= 0 or not fields or draw(st.integers(0, 5)) == 0:
            return _LEAVES[type_name]
        field, child = draw(st.sampled_from(fields))
        opened = field % page() if "%s" in field else field
        closing = " } }" if "edges { node" in field else ""
        return f"{_LEAVES[type_name]} {opened} {{ {chain(child, depth - 2)} }}{closing}"

    parts = []
    for alias in range(draw(st.integers(1, 4))):
        root, type_name = draw(st.sampled_from(_ROOTS))
        opened = root % page() if "%s" in root else root
        closing = " } }" if "edges { node" in root else ""
        parts.append(f"a{alias}: {opened} {{ {chain(type_name, 8)} }}{closing}")
    body = " ".join(parts)
    used = [f"${name}: UUID!" for name in ("offer", "event") if f"${name}" in body]
    return f"query({', '.join(used)}) {{ {body} }}" if used else f"{{ {body} }}"


@fuzz_settings(COSTLY_EXAMPLES)
@given(document=costly_documents())
async def test_generated_costly_documents(
    client: AsyncClient, token: str, seeded: None, tally: Tally, document: str
) -> None:
    """Refused with TOO_COMPLEX (or a limit's or page size's refusal) or answered; never an
    INTERNAL_SERVER_ERROR."""
    variables = {
        name: value
        for name, value in (("offer", KNOWN_IDS[0]), ("event", KNOWN_IDS[3]))
        if f"${name}" in document
    }
    response = await client.post(
        "/graphql",
        json={"query": document, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, (response.status_code, response.text)
    body = response.json()
    check_well_formed(body)
    codes = record(tally, body)
    assert set(codes) <= {"TOO_COMPLEX", "BAD_USER_INPUT"}, body


# --- the worker's memory (issue 15, item 7) -------------------------------------------------

PEAK_LIMIT_KIB = 512 * 1024


def test_the_worker_peaked_under_512_mib(worker: tuple[str, subprocess.Popen[bytes]]) -> None:
    """Last in the module: after every generated request above, the serving process's peak
    resident memory (VmHWM) stayed under 512 MiB."""
    status = Path(f"/proc/{worker[1].pid}/status").read_text()
    [peak] = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
    print(f"\nworker peak memory: {peak // 1024} MiB", file=sys.stderr)
    assert peak < PEAK_LIMIT_KIB
