"""First and second review, rejection and confirmation of orders (R-3), with the four-eyes rule.

Use cases load the order, ask the aggregate, write the messages the change causes as outbox rows
through injected renderers, and commit: all in one transaction. On the last approval the order is
confirmed and numbered in that same transaction (R-3.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from domain.delivery import expected_delivery_date
from domain.errors import DomainError
from domain.intake.clearance import order_special_goods
from domain.intake.screening import Verdict, screen
from domain.intake.special_services import special_services
from domain.orders.model import AuditEvent, Order
from domain.orders.special import SpecialService
from domain.orders.status import Action, OrderStatus, Role
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext, clock_left, running_clock, stage_for
from domain.sla.policy import SlaPolicy
from domain.sla.policy_file import shipped_policy

SYSTEM = frozenset({Role.SYSTEM})
REVIEW_STATUSES = (OrderStatus.PENDING_REVIEW, OrderStatus.PENDING_SECOND_REVIEW)
# Audit actions that are people's review decisions, for "already handled by" (not the system's confirm).
DECISIONS = frozenset(
    {
        Action.APPROVE.value,
        Action.REFER_SECOND_REVIEW.value,
        Action.APPROVE_SECOND.value,
        Action.REJECT.value,
        Action.CANCEL.value,
    }
)
QUESTION_MAX = 1000
RECEIPT_MAX = 200


class SecondReviewCause(StrEnum):
    """Why an order needs the second review."""

    LARGE_AMOUNT = "large_amount"
    UNKNOWN_CURRENCY = "unknown_currency"
    OVERSIZE = "oversize"
    CUSTOM_WAREHOUSE = "custom_warehouse"
    GOODS_REVIEW = "goods_review"


@dataclass(frozen=True)
class SecondReviewReason:
    """One reason for the second review, with what triggered it (amount, goods name...)."""

    cause: SecondReviewCause
    detail: str = ""


class RejectReason(StrEnum):
    """The reasons a reviewer picks from (R-3.1)."""

    NOT_PAID = "not_paid"
    INCONSISTENT = "inconsistent"
    CANNOT_SERVE = "cannot_serve"
    OTHER = "other"

    @property
    def fix_field(self) -> str:
        """The wizard field the customer is sent back to for this reason."""
        return _FIX_FIELDS[self]


_FIX_FIELDS = {
    RejectReason.NOT_PAID: "payment",
    RejectReason.INCONSISTENT: "preview",
    RejectReason.CANNOT_SERVE: "service",
    RejectReason.OTHER: "preview",
}


@dataclass(frozen=True)
class ReviewPolicy:
    """The configurable part of the second-review rule (LARGE_ORDER_THRESHOLD and friends)."""

    threshold: Decimal
    currency: str
    # Units of the threshold currency per unit of another currency; a missing rate means "ask the head".
    rates: Mapping[str, Decimal] = field(default_factory=dict)


def parse_threshold(text: str) -> tuple[Decimal, str]:
    """Reads LARGE_ORDER_THRESHOLD such as '10000 CNY' into amount and currency."""
    parts = text.split()
    if len(parts) != 2 or len(parts[1]) != 3 or not parts[1].isalpha():
        raise ValueError(f"expected '<amount> <currency>', e.g. '10000 CNY', got {text!r}")
    try:
        amount = Decimal(parts[0])
    except InvalidOperation:
        raise ValueError(f"{parts[0]!r} is not an amount, e.g. '10000 CNY'") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{parts[0]!r} is not an amount, e.g. '10000 CNY'")
    return amount, parts[1].upper()


def order_special_services(order: Order) -> frozenset[SpecialService]:
    """The special services of an order: chosen by the customer, or called for by its goods (R-3.2)."""
    return special_services(order.items, order.requirements.special_services)


@dataclass(frozen=True)
class DeliveryCheck:
    """The customer's delivery date against the date the order is expected to arrive (R-3.1)."""

    required_by: date
    expected_on: date

    @property
    def feasible(self) -> bool:
        """Whether the order is expected to arrive by the date the customer needs it."""
        return self.expected_on <= self.required_by


def delivery_check(order: Order, now: datetime, sla: SlaContext) -> DeliveryCheck | None:
    """Checks the customer's time requirement against the expected delivery date; None without one.

    The expected date is the one the confirmation states (domain/delivery.py): our steps at their
    limits from now, the longer clearance of special goods included, plus the carrier's transit.
    """
    required_by = order.requirements.delivery_by
    if required_by is None:
        return None
    expected = expected_delivery_date(
        order.service, order.address.country, now, sla, special_goods=bool(order_special_goods(order))
    )
    return DeliveryCheck(required_by, expected)


def second_review_reasons(order: Order, policy: ReviewPolicy) -> list[SecondReviewReason]:
    """Says whether (and why) an order needs the order desk head's review (R-3.2); empty if not."""
    reasons = []
    currency = order.currency.upper()
    threshold = f"{policy.threshold} {policy.currency}"
    if currency == policy.currency.upper():
        if order.amount >= policy.threshold:
            reasons.append(SecondReviewReason(SecondReviewCause.LARGE_AMOUNT, threshold))
    elif currency in policy.rates:
        if order.amount * policy.rates[currency] >= policy.threshold:
            reasons.append(SecondReviewReason(SecondReviewCause.LARGE_AMOUNT, threshold))
    else:
        reasons.append(SecondReviewReason(SecondReviewCause.UNKNOWN_CURRENCY, currency))
    services = order_special_services(order)
    if SpecialService.OVERSIZE in services:
        reasons.append(SecondReviewReason(SecondReviewCause.OVERSIZE))
    if SpecialService.CUSTOM_WAREHOUSE in services:
        reasons.append(SecondReviewReason(SecondReviewCause.CUSTOM_WAREHOUSE))
    for item in order.items:
        if screen(item.name).verdict is Verdict.REVIEW:
            reasons.append(SecondReviewReason(SecondReviewCause.GOODS_REVIEW, item.name))
    return reasons


def first_reviewer(order: Order) -> int | None:
    """Returns who passed the first review, from the audit trail."""
    for event in reversed(order.audit):
        if event.action == Action.REFER_SECOND_REVIEW.value:
            return event.actor_id
    return None


class FourEyesViolation(DomainError):
    """The second reviewer is the first reviewer or entered the order (R-3.2)."""


def check_four_eyes(order: Order, reviewer_id: int | None) -> None:
    """Refuses a second review by the first reviewer or by whoever entered the order."""
    if reviewer_id is None:
        raise FourEyesViolation("a second review needs a person")
    if reviewer_id == first_reviewer(order):
        raise FourEyesViolation("the second reviewer must not be the first reviewer")
    if order.entered_by is not None and reviewer_id == order.entered_by:
        raise FourEyesViolation("the second reviewer must not be who entered the order")


class AlreadyHandled(DomainError):
    """The card is stale: somebody decided on the order already (or it moved on)."""

    def __init__(self, order: Order, decision: AuditEvent | None) -> None:
        self.order = order
        self.decision = decision
        super().__init__(f"order {order.display_id} was already handled")


def last_decision(order: Order) -> AuditEvent | None:
    """Returns the latest review decision recorded on the order."""
    return next((event for event in reversed(order.audit) if event.action in DECISIONS), None)


def time_left(order: Order, now: datetime, policy: SlaPolicy | None = None) -> tuple[timedelta, timedelta]:
    """Returns how long the order has waited in its review stage and how long is left (negative: late).

    The running review clock decides; without one, the stage's limit in the SLA policy (R-3.1, R-3.2).
    """
    policy = policy or shipped_policy()
    stage = stage_for(order.status, order.service, policy=policy) if order.status in REVIEW_STATUSES else None
    clock = running_clock(order, stage, policy) if stage is not None else None
    if clock is not None:
        return now - clock.started_at, clock_left(clock, now)
    entered = next(
        (event.at for event in reversed(order.audit) if event.to_status is order.status), order.created_at
    )
    if stage is None:
        return now - entered, entered - now
    limit = policy.stage(stage).limit
    due = BusinessCalendar().add(entered, limit) if limit.working_days else entered + limit.wall_time
    return now - entered, due - now
