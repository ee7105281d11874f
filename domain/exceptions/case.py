"""The exception case (R-6): one record per exception with its evidence, handling steps and outcome.

A case opens when an exception is marked (the order goes to EXCEPTION through Order.apply) and
closes with its result (the order resumes, or goes on to cancellation). Each thing done on the
case is a CaseStep of its trail, from which the order desk's exception record is prefilled
(R-6.5). The customer's one-tap answer on closing feeds the exception-satisfaction KPI.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from domain.errors import DomainError
from domain.orders.status import ExceptionType, Role

# Most characters of a note, a customs request, a record text (Telegram fits them by construction).
NOTE_MAX = 1000
RECORD_MAX = 3000
FILES_MAX = 20


class CaseResult(StrEnum):
    """How a case ended."""

    # The order goes on where it stood (a delay over, an issue fixed).
    RESUMED = "resumed"
    # Customs released the goods: back to clearance.
    RELEASED = "released"
    # Customs returns or destroys the goods: the company cancels the order (R-6.1 path).
    RETURNED = "returned"
    DESTROYED = "destroyed"
    RESHIPPED = "reshipped"
    COMPENSATED = "compensated"
    DISCOUNTED = "discounted"
    CANCELLED = "cancelled"


# Results after which the order does not resume but is cancelled by the company.
CANCELLING = frozenset({CaseResult.RETURNED, CaseResult.DESTROYED, CaseResult.CANCELLED})


class StepKind(StrEnum):
    """What a handling step of a case did."""

    OPENED = "opened"
    CAUSE_RECORDED = "cause_recorded"
    CUSTOMER_TOLD = "customer_told"
    CUSTOMS_NEEDS = "customs_needs"
    DOCUMENT_RECEIVED = "document_received"
    EVIDENCE_ADDED = "evidence_added"
    COMPENSATION_OFFERED = "compensation_offered"
    COMPENSATION_ACCEPTED = "compensation_accepted"
    COMPENSATION_APPLIED = "compensation_applied"
    NOTE = "note"
    CLOSED = "closed"
    RECORDED = "recorded"
    ANSWERED = "answered"


class FileKind(StrEnum):
    """What a file of a case's evidence is."""

    PHOTO = "photo"
    DOCUMENT = "document"


class CompensationKind(StrEnum):
    """What the company offers for an exception (R-6.3, R-6.4)."""

    FREIGHT_DISCOUNT = "freight_discount"
    COUPON = "coupon"
    PAYOUT = "payout"


@dataclass(frozen=True)
class CaseStep:
    """One line of a case's trail: what was done, by whom, when, with what note and files."""

    at: datetime
    kind: StepKind
    actor_id: int | None
    role: Role
    note: str = ""
    files: tuple[str, ...] = ()


@dataclass(frozen=True)
class EvidenceFile:
    """A Telegram file kept on the case: a photo or a document, and whether the customer sent it."""

    file_id: str
    kind: FileKind
    from_customer: bool = False


@dataclass
class Evidence:
    """What proves the exception: files (photos, PDFs) and the affected items' names."""

    files: list[EvidenceFile] = field(default_factory=list)
    items: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Compensation:
    """What was offered, by whom and when, and whether the customer accepted and it was applied."""

    kind: CompensationKind
    amount: Decimal
    currency: str
    offered_at: datetime
    offered_by: int | None
    accepted_at: datetime | None = None
    applied_at: datetime | None = None


class CaseClosed(DomainError):
    """The case is closed already; nothing more is done on it but the record and the answer."""


@dataclass
class ExceptionCase:
    """One exception of an order (R-6): type, cause, note, evidence, steps, result, compensation, feedback."""

    order_id: str
    type: ExceptionType
    cause: str | None
    note: str
    department: Role
    opened_at: datetime
    opened_by: int | None
    id: int | None = None
    evidence: Evidence = field(default_factory=Evidence)
    steps: list[CaseStep] = field(default_factory=list)
    # Delay: the new expected time logistics gives with the cause.
    new_eta: datetime | None = None
    # Customs hold: what customs needs, as logistics recorded it.
    customs_needs: str | None = None
    compensation: Compensation | None = None
    result: CaseResult | None = None
    closed_at: datetime | None = None
    closed_by: int | None = None
    # The order desk's completed exception record.
    record: str | None = None
    recorded_at: datetime | None = None
    recorded_by: int | None = None
    # The customer's one-tap answer on closing, and any words they added.
    satisfied: bool | None = None
    feedback: str | None = None
    answered_at: datetime | None = None

    @property
    def open(self) -> bool:
        """Whether the case is still being handled."""
        return self.closed_at is None

    def add_step(
        self,
        kind: StepKind,
        *,
        at: datetime,
        actor_id: int | None,
        role: Role,
        note: str = "",
        files: tuple[str, ...] = (),
    ) -> CaseStep:
        """Appends a line to the case's trail."""
        step = CaseStep(at, kind, actor_id, role, note[:NOTE_MAX], files)
        self.steps.append(step)
        return step

    def _require_open(self) -> None:
        """Refuses handling steps on a closed case."""
        if not self.open:
            raise CaseClosed(f"exception case {self.id} is closed")

    def record_cause(
        self, cause: str, *, at: datetime, actor_id: int | None, role: Role, new_eta: datetime | None = None
    ) -> None:
        """Keeps the cause found (and a delay's new expected time)."""
        self._require_open()
        self.cause = cause
        if new_eta is not None:
            self.new_eta = new_eta
        self.add_step(StepKind.CAUSE_RECORDED, at=at, actor_id=actor_id, role=role, note=cause)

    def add_file(
        self, file: EvidenceFile, *, at: datetime, actor_id: int | None, role: Role, kind: StepKind
    ) -> None:
        """Keeps a photo or document on the case (the customer's upload, or staff's evidence)."""
        self._require_open()
        if len(self.evidence.files) >= FILES_MAX:
            raise DomainError(f"exception case {self.id} holds {FILES_MAX} files already")
        if all(known.file_id != file.file_id for known in self.evidence.files):
            self.evidence.files.append(file)
        self.add_step(kind, at=at, actor_id=actor_id, role=role, note=file.kind.value, files=(file.file_id,))

    def close(
        self, result: CaseResult, *, at: datetime, actor_id: int | None, role: Role, note: str = ""
    ) -> None:
        """Closes the case with its result."""
        self._require_open()
        self.result = result
        self.closed_at = at
        self.closed_by = actor_id
        self.add_step(StepKind.CLOSED, at=at, actor_id=actor_id, role=role, note=note or result.value)

    def complete_record(self, text: str, *, at: datetime, actor_id: int | None, role: Role) -> None:
        """The order desk completes the exception record of a closed case (R-6.5)."""
        if self.open:
            raise DomainError(f"exception case {self.id} is still open; close it before its record")
        if self.recorded_at is not None:
            raise CaseClosed(f"the record of exception case {self.id} is complete already")
        self.record = text[:RECORD_MAX]
        self.recorded_at = at
        self.recorded_by = actor_id
        self.add_step(StepKind.RECORDED, at=at, actor_id=actor_id, role=role)

    def answer(self, satisfied: bool, *, at: datetime, customer_id: int | None) -> bool:
        """Keeps the customer's one-tap answer once; False if they answered already or it is open."""
        if self.open or self.answered_at is not None:
            return False
        self.satisfied = satisfied
        self.answered_at = at
        self.add_step(
            StepKind.ANSWERED, at=at, actor_id=customer_id, role=Role.CUSTOMER, note=str(satisfied).lower()
        )
        return True


def prefilled_record(case: ExceptionCase) -> str:
    """The exception record drafted from the case's trail (R-6.5): type, cause, steps, result, offer."""
    lines = [f"type: {case.type.value}", f"cause: {case.cause or '-'}", f"note: {case.note or '-'}"]
    if case.customs_needs:
        lines.append(f"customs needs: {case.customs_needs}")
    if case.new_eta is not None:
        lines.append(f"new expected time: {case.new_eta.isoformat(timespec='minutes')}")
    if case.evidence.items:
        lines.append("affected items: " + ", ".join(case.evidence.items))
    if case.evidence.files:
        lines.append(f"files: {len(case.evidence.files)}")
    for step in case.steps:
        detail = f" - {step.note}" if step.note else ""
        lines.append(f"{step.at.isoformat(timespec='minutes')} {step.kind.value} ({step.role.value}){detail}")
    if case.compensation is not None:
        offer = case.compensation
        lines.append(f"compensation: {offer.kind.value} {offer.amount} {offer.currency}")
    lines.append(f"result: {case.result.value if case.result else '-'}")
    return "\n".join(lines)[:RECORD_MAX]


def delay_length(case: ExceptionCase, expected_before: datetime | None) -> float | None:
    """How many hours later than expected the new expected time is (None: not known)."""
    if case.new_eta is None:
        return None
    before = expected_before or case.opened_at
    return (case.new_eta - before).total_seconds() / 3600


def check_offer(amount: Decimal, order_amount: Decimal, limit_percent: Decimal) -> None:
    """Refuses an offer above the share of the order's amount the role may give, or not positive."""
    if amount <= 0:
        raise DomainError("a compensation must be more than zero")
    if amount > order_amount * limit_percent / 100:
        raise OfferTooHigh(amount, order_amount * limit_percent / 100)


class OfferTooHigh(DomainError):
    """A compensation above what the role may offer on its own."""

    def __init__(self, amount: Decimal, limit: Decimal) -> None:
        self.amount = amount
        self.limit = limit.quantize(Decimal("0.01"))
        super().__init__(f"{amount} is above the limit of {self.limit}")
