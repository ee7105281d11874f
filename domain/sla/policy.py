"""SLA policy (time limit, clock start event and responsible department of every stage) and clock rules.

The limits are data: `domain/data/sla_policy.toml` ships the table of REQUIREMENTS.md ("Time limits
at a glance"); `load_policy(path)` lays a site file (SLA_POLICY_FILE) over it, overriding only what
that file names. Start events and departments default here and may be overridden per stage in the
file's `[stages.<key>]` tables.

Which clock runs in which order status (`stage_for`), read against the table's "clock starts at":

- SUBMITTED: none. The entry clock (R-1.4) runs from the moment an offline order is received until
  staff have entered it, i.e. before the order exists; the service opens and closes it at entry
  from `Order.received_at` (`entry_stage(urgent)` picks the 30-minute variant). Validation is
  automatic and has no limit.
- VALIDATION_FAILED, REJECTED: none; the customer has to act, the company does not.
- PENDING_REVIEW -> first_review (2h from validation passed); PENDING_SECOND_REVIEW -> second_review
  (4h from the first review passing it on); AWAITING_CONFIRMATION -> confirmation (1h from review
  passed).
- CONFIRMED -> picking, or picking_overseas (12h) for Service.OVERSEAS_WAREHOUSE; PICKED -> outbound.
- OUTBOUND -> booking for international services: the outbound scan is the hand-over to logistics,
  when booking and customs declaration start. An overseas-warehouse order has no booking or
  customs; outbound is its hand-over to the local carrier, so OUTBOUND -> last_mile (24h), the same
  "start delivery" step an international order reaches at CLEARED.
- BOOKED, IN_TRANSIT: none; the carrier's transit time is not a company limit.
- ARRIVED -> clearance; CLEARED -> last_mile.
- OUT_FOR_DELIVERY: none; the courier's estimate is shown to the customer but is not a limit.
- DELIVERED -> completion: delivery is signed for (the receipt), and the order is completed within
  24h of it, by the customer's confirmation or by the desk (R-7.1).
- COMPLETED -> archive: archiving is what ends this status (R-7.3). The survey clock (3wd) also
  starts at completion but ends with recorded feedback, not a status change; like the other
  event-driven clocks it is found with `SlaPolicy.starting_on(ClockEvent.COMPLETED)`.
- ARCHIVED: none.
- CANCELLATION_REQUESTED -> cancel_check (1h). cancel_done (2h) runs from the same request beside
  it and closes when the order reaches CANCELLED; it applies only before outbound (R-6.1).
- RECALL_IN_PROGRESS: none; the recall is negotiated and the table gives it no limit.
- CANCELLED -> completion: a closed cancellation is completed within 24h (R-7.1). The refund clock
  (3wd) starts at the cancellation and ends with finance's payment, not a status change.
- EXCEPTION -> the first step for the exception type (R-6): cancellation -> cancel_check,
  modification -> modification, delay -> delay_cause, damaged / wrong shipment / lost -> evidence,
  customs hold -> delay_notice (its cause is already known: the customer must be told). Without a
  type, none.

Clocks: a StageClock's due time is set when it opens (`due_at`). `warning_at` is when 80 % of the
stage's time is used, measured in business time for working-day limits. A paused clock stands
still: `resume` moves its due time on by the paused time (business time for working-day limits),
and while paused its status and lateness are judged at the moment it was paused.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from domain.orders.status import TEAMS, Role
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


class ClockEvent(StrEnum):
    """What starts a stage's clock (the table's "clock starts at")."""

    ORDER_RECEIVED = "order_received"
    VALIDATION_PASSED = "validation_passed"
    FIRST_REVIEW_PASSED = "first_review_passed"
    REVIEW_PASSED = "review_passed"
    CONFIRMED = "confirmed"
    PICKED = "picked"
    HANDED_TO_LOGISTICS = "handed_to_logistics"
    ARRIVED = "arrived"
    CLEARED = "cleared"
    STATUS_CHANGED = "status_changed"
    CANCELLATION_REQUESTED = "cancellation_requested"
    CANCELLATION_AGREED = "cancellation_agreed"
    MODIFICATION_REQUESTED = "modification_requested"
    DELAY_FOUND = "delay_found"
    DAMAGE_OR_LOSS_FOUND = "damage_or_loss_found"
    EVIDENCE_RECORDED = "evidence_recorded"
    COMPENSATION_AGREED = "compensation_agreed"
    EXCEPTION_CLOSED = "exception_closed"
    RECEIPT_CONFIRMED = "receipt_confirmed"
    COMPLETED = "completed"


class ClockStatus(StrEnum):
    """Where a stage clock stands."""

    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    DONE = "done"


E = ClockEvent
D = Role
# Who does each step follows the roles table of REQUIREMENTS.md ("Who uses it").
DEFAULT_STAGES: Mapping[Stage, tuple[ClockEvent, Role]] = MappingProxyType(
    {
        Stage.ENTRY: (E.ORDER_RECEIVED, D.ORDER_DESK),
        Stage.ENTRY_URGENT: (E.ORDER_RECEIVED, D.ORDER_DESK),
        Stage.FIRST_REVIEW: (E.VALIDATION_PASSED, D.ORDER_DESK),
        Stage.SECOND_REVIEW: (E.FIRST_REVIEW_PASSED, D.ORDER_DESK_HEAD),
        Stage.CONFIRMATION: (E.REVIEW_PASSED, D.ORDER_DESK),
        Stage.PICKING: (E.CONFIRMED, D.WAREHOUSE),
        Stage.PICKING_OVERSEAS: (E.CONFIRMED, D.WAREHOUSE),
        Stage.OUTBOUND: (E.PICKED, D.WAREHOUSE),
        Stage.BOOKING: (E.HANDED_TO_LOGISTICS, D.LOGISTICS),
        Stage.CLEARANCE: (E.ARRIVED, D.LOGISTICS),
        Stage.LAST_MILE: (E.CLEARED, D.LOGISTICS),
        Stage.CUSTOMER_NOTICE: (E.STATUS_CHANGED, D.CUSTOMER_SERVICE),
        Stage.CANCEL_CHECK: (E.CANCELLATION_REQUESTED, D.ORDER_DESK),
        Stage.CANCEL_DONE: (E.CANCELLATION_REQUESTED, D.ORDER_DESK),
        Stage.REFUND: (E.CANCELLATION_AGREED, D.FINANCE),
        Stage.MODIFICATION: (E.MODIFICATION_REQUESTED, D.ORDER_DESK),
        Stage.DELAY_CAUSE: (E.DELAY_FOUND, D.LOGISTICS),
        Stage.DELAY_NOTICE: (E.DELAY_FOUND, D.CUSTOMER_SERVICE),
        Stage.EVIDENCE: (E.DAMAGE_OR_LOSS_FOUND, D.LOGISTICS),
        Stage.CLAIM_CONTACT: (E.EVIDENCE_RECORDED, D.CUSTOMER_SERVICE),
        Stage.COMPENSATION: (E.COMPENSATION_AGREED, D.FINANCE),
        Stage.EXCEPTION_RECORD: (E.EXCEPTION_CLOSED, D.ORDER_DESK),
        Stage.COMPLETION: (E.RECEIPT_CONFIRMED, D.ORDER_DESK),
        Stage.SURVEY: (E.COMPLETED, D.CUSTOMER_SERVICE),
        Stage.ARCHIVE: (E.COMPLETED, D.ORDER_DESK),
    }
)
del E, D

_STAGE_TABLE_KEYS = ("starts_on", "department")
_BUILT_IN = "built-in sla_policy.toml"
_Member = TypeVar("_Member", ClockEvent, Role)


class SlaPolicyError(ValueError):
    """The SLA policy file is unreadable or names something wrong; the message says which key."""

    def __init__(self, key: str | None, problem: str, source: str) -> None:
        self.key = key
        self.problem = problem
        self.source = source
        where = f"{key}: " if key else ""
        super().__init__(f"{where}{problem} (in {source})")


@dataclass(frozen=True)
class StagePolicy:
    """One stage's limit, the event that starts its clock and the department that answers for it."""

    key: Stage
    limit: Duration
    starts_on: ClockEvent
    department: Role


@dataclass(frozen=True)
class SlaPolicy:
    """The time limit of every stage."""

    stages: Mapping[Stage, StagePolicy]

    def stage(self, key: str) -> StagePolicy:
        """Returns the policy of a stage; raises KeyError for a key the policy does not know."""
        try:
            return self.stages[Stage(key)]
        except ValueError:
            raise KeyError(f"no SLA stage {key!r}") from None

    def starting_on(self, event: ClockEvent) -> tuple[StagePolicy, ...]:
        """Lists the stages whose clocks this event starts, in table order."""
        return tuple(policy for policy in self if policy.starts_on is event)

    def __iter__(self) -> Iterator[StagePolicy]:
        return iter(self.stages[stage] for stage in Stage)


def load_policy(path: str | PathLike[str] | None = None) -> SlaPolicy:
    """Loads the shipped policy, overridden by the file at path (e.g. SLA_POLICY_FILE) if given."""
    shipped = resources.files("domain.data").joinpath("sla_policy.toml")
    limits: dict[Stage, Duration] = {}
    starts = {stage: event for stage, (event, _) in DEFAULT_STAGES.items()}
    departments = {stage: department for stage, (_, department) in DEFAULT_STAGES.items()}
    _overlay(_read(shipped.read_text(encoding="utf-8"), _BUILT_IN), _BUILT_IN, limits, starts, departments)
    missing = [stage for stage in Stage if stage not in limits]
    if missing:
        raise SlaPolicyError(f"limits.{missing[0]}", "has no limit", _BUILT_IN)
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise SlaPolicyError(
                None, f"cannot read the SLA policy file: {error.strerror}", source
            ) from error
        _overlay(_read(text, source), source, limits, starts, departments)
    return SlaPolicy(
        MappingProxyType(
            {stage: StagePolicy(stage, limits[stage], starts[stage], departments[stage]) for stage in Stage}
        )
    )


def _read(text: str, source: str) -> dict[str, Any]:
    """Parses a policy document."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SlaPolicyError(None, f"not valid TOML: {error}", source) from error


def _overlay(
    document: dict[str, Any],
    source: str,
    limits: dict[Stage, Duration],
    starts: dict[Stage, ClockEvent],
    departments: dict[Stage, Role],
) -> None:
    """Checks a policy document and writes what it names over the values so far."""
    for key in document:
        if key not in ("limits", "stages"):
            raise SlaPolicyError(key, "unknown table; a policy has [limits] and [stages.<stage>]", source)
    for key, text in _table(document, "limits", source).items():
        stage = _stage(f"limits.{key}", key, source)
        try:
            limits[stage] = Duration.parse(text)
        except ValueError as error:
            raise SlaPolicyError(f"limits.{key}", str(error), source) from None
    for key, overrides in _table(document, "stages", source).items():
        stage = _stage(f"stages.{key}", key, source)
        if not isinstance(overrides, dict):
            raise SlaPolicyError(f"stages.{key}", "must be a table with starts_on and/or department", source)
        for field_name, value in overrides.items():
            name = f"stages.{key}.{field_name}"
            if field_name == "starts_on":
                starts[stage] = _member(ClockEvent, value, name, "event", source)
            elif field_name == "department":
                department = _member(Role, value, name, "department", source)
                if department not in TEAMS:
                    teams = ", ".join(sorted(TEAMS))
                    raise SlaPolicyError(name, f"{value!r} is not a department; use one of {teams}", source)
                departments[stage] = department
            else:
                raise SlaPolicyError(name, f"unknown setting; use {' or '.join(_STAGE_TABLE_KEYS)}", source)


def _table(document: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    """Returns a top-level table of the document, empty if absent."""
    table = document.get(key, {})
    if not isinstance(table, dict):
        raise SlaPolicyError(key, "must be a table", source)
    return table


def _stage(name: str, key: str, source: str) -> Stage:
    """Returns the stage a policy key names."""
    try:
        return Stage(key)
    except ValueError:
        raise SlaPolicyError(name, f"unknown stage {key!r}; stages are {', '.join(Stage)}", source) from None


def _member(kind: type[_Member], value: object, name: str, noun: str, source: str) -> _Member:
    """Returns the enum member a policy value names."""
    try:
        return kind(str(value))
    except ValueError:
        raise SlaPolicyError(
            name, f"unknown {noun} {value!r}; use one of {', '.join(kind)}", source
        ) from None


