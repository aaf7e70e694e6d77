"""CORS from a real browser (issue 13 item 8): headless Chromium (as in
test_graphiql_browser.py) opens a page on another origin than the API's and calls /graphql
with fetch() and a bearer token. The listed origin's page reads the answer; the other
origin's page is refused by the browser, after the server declined its preflight.

The pages come from a small static server on this machine, on two origins that differ from
the API's (``http://localhost:P`` and ``http://127.0.0.1:P``, the API being on
``http://127.0.0.1:Q``); all three are loopback, so Chromium's local-network rules stay out
of the way and the result is CORS's alone.
"""

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from .concurrency.servers import servers
from .node_e2e import run_script
from .test_graphiql_browser import CHROMIUM


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>a client on another origin</title>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test's output is the browser's results."""


@pytest.fixture
def page_port() -> Iterator[int]:
    """The port of a static page server on 127.0.0.1, for the test's duration."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


async def test_only_a_listed_origin_can_call_the_api_from_a_browser(
    database_url: str, token: str, page_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert os.access(CHROMIUM, os.X_OK), f"{CHROMIUM} is missing (apt-get install chromium)"
    listed = f"http://localhost:{page_port}"
    other = f"http://127.0.0.1:{page_port}"
    monkeypatch.setenv("OFFERDESK_CORS_ORIGINS", listed)
    with servers(database_url, 1) as [url]:
        results = run_script("cors.mjs", url, token, f"{listed}/client", f"{other}/client")

    assert results[listed].get("status") == 200, results
    assert results[listed]["body"] == {"data": {"offers": []}}
    # Exposed to the page, so a client can quote it when reporting a problem.
    assert results[listed]["requestId"]
    assert results[other].get("error") == "TypeError: Failed to fetch", results
    assert any("CORS policy" in message for message in results[other]["console"]), results
