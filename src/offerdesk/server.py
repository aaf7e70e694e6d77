"""uvicorn's httptools protocol with limits on request headers (issue 15, item 3).

uvicorn bounds the idle time between requests (keep-alive) but not the time a client takes to
send a request's headers, nor their size or number (its h11 option
``h11_max_incomplete_event_size`` does not apply to httptools, which we use for speed): a
client could hold a connection open for ever with headers that never end, or send a megabyte
of them. This protocol adds the three limits (settings ``OFFERDESK_HEADER_READ_TIMEOUT_SECONDS``,
``OFFERDESK_MAX_HEADER_BYTES``, ``OFFERDESK_MAX_HEADERS``), answering 408 or 431 and closing
the connection. It is a module-level class so that ``--workers N`` can hand it to its worker
processes.
"""

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from offerdesk.config import get_settings

_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-length: 0\r\nconnection: close\r\n\r\n"
)


class HeaderLimitExceeded(Exception):
    """Stops the parser once the 431 has been sent."""


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a header read time-out and header size and count limits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self._header_timeout = settings.header_read_timeout_seconds
        self._max_header_bytes = settings.max_header_bytes
        self._max_headers = settings.max_headers
        self._header_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        self._header_count = 0
        self._refused = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # A connection that never sends a request is bounded like one that never ends it.
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            return  # the 431 is already on its way and the connection closing
        super().send_400_response(msg)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        self._header_count = 0
        self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def _count(self, size: int, headers: int) -> None:
        self._header_bytes += size
        self._header_count += headers
        if self._header_bytes > self._max_header_bytes or self._header_count > self._max_headers:
            self._refuse(_TOO_LARGE)
            raise HeaderLimitExceeded

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self._header_timeout, self._headers_late)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: its headers did arrive
        self._refuse(_TIMEOUT)

    def _refuse(self, response: bytes) -> None:
        self._refused = True
        self._cancel_header_timer()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()
