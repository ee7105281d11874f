"""Claim use cases (R-6.4): evidence, contact, the resolution offered and answered, reship, payouts.

Each step loads the order, asks the claim rules (domain/claims/claim.py), keeps the clocks through
the SLA policy's named events and commits the order, its claim step and the notices in one
transaction: evidence recorded ends the evidence clock and starts claim_contact; customer contacted
ends claim_contact; a reship accepted starts the reship clock, shipped ends it; an accepted
compensation or discount is a payout finance owes (application/finance.py owe(), which opens its
compensation clock, 3 working days, and gives finance its card). Roles
come from the database with every press (Actor); the customer acts only on their own order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from application.completion import check_customers, check_delivered_to
from application.exception_ports import ExceptionUnitOfWork
from application.exceptions import ExceptionSetup, close_case, open_case
from application.finance import FinanceUnitOfWork, owe
from application.services import Actor, EventHandlers, commit_change
from domain.claims import claim as rules
from domain.claims.claim import Claim, ClaimError, ClaimProblem, ClaimStep, Offer, Resolution
from domain.claims.compensation import ClaimRules, compensation_for, discount_for, shipped_rules
from domain.claims.events import ClaimChanged
from domain.clock import Clock
from domain.errors import NotPermitted
from domain.exceptions.case import (
    CaseResult,
    Compensation,
    CompensationKind,
    EvidenceFile,
    ExceptionCase,
    FileKind,
    StepKind,
)
from domain.finance import MoneyKind, OwedReason
from domain.orders.model import Order
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Action, ExceptionType, Role
from domain.sla.clocks import SlaContext, apply_clock_events
from domain.sla.policy import ClockEvent

# The payout reason of an accepted money offer, by the claim's type (a discount is DISCOUNT).
PAYOUT_REASONS = {
    ExceptionType.DAMAGED: OwedReason.DAMAGE_COMPENSATION,
    ExceptionType.WRONG_SHIPMENT: OwedReason.WRONG_SHIPMENT_COMPENSATION,
    ExceptionType.LOST: OwedReason.LOSS_COMPENSATION,
}


class ClaimsUnitOfWork(FinanceUnitOfWork, ExceptionUnitOfWork, Protocol):
    """A unit of work that knows finance's records and the exception cases."""


@dataclass(frozen=True)
class ClaimsSetup:
    """What the claim use cases share: the clock, the SLA context, the notifier and the rules."""

    clock: Clock
    sla: SlaContext
    handlers: EventHandlers = field(default_factory=dict)
    rules: ClaimRules = field(default_factory=shipped_rules)
    timezone: str = "Asia/Shanghai"

    def exception_setup(self) -> ExceptionSetup:
        """The exception use cases' setup on the same clock, policy and notifier (closing a case)."""
        return ExceptionSetup(self.clock, self.sla, self.handlers)


@dataclass(frozen=True)
class Person:
    """Who presses: a staff member with their roles from the database, or the order's customer."""

    user_id: int
    roles: frozenset[Role]

    @classmethod
    def of(cls, actor: Actor) -> Person:
        """The person of a staff actor."""
        if actor.user_id is None:
            raise NotPermitted("claim", actor.roles)
        return cls(actor.user_id, actor.roles)


def _role(order: Order, person: Person, duty: Duty, *, customer_may: bool = False) -> Role:
    """The role the person acts in; the customer only on their own order, where the step allows it."""
    if customer_may and order.customer.telegram_user_id == person.user_id:
        return Role.CUSTOMER
    return require(person.roles, duty)


Change = Callable[[Order, datetime], tuple[Claim, tuple[ClockEvent, ...], ClaimStep | None]]


async def _step(
    uow: ClaimsUnitOfWork, order_id: str, setup: ClaimsSetup, change: Change
) -> tuple[Order, Claim]:
    """Loads the order, makes the claim step, keeps its clocks and commits it with its notices."""
    async with uow:
        order = await uow.orders.get(order_id)
        now = setup.clock.now()
        written = len(order.audit)
        claim, events, told = change(order, now)
        case = await uow.exceptions.open_of(order.id)
        if case is not None and len(order.audit) > written:
            _mirror(case, order, claim, now)
            await uow.exceptions.save(case)
        if events:
            apply_clock_events(order, events, now, setup.sla)
        if told is not None:
            order.record(ClaimChanged(order.event_id(), order.id, now, told))
        await _owe(uow, order, claim, told, now, setup, case)
        await commit_change(order, uow, now, setup.handlers, None)
    return order, claim


async def _owe(
    uow: ClaimsUnitOfWork,
    order: Order,
    claim: Claim,
    told: ClaimStep | None,
    now: datetime,
    setup: ClaimsSetup,
    case: ExceptionCase | None,
) -> None:
    """Puts an accepted compensation or discount on finance's payout list, in the same transaction.

    owe() opens the payout's compensation clock (3 working days) and gives finance its card.
    """
    offered = claim.offer
    if told is not ClaimStep.ACCEPTED or offered is None or offered.amount is None:
        return
    if offered.resolution is Resolution.RESHIP:
        return
    await owe(
        uow,
        order,
        kind=MoneyKind.PAYOUT,
        amount=offered.amount,
        currency=order.currency,
        reason=payout_reason(claim),
        note=offered.note(),
        now=now,
        sla=setup.sla,
        case_id=case.id if case is not None else None,
        actor_id=order.customer.telegram_user_id,
        role=Role.CUSTOMER,
    )


def _mirror(case: ExceptionCase, order: Order, claim: Claim, now: datetime) -> None:
    """Writes the claim's new step on the exception case's record (evidence, handling, compensation)."""
    line = order.audit[-1]
    who, role = line.actor_id, line.actor_role
    match line.action:
        case ClaimStep.PHOTO:
            photo = EvidenceFile(line.note, FileKind.PHOTO, from_customer=role is Role.CUSTOMER)
            case.add_file(photo, at=now, actor_id=who, role=role, kind=StepKind.EVIDENCE_ADDED)
        case ClaimStep.EVIDENCE:
            case.evidence.items = [
                f"{order.items[index].name} x {quantity}"
                for index, quantity in sorted(claim.affected(order).items())
            ]
            case.add_step(StepKind.EVIDENCE_ADDED, at=now, actor_id=who, role=role, note="evidence complete")
        case ClaimStep.CONTACTED:
            case.add_step(StepKind.CUSTOMER_TOLD, at=now, actor_id=who, role=role, note="customer contacted")
        case ClaimStep.OFFERED if claim.offer is not None:
            offered = claim.offer
            if offered.amount is not None:
                kind = (
                    CompensationKind.FREIGHT_DISCOUNT
                    if offered.resolution is Resolution.DISCOUNT
                    else (CompensationKind.PAYOUT)
                )
                case.compensation = Compensation(kind, offered.amount, order.currency, now, who)
            case.add_step(StepKind.COMPENSATION_OFFERED, at=now, actor_id=who, role=role, note=offered.note())
        case ClaimStep.ACCEPTED:
            if case.compensation is not None:
                case.compensation = replace(case.compensation, accepted_at=now)
            case.add_step(StepKind.COMPENSATION_ACCEPTED, at=now, actor_id=who, role=role)
        case ClaimStep.DECLINED:
            case.compensation = None
            case.add_step(
                StepKind.NOTE, at=now, actor_id=who, role=role, note="the customer declined the offer"
            )
        case ClaimStep.RESHIPPED:
            case.add_step(StepKind.COMPENSATION_APPLIED, at=now, actor_id=who, role=role, note="reshipped")


def payout_reason(claim: Claim) -> OwedReason:
    """The payout reason of a claim's accepted money offer."""
    if claim.offer is not None and claim.offer.resolution is Resolution.DISCOUNT:
        return OwedReason.DISCOUNT
    return PAYOUT_REASONS[claim.kind]


async def add_photo(
    uow: ClaimsUnitOfWork, order_id: str, file_id: str, person: Person, setup: ClaimsSetup
) -> tuple[Order, Claim]:
    """Keeps a photo of the evidence (staff, or the customer on their own order)."""

    def change(order: Order, now: datetime) -> tuple[Claim, tuple[ClockEvent, ...], ClaimStep | None]:
        role = _role(order, person, Duty.RECORD_CLAIM_EVIDENCE, customer_may=True)
        claim = rules.add_photo(
            order, file_id, max_photos=setup.rules.max_photos, actor_id=person.user_id, role=role, now=now
        )
        return claim, (), None

    return await _step(uow, order_id, setup, change)


async def set_item(
    uow: ClaimsUnitOfWork, order_id: str, index: int, quantity: int, person: Person, setup: ClaimsSetup
) -> tuple[Order, Claim]:
    """Sets the affected quantity of one goods line."""

    def change(order: Order, now: datetime) -> tuple[Claim, tuple[ClockEvent, ...], ClaimStep | None]:
        role = _role(order, person, Duty.RECORD_CLAIM_EVIDENCE, customer_may=True)
        return rules.set_item(order, index, quantity, actor_id=person.user_id, role=role, now=now), (), None

    return await _step(uow, order_id, setup, change)


class Recording(Protocol):
    """A claim rule that records who took a step and when."""

    def __call__(self, order: Order, *, actor_id: int | None, role: Role, now: datetime) -> Claim: ...


@dataclass(frozen=True)
class RecordedStep:
    """A step that only records who took it: its rule, the duty it takes, its clock event."""

    rule: Recording
    duty: Duty
    event: ClockEvent
    customer_may: bool = False


# The recorded steps by the notice each gives.
RECORDED_STEPS = {
    ClaimStep.EVIDENCE: RecordedStep(
        rules.record_evidence, Duty.RECORD_CLAIM_EVIDENCE, ClockEvent.EVIDENCE_RECORDED, customer_may=True
    ),
    ClaimStep.CONTACTED: RecordedStep(rules.record_contact, Duty.HANDLE_CLAIM, ClockEvent.CUSTOMER_CONTACTED),
    ClaimStep.RESHIPPED: RecordedStep(rules.record_reshipped, Duty.RESHIP_GOODS, ClockEvent.RESHIP_DONE),
}


async def _record(
    uow: ClaimsUnitOfWork, order_id: str, person: Person, setup: ClaimsSetup, told: ClaimStep
) -> tuple[Order, Claim]:
    """Takes one of the recorded steps: the person's role checked, the rule asked, its clock and notice."""
    step = RECORDED_STEPS[told]

    def change(order: Order, now: datetime) -> tuple[Claim, tuple[ClockEvent, ...], ClaimStep | None]:
        role = _role(order, person, step.duty, customer_may=step.customer_may)
        return step.rule(order, actor_id=person.user_id, role=role, now=now), (step.event,), told

    return await _step(uow, order_id, setup, change)


async def record_evidence(
    uow: ClaimsUnitOfWork, order_id: str, person: Person, setup: ClaimsSetup
) -> tuple[Order, Claim]:
    """Closes the evidence (evidence clock ends, claim_contact starts); customer service gets the claim."""
    return await _record(uow, order_id, person, setup, ClaimStep.EVIDENCE)


async def record_contact(
    uow: ClaimsUnitOfWork, order_id: str, person: Person, setup: ClaimsSetup
) -> tuple[Order, Claim]:
    """Customer service contacted the customer (claim_contact ends); the resolution buttons follow."""
    return await _record(uow, order_id, person, setup, ClaimStep.CONTACTED)


def proposal(
    order: Order, claim: Claim, resolution: Resolution, percent: int | None, rules_: ClaimRules
) -> Offer:
    """The offer of a resolution: reship, the claim's compensation, or a discount of percent."""
    match resolution:
        case Resolution.RESHIP:
            return Offer(Resolution.RESHIP)
        case Resolution.COMPENSATE:
            return Offer(Resolution.COMPENSATE, compensation_for(order, claim, rules_).amount)
        case Resolution.DISCOUNT:
            wanted = rules_.discount_percents[0] if percent is None else percent
            return Offer(Resolution.DISCOUNT, discount_for(order, wanted, rules_), wanted)


async def offer(
    uow: ClaimsUnitOfWork,
    order_id: str,
    resolution: Resolution,
    person: Person,
    setup: ClaimsSetup,
    *,
    percent: int | None = None,
) -> tuple[Order, Claim]:
    """Offers the customer a resolution; they get it with Accept and Decline."""

    def change(order: Order, now: datetime) -> tuple[Claim, tuple[ClockEvent, ...], ClaimStep | None]:
        role = _role(order, person, Duty.HANDLE_CLAIM)
        claim = rules.require_claim(order)
        made = proposal(order, claim, resolution, percent, setup.rules)
        return rules.offer(order, made, actor_id=person.user_id, role=role, now=now), (), ClaimStep.OFFERED

    return await _step(uow, order_id, setup, change)


async def answer(
    uow: ClaimsUnitOfWork, order_id: str, customer_id: int, accepted: bool, setup: ClaimsSetup
) -> tuple[Order, Claim]:
    """The customer accepts (reship ordered, or a payout owed) or declines (back to customer service)."""

    def change(order: Order, now: datetime) -> tuple[Claim, tuple[ClockEvent, ...], ClaimStep | None]:
        check_customers(order, customer_id)
        claim = rules.answer(order, accepted, actor_id=customer_id, now=now)
        if not accepted or claim.offer is None:
            return claim, (), ClaimStep.DECLINED
        if claim.offer.resolution is Resolution.RESHIP:
            return claim, (ClockEvent.RESHIP_ORDERED,), ClaimStep.ACCEPTED
        # The payout's own clock is opened by owe() (finance's record), not here.
        return claim, (), ClaimStep.ACCEPTED

    return await _step(uow, order_id, setup, change)


async def record_reshipped(
    uow: ClaimsUnitOfWork, order_id: str, person: Person, setup: ClaimsSetup
) -> tuple[Order, Claim]:
    """The warehouse shipped the replacement goods (the reship clock ends)."""
    return await _record(uow, order_id, person, setup, ClaimStep.RESHIPPED)


# What the customer may report from the delivered message (a loss is found by logistics).
CUSTOMER_REPORTS = frozenset({ExceptionType.DAMAGED, ExceptionType.WRONG_SHIPMENT})


async def report_claim(
    uow: ClaimsUnitOfWork, order_id: str, customer_id: int, kind: ExceptionType, setup: ClaimsSetup
) -> Order:
    """The customer reports damaged or wrong goods on their delivered order: the claim opens (R-6.4).

    The order enters the exception (the evidence clock starts) and the customer gets the evidence card.
    """
    if kind not in CUSTOMER_REPORTS:
        raise ValueError(f"a customer reports damaged or wrong goods, not {kind}")
    async with uow:
        order = await uow.orders.get(order_id)
        check_delivered_to(order, customer_id)
        now = setup.clock.now()
        # The exception case opens as any department's marking does (application/exceptions.py).
        await open_case(
            uow,
            order,
            Action.RAISE_EXCEPTION,
            actor_id=customer_id,
            roles=frozenset({Role.CUSTOMER}),
            kind=kind,
            cause=None,
            note="reported by the customer",
            now=now,
            setup=setup.exception_setup(),
        )
        await commit_change(order, uow, now, setup.handlers, None)
    return order


# How a settled claim closes its case.
RESULTS = {
    Resolution.RESHIP: CaseResult.RESHIPPED,
    Resolution.COMPENSATE: CaseResult.COMPENSATED,
    Resolution.DISCOUNT: CaseResult.DISCOUNTED,
}


def settled(claim: Claim) -> bool:
    """Whether the claim's resolution is done: accepted, and a reship shipped."""
    return claim.offer is not None and claim.accepted_at is not None and not claim.reship_pending


async def close_claim(
    uow: ClaimsUnitOfWork, order_id: str, person: Person, setup: ClaimsSetup
) -> ExceptionCase:
    """Closes a settled claim's case through the exception flow (R-6.5: record and satisfaction follow)."""
    async with uow:
        order = await uow.orders.get(order_id)
        require(person.roles, Duty.HANDLE_CLAIM)
        claim = rules.require_claim(order)
        if not settled(claim) or claim.offer is None:
            raise ClaimError(ClaimProblem.NOT_SETTLED)
        case = await uow.exceptions.open_of(order.id)
        if case is None or case.id is None:
            raise ClaimError(ClaimProblem.NO_CLAIM, order.display_id)
        return await close_case(
            uow,
            case.id,
            actor_id=person.user_id,
            result=RESULTS[claim.offer.resolution],
            note=claim.offer.note(),
            setup=setup.exception_setup(),
        )
