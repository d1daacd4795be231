"""The read path of every GET: an answer is given again while nothing it depends on changed.

An answer depends on the request (path, query, credentials and every other
header but the tracing ones), on the committed data, and on the day (overdue
milestones, reports due). So a ``GET`` under ``/v1/`` or ``/app/`` is first
looked up by its request, and the entry is used only when it was stored at
the same data version (shared.data_version, one indexed read per request)
and on the same day, at most ``ttl`` seconds ago. Otherwise the request goes
through its route as always, and a complete ``200`` answer without cookies is
kept for the next identical request.

Nothing is restated here: the route, its dependencies (authentication,
scopes, organization binding, headers) and its serialization made the answer
the first time, from the same data. A write anywhere (including a revoked
key, a new party, a rollup the worker stored) moves the data version, so the
next read goes through the route again: read-your-writes for the writer and
nothing stale after commit, in every process. The middlewares outside this
one (request id, access log, security headers, rate limit, HEAD) run on every
request, cached or not.

What the data cannot tell (an idle dashboard session timing out, a page
saying "3 minutes ago") is at most ``ttl`` seconds behind. A route that must
run every time sets ``request.state.response_cache = False``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.clock import today
from shared.data_version import VersionReader

log = structlog.get_logger("accords.api")

CACHED_PREFIXES = ("/v1/", "/app/")
# Headers that only trace a request; the access log and the answer's
# X-Request-Id are made outside this middleware, on every request.
UNKEYED_HEADERS = frozenset({b"x-request-id", b"traceparent", b"tracestate"})
OPT_OUT = "response_cache"

OUTCOMES = Counter(
    "accords_response_cache_total",
    "GET answers by the response cache: hit (given again), miss (made by the route), "
    "bypass (not cacheable)",
    ["outcome"],
)
_HIT = OUTCOMES.labels("hit")
_MISS = OUTCOMES.labels("miss")
_BYPASS = OUTCOMES.labels("bypass")


@dataclass(frozen=True, slots=True)
class Entry:
    version: int
    day: dt.date
    stored_at: float
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    route: Any  # for the access log and metrics of a cached answer
    # Seconds it may be given again (None: the cache's ttl); spread between half
    # the ttl and all of it, so entries made together are not all made again together.
    lifetime: float | None = None

    @property
    def size(self) -> int:
        return len(self.body) + sum(len(name) + len(value) for name, value in self.headers) + 256


class ResponseCache:
    """Answers by request, bounded in bytes, least recently used out first."""

    def __init__(
        self,
        *,
        max_bytes: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_bytes = max_bytes
        self.max_entry_bytes = max(max_bytes // 16, 1)
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._entries: OrderedDict[Any, Entry] = OrderedDict()
        self._bytes = 0
        # Answers being made, by key: (version, day, what the maker will keep).
        self._making: dict[Any, tuple[int, dt.date, asyncio.Future[Entry | None]]] = {}
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Any, version: int, day: dt.date) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if (
            entry.version != version
            or entry.day != day
            or self.clock() - entry.stored_at > (entry.lifetime or self.ttl_seconds)
        ):
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    def put(self, key: Any, entry: Entry) -> bool:
        size = entry.size
        if size > self.max_entry_bytes:
            return False
        if key in self._entries:
            self._drop(key)
        self._entries[key] = entry
        self._bytes += size
        while self._bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))
        return True

    async def made_by_another(self, key: Any, version: int, day: dt.date) -> Entry | None:
        """The answer an identical request is making at this version, once made.

        So that requests which miss together (a new version, an entry timed
        out) do not all run the route: one does, the others take its answer.
        """
        making = self._making.get(key)
        if making is None or making[0] != version or making[1] != day:
            return None
        return await asyncio.shield(making[2])

    def start_making(self, key: Any, version: int, day: dt.date) -> asyncio.Future[Entry | None]:
        made: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._making[key] = (version, day, made)
        return made

    def finish_making(
        self, key: Any, made: asyncio.Future[Entry | None], entry: Entry | None
    ) -> None:
        """Keep ``entry`` (None: nothing to keep) and hand it to those waiting for it."""
        if entry is not None:
            self.put(key, entry)
        current = self._making.get(key)
        if current is not None and current[2] is made:
            del self._making[key]
        if not made.done():
            made.set_result(entry)

    def _drop(self, key: Any) -> None:
        self._bytes -= self._entries.pop(key).size


def request_key(scope: Scope) -> tuple[Any, ...]:
    headers = tuple(header for header in scope["headers"] if header[0] not in UNKEYED_HEADERS)
    return (
        scope.get("scheme"),
        scope.get("root_path", ""),
        scope["path"],
        scope["query_string"],
        headers,
    )


def _cacheable_request(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    if not scope["path"].startswith(CACHED_PREFIXES):
        return False
    # A GET with a body: the key would not hold it.
    return not any(
        name in (b"content-length", b"transfer-encoding") and value not in (b"0",)
        for name, value in scope["headers"]
    )


class ResponseCacheMiddleware:
    """Serves GET answers from ``app.state.response_cache`` (made by the lifespan)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = getattr(scope.get("app"), "state", None)
        cache: ResponseCache | None = getattr(state, "response_cache", None)
        reader: VersionReader | None = getattr(state, "data_version_reader", None)
        if cache is None or reader is None or not _cacheable_request(scope):
            await self.app(scope, receive, send)
            return
        key = request_key(scope)
        try:
            # Read before the route runs: what it then reads is this version or newer.
            version = await reader.read()
        except Exception as exc:  # the route answers (or fails) as it would without a cache
            log.warning("data_version_unreadable", error=type(exc).__name__)
            _BYPASS.inc()
            await self.app(scope, receive, send)
            return
        day = today()
        entry = cache.get(key, version, day) or await cache.made_by_another(key, version, day)
        if entry is not None:
            cache.hits += 1
            _HIT.inc()
            if entry.route is not None:
                scope["route"] = entry.route
            await send(
                {
                    "type": "http.response.start",
                    "status": entry.status,
                    "headers": list(entry.headers),
                }
            )
            await send({"type": "http.response.body", "body": entry.body})
            return

        cache.misses += 1
        _MISS.inc()
        started: dict[str, Any] = {}
        body: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                started["status"] = message["status"]
                started["headers"] = tuple(message.get("headers", ()))
            elif message["type"] == "http.response.body" and started:
                if message.get("more_body", False) or body:
                    started["streamed"] = True
                body.append(message.get("body", b""))
            await send(message)

        made = cache.start_making(key, version, day)
        entry = None
        try:
            await self.app(scope, receive, keep)
            if _storable(scope, started):
                entry = Entry(
                    version=version,
                    day=day,
                    stored_at=cache.clock(),
                    status=started["status"],
                    headers=started["headers"],
                    body=b"".join(body),
                    route=scope.get("route"),
                    lifetime=cache.ttl_seconds * (0.5 + random.random() / 2),
                )
        finally:
            cache.finish_making(key, made, entry)


def _storable(scope: Scope, started: dict[str, Any]) -> bool:
    if started.get("status") != 200 or started.get("streamed"):
        return False
    if scope.get("state", {}).get(OPT_OUT) is False:
        return False
    return not any(name.lower() == b"set-cookie" for name, _ in started["headers"])
