"""Who does what: the roles that may perform each action and duty, and the team that acts next.

This is the one responsibility table. The order aggregate checks it on every status change
(`Order.apply`), the use cases check it for duties that change no status, and the chat layer
reads it to word buttons, menus and refusals; nothing else lists roles. Which department answers
for each time limit is the SLA policy's `department` column (domain/data/sla_policy.toml).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from domain.errors import NotPermitted
from domain.orders.status import Action, OrderStatus, Role


class Duty(StrEnum):
    """What staff do besides moving an order's status."""

    ENTER_OFFLINE_ORDER = "enter_offline_order"
    ASK_CUSTOMER = "ask_customer"
    RECORD_PAYMENT = "record_payment_receipt"
    KEEP_CLOCKS = "keep_clocks"
    OPEN_ORDER_CARD = "open_order_card"
    SEE_TEAM_WORK = "see_team_work"
    SEE_DEADLINES = "see_deadlines"
    ACKNOWLEDGE_ANY_ALERT = "acknowledge_any_alert"
    MANAGE_STAFF = "manage_staff"
    SEE_FAILED_MESSAGES = "see_failed_messages"
    SEE_KPIS = "see_kpis"
    SEE_SUPERVISION_REPORT = "see_supervision_report"
    SEE_PROGRESS_CHECKS = "see_progress_checks"
    SEE_EXCEPTION_REPORT = "see_exception_report"
    RECORD_IMPROVEMENT = "record_improvement"
    # Claims for damaged, wrongly shipped and lost goods (R-6.4, issue 14).
    RECORD_CLAIM_EVIDENCE = "record_claim_evidence"
    HANDLE_CLAIM = "handle_claim"
    RESHIP_GOODS = "reship_goods"
    RECORD_REFUND = "record_refund"
    SEE_REFUNDS = "see_refunds"
    # customer service files a change for a hotline caller; the order desk applies it.
    FILE_CHANGE = "file_change"
    APPLY_CHANGE = "apply_change"
    RECORD_EXCEPTION = "record_exception"
    FIND_DELAY_CAUSE = "find_delay_cause"
    TELL_CUSTOMER_OF_EXCEPTION = "tell_customer_of_exception"


DESK = frozenset({Role.ORDER_DESK, Role.ORDER_DESK_HEAD, Role.ADMIN})
HEAD = frozenset({Role.ORDER_DESK_HEAD, Role.ADMIN})
STAFF = frozenset(Role) - {Role.CUSTOMER, Role.SYSTEM}
_WAREHOUSE = frozenset({Role.WAREHOUSE, Role.ADMIN})
_LOGISTICS = frozenset({Role.LOGISTICS, Role.ADMIN})
_EXECUTION = frozenset({Role.WAREHOUSE, Role.LOGISTICS, *DESK})

A = Action
# Who may perform each action (R-P): checked against roles loaded from the database, never a button.
ACTION_ROLES: Mapping[Action, frozenset[Role]] = MappingProxyType(
    {
        A.PASS_VALIDATION: frozenset({Role.SYSTEM}),
        A.FAIL_VALIDATION: frozenset({Role.SYSTEM}),
        A.RESUBMIT: frozenset({Role.CUSTOMER, *DESK}),
        A.APPROVE: DESK,
        A.REFER_SECOND_REVIEW: DESK,
        A.APPROVE_SECOND: HEAD,
        A.REJECT: DESK,
        A.CONFIRM: frozenset({Role.SYSTEM, *DESK}),
        A.PICK: _WAREHOUSE,
        A.OUTBOUND_SCAN: _WAREHOUSE,
        A.BOOK: _LOGISTICS,
        A.DEPART: _LOGISTICS,
        A.ARRIVE: _LOGISTICS,
        A.CLEAR_CUSTOMS: _LOGISTICS,
        A.HOLD_AT_CUSTOMS: _LOGISTICS,
        A.START_LAST_MILE: _LOGISTICS,
        A.DELIVER: _LOGISTICS,
        A.CONFIRM_RECEIPT: frozenset({Role.CUSTOMER}),
        A.COMPLETE: frozenset({Role.SYSTEM, *DESK}),
        A.ARCHIVE: frozenset({Role.SYSTEM, Role.ADMIN}),
        # Customer service cancels for a customer who called, with their consent.
        A.CANCEL: frozenset({Role.CUSTOMER, Role.CUSTOMER_SERVICE, *DESK}),
        A.REQUEST_CANCELLATION: frozenset({Role.CUSTOMER, Role.CUSTOMER_SERVICE, *DESK}),
        # The customer declines recall terms or accepts them; customer service acts for them.
        A.DECLINE_CANCELLATION: frozenset({Role.CUSTOMER, Role.CUSTOMER_SERVICE, *DESK}),
        A.START_RECALL: frozenset({Role.CUSTOMER, Role.CUSTOMER_SERVICE, Role.LOGISTICS, *DESK}),
        # The desk cancels a held order, logistics once recalled goods are back, the customer by choice.
        A.CONFIRM_CANCELLATION: frozenset({Role.CUSTOMER, Role.CUSTOMER_SERVICE, Role.LOGISTICS, *DESK}),
        # The customer reports damaged or wrong goods from the delivered message (R-6.4, issue 14).
        A.RAISE_EXCEPTION: frozenset(
            {Role.WAREHOUSE, Role.LOGISTICS, Role.CUSTOMER_SERVICE, Role.FINANCE, Role.CUSTOMER, *DESK}
        ),
        # Logistics records a customs release, which resumes the order (issue 14); the customer who
        # picks another service after the company cannot serve resumes it too (R-6.1, issue 13).
        A.RESOLVE_EXCEPTION: frozenset({Role.CUSTOMER, Role.CUSTOMER_SERVICE, Role.LOGISTICS, *DESK}),
        A.REQUOTE: frozenset({Role.CUSTOMER, Role.CUSTOMER_SERVICE, *DESK}),
    }
)
del A

DUTY_ROLES: Mapping[Duty, frozenset[Role]] = MappingProxyType(
    {
        # staff enter hotline, service-point and email orders.
        Duty.ENTER_OFFLINE_ORDER: DESK,
        Duty.ASK_CUSTOMER: DESK,
        # offline orders are paid by receipt, recorded by the order desk.
        Duty.RECORD_PAYMENT: DESK,
        # Stopping a stage clock while the customer is asked for something: staff, not customers.
        Duty.KEEP_CLOCKS: frozenset({Role.CUSTOMER_SERVICE, Role.SYSTEM, *DESK}),
        Duty.OPEN_ORDER_CARD: _EXECUTION,
        Duty.SEE_TEAM_WORK: _EXECUTION,
        Duty.SEE_DEADLINES: STAFF,
        # Besides the department an alert is for, the desk and management take any alert on.
        Duty.ACKNOWLEDGE_ANY_ALERT: frozenset({Role.MANAGEMENT, *DESK}),
        Duty.MANAGE_STAFF: frozenset({Role.ADMIN}),
        # Messages Telegram refused: the order desk follows them up (issue 11).
        Duty.SEE_FAILED_MESSAGES: DESK,
        # management and the department heads follow the KPIs.
        Duty.SEE_KPIS: frozenset({Role.MANAGEMENT, *HEAD}),
        # the monthly supervision report is management's.
        Duty.SEE_SUPERVISION_REPORT: frozenset({Role.MANAGEMENT, Role.ADMIN}),
        # the order desk's progress checks and chases, read by the desk and management.
        Duty.SEE_PROGRESS_CHECKS: frozenset({Role.MANAGEMENT, *DESK}),
        Duty.FILE_CHANGE: frozenset({Role.CUSTOMER_SERVICE, *DESK}),
        Duty.APPLY_CHANGE: DESK,
        # the monthly exception report, and the improvement actions recorded against its causes.
        Duty.SEE_EXCEPTION_REPORT: frozenset({Role.MANAGEMENT, *HEAD}),
        Duty.RECORD_IMPROVEMENT: DESK,
        # logistics (or customer service, the desk) attach the evidence, customer service and the
        # desk contact the customer and offer the resolution, the warehouse ships a reship. The customer
        # attaches evidence to their own order's claim (checked by ownership, not by a role).
        Duty.RECORD_CLAIM_EVIDENCE: frozenset({Role.LOGISTICS, Role.CUSTOMER_SERVICE, *DESK}),
        Duty.HANDLE_CLAIM: frozenset({Role.CUSTOMER_SERVICE, *DESK}),
        Duty.RESHIP_GOODS: _WAREHOUSE,
        # finance pays refunds and payouts; management and admins follow the open ones.
        Duty.RECORD_REFUND: frozenset({Role.FINANCE, Role.ADMIN}),
        Duty.SEE_REFUNDS: frozenset({Role.FINANCE, Role.MANAGEMENT, Role.ADMIN}),
        # the order desk completes the exception record within 24 h of closing.
        Duty.RECORD_EXCEPTION: DESK,
        # logistics finds a delay's cause (and records what customs needs); customer service tells.
        Duty.FIND_DELAY_CAUSE: _LOGISTICS,
        Duty.TELL_CUSTOMER_OF_EXCEPTION: frozenset({Role.CUSTOMER_SERVICE, *DESK}),
    }
)

# The team that must act when an order is in a status: its chat gets the order's card then.
NEXT_TEAM: Mapping[OrderStatus, Role] = MappingProxyType(
    {
        OrderStatus.PENDING_REVIEW: Role.ORDER_DESK,
        OrderStatus.PENDING_SECOND_REVIEW: Role.ORDER_DESK_HEAD,
        OrderStatus.CONFIRMED: Role.WAREHOUSE,
        OrderStatus.PICKED: Role.WAREHOUSE,
        OrderStatus.OUTBOUND: Role.LOGISTICS,
        OrderStatus.BOOKED: Role.LOGISTICS,
        OrderStatus.IN_TRANSIT: Role.LOGISTICS,
        OrderStatus.ARRIVED: Role.LOGISTICS,
        OrderStatus.CLEARED: Role.LOGISTICS,
        OrderStatus.OUT_FOR_DELIVERY: Role.LOGISTICS,
    }
)
# The teams whose members carry out the execution steps, with a card per order.
EXECUTION_TEAMS = (Role.WAREHOUSE, Role.LOGISTICS)


def may(roles: frozenset[Role], what: Action | Duty) -> bool:
    """Whether any of the roles may perform the action or duty."""
    allowed = ACTION_ROLES[what] if isinstance(what, Action) else DUTY_ROLES[what]
    return bool(roles & allowed)


def require(roles: frozenset[Role], what: Action | Duty) -> Role:
    """Refuses unless the roles may do it; returns the role acted in (for the audit line)."""
    allowed = ACTION_ROLES[what] if isinstance(what, Action) else DUTY_ROLES[what]
    held = roles & allowed
    if not held:
        raise NotPermitted(what, roles)
    return sorted(held)[0]


def roles_for(what: Action | Duty) -> frozenset[Role]:
    """The roles that may perform the action or duty (for menus and refusals)."""
    return ACTION_ROLES[what] if isinstance(what, Action) else DUTY_ROLES[what]


def team_of(action: Action) -> Role:
    """The team whose members perform an execution step (warehouse or logistics)."""
    teams = [team for team in EXECUTION_TEAMS if team in ACTION_ROLES[action]]
    if len(teams) != 1:
        raise ValueError(f"{action} is not a step of exactly one execution team")
    return teams[0]


def work_of(team: Role) -> tuple[OrderStatus, ...]:
    """The statuses in which the team must act next, in workflow order (for /todo)."""
    return tuple(status for status, owner in NEXT_TEAM.items() if owner is team)
