"""The ASGI application: routes, and the database engine's start and stop."""

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from offerdesk import locking, metrics
from offerdesk.auth.http import token_endpoint
from offerdesk.config import Settings, get_settings
from offerdesk.db import Database
from offerdesk.graphql.cache import ResponseCache
from offerdesk.graphql.http import STATIC_DIR, DirectRoute, graphql_endpoint
from offerdesk.graphql.limits import BodySizeLimit
from offerdesk.graphql.schema import SchemaOptions, build_schema
from offerdesk.idempotency import Idempotency
from offerdesk.logs import AccessLog, configure_logging
from offerdesk.preflight import explain
from offerdesk.ratelimit import Budget, CallerKeys, RateLimit
from offerdesk.webhooks.dispatcher import Dispatcher

log = logging.getLogger("offerdesk")


async def healthz(_: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    db: Database = request.app.state.db
    try:
        async with db.engine.connect() as connection:
            # The migrations' own table: a reachable but empty or wrong database (a SQLite
            # path that just created a new file) is not ready either.
            await connection.execute(text("SELECT version_num FROM alembic_version"))
    except Exception as exc:
        # One line per failed probe, not a traceback: a load balancer probes every few
        # seconds, and the cause is the same each time.
        reason = (explain(exc, db.url) or f"{type(exc).__name__}: {exc}").splitlines()[0]
        log.warning("readiness check failed: %s", reason[:300])
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "reachable"})


FLOOR_MAX_BYTES = 16 * 1024 * 1024


@lru_cache(maxsize=32)
def _floor_body(size: int) -> bytes:
    """``size`` bytes of valid JSON, shaped like a GraphQL answer (built once per size)."""
    head, tail = b'{"data":{"floor":"', b'"}}'
    return head + b"x" * max(size - len(head) - len(tail), 0) + tail


async def bench_floor(request: Request) -> Response:
    """The HTTP floor for bench/: the same process, routing and middleware as /graphql, and
    a body of the size asked for, but no GraphQL and no database."""
    try:
        size = int(request.query_params.get("bytes", "1024"))
    except ValueError:
        return JSONResponse({"error": "bytes must be an integer"}, status_code=400)
    if not 0 <= size <= FLOOR_MAX_BYTES:
        return JSONResponse({"error": f"bytes must be 0 to {FLOOR_MAX_BYTES}"}, status_code=400)
    # Read the request body as /graphql does, so receiving it is part of the floor too.
    await request.body()
    return Response(_floor_body(size), media_type="application/json; charset=utf-8")


def tune_gc() -> None:
    """Fewer, cheaper garbage collections in a serving process (bench/PASS.md measures it).

    What exists at start-up (modules, the schema, the ORM mappers) lives as long as the
    process: frozen, it is no longer walked by every full collection. A request that builds a
    large answer allocates hundreds of thousands of short-lived objects, almost none of them in
    cycles; with the default first threshold (700) the collector would run hundreds of times
    per catalogue page.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(25_000, 20, 10)


def _pool_capacity(settings: Settings) -> int:
    """The most connections one process's pool may open (SQLAlchemy's QueuePool defaults
    are 5 + 10 on SQLite, where Offerdesk does not size the pool)."""
    if settings.database_url.startswith("sqlite"):
        return 15
    return settings.db_pool_size + settings.db_max_overflow


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    if not logging.getLogger().handlers:
        # A worker process started by ``serve --workers N`` (or any server given this
        # factory) logs like the command does; a host that set up logging keeps its own.
        configure_logging(settings.log_level, settings.log_format)
    # The engine is created here, not in the lifespan, so an app used without a lifespan
    # (a test client) still works; its pool connects lazily on first use.
    database = Database(settings.database_url, settings)
    callers = CallerKeys(database)
    middleware = [
        Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes),
        # Inside the body limit: both read the body first, which must not bypass the limit.
        # Requests graphql/direct.py answers are answered before the router (DirectRoute).
        Middleware(DirectRoute),
        Middleware(
            Idempotency,
            db=database,
            caller_key=callers,
            body_timeout=settings.body_read_timeout_seconds,
        ),
    ]
    per_client = Budget.parse(settings.rate_limit)
    auth_failures = Budget.parse(settings.auth_failure_limit)
    if per_client or auth_failures:
        middleware.insert(
            0,
            Middleware(
                RateLimit,
                db=database,
                per_client=per_client,
                auth_failures=auth_failures,
            ),
        )
    origins = settings.cors_origin_list
    if origins:
        middleware.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=origins,
                allow_methods=["GET", "POST"],
                # What a GraphQL client sends; bearer tokens, never cookies (no credentials).
                allow_headers=["Authorization", "Content-Type", "Accept", "X-Request-Id"],
                expose_headers=["X-Request-Id", "Retry-After", "WWW-Authenticate"],
                max_age=600,
            ),
        )
    observer = metrics.observe_request if settings.metrics_token else None
    if settings.access_log or observer is not None:
        # Outermost, so requests refused by the other middleware are logged and counted too.
        middleware.insert(0, Middleware(AccessLog, log=settings.access_log, observer=observer))
    locking.set_enabled(not settings.unsafe_disable_locks)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        tune_gc()
        # Webhook delivery runs beside the requests, never in them (webhooks/dispatcher.py).
        stop = asyncio.Event()
        dispatching = (
            asyncio.create_task(Dispatcher(app.state.db, settings).run(stop))
            if settings.webhook_dispatcher
            else None
        )
        yield
        stop.set()
        if dispatching is not None:
            await dispatching
        await app.state.db.dispose()
        metrics.process_exited()

    graphql_methods = ["GET", "POST"]
    routes: list[BaseRoute] = []
    if settings.graphiql_enabled:
        routes.append(Mount("/graphiql/static", StaticFiles(directory=STATIC_DIR)))
    if settings.metrics_token:
        routes.append(Route("/metrics", metrics.metrics_endpoint, methods=["GET"]))
    if settings.bench_floor:
        routes.append(Route("/_bench/floor", bench_floor, methods=["GET", "POST"]))
    app = Starlette(
        routes=[
            *routes,
            Route("/graphql", graphql_endpoint, methods=graphql_methods),
            Route("/graphql/", graphql_endpoint, methods=graphql_methods),
            Route("/oauth/token/", token_endpoint, methods=["POST"]),
            Route("/oauth/token", token_endpoint, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
        middleware=middleware,
    )
    app.router.redirect_slashes = False
    app.state.settings = settings
    app.state.db = database
    if settings.metrics_token:
        metrics.install(app.state.db.engine, _pool_capacity(settings))
    app.state.schema = build_schema(SchemaOptions.from_settings(settings))
    app.state.response_cache = (
        ResponseCache(settings.response_cache_mb * 1024 * 1024)
        if settings.response_cache_mb
        else None
    )
    return app
