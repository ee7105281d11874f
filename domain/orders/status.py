"""Order statuses, actions and the transition table: the only authority on status changes."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.errors import IllegalTransition


class Service(StrEnum):
    """Service types the company sells (R-2.3)."""

    AIR_FREIGHT = "air_freight"
    SEA_FREIGHT = "sea_freight"
    OVERSEAS_WAREHOUSE = "overseas_warehouse"

    @property
    def international(self) -> bool:
        """Whether the order crosses a border with booking, transit and clearance legs."""
        return self is not Service.OVERSEAS_WAREHOUSE


class Channel(StrEnum):
    """Where an order came in (R-1.1)."""

    TELEGRAM = "telegram"
    PLATFORM_API = "platform_api"
    HOTLINE = "hotline"
    SERVICE_POINT = "service_point"
    EMAIL = "email"

    @property
    def offline(self) -> bool:
        """Whether staff entered the order on the customer's behalf (R-1.3)."""
        return self in (Channel.HOTLINE, Channel.SERVICE_POINT, Channel.EMAIL)


class Role(StrEnum):
    """Staff roles; customers have none."""

    ADMIN = "admin"
    ORDER_DESK = "order_desk"
    ORDER_DESK_HEAD = "order_desk_head"
    WAREHOUSE = "warehouse"
    LOGISTICS = "logistics"
    CUSTOMER_SERVICE = "customer_service"
    FINANCE = "finance"
    MANAGEMENT = "management"
    CUSTOMER = "customer"
    SYSTEM = "system"


# The departments that answer for steps, in report order (management answers for no step).
STEP_DEPARTMENTS: tuple[Role, ...] = (
    Role.ORDER_DESK,
    Role.ORDER_DESK_HEAD,
    Role.WAREHOUSE,
    Role.LOGISTICS,
    Role.CUSTOMER_SERVICE,
    Role.FINANCE,
)
# The roles that are departments: each has a team chat, answers for stages and receives cards and alerts.
TEAMS = frozenset({*STEP_DEPARTMENTS, Role.MANAGEMENT})


class OrderStatus(StrEnum):
    """Every status an order passes through, exceptions included."""

    SUBMITTED = "submitted"
    VALIDATION_FAILED = "validation_failed"
    PENDING_REVIEW = "pending_review"
    PENDING_SECOND_REVIEW = "pending_second_review"
    REJECTED = "rejected"
    AWAITING_CONFIRMATION = "awaiting_confirmation"
    CONFIRMED = "confirmed"
    PICKED = "picked"
    OUTBOUND = "outbound"
    BOOKED = "booked"
    IN_TRANSIT = "in_transit"
    ARRIVED = "arrived"
    CLEARED = "cleared"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    ARCHIVED = "archived"
    CANCELLATION_REQUESTED = "cancellation_requested"
    RECALL_IN_PROGRESS = "recall_in_progress"
    CANCELLED = "cancelled"
    EXCEPTION = "exception"

    @property
    def terminal(self) -> bool:
        """Whether nothing more happens to the order."""
        return self is OrderStatus.ARCHIVED


class Action(StrEnum):
    """What an actor does to an order (imperative)."""

    PASS_VALIDATION = "pass_validation"
    FAIL_VALIDATION = "fail_validation"
    RESUBMIT = "resubmit"
    APPROVE = "approve"
    REFER_SECOND_REVIEW = "refer_second_review"
    APPROVE_SECOND = "approve_second"
    REJECT = "reject"
    CONFIRM = "confirm"
    PICK = "pick"
    OUTBOUND_SCAN = "outbound_scan"
    BOOK = "book"
    DEPART = "depart"
    ARRIVE = "arrive"
    CLEAR_CUSTOMS = "clear_customs"
    HOLD_AT_CUSTOMS = "hold_at_customs"
    START_LAST_MILE = "start_last_mile"
    DELIVER = "deliver"
    CONFIRM_RECEIPT = "confirm_receipt"
    COMPLETE = "complete"
    ARCHIVE = "archive"
    CANCEL = "cancel"
    REQUEST_CANCELLATION = "request_cancellation"
    DECLINE_CANCELLATION = "decline_cancellation"
    START_RECALL = "start_recall"
    CONFIRM_CANCELLATION = "confirm_cancellation"
    RAISE_EXCEPTION = "raise_exception"
    RESOLVE_EXCEPTION = "resolve_exception"
    # A change of service (or of the destination zone) re-priced the order: back to first review.
    REQUOTE = "requote"


class ExceptionType(StrEnum):
    """Exception kinds of R-6."""

    CUSTOMER_CANCELLATION = "customer_cancellation"
    COMPANY_CANCELLATION = "company_cancellation"
    MODIFICATION = "modification"
    DELAY = "delay"
    DAMAGED = "damaged"
    WRONG_SHIPMENT = "wrong_shipment"
    LOST = "lost"
    CUSTOMS_HOLD = "customs_hold"
    OTHER = "other"


# The order's previous status, remembered on entering an interruption, is where it resumes.
RESUME = "resume"

INTERNATIONAL = frozenset({Service.AIR_FREIGHT, Service.SEA_FREIGHT})
DOMESTIC_ONLY = frozenset({Service.OVERSEAS_WAREHOUSE})


@dataclass(frozen=True)
class Rule:
    """Where an action leads from one status, and for which services it applies."""

    target: OrderStatus | str
    services: frozenset[Service] | None = None
    # The exception an action into EXCEPTION opens by itself (e.g. a customs hold).
    exception: ExceptionType | None = None

    def applies_to(self, service: Service) -> bool:
        """Whether the rule holds for orders of this service."""
        return self.services is None or service in self.services


S = OrderStatus
A = Action

BEFORE_CONFIRMATION = (
    S.SUBMITTED,
    S.VALIDATION_FAILED,
    S.PENDING_REVIEW,
    S.PENDING_SECOND_REVIEW,
    S.REJECTED,
    S.AWAITING_CONFIRMATION,
)
IN_EXECUTION = (
    S.CONFIRMED,
    S.PICKED,
    S.OUTBOUND,
    S.BOOKED,
    S.IN_TRANSIT,
    S.ARRIVED,
    S.CLEARED,
    S.OUT_FOR_DELIVERY,
)
TRANSITIONS: dict[tuple[OrderStatus, Action], Rule] = {
    # Intake and validation
    (S.SUBMITTED, A.PASS_VALIDATION): Rule(S.PENDING_REVIEW),
    (S.SUBMITTED, A.FAIL_VALIDATION): Rule(S.VALIDATION_FAILED),
    (S.VALIDATION_FAILED, A.RESUBMIT): Rule(S.SUBMITTED),
    # Review
    (S.PENDING_REVIEW, A.APPROVE): Rule(S.AWAITING_CONFIRMATION),
    (S.PENDING_REVIEW, A.REFER_SECOND_REVIEW): Rule(S.PENDING_SECOND_REVIEW),
    (S.PENDING_REVIEW, A.REJECT): Rule(S.REJECTED),
    (S.PENDING_SECOND_REVIEW, A.APPROVE_SECOND): Rule(S.AWAITING_CONFIRMATION),
    (S.PENDING_SECOND_REVIEW, A.REJECT): Rule(S.REJECTED),
    (S.REJECTED, A.RESUBMIT): Rule(S.SUBMITTED),
    # Confirmation
    (S.AWAITING_CONFIRMATION, A.CONFIRM): Rule(S.CONFIRMED),
    # Execution
    (S.CONFIRMED, A.PICK): Rule(S.PICKED),
    (S.PICKED, A.OUTBOUND_SCAN): Rule(S.OUTBOUND),
    (S.OUTBOUND, A.BOOK): Rule(S.BOOKED, INTERNATIONAL),
    (S.BOOKED, A.DEPART): Rule(S.IN_TRANSIT, INTERNATIONAL),
    (S.IN_TRANSIT, A.ARRIVE): Rule(S.ARRIVED, INTERNATIONAL),
    (S.ARRIVED, A.CLEAR_CUSTOMS): Rule(S.CLEARED, INTERNATIONAL),
    # Customs holds goods only while it checks them at the destination.
    (S.ARRIVED, A.HOLD_AT_CUSTOMS): Rule(S.EXCEPTION, INTERNATIONAL, ExceptionType.CUSTOMS_HOLD),
    (S.CLEARED, A.START_LAST_MILE): Rule(S.OUT_FOR_DELIVERY, INTERNATIONAL),
    # Overseas-warehouse orders go from the warehouse straight to local delivery.
    (S.OUTBOUND, A.START_LAST_MILE): Rule(S.OUT_FOR_DELIVERY, DOMESTIC_ONLY),
    (S.OUT_FOR_DELIVERY, A.DELIVER): Rule(S.DELIVERED),
    # Completion and archive
    (S.DELIVERED, A.CONFIRM_RECEIPT): Rule(S.COMPLETED),
    (S.DELIVERED, A.COMPLETE): Rule(S.COMPLETED),
    (S.CANCELLED, A.COMPLETE): Rule(S.COMPLETED),
    (S.EXCEPTION, A.COMPLETE): Rule(S.COMPLETED),
    (S.COMPLETED, A.ARCHIVE): Rule(S.ARCHIVED),
    # Exceptions
    (S.CANCELLATION_REQUESTED, A.DECLINE_CANCELLATION): Rule(RESUME),
    (S.CANCELLATION_REQUESTED, A.CONFIRM_CANCELLATION): Rule(S.CANCELLED),
    (S.CANCELLATION_REQUESTED, A.START_RECALL): Rule(S.RECALL_IN_PROGRESS),
    (S.RECALL_IN_PROGRESS, A.CONFIRM_CANCELLATION): Rule(S.CANCELLED),
    (S.EXCEPTION, A.RESOLVE_EXCEPTION): Rule(RESUME),
    (S.EXCEPTION, A.CONFIRM_CANCELLATION): Rule(S.CANCELLED),
    (S.EXCEPTION, A.REQUEST_CANCELLATION): Rule(S.CANCELLATION_REQUESTED),
}
# Before confirmation nothing has been done yet, so cancelling is immediate.
for _status in BEFORE_CONFIRMATION:
    TRANSITIONS[(_status, A.CANCEL)] = Rule(S.CANCELLED)
for _status in IN_EXECUTION:
    TRANSITIONS[(_status, A.REQUEST_CANCELLATION)] = Rule(S.CANCELLATION_REQUESTED)
for _status in (*IN_EXECUTION, S.DELIVERED):
    TRANSITIONS[(_status, A.RAISE_EXCEPTION)] = Rule(S.EXCEPTION)
# A re-quoted order goes back through first review, keeping its number (R-6.2, issue 13).
for _status in (S.PENDING_REVIEW, S.PENDING_SECOND_REVIEW, S.AWAITING_CONFIRMATION, S.CONFIRMED, S.PICKED):
    TRANSITIONS[(_status, A.REQUOTE)] = Rule(S.PENDING_REVIEW)
del _status

# Statuses an order may resume to are the ones an interruption can start from.
INTERRUPTIONS = frozenset({S.CANCELLATION_REQUESTED, S.EXCEPTION})


def rule_for(status: OrderStatus, action: Action, service: Service) -> Rule:
    """Returns the table's rule for the action in this status, or raises IllegalTransition."""
    rule = TRANSITIONS.get((status, action))
    if rule is None:
        raise IllegalTransition(status, action)
    if not rule.applies_to(service):
        raise IllegalTransition(status, action, service)
    return rule


def next_status(
    status: OrderStatus,
    action: Action,
    service: Service,
    resume_status: OrderStatus | None = None,
) -> OrderStatus:
    """Returns where the action leads, or raises IllegalTransition."""
    rule = rule_for(status, action, service)
    if rule.target == RESUME:
        if resume_status is None:
            raise IllegalTransition(status, action)
        return resume_status
    return OrderStatus(rule.target)


def allowed_actions(status: OrderStatus, service: Service) -> list[Action]:
    """Lists the actions the table allows now, in table order."""
    return [
        action
        for (from_status, action), rule in TRANSITIONS.items()
        if from_status is status and rule.applies_to(service)
    ]
