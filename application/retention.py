"""Retention (R-7.3, R-X.5): the daily job that deletes archives and erases personal data after RETENTION.

Every order archived on a local day D is erased from day D + RETENTION on (company time zone, exact
to the day; domain/aftersales/retention.py). Each order is erased in its own transaction; every run
is audited as counts only (retention_runs), never with a name or a number. `python -m bot retention
--dry-run` lists what would go without changing anything (the run is audited as a dry run).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from application.aftersales_ports import AftersalesSetup, AftersalesUnitOfWork
from domain.aftersales.retention import archived_before, erase_on, retention_due

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueErasure:
    """An order whose retention has ended."""

    order_id: str
    display_id: str
    archived_at: datetime
    erase_on: date


@dataclass
class RetentionReport:
    """What one retention run found and did."""

    dry_run: bool
    due: list[DueErasure] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    failed: int = 0


async def run_retention(
    uow_factory: Callable[[], AftersalesUnitOfWork], setup: AftersalesSetup, *, dry_run: bool = False
) -> RetentionReport:
    """Erases (or, dry, lists) every order whose retention has ended, and audits the run as counts."""
    settings = setup.settings
    now = setup.clock.now()
    report = RetentionReport(dry_run)
    before = archived_before(now, settings.retention, settings.timezone)
    seen: set[str] = set()
    while True:
        async with uow_factory() as uow:
            records = [
                record
                for record in await uow.aftersales.due_for_erasure(before, settings.batch + len(seen))
                if record.order_id not in seen
            ]
            found = []
            for record in records:
                if record.archived_at is None:
                    continue
                if not retention_due(record.archived_at, now, settings.retention, settings.timezone):
                    continue
                order = await uow.orders.get(record.order_id)
                day = erase_on(record.archived_at, settings.retention, settings.timezone)
                found.append(DueErasure(record.order_id, order.display_id, record.archived_at, day))
        if not records:
            break
        seen.update(record.order_id for record in records)
        report.due += found
        if dry_run:
            continue
        for due in found:
            try:
                async with uow_factory() as uow:
                    counts = await uow.aftersales.erase(due.order_id, now, directory=settings.archive_dir)
                    await uow.commit()
                report.counts.update(counts)
            except Exception:
                logger.exception("Retention: could not erase one order")
                report.failed += 1
    counts = {"due": len(report.due), "failed": report.failed, **report.counts}
    async with uow_factory() as uow:
        await uow.aftersales.record_retention_run(now, dry_run, counts)
        await uow.commit()
    logger.info("Retention run%s: %s", " (dry run)" if dry_run else "", counts)
    return report
