"""A claim for damaged, wrongly shipped or lost goods (R-6.4), kept on the order's own trail.

Every step of a claim is an audit line of the order (ClaimStep is its action), so a claim changes in
the same transaction, under the same version check, as the order: two presses of one button give
one step, and the loser of a race is told it was already done. `claim_of` reads the claim of the
order's current exception back from those lines. The steps, in order:

1. evidence: photos (Telegram file ids) and the affected goods lines with quantities, then
   *evidence recorded* (it ends the evidence clock, 2 h, and starts claim_contact, 1 h);
2. customer service records that it contacted the customer (claim_contact ends);
3. customer service offers a resolution: reship, compensate (an amount from compensation.py) or a
   discount; the customer accepts or declines (declined: customer service offers again);
4. an accepted reship is a warehouse task done with its own button; an accepted compensation is a
   payout finance owes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from domain.errors import DomainError
from domain.orders.model import AuditEvent, Order
from domain.orders.status import ExceptionType, OrderStatus, Role

# The exception types a claim handles.
CLAIM_TYPES = frozenset({ExceptionType.DAMAGED, ExceptionType.WRONG_SHIPMENT, ExceptionType.LOST})
# A photo's Telegram file id is at most this long (they are about 80-100 characters).
FILE_ID_MAX = 200


class ClaimStep(StrEnum):
    """A claim's steps; the value is the audit action of the order's trail."""

    PHOTO = "claim_photo"
    ITEM = "claim_item"
    EVIDENCE = "claim_evidence"
    CONTACTED = "claim_contacted"
    OFFERED = "claim_offered"
    ACCEPTED = "claim_accepted"
    DECLINED = "claim_declined"
    RESHIPPED = "claim_reshipped"


class Resolution(StrEnum):
    """What the company offers the customer (R-6.4)."""

    RESHIP = "reship"
    COMPENSATE = "compensate"
    DISCOUNT = "discount"


class ClaimProblem(StrEnum):
    """Why a claim step is refused; the handlers word each one."""

    NO_CLAIM = "no_claim"
    EVIDENCE_CLOSED = "evidence_closed"
    TOO_MANY_PHOTOS = "too_many_photos"
    BAD_FILE = "bad_file"
    NO_SUCH_LINE = "no_such_line"
    BAD_QUANTITY = "bad_quantity"
    NO_PHOTO = "no_photo"
    NO_ITEMS = "no_items"
    NO_EVIDENCE = "no_evidence"
    CONTACTED_ALREADY = "contacted_already"
    NOT_CONTACTED = "not_contacted"
    OFFER_OPEN = "offer_open"
    NO_OFFER = "no_offer"
    ANSWERED = "answered"
    NOT_RESHIP = "not_reship"
    RESHIPPED_ALREADY = "reshipped_already"
    NOT_FOR_LOST = "not_for_lost"
    BAD_DISCOUNT = "bad_discount"
    NOT_SETTLED = "not_settled"


class ClaimError(DomainError):
    """A claim step the rules refuse, with the reason."""

    def __init__(self, problem: ClaimProblem, detail: str = "") -> None:
        self.problem = problem
        self.detail = detail
        super().__init__(f"{problem.value}{': ' + detail if detail else ''}")


@dataclass(frozen=True)
class Offer:
    """A resolution offered to the customer: its kind, the amount paid or taken off, the discount's share."""

    resolution: Resolution
    amount: Decimal | None = None
    percent: int | None = None
    at: datetime | None = None
    by: int | None = None

    def note(self) -> str:
        """The offer as its audit note."""
        parts = [self.resolution.value, "" if self.amount is None else f"{self.amount:.2f}"]
        parts.append("" if self.percent is None else str(self.percent))
        return ":".join(parts)

    @classmethod
    def parse(cls, note: str, at: datetime, by: int | None) -> Offer:
        """Reads an offer back from its audit note."""
        kind, _, rest = note.partition(":")
        amount, _, percent = rest.partition(":")
        try:
            value = Decimal(amount) if amount else None
        except InvalidOperation:
            value = None
        return cls(Resolution(kind), value, int(percent) if percent.isdigit() else None, at, by)


@dataclass(frozen=True)
class Claim:
    """The claim of an order's current damage, wrong-shipment or loss exception, read from its trail."""

    kind: ExceptionType
    opened_at: datetime
    photos: tuple[str, ...] = ()
    # Affected quantity per goods line (index into order.items); lines at 0 are left out.
    items: dict[int, int] = field(default_factory=dict)
    evidence_at: datetime | None = None
    contacted_at: datetime | None = None
    contacted_by: int | None = None
    offer: Offer | None = None
    accepted_at: datetime | None = None
    declined_at: datetime | None = None
    reshipped_at: datetime | None = None
    reshipped_by: int | None = None

    @property
    def lost(self) -> bool:
        """Whether the goods are lost (then every line is affected, in full)."""
        return self.kind is ExceptionType.LOST

    @property
    def open_offer(self) -> bool:
        """Whether an offer waits for the customer's answer."""
        return self.offer is not None and self.accepted_at is None and self.declined_at is None

    @property
    def reship_pending(self) -> bool:
        """Whether an accepted reship waits for the warehouse."""
        return (
            self.offer is not None
            and self.offer.resolution is Resolution.RESHIP
            and self.accepted_at is not None
            and self.reshipped_at is None
        )

    def affected(self, order: Order) -> dict[int, int]:
        """The affected quantity per goods line: every line in full when lost."""
        if self.lost:
            return {index: item.quantity for index, item in enumerate(order.items)}
        return dict(self.items)


def _opened(order: Order) -> AuditEvent | None:
    """The audit line where the order entered its current exception."""
    for line in reversed(order.audit):
        if line.to_status is OrderStatus.EXCEPTION and line.from_status is not OrderStatus.EXCEPTION:
            return line
    return None


def claim_of(order: Order) -> Claim | None:
    """The claim of the order's current exception, or None when it is no damage, wrong shipment or loss."""
    if order.status is not OrderStatus.EXCEPTION or order.exception_type not in CLAIM_TYPES:
        return None
    start = _opened(order)
    if start is None:
        return None
    photos: list[str] = []
    items: dict[int, int] = {}
    values: dict[str, object] = {}
    for line in order.audit[order.audit.index(start) + 1 :]:
        match line.action:
            case ClaimStep.PHOTO:
                photos.append(line.note)
            case ClaimStep.ITEM:
                index, _, quantity = line.note.partition(":")
                if index.isdigit() and quantity.isdigit():
                    items[int(index)] = int(quantity)
            case ClaimStep.EVIDENCE:
                values["evidence_at"] = line.at
            case ClaimStep.CONTACTED:
                values.update(contacted_at=line.at, contacted_by=line.actor_id)
            case ClaimStep.OFFERED:
                # A new offer (after a decline) replaces the last one and its answer.
                values.update(
                    offer=Offer.parse(line.note, line.at, line.actor_id), accepted_at=None, declined_at=None
                )
            case ClaimStep.ACCEPTED:
                values["accepted_at"] = line.at
            case ClaimStep.DECLINED:
                values["declined_at"] = line.at
            case ClaimStep.RESHIPPED:
                values.update(reshipped_at=line.at, reshipped_by=line.actor_id)
    return Claim(
        order.exception_type,
        start.at,
        tuple(photos),
        {index: quantity for index, quantity in items.items() if quantity > 0},
        **values,  # type: ignore[arg-type]
    )


def require_claim(order: Order) -> Claim:
    """The order's claim; refuses when the order has none open."""
    claim = claim_of(order)
    if claim is None:
        raise ClaimError(ClaimProblem.NO_CLAIM, order.display_id)
    return claim


def _write(order: Order, step: ClaimStep, note: str, actor_id: int | None, role: Role, now: datetime) -> None:
    """Writes a claim step on the order's trail."""
    order.note(note, actor_id=actor_id, role=role, now=now, action=step.value)


def _before_evidence(order: Order) -> Claim:
    """The claim while its evidence is still being gathered."""
    claim = require_claim(order)
    if claim.evidence_at is not None:
        raise ClaimError(ClaimProblem.EVIDENCE_CLOSED)
    return claim


def add_photo(
    order: Order, file_id: str, *, max_photos: int, actor_id: int | None, role: Role, now: datetime
) -> Claim:
    """Keeps one more photo of the evidence (its Telegram file id)."""
    claim = _before_evidence(order)
    file_id = file_id.strip()
    if not file_id or len(file_id) > FILE_ID_MAX or any(ch.isspace() for ch in file_id):
        raise ClaimError(ClaimProblem.BAD_FILE)
    if file_id in claim.photos:
        return claim
    if len(claim.photos) >= max_photos:
        raise ClaimError(ClaimProblem.TOO_MANY_PHOTOS, str(max_photos))
    _write(order, ClaimStep.PHOTO, file_id, actor_id, role, now)
    return require_claim(order)


def set_item(
    order: Order, index: int, quantity: int, *, actor_id: int | None, role: Role, now: datetime
) -> Claim:
    """Sets how many pieces of one goods line are affected (0 takes the line off the claim)."""
    claim = _before_evidence(order)
    if claim.lost:
        raise ClaimError(ClaimProblem.NOT_FOR_LOST)
    if not 0 <= index < len(order.items):
        raise ClaimError(ClaimProblem.NO_SUCH_LINE, str(index + 1))
    line = order.items[index]
    if not 0 <= quantity <= line.quantity:
        raise ClaimError(ClaimProblem.BAD_QUANTITY, str(line.quantity))
    if claim.items.get(index, 0) == quantity:
        return claim
    _write(order, ClaimStep.ITEM, f"{index}:{quantity}", actor_id, role, now)
    return require_claim(order)


def record_evidence(order: Order, *, actor_id: int | None, role: Role, now: datetime) -> Claim:
    """Closes the evidence: at least one photo, and the affected goods unless they are lost."""
    claim = _before_evidence(order)
    if not claim.photos:
        raise ClaimError(ClaimProblem.NO_PHOTO)
    if not claim.lost and not claim.items:
        raise ClaimError(ClaimProblem.NO_ITEMS)
    _write(order, ClaimStep.EVIDENCE, "", actor_id, role, now)
    return require_claim(order)


def record_contact(order: Order, *, actor_id: int | None, role: Role, now: datetime) -> Claim:
    """Customer service contacted the customer about the claim (after the evidence)."""
    claim = require_claim(order)
    if claim.evidence_at is None:
        raise ClaimError(ClaimProblem.NO_EVIDENCE)
    if claim.contacted_at is not None:
        raise ClaimError(ClaimProblem.CONTACTED_ALREADY)
    _write(order, ClaimStep.CONTACTED, "", actor_id, role, now)
    return require_claim(order)


def offer(order: Order, proposal: Offer, *, actor_id: int | None, role: Role, now: datetime) -> Claim:
    """Offers the customer a resolution (after contacting them; one offer at a time)."""
    claim = require_claim(order)
    if claim.contacted_at is None:
        raise ClaimError(ClaimProblem.NOT_CONTACTED)
    if claim.open_offer or claim.accepted_at is not None:
        raise ClaimError(ClaimProblem.OFFER_OPEN)
    if proposal.resolution is Resolution.RESHIP and claim.lost and not order.items:
        raise ClaimError(ClaimProblem.NO_ITEMS)
    _write(order, ClaimStep.OFFERED, proposal.note(), actor_id, role, now)
    return require_claim(order)


def answer(order: Order, accepted: bool, *, actor_id: int | None, now: datetime) -> Claim:
    """The customer accepts or declines the offer."""
    claim = require_claim(order)
    if claim.offer is None:
        raise ClaimError(ClaimProblem.NO_OFFER)
    if not claim.open_offer:
        raise ClaimError(ClaimProblem.ANSWERED)
    step = ClaimStep.ACCEPTED if accepted else ClaimStep.DECLINED
    _write(order, step, "", actor_id, Role.CUSTOMER, now)
    return require_claim(order)


def record_reshipped(order: Order, *, actor_id: int | None, role: Role, now: datetime) -> Claim:
    """The warehouse shipped the replacement goods of an accepted reship."""
    claim = require_claim(order)
    if claim.reshipped_at is not None:
        raise ClaimError(ClaimProblem.RESHIPPED_ALREADY)
    if not claim.reship_pending:
        raise ClaimError(ClaimProblem.NOT_RESHIP)
    _write(order, ClaimStep.RESHIPPED, "", actor_id, role, now)
    return require_claim(order)
