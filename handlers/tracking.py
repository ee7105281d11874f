"""Where an order stands in customer words (shipment details, what happens next and when) and /todo.

progress_lines() is the one renderer of "what is known and what comes next": /track (the customer's
timeline in handlers/my_orders.py) and every customer update (handlers/notifications.py) use it.
/todo in a team chat lists that department's open execution work, oldest first, with a button
that puts the order's action card in the chat again.

Handler data /todo needs besides `uow` and `roles`: `team_chats` (department value -> chat id) and
`execution_setup` (domain.execution.ExecutionSetup).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from domain.execution import ExecutionSetup, carrier_name
from domain.model import Order
from domain.ports import UnitOfWork
from domain.sla import Department, SlaPolicy, load_policy, running_clock, stage_for
from domain.sla_alerts import departments_of_chat
from domain.status import OrderStatus, Role, Service
from handlers.common import CommandSpec
from handlers.execution_cards import ExecAction, ExecStep, entered_status_at
from handlers.keyboards import N_
from handlers.render import STATUS_NAMES, Translate, duration, esc

router = Router(name="tracking")

TIME_FORMAT = "%Y-%m-%d %H:%M"
TODO_LIMIT = 30
EXECUTION_STAFF = frozenset(
    {Role.WAREHOUSE, Role.LOGISTICS, Role.ORDER_DESK, Role.ORDER_DESK_HEAD, Role.ADMIN}
)
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("todo", N_("This team's open orders, oldest first"), EXECUTION_STAFF - {Role.ADMIN}),
)
# The statuses in which each department must act next; the transition table names the action.
DEPARTMENT_WORK: Mapping[Department, tuple[OrderStatus, ...]] = {
    Department.WAREHOUSE: (OrderStatus.CONFIRMED, OrderStatus.PICKED),
    Department.LOGISTICS: (
        OrderStatus.OUTBOUND,
        OrderStatus.BOOKED,
        OrderStatus.IN_TRANSIT,
        OrderStatus.ARRIVED,
        OrderStatus.CLEARED,
        OrderStatus.OUT_FOR_DELIVERY,
    ),
}
# What happens next, in customer words, per status (overseas-warehouse orders skip the border).
NEXT_STEP: Mapping[OrderStatus, str] = {
    OrderStatus.CONFIRMED: N_("Next: packing at our warehouse"),
    OrderStatus.PICKED: N_("Next: leaving our warehouse"),
    OrderStatus.OUTBOUND: N_("Next: booking with the carrier and customs declaration"),
    OrderStatus.BOOKED: N_("Next: departure with the carrier"),
    OrderStatus.IN_TRANSIT: N_("Next: arrival in the destination country, as scheduled by the carrier"),
    OrderStatus.ARRIVED: N_("Next: customs clearance"),
    OrderStatus.CLEARED: N_("Next: local delivery starts"),
    OrderStatus.OUT_FOR_DELIVERY: N_("Next: delivery to you"),
    OrderStatus.DELIVERED: N_("Next: please confirm that you received it"),
}
NEXT_STEP_OVERSEAS_OUTBOUND = N_("Next: handed to the local courier for delivery")
NEXT_STEP_CUSTOMS_HOLD = N_(
    "Next: release by customs; checks of special goods can take longer, and we will tell you at once"
)


@cache
def _policy() -> SlaPolicy:
    """The shipped SLA policy, for expected times of orders that carry no running clock."""
    return load_policy()


def local(moment: datetime, timezone: str) -> str:
    """Formats a moment in the company's time zone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime(TIME_FORMAT)


def expected_at(order: Order) -> datetime | None:
    """When the order's next step is expected: an estimate staff recorded, else its stage's due time."""
    shipment = order.shipment
    if order.status is OrderStatus.BOOKED:
        return shipment.etd
    if order.status is OrderStatus.OUT_FOR_DELIVERY:
        return shipment.eta
    if order.status is OrderStatus.DELIVERED:
        # The completion clock is the company's limit, not something the customer waits for.
        return None
    clock = running_clock(order)
    if clock is not None:
        return clock.due_at
    stage = stage_for(order.status, order.service, order.exception_type)
    if stage is None or order.status is OrderStatus.EXCEPTION:
        return None
    limit = _policy().stage(stage).limit
    entered = entered_status_at(order)
    return None if limit.working_days or entered is None else entered + limit.wall_time


def shipment_lines(order: Order, t: Translate, timezone: str) -> list[str]:
    """What the customer may know of the shipment: carrier and waybill, departure, courier, ETA, signature."""
    shipment = order.shipment
    lines = []
    if shipment.waybill:
        lines.append(
            t(N_("Carrier: {carrier}, waybill {waybill}")).format(
                carrier=esc(carrier_name(shipment.carrier)), waybill=f"<code>{esc(shipment.waybill)}</code>"
            )
        )
    if shipment.etd and order.status is OrderStatus.BOOKED:
        lines.append(t(N_("Expected departure: {time}")).format(time=local(shipment.etd, timezone)))
    if shipment.destination and order.status is not OrderStatus.DELIVERED:
        lines.append(t(N_("Arrived at: {place}")).format(place=esc(shipment.destination)))
    if shipment.courier_name and shipment.courier_phone:
        lines.append(
            t(N_("Courier: {name}, {phone}")).format(
                name=esc(shipment.courier_name), phone=esc(shipment.courier_phone)
            )
        )
    if shipment.eta and order.status is OrderStatus.OUT_FOR_DELIVERY:
        lines.append(t(N_("Expected delivery: {time}")).format(time=local(shipment.eta, timezone)))
    if shipment.signed_by:
        lines.append(t(N_("Signed for by: {name}")).format(name=esc(shipment.signed_by)))
    return lines


def next_step_line(order: Order, t: Translate, timezone: str) -> str | None:
    """What happens next and, when known, by when."""
    if order.status is OrderStatus.EXCEPTION:
        return t(NEXT_STEP_CUSTOMS_HOLD) if order.exception_type == "customs_hold" else None
    if order.status is OrderStatus.OUTBOUND and order.service is Service.OVERSEAS_WAREHOUSE:
        step = NEXT_STEP_OVERSEAS_OUTBOUND
    elif order.status in NEXT_STEP:
        step = NEXT_STEP[order.status]
    else:
        return None
    when = expected_at(order)
    if when is None:
        return t(step)
    return t(N_("{step}, expected by {time}")).format(step=t(step), time=local(when, timezone))


def progress_lines(order: Order, t: Translate, timezone: str) -> list[str]:
    """The shipment details and the next step, for /track and the customer's updates."""
    lines = shipment_lines(order, t, timezone)
    step = next_step_line(order, t, timezone)
    if step is not None:
        lines.append(step)
    return lines


def todo_line(order: Order, now: datetime, timezone: str) -> str:
    """One line of /todo: the order, its status, how long it has waited and its due time."""
    entered = entered_status_at(order) or order.created_at
    line = f"• <b>{esc(order.display_id)}</b> — {_(STATUS_NAMES[order.status])} — " + _(
        "waiting {waited}"
    ).format(waited=duration(now - entered))
    clock = running_clock(order)
    if clock is not None:
        late = " ⚠️" if (clock.paused_at or now) > clock.due_at else ""
        line += ", " + _("due {time}").format(time=local(clock.due_at, timezone)) + late
    return line


@router.message(Command("todo"))
async def show_todo(
    message: Message,
    uow: UnitOfWork,
    roles: frozenset[Role],
    team_chats: Mapping[str, int],
    execution_setup: ExecutionSetup,
) -> None:
    """Lists the open work of the chat's department(s), oldest first, with a button per order."""
    if not roles & EXECUTION_STAFF:
        await message.answer(_("/todo is for staff."))
        return
    departments = [d for d in DEPARTMENT_WORK if d in departments_of_chat(message.chat.id, team_chats)]
    if not departments:
        await message.answer(
            _("Send /todo in the warehouse or logistics chat: it lists that team's open orders.")
        )
        return
    statuses = [status for department in departments for status in DEPARTMENT_WORK[department]]
    orders = await uow.orders.list_by_status(statuses, limit=200)
    if not orders:
        await message.answer(_("Nothing to do: no order is waiting for this team."))
        return
    oldest = sorted(orders, key=lambda order: entered_status_at(order) or order.created_at)[:TODO_LIMIT]
    now = execution_setup.clock.now()
    lines = [_("<b>Open orders ({count}), oldest first</b>").format(count=len(orders))]
    lines += [todo_line(order, now, execution_setup.timezone) for order in oldest]
    buttons = [
        [
            InlineKeyboardButton(
                text=f"▶ {order.display_id}",
                callback_data=ExecAction(order_id=order.id, step=ExecStep.OPEN).pack(),
            )
        ]
        for order in oldest
    ]
    await message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons))
