"""``/graphql`` over HTTP, following the GraphQL-over-HTTP specification.

We run Strawberry's schema behind our own small endpoint rather than its ASGI view: the
status codes, media types, authentication (401 before anything runs) and the refusal of
form and text bodies (CSRF) are then decided in one readable place. Requests that
graphql/direct.py answers are answered by ``DirectRoute``, ahead of the router, with the same
body rules and the same answers to failures (``_Exchange``).
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from strawberry.exceptions import MissingQueryError
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types import ExecutionResult
from strawberry.types.graphql import OperationType

from offerdesk import idempotency
from offerdesk.auth.service import Principal, principal_for_token
from offerdesk.config import Settings
from offerdesk.errors import ErrorCode
from offerdesk.graphql.context import Context
from offerdesk.graphql.direct import DirectAnswer
from offerdesk.graphql.errors import format_error
from offerdesk.graphql.limits import BodyTooLarge, late_body_message
from offerdesk.graphql.operations import operation_error_message
from offerdesk.graphql.schema import OfferdeskSchema
from offerdesk.logs import note_operation, safe_request_id
from offerdesk.transient import RETRY_AFTER_SECONDS, is_lost_connection, is_transient

log = logging.getLogger("offerdesk.http")

STATIC_DIR = Path(__file__).parent / "static"
GRAPHIQL_PAGE = (STATIC_DIR / "graphiql.html").read_text(encoding="utf-8")
JSON = "application/json"
GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"
# What a request's work answers (_Exchange.guarded): a response, or None to pass it on.
R = TypeVar("R", Response, Response | None)


class HttpError(Exception):
    def __init__(
        self, status: int, code: ErrorCode, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def _quality(params: list[str]) -> float:
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                return float(value)
            except ValueError:
                return 0.0
    return 1.0


def response_media_type(request: Request) -> str:
    """The media type of the answer: the client's most preferred one that we speak.

    The Accept header is read with its q-values (RFC 9110 §12.5.1), so
    ``application/graphql-response+json;q=0.5, application/json`` gets application/json.
    Without a header, or with none we speak, the answer is application/json, as the
    GraphQL-over-HTTP specification allows.
    """
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(request.headers.get("accept", "").split(",")):
        media, *params = part.split(";")
        media = media.strip().lower()
        quality = _quality(params)
        if media == GRAPHQL_RESPONSE_JSON and quality > 0:
            ranked.append((quality, index, GRAPHQL_RESPONSE_JSON))
        elif media in (JSON, "application/*", "*/*") and quality > 0:
            ranked.append((quality, index, JSON))
    if not ranked:
        return JSON
    return min(ranked, key=lambda entry: (-entry[0], entry[1]))[2]


def json_response(
    body: dict[str, Any], status: int, media_type: str, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type=f"{media_type}; charset=utf-8",
        headers=headers,
    )


def error_body(code: ErrorCode, message: str, request_id: str | None = None) -> dict[str, Any]:
    extensions: dict[str, Any] = {"code": code.value}
    if request_id:
        extensions["requestId"] = request_id
    return {"errors": [{"message": message, "extensions": extensions}]}


async def read_body(request: Request, settings: Settings) -> bytes:
    """The request body, read before anything else holds a resource (a pooled connection
    above all): a client that sends its body slowly holds only its own socket.

    Raises HttpError 413 past ``max_body_bytes`` (graphql/limits.py's BodySizeLimit counts the
    bytes as they arrive) and 408 when the body does not arrive within
    ``body_read_timeout_seconds``.
    """
    try:
        async with asyncio.timeout(settings.body_read_timeout_seconds):
            return await request.body()
    except BodyTooLarge as exc:
        raise HttpError(413, ErrorCode.TOO_COMPLEX, "the request body is too large") from exc
    except TimeoutError as exc:
        raise HttpError(
            408,
            ErrorCode.BAD_USER_INPUT,
            late_body_message(settings.body_read_timeout_seconds),
            headers={"Connection": "close"},
        ) from exc


def _params(request: Request, raw: bytes) -> dict[str, Any]:
    if request.method == "GET":
        params: dict[str, Any] = dict(request.query_params)
        for key in ("variables", "extensions"):
            if params.get(key):
                try:
                    params[key] = orjson.loads(params[key])
                except orjson.JSONDecodeError as exc:
                    raise HttpError(400, ErrorCode.BAD_USER_INPUT, f"{key} is not JSON") from exc
        return params
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != JSON:
        # Form and text bodies can be sent cross-site without a CORS preflight: refusing them
        # is what keeps a browser from being tricked into running a mutation (CSRF).
        raise HttpError(
            415, ErrorCode.BAD_USER_INPUT, "POST /graphql takes a body of type application/json"
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise HttpError(400, ErrorCode.BAD_USER_INPUT, "the request body is not JSON") from exc
    if isinstance(body, list):
        raise HttpError(400, ErrorCode.BAD_USER_INPUT, "batched requests are not supported")
    if not isinstance(body, dict):
        raise HttpError(400, ErrorCode.BAD_USER_INPUT, "the request body must be a JSON object")
    return body


def _check_params(params: dict[str, Any]) -> tuple[str, dict[str, Any] | None, str | None]:
    query = params.get("query")
    variables = params.get("variables")
    operation_name = params.get("operationName")
    if not isinstance(query, str) or not query.strip():
        raise HttpError(400, ErrorCode.BAD_USER_INPUT, "query must be a non-empty string")
    if variables is not None and not isinstance(variables, dict):
        raise HttpError(400, ErrorCode.BAD_USER_INPUT, "variables must be an object")
    if operation_name is not None and not isinstance(operation_name, str):
        raise HttpError(400, ErrorCode.BAD_USER_INPUT, "operationName must be a string")
    extensions = params.get("extensions")
    if extensions is not None and not isinstance(extensions, dict):
        # The specification's request parameter is "extensions (Optional, map)"; anything
        # else is a malformed request, not something to ignore.
        raise HttpError(400, ErrorCode.BAD_USER_INPUT, "extensions must be an object")
    return query, variables, operation_name


async def _look_up_token(context: Context, token: str) -> Principal | None:
    """The token's principal. This is the first statement of every request, so it is where a
    pooled connection that died while idle (PostgreSQL restarted) shows: SQLAlchemy then marks
    the pool's older connections for renewal, and the look-up is retried once on a new one.
    A read changes nothing, so the retry is safe; it costs nothing when the connection is
    alive, unlike a liveness ping at every checkout (docs/decisions.md)."""
    try:
        async with context.read() as session:
            return await principal_for_token(session, token)
    except Exception as exc:
        if not is_lost_connection(exc):
            raise
        log.info(
            "request %s: a pooled connection was dead; retrying on a new one", context.request_id
        )
        await context.drop_read_session()
    async with context.read() as session:
        return await principal_for_token(session, token)


async def authenticate(request: Request, context: Context) -> Principal:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    principal = None
    if scheme.lower() == "bearer" and token.strip():
        principal = await _look_up_token(context, token.strip())
    if principal is None:
        challenge = 'Bearer realm="offerdesk"'
        if scheme.lower() == "bearer" and token.strip():
            # RFC 6750 §3.1: a token was sent and is unknown, expired or revoked.
            challenge += ', error="invalid_token"'
        raise HttpError(
            401,
            ErrorCode.UNAUTHENTICATED,
            "a valid bearer token is required (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": challenge},
        )
    return principal


def _direct_kinds(request: Request, settings: Settings) -> tuple[bool, bool]:
    """Whether graphql/direct.py may answer this request if it is a query / a mutation: a
    query when compiled reads are on (over GET only where GET queries are), a mutation when
    compiled writes are on and it came over POST; neither without a bearer token."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return False, False
    reads = settings.compiled_reads and (request.method == "POST" or settings.get_queries_enabled)
    writes = settings.compiled_writes and request.method == "POST"
    return reads, writes


async def _direct(request: Request, context: Context, raw: bytes) -> DirectAnswer | None:
    """A known compiled query answered in one statement with its token check, or a known
    mutation carried out without the executor (graphql/direct.py); or None: the request then
    takes the full path, where anything wrong with it (the token first) is answered as always.
    """
    reads, writes = _direct_kinds(request, context.settings)
    try:
        query, variables, operation_name = _check_params(_params(request, raw))
    except HttpError:
        return None
    schema: OfferdeskSchema = request.app.state.schema
    token = request.headers["authorization"].partition(" ")[2].strip()
    return await schema.direct.answer(
        context.db,
        context.response_cache,
        query,
        variables or {},
        operation_name,
        token,
        reads=reads,
        writes=writes,
        on_commit=context.mark_committed,
    )


def unavailable(
    media_type: str, request_id: str, message: str = "the database is unavailable"
) -> Response:
    """HTTP 503 SERVICE_UNAVAILABLE with Retry-After (SPEC §2.5): nothing was written, the same
    request may be sent again."""
    body = error_body(
        ErrorCode.SERVICE_UNAVAILABLE,
        f"{message}; nothing was written, retry in {RETRY_AFTER_SECONDS} s",
        request_id,
    )
    headers = {"X-Request-Id": request_id, "Retry-After": str(RETRY_AFTER_SECONDS)}
    return json_response(body, 503, media_type, headers)


async def graphql_endpoint(request: Request) -> Response:
    """The full path of ``/graphql``: authentication, then Strawberry's executor (requests that
    ``DirectRoute`` answered never get here)."""
    settings: Settings = request.app.state.settings
    if (
        request.method == "GET"
        and "query" not in request.query_params
        and settings.graphiql_enabled
        and "text/html" in request.headers.get("accept", "")
    ):
        return HTMLResponse(GRAPHIQL_PAGE)
    exchange = _Exchange(request)
    context = exchange.context

    async def run() -> Response:
        # The body first, holding nothing but the socket (a slow client must not hold a pooled
        # connection); it is judged only after authentication.
        raw = b"" if request.method == "GET" else await read_body(request, settings)
        async with context.db.time_budget(settings.request_timeout_seconds):
            # Authentication comes first: without a valid token nothing about the request is
            # judged, so a bad body gets 401 too (SPEC §1), not a hint about what would pass.
            context.principal = await authenticate(request, context)
            result = await _execute(request, context, raw, exchange.media_type)
        return _result_response(result, context, exchange.media_type)

    return await exchange.guarded(run)


class DirectRoute:
    """ASGI middleware: a ``/graphql`` request that graphql/direct.py answers (a known compiled
    query, a known mutation with a ``Write`` declaration) is answered here, ahead of the router,
    the request and response objects of the endpoint and the Idempotency middleware, which a
    request with an ``Idempotency-Key`` passes through to (its change must commit with its
    stored answer). It sits inside the access log, CORS, the rate limits and the body limit,
    which apply to every request alike.

    The body is read as the endpoint reads it (``read_body``: its size limit and time limit),
    and a request this path does not answer goes on with that body, read already. Failures are
    answered as the endpoint answers them (``_Exchange.guarded``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] not in ("GET", "POST")
            or scope["path"] not in idempotency.GRAPHQL_PATHS
            or any(name == idempotency.HEADER for name, _ in scope["headers"])
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        settings: Settings = request.app.state.settings
        if not any(_direct_kinds(request, settings)):
            await self.app(scope, receive, send)
            return
        exchange = _Exchange(request)
        raw = b""

        async def run() -> Response | None:
            nonlocal raw
            raw = b"" if request.method == "GET" else await read_body(request, settings)
            context = exchange.context
            async with context.db.time_budget(settings.request_timeout_seconds):
                direct = await _direct(request, context, raw)
            if direct is None:
                return None
            context.principal = direct.principal
            context.committed = context.wrote = direct.wrote
            note_operation(direct.operation_name)
            encoded = b'{"data":' + direct.data + b"}"
            return capped_response(encoded, 200, exchange.media_type, context)

        response = await exchange.guarded(run)
        if response is not None:
            await response(scope, receive, send)
        elif raw:
            await self.app(scope, idempotency.replay_body(raw), send)
        else:
            await self.app(scope, receive, send)


class _Exchange:
    """One ``/graphql`` request's id, answer media type and context, and the answers to what
    can go wrong while it runs: the same for the endpoint and ``DirectRoute``."""

    def __init__(self, request: Request) -> None:
        self.request_id = safe_request_id(request.headers.get("x-request-id"))
        self.media_type = response_media_type(request)
        state = request.app.state
        self.context = Context(
            state.db,
            state.settings,
            self.request_id,
            Principal(scopes=frozenset()),
            state.response_cache,
        )

    async def guarded(self, run: Callable[[], Awaitable[R]]) -> R | Response:
        """What ``run`` answers, or the answer to what it raised; the context is closed."""
        context, media_type, request_id = self.context, self.media_type, self.request_id
        try:
            return await run()
        except HttpError as exc:
            return json_response(
                error_body(exc.code, exc.message), exc.status, media_type, exc.headers
            )
        except ClientDisconnect:
            # Nobody is left to answer; not an error of ours (an info line, no traceback).
            log.info(
                "request %s: the client disconnected before sending its whole body", request_id
            )
            return Response(status_code=400)
        except TimeoutError:
            if context.committed:
                # The change stands: "nothing was written, retry" would be false.
                log.exception("request %s ran out of its time budget after committing", request_id)
                return _masked(media_type, request_id)
            # The request's own deadline; its session is closed (rolled back) below.
            budget = context.settings.request_timeout_seconds
            log.warning("request %s ran out of its time budget (%g s)", request_id, budget)
            return unavailable(
                media_type, request_id, f"the request ran out of its time budget ({budget:g} s)"
            )
        except Exception as exc:
            if is_transient(exc) and not context.committed:
                log.warning("request %s: database unavailable: %r", request_id, exc)
                return unavailable(media_type, request_id)
            # Outside GraphQL execution (authentication, a lost database): masked like any
            # other unexpected error, the detail in the log under the request id.
            log.exception("unexpected error in request %s", request_id)
            return _masked(media_type, request_id)
        finally:
            await context.close()


def _result_response(result: ExecutionResult, context: Context, media_type: str) -> Response:
    """The HTTP answer to the executor's ``result``."""
    request_id = context.request_id
    headers = {"X-Request-Id": request_id}
    if not result.errors:
        if context.cached_answer is not None:
            encoded = b'{"data":' + context.cached_answer + b"}"
            return capped_response(encoded, 200, media_type, context)
        return capped_response({"data": result.data}, 200, media_type, context)
    if not context.committed and any(is_transient(error.original_error) for error in result.errors):
        # A field failed because the database went away: the answer would be partial for a
        # reason that has nothing to do with the request. Nothing was committed (a mutation's
        # transaction failed as a whole), so the client is told to retry. After a commit the
        # write stands, and the answer says what happened field by field instead.
        log.warning("request %s: database unavailable during execution", request_id)
        return unavailable(media_type, request_id)
    errors = [format_error(error, request_id) for error in result.errors]
    if result.data is None and all(not error.path for error in result.errors):
        # A request error: nothing ran. The GraphQL-over-HTTP spec says "no data entry" and,
        # for the graphql-response+json media type, status 400.
        status = 400 if media_type == GRAPHQL_RESPONSE_JSON else 200
        return json_response({"errors": errors}, status, media_type, headers)
    answer = {"data": result.data, "errors": errors}
    return capped_response(answer, 200, media_type, context)


def capped_response(
    body: dict[str, Any] | bytes, status: int, media_type: str, context: Context
) -> Response:
    """The answer, unless its JSON is over ``max_response_bytes``: then a TOO_COMPLEX error in
    its place (a client that needs that much asks for smaller pages or fewer fields). The cost
    limit refuses most such documents before they run; this bounds what gets through."""
    encoded = body if isinstance(body, bytes) else orjson.dumps(body)
    limit = context.settings.max_response_bytes
    headers = {"X-Request-Id": context.request_id}
    if len(encoded) <= limit:
        return Response(
            encoded,
            status_code=status,
            media_type=f"{media_type}; charset=utf-8",
            headers=headers,
        )
    message = f"the answer is {len(encoded)} bytes; at most {limit} are sent"
    if context.wrote:
        message += " (the mutation was carried out)"
    too_big = error_body(ErrorCode.TOO_COMPLEX, message, context.request_id)
    return json_response(too_big, 200, media_type, headers)


def _masked(media_type: str, request_id: str) -> Response:
    body = error_body(
        ErrorCode.INTERNAL_SERVER_ERROR,
        f"Internal server error (request id {request_id})",
        request_id,
    )
    return json_response(body, 500, media_type, {"X-Request-Id": request_id})


async def _execute(
    request: Request, context: Context, raw: bytes, media_type: str
) -> ExecutionResult:
    settings = context.settings
    params = _params(request, raw)
    query, variables, operation_name = _check_params(params)
    if request.method == "GET" and not settings.get_queries_enabled:
        raise HttpError(
            405,
            ErrorCode.BAD_USER_INPUT,
            "GET requests are turned off; POST the query as JSON",
            headers={"Allow": "POST"},
        )
    allowed = {OperationType.QUERY}
    if request.method == "POST":
        allowed.add(OperationType.MUTATION)
    try:
        result: ExecutionResult = await request.app.state.schema.execute(
            query,
            variable_values=variables,
            context_value=context,
            operation_name=operation_name,
            allowed_operation_types=allowed,
        )
    except InvalidOperationTypeError as exc:
        raise HttpError(
            405,
            ErrorCode.BAD_USER_INPUT,
            "mutations are only run over POST",
            headers={"Allow": "POST"},
        ) from exc
    except CannotGetOperationTypeError as exc:
        # A request error like a document that does not validate, answered the same way.
        status = 400 if media_type == GRAPHQL_RESPONSE_JSON else 200
        raise HttpError(status, ErrorCode.BAD_USER_INPUT, operation_error_message(exc)) from exc
    except MissingQueryError as exc:
        raise HttpError(400, ErrorCode.BAD_USER_INPUT, str(exc)) from exc
    return result
