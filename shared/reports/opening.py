"""What the sweep does for reports: open each period's report, announce due and overdue.

Safe to run from any number of workers at once, with or without the sweep's
lock: a report is inserted with ON CONFLICT DO NOTHING on its unique
``(agreement_id, period_start)`` and announced only by the transaction whose
insert took; ``report.due`` / ``report.overdue`` are emitted by the
transaction whose ``UPDATE ... WHERE due_notified_at IS NULL`` changed the row
(a concurrent one waits on the row lock, then finds it already marked).

Choices made here:

- Reports are opened for agreements in force: `signed`, `active`, `suspended`.
- A changed schedule affects only periods not yet opened: its periods that
  start on or before the end of the last opened report are skipped, so
  reports never overlap (a shifted schedule may leave a gap, never a double).
- ``report.due`` is sent from 7 days before ``due_on`` up to ``due_on``; a
  report first seen later gets only ``report.overdue``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db import insert_for
from shared.events import Aggregate, record_event
from shared.ids import uuid7
from shared.lifecycle import AGREEMENT_LIVE_STATUSES, REPORT_OPEN_STATUSES
from shared.models import Agreement, Report
from shared.reports.periods import started_periods
from shared.reports.schedule import ReportingSchedule
from shared.reports.schemas import as_public
from shared.reports.service import overdue_condition

DUE_NOTICE_DAYS = 7
MAX_OPENED_PER_RUN = 500


async def open_due_reports(session: AsyncSession, today: dt.date) -> list[Report]:
    """Open the report of every period that has started, once; returns those opened now."""
    schedules = (
        await session.execute(
            select(Agreement.id, Agreement.reporting)
            .where(Agreement.reporting.is_not(None), Agreement.status.in_(AGREEMENT_LIVE_STATUSES))
            .order_by(Agreement.id)
        )
    ).all()
    if not schedules:
        return []
    last_end = dict(
        (
            await session.execute(
                select(Report.agreement_id, func.max(Report.period_end))
                .where(Report.agreement_id.in_([row.id for row in schedules]))
                .group_by(Report.agreement_id)
            )
        ).all()
    )
    opened: list[Report] = []
    now = dt.datetime.now(dt.UTC)
    for agreement_id, reporting in schedules:
        schedule = ReportingSchedule.model_validate(reporting)
        for period in started_periods(
            schedule.frequency,
            schedule.first_period_start,
            today,
            after=last_end.get(agreement_id),
        ):
            if len(opened) >= MAX_OPENED_PER_RUN:
                return opened  # the next run carries on
            report_id = await session.scalar(
                insert_for(session)(Report)
                .values(
                    id=uuid7(),
                    version=1,
                    created_at=now,
                    updated_at=now,
                    agreement_id=agreement_id,
                    reporter_organization_id=schedule.reporter_organization_id,
                    period_start=period.start,
                    period_end=period.end,
                    due_on=period.due_on(schedule.due_days),
                    status="open",
                    measurements=[],
                )
                .on_conflict_do_nothing(index_elements=["agreement_id", "period_start"])
                .returning(Report.id)
            )
            if report_id is None:
                continue  # another sweep opened it
            report = await session.get(Report, report_id)
            assert report is not None
            await record_event(
                session,
                event_type="report.opened",
                aggregate=Aggregate("agreement", agreement_id),
                data=as_public(report),
            )
            opened.append(report)
    return opened


async def _claim(session: AsyncSession, report_id: uuid.UUID, marker: Any) -> bool:
    """Set the notice marker if nobody has: True for the one transaction that did."""
    result = await session.execute(
        update(Report)
        .where(Report.id == report_id, marker.is_(None))
        .values({marker.key: dt.datetime.now(dt.UTC)})
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


async def notify_due_reports(session: AsyncSession, today: dt.date) -> tuple[int, int]:
    """Emit ``report.due`` (7 days before ``due_on``) and ``report.overdue``, once each.

    Returns how many of each were emitted.
    """
    counts = []
    due_soon = Report.due_on.between(today, today + dt.timedelta(days=DUE_NOTICE_DAYS))
    windows = (
        ("report.due", Report.due_notified_at, Report.status.in_(REPORT_OPEN_STATUSES) & due_soon),
        ("report.overdue", Report.overdue_notified_at, overdue_condition(today)),
    )
    for event_type, marker, window in windows:
        reports = (
            await session.scalars(
                select(Report)
                .where(marker.is_(None), window)
                .order_by(Report.id)
                .limit(MAX_OPENED_PER_RUN)
            )
        ).all()
        emitted = 0
        for report in reports:
            if not await _claim(session, report.id, marker):
                continue
            data = {**as_public(report), "days_left": (report.due_on - today).days}
            await record_event(
                session,
                event_type=event_type,
                aggregate=Aggregate("agreement", report.agreement_id),
                data=data,
            )
            emitted += 1
        counts.append(emitted)
    return counts[0], counts[1]
