"""Cancellation of a placed order (R-6.1): by the customer or by the company, and the path it takes.

Before confirmation an order is cancelled at once. A confirmed order not yet outbound is put on
hold (cancellation requested): customer service checks the request within the hour, the order desk
cancels within two hours, and what was paid is refunded. An order already outbound is recalled:
customer service proposes the share of the freight the customer bears (the tariff's default,
editable), the customer accepts (logistics brings the goods back, then the order is cancelled and
refunded less the charge) or declines (the order goes on). The company cancels when the service
cannot be provided: customer service tells the customer and offers another service at a new quote
or the cancellation with a full refund; the customer chooses.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cache
from importlib import resources

from domain.errors import DomainError
from domain.orders.events import Event
from domain.orders.model import Order
from domain.orders.status import BEFORE_CONFIRMATION, OrderStatus

# Confirmed and not yet outbound: the goods are still with the warehouse, so the order is held.
BEFORE_OUTBOUND = frozenset({OrderStatus.CONFIRMED, OrderStatus.PICKED})
# Outbound already: the goods are with logistics and must be brought back.
AFTER_OUTBOUND = frozenset(
    {
        OrderStatus.OUTBOUND,
        OrderStatus.BOOKED,
        OrderStatus.IN_TRANSIT,
        OrderStatus.ARRIVED,
        OrderStatus.CLEARED,
        OrderStatus.OUT_FOR_DELIVERY,
    }
)
# Where the company may say the service cannot be provided: under way, or held by an exception.
COMPANY_CANCELLABLE = frozenset({*BEFORE_OUTBOUND, *AFTER_OUTBOUND, OrderStatus.EXCEPTION})
# Reasons and shares are kept short: they are shown on cards and to the customer.
REASON_MAX = 300
SHARE_MAX = Decimal(100)


class CancellationPath(StrEnum):
    """Which of R-6.1's paths a cancellation takes."""

    AT_ONCE = "at_once"
    HOLD = "hold"
    RECALL = "recall"
    COMPANY = "company"


class CancellationState(StrEnum):
    """Where a cancellation stands."""

    REQUESTED = "requested"
    CHECKED = "checked"
    TERMS_PROPOSED = "terms_proposed"
    RECALLING = "recalling"
    OFFERED = "offered"
    CANCELLED = "cancelled"
    DECLINED = "declined"
    OTHER_SERVICE = "other_service"

    @property
    def closed(self) -> bool:
        """Whether nothing more is decided on this cancellation."""
        return self in (
            CancellationState.CANCELLED,
            CancellationState.DECLINED,
            CancellationState.OTHER_SERVICE,
        )


class CancellationStep(StrEnum):
    """What just happened to a cancellation (the notification policy tells people of it)."""

    FILED = "filed"
    CHECKED = "checked"
    TERMS = "terms"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    CANNOT_SERVE = "cannot_serve"
    OFFERED = "offered"
    OTHER_SERVICE = "other_service"
    CANCELLED = "cancelled"


class Alternative(StrEnum):
    """What the customer may choose when the company cannot provide the service."""

    CANCEL = "cancel"
    OTHER_SERVICE = "other_service"


@dataclass
class Cancellation:
    """One cancellation of an order: who asked, on which path, the terms agreed and where it stands."""

    order_id: str
    path: CancellationPath
    state: CancellationState
    requested_at: datetime
    requested_by: int | None
    # How the customer agreed when staff filed it for them, e.g. "by phone"; "" in their chat.
    consent: str = ""
    reason: str = ""
    # The recall terms: the share of the freight the customer bears and the resulting charge.
    share_percent: Decimal | None = None
    charge: Decimal | None = None
    currency: str = ""
    decided_at: datetime | None = None
    decided_by: int | None = None
    refund: Decimal | None = None
    # Whether the company offers another service at a new quote (not when the goods are gone).
    other_service_offered: bool = True
    id: int | None = None

    @property
    def by_company(self) -> bool:
        """Whether the company cancels (the service cannot be provided)."""
        return self.path is CancellationPath.COMPANY


@dataclass(frozen=True)
class CancellationChanged(Event):
    """A cancellation moved on: the step, and the cancellation as it stands after it."""

    step: CancellationStep
    cancellation: Cancellation


class CancellationError(DomainError):
    """A cancellation step that is not possible now; `code` says which rule refused it."""

    def __init__(self, code: str, order: Order | None = None) -> None:
        self.code = code
        self.order = order
        super().__init__(f"cancellation: {code}")


def path_for(status: OrderStatus) -> CancellationPath:
    """The path a customer's cancellation takes from the order's status; raises if none."""
    if status in BEFORE_CONFIRMATION:
        return CancellationPath.AT_ONCE
    if status in BEFORE_OUTBOUND:
        return CancellationPath.HOLD
    if status in AFTER_OUTBOUND:
        return CancellationPath.RECALL
    raise CancellationError("not_cancellable")


@cache
def default_recall_share() -> Decimal:
    """The share of the freight (percent) a recalled order's customer bears by default (tariff.toml)."""
    text = resources.files("domain.data").joinpath("tariff.toml").read_text(encoding="utf-8")
    section = tomllib.loads(text).get("cancellation", {})
    return parse_share(str(section.get("recall_freight_share_percent", "0")))


def parse_share(text: str) -> Decimal:
    """Reads a share of the freight in percent (0 to 100, e.g. "30" or "30%"); raises CancellationError."""
    cleaned = text.strip().removesuffix("%").strip().replace(",", ".")
    try:
        share = Decimal(cleaned)
    except ArithmeticError:
        raise CancellationError("share.invalid") from None
    if not share.is_finite() or share < 0 or share > SHARE_MAX:
        raise CancellationError("share.invalid")
    return share.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP).normalize()


def recall_charge(order: Order, share_percent: Decimal) -> Decimal:
    """The freight the customer bears for a recall: the share of the order's amount, to the cent."""
    return (order.amount * share_percent / SHARE_MAX).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def refund_amount(order: Order, charge: Decimal | None = None) -> Decimal:
    """What is refunded on cancelling: what was paid, less an agreed recall charge; nothing if unpaid."""
    if not order.paid:
        return Decimal("0.00")
    return max(order.amount - (charge or Decimal(0)), Decimal(0)).quantize(Decimal("0.01"))


def clean_reason(text: str) -> str:
    """A reason as shown on cards: one line, no control characters, at most REASON_MAX; raises if empty."""
    cleaned = " ".join("".join(ch for ch in text if ch.isprintable() or ch.isspace()).split())
    if len(cleaned) < 3:
        raise CancellationError("reason.short")
    return cleaned[:REASON_MAX]
