"""Use cases: load the order, ask the aggregate, commit through the unit of work."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

from domain.clock import Clock
from domain.events import Event
from domain.model import Order
from domain.numbering import business_day, format_order_number
from domain.ports import UnitOfWork
from domain.status import Action, OrderStatus, Role

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


async def perform_action(
    uow: UnitOfWork,
    order_id: str,
    action: Action,
    actor: Actor,
    clock: Clock,
    *,
    note: str = "",
    handlers: EventHandlers | None = None,
) -> Order:
    """Applies one action to an order and commits it with its side effects."""
    async with uow:
        order = await uow.orders.get(order_id)
        order.apply(action, actor_id=actor.user_id, roles=actor.roles, now=clock.now(), note=note)
        await dispatch_events(order, uow, handlers or {})
        await uow.commit()
    return order


async def confirm_order(
    uow: UnitOfWork,
    order_id: str,
    clock: Clock,
    timezone: str,
    *,
    handlers: EventHandlers | None = None,
) -> Order:
    """Confirms a reviewed order and gives it its formal number in the same transaction (R-3.3)."""
    async with uow:
        order = await uow.orders.get(order_id)
        now = clock.now()
        order.apply(Action.CONFIRM, actor_id=None, roles=SYSTEM, now=now)
        day = business_day(now, timezone)
        order.assign_number(format_order_number(day, await uow.numbers.next_serial(day)), now=now)
        await dispatch_events(order, uow, handlers or {})
        await uow.commit()
    return order


def is_awaiting_confirmation(order: Order) -> bool:
    """Whether the order passed review and only waits for its number."""
    return order.status is OrderStatus.AWAITING_CONFIRMATION
