"""SQL of exception cases (issue 14, R-6): one exception_cases row per case, evidence and trail as JSON."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.exceptions.case import (
    CaseResult,
    CaseStep,
    Compensation,
    CompensationKind,
    Evidence,
    EvidenceFile,
    ExceptionCase,
    FileKind,
    StepKind,
)
from domain.orders.status import ExceptionType, Role
from storage.models import ExceptionCaseRow


def _time(value: datetime | None) -> str | None:
    """A time as JSON text."""
    return value.isoformat() if value is not None else None


def _parse(value: str | None) -> datetime | None:
    """A time from JSON text."""
    return datetime.fromisoformat(value) if value else None


def evidence_json(evidence: Evidence) -> dict[str, Any]:
    """The evidence as its JSON column holds it."""
    return {
        "files": [
            {"file_id": f.file_id, "kind": f.kind.value, "from_customer": f.from_customer}
            for f in evidence.files
        ],
        "items": list(evidence.items),
    }


def steps_json(steps: Sequence[CaseStep]) -> list[dict[str, Any]]:
    """The trail as its JSON column holds it."""
    return [
        {
            "at": step.at.isoformat(),
            "kind": step.kind.value,
            "actor_id": step.actor_id,
            "role": step.role.value,
            "note": step.note,
            "files": list(step.files),
        }
        for step in steps
    ]


def compensation_json(offer: Compensation | None) -> dict[str, Any] | None:
    """The compensation as its JSON column holds it."""
    if offer is None:
        return None
    return {
        "kind": offer.kind.value,
        "amount": str(offer.amount),
        "currency": offer.currency,
        "offered_at": _time(offer.offered_at),
        "offered_by": offer.offered_by,
        "accepted_at": _time(offer.accepted_at),
        "applied_at": _time(offer.applied_at),
    }


def _columns(case: ExceptionCase) -> dict[str, Any]:
    """The row values of a case."""
    return {
        "order_id": case.order_id,
        "type": case.type.value,
        "cause": case.cause,
        "department": case.department.value,
        "opened_at": case.opened_at,
        "closed_at": case.closed_at,
        "satisfied": case.satisfied,
        "answered_at": case.answered_at,
        "note": case.note,
        "opened_by": case.opened_by,
        "evidence": evidence_json(case.evidence),
        "steps": steps_json(case.steps),
        "new_eta": case.new_eta,
        "customs_needs": case.customs_needs,
        "compensation": compensation_json(case.compensation),
        "result": case.result.value if case.result else None,
        "closed_by": case.closed_by,
        "record": case.record,
        "recorded_at": case.recorded_at,
        "recorded_by": case.recorded_by,
        "feedback": case.feedback,
    }


def case_of(row: ExceptionCaseRow) -> ExceptionCase:
    """Reads one case row (a row of the KPI-only schema reads with an empty trail)."""
    evidence = row.evidence or {}
    offer = row.compensation
    return ExceptionCase(
        order_id=row.order_id,
        type=ExceptionType(row.type),
        cause=row.cause,
        note=row.note or "",
        department=Role(row.department),
        opened_at=row.opened_at,
        opened_by=row.opened_by,
        id=row.id,
        evidence=Evidence(
            [
                EvidenceFile(f["file_id"], FileKind(f["kind"]), bool(f.get("from_customer")))
                for f in evidence.get("files", [])
            ],
            list(evidence.get("items", [])),
        ),
        steps=[
            CaseStep(
                datetime.fromisoformat(s["at"]),
                StepKind(s["kind"]),
                s.get("actor_id"),
                Role(s["role"]),
                s.get("note", ""),
                tuple(s.get("files", [])),
            )
            for s in row.steps or []
        ],
        new_eta=row.new_eta,
        customs_needs=row.customs_needs,
        compensation=None
        if offer is None
        else Compensation(
            CompensationKind(offer["kind"]),
            Decimal(offer["amount"]),
            offer["currency"],
            datetime.fromisoformat(offer["offered_at"]),
            offer.get("offered_by"),
            _parse(offer.get("accepted_at")),
            _parse(offer.get("applied_at")),
        ),
        result=CaseResult(row.result) if row.result else None,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        record=row.record,
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        satisfied=row.satisfied,
        feedback=row.feedback,
        answered_at=row.answered_at,
    )


class SqlExceptionRepository:
    """Exception case rows in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, case: ExceptionCase) -> int:
        """Stores a new case; returns its id (also set on the case)."""
        row = ExceptionCaseRow(**_columns(case))
        self._session.add(row)
        await self._session.flush()
        case.id = row.id
        return row.id

    async def get(self, case_id: int) -> ExceptionCase | None:
        """Reads a case by id."""
        row = await self._session.get(ExceptionCaseRow, case_id)
        return case_of(row) if row is not None else None

    async def save(self, case: ExceptionCase) -> None:
        """Writes a changed case back (the order's version guards concurrent changes)."""
        if case.id is None:
            raise ValueError("a case is added before it is saved")
        row = await self._session.get(ExceptionCaseRow, case.id)
        if row is None:
            raise ValueError(f"no exception case {case.id}")
        for name, value in _columns(case).items():
            setattr(row, name, value)
        await self._session.flush()

    async def of_order(self, order_id: str) -> list[ExceptionCase]:
        """An order's cases, oldest first."""
        rows = await self._session.scalars(
            select(ExceptionCaseRow)
            .where(ExceptionCaseRow.order_id == order_id)
            .order_by(ExceptionCaseRow.id)
        )
        return [case_of(row) for row in rows]

    async def open_of(self, order_id: str) -> ExceptionCase | None:
        """The order's open case, if any (the newest)."""
        row = await self._session.scalar(
            select(ExceptionCaseRow)
            .where(ExceptionCaseRow.order_id == order_id, ExceptionCaseRow.closed_at.is_(None))
            .order_by(ExceptionCaseRow.id.desc())
            .limit(1)
        )
        return case_of(row) if row is not None else None

    async def closed_unrecorded(self, limit: int) -> Sequence[ExceptionCase]:
        """Closed cases whose record the order desk has not completed, oldest closed first."""
        rows = await self._session.scalars(
            select(ExceptionCaseRow)
            .where(ExceptionCaseRow.closed_at.is_not(None), ExceptionCaseRow.recorded_at.is_(None))
            .order_by(ExceptionCaseRow.closed_at, ExceptionCaseRow.id)
            .limit(limit)
        )
        return [case_of(row) for row in rows]
