"""``POST /oauth/token/``: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4).

Every form field and the Basic credentials are checked (length, NUL, number of fields) before
anything reaches the database driver, and need no credentials to be sent, so they are the
first thing a hostile client tries.
"""

import asyncio
import base64
import binascii
import logging
from urllib.parse import parse_qs, unquote

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from offerdesk.auth import service
from offerdesk.auth.scopes import parse_scopes
from offerdesk.config import Settings
from offerdesk.db import Database
from offerdesk.errors import DomainError
from offerdesk.transient import RETRY_AFTER_SECONDS, is_lost_connection, is_transient

log = logging.getLogger("offerdesk.oauth")

# Client ids are "odc_" and 16 characters, secrets 43: anything much longer is not one of
# ours and is refused before it is hashed or sent to the database.
MAX_CREDENTIAL_LENGTH = 256
# A scope list names at most the six scopes; 1,000 characters leaves room for any spelling.
MAX_FIELD_LENGTH = 1000
# grant_type, scope, client_id, client_secret, and a few a client library may add.
MAX_FIELDS = 20

# Token responses must never be cached (RFC 6749 §5.1).
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="offerdesk"'
    return Response(
        orjson.dumps({"error": error, "error_description": description}),
        status_code=status,
        media_type="application/json",
        headers=headers,
    )


class InvalidRequest(Exception):
    """A malformed token request: 400 invalid_request with ``description``."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InvalidClient(InvalidRequest):
    """Client authentication that cannot be one of ours: 401 invalid_client (RFC 6749 §5.2)."""


def _checked(name: str, value: str, max_length: int) -> str:
    if "\x00" in value:
        raise InvalidRequest(f"{name} must not contain the NUL character")
    if len(value) > max_length:
        raise InvalidRequest(f"{name} must be at most {max_length} characters")
    return value


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    """(client_id, client_secret) from an ``Authorization: Basic`` header, None without one.

    Raises InvalidClient when the header is there but is not Basic credentials of a sane size
    without NUL (RFC 6749 §2.3.1: both parts form-urlencoded, then base64)."""
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    encoded = encoded.strip()
    if len(encoded) > 4 * MAX_CREDENTIAL_LENGTH:
        raise InvalidClient("the Basic credentials are too long")
    try:
        client_id, colon, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidClient("the Basic credentials are not base64 of client_id:secret") from exc
    if not colon:
        raise InvalidClient("the Basic credentials are not base64 of client_id:secret")
    try:
        return (
            _checked("client_id", unquote(client_id), MAX_CREDENTIAL_LENGTH),
            _checked("client_secret", unquote(secret), MAX_CREDENTIAL_LENGTH),
        )
    except InvalidRequest as exc:
        raise InvalidClient(exc.description) from exc


def _form(body: bytes) -> dict[str, str]:
    """The form's fields, each present once, of a sane size and without NUL."""
    try:
        fields = parse_qs(body.decode(), strict_parsing=False, max_num_fields=MAX_FIELDS)
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the body is not UTF-8") from exc
    except ValueError as exc:
        raise InvalidRequest(f"the body has more than {MAX_FIELDS} fields") from exc
    repeated = sorted(key for key, values in fields.items() if len(values) > 1)
    if repeated:
        # RFC 6749 §3.2: a parameter must not be included more than once. (Names are echoed
        # only once checked, so the description carries no NUL or megabyte of name.)
        for key in repeated:
            _checked("a parameter name", key, MAX_FIELD_LENGTH)
        raise InvalidRequest(f"repeated parameter(s): {', '.join(repeated)}")
    form = {}
    for key, values in fields.items():
        _checked("a parameter name", key, MAX_FIELD_LENGTH)
        limit = MAX_CREDENTIAL_LENGTH if key in ("client_id", "client_secret") else MAX_FIELD_LENGTH
        form[key] = _checked(key, values[0], limit)
    return form


async def _read(request: Request, settings: Settings) -> bytes:
    async with asyncio.timeout(settings.body_read_timeout_seconds):
        return await request.body()


async def token_endpoint(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return _oauth_error("invalid_request", "the body must be application/x-www-form-urlencoded")
    try:
        form = _form(await _read(request, settings))
        basic = _basic_credentials(request)
    except InvalidClient as exc:
        return _oauth_error("invalid_client", exc.description, 401)
    except InvalidRequest as exc:
        return _oauth_error("invalid_request", exc.description)
    except TimeoutError:
        return _oauth_error("invalid_request", "the request body did not arrive in time", 408)
    except ClientDisconnect:
        log.info("token request: the client disconnected before sending its body")
        return _oauth_error("invalid_request", "the client disconnected")
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            "unsupported_grant_type", "only grant_type=client_credentials is supported"
        )
    if basic is not None and ("client_id" in form or "client_secret" in form):
        # RFC 6749 §2.3: a client uses one authentication method per request.
        return _oauth_error(
            "invalid_request", "send the client credentials in the Basic header or the body"
        )
    credentials = basic or (form.get("client_id", ""), form.get("client_secret", ""))
    db: Database = request.app.state.db
    try:
        async with db.time_budget(settings.request_timeout_seconds):
            try:
                return await _grant(db, settings, form, credentials)
            except Exception as exc:
                # A pooled connection that died while idle (a database restart) fails the first
                # statement; SQLAlchemy renews the pool and a second attempt gets a live one.
                # At worst the first attempt committed a token the client never saw: harmless.
                if not is_lost_connection(exc):
                    raise
            return await _grant(db, settings, form, credentials)
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.warning("token request: database unavailable: %r", exc)
        headers = dict(_NO_STORE)
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return Response(
            orjson.dumps(
                {
                    "error": "temporarily_unavailable",
                    "error_description": "the service is unavailable; nothing was issued, "
                    f"retry in {RETRY_AFTER_SECONDS} s",
                }
            ),
            status_code=503,
            media_type="application/json",
            headers=headers,
        )


async def _grant(
    db: Database, settings: Settings, form: dict[str, str], credentials: tuple[str, str]
) -> Response:
    async with db.transaction() as session:
        client = await service.authenticate_client(session, *credentials)
        if client is None:
            return _oauth_error("invalid_client", "unknown client or wrong secret", 401)
        granted = parse_scopes(client.scopes)
        try:
            requested = parse_scopes(form["scope"]) if form.get("scope") else granted
        except DomainError as exc:
            return _oauth_error("invalid_scope", exc.message)
        if not requested <= granted:
            missing = " ".join(sorted(requested - granted))
            return _oauth_error("invalid_scope", f"the client may not request: {missing}")
        issued = await service.issue_token(session, requested, settings.token_ttl_seconds, client)
    return Response(
        orjson.dumps(
            {
                "access_token": issued.token,
                "token_type": "Bearer",
                "expires_in": issued.expires_in,
                "scope": " ".join(sorted(issued.scopes)),
            }
        ),
        media_type="application/json",
        headers=_NO_STORE,
    )
