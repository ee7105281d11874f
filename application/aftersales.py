"""One after-sales sweep (R-7): completes, records completions, sends surveys, archives; each row isolated."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from application.aftersales_ports import AftersalesSetup, AftersalesUnitOfWork
from application.archive import ArchiveDocuments, archive_due
from application.completion import complete_due, record_completions
from application.survey import send_due_surveys

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class AftersalesSweepReport:
    """What one sweep did."""

    completed: int
    recorded: int
    surveys: int
    archived: int


async def sweep_aftersales(
    uow_factory: Callable[[], AftersalesUnitOfWork], setup: AftersalesSetup, documents: ArchiveDocuments
) -> AftersalesSweepReport:
    """Runs the after-sales steps in order: completion, its record, surveys, archives."""
    report = AftersalesSweepReport(
        completed=await complete_due(uow_factory, setup),
        recorded=await record_completions(uow_factory, setup),
        surveys=await send_due_surveys(uow_factory, setup),
        archived=await archive_due(uow_factory, setup, documents),
    )
    if any((report.completed, report.recorded, report.surveys, report.archived)):
        logger.info(
            "After-sales sweep: %d completed, %d recorded, %d surveys, %d archived",
            report.completed,
            report.recorded,
            report.surveys,
            report.archived,
        )
    return report
