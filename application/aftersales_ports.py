"""Ports and settings of the after-sales use cases (R-7): completion, survey, archive, retention."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from application.ports import StoredDocument, UnitOfWork
from application.services import EventHandlers
from domain.aftersales.retention import RetentionPeriod
from domain.clock import Clock
from domain.sla.calendar import Duration
from domain.sla.clocks import SlaContext


@dataclass(frozen=True)
class AftersalesRecord:
    """What the after-sales flows keep about one completed order."""

    order_id: str
    completed_at: datetime
    survey_token: str | None = None
    survey_sent_at: datetime | None = None
    survey_reminded_at: datetime | None = None
    survey_unreachable: bool = False
    archived_at: datetime | None = None
    erased_at: datetime | None = None


@dataclass(frozen=True)
class SurveyAnswer:
    """A customer's survey answer: rating, comment, whether it is a complaint, when given and changed."""

    order_id: str
    rating: int
    complaint: bool
    answered_at: datetime
    comment: str | None = None
    marked_complaint: bool = False
    changed_at: datetime | None = None


@dataclass(frozen=True)
class StoredArchive:
    """An order's archive file: its name, checksum and bytes."""

    order_id: str
    filename: str
    sha256: str
    content: bytes
    created_at: datetime


@dataclass(frozen=True)
class ExceptionRecord:
    """One exception case of an order, as the archive keeps it."""

    type: str
    cause: str | None
    department: str
    opened_at: datetime
    closed_at: datetime | None
    satisfied: bool | None
    # The case record of issue 14: how it ended, the note, the desk's completed record.
    result: str | None = None
    note: str | None = None
    record: str | None = None


class AftersalesRepository(Protocol):
    """After-sales records, survey answers, archives, retention runs (storage/aftersales_repository.py)."""

    async def due_for_completion(self, delivered_before: datetime, limit: int) -> list[str]: ...

    async def completed_without_record(self, limit: int) -> list[str]: ...

    async def record_completion(self, order_id: str, completed_at: datetime) -> None: ...

    async def get(self, order_id: str) -> AftersalesRecord | None: ...

    async def by_token(self, token: str) -> AftersalesRecord | None: ...

    async def awaiting_survey(self, completed_before: datetime, limit: int) -> list[AftersalesRecord]: ...

    async def awaiting_reminder(self, sent_before: datetime, limit: int) -> list[AftersalesRecord]: ...

    async def awaiting_archive(self, limit: int) -> list[AftersalesRecord]: ...

    async def mark_survey(
        self, order_id: str, *, token: str | None, at: datetime, reminder: bool
    ) -> None: ...

    async def mark_unreachable(self, order_id: str) -> None: ...

    async def answer_of(self, order_id: str) -> SurveyAnswer | None: ...

    async def save_answer(self, answer: SurveyAnswer) -> None: ...

    async def documents_of(self, order_id: str) -> list[StoredDocument]: ...

    async def exceptions_of(self, order_id: str) -> list[ExceptionRecord]: ...

    async def save_archive(
        self, order_id: str, filename: str, content: bytes, at: datetime, *, directory: str | None
    ) -> str: ...

    async def get_archive(self, order_id: str, *, directory: str | None) -> StoredArchive | None: ...

    async def due_for_erasure(self, archived_before: datetime, limit: int) -> list[AftersalesRecord]: ...

    async def erase(self, order_id: str, at: datetime, *, directory: str | None) -> dict[str, int]: ...

    async def record_retention_run(self, at: datetime, dry_run: bool, counts: Mapping[str, int]) -> None: ...


class AftersalesUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also knows the after-sales records."""

    aftersales: AftersalesRepository


@dataclass(frozen=True)
class AftersalesSettings:
    """The after-sales settings (bot/config.py: COMPLETE_AFTER, SURVEY_*, ARCHIVE_DIR, RETENTION)."""

    complete_after: Duration = Duration(3, "wd")  # noqa: RUF009 - frozen, shared safely
    survey_after: Duration = Duration(1, "wd")  # noqa: RUF009 - frozen, shared safely
    reminder_after: Duration = Duration(2, "wd")  # noqa: RUF009 - frozen, shared safely
    editable_for: timedelta = timedelta(hours=24)
    # The archive is made within the week: once the survey went out, or this long after completion.
    archive_after: timedelta = timedelta(days=5)
    archive_dir: str | None = None
    retention: RetentionPeriod = RetentionPeriod(3, "y")  # noqa: RUF009 - frozen, shared safely
    timezone: str = "Asia/Shanghai"
    # Rows handled per sweep and step.
    batch: int = 100


@dataclass(frozen=True)
class AftersalesSetup:
    """What the after-sales use cases share: the clock, the SLA context, the notifier and the settings."""

    clock: Clock
    sla: SlaContext
    handlers: EventHandlers = field(default_factory=dict)
    settings: AftersalesSettings = field(default_factory=AftersalesSettings)
