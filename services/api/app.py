"""The application factory."""

from __future__ import annotations

import asyncio
import copy
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import RedirectResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from services.api import health
from services.api.agreements.amendments import router as amendments_router
from services.api.agreements.party_acts import router as party_acts_router
from services.api.agreements.router import router as agreements_router
from services.api.api_keys.cache import ApiKeyCache, ApiKeyChangeListener
from services.api.api_keys.router import router as api_keys_router
from services.api.audit.router import router as audit_router
from services.api.calendar.router import feeds_router as calendar_urls_router
from services.api.calendar.router import router as calendar_feeds_router
from services.api.contacts.router import router as contacts_router
from services.api.contract import HeadMiddleware, document_contract
from services.api.dashboard import UPLOAD_PATH as DASHBOARD_UPLOAD_PATH
from services.api.dashboard import install_dashboard
from services.api.docs import install_docs
from services.api.documents.router import router as documents_router
from services.api.documents.upload import MULTIPART_OVERHEAD_BYTES
from services.api.engagements.router import router as engagements_router
from services.api.event_types.router import document_webhooks, tidy_webhooks
from services.api.event_types.router import router as event_types_router
from services.api.events.router import router as events_router
from services.api.examples import document_examples
from services.api.exports.router import router as exports_router
from services.api.http import strict_query
from services.api.idempotency import document_idempotency, install_idempotency
from services.api.indicators.router import router as indicators_router
from services.api.initiatives.router import router as initiatives_router
from services.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from services.api.milestones.router import router as milestones_router
from services.api.notifications.router import log_router as notifications_router
from services.api.notifications.router import router as subscriptions_router
from services.api.notifications.router import unsubscribe_router
from services.api.organizations.router import router as organizations_router
from services.api.problems import document_problems, install_problem_handlers
from services.api.ratelimit.limiter import create_rate_limiter
from services.api.ratelimit.middleware import RateLimitMiddleware, document_rate_limits
from services.api.reports.router import router as reports_router
from services.api.research_collaborations.router import router as research_router
from services.api.response_cache import ResponseCache, ResponseCacheMiddleware
from services.api.rollups.router import router as rollups_router
from services.api.webhooks.router import deliveries_router as webhook_deliveries_router
from services.api.webhooks.router import router as webhook_endpoints_router
from shared.api_keys.service import ensure_api_key
from shared.data_version import version_reader
from shared.db import create_engine, create_read_sessionmaker, create_sessionmaker
from shared.logging import configure_logging
from shared.runtime_gc import settle_heap, settle_later
from shared.settings import Settings, get_settings

DESCRIPTION = """
Accords is the system of record for international cooperation agreements
(memoranda of understanding and their kin), the initiatives and milestones that
carry them out, the engagements that steer them and the research
collaborations they produce.

**Authentication**: `Authorization: Bearer <api key>` on every `/v1` route.
**Errors**: RFC 9457 `application/problem+json`.
**Concurrency**: every resource has a `version` and a strong `ETag`; `PATCH`
and `DELETE` need `If-Match` (428 without it, 412 when stale).
**Lists**: `?limit=` (1-200) and `?cursor=` from `next_cursor`.
"""

AfterCommit = Callable[[list[uuid.UUID]], Awaitable[None]]


async def _no_dispatch(_event_ids: list[uuid.UUID]) -> None:
    """Without a broker the outbox relay picks events up; nothing to do here."""


def create_app(
    settings: Settings | None = None,
    *,
    after_commit: AfterCommit | None = None,
    long_running: bool = False,
    engine: AsyncEngine | None = None,
) -> FastAPI:
    """Build the API. ``after_commit`` receives the ids of events each request committed.

    ``engine``: one its caller made for ``settings`` and disposes of, used by
    every run of the app's lifespan instead of one of its own (tests keep one
    per database, so its pool and its compiled statements outlive each test's
    app). Without it each lifespan makes an engine and disposes of it at the end.

    ``long_running``: the app is a server process's for its whole life (``accords
    serve``, ``accords dev``), so its heap is settled out of the garbage
    collector's way once started (shared.runtime_gc). Not for apps made and
    dropped in one process (tests): a frozen heap is never collected.
    """
    settings = settings or get_settings()
    configure_logging(log_format=settings.log_format, level=settings.log_level)
    given_engine = engine

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = given_engine or create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.read_sessionmaker = create_read_sessionmaker(engine)
        listener = None
        if engine.dialect.name == "postgresql":
            app.state.api_key_cache = ApiKeyCache()
            listener = ApiKeyChangeListener(engine, app.state.api_key_cache)
            listener.start()
            app.state.api_key_listener = listener
        publisher = None
        if after_commit is None and settings.broker_url:
            # Hand committed events to the broker right away (the relay is the safety net).
            from shared.broker import OutboxPublisher, build_broker

            publisher = OutboxPublisher(build_broker(settings.broker_url), app.state.sessionmaker)
            app.state.publisher = publisher
            app.state.after_commit = publisher.after_commit
        app.state.rate_limiter = create_rate_limiter(settings)
        reader = version_reader(settings.database_url) if settings.response_cache_mb else None
        if reader is not None:
            app.state.data_version_reader = reader
            app.state.response_cache = ResponseCache(
                max_bytes=settings.response_cache_mb * 1024 * 1024,
                ttl_seconds=settings.response_cache_ttl_seconds,
            )
        if settings.bootstrap_api_key:
            async with app.state.sessionmaker() as session:
                await ensure_api_key(session, key=settings.bootstrap_api_key, name="bootstrap")
                await session.commit()
        settling = []
        if long_running:
            settle_heap()
            settling = settle_later(asyncio.get_running_loop())
        try:
            yield
        finally:
            for handle in settling:
                handle.cancel()
            if publisher is not None:
                await publisher.drain()
                publisher.close()
            await app.state.rate_limiter.aclose()
            if reader is not None:
                app.state.response_cache = None
                await reader.aclose()
            if listener is not None:
                await listener.aclose()
            if given_engine is None:
                await engine.dispose()

    app = FastAPI(
        title="Accords API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(strict_query)],
        # Served by install_docs from packaged assets (no CDN).
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.api_key_cache = None  # on PostgreSQL, made by the lifespan
    app.state.response_cache = None  # made by the lifespan, with its version reader
    app.state.data_version_reader = None
    app.state.after_commit = after_commit or _no_dispatch
    install_problem_handlers(app)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        allowances={
            path: settings.max_document_bytes + MULTIPART_OVERHEAD_BYTES
            for path in ("/v1/documents", DASHBOARD_UPLOAD_PATH)
        },
    )
    # Inside the rate limit, the request context and HEAD: those run on every request.
    app.add_middleware(ResponseCacheMiddleware)
    app.add_middleware(RateLimitMiddleware)
    app.add_middleware(
        RequestContextMiddleware, strict_transport=settings.public_url.startswith("https://")
    )
    app.add_middleware(HeadMiddleware)

    app.include_router(health.router)
    app.include_router(organizations_router)
    app.include_router(agreements_router)
    app.include_router(party_acts_router)
    app.include_router(amendments_router)
    app.include_router(initiatives_router)
    app.include_router(milestones_router)
    app.include_router(indicators_router)
    app.include_router(reports_router)
    app.include_router(engagements_router)
    app.include_router(research_router)
    app.include_router(api_keys_router)
    app.include_router(rollups_router)
    app.include_router(events_router)
    app.include_router(audit_router)
    app.include_router(contacts_router)
    app.include_router(documents_router)
    app.include_router(webhook_endpoints_router)
    app.include_router(webhook_deliveries_router)
    app.include_router(calendar_feeds_router)
    app.include_router(calendar_urls_router)
    app.include_router(subscriptions_router)
    app.include_router(notifications_router)
    app.include_router(unsubscribe_router)
    app.include_router(exports_router)
    app.include_router(event_types_router)
    document_webhooks(app)
    install_docs(app)
    install_dashboard(app)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/app/")

    # After every router: wraps each POST route's handler.
    install_idempotency(app)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            key = _routes_key(app)
            if key not in _OPENAPI_DOCUMENTS:
                _OPENAPI_DOCUMENTS[key] = _build_openapi(app)
            # A copy: whatever one app's caller does to it stays with that app.
            app.openapi_schema = copy.deepcopy(_OPENAPI_DOCUMENTS[key])
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


def create_server_app() -> FastAPI:
    """The app of an ``accords serve`` worker process (uvicorn's factory)."""
    return create_app(long_running=True)


# The document is built once per process for each distinct set of routes
# (every app create_app makes has the same): building it takes seconds.
_OPENAPI_DOCUMENTS: dict[tuple[Any, ...], dict[str, Any]] = {}


def _routes_key(app: FastAPI) -> tuple[Any, ...]:
    def described(route: Any) -> tuple[Any, ...]:
        endpoint = getattr(route, "endpoint", None)
        return (
            type(route).__qualname__,
            getattr(route, "path", None),
            tuple(sorted(getattr(route, "methods", None) or ())),
            getattr(route, "name", None),
            getattr(endpoint, "__module__", None),
            getattr(endpoint, "__qualname__", None),
            getattr(route, "include_in_schema", None),
        )

    return (
        app.title,
        app.version,
        app.description,
        tuple(map(described, app.routes)),
        tuple(map(described, app.webhooks.routes)),
    )


def _build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        webhooks=app.webhooks.routes,
    )
    schema.setdefault("components", {})["securitySchemes"] = {
        "bearer": {"type": "http", "scheme": "bearer", "description": "An Accords api key."}
    }
    for path, path_item in schema.get("paths", {}).items():
        if path.startswith("/v1"):
            for operation in path_item.values():
                operation["security"] = [{"bearer": []}]
    return document_examples(
        tidy_webhooks(
            document_contract(document_rate_limits(document_idempotency(document_problems(schema))))
        )
    )
