"""GraphiQL in a real browser (issue 4 point 9, SPEC §1): headless Chromium (Debian's
``chromium`` package, which ``.ci/run`` installs) opens ``/graphql`` of a real
``offerdesk serve``, a person's steps are played — the seed's ``offerEvent`` query typed into
the editor, the token into the headers editor, the play button — and the result pane must show
the event. Every request the page makes must stay on this machine: GraphiQL's scripts and
styles come from the service itself, never from a CDN.

The script is ``tests/e2e/graphiql.mjs`` (playwright-core drives the browser; it never
downloads one). The page does not depend on the engine, but the suite's pattern runs both.
"""

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from .concurrency.servers import servers
from .node_e2e import run_script

CHROMIUM = Path("/usr/bin/chromium")
SETUP = """
mutation($contentTitle: String!) {
  offer: createOffer(offer: {title: "Project management"}) { offer { id } }
  content: createContentItem(contentItem: {type: TRAINING, title: $contentTitle}) {
    contentItem { id } }
}"""
EVENT = """
mutation($offerId: UUID!, $contentId: UUID!) {
  createOfferEvent(offerEvent: {offerId: $offerId, title: "Starting moment September",
      contentId: $contentId, contentType: TRAINING, maxParticipants: 20,
      dates: [{start: "2025-09-12T09:00:00+02:00", end: "2025-09-12T17:00:00+02:00"}]}) {
    offerEvent { id } }
}"""


def call(url: str, token: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    body: dict[str, Any] = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


async def test_graphiql_runs_the_seed_query_in_chromium(
    database_url: str, token: str, tmp_path: Path
) -> None:
    assert os.access(CHROMIUM, os.X_OK), (
        f"{CHROMIUM} is missing: this test needs Debian's chromium package "
        "(apt-get install chromium; .ci/run installs it)"
    )
    screenshot = tmp_path / "graphiql.png"
    with servers(database_url, 1) as [url]:
        made = call(url, token, SETUP, {"contentTitle": "PM essentials"})
        event = call(
            url,
            token,
            EVENT,
            {
                "offerId": made["offer"]["offer"]["id"],
                "contentId": made["content"]["contentItem"]["id"],
            },
        )["createOfferEvent"]["offerEvent"]["id"]
        page = run_script("graphiql.mjs", url, token, event, str(screenshot))
    print(f"\nGraphiQL screenshot: {screenshot}")

    assert page["title"] == "Offerdesk · GraphiQL"
    # What the person typed is what the editors hold (CodeMirror closes brackets itself).
    assert page["queryText"] == (
        f'query {{ offerEvent(id: "{event}") '
        "{ title dates { start end } contentTitle spotsAvailable } }"
    )
    assert json.loads(page["headersText"]) == {"Authorization": f"Bearer {token}"}
    # The result pane shows the answer of the server.
    assert json.loads(page["resultText"]) == {
        "data": {
            "offerEvent": {
                "title": "Starting moment September",
                "dates": [{"start": "2025-09-12T07:00:00Z", "end": "2025-09-12T15:00:00Z"}],
                "contentTitle": "PM essentials",
                "spotsAvailable": 20,
            }
        }
    }
    # The Docs panel has the schema, fetched again when the token was pasted (no reload).
    assert "query: Query" in page["docsShown"], page["docsShown"]
    assert "mutation: Mutation" in page["docsShown"]
    assert "Error fetching schema" not in page["docsShown"]
    # A new browser's first tab opens on the demo's example query.
    assert 'offerEvent(ref: "o-feedback-small")' in page["defaultQuery"]
    shown = page["resultShown"]
    assert '"title": "Starting moment September"' in shown, shown
    assert '"contentTitle": "PM essentials"' in shown, shown
    assert page["pageErrors"] == []

    # Nothing left the machine: every request went to the server under test, the IDE's
    # scripts and styles included.
    server = urlsplit(url).netloc
    assert [r["url"] for r in page["requests"] if urlsplit(r["url"]).netloc != server] == []
    paths = {urlsplit(r["url"]).path for r in page["requests"]}
    assert {
        "/graphiql/static/graphiql.min.js",
        "/graphiql/static/graphiql.min.css",
        "/graphiql/static/react.production.min.js",
        "/graphiql/static/react-dom.production.min.js",
    } <= paths
    assert screenshot.stat().st_size > 10_000
