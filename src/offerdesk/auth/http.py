"""``POST /oauth/token/``: the OAuth 2.0 client-credentials grant (RFC 6749 §4.4)."""

import base64
import binascii
from urllib.parse import parse_qs, unquote

import orjson
from starlette.requests import Request
from starlette.responses import Response

from offerdesk.auth import service
from offerdesk.auth.scopes import parse_scopes
from offerdesk.db import Database
from offerdesk.errors import DomainError

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


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(client_id), unquote(secret)


async def token_endpoint(request: Request) -> Response:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return _oauth_error("invalid_request", "the body must be application/x-www-form-urlencoded")
    try:
        fields = parse_qs((await request.body()).decode(), strict_parsing=False)
    except UnicodeDecodeError:
        return _oauth_error("invalid_request", "the body is not UTF-8")
    repeated = sorted(key for key, values in fields.items() if len(values) > 1)
    if repeated:
        # RFC 6749 §3.2: a parameter must not be included more than once.
        return _oauth_error("invalid_request", f"repeated parameter(s): {', '.join(repeated)}")
    form = {key: values[0] for key, values in fields.items()}
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(
            "unsupported_grant_type", "only grant_type=client_credentials is supported"
        )
    basic = _basic_credentials(request)
    if basic is not None and ("client_id" in form or "client_secret" in form):
        # RFC 6749 §2.3: a client uses one authentication method per request.
        return _oauth_error(
            "invalid_request", "send the client credentials in the Basic header or the body"
        )
    credentials = basic or (form.get("client_id", ""), form.get("client_secret", ""))
    db: Database = request.app.state.db
    ttl = request.app.state.settings.token_ttl_seconds
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
        issued = await service.issue_token(session, requested, ttl, client)
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
