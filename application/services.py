"""Use cases: load the order, ask the aggregate, commit through the unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from application.ports import UnitOfWork
from domain.clock import Clock
from domain.errors import DomainError
from domain.orders.events import Event
from domain.orders.model import Order
from domain.orders.numbering import business_day, format_order_number
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Action, OrderStatus, Role
from domain.sla.clocks import SlaContext, pause, resume, running_clock, sync_clocks

# An event handler turns a domain event into outbox rows inside the same transaction.
EventHandler = Callable[[Event, Order, UnitOfWork], Awaitable[None]]
EventHandlers = Mapping[type[Event], Sequence[EventHandler]]

SYSTEM = frozenset({Role.SYSTEM})


@dataclass(frozen=True)
class Actor:
    """Who acts, with the roles loaded from the database at the moment of the action."""

    user_id: int | None
    roles: frozenset[Role]


async def dispatch_events(order: Order, uow: UnitOfWork, handlers: EventHandlers) -> None:
    """Runs every handler for the order's new events before the transaction commits."""
    for event in order.pull_events():
        for handler in handlers.get(type(event), ()):
            await handler(event, order, uow)


async def commit_change(
    order: Order, uow: UnitOfWork, now: datetime, handlers: EventHandlers, sla: SlaContext | None
) -> None:
    """Keeps the SLA clocks in step (given sla), runs the event handlers and commits the change."""
    if sla is not None:
        sync_clocks(order, now, sla)
    await dispatch_events(order, uow, handlers)
    await uow.commit()


async def _change(
    uow: UnitOfWork,
    order_id: str,
    clock: Clock,
    change: Callable[[Order, datetime], Awaitable[None]],
    handlers: EventHandlers | None,
    sla: SlaContext | None,
) -> Order:
    """Loads the order, changes it at the clock's time and commits it with its side effects."""
    async with uow:
        order = await uow.orders.get(order_id)
        now = clock.now()
        await change(order, now)
        await commit_change(order, uow, now, handlers or {}, sla)
    return order


async def perform_action(
    uow: UnitOfWork,
    order_id: str,
    action: Action,
    actor: Actor,
    clock: Clock,
    *,
    note: str = "",
    handlers: EventHandlers | None = None,
    sla: SlaContext | None = None,
) -> Order:
    """Applies one action to an order and commits it with its side effects (and SLA clocks, given sla)."""

    async def act(order: Order, now: datetime) -> None:
        order.apply(action, actor_id=actor.user_id, roles=actor.roles, now=now, note=note)

    return await _change(uow, order_id, clock, act, handlers, sla)


async def confirm_and_number(order: Order, uow: UnitOfWork, now: datetime, timezone: str) -> str:
    """Confirms a reviewed order and gives it its formal number in the caller's transaction (R-3.3)."""
    order.apply(Action.CONFIRM, actor_id=None, roles=SYSTEM, now=now)
    day = business_day(now, timezone)
    number = format_order_number(day, await uow.numbers.next_serial(day))
    order.assign_number(number, now=now)
    return number


async def confirm_order(
    uow: UnitOfWork,
    order_id: str,
    clock: Clock,
    timezone: str,
    *,
    handlers: EventHandlers | None = None,
    sla: SlaContext | None = None,
) -> Order:
    """Confirms a reviewed order and numbers it in a transaction of its own (R-3.3)."""

    async def confirm(order: Order, now: datetime) -> None:
        await confirm_and_number(order, uow, now, timezone)

    return await _change(uow, order_id, clock, confirm, handlers, sla)


def is_awaiting_confirmation(order: Order) -> bool:
    """Whether the order passed review and only waits for its number."""
    return order.status is OrderStatus.AWAITING_CONFIRMATION


async def pause_stage(
    uow: UnitOfWork, order_id: str, actor: Actor, clock: Clock, *, reason: str = ""
) -> Order:
    """Stops the clock of the order's current stage while it waits for the customer (issue 6)."""
    require(actor.roles, Duty.KEEP_CLOCKS)
    async with uow:
        order = await uow.orders.get(order_id)
        now = clock.now()
        stage_clock = running_clock(order)
        if stage_clock is None:
            raise DomainError(f"order {order.display_id} has no running stage clock to pause")
        pause(stage_clock, now)
        order.note(reason, actor_id=actor.user_id, role=_staff_role(actor), now=now, action="pause_clock")
        await uow.commit()
    return order


async def resume_stage(uow: UnitOfWork, order_id: str, actor: Actor, clock: Clock, sla: SlaContext) -> Order:
    """Restarts the paused clock of the order's current stage; its due time moves on by the pause."""
    require(actor.roles, Duty.KEEP_CLOCKS)
    async with uow:
        order = await uow.orders.get(order_id)
        now = clock.now()
        stage_clock = running_clock(order, policy=sla.policy)
        if stage_clock is None:
            raise DomainError(f"order {order.display_id} has no running stage clock to resume")
        resume(stage_clock, now, policy=sla.policy, calendar=sla.calendar)
        order.note("", actor_id=actor.user_id, role=_staff_role(actor), now=now, action="resume_clock")
        await uow.commit()
    return order


def _staff_role(actor: Actor) -> Role:
    """Picks the role the actor's audit line names."""
    return require(actor.roles, Duty.KEEP_CLOCKS)
