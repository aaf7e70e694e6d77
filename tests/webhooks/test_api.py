"""Webhook subscriptions on the wire (issue 12 item 2 and "Bad input"): create, read, update
(re-activate), delete, and every refusal naming its field with nothing written; the URL
rules of the production profile (item 6). Both engines."""

from typing import Any

import pytest
from httpx import ASGITransport, AsyncClient

from offerdesk.app import create_app
from offerdesk.db import Database

from ..api_helpers import refused
from ..conftest import settings_for
from ..helpers import Api

CREATE = """mutation ($input: CreateWebhookSubscriptionInput!) {
  createWebhookSubscription(webhookSubscription: $input) {
    webhookSubscription { id url events description isActive secret createdAt } } }"""

UPDATE = """mutation ($id: UUID!, $input: UpdateWebhookSubscriptionInput!) {
  updateWebhookSubscription(id: $id, webhookSubscription: $input) {
    webhookSubscription { id url events description isActive disabledReason secret } } }"""

DELETE = """mutation ($ids: [UUID!]!) {
  deleteWebhookSubscriptions(ids: $ids) { response { succeededIds failedIds } } }"""

LIST = """{ webhookSubscriptions { id url events isActive secret } }"""

ROTATE = """mutation ($id: UUID!) {
  rotateWebhookSecret(id: $id) { webhookSubscription { secret } } }"""

REDELIVER = """mutation ($id: UUID!) {
  redeliverWebhookDelivery(id: $id) { webhookDelivery { id } } }"""

URL = "https://hooks.example.com/offerdesk"


async def create(api: Api, **fields: Any) -> dict[str, Any]:
    data = await api.data(CREATE, {"input": {"url": URL, "events": ["OFFER_CREATED"], **fields}})
    subscription: dict[str, Any] = data["createWebhookSubscription"]["webhookSubscription"]
    return subscription


async def test_create_read_update_delete(api: Api) -> None:
    created = await create(
        api, events=["OFFER_EVENT_ENROLLED", "OFFER_CREATED"], description="LMS sync"
    )
    assert created["url"] == URL
    assert created["events"] == ["OFFER_CREATED", "OFFER_EVENT_ENROLLED"]
    assert (created["description"], created["isActive"]) == ("LMS sync", True)
    assert created["secret"].startswith("whsec_")
    listed = (await api.data(LIST))["webhookSubscriptions"]
    assert [(s["id"], s["secret"]) for s in listed] == [(created["id"], None)]
    updated = await api.data(
        UPDATE, {"id": created["id"], "input": {"isActive": False, "events": ["USER_CREATED"]}}
    )
    state = updated["updateWebhookSubscription"]["webhookSubscription"]
    assert (state["isActive"], state["events"], state["secret"]) == (False, ["USER_CREATED"], None)
    again = await api.data(UPDATE, {"id": created["id"], "input": {"isActive": True}})
    assert again["updateWebhookSubscription"]["webhookSubscription"]["isActive"] is True
    unknown = "00000000-0000-4000-8000-000000000000"
    deleted = await api.data(DELETE, {"ids": [created["id"], unknown]})
    assert deleted["deleteWebhookSubscriptions"]["response"] == {
        "succeededIds": [created["id"]],
        "failedIds": [unknown],
    }
    assert (await api.data(LIST))["webhookSubscriptions"] == []


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"url": "not a url"}, "webhookSubscription.url"),
        ({"url": "ftp://example.com/hook"}, "webhookSubscription.url"),
        ({"url": "https://user:pw@example.com/hook"}, "webhookSubscription.url"),
        ({"url": "https://example.com/" + "a" * 2048}, "webhookSubscription.url"),
        ({"events": []}, "webhookSubscription.events"),
        ({"description": "d" * 1001}, "webhookSubscription.description"),
    ],
)
@pytest.mark.no_queries
async def test_bad_input_names_the_field_and_writes_nothing(
    api: Api, db: Database, fields: dict[str, Any], field: str
) -> None:
    variables = {"input": {"url": URL, "events": ["OFFER_CREATED"], **fields}}
    await refused(api, db, CREATE, variables, code="BAD_USER_INPUT", field=field)


async def test_unknown_event_types_and_ids_are_refused(api: Api, db: Database) -> None:
    error = await api.error(CREATE, {"input": {"url": URL, "events": ["NO_SUCH_EVENT"]}})
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    unknown = "00000000-0000-4000-8000-000000000000"
    await refused(api, db, ROTATE, {"id": unknown}, code="NOT_FOUND", field="id")
    await refused(api, db, REDELIVER, {"id": unknown}, code="NOT_FOUND", field="id")
    await refused(
        api, db, UPDATE, {"id": unknown, "input": {"isActive": True}}, code="NOT_FOUND", field="id"
    )
    ids = [unknown] * 1001
    await refused(api, db, DELETE, {"ids": ids}, code="BAD_USER_INPUT", field="ids")


@pytest.fixture
async def production_api(database_url: str, token: str) -> Any:
    """The API in the production profile, with one host allowed to be private."""
    application = create_app(
        settings_for(database_url, env="production", webhook_allowed_hosts="127.0.0.1")
    )
    transport = ASGITransport(app=application)
    async with AsyncClient(transport=transport, base_url="http://test") as http:
        yield Api(http, token)
    await application.state.db.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/hook",
        "https://localhost/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
    ],
)
async def test_production_refuses_http_and_private_addresses(
    production_api: Api, db: Database, url: str
) -> None:
    await refused(
        production_api,
        db,
        CREATE,
        {"input": {"url": url, "events": ["OFFER_CREATED"]}},
        code="BAD_USER_INPUT",
        field="webhookSubscription.url",
    )


async def test_production_allows_a_host_on_the_allow_list(production_api: Api) -> None:
    data = await production_api.data(
        CREATE, {"input": {"url": "https://127.0.0.1:9/hook", "events": ["OFFER_CREATED"]}}
    )
    assert data["createWebhookSubscription"]["webhookSubscription"]["isActive"] is True
