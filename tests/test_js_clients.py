"""Real JavaScript clients against a real ``offerdesk serve`` (issue 4 point 8): graphql-request
and Apollo Client (``@apollo/client/core``) run the seed's operations (SPEC §2.1, §2.2) and one
enrollment (§2.3), and a bad token is an error each client surfaces (401, UNAUTHENTICATED).

The script is ``tests/e2e/clients.mjs``; it prints what each step answered and this test
checks it. The clients do not depend on the engine, but the suite's pattern runs both.
"""

from typing import Any

from .concurrency.servers import servers
from .node_e2e import run_script

CLIENTS = ("graphqlRequest", "apollo")


def without_typename(value: Any) -> Any:
    """Apollo Client adds ``__typename`` to every selection; the other client does not."""
    if isinstance(value, dict):
        return {k: without_typename(v) for k, v in value.items() if k != "__typename"}
    if isinstance(value, list):
        return [without_typename(item) for item in value]
    return value


async def test_js_clients(database_url: str, token: str) -> None:
    # One run of the script per engine (a server start and two clients take a few seconds);
    # its report is checked from three sides.
    with servers(database_url, 1) as [url]:
        report: dict[str, Any] = run_script("clients.mjs", f"{url}/graphql", token)
    check_seed_operations_and_one_enrollment(report)
    check_apollo_cache_normalises_offer_events_by_id(report)
    check_a_bad_token_is_an_error_each_client_surfaces(report)


def check_seed_operations_and_one_enrollment(report: dict[str, Any]) -> None:
    assert set(report) == set(CLIENTS)
    for name in CLIENTS:
        steps = without_typename(report[name])
        label = "graphql-request" if name == "graphqlRequest" else "apollo"
        offer, content = steps["createOffer"], steps["createContentItem"]
        assert offer == {
            "id": offer["id"],
            "title": f"Project management ({label})",
            "description": "Plan and deliver",
            "isActive": True,
        }
        assert content == {
            "id": content["id"],
            "type": "TRAINING",
            "title": f"PM essentials ({label})",
        }
        event = steps["createOfferEvent"]
        assert event == {
            "id": event["id"],
            "title": "Starting moment September",
            "offerId": offer["id"],
            "contentId": content["id"],
            "contentType": "TRAINING",
            "contentTitle": f"PM essentials ({label})",
            "maxParticipants": 20,
        }
        assert [
            (date["offerEventId"], date["start"], date["end"])
            for date in steps["createOfferEventDates"]
        ] == [
            (event["id"], "2025-10-01T07:00:00Z", "2025-10-01T10:00:00Z"),
            (event["id"], "2025-09-12T09:00:00Z", "2025-09-12T17:00:00Z"),
        ]
        assert steps["offerEvent"] == {
            "id": event["id"],
            "title": "Starting moment September",
            "dates": [
                {"start": "2025-09-12T09:00:00Z", "end": "2025-09-12T17:00:00Z"},
                {"start": "2025-10-01T07:00:00Z", "end": "2025-10-01T10:00:00Z"},
            ],
            "contentTitle": f"PM essentials ({label})",
            "spotsAvailable": 20,
        }
        assert steps["offer"] == {
            "id": offer["id"],
            "offerEvents": [{"id": event["id"], "title": "Starting moment September"}],
        }
        assert steps["updateOfferEvent"] == {
            "id": event["id"],
            "title": "Evening group",
            "maxParticipants": 12,
            "spotsAvailable": 12,
            "contentTitle": f"PM essentials ({label})",
        }
        user = steps["createUser"]
        assert user["name"] == f"Ada ({label})"
        enrollment = steps["enrollUserInOfferEvent"]
        assert enrollment == {
            "id": enrollment["id"],
            "userId": user["id"],
            "offerEventId": event["id"],
            "status": "ENROLLED",
        }
        assert steps["seatsAfterEnrollment"] == {
            "id": event["id"],
            "enrolledCount": 1,
            "spotsAvailable": 11,
        }
        assert steps["archiveOfferEvents"] == {
            "succeededIds": [event["id"]],
            "failedIds": [steps["unknownId"]],
        }
        assert steps["afterArchive"] == {"id": event["id"], "isActive": False}


def check_apollo_cache_normalises_offer_events_by_id(report: dict[str, Any]) -> None:
    # Every answer about the event merged into one cache entry, keyed OfferEvent:<id>.
    cached = without_typename(report["apollo"]["cachedOfferEvent"])
    assert cached is not None
    assert cached["id"] == report["apollo"]["createOfferEvent"]["id"]
    assert (cached["title"], cached["enrolledCount"], cached["isActive"]) == (
        "Evening group",
        1,
        False,
    )


def check_a_bad_token_is_an_error_each_client_surfaces(report: dict[str, Any]) -> None:
    assert report["graphqlRequest"]["badToken"] == {
        "surfaced": True,
        "error": "ClientError",
        "status": 401,
        "codes": ["UNAUTHENTICATED"],
    }
    apollo = report["apollo"]["badToken"]
    # Apollo Client reads the graphql-response+json error body as GraphQL errors.
    assert (apollo["surfaced"], apollo["error"], apollo["status"], apollo["codes"]) == (
        True,
        "CombinedGraphQLErrors",
        401,
        ["UNAUTHENTICATED"],
    )
