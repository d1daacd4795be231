"""The delivery pump: claims due deliveries, sends them, records what they gave.

Deliveries fanned out in this process arrive already leased
(:meth:`DeliveryPump.accept_threadsafe`) and go out at once; everything else
(retries, replays, other workers' fan-outs, leases that ran out) is claimed by
polling. While a send waits for its answer the pump keeps extending the
lease of its deliveries, so no other pump sends the same attempt again.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import uuid
from collections.abc import AsyncIterator

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.worker.sender import WebhookSender, headers_for
from shared.db import create_autocommit_sessionmaker, utcnow
from shared.secret_box import SecretKeyMissing
from shared.settings import Settings
from shared.webhooks.attempts import Outcome, record_outcome, record_successes
from shared.webhooks.deliveries import Claim, claim_due, extend_leases, lease

log = structlog.get_logger("accords.webhooks")

# The pumps running in this process. Fan-outs committed in any thread hand
# their deliveries to one of them, through its loop.
_pumps: set[DeliveryPump] = set()


def receiving_pump() -> DeliveryPump | None:
    """A pump of this process that can take more hand-overs, if any."""
    return next((pump for pump in _pumps if pump.has_room()), None)


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

    async with LeaseKeeper(sessionmaker, sender.settings, claims).keeping():
        results = await asyncio.gather(*(send(claim) for claim in claims))
        await _record(sessionmaker, sender.settings, results)


async def _record(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    results: list[tuple[Claim, Outcome, dt.datetime]],
) -> None:
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
                await record_outcome(session, settings, claim, outcome, at=at)
                await session.commit()
        except Exception:
            log.exception("webhook_record_failed", delivery_id=str(claim.delivery_id))


class LeaseKeeper:
    """Renews the leases of claims while they are sent and recorded.

    A claim waiting for a free connection, or for a slow receiver's answer,
    would otherwise lose its lease and be claimed (and sent) again by another
    pump while the first send still runs. Every third of a lease the keeper
    pushes the lease of the claims still held one lease further; a batch done
    sooner costs no statement.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        claims: list[Claim],
    ) -> None:
        self._sessions = _single_statement_sessionmaker(sessionmaker)
        self._lease = lease(settings)
        self.claims = claims
        self._done = asyncio.Event()

    @contextlib.asynccontextmanager
    async def keeping(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._renew_until_done())
        try:
            yield
        finally:
            self._done.set()
            await task

    async def _renew_until_done(self) -> None:
        every = self._lease.total_seconds() / 3
        while self.claims:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(every):
                    await self._done.wait()
            if self._done.is_set():
                return
            try:
                async with self._sessions() as session:
                    self.claims = await extend_leases(
                        session, self.claims, until=utcnow() + self._lease
                    )
                    await session.commit()
            except Exception:  # the next round tries again; the lease still runs
                log.exception("webhook_lease_renewal_failed", deliveries=len(self.claims))


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
        return now + lease(self.settings)

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
