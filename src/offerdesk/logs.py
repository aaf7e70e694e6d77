"""Logging: the process's log format (text or JSON lines) and the access log.

The access log is one line per HTTP request, written by :class:`AccessLog` (ASGI middleware)
when the response is finished: method, path, status, duration in milliseconds, request id,
API client id and GraphQL operation name. It never holds the query string (GET queries
carry their variables there), headers, bodies or tokens.
"""

import json
import logging
import re
import sys
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ACCESS_LOGGER = "offerdesk.access"
access_log = logging.getLogger(ACCESS_LOGGER)

# A request id a client sends is kept when it looks like one (and so cannot inject text into
# a log line or a response header); anything else is replaced by a new one.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The standard attributes of a LogRecord; anything else on a record came in ``extra=``.
# (uvicorn adds ``color_message``, the message with terminal colour codes: not for a file.)
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",
}
TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


@dataclass
class RequestInfo:
    """What the access log learns while a request runs: the caller's API client and the
    GraphQL operation's name."""

    client_id: str | None = None
    operation: str | None = None


# Called with (method, path, status, seconds, info) when a request's answer is sent.
RequestObserver = Callable[[str, str, int, float, RequestInfo], None]


_current: ContextVar[RequestInfo | None] = ContextVar("offerdesk_request", default=None)


def note_client(client_id: str | None) -> None:
    """Record the API client (its public ``odc_…`` id) of the request being served, for its
    access-log line. Does nothing outside a request."""
    info = _current.get()
    if info is not None:
        info.client_id = client_id


def note_operation(name: str | None) -> None:
    """Record the GraphQL operation name of the request being served (access log, metrics).
    Does nothing outside a request."""
    info = _current.get()
    if info is not None:
        info.operation = name


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC, ISO 8601), ``level``, ``logger``,
    ``message``, the record's ``extra`` fields, and ``exception`` (the traceback as one
    string) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_FIELDS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _OfferdeskHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The handler :func:`configure_logging` installs (recognised so it is installed once)."""


def configure_logging(level: str, log_format: str) -> None:
    """Send every logger's records at ``level`` or above to stderr, as text or JSON lines
    (``log_format``: ``"text"`` or ``"json"``). Uvicorn's own loggers included, when it is
    started without its logging configuration. Calling it again changes nothing."""
    root = logging.getLogger()
    if any(isinstance(handler, _OfferdeskHandler) for handler in root.handlers):
        return
    handler = _OfferdeskHandler(sys.stderr)
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level.upper())


class AccessLog:
    """ASGI middleware: one access-log line per HTTP request, and a request id on each.

    The request id is the client's ``X-Request-Id`` when it is well formed, else a new one;
    it is put back on the request (so the endpoint and its error messages use the same id)
    and on the response.
    """

    def __init__(
        self, app: ASGIApp, log: bool = True, observer: RequestObserver | None = None
    ) -> None:
        self.app = app
        self.log = log
        self.observer = observer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        info = RequestInfo()
        token = _current.set(info)
        status = 500  # unless a response starts: an exception that escapes is a 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(name.lower() == b"x-request-id" for name, _ in headers):
                    headers.append((b"x-request-id", request_id.encode()))
                    message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _current.reset(token)
            seconds = time.perf_counter() - started
            method, path = scope["method"], scope["path"]
            if self.observer is not None:
                self.observer(method, path, status, seconds, info)
            if self.log:
                self._write(method, path, status, round(seconds * 1000, 1), request_id, info)

    @staticmethod
    def _write(
        method: str, path: str, status: int, duration_ms: float, request_id: str, info: RequestInfo
    ) -> None:
        access_log.info(
            "%s %s %s %.1f ms request_id=%s client_id=%s operation=%s",
            method,
            path,
            status,
            duration_ms,
            request_id,
            info.client_id or "-",
            info.operation or "-",
            extra={
                "method": method,
                "path": path,
                "status": status,
                "duration_ms": duration_ms,
                "request_id": request_id,
                "client_id": info.client_id,
                "operation": info.operation,
            },
        )


def safe_request_id(sent: str | None) -> str:
    """The client's ``X-Request-Id`` when it is 1-64 characters of ``A-Za-z0-9._-``, else a new
    one (32 hex digits). It is echoed into headers, messages and logs, so nothing else passes:
    no markup, no line breaks, no megabyte of id."""
    if sent is not None and _REQUEST_ID.fullmatch(sent):
        return sent
    return uuid.uuid4().hex


def _request_id(scope: Scope) -> str:
    """The request's id, written into ``scope``'s headers when it was missing or refused."""
    headers: list[tuple[bytes, bytes]] = list(scope.get("headers", []))
    sent = next((value for name, value in headers if name == b"x-request-id"), None)
    request_id = safe_request_id(None if sent is None else sent.decode("latin-1"))
    if sent is not None and request_id == sent.decode("latin-1"):
        return request_id
    scope["headers"] = [(name, value) for name, value in headers if name != b"x-request-id"]
    scope["headers"].append((b"x-request-id", request_id.encode()))
    return request_id
