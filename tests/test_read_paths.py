"""The suite's read tests run on both read paths (tests/conftest.py, docs/architecture.md).

A test that sends requests through ``client`` or ``api`` runs once with compiled reads
(``[...-compiled]``) and once through the executor (``[...-executor]``), unless it is marked
``no_queries``; the client then fails it if it sends a query operation after all. These
tests hold the machinery to that: the path of a test id is the path its app answers on, and
a request counts as a read when its document chooses a query operation to run (a request
refused for something else, such as its variables, counts too: the mark stays honest).
"""

from typing import Any

import orjson
import pytest
from httpx import Request

from offerdesk.graphql.direct import ANSWERED

from .helpers import Api, query_document


async def test_each_read_path_answers_as_its_test_id_says(api: Api, compiled_reads: bool) -> None:
    before = ANSWERED["read"]
    for _ in range(2):
        assert await api.data("query Catalogue { offers { id } }") == {"offers": []}
    # With compiled reads the second request of a known document is answered directly, in one
    # statement (graphql/direct.py); through the executor, never.
    assert (ANSWERED["read"] > before) is compiled_reads


def post(body: Any) -> Request:
    return Request("POST", "http://test/graphql", content=orjson.dumps(body))


TWO = "query Read { offers { id } } mutation Write { archiveOffers(ids: []) { success } }"


@pytest.mark.parametrize(
    ("request_", "document"),
    [
        (post({"query": "{ offers { id } }"}), "{ offers { id } }"),
        (post({"query": TWO, "operationName": "Read"}), TWO),
        (
            Request("GET", "http://test/graphql/", params={"query": "{ offers { id } }"}),
            "{ offers { id } }",
        ),
        (post({"query": TWO, "operationName": "Write"}), None),
        (post({"query": TWO}), None),
        (post({"query": TWO, "operationName": "Other"}), None),
        (post({"query": "{ offers { id "}), None),
        (post({"query": "{ offers { id } }", "operationName": 1}), None),
        (post([{"query": "{ offers { id } }"}]), None),
        (Request("POST", "http://test/graphql", content=b"query={ offers { id } }"), None),
        (Request("POST", "http://test/oauth/token/", data={"query": "{ offers { id } }"}), None),
    ],
    ids=[
        "shorthand",
        "named-query",
        "get",
        "named-mutation",
        "no-operation-chosen",
        "unknown-operation",
        "does-not-parse",
        "name-not-a-string",
        "batch",
        "not-json",
        "other-route",
    ],
)
async def test_a_read_is_a_document_that_chooses_a_query_operation(
    request_: Request, document: str | None
) -> None:
    assert await query_document(request_) == document
