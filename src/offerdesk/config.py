"""Settings, read from the environment (prefix ``OFFERDESK_``); the one place they are defined."""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    # Answers of repeated queries kept per worker process until the next write (MiB; 0: off).
    response_cache_mb: int = Field(default=64, ge=0)
    # Benchmarks only (bench/): serve /_bench/floor, a precomputed answer that measures what
    # this process's HTTP stack costs without GraphQL or the database. Never on in production.
    bench_floor: bool = False

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
    def suggestions_enabled(self) -> bool:
        """ "Did you mean …?" hints in errors reveal the schema, like introspection does."""
        return self.introspection_enabled


@lru_cache
def get_settings() -> Settings:
    return Settings()
