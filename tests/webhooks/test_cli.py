"""``offerdesk webhook create/list/delete``, run as real processes (issue 12 item 2)."""

import re
from typing import Any

import pytest

from offerdesk.db import Database

from ..helpers import Api, snapshot
from ..test_cli import offerdesk, succeeded

LIST = "{ webhookSubscriptions { id url events isActive } }"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """One read path (the default): the commands are what these tests try, and the webhook
    roots they read are answered by the executor on both paths (no compiled declaration)."""
    return {}


async def test_webhook_create_list_delete(database_url: str, api: Api) -> None:
    out = succeeded(
        await offerdesk(
            database_url,
            "webhook",
            "create",
            "--url",
            "https://hooks.example.com/x",
            "--events",
            "OFFER_CREATED OFFER_EVENT_ENROLLED",
        )
    )
    id_ = re.search(r"^id: (\S+)$", out, re.M)
    secret = re.search(r"^secret: (whsec_\S+)$", out, re.M)
    assert id_, out
    assert secret, out
    listed = (await api.data(LIST))["webhookSubscriptions"]
    assert listed == [
        {
            "id": id_[1],
            "url": "https://hooks.example.com/x",
            "events": ["OFFER_CREATED", "OFFER_EVENT_ENROLLED"],
            "isActive": True,
        }
    ]
    shown = succeeded(await offerdesk(database_url, "webhook", "list"))
    assert id_[1] in shown
    assert secret[1] not in shown
    succeeded(await offerdesk(database_url, "webhook", "delete", id_[1]))
    assert (await api.data(LIST))["webhookSubscriptions"] == []


async def test_webhook_create_refuses_bad_input_and_writes_nothing(
    database_url: str, api: Api, db: Database
) -> None:
    before = await snapshot(db)
    for args, named in (
        (["--url", "https://hooks.example.com/x", "--events", "NO_SUCH"], "NO_SUCH"),
        (["--url", "ftp://hooks.example.com/x", "--events", "OFFER_CREATED"], "url"),
    ):
        result = await offerdesk(database_url, "webhook", "create", *args)
        assert result.returncode != 0, result
        assert named in result.stderr, result.stderr
    assert await snapshot(db) == before
