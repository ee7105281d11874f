"""Money the company owes a customer (R-6.1, R-6.4): refunds and payouts, paid by finance.

One record per amount owed: a refund (the order cancelled, recalled less the agreed charge, a
lower price after a service change) or a payout (compensation for a delay, damage, a wrong
shipment or a loss; a discount granted after payment). It goes back the way the money came: the
record keeps the method of the order's recorded payment and, for a Telegram Payments charge, the
provider's charge id, which finance needs to refund it. It is due within the policy's limit
(3 working days: stages `refund` and `compensation`), and is open until finance records it paid
with the payment's reference, the time it was paid and who recorded it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from domain.errors import DomainError
from domain.orders.events import Event

# Currency amounts are kept with two decimals (the storage's Money column, Numeric(12, 2)).
MAX_AMOUNT = Decimal("9999999999.99")
REFERENCE_MAX = 200
NOTE_MAX = 500


class MoneyKind(StrEnum):
    """Whether the money goes back (refund) or is paid on top (payout)."""

    REFUND = "refund"
    PAYOUT = "payout"


class OwedReason(StrEnum):
    """Why the money is owed; each belongs to one kind (REASON_KINDS)."""

    CANCELLATION = "cancellation"
    RECALL = "recall"
    PRICE_DIFFERENCE = "price_difference"
    DELAY_COMPENSATION = "delay_compensation"
    DAMAGE_COMPENSATION = "damage_compensation"
    WRONG_SHIPMENT_COMPENSATION = "wrong_shipment_compensation"
    LOSS_COMPENSATION = "loss_compensation"
    DISCOUNT = "discount"


R = OwedReason
REASON_KINDS: dict[OwedReason, MoneyKind] = {
    R.CANCELLATION: MoneyKind.REFUND,
    R.RECALL: MoneyKind.REFUND,
    R.PRICE_DIFFERENCE: MoneyKind.REFUND,
    R.DELAY_COMPENSATION: MoneyKind.PAYOUT,
    R.DAMAGE_COMPENSATION: MoneyKind.PAYOUT,
    R.WRONG_SHIPMENT_COMPENSATION: MoneyKind.PAYOUT,
    R.LOSS_COMPENSATION: MoneyKind.PAYOUT,
    R.DISCOUNT: MoneyKind.PAYOUT,
}
del R


class OwedStatus(StrEnum):
    """Where a record stands."""

    OPEN = "open"
    PAID = "paid"


@dataclass(frozen=True)
class MoneyOwed:
    """One refund or payout of an order, open until finance records it paid."""

    order_id: str
    kind: MoneyKind
    reason: OwedReason
    amount: Decimal
    currency: str
    # The payment method of the order's recorded payment (PaymentMethod values), and how it came in.
    method: str
    created_at: datetime
    due_at: datetime
    note: str = ""
    payment_source: str | None = None
    telegram_payment_charge_id: str | None = None
    provider_payment_charge_id: str | None = None
    created_by: int | None = None
    # The exception case (issue 14) the payout settles, if any.
    case_id: int | None = None
    status: OwedStatus = OwedStatus.OPEN
    paid_reference: str | None = None
    paid_at: datetime | None = None
    paid_by: int | None = None
    # When the payment was recorded (paid_at is when the money went out, as finance states it).
    recorded_at: datetime | None = None
    id: int | None = None

    @property
    def is_open(self) -> bool:
        """Whether finance still has to pay it."""
        return self.status is OwedStatus.OPEN


@dataclass(frozen=True)
class MoneyOwedEvent(Event):
    """Base of the events of one refund or payout record: which record, and what it owes how."""

    record_id: int
    kind: MoneyKind
    reason: OwedReason
    amount: Decimal
    currency: str
    method: str


@dataclass(frozen=True)
class MoneyOwedRecorded(MoneyOwedEvent):
    """The company owes the order's customer money: finance gets the record's card."""

    due_at: datetime
    provider_payment_charge_id: str | None
    note: str = ""


@dataclass(frozen=True)
class MoneyOwedPaid(MoneyOwedEvent):
    """Finance paid a refund or payout: the customer is told."""

    reference: str
    paid_at: datetime
    paid_by: int | None


class OwedRefused(DomainError):
    """A record cannot be made or paid as asked; `field` names what to fix."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class AlreadyPaid(DomainError):
    """The record was recorded as paid already (a double press or a stale button)."""

    def __init__(self, record: MoneyOwed) -> None:
        self.record = record
        super().__init__(f"record {record.id} was paid already")


def check_owed(kind: MoneyKind, reason: OwedReason, amount: Decimal, currency: str) -> None:
    """Refuses a record whose reason is of the other kind, or whose amount or currency is unusable."""
    if REASON_KINDS[reason] is not kind:
        raise OwedRefused("reason", f"{reason.value} is a reason for a {REASON_KINDS[reason].value}")
    if not amount.is_finite() or amount <= 0:
        raise OwedRefused("amount", "must be more than zero")
    if amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise OwedRefused("amount", "must have at most two decimals and ten digits before them")
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        raise OwedRefused("currency", "must be a three-letter ISO 4217 code such as CNY")


def refundable_left(order_amount: Decimal, refunds: list[MoneyOwed]) -> Decimal:
    """What may still be refunded of an order: its amount less the refunds recorded already."""
    owed = sum((record.amount for record in refunds if record.kind is MoneyKind.REFUND), Decimal(0))
    return order_amount - owed


def check_paid(record: MoneyOwed, reference: str, paid_at: datetime, now: datetime) -> None:
    """Refuses paying a record twice, without a reference, or at a time before it was owed or to come."""
    if not record.is_open:
        raise AlreadyPaid(record)
    if not reference:
        raise OwedRefused("reference", "is needed: the payment's reference from the bank or provider")
    if len(reference) > REFERENCE_MAX:
        raise OwedRefused("reference", f"is longer than {REFERENCE_MAX} characters")
    if paid_at > now:
        raise OwedRefused("paid_at", "is in the future")
    if paid_at < record.created_at:
        raise OwedRefused("paid_at", "is before the money was owed")
