"""Bearer tokens, scopes and the OAuth 2.0 client-credentials endpoint (SPEC §1)."""

import secrets
import uuid
from datetime import timedelta

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import select, update

from offerdesk.auth.models import ApiClient, ApiToken
from offerdesk.auth.scopes import ALL_SCOPES, Scope
from offerdesk.auth.service import TOKEN_PREFIX, create_client, hash_secret
from offerdesk.db import Database, utcnow
from offerdesk.graphql.permissions import required_scope
from offerdesk.graphql.schema import Mutation, Query

from .conftest import make_token
from .helpers import Api, snapshot

OFFERS = "query { offers { id } }"


async def new_client(
    db: Database, scopes: str = "events.read events.write users.read"
) -> tuple[str, str]:
    """A stored API client: its public id and its secret (shown once, never stored)."""
    async with db.transaction() as session:
        created, secret = await create_client(session, "hr-sync", scopes)
        return created.client_id, secret


async def request_token(http: AsyncClient, **form: str) -> Response:
    return await http.post("/oauth/token/", data=form)


def assert_unauthenticated(response: Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert "data" not in body
    assert [error["extensions"]["code"] for error in body["errors"]] == ["UNAUTHENTICATED"]


# --- bearer tokens on /graphql ---------------------------------------------------------------


async def test_request_without_authorization_header_is_401_unauthenticated(
    client: AsyncClient,
) -> None:
    assert_unauthenticated(await client.post("/graphql", json={"query": OFFERS}))


async def test_request_without_token_is_401_even_when_the_body_is_bad(client: AsyncClient) -> None:
    # Who is asking is checked first: no request is answered on its merits without a token.
    assert_unauthenticated(
        await client.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
    )
    assert_unauthenticated(await client.get("/graphql"))


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer    ",
        "Token odt_abc",
        "Basic dXNlcjpwYXNz",
        "odt_abc",
        "Bearer odt_" + secrets.token_urlsafe(32),
        "Bearer not-a-token-at-all",
    ],
    ids=["no-token", "blank-token", "other-scheme", "basic", "no-scheme", "unknown", "garbage"],
)
async def test_malformed_header_or_unknown_token_is_401(
    client: AsyncClient, token: str, authorization: str
) -> None:
    response = await client.post(
        "/graphql", json={"query": OFFERS}, headers={"Authorization": authorization}
    )
    assert_unauthenticated(response)


async def test_bearer_scheme_is_case_insensitive(client: AsyncClient, token: str) -> None:
    response = await client.post(
        "/graphql", json={"query": OFFERS}, headers={"Authorization": f"bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json() == {"data": {"offers": []}}


async def test_expired_token_is_401(api: Api, db: Database) -> None:
    token = await make_token(db, ttl=3600)
    assert (await api.post(OFFERS, token=token)).status_code == 200
    async with db.transaction() as session:
        result = await session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == hash_secret(token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
        assert result.rowcount == 1
    assert_unauthenticated(await api.post(OFFERS, token=token))


async def test_missing_scope_is_forbidden_naming_it_while_allowed_fields_answer(
    api: Api, db: Database
) -> None:
    offer = await api.data(
        'mutation { createOffer(offer: {title: "Onboarding"}) { offer { id } } }'
    )
    offer_id = offer["createOffer"]["offer"]["id"]
    await api.data(
        'mutation { createUser(user: {name: "Ada", email: "ada@example.org"}) { user { id } } }'
    )
    events_only = await make_token(db, frozenset({Scope.EVENTS_READ}))

    response = await api.post(
        'query { offers { id } user(email: "ada@example.org") { id } }', token=events_only
    )

    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"offers": [{"id": offer_id}], "user": None}
    [error] = body["errors"]
    assert error["extensions"]["code"] == "FORBIDDEN"
    assert "users.read" in error["message"]
    assert error["path"] == ["user"]


# One root field per line: the scope it needs, its name, and a document that succeeds with it.
PROBES: list[tuple[Scope, str, str]] = [
    (Scope.EVENTS_READ, "offers", "query { offers { id } }"),
    (Scope.EVENTS_READ, "offerEvent", 'query { offerEvent(id: "%s") { id } }' % uuid.uuid4()),
    (
        Scope.EVENTS_WRITE,
        "createOffer",
        'mutation { createOffer(offer: {title: "Scoped"}) { offer { id } } }',
    ),
    (Scope.USERS_READ, "user", 'query { user(email: "nobody@example.org") { id } }'),
    (Scope.USERS_READ, "paginatedUsers", "query { paginatedUsers { count } }"),
    (
        Scope.USERS_WRITE,
        "createUser",
        'mutation { createUser(user: {name: "Ada", email: "ada@example.org"}) { user { id } } }',
    ),
    (Scope.CONTENT_READ, "contentItem", 'query { contentItem(id: "%s") { id } }' % uuid.uuid4()),
    (Scope.CONTENT_READ, "paginatedContentItems", "query { paginatedContentItems { count } }"),
    (
        Scope.CONTENT_WRITE,
        "createContentItem",
        'mutation { createContentItem(contentItem: {type: VIDEO, title: "Scoped"}) '
        "{ contentItem { id } } }",
    ),
    (Scope.WEBHOOKS_MANAGE, "webhookSubscriptions", "query { webhookSubscriptions { id } }"),
]
WRITTEN_BY = {
    "offers": Scope.EVENTS_WRITE,
    "users": Scope.USERS_WRITE,
    "content_items": Scope.CONTENT_WRITE,
}


def test_probes_cover_every_scope() -> None:
    assert {scope for scope, _, _ in PROBES} == ALL_SCOPES


@pytest.mark.parametrize("scope", sorted(Scope), ids=str)
async def test_a_scope_grants_its_own_fields_and_no_others(
    api: Api, db: Database, scope: Scope
) -> None:
    """A token with one scope answers that scope's fields; every other field, also a read
    field of the area the scope writes, is FORBIDDEN naming the scope it lacks."""
    scoped = await make_token(db, frozenset({scope}))
    for needed, field, document in PROBES:
        result = await api(document, token=scoped)
        if needed == scope:
            assert "errors" not in result, (field, result)
            assert field in result["data"]
            if document.startswith("mutation"):
                assert result["data"][field] is not None
        else:
            # A refused non-null field (offers) nulls the whole data, as GraphQL prescribes.
            assert result["data"] in (None, {field: None}), (field, result)
            [error] = result["errors"]
            assert error["extensions"]["code"] == "FORBIDDEN", (field, error)
            assert needed.value in error["message"], (field, error)
    # A refused mutation wrote nothing; the one allowed wrote its one row.
    state = await snapshot(db)
    for table, writer in WRITTEN_BY.items():
        assert len(state[table]) == (1 if scope == writer else 0), table


@pytest.mark.parametrize("operation", [Query, Mutation], ids=["Query", "Mutation"])
def test_every_root_field_requires_a_scope(operation: type) -> None:
    fields = operation.__strawberry_definition__.fields  # type: ignore[attr-defined]
    assert fields
    unguarded = [field.name for field in fields if required_scope(field.extensions) is None]
    assert unguarded == []


# --- OAuth 2.0 client credentials ------------------------------------------------------------


async def test_client_credentials_grant_issues_a_working_bearer_token(
    client: AsyncClient, api: Api, db: Database
) -> None:
    client_id, secret = await new_client(db)
    before = utcnow()
    response = await request_token(
        client,
        grant_type="client_credentials",
        client_id=client_id,
        client_secret=secret,
        scope="events.read",
    )
    after = utcnow()

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "no-store" in response.headers["cache-control"]
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in", "scope"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "events.read"

    async with db.read_session() as session:
        [expires_at] = (
            await session.scalars(
                select(ApiToken.expires_at).where(ApiToken.client_id.is_not(None))
            )
        ).all()
    assert before + timedelta(seconds=86400) <= expires_at <= after + timedelta(seconds=86400)

    access_token = body["access_token"]
    assert (await api(OFFERS, token=access_token)) == {"data": {"offers": []}}
    # The token carries the scope asked for, not every scope of the client.
    refused = await api('query { user(email: "a@example.org") { id } }', token=access_token)
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_client_may_authenticate_with_http_basic(
    client: AsyncClient, api: Api, db: Database
) -> None:
    client_id, secret = await new_client(db)
    response = await client.post(
        "/oauth/token/",
        data={"grant_type": "client_credentials", "scope": "events.read"},
        auth=(client_id, secret),
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "events.read"
    assert (await api(OFFERS, token=response.json()["access_token"])) == {"data": {"offers": []}}


async def test_omitted_scope_grants_all_scopes_of_the_client(
    client: AsyncClient, api: Api, db: Database
) -> None:
    client_id, secret = await new_client(db, "users.read events.read events.write")
    response = await request_token(
        client, grant_type="client_credentials", client_id=client_id, client_secret=secret
    )
    assert response.status_code == 200, response.text
    assert response.json()["scope"].split() == ["events.read", "events.write", "users.read"]
    user = await api(
        'query { user(email: "a@example.org") { id } }', token=response.json()["access_token"]
    )
    assert user == {"data": {"user": None}}


@pytest.mark.parametrize("credentials", ["wrong-secret", "unknown-client"])
@pytest.mark.no_queries
async def test_wrong_client_credentials_are_401_invalid_client(
    client: AsyncClient, db: Database, credentials: str
) -> None:
    client_id, secret = await new_client(db)
    if credentials == "wrong-secret":
        secret = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    else:
        client_id = "odc_" + secrets.token_urlsafe(12)
    response = await request_token(
        client, grant_type="client_credentials", client_id=client_id, client_secret=secret
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert "no-store" in response.headers["cache-control"]
    assert (await snapshot(db))["api_tokens"] == []


async def test_wrong_secret_over_http_basic_is_401_invalid_client(
    client: AsyncClient, db: Database
) -> None:
    client_id, _ = await new_client(db)
    response = await client.post(
        "/oauth/token/", data={"grant_type": "client_credentials"}, auth=(client_id, "nope")
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["www-authenticate"].startswith("Basic")


async def test_unknown_grant_type_is_400_unsupported_grant_type(
    client: AsyncClient, db: Database
) -> None:
    client_id, secret = await new_client(db)
    response = await request_token(
        client, grant_type="password", client_id=client_id, client_secret=secret
    )
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


@pytest.mark.parametrize("scope", ["content.read", "events.read content.write", "events.admin"])
@pytest.mark.no_queries
async def test_scope_the_client_does_not_have_is_400_invalid_scope(
    client: AsyncClient, db: Database, scope: str
) -> None:
    client_id, secret = await new_client(db, "events.read events.write")
    response = await request_token(
        client,
        grant_type="client_credentials",
        client_id=client_id,
        client_secret=secret,
        scope=scope,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert (await snapshot(db))["api_tokens"] == []


async def test_json_body_is_400_invalid_request(client: AsyncClient, db: Database) -> None:
    client_id, secret = await new_client(db)
    response = await client.post(
        "/oauth/token/",
        json={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert (await snapshot(db))["api_tokens"] == []


async def test_deactivated_client_gets_no_token_and_its_tokens_stop_working(
    client: AsyncClient, api: Api, db: Database
) -> None:
    client_id, secret = await new_client(db)
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    issued = (await request_token(client, **form)).json()["access_token"]
    assert (await api.post(OFFERS, token=issued)).status_code == 200
    async with db.transaction() as session:
        await session.execute(
            update(ApiClient).where(ApiClient.client_id == client_id).values(is_active=False)
        )
    assert_unauthenticated(await api.post(OFFERS, token=issued))
    assert (await request_token(client, **form)).status_code == 401


async def test_secrets_and_tokens_are_stored_only_as_hashes(
    client: AsyncClient, db: Database
) -> None:
    client_id, secret = await new_client(db)
    oauth_token = (
        await request_token(
            client, grant_type="client_credentials", client_id=client_id, client_secret=secret
        )
    ).json()["access_token"]
    direct_token = await make_token(db)

    state = await snapshot(db)
    assert len(state["api_clients"]) == 1
    assert len(state["api_tokens"]) == 2
    stored = repr(state)
    assert client_id in stored  # the rows read are the ones just written
    for plain in (secret, oauth_token, direct_token):
        assert plain not in stored
        assert plain.removeprefix(TOKEN_PREFIX) not in stored


async def test_repeated_form_parameter_is_400_invalid_request(
    client: AsyncClient, db: Database
) -> None:
    client_id, secret = await new_client(db)
    body = (
        f"grant_type=client_credentials&client_id={client_id}&client_secret={secret}"
        "&scope=events.read&scope=users.read"
    )
    response = await client.post(
        "/oauth/token/",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "scope" in response.json()["error_description"]


async def test_two_client_authentication_methods_at_once_are_400_invalid_request(
    client: AsyncClient, db: Database
) -> None:
    client_id, secret = await new_client(db)
    response = await client.post(
        "/oauth/token/",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
        auth=(client_id, secret),
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_token_loses_scopes_its_client_no_longer_has(
    client: AsyncClient, api: Api, db: Database
) -> None:
    client_id, secret = await new_client(db, "events.read users.read")
    granted = await request_token(
        client, grant_type="client_credentials", client_id=client_id, client_secret=secret
    )
    token = granted.json()["access_token"]
    assert "errors" not in await api('query { user(ref: "x") { id } }', token=token)
    async with db.transaction() as session:
        await session.execute(
            update(ApiClient).where(ApiClient.client_id == client_id).values(scopes="events.read")
        )
    narrowed = await api('query { offers { id } user(ref: "x") { id } }', token=token)
    assert narrowed["data"]["offers"] == []
    assert [e["extensions"]["code"] for e in narrowed["errors"]] == ["FORBIDDEN"]


async def test_unknown_token_challenge_says_invalid_token(client: AsyncClient) -> None:
    response = await client.post(
        "/graphql", json={"query": OFFERS}, headers={"Authorization": "Bearer odt_nope"}
    )
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    anonymous = await client.post("/graphql", json={"query": OFFERS})
    assert "error=" not in anonymous.headers["www-authenticate"]
