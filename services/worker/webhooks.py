"""Webhook fan-out and delivery.

Fan-out
    :func:`fan_out` is an event handler: in the consumer's transaction it adds
    one ``webhook_deliveries`` row per enabled endpoint that wants the event
    (unique per endpoint and event, so a redelivered event adds nothing).

Delivery
    Deliveries are driven by the database, not by broker messages: a
    delivery is due when ``status = 'pending'`` and ``next_attempt_at <= now``.
    :func:`claim_due` takes a batch (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
    so several workers share the work) and pushes each ``next_attempt_at`` out
    by a lease before committing; the HTTP request then runs outside any
    transaction, and :func:`record_outcome` writes the attempt and the next
    step. A worker killed mid-send leaves its deliveries due again when the
    lease runs out: nothing is lost, at worst sent twice with the same
    ``webhook-id`` (receivers deduplicate on it).

Sending
    One pooled ``httpx.AsyncClient`` per process (:class:`WebhookSender`),
    redirects not followed (a redirect is a failure), no proxies from the
    environment. Its connection backend resolves the target name, refuses
    non-public addresses (unless private targets are allowed) and connects to
    the very address it checked, so DNS rebinding cannot slip past the check.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
import structlog
from sqlalchemy import event as sa_event
from sqlalchemy import insert, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.worker.dispatch import batch_handler
from shared.db import create_autocommit_sessionmaker, utcnow
from shared.events import Actor, Aggregate, record_change
from shared.ids import uuid7
from shared.models import (
    AgreementParty,
    OutboxEvent,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)
from shared.net import TargetRefused, TargetUnresolvable, checked_addresses
from shared.secret_box import SecretBox, SecretKeyMissing
from shared.settings import Settings
from shared.webhooks.rules import (
    delivery_body,
    delivery_headers,
    event_matches,
    parse_retry_after,
    retry_delay,
    should_disable,
    signing_secrets,
    truncate_response_body,
)

log = structlog.get_logger("accords.webhooks")

# A claimed delivery is not claimed again for this long past the send timeout.
LEASE_MARGIN_SECONDS = 10.0
# last_success_at is refreshed at most this often per endpoint: a busy,
# healthy endpoint would otherwise serialise every success on its row lock.
SUCCESS_STAMP_EVERY = dt.timedelta(seconds=60)
_ERROR_LIMIT = 1000

# The pumps running in this process. Fan-outs committed in any thread hand
# their deliveries to one of them, through its loop.
_pumps: set[DeliveryPump] = set()
_TRANSACTION_STATE = "accords.webhooks"


@dataclass
class _TransactionState:
    """What fan-outs of one transaction share: the endpoints they read, and
    the deliveries to hand over once it commits."""

    endpoints: list[Any] | None = None
    handover: list[tuple[DeliveryPump, list[Claim]]] = field(default_factory=list)


def _receiving_pump() -> DeliveryPump | None:
    """A pump of this process that can take more hand-overs, if any."""
    return next((pump for pump in _pumps if pump.has_room()), None)


def _transaction_state(session: AsyncSession) -> _TransactionState:
    state = session.info.get(_TRANSACTION_STATE)
    if state is None:
        state = session.info[_TRANSACTION_STATE] = _TransactionState()
        sa_event.listen(session.sync_session, "after_commit", _after_commit)
        sa_event.listen(session.sync_session, "after_rollback", _after_rollback)
    return state


def _after_commit(session: Any) -> None:
    # Runs inside a commit: it must never raise, or the committed work would
    # look failed to its caller. A hand-over that cannot happen leaves the
    # deliveries to be claimed when their lease runs out.
    state = session.info.pop(_TRANSACTION_STATE, None)
    session.info[_TRANSACTION_STATE] = _TransactionState()
    if state is not None:
        for pump, claims in state.handover:
            pump.accept_threadsafe(claims)


def _after_rollback(session: Any) -> None:
    session.info[_TRANSACTION_STATE] = _TransactionState()


# --- fan-out ------------------------------------------------------------------------


async def _organizations_concerned(session: AsyncSession, event: OutboxEvent) -> set[uuid.UUID]:
    """The organizations an event is about, for endpoints bound to an organization."""
    concerned: set[uuid.UUID] = set()
    data = event.data or {}

    def add(value: object) -> None:
        with contextlib.suppress(ValueError):
            concerned.add(uuid.UUID(str(value)))

    if event.aggregate_type == "agreement":
        parties = await session.scalars(
            select(AgreementParty.organization_id).where(
                AgreementParty.agreement_id == event.aggregate_id
            )
        )
        concerned.update(parties)
        # A deleted agreement's parties are gone from the table but not from the event.
        for party in data.get("parties") or []:
            if isinstance(party, dict) and party.get("organization_id"):
                add(party["organization_id"])
    elif event.aggregate_type == "organization":
        concerned.add(event.aggregate_id)
    elif event.aggregate_type == "webhook_endpoint":
        if data.get("organization_id"):
            add(data["organization_id"])
    else:
        for participant in data.get("participants") or []:
            if isinstance(participant, dict) and participant.get("organization_id"):
                add(participant["organization_id"])
    return concerned


def _insert(session: AsyncSession) -> Any:
    dialect = session.bind.dialect.name if session.bind else "sqlite"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


_ENABLED_ENDPOINTS = select(
    WebhookEndpoint.id,
    WebhookEndpoint.event_types,
    WebhookEndpoint.organization_id,
    WebhookEndpoint.url,
    WebhookEndpoint.secret_sealed,
    WebhookEndpoint.previous_secret_sealed,
    WebhookEndpoint.previous_secret_valid_until,
).where(WebhookEndpoint.enabled.is_(True))


async def fan_out_events(session: AsyncSession, events: list[OutboxEvent]) -> None:
    """Add a delivery of each event for every enabled endpoint that wants it,
    with one insert for all of them.

    With a pump in this process the deliveries are written leased to it and
    handed over after commit; otherwise they are due at once for any pump.
    """
    state = _transaction_state(session)
    if state.endpoints is None:
        # Once per transaction: the events of a batch share one read.
        state.endpoints = list(await session.execute(_ENABLED_ENDPOINTS))
    pump = _receiving_pump()
    now = utcnow()
    next_attempt_at = pump.lease_end(now) if pump is not None else now
    rows: list[dict[str, Any]] = []
    claims: dict[uuid.UUID, Claim] = {}
    for event in events:
        wanted = [
            row for row in state.endpoints if event_matches(event.type, row.event_types or [])
        ]
        if any(row.organization_id is not None for row in wanted):
            concerned = await _organizations_concerned(session, event)
            wanted = [
                row
                for row in wanted
                if row.organization_id is None or row.organization_id in concerned
            ]
        if not wanted:
            continue
        body = delivery_body(
            event_type=event.type,
            occurred_at=event.occurred_at,
            sequence=event.sequence,
            data=event.data,
        )
        for endpoint in wanted:
            delivery_id = uuid7()
            rows.append(
                {
                    "id": delivery_id,
                    "endpoint_id": endpoint.id,
                    "event_id": event.id,
                    "event_type": event.type,
                    "body": body,
                    "status": "pending",
                    "scheduled_attempts": 0,
                    "next_attempt_at": next_attempt_at,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            claims[delivery_id] = Claim(
                delivery_id=delivery_id,
                endpoint_id=endpoint.id,
                event_id=event.id,
                url=endpoint.url,
                body=body,
                secret_sealed=endpoint.secret_sealed,
                previous_secret_sealed=endpoint.previous_secret_sealed,
                previous_secret_valid_until=endpoint.previous_secret_valid_until,
            )
    if not rows:
        return
    # Rows as parameters, not .values(rows): a multi-VALUES statement is
    # compiled afresh for each number of rows, this one once per process.
    statement = _insert(session)(WebhookDelivery).on_conflict_do_nothing(
        index_elements=["endpoint_id", "event_id"]
    )
    if pump is None:
        await session.execute(statement, rows)
        return
    # Only the rows written now are handed over (a redelivered event adds none).
    inserted = (await session.scalars(statement.returning(WebhookDelivery.id), rows)).all()
    if inserted:
        state.handover.append((pump, [claims[delivery_id] for delivery_id in sorted(inserted)]))


async def fan_out(session: AsyncSession, event: OutboxEvent) -> None:
    """:func:`fan_out_events` for one event."""
    await fan_out_events(session, [event])


# The consumer name of its processed_events rows: keep it stable.
FAN_OUT = batch_handler(fan_out_events, "", name="webhooks.fan_out")


# --- sending ------------------------------------------------------------------------


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then connects to the checked address itself.

    httpcore asks the backend to connect to the URL's host name; TLS SNI and
    certificate checks still use that name, only the TCP connection goes to
    the address the SSRF check approved.
    """

    def __init__(self, *, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        addresses = await checked_addresses(host, port, allow_private=self._allow_private)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, *args: Any, **kwargs: Any) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("unix sockets are not webhook targets")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


Origin = tuple[bytes, bytes, int]

# httpcore's errors as httpx's, most specific first (httpx does the same
# mapping inside its own transport).
_ERRORS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for raised, mapped in _ERRORS:
            if isinstance(exc, raised):
                raise mapped(str(exc)) from exc
        raise


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose connections go to SSRF-checked addresses.

    Connections are httpcore's, made through :class:`PinnedBackend`, and kept
    alive per origin (scheme, host, port): a request takes the most recently
    used idle connection of its origin, checking that one alone, so its cost
    does not grow with the number of connections kept. (httpcore's own pool
    checks every connection on every request, and httpx has no public way to
    give it a network backend.) How many requests run at once is bounded by
    the caller (:class:`WebhookSender`); at most ``max_idle_per_origin``
    idle connections are kept.
    """

    def __init__(
        self,
        *,
        allow_private: bool,
        keepalive_expiry: float = 30.0,
        max_idle_per_origin: int = 16,
    ) -> None:
        self._backend = PinnedBackend(allow_private=allow_private)
        self._ssl_context = httpx.create_ssl_context(trust_env=False)
        self._keepalive_expiry = keepalive_expiry
        self._max_idle = max_idle_per_origin
        self._idle: dict[Origin, list[httpcore.AsyncHTTPConnection]] = {}
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        port = url.port or (443 if url.raw_scheme == b"https" else 80)
        origin: Origin = (url.raw_scheme, url.raw_host, port)
        connection = await self._checkout(origin)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            with _httpx_errors():
                response = await connection.handle_async_request(core_request)
        except BaseException:
            await connection.aclose()
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(self, origin, connection, response),
            extensions=response.extensions,
        )

    async def _checkout(self, origin: Origin) -> httpcore.AsyncHTTPConnection:
        idle = self._idle.get(origin)
        while idle:
            connection = idle.pop()
            # has_expired: past keep-alive, or the server closed it meanwhile.
            if connection.is_available() and not connection.has_expired():
                return connection
            await connection.aclose()
        return httpcore.AsyncHTTPConnection(
            origin=httpcore.Origin(*origin),
            ssl_context=self._ssl_context,
            keepalive_expiry=self._keepalive_expiry,
            network_backend=self._backend,
        )

    async def _checkin(self, origin: Origin, connection: httpcore.AsyncHTTPConnection) -> None:
        idle = self._idle.setdefault(origin, [])
        if self._closed or not connection.is_idle() or len(idle) >= self._max_idle:
            await connection.aclose()
        else:
            idle.append(connection)

    async def aclose(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, {}
        for connections in idle.values():
            for connection in connections:
                await connection.aclose()


class _ResponseStream(httpx.AsyncByteStream):
    """A response body; closing it returns its connection, if still usable, to the pool."""

    def __init__(
        self,
        transport: PinnedTransport,
        origin: Origin,
        connection: httpcore.AsyncHTTPConnection,
        response: httpcore.Response,
    ) -> None:
        self._transport = transport
        self._origin = origin
        self._connection = connection
        self._response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._response.aiter_stream():
                yield part

    async def aclose(self) -> None:
        try:
            with _httpx_errors():
                await self._response.aclose()
        finally:
            # A body closed before its end leaves the connection closed by httpcore.
            await self._transport._checkin(self._origin, self._connection)


@dataclass(frozen=True)
class Outcome:
    """What one HTTP attempt gave."""

    status_code: int | None
    duration_ms: int
    error: str | None = None
    response_body: str | None = None
    retry_after: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class WebhookSender:
    """The process's one pooled HTTP client for deliveries."""

    def __init__(self, settings: Settings, *, max_connections: int = 16) -> None:
        self.settings = settings
        # The transport opens a connection for each request running at once:
        # this bounds both.
        self._slots = asyncio.Semaphore(max_connections)
        self.box = SecretBox.from_settings(settings)
        self.client = httpx.AsyncClient(
            transport=PinnedTransport(
                allow_private=settings.webhook_allow_private_targets,
                max_idle_per_origin=max_connections,
            ),
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": "Accords-Webhooks/1.0"},
        )

    async def aclose(self) -> None:
        await self.client.aclose()

    async def send(self, url: str, *, headers: dict[str, str], body: str) -> Outcome:
        """POST one delivery; every failure (refusal, network, timeout) is an Outcome."""
        async with self._slots:
            started = time.perf_counter()
            return await self._send(url, headers=headers, body=body, started=started)

    async def _send(
        self, url: str, *, headers: dict[str, str], body: str, started: float
    ) -> Outcome:
        def elapsed() -> int:
            return int((time.perf_counter() - started) * 1000)

        try:
            async with self.client.stream(
                "POST", url, headers=headers, content=body.encode("utf-8")
            ) as response:
                received = b""
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) >= 2048:
                        break
                error = None
                if response.is_redirect:
                    error = f"redirect to {response.headers.get('location', '?')} not followed"
                return Outcome(
                    status_code=response.status_code,
                    duration_ms=elapsed(),
                    error=error,
                    response_body=truncate_response_body(received),
                    retry_after=response.headers.get("retry-after"),
                )
        except TargetRefused as exc:
            return Outcome(None, elapsed(), error=f"refused: {exc}"[:_ERROR_LIMIT])
        except TargetUnresolvable as exc:
            return Outcome(None, elapsed(), error=str(exc)[:_ERROR_LIMIT])
        except httpx.TimeoutException:
            return Outcome(
                None, elapsed(), error=f"timed out after {self.settings.webhook_timeout_seconds} s"
            )
        except httpx.HTTPError as exc:
            return Outcome(None, elapsed(), error=f"{type(exc).__name__}: {exc}"[:_ERROR_LIMIT])


# --- claiming and recording ------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """A delivery this worker holds the lease of, with what it needs to send it."""

    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    event_id: uuid.UUID
    url: str
    body: str
    secret_sealed: str
    previous_secret_sealed: str | None
    previous_secret_valid_until: dt.datetime | None


def _lease(settings: Settings) -> dt.timedelta:
    return dt.timedelta(seconds=settings.webhook_timeout_seconds + LEASE_MARGIN_SECONDS)


async def claim_due(
    session: AsyncSession,
    settings: Settings,
    *,
    limit: int,
    delivery_id: uuid.UUID | None = None,
) -> list[Claim]:
    """Lease up to ``limit`` due deliveries of enabled endpoints (or just ``delivery_id``).

    The caller commits; until the lease ends no other worker takes them.
    """
    now = utcnow()
    due = (
        select(WebhookDelivery.id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            WebhookEndpoint.enabled.is_(True),
        )
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=WebhookDelivery)
    )
    if delivery_id is not None:
        due = due.where(WebhookDelivery.id == delivery_id)
    lease_end = now + _lease(settings)
    returned = (
        WebhookDelivery.id,
        WebhookDelivery.endpoint_id,
        WebhookDelivery.event_id,
        WebhookDelivery.body,
        WebhookEndpoint.url,
        WebhookEndpoint.secret_sealed,
        WebhookEndpoint.previous_secret_sealed,
        WebhookEndpoint.previous_secret_valid_until,
    )
    if session.bind.dialect.name == "postgresql":
        # One statement: lock the due rows (skipping those another worker
        # holds), push them out by the lease and return what sending needs.
        rows = (
            await session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id.in_(due.scalar_subquery()),
                    WebhookEndpoint.id == WebhookDelivery.endpoint_id,
                )
                .values(next_attempt_at=lease_end)
                .returning(*returned)
                .execution_options(synchronize_session=False)
            )
        ).all()
    else:
        # SQLite: RETURNING cannot name the FROM table; the transaction
        # holds the database write lock anyway.
        ids = list((await session.scalars(due)).all())
        if not ids:
            return []
        await session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id.in_(ids))
            .values(next_attempt_at=lease_end)
            .execution_options(synchronize_session=False)
        )
        rows = (
            await session.execute(
                select(*returned)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.id.in_(ids))
            )
        ).all()
    return [
        Claim(
            delivery_id=row.id,
            endpoint_id=row.endpoint_id,
            event_id=row.event_id,
            url=row.url,
            body=row.body,
            secret_sealed=row.secret_sealed,
            previous_secret_sealed=row.previous_secret_sealed,
            previous_secret_valid_until=row.previous_secret_valid_until,
        )
        for row in sorted(rows, key=lambda row: row.id)
    ]


def headers_for(claim: Claim, box: SecretBox, now: dt.datetime) -> dict[str, str]:
    """Signed headers of one attempt (a fresh timestamp each time, same webhook-id)."""
    context = f"webhook_endpoint:{claim.endpoint_id}"
    current = box.open(claim.secret_sealed, context=context)
    previous = (
        box.open(claim.previous_secret_sealed, context=context)
        if claim.previous_secret_sealed
        else None
    )
    return delivery_headers(
        signing_secrets(current, previous, claim.previous_secret_valid_until, now),
        message_id=str(claim.event_id),
        timestamp=int(now.timestamp()),
        body=claim.body,
    )


async def _disable_endpoint(session: AsyncSession, endpoint_id: uuid.UUID, reason: str) -> None:
    """Disable an endpoint (once) and emit ``webhook_endpoint.disabled``."""
    from shared.webhooks.service import as_public

    endpoint = await session.scalar(
        select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id).with_for_update()
    )
    if endpoint is None or not endpoint.enabled:
        return
    before = as_public(endpoint)
    endpoint.enabled = False
    endpoint.disabled_reason = reason
    await session.flush()
    await record_change(
        session,
        actor=Actor.system(),
        event_type="webhook_endpoint.disabled",
        aggregate=Aggregate("webhook_endpoint", endpoint.id),
        entity_id=endpoint.id,
        before=before,
        after=as_public(endpoint),
    )
    log.warning("webhook_endpoint_disabled", endpoint_id=str(endpoint.id), reason=reason)


async def record_outcome(
    session: AsyncSession,
    settings: Settings,
    claim: Claim,
    outcome: Outcome,
    *,
    at: dt.datetime,
) -> str | None:
    """Write the attempt and decide what comes next; returns the delivery's status
    (None when the delivery no longer exists)."""
    delivery = await session.scalar(
        select(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id).with_for_update()
    )
    if delivery is None:
        return None
    session.add(
        WebhookAttempt(
            id=uuid7(),
            delivery_id=delivery.id,
            at=at,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            response_body=outcome.response_body,
        )
    )
    now = utcnow()
    endpoints = update(WebhookEndpoint).where(WebhookEndpoint.id == claim.endpoint_id)
    if outcome.succeeded:
        delivery.status = "succeeded"
        delivery.next_attempt_at = None
        await session.execute(
            endpoints.where(
                or_(
                    WebhookEndpoint.failing_since.is_not(None),
                    WebhookEndpoint.last_success_at.is_(None),
                    WebhookEndpoint.last_success_at < now - SUCCESS_STAMP_EVERY,
                )
            ).values(last_success_at=now, failing_since=None)
        )
    elif outcome.status_code == 410:
        delivery.status = "failed"
        delivery.next_attempt_at = None
        await _disable_endpoint(session, claim.endpoint_id, "the endpoint answered 410 Gone")
    else:
        delivery.scheduled_attempts += 1
        await session.execute(
            endpoints.where(WebhookEndpoint.failing_since.is_(None)).values(failing_since=at)
        )
        failing_since = await session.scalar(
            select(WebhookEndpoint.failing_since).where(WebhookEndpoint.id == claim.endpoint_id)
        )
        delay = retry_delay(delivery.scheduled_attempts, settings.webhook_retry_schedule)
        if delay is not None and outcome.status_code in (429, 503):
            asked = parse_retry_after(outcome.retry_after, now)
            if asked is not None:
                delay = asked
        if delay is None:
            delivery.status = "failed"
            delivery.next_attempt_at = None
        else:
            delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
        if should_disable(failing_since, now):
            await _disable_endpoint(session, claim.endpoint_id, "no successful delivery for 5 days")
    await session.flush()
    return delivery.status


# --- the delivery loop --------------------------------------------------------------


# Marks the deliveries succeeded, writes their attempts (only for deliveries
# that still exist) and refreshes the endpoints' success stamp when it is
# stale or they were failing (rows locked in id order).
_RECORD_SUCCESSES = text(
    """
    WITH succeeded AS (
        UPDATE webhook_deliveries
        SET status = 'succeeded', next_attempt_at = NULL, updated_at = :now
        WHERE id = ANY(CAST(:delivery_ids AS uuid[]))
        RETURNING id
    ), stamped AS (
        UPDATE webhook_endpoints
        SET last_success_at = :now, failing_since = NULL
        WHERE id IN (
            SELECT id FROM webhook_endpoints
            WHERE id = ANY(CAST(:endpoint_ids AS uuid[]))
              AND (failing_since IS NOT NULL OR last_success_at IS NULL
                   OR last_success_at < :stale)
            ORDER BY id
            FOR UPDATE
        )
    )
    INSERT INTO webhook_attempts
        (id, delivery_id, at, status_code, duration_ms, error, response_body)
    SELECT a.id, a.delivery_id, a.at, a.status_code, a.duration_ms, a.error, a.response_body
    FROM unnest(
        CAST(:attempt_ids AS uuid[]), CAST(:delivery_ids AS uuid[]),
        CAST(:ats AS timestamptz[]), CAST(:codes AS integer[]),
        CAST(:durations AS integer[]), CAST(:errors AS text[]), CAST(:bodies AS text[])
    ) AS a(id, delivery_id, at, status_code, duration_ms, error, response_body)
    WHERE a.delivery_id IN (SELECT id FROM succeeded)
    """
)


async def record_successes(
    session: AsyncSession, results: list[tuple[Claim, Outcome, dt.datetime]]
) -> None:
    """Record a batch of successful attempts with a few set-based statements
    (the common case, so it must not cost a transaction per delivery); on
    PostgreSQL with one statement, which needs no transaction around it."""
    now = utcnow()
    if session.bind.dialect.name == "postgresql":
        await session.execute(
            _RECORD_SUCCESSES,
            {
                "now": now,
                "stale": now - SUCCESS_STAMP_EVERY,
                "delivery_ids": [claim.delivery_id for claim, _, _ in results],
                "endpoint_ids": sorted({claim.endpoint_id for claim, _, _ in results}),
                "attempt_ids": [uuid7() for _ in results],
                "ats": [at for _, _, at in results],
                "codes": [outcome.status_code for _, outcome, _ in results],
                "durations": [outcome.duration_ms for _, outcome, _ in results],
                "errors": [outcome.error for _, outcome, _ in results],
                "bodies": [outcome.response_body for _, outcome, _ in results],
            },
        )
        return
    await session.execute(
        insert(WebhookAttempt),
        [
            {
                "id": uuid7(),
                "delivery_id": claim.delivery_id,
                "at": at,
                "status_code": outcome.status_code,
                "duration_ms": outcome.duration_ms,
                "error": outcome.error,
                "response_body": outcome.response_body,
            }
            for claim, outcome, at in results
        ],
    )
    await session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id.in_([claim.delivery_id for claim, _, _ in results]))
        .values(status="succeeded", next_attempt_at=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    for endpoint_id in sorted({claim.endpoint_id for claim, _, _ in results}):
        await session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == endpoint_id,
                or_(
                    WebhookEndpoint.failing_since.is_not(None),
                    WebhookEndpoint.last_success_at.is_(None),
                    WebhookEndpoint.last_success_at < now - SUCCESS_STAMP_EVERY,
                ),
            )
            .values(last_success_at=now, failing_since=None)
            .execution_options(synchronize_session=False)
        )


async def deliver_claims(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: WebhookSender,
    claims: list[Claim],
) -> None:
    """Send the claimed deliveries concurrently, then record every outcome:
    successes together in one transaction, each failure in its own."""

    async def send(claim: Claim) -> tuple[Claim, Outcome, dt.datetime]:
        at = utcnow()
        try:
            headers = headers_for(claim, sender.box, at)
        except Exception as exc:  # an unreadable secret must not stall the batch
            log.error("webhook_secret_unreadable", endpoint_id=str(claim.endpoint_id))
            return claim, Outcome(None, 0, error=f"cannot sign: {type(exc).__name__}"), at
        return claim, await sender.send(claim.url, headers=headers, body=claim.body), at

    results = await asyncio.gather(*(send(claim) for claim in claims))
    successes = [result for result in results if result[1].succeeded]
    # A failure here leaves the lease to run out: the deliveries are sent again.
    if successes:
        try:
            async with _single_statement_sessionmaker(sessionmaker)() as session:
                await record_successes(session, successes)
                await session.commit()
        except Exception:
            log.exception("webhook_record_failed", deliveries=len(successes))
    for claim, outcome, at in results:
        if outcome.succeeded:
            continue
        try:
            async with sessionmaker() as session:
                await record_outcome(session, sender.settings, claim, outcome, at=at)
                await session.commit()
        except Exception:
            log.exception("webhook_record_failed", delivery_id=str(claim.delivery_id))


async def deliver_due(
    sessionmaker: async_sessionmaker[AsyncSession], sender: WebhookSender, *, limit: int = 100
) -> int:
    """Claim and send one batch of due deliveries; returns how many were sent."""
    async with sessionmaker() as session:
        claims = await claim_due(session, sender.settings, limit=limit)
        await session.commit()
    if claims:
        await deliver_claims(sessionmaker, sender, claims)
    return len(claims)


async def deliver_one(
    sessionmaker: async_sessionmaker[AsyncSession],
    sender: WebhookSender,
    delivery_id: uuid.UUID,
) -> bool:
    """Send one delivery now if it is due; returns whether it was sent."""
    async with sessionmaker() as session:
        claims = await claim_due(session, sender.settings, limit=1, delivery_id=delivery_id)
        await session.commit()
    if claims:
        await deliver_claims(sessionmaker, sender, claims)
    return bool(claims)


class DeliveryPump:
    """Sends deliveries until stopped.

    Deliveries fanned out in this process arrive leased, through
    :meth:`accept_threadsafe`, and go out at once. Everything else (retries,
    replays, other workers' fan-outs, leases that ran out) is claimed by
    polling every ``interval`` seconds.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        interval: float = 0.5,
        batch: int = 100,
        max_in_flight: int = 4,
        max_handed_over: int | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.interval = interval
        self.batch = batch
        self.max_in_flight = max_in_flight
        # Deliveries handed over and not yet recorded, and how many it takes
        # at most (as many as polling keeps in flight): past that, fan-outs
        # leave their deliveries due for polling, so a slow receiver does
        # not make a queue of leases that run out before their turn.
        self.max_handed_over = batch * max_in_flight if max_handed_over is None else max_handed_over
        self._handed_over_claims = 0
        self._stopping = asyncio.Event()
        self._signal = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sender: WebhookSender | None = None
        self._handed_over: set[asyncio.Task[None]] = set()
        # Set once the pump takes hand-overs from fan-outs.
        self.receiving = asyncio.Event()

    def lease_end(self, now: dt.datetime) -> dt.datetime:
        """Until when a delivery handed to this pump is kept from the others."""
        return now + _lease(self.settings)

    def wake(self) -> None:
        """Poll now instead of at the next interval (from any thread)."""
        if self._loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed
                self._loop.call_soon_threadsafe(self._signal.set)

    def stop(self) -> None:
        self._stopping.set()
        self.wake()

    def has_room(self) -> bool:
        return self._handed_over_claims < self.max_handed_over

    def accept_threadsafe(self, claims: list[Claim]) -> None:
        """Send leased deliveries (from any thread; never raises)."""
        if self._loop is None:
            return
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._accept, claims)

    def _accept(self, claims: list[Claim]) -> None:
        if self._sender is None or self._stopping.is_set():
            return  # the leases run out and the deliveries are claimed again
        task = asyncio.create_task(deliver_claims(self.sessionmaker, self._sender, claims))
        self._handed_over.add(task)
        self._handed_over_claims += len(claims)

        def done(task: asyncio.Task[None]) -> None:
            self._handed_over.discard(task)
            self._handed_over_claims -= len(claims)

        task.add_done_callback(done)

    async def run(self) -> None:
        try:
            sender = WebhookSender(self.settings)
        except SecretKeyMissing:
            log.error("webhook_delivery_off", reason="ACCORDS_SECRET_KEY is not set")
            return
        self._sender = sender
        self._loop = asyncio.get_running_loop()
        claim_sessions = _single_statement_sessionmaker(self.sessionmaker)
        _pumps.add(self)
        self.receiving.set()
        in_flight: set[asyncio.Task[None]] = set()
        try:
            while not self._stopping.is_set():
                self._signal.clear()
                try:
                    async with claim_sessions() as session:
                        claims = await claim_due(session, self.settings, limit=self.batch)
                        await session.commit()
                except Exception:
                    log.exception("webhook_claim_failed")
                    claims = []
                if claims:
                    task = asyncio.create_task(deliver_claims(self.sessionmaker, sender, claims))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                    if len(in_flight) >= self.max_in_flight:
                        await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
                    if len(claims) == self.batch:
                        continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.interval):
                        await self._signal.wait()
        finally:
            _pumps.discard(self)
            self.receiving.clear()
            self._sender = None
            pending = in_flight | self._handed_over
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            await sender.aclose()


@functools.cache
def _single_statement_sessionmaker(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> async_sessionmaker[AsyncSession]:
    """For the claim and the record of successes, each one statement."""
    bind = sessionmaker.kw.get("bind")
    return sessionmaker if bind is None else create_autocommit_sessionmaker(bind)


__all__ = [
    "Claim",
    "DeliveryPump",
    "Outcome",
    "PinnedBackend",
    "PinnedTransport",
    "WebhookSender",
    "claim_due",
    "deliver_due",
    "deliver_one",
    "fan_out",
    "record_outcome",
]
