"""Typed callback data of the review, order and staff buttons: ids and actions only (<= 64 bytes).

A button never carries a role or an amount: whoever presses it is checked against the database
at the moment of the press, and the order is reloaded.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from domain.orders.requests import OrderRequestKind
from domain.review import RejectReason


class ReviewStep(StrEnum):
    """What a review-card button does."""

    APPROVE = "ap"
    REJECT = "rj"
    ASK = "ask"
    BACK = "bk"
    NOT_PAID = "np"
    INCONSISTENT = "inc"
    CANNOT_SERVE = "cs"
    OTHER = "oth"


REASON_STEPS: dict[ReviewStep, RejectReason] = {
    ReviewStep.NOT_PAID: RejectReason.NOT_PAID,
    ReviewStep.INCONSISTENT: RejectReason.INCONSISTENT,
    ReviewStep.CANNOT_SERVE: RejectReason.CANNOT_SERVE,
    ReviewStep.OTHER: RejectReason.OTHER,
}


class ReviewAction(CallbackData, prefix="rv"):
    """A button on a review card; stage 1 is the first review, 2 the head's."""

    order_id: str
    action: ReviewStep
    stage: int = 1


class CustomerStep(StrEnum):
    """What a button in the customer's chat does."""

    CANCEL = "cancel"
    ANSWER = "answer"


class CustomerAction(CallbackData, prefix="co"):
    """A button on a message to the customer about their order."""

    order_id: str
    action: CustomerStep


class OrderRequest(CallbackData, prefix="oreq"):
    """A Cancel / Change address / Change contact / Change service button under an order."""

    order_id: str
    kind: OrderRequestKind


class OrderFix(CallbackData, prefix="fix"):
    """Back into the order wizard at a field (handled by the wizard's router)."""

    order_id: str
    field: str


class ImproveCause(CallbackData, prefix="impr"):
    """/improve's cause buttons: an exception type (cause empty), then one of its causes (issue 14, R-6.5)."""

    type: str
    cause: str = ""


class MarkStep(StrEnum):
    """A step of marking an exception from an order card or /exception (issue 14)."""

    START = "go"
    TYPE = "ty"
    CAUSE = "ca"


class MarkException(CallbackData, prefix="exm"):
    """Mark exception, then its type (kind: the type's value), then its cause (its place in the list)."""

    order_id: str
    step: MarkStep
    kind: str = ""
    # The cause's place in the type's list; -1: not known yet.
    cause: int = -1


class CaseStep(StrEnum):
    """What a button on an exception case's messages does (issue 14)."""

    CAUSE = "c"
    SEND = "s"
    EDIT = "e"
    NEEDS = "n"
    RELEASE = "r"
    RETURN = "rt"
    DESTROY = "d"
    RESOLVE = "ok"
    RECORD = "rec"
    RECORD_EDIT = "rce"
    UPLOAD = "up"
    SATISFIED = "y"
    UNSATISFIED = "no"
    OFFER = "of"
    ACCEPT = "ac"
    CANCEL = "cx"


class CaseAction(CallbackData, prefix="xc"):
    """A button about one exception case; arg: the place of a cause (or an offer kind) in its list."""

    case_id: int
    step: CaseStep
    arg: int = -1
