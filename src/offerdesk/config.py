"""Settings, read from the environment (prefix ``OFFERDESK_``); the one place they are defined."""

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
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
    # Answers of repeated queries kept per worker process until the next write (MiB; 0: off).
    response_cache_mb: int = Field(default=64, ge=0)
    # Query operations answered by one compiled SQL statement (graphql/compiler/); 0 sends
    # every operation through the executor, the reference (docs/decisions.md).
    compiled_reads: bool = True
    # Benchmarks only (bench/): serve /_bench/floor, a precomputed answer that measures what
    # this process's HTTP stack costs without GraphQL or the database. Never on in production.
    bench_floor: bool = False
    # Concurrency tests' control runs only (locking.py): every lock off, so the storms must
    # see the races the locks prevent. Refused in production.
    unsafe_disable_locks: bool = False

    @model_validator(mode="after")
    def _no_unsafe_switches_in_production(self) -> "Settings":
        if self.is_production and self.unsafe_disable_locks:
            raise ValueError("OFFERDESK_UNSAFE_DISABLE_LOCKS cannot be set in production")
        return self

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
