"""Payment of orders (R-3.1): online by Telegram Payments, by transfer receipt, by a platform or offline.

The bank card is paid online: Telegram's invoice for the quote, checked again before the charge
(pre-checkout) and recorded once per charge. Bank transfer, Alipay and WeChat Pay are paid by
the customer's transfer, shown to the order desk as a receipt it accepts or refuses; how to pay
by each is data (domain/data/payment_instructions.toml, English and Chinese). An order is paid
when a charge or an accepted receipt lands; a payment after a "not paid" rejection sends the
order back to review by itself, without a new submission.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import lru_cache
from importlib import resources

from domain.errors import DomainError
from domain.orders.events import Event
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus, Role
from domain.review import REVIEW_STATUSES, RejectReason

SYSTEM = frozenset({Role.SYSTEM})
# Telegram's invoice payload names the order it is for (at most 128 bytes).
INVOICE_PREFIX = "order:"
# ISO 4217 currencies without minor units, as Telegram's currencies.json gives them (exp 0).
ZERO_DECIMAL_CURRENCIES = frozenset(
    "BIF CLP DJF GNF ISK JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split()
)


class PaymentMethod(StrEnum):
    """The payment methods the wizard offers (the values the order stores)."""

    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    ALIPAY = "alipay"
    WECHAT_PAY = "wechat_pay"


class PaymentSource(StrEnum):
    """How a payment reached us."""

    TELEGRAM = "telegram"
    RECEIPT = "receipt"
    PLATFORM = "platform"
    OFFLINE = "offline"


class PaymentStatus(StrEnum):
    """Where a recorded payment stands: a charge is paid; a receipt waits, is accepted or refused."""

    PAID = "paid"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REFUSED = "refused"


class ReceiptKind(StrEnum):
    """What the customer sent as the receipt."""

    PHOTO = "photo"
    DOCUMENT = "document"


class ReceiptRefusal(StrEnum):
    """Why the order desk refuses a transfer receipt; each tells the customer what to do."""

    UNREADABLE = "unreadable"
    WRONG_AMOUNT = "wrong_amount"
    NOT_RECEIVED = "not_received"


class PayRefusal(StrEnum):
    """Why an order cannot be paid (now, at this amount): the pre-checkout's error."""

    NOT_YOURS = "not_yours"
    NOT_PAYABLE = "not_payable"
    ALREADY_PAID = "already_paid"
    AMOUNT_CHANGED = "amount_changed"
    CURRENCY_CHANGED = "currency_changed"


class PaymentState(StrEnum):
    """What the order desk sees about an order's payment."""

    PAID = "paid"
    RECEIPT_WAITING = "receipt_waiting"
    RECEIPT_REFUSED = "receipt_refused"
    NOT_PAID = "not_paid"


@dataclass(frozen=True)
class PaymentRecord:
    """One payment of an order: a Telegram charge, a receipt, a platform's or an offline payment."""

    order_id: str
    method: str
    source: PaymentSource
    status: PaymentStatus
    amount: Decimal
    currency: str
    created_at: datetime
    telegram_payment_charge_id: str | None = None
    provider_payment_charge_id: str | None = None
    file_id: str | None = None
    file_kind: ReceiptKind | None = None
    decided_by: int | None = None
    decided_at: datetime | None = None
    refusal: ReceiptRefusal | None = None
    id: int | None = None


@dataclass(frozen=True)
class PaymentReceived(Event):
    """The order is paid; reopened says a "not paid" rejection was sent back to review by it."""

    method: str
    source: PaymentSource
    reopened: bool


@dataclass(frozen=True)
class ReceiptSubmitted(Event):
    """The customer sent a transfer receipt for the order desk to check."""

    payment_id: int
    file_id: str
    kind: ReceiptKind


@dataclass(frozen=True)
class ReceiptRefused(Event):
    """The order desk refused a transfer receipt; the customer is told why and how to pay."""

    reason: ReceiptRefusal


@dataclass(frozen=True)
class PaymentRequested(Event):
    """The order desk asked the customer to pay (Remind the customer)."""

    method: str


class NotPaid(DomainError):
    """The first review cannot pass an order that is not paid (R-3.1)."""

    def __init__(self, order: Order) -> None:
        self.order = order
        super().__init__(f"order {order.display_id} is not paid")


def is_online(method: str) -> bool:
    """Whether the method is paid in the chat through Telegram Payments."""
    return method == PaymentMethod.CARD.value


def needs_receipt(method: str) -> bool:
    """Whether the method is paid by a transfer whose receipt the customer uploads."""
    return method in (
        PaymentMethod.BANK_TRANSFER.value,
        PaymentMethod.ALIPAY.value,
        PaymentMethod.WECHAT_PAY.value,
    )


def minor_units(amount: Decimal, currency: str) -> int:
    """The amount in the currency's smallest unit, as Telegram's invoices count it (85.00 CNY -> 8500)."""
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    return int((amount * (10**exponent)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor_units(units: int, currency: str) -> Decimal:
    """The amount of a count in the currency's smallest unit (8500 CNY -> 85.00)."""
    exponent = 0 if currency.upper() in ZERO_DECIMAL_CURRENCIES else 2
    return Decimal(units).scaleb(-exponent)


def invoice_payload(order: Order) -> str:
    """The invoice payload naming the order."""
    return INVOICE_PREFIX + order.id


def order_id_of(payload: str) -> str | None:
    """The order id an invoice payload names, or None if it is not one of ours."""
    if not payload.startswith(INVOICE_PREFIX):
        return None
    order_id = payload.removeprefix(INVOICE_PREFIX)
    return order_id if 0 < len(order_id) <= 64 and order_id.isprintable() else None


def rejected_as_not_paid(order: Order) -> bool:
    """Whether the order is rejected, and the rejection was for the missing payment."""
    if order.status is not OrderStatus.REJECTED:
        return False
    rejection = next((line for line in reversed(order.audit) if line.action == Action.REJECT.value), None)
    return rejection is not None and rejection.note.split(":", 1)[0] == RejectReason.NOT_PAID.value


def amount_due(order: Order) -> Decimal:
    """What the customer pays now: the difference still open after a price rise, else the whole amount."""
    return order.outstanding if order.outstanding is not None else order.amount


def awaits_payment(order: Order) -> bool:
    """Whether the order is unpaid and waiting for it: submitted, in review or rejected as not paid."""
    if order.paid:
        return False
    return order.status in (OrderStatus.SUBMITTED, *REVIEW_STATUSES) or rejected_as_not_paid(order)


def refusal_to_pay(
    order: Order, *, payer_id: int | None, total_amount: int, currency: str
) -> PayRefusal | None:
    """Checks an online payment against the order as it is now; None when it may be charged."""
    if payer_id is None or order.customer.telegram_user_id != payer_id:
        return PayRefusal.NOT_YOURS
    if order.paid:
        return PayRefusal.ALREADY_PAID
    if not awaits_payment(order):
        return PayRefusal.NOT_PAYABLE
    if currency.upper() != order.currency.upper():
        return PayRefusal.CURRENCY_CHANGED
    if total_amount != minor_units(amount_due(order), order.currency):
        return PayRefusal.AMOUNT_CHANGED
    return None


def payment_state(order: Order, records: list[PaymentRecord]) -> PaymentState:
    """What the order desk is told of the order's payment, from the order and its recorded payments."""
    if order.paid:
        return PaymentState.PAID
    receipts = [record for record in records if record.source is PaymentSource.RECEIPT]
    if any(record.status is PaymentStatus.SUBMITTED for record in receipts):
        return PaymentState.RECEIPT_WAITING
    if receipts and receipts[-1].status is PaymentStatus.REFUSED:
        return PaymentState.RECEIPT_REFUSED
    return PaymentState.NOT_PAID


def check_paid(order: Order) -> None:
    """Refuses to pass the first review of an unpaid order (R-3.1)."""
    if not order.paid:
        raise NotPaid(order)


def settle(
    order: Order, *, source: PaymentSource, actor_id: int | None, role: Role, now: datetime, note: str
) -> PaymentReceived:
    """Marks the order paid, audits it and, after a "not paid" rejection, sends it back to review."""
    if order.paid:
        raise DomainError(f"order {order.display_id} is paid already")
    if not awaits_payment(order):
        raise DomainError(f"order {order.display_id} does not wait for a payment (now {order.status.value})")
    reopen = rejected_as_not_paid(order)
    order.paid = True
    order.outstanding = None
    order.note(note, actor_id=actor_id, role=role, now=now, action="payment_received")
    event = PaymentReceived(order.event_id(), order.id, now, order.payment_method, source, reopen)
    order.record(event)
    if reopen:
        # Paying is the customer's answer to the rejection (or the clerk's, accepting the receipt).
        order.apply(Action.RESUBMIT, actor_id=actor_id, roles=frozenset({role}), now=now, note="paid")
        order.apply(Action.PASS_VALIDATION, actor_id=None, roles=SYSTEM, now=now)
    return event


@dataclass(frozen=True)
class Instructions:
    """How to pay by one method, in English and Chinese, with {amount} and {reference} to fill in."""

    method: str
    en: str
    zh: str

    def text(self, language: str, *, amount: str, reference: str) -> str:
        """The instructions in the language (Chinese for zh*, English otherwise), filled in."""
        template = self.zh if language.startswith("zh") else self.en
        return template.replace("{amount}", amount).replace("{reference}", reference)


def parse_instructions(data: dict[str, object]) -> dict[str, Instructions]:
    """Reads the instructions file's tables; raises ValueError naming the key that is wrong."""
    methods = data.get("method")
    if not isinstance(methods, dict):
        raise ValueError("payment instructions: a [method.<id>] table is missing")
    result = {}
    for method, table in methods.items():
        if method not in PaymentMethod.__members__.values() or is_online(method):
            raise ValueError(f"payment instructions: method.{method} is not a transfer method")
        if not isinstance(table, dict):
            raise ValueError(f"payment instructions: method.{method} is not a table")
        texts = [table.get(language) for language in ("en", "zh")]
        for language, text in zip(("en", "zh"), texts, strict=True):
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"payment instructions: method.{method}.{language} is missing")
        result[method] = Instructions(method, str(texts[0]).strip(), str(texts[1]).strip())
    missing = {m.value for m in PaymentMethod if needs_receipt(m.value)} - result.keys()
    if missing:
        raise ValueError(f"payment instructions: method.{sorted(missing)[0]} is missing")
    return result


@lru_cache(maxsize=1)
def payment_instructions() -> dict[str, Instructions]:
    """The shipped instructions (domain/data/payment_instructions.toml), by method."""
    text = resources.files("domain.data").joinpath("payment_instructions.toml").read_text(encoding="utf-8")
    return parse_instructions(tomllib.loads(text))
