"""Settings, read from the environment (prefix ``OFFERDESK_``); the one place they are defined."""

import re
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

# The async driver each database needs. A URL that names only the database
# (``postgresql://…``, ``sqlite:///…``) gets it: SQLAlchemy would otherwise pick a synchronous
# driver that is not installed (psycopg2/psycopg) or cannot run under asyncio.
ASYNC_DRIVERS = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
}
SUPPORTED_DRIVERS = frozenset(ASYNC_DRIVERS.values())


def with_async_driver(url: str) -> str:
    """``url`` with the async driver added when it names none; any other URL is returned as
    it is (an unsupported or malformed one is reported where it is used, see preflight.py).

    ``postgresql://u@h/db`` and ``postgres://…`` become ``postgresql+asyncpg://…``;
    ``sqlite:///x.db`` becomes ``sqlite+aiosqlite:///x.db``.
    """
    scheme, separator, rest = url.strip().partition("://")
    driver = ASYNC_DRIVERS.get(scheme.lower())
    if not separator or driver is None:
        return url
    return f"{driver}://{rest}"


def describe_database(url: str) -> str:
    """Where a database URL points, for people: the absolute file of a SQLite URL, or the
    URL with its password masked (``***``). Never raises; an unparsable URL is described as
    such (without echoing it, since it may hold a password)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return "an unparsable OFFERDESK_DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            return "SQLite in memory"
        return f"SQLite file {Path(parsed.database).resolve()}"
    return parsed.render_as_string(hide_password=True)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OFFERDESK_", env_file=None, extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./offerdesk.db"
    # "production" turns off every development convenience at once (GraphiQL, introspection,
    # field suggestions); the individual switches below can still be set explicitly.
    env: Literal["development", "production"] = "development"
    graphiql: bool | None = None
    introspection: bool | None = None
    # Queries over GET (allowed by the GraphQL-over-HTTP spec, useful for HTTP caches); off in
    # production, where nothing needs them and scanners flag them.
    get_queries: bool | None = None
    token_ttl_seconds: int = Field(default=86400, ge=60)
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=10, ge=0)
    # SQLite waits this long for a competing writer before giving up (milliseconds).
    sqlite_busy_timeout_ms: int = Field(default=30000, ge=0)
    log_level: str = "INFO"
    # "json": one JSON object per log line, for log collectors; "text": for people.
    log_format: Literal["text", "json"] = "text"
    # One line per HTTP request (logs.py), at INFO on the logger "offerdesk.access".
    access_log: bool = True
    # Query limits (graphql/limits.py says where the defaults come from).
    max_query_depth: int = Field(default=10, ge=1)
    max_aliases: int = Field(default=15, ge=0)
    max_directives: int = Field(default=50, ge=0)
    max_tokens: int = Field(default=1000, ge=10)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    # The most fields an answer can hold, list sizes multiplied (graphql/cost.py).
    max_query_cost: int = Field(default=1_500_000, ge=1)
    # Every request's time budget (seconds), from the end of its body to its answer: past it the
    # request is answered 503 SERVICE_UNAVAILABLE and its transaction rolled back. On PostgreSQL
    # it is also each statement's ``statement_timeout`` and the session's
    # ``idle_in_transaction_session_timeout``, so the server itself ends what the process could
    # not (an event loop blocked by a huge answer cannot commit or roll back in time).
    request_timeout_seconds: float = Field(default=30, gt=0, le=3600)
    # How long a client may take to send its request body (seconds); slower: 408.
    body_read_timeout_seconds: float = Field(default=10, gt=0, le=3600)
    # Request headers (offerdesk serve, server.py): time to receive them (seconds), their total
    # size with the request line (bytes) and their number; beyond: 408 or 431, connection closed.
    header_read_timeout_seconds: float = Field(default=10, gt=0, le=3600)
    max_header_bytes: int = Field(default=32_768, ge=1024)
    max_headers: int = Field(default=100, ge=10)
    # The largest answer sent (bytes of JSON); larger ones are refused with TOO_COMPLEX.
    max_response_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    # Per worker process, each bounded by the bytes its entries hold (MiB; graphql/lru.py,
    # docs/decisions.md "Memory"): answers of repeated queries until the next write (0: off);
    # parsed and validated documents; compiled reads' plans.
    response_cache_mb: int = Field(default=64, ge=0)
    document_cache_mb: int = Field(default=16, ge=1)
    plan_cache_mb: int = Field(default=32, ge=1)
    # Rate limits (ratelimit.py), "COUNT/SECONDS" or empty (off): requests to /graphql per API
    # client, and refused authentications per client address.
    rate_limit: str = ""
    auth_failure_limit: str = ""
    # GET /metrics (Prometheus) answers requests bearing this token; empty: no /metrics at
    # all. At least 16 characters, since it guards operational detail.
    metrics_token: str = ""
    # Web pages on these origins may call the API from a browser (CORS), comma- or
    # space-separated, e.g. "https://admin.example.com, https://intranet.example.com";
    # "*" allows any origin. Empty (the default): no cross-origin access at all.
    cors_origins: str = ""
    # Query operations answered by one compiled SQL statement (graphql/compiler/); 0 sends
    # every operation through the executor, the reference (docs/decisions.md).
    compiled_reads: bool = True
    # Known enrollUserInOfferEvent documents carried out without the executor on PostgreSQL:
    # the token check, the enrollment function and the compiled payload (graphql/direct.py);
    # 0 sends every mutation through the executor, the reference (docs/decisions.md).
    compiled_writes: bool = True
    # Benchmarks only (bench/): serve /_bench/floor, a precomputed answer that measures what
    # this process's HTTP stack costs without GraphQL or the database. Never on in production.
    bench_floor: bool = False
    # Events out (issue 12, docs/webhooks.md). The change feed and the delivery log keep 30
    # days; then the dispatcher prunes them.
    outbox_retention_days: int = Field(default=30, ge=1)
    # Run the webhook dispatcher in every ``offerdesk serve`` process (off: only in
    # ``offerdesk worker`` processes).
    webhook_dispatcher: bool = True
    # How often an idle dispatcher looks for new events and due deliveries (seconds).
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    # One delivery attempt's limit (seconds), connecting and reading the answer.
    webhook_timeout_seconds: float = Field(default=10, gt=0, le=300)
    # Attempts before a delivery is marked FAILED, and the first retry's delay (seconds;
    # doubled each time, at most an hour, with jitter): 72 attempts take about three days.
    webhook_max_attempts: int = Field(default=72, ge=1, le=1000)
    webhook_retry_base_seconds: float = Field(default=5, gt=0, le=3600)
    # Subscription URLs with http (not https); default: allowed outside production.
    webhook_allow_http: bool | None = None
    # Subscription URLs resolving to loopback, private, link-local or metadata addresses
    # (SSRF); default: allowed outside production. Hosts named here are always allowed,
    # comma- or space-separated, e.g. "hooks.internal.example, 10.0.0.7".
    webhook_allow_private: bool | None = None
    webhook_allowed_hosts: str = ""
    # Concurrency tests' control runs only (locking.py): every lock off, so the storms must
    # see the races the locks prevent. Refused in production.
    unsafe_disable_locks: bool = False

    @model_validator(mode="after")
    def _no_unsafe_switches_in_production(self) -> "Settings":
        if self.is_production and self.unsafe_disable_locks:
            raise ValueError("OFFERDESK_UNSAFE_DISABLE_LOCKS cannot be set in production")
        return self

    @field_validator("rate_limit", "auth_failure_limit")
    @classmethod
    def _budget(cls, value: str) -> str:
        found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
        if value.strip() and (not found or int(found[1]) < 1 or int(found[2]) < 1):
            raise ValueError('must be "COUNT/SECONDS", e.g. "600/60", or empty (off)')
        return value

    @field_validator("metrics_token")
    @classmethod
    def _strong_metrics_token(cls, value: str) -> str:
        if value and len(value) < 16:
            raise ValueError("must be empty (no /metrics) or at least 16 characters")
        return value

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, value: str) -> str:
        return with_async_driver(value)

    @property
    def cors_origin_list(self) -> list[str]:
        """The origins of ``cors_origins``, each without a trailing slash (a browser's
        Origin header never has one, so ``https://a.example/`` would never match)."""
        return [origin.rstrip("/") for origin in self.cors_origins.replace(",", " ").split()]

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return (not self.is_production) if self.graphiql is None else self.graphiql

    @property
    def introspection_enabled(self) -> bool:
        return (not self.is_production) if self.introspection is None else self.introspection

    @property
    def get_queries_enabled(self) -> bool:
        return (not self.is_production) if self.get_queries is None else self.get_queries

    @property
    def webhook_http_allowed(self) -> bool:
        return (
            (not self.is_production) if self.webhook_allow_http is None else self.webhook_allow_http
        )

    @property
    def webhook_private_allowed(self) -> bool:
        if self.webhook_allow_private is None:
            return not self.is_production
        return self.webhook_allow_private

    @property
    def suggestions_enabled(self) -> bool:
        """ "Did you mean …?" hints in errors reveal the schema, like introspection does."""
        return self.introspection_enabled


@lru_cache
def get_settings() -> Settings:
    return Settings()
