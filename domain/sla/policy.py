"""SLA policy: every stage's time limit, the clock events that start and end it, and its department.

The limits are data: `domain/data/sla_policy.toml` ships the table of REQUIREMENTS.md ("Time limits
at a glance"); `load_policy(path)` (domain/sla/policy_file.py) lays a site file (SLA_POLICY_FILE)
over it, overriding only what that file names. Start events (`starts_on`), end events (`ends_on`)
and departments default here (DEFAULT_STAGES) and may be overridden per stage in the file's
`[stages.<key>]` tables.

A clock opens when its stage's `starts_on` is emitted and closes when one of its `ends_on` is.
Clock events come from two places:

- status changes, through CLOCK_EVENTS below: reaching a status emits what it means for the clocks
  (the table's "clock starts at": reaching pending_review emits validation_passed, the outbound
  scan emits handed_to_logistics for international services and last_mile_ready for
  overseas-warehouse ones), and the status's successor events end the stage that ran in it
  (picking ends on picked, or on the order being cancelled, recalled or completed instead).
  Leaving an interruption emits its end (LEAVING). Every change also emits status_changed.
- named domain events of later features (a refund paid, feedback recorded): their use cases pass
  the ClockEvents to `domain.sla.clocks.apply_clock_events`, and the policy does the rest.
  The "customer told" clock (customer_notice, R-5.2) is one: the notification policy emits
  customer_facing_change with every customer notice it queues, and the outbox's delivery of such a
  notice on any channel emits notice_delivered (application/customer_channels.py, record_delivery).

Interruptions (exception, cancellation request) pause the stage the order will resume, so the
interruption does not count against it; coming back resumes it (domain.sla.clocks.sync_clocks).
The offline entry clock (R-1.4) runs from the moment an order is received until staff have entered
it, i.e. before the order exists: the intake opens and closes it at entry from `Order.received_at`
(`entry_stage(urgent)` picks the 30-minute variant).

No clock nothing can close. A stage whose start or end nothing in the product emits yet is dormant
(DORMANT, with the missing piece): its clock never opens. tests/sla/test_policy_walk.py walks every
row, shows what opens and closes it, and fails when a stage that can open has no closing path, or
when a dormant stage's missing piece has appeared. Three clocks that used to open and never close:

- completion on a cancelled order: R-7.1 completes a closed cancellation within 24 h; the SLA sweep
  (application/sla_sweeps.py) completes cancelled orders as the system, which closes the clock.
- archive (opened on completion): the after-sales sweep archives completed orders within the week
  (application/archive.py, R-7.3), which closes it; the survey clock, opened on completion too, is
  closed by the survey being sent (application/survey.py, R-7.2), a named event, not a status change.
- delay_notice after a delay or a customs hold: a hold's cause is known at once (the hold reason
  logistics records), so delay_cause ends as it starts. Customer service tells the customer within
  the hour: sending the drafted delay notice, or the customs request for documents, emits
  customer_told (application/exceptions.py, issue 14); the case's end (exception_closed, a release
  included) closes it too. The bot's own hold notice does not count: not every customer has a chat.

Clocks: a StageClock's due time is set when it opens. `warning_at` is when 80 % of the stage's time
is used, measured in business time for working-day limits. A paused clock stands still: resuming
moves its due time on by the paused time (business time for working-day limits), and while paused
its status and lateness are judged at the moment it was paused.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from domain.orders.status import (
    DOMESTIC_ONLY,
    INTERNATIONAL,
    ExceptionType,
    OrderStatus,
    Role,
    Service,
)
from domain.sla.calendar import Duration

# The share of a stage's time after which the clock is at risk and the department is warned.
WARNING_PERCENT = 80


class Stage(StrEnum):
    """Every step with a time limit; the values are the policy file's keys."""

    ENTRY = "entry"
    ENTRY_URGENT = "entry_urgent"
    FIRST_REVIEW = "first_review"
    SECOND_REVIEW = "second_review"
    CONFIRMATION = "confirmation"
    PICKING = "picking"
    PICKING_OVERSEAS = "picking_overseas"
    OUTBOUND = "outbound"
    BOOKING = "booking"
    CLEARANCE = "clearance"
    LAST_MILE = "last_mile"
    CUSTOMER_NOTICE = "customer_notice"
    CANCEL_CHECK = "cancel_check"
    CANCEL_DONE = "cancel_done"
    REFUND = "refund"
    MODIFICATION = "modification"
    DELAY_CAUSE = "delay_cause"
    DELAY_NOTICE = "delay_notice"
    EVIDENCE = "evidence"
    CLAIM_CONTACT = "claim_contact"
    COMPENSATION = "compensation"
    EXCEPTION_RECORD = "exception_record"
    COMPLETION = "completion"
    SURVEY = "survey"
    ARCHIVE = "archive"
    CUSTOMER_REPLY = "customer_reply"
    RESHIP = "reship"


class ClockEvent(StrEnum):
    """What starts or ends a stage's clock (the table's "clock starts at", and each step's end)."""

    ORDER_RECEIVED = "order_received"
    ORDER_ENTERED = "order_entered"
    VALIDATION_PASSED = "validation_passed"
    FIRST_REVIEW_PASSED = "first_review_passed"
    REVIEW_PASSED = "review_passed"
    REVIEW_REJECTED = "review_rejected"
    CONFIRMED = "confirmed"
    PICKED = "picked"
    HANDED_TO_LOGISTICS = "handed_to_logistics"
    BOOKED = "booked"
    ARRIVED = "arrived"
    CLEARED = "cleared"
    LAST_MILE_READY = "last_mile_ready"
    LAST_MILE_STARTED = "last_mile_started"
    STATUS_CHANGED = "status_changed"
    CUSTOMER_TOLD = "customer_told"
    CANCELLATION_REQUESTED = "cancellation_requested"
    CANCELLATION_BEFORE_OUTBOUND = "cancellation_before_outbound"
    CANCELLATION_CHECKED = "cancellation_checked"
    CANCELLATION_AGREED = "cancellation_agreed"
    ORDER_CANCELLED = "order_cancelled"
    RECALL_STARTED = "recall_started"
    REFUND_PAID = "refund_paid"
    MODIFICATION_REQUESTED = "modification_requested"
    MODIFICATION_DONE = "modification_done"
    DELAY_FOUND = "delay_found"
    DELAY_CAUSE_FOUND = "delay_cause_found"
    DAMAGE_OR_LOSS_FOUND = "damage_or_loss_found"
    EVIDENCE_RECORDED = "evidence_recorded"
    CUSTOMER_CONTACTED = "customer_contacted"
    COMPENSATION_AGREED = "compensation_agreed"
    COMPENSATION_PAID = "compensation_paid"
    EXCEPTION_CLOSED = "exception_closed"
    EXCEPTION_RECORDED = "exception_recorded"
    RECEIPT_CONFIRMED = "receipt_confirmed"
    READY_TO_COMPLETE = "ready_to_complete"
    COMPLETED = "completed"
    FEEDBACK_RECORDED = "feedback_recorded"
    SURVEY_SENT = "survey_sent"
    SURVEY_UNREACHABLE = "survey_unreachable"
    ARCHIVED = "archived"
    # A change the customer is told of (a customer notice queued) and that notice's delivery.
    CUSTOMER_FACING_CHANGE = "customer_facing_change"
    NOTICE_DELIVERED = "notice_delivered"
    # A customer's message to customer service, and a staff member's answer to it (R-5.2, issue 18).
    CUSTOMER_WROTE = "customer_wrote"
    STAFF_ANSWERED = "staff_answered"
    # A claim's reship accepted by the customer, and the warehouse shipping it (R-6.4, issue 14).
    RESHIP_ORDERED = "reship_ordered"
    RESHIP_DONE = "reship_done"
    # Customer service checked a cancellation: passed it on, proposed recall terms or offered the
    # alternatives (R-6.1, application/cancellation.py); the cancellation itself is not done yet.
    CANCELLATION_REVIEWED = "cancellation_reviewed"


class ClockStatus(StrEnum):
    """Where a stage clock stands."""

    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    DONE = "done"


@dataclass(frozen=True)
class StageDefaults:
    """A stage's built-in start, ends, department and the services it applies to (None: all)."""

    starts_on: ClockEvent
    ends_on: tuple[ClockEvent, ...]
    department: Role
    services: frozenset[Service] | None = None


E = ClockEvent
D = Role
# An execution step also ends when, from an interruption, the order is cancelled, recalled or completed.
_INSTEAD = (E.ORDER_CANCELLED, E.RECALL_STARTED, E.COMPLETED)
# A re-quoted order goes back to first review: reaching it again ends the steps after review.
_REQUOTED = (E.VALIDATION_PASSED,)
# Who does each step follows the roles table of REQUIREMENTS.md ("Who uses it").
DEFAULT_STAGES: Mapping[Stage, StageDefaults] = MappingProxyType(
    {
        Stage.ENTRY: StageDefaults(E.ORDER_RECEIVED, (E.ORDER_ENTERED,), D.ORDER_DESK),
        Stage.ENTRY_URGENT: StageDefaults(E.ORDER_RECEIVED, (E.ORDER_ENTERED,), D.ORDER_DESK),
        Stage.FIRST_REVIEW: StageDefaults(
            E.VALIDATION_PASSED,
            (E.FIRST_REVIEW_PASSED, E.REVIEW_PASSED, E.REVIEW_REJECTED, E.ORDER_CANCELLED),
            D.ORDER_DESK,
        ),
        Stage.SECOND_REVIEW: StageDefaults(
            E.FIRST_REVIEW_PASSED,
            (E.REVIEW_PASSED, E.REVIEW_REJECTED, E.ORDER_CANCELLED, *_REQUOTED),
            D.ORDER_DESK_HEAD,
        ),
        Stage.CONFIRMATION: StageDefaults(
            E.REVIEW_PASSED, (E.CONFIRMED, E.ORDER_CANCELLED, *_REQUOTED), D.ORDER_DESK
        ),
        Stage.PICKING: StageDefaults(
            E.CONFIRMED, (E.PICKED, *_INSTEAD, *_REQUOTED), D.WAREHOUSE, INTERNATIONAL
        ),
        Stage.PICKING_OVERSEAS: StageDefaults(
            E.CONFIRMED, (E.PICKED, *_INSTEAD, *_REQUOTED), D.WAREHOUSE, DOMESTIC_ONLY
        ),
        Stage.OUTBOUND: StageDefaults(
            E.PICKED, (E.HANDED_TO_LOGISTICS, E.LAST_MILE_READY, *_INSTEAD, *_REQUOTED), D.WAREHOUSE
        ),
        Stage.BOOKING: StageDefaults(E.HANDED_TO_LOGISTICS, (E.BOOKED, *_INSTEAD), D.LOGISTICS),
        Stage.CLEARANCE: StageDefaults(E.ARRIVED, (E.CLEARED, *_INSTEAD), D.LOGISTICS),
        Stage.LAST_MILE: StageDefaults(E.LAST_MILE_READY, (E.LAST_MILE_STARTED, *_INSTEAD), D.LOGISTICS),
        # Opened by the notification policy with every customer notice, closed by its delivery (issue 12).
        Stage.CUSTOMER_NOTICE: StageDefaults(
            E.CUSTOMER_FACING_CHANGE, (E.NOTICE_DELIVERED,), D.CUSTOMER_SERVICE
        ),
        Stage.CANCEL_CHECK: StageDefaults(
            E.CANCELLATION_REQUESTED,
            (E.CANCELLATION_CHECKED, E.EXCEPTION_CLOSED, E.CANCELLATION_REVIEWED),
            D.CUSTOMER_SERVICE,
        ),
        Stage.CANCEL_DONE: StageDefaults(
            E.CANCELLATION_BEFORE_OUTBOUND, (E.ORDER_CANCELLED, E.CANCELLATION_CHECKED), D.ORDER_DESK
        ),
        Stage.REFUND: StageDefaults(E.CANCELLATION_AGREED, (E.REFUND_PAID,), D.FINANCE),
        Stage.MODIFICATION: StageDefaults(
            # Also opened and closed by a change request (application/changes.py, R-6.2).
            E.MODIFICATION_REQUESTED,
            (E.MODIFICATION_DONE, E.EXCEPTION_CLOSED, E.ORDER_CANCELLED),
            D.ORDER_DESK,
        ),
        Stage.DELAY_CAUSE: StageDefaults(
            E.DELAY_FOUND, (E.DELAY_CAUSE_FOUND, E.EXCEPTION_CLOSED), D.LOGISTICS
        ),
        Stage.DELAY_NOTICE: StageDefaults(
            E.DELAY_FOUND, (E.CUSTOMER_TOLD, E.EXCEPTION_CLOSED), D.CUSTOMER_SERVICE
        ),
        Stage.EVIDENCE: StageDefaults(
            E.DAMAGE_OR_LOSS_FOUND, (E.EVIDENCE_RECORDED, E.EXCEPTION_CLOSED), D.LOGISTICS
        ),
        Stage.CLAIM_CONTACT: StageDefaults(
            E.EVIDENCE_RECORDED, (E.CUSTOMER_CONTACTED, E.EXCEPTION_CLOSED), D.CUSTOMER_SERVICE
        ),
        Stage.COMPENSATION: StageDefaults(E.COMPENSATION_AGREED, (E.COMPENSATION_PAID,), D.FINANCE),
        Stage.EXCEPTION_RECORD: StageDefaults(E.EXCEPTION_CLOSED, (E.EXCEPTION_RECORDED,), D.ORDER_DESK),
        # A delivered order taken back is completed once cancelled, on its own clock.
        Stage.COMPLETION: StageDefaults(E.READY_TO_COMPLETE, (E.COMPLETED, E.RECALL_STARTED), D.ORDER_DESK),
        # The follow-up is due within 3 working days: sending it is customer service's step; a
        # customer the company cannot reach (no Telegram, no email) ends it as well, recorded as such.
        Stage.SURVEY: StageDefaults(
            E.COMPLETED, (E.SURVEY_SENT, E.SURVEY_UNREACHABLE, E.FEEDBACK_RECORDED), D.CUSTOMER_SERVICE
        ),
        Stage.ARCHIVE: StageDefaults(E.COMPLETED, (E.ARCHIVED,), D.ORDER_DESK),
        # Not an order's clock: application/conversation.py opens it on the customer's message and
        # closes it on the answer, on the message itself (no status change touches it).
        Stage.CUSTOMER_REPLY: StageDefaults(E.CUSTOMER_WROTE, (E.STAFF_ANSWERED,), D.CUSTOMER_SERVICE),
        # Not a status's clock: application/claims.py opens it when the customer accepts a reship and
        # closes it when the warehouse ships it (or the exception closes first), R-6.4.
        Stage.RESHIP: StageDefaults(E.RESHIP_ORDERED, (E.RESHIP_DONE, E.EXCEPTION_CLOSED), D.WAREHOUSE),
    }
)

# Stages whose clocks never open yet, and what is missing: nothing in the product emits their start
# or their end, so an opened clock could only breach. The policy walk fails once the piece exists.
DORMANT: Mapping[Stage, str] = MappingProxyType({})

Qualifier = Service | ExceptionType | OrderStatus | None
S = OrderStatus
# Which clock events reaching a status emits, by (status, qualifier): the qualifier is the order's
# service, the exception type of an exception, or the status a cancellation request interrupts;
# the row with qualifier None applies when no qualified row does.
CLOCK_EVENTS: Mapping[tuple[OrderStatus, Qualifier], tuple[ClockEvent, ...]] = MappingProxyType(
    {
        (S.PENDING_REVIEW, None): (E.VALIDATION_PASSED,),
        (S.PENDING_SECOND_REVIEW, None): (E.FIRST_REVIEW_PASSED,),
        (S.REJECTED, None): (E.REVIEW_REJECTED,),
        (S.AWAITING_CONFIRMATION, None): (E.REVIEW_PASSED,),
        (S.CONFIRMED, None): (E.CONFIRMED,),
        (S.PICKED, None): (E.PICKED,),
        # The outbound scan hands an international order to logistics (booking and customs start);
        # an overseas-warehouse order has neither and goes to its local carrier, as one does at cleared.
        (S.OUTBOUND, Service.AIR_FREIGHT): (E.HANDED_TO_LOGISTICS,),
        (S.OUTBOUND, Service.SEA_FREIGHT): (E.HANDED_TO_LOGISTICS,),
        (S.OUTBOUND, Service.OVERSEAS_WAREHOUSE): (E.LAST_MILE_READY,),
        (S.BOOKED, None): (E.BOOKED,),
        (S.ARRIVED, None): (E.ARRIVED,),
        (S.CLEARED, None): (E.CLEARED, E.LAST_MILE_READY),
        (S.OUT_FOR_DELIVERY, None): (E.LAST_MILE_STARTED,),
        # Delivery is signed for; the completion clock starts when the receipt is confirmed (the customer's
        # Confirm receipt, or no objection within the quiet period: application/completion.py, R-7.1).
        (S.DELIVERED, None): (E.RECEIPT_CONFIRMED,),
        (S.COMPLETED, None): (E.COMPLETED,),
        (S.ARCHIVED, None): (E.ARCHIVED,),
        (S.CANCELLATION_REQUESTED, None): (E.CANCELLATION_REQUESTED,),
        # Before the outbound scan a cancellation is done within 2 h; after it, goods are recalled.
        (S.CANCELLATION_REQUESTED, S.CONFIRMED): (E.CANCELLATION_REQUESTED, E.CANCELLATION_BEFORE_OUTBOUND),
        (S.CANCELLATION_REQUESTED, S.PICKED): (E.CANCELLATION_REQUESTED, E.CANCELLATION_BEFORE_OUTBOUND),
        (S.RECALL_IN_PROGRESS, None): (E.RECALL_STARTED,),
        # A closed cancellation is completed within 24 h, like a signed receipt.
        (S.CANCELLED, None): (E.ORDER_CANCELLED, E.READY_TO_COMPLETE),
        # An exception emits what its type found; a customs hold's cause is the hold reason.
        (S.EXCEPTION, ExceptionType.CUSTOMER_CANCELLATION): (E.CANCELLATION_REQUESTED,),
        (S.EXCEPTION, ExceptionType.COMPANY_CANCELLATION): (E.CANCELLATION_REQUESTED,),
        (S.EXCEPTION, ExceptionType.MODIFICATION): (E.MODIFICATION_REQUESTED,),
        (S.EXCEPTION, ExceptionType.DELAY): (E.DELAY_FOUND,),
        (S.EXCEPTION, ExceptionType.DAMAGED): (E.DAMAGE_OR_LOSS_FOUND,),
        (S.EXCEPTION, ExceptionType.WRONG_SHIPMENT): (E.DAMAGE_OR_LOSS_FOUND,),
        (S.EXCEPTION, ExceptionType.LOST): (E.DAMAGE_OR_LOSS_FOUND,),
        (S.EXCEPTION, ExceptionType.CUSTOMS_HOLD): (E.DELAY_FOUND, E.DELAY_CAUSE_FOUND),
    }
)
# What leaving an interruption emits, wherever the order goes (back, cancelled, recalled, completed).
LEAVING: Mapping[OrderStatus, tuple[ClockEvent, ...]] = MappingProxyType(
    {S.CANCELLATION_REQUESTED: (E.CANCELLATION_CHECKED,), S.EXCEPTION: (E.EXCEPTION_CLOSED,)}
)
del E, D, S


def reaching(
    status: OrderStatus,
    service: Service,
    exception_type: ExceptionType | None = None,
    interrupted: OrderStatus | None = None,
) -> tuple[ClockEvent, ...]:
    """Returns the clock events reaching a status emits (CLOCK_EVENTS, the qualified row first)."""
    qualifier = {OrderStatus.EXCEPTION: exception_type, OrderStatus.CANCELLATION_REQUESTED: interrupted}
    for key in (qualifier.get(status, service), None):
        events = CLOCK_EVENTS.get((status, key))
        if events is not None:
            return events
    return ()


@dataclass(frozen=True)
class StagePolicy:
    """One stage's limit, the events that start and end its clock, and the department that answers for it."""

    key: Stage
    limit: Duration
    starts_on: ClockEvent
    ends_on: tuple[ClockEvent, ...]
    department: Role
    services: frozenset[Service] | None = None
    # Whether the clock never opens yet (DORMANT).
    dormant: bool = False

    def applies_to(self, service: Service) -> bool:
        """Whether orders of this service run the stage."""
        return self.services is None or service in self.services


@dataclass(frozen=True)
class SlaPolicy:
    """The time limit, start and ends of every stage."""

    stages: Mapping[Stage, StagePolicy]
    # Longer limits for orders with special goods ([special_goods]: clearance, R-4.4).
    special_goods_limits: Mapping[Stage, Duration] = field(default_factory=lambda: MappingProxyType({}))

    def special_goods_limit(self, key: str) -> Duration:
        """The limit of a stage for an order with special goods: the longer one, if the policy has it."""
        stage = self.stage(key)
        return self.special_goods_limits.get(stage.key, stage.limit)

    def stage(self, key: str) -> StagePolicy:
        """Returns the policy of a stage; raises KeyError for a key the policy does not know."""
        try:
            return self.stages[Stage(key)]
        except ValueError:
            raise KeyError(f"no SLA stage {key!r}") from None

    def starting_on(self, event: ClockEvent) -> tuple[StagePolicy, ...]:
        """Lists the stages whose clocks this event starts, in table order."""
        return tuple(policy for policy in self if policy.starts_on is event)

    def ending_on(self, event: ClockEvent) -> tuple[StagePolicy, ...]:
        """Lists the stages whose clocks this event ends, in table order."""
        return tuple(policy for policy in self if event in policy.ends_on)

    def __iter__(self) -> Iterator[StagePolicy]:
        return iter(self.stages[stage] for stage in Stage)
