"""The sweep: time-driven notices and moves, in exactly one worker at a time.

Every ``ACCORDS_SWEEP_INTERVAL_SECONDS`` each worker tries the sweep; a
PostgreSQL advisory lock (SQLite: the write lock) lets one run it. Each
notice also leaves a ``sweep_marks`` row (primary key = once) in the
transaction that records its event, so even two sweeps racing past the lock
could not emit one twice.

- pending amendments whose ``effective_from`` has come are applied (first, so
  that an extension due today keeps its agreement from expiring); each once:
  the UPDATE that marks one applied is guarded by its status.
- ``milestone.overdue``: once per milestone, when it is open past ``due_on``.
- ``agreement.expiring``: ``ACCORDS_EXPIRY_REMINDER_DAYS`` (90, 30, 7) before ``expires_on``.
- the ``expired`` transition once ``expires_on`` has passed.
- ``agreement.dormant``: no activity for ``DORMANCY_DAYS`` (again after new activity).
- rollups computed on an earlier day are recomputed (overdue and planned move with the date).
- reports: each period's report opened once, ``report.due`` and ``report.overdue``
  once each (``shared.reports.opening``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.worker.stopping import pause
from shared import clock
from shared.agreements.amendments import apply_due_amendments
from shared.agreements.lifecycle import apply_transition
from shared.agreements.reads import as_public, get_agreement
from shared.agreements.windows import LAST_ACTIVITY, dormant_on, expiring_between, with_activity
from shared.broker import OutboxPublisher
from shared.events import Actor, Aggregate, new_event_ids, record_event
from shared.lifecycle import AGREEMENT_EXPIRABLE_STATUSES
from shared.milestones.schemas import as_public as milestone_public
from shared.milestones.service import overdue_condition
from shared.models import Agreement, AgreementRollup, Milestone, SweepMark
from shared.notifications.rules import expiry_windows
from shared.reports.opening import notify_due_reports, open_due_reports
from shared.rollups.store import recompute_agreement
from shared.settings import Settings

log = structlog.get_logger("accords.worker")

SWEEP_LOCK_KEY = 0x6163636F726473_02
BATCH = 500
STALE_ROLLUPS_PER_SWEEP = 200


@dataclass
class SweepReport:
    ran: bool = False
    amended: int = 0
    overdue: int = 0
    expiring: int = 0
    expired: int = 0
    dormant: int = 0
    recomputed: int = 0
    reports_opened: int = 0
    reports_due: int = 0
    reports_overdue: int = 0
    event_ids: list[uuid.UUID] = field(default_factory=list)


async def _take_lock(session: AsyncSession) -> bool:
    if session.bind.dialect.name != "postgresql":
        return True
    return bool(
        await session.scalar(
            text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": SWEEP_LOCK_KEY}
        )
    )


async def _mark(
    session: AsyncSession,
    kind: str,
    subject_id: uuid.UUID,
    mark: str,
    data: dict[str, Any],
    aggregate_id: uuid.UUID,
) -> None:
    event_id = await record_event(
        session, event_type=kind, aggregate=Aggregate("agreement", aggregate_id), data=data
    )
    session.add(SweepMark(kind=kind, subject_id=subject_id, mark=mark, event_id=event_id))


def _not_marked(kind: str, subject: Any, mark: Any) -> Any:
    return (
        ~select(SweepMark.subject_id)
        .where(SweepMark.kind == kind, SweepMark.subject_id == subject, SweepMark.mark == mark)
        .exists()
    )


async def emit_overdue(session: AsyncSession, today: dt.date) -> int:
    milestones = (
        await session.scalars(
            select(Milestone)
            .where(
                overdue_condition(today),
                _not_marked("milestone.overdue", Milestone.id, ""),
            )
            .order_by(Milestone.id)
            .limit(BATCH)
        )
    ).all()
    for milestone in milestones:
        data = {**milestone_public(milestone), "days_overdue": (today - milestone.due_on).days}
        await _mark(session, "milestone.overdue", milestone.id, "", data, milestone.agreement_id)
    return len(milestones)


async def emit_expiring(session: AsyncSession, today: dt.date, *, days_before: list[int]) -> int:
    """``agreement.expiring`` once per agreement and lead time (ACCORDS_EXPIRY_REMINDER_DAYS)."""
    emitted = 0
    for days, (lower, upper) in expiry_windows(days_before).items():
        agreements = (
            await session.scalars(
                select(Agreement.id).where(
                    expiring_between(
                        today + dt.timedelta(days=lower), today + dt.timedelta(days=upper)
                    )
                )
            )
        ).all()
        for agreement_id in agreements:
            agreement = await get_agreement(session, agreement_id)
            mark = f"{days}:{agreement.expires_on.isoformat()}"
            if await session.get(SweepMark, ("agreement.expiring", agreement_id, mark)):
                continue
            data = {
                **as_public(agreement),
                "days_before_expiry": days,
                "days_left": (agreement.expires_on - today).days,
            }
            await _mark(session, "agreement.expiring", agreement_id, mark, data, agreement_id)
            emitted += 1
    return emitted


async def expire_agreements(session: AsyncSession, today: dt.date) -> int:
    agreement_ids = (
        await session.scalars(
            select(Agreement.id)
            .where(Agreement.status.in_(AGREEMENT_EXPIRABLE_STATUSES), Agreement.expires_on < today)
            .limit(BATCH)
        )
    ).all()
    for agreement_id in agreement_ids:
        agreement = await get_agreement(session, agreement_id, for_update=True)
        await apply_transition(
            session,
            actor=Actor.system(request_id="sweep"),
            agreement=agreement,
            to="expired",
            reason=f"expires_on ({agreement.expires_on}) has passed",
            on=today,
        )
    return len(agreement_ids)


async def emit_dormant(session: AsyncSession, today: dt.date, *, dormancy_days: int) -> int:
    rows = (
        await session.execute(
            with_activity(select(Agreement.id, LAST_ACTIVITY.label("last_activity_at")))
            .where(dormant_on(today, dormancy_days))
            .limit(BATCH * 4)
        )
    ).all()
    emitted = 0
    for row in rows:
        last = row.last_activity_at
        if isinstance(last, str):  # SQLite hands computed datetimes back as text
            last = dt.datetime.fromisoformat(last)
        mark = last.date().isoformat()
        if await session.get(SweepMark, ("agreement.dormant", row.id, mark)):
            continue
        agreement = await get_agreement(session, row.id)
        data = {
            **as_public(agreement),
            "last_activity_at": last.replace(tzinfo=last.tzinfo or dt.UTC).isoformat(),
            "dormancy_days": dormancy_days,
        }
        await _mark(session, "agreement.dormant", row.id, mark, data, row.id)
        emitted += 1
    return emitted


async def recompute_stale_rollups(session: AsyncSession, today: dt.date) -> int:
    agreement_ids = (
        await session.scalars(
            select(AgreementRollup.agreement_id)
            .where(AgreementRollup.computed_on < today)
            .limit(STALE_ROLLUPS_PER_SWEEP)
        )
    ).all()
    for agreement_id in agreement_ids:
        await recompute_agreement(session, agreement_id, today=today)
    return len(agreement_ids)


async def sweep_once(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    *,
    publisher: OutboxPublisher | None = None,
    today: dt.date | None = None,
) -> SweepReport:
    """One sweep, in one transaction, if no other worker is sweeping right now."""
    today = today or clock.today()
    report = SweepReport()
    async with sessionmaker() as session:
        if not await _take_lock(session):
            await session.rollback()
            return report
        report.ran = True
        report.amended = await apply_due_amendments(session, today)
        report.overdue = await emit_overdue(session, today)
        report.expiring = await emit_expiring(
            session, today, days_before=settings.expiry_reminder_days
        )
        report.expired = await expire_agreements(session, today)
        report.dormant = await emit_dormant(session, today, dormancy_days=settings.dormancy_days)
        report.recomputed = await recompute_stale_rollups(session, today)
        report.reports_opened = len(await open_due_reports(session, today))
        report.reports_due, report.reports_overdue = await notify_due_reports(session, today)
        await session.commit()
        report.event_ids = new_event_ids(session)
    if report.event_ids and publisher is not None:
        await publisher.publish_committed(report.event_ids)
    return report


async def run_sweep(
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    publisher: OutboxPublisher,
    stopping: asyncio.Event | None = None,
) -> None:
    """Sweep every ``sweep_interval_seconds`` until ``stopping`` is set (it
    returns after the pass under way) or until cancelled."""
    stopping = stopping or asyncio.Event()
    while not stopping.is_set():
        try:
            report = await sweep_once(sessionmaker, settings, publisher=publisher)
            # ran=False: another worker was sweeping.
            log.debug("sweep_pass", ran=report.ran)
            if report.event_ids or report.recomputed:
                log.info(
                    "sweep_done",
                    amended=report.amended,
                    overdue=report.overdue,
                    expiring=report.expiring,
                    expired=report.expired,
                    dormant=report.dormant,
                    recomputed=report.recomputed,
                    reports_opened=report.reports_opened,
                )
        except asyncio.CancelledError:
            raise
        except Exception:
            log.warning("sweep_failed", exc_info=True)
        await pause(stopping, settings.sweep_interval_seconds)
