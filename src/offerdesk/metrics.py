"""Prometheus metrics, served at ``GET /metrics`` when ``OFFERDESK_METRICS_TOKEN`` is set.

With ``offerdesk serve`` the metrics are kept in prometheus-client's multiprocess mode: each
worker writes its values to files in ``PROMETHEUS_MULTIPROC_DIR`` (the command makes a fresh
directory unless one is given), and a scrape answered by any worker adds up all of them, so
``--workers N`` reports every worker. prometheus-client picks the mode when it is first
imported, from that environment variable: this module must not be imported by the command
before ``serve`` has set it (cli.py imports it only inside the command).

Metrics:

* ``offerdesk_http_requests_total{route, operation, status}``: answered requests; ``route``
  is one of Offerdesk's paths (else ``other``), ``operation`` the GraphQL operation's name
  (``-`` when anonymous or not GraphQL; ``other`` past 100 distinct names per process, so a
  client cannot grow the label set without bound).
* ``offerdesk_http_request_duration_seconds{route}``: latency histogram.
* ``offerdesk_enrollments_total{outcome}``: committed enrollment changes by cause
  (``enroll``, ``waitlist``, ``promotion``, ``unenroll``, ``decline``) and refused enrollment
  requests by error code (``EVENT_FULL``, ``REGISTRATION_CLOSED``, …).
* ``offerdesk_db_connections_in_use``, ``offerdesk_db_connections_open``,
  ``offerdesk_db_pool_capacity``: database connections checked out, open, and the most the
  pools may open (summed over live workers).
"""

import hmac
import os
import re
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Session, SessionTransaction
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension

from offerdesk.enrollments.service import CHANGES_KEY
from offerdesk.errors import DomainError
from offerdesk.logs import RequestInfo, note_operation

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
ROUTES = frozenset(
    {"/graphql", "/graphql/", "/oauth/token", "/oauth/token/", "/healthz", "/readyz", "/metrics"}
)
MAX_OPERATION_NAMES = 100
_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]{0,63}")
ENROLLING_FIELDS = frozenset({"enrollUserInOfferEvent", "createOfferEventEnrollments"})

REQUESTS = Counter(
    "offerdesk_http_requests",
    "HTTP requests answered, by route, GraphQL operation name and status code.",
    ["route", "operation", "status"],
)
LATENCY = Histogram(
    "offerdesk_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer, by route.",
    ["route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ENROLLMENTS = Counter(
    "offerdesk_enrollments",
    "Committed enrollment changes by cause, and refused enrollment requests by error code.",
    ["outcome"],
)
DB_IN_USE = Gauge(
    "offerdesk_db_connections_in_use",
    "Database connections checked out of the pools.",
    multiprocess_mode="livesum",
)
DB_OPEN = Gauge(
    "offerdesk_db_connections_open",
    "Database connections the pools hold open.",
    multiprocess_mode="livesum",
)
DB_CAPACITY = Gauge(
    "offerdesk_db_pool_capacity",
    "The most connections the pools may open (pool size plus overflow).",
    multiprocess_mode="livesum",
)

_operation_names: set[str] = set()


def operation_label(name: str | None) -> str:
    """The ``operation`` label for a GraphQL operation name (bounded, see the module)."""
    if not name or not _NAME.fullmatch(name):
        return "-"
    if name not in _operation_names:
        if len(_operation_names) >= MAX_OPERATION_NAMES:
            return "other"
        _operation_names.add(name)
    return name


def observe_request(method: str, path: str, status: int, seconds: float, info: RequestInfo) -> None:
    """Count one answered request (called by logs.AccessLog when the answer is sent)."""
    route = path if path in ROUTES else "other"
    REQUESTS.labels(route, operation_label(info.operation), str(status)).inc()
    LATENCY.labels(route).observe(seconds)


class RequestMetrics(SchemaExtension):
    """Notes the operation's name for the request's metrics and access log, and counts
    refused enrollment requests by their error code."""

    def on_operation(self) -> Iterator[None]:
        yield
        execution = self.execution_context
        note_operation(execution.operation_name)
        result = execution.result
        for error in getattr(result, "errors", None) or []:
            original = error.original_error
            if (
                isinstance(original, DomainError)
                and error.path
                and error.path[0] in _enrolling_aliases(execution)
            ):
                ENROLLMENTS.labels(original.code.value).inc()


def _enrolling_aliases(execution: Any) -> set[str]:
    """The response keys of the document's enrolling mutation fields (aliases included)."""
    document = execution.graphql_document
    keys: set[str] = set()
    for definition in getattr(document, "definitions", ()):
        selection_set = getattr(definition, "selection_set", None)
        for selection in getattr(selection_set, "selections", ()):
            name = getattr(getattr(selection, "name", None), "value", None)
            if name in ENROLLING_FIELDS:
                alias = getattr(selection, "alias", None)
                keys.add(alias.value if alias else name)
    return keys


# session.info key: where each open SAVEPOINT began in the CHANGES_KEY list.
MARKS_KEY = "offerdesk_enrollment_marks"


def _pending(session: Session) -> list[str]:
    pending: list[str] = session.info.setdefault(CHANGES_KEY, [])
    return pending


def count_enrollment_changes(causes: Iterable[str]) -> None:
    """Count committed enrollment status changes by ``causes`` (ChangeCause values, any case)
    in ``offerdesk_enrollments_total``: by the sessions' commits, and by graphql/direct.py's
    enrollments, which commit outside a session."""
    for cause in causes:
        ENROLLMENTS.labels(cause.lower()).inc()


def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        # A released SAVEPOINT: its changes are counted when the transaction around it
        # commits (the event fires for both).
        return
    count_enrollment_changes(_pending(session))
    _pending(session).clear()
    session.info.pop(MARKS_KEY, None)


def _after_transaction_create(session: Session, transaction: SessionTransaction) -> None:
    # A SAVEPOINT (each mutation of a request with an Idempotency-Key) remembers how many
    # changes came before it, so that rolling it back forgets only its own.
    if transaction.nested:
        session.info.setdefault(MARKS_KEY, {})[transaction] = len(_pending(session))


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    marks: dict[SessionTransaction, int] = session.info.get(MARKS_KEY, {})
    if previous.nested and previous in marks:
        del _pending(session)[marks.pop(previous) :]
        return
    _pending(session).clear()
    session.info.pop(MARKS_KEY, None)


def install(engine: AsyncEngine, capacity: int) -> None:
    """Watch ``engine``'s pool and every session's commits (idempotent for the sessions)."""
    if not event.contains(Session, "after_commit", _after_commit):
        # Counted at commit: a change rolled back never happened.
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_transaction_create", _after_transaction_create)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    pool = engine.sync_engine
    event.listen(pool, "checkout", lambda *_: DB_IN_USE.inc())
    event.listen(pool, "checkin", lambda *_: DB_IN_USE.dec())
    event.listen(pool, "connect", lambda *_: DB_OPEN.inc())
    event.listen(pool, "close", lambda *_: DB_OPEN.dec())
    event.listen(pool, "close_detached", lambda *_: DB_OPEN.dec())
    DB_CAPACITY.set(capacity)


def render() -> bytes:
    """The metrics in the Prometheus text format: every worker's in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def process_exited() -> None:
    """Drop this worker's live gauges (in multiprocess mode) when it stops."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


async def metrics_endpoint(request: Request) -> Response:
    """``GET /metrics``: the metrics for ``Authorization: Bearer <OFFERDESK_METRICS_TOKEN>``,
    else 401."""
    expected: str = request.app.state.settings.metrics_token
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.encode()
    ):
        return Response(
            "a bearer token is required (OFFERDESK_METRICS_TOKEN)\n",
            status_code=401,
            media_type="text/plain",
            headers={"WWW-Authenticate": 'Bearer realm="offerdesk-metrics"'},
        )
    # Reading every worker's files is blocking I/O.
    return Response(await run_in_threadpool(render), media_type=CONTENT_TYPE_LATEST)
