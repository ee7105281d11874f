"""The warehouse's and logistics' order cards: text and typed buttons (R-4).

A button carries the order id and the step only; whoever presses it is checked against the
database at that moment and the order is reloaded (handlers/execution.py).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from domain.execution import carrier_name, item_key, step_statuses
from domain.orders.model import Order
from domain.orders.status import Action, Role, allowed_actions
from domain.sla.clocks import running_clock
from presentation.callbacks import MarkException, MarkStep
from presentation.keyboards import N_, shared_button
from presentation.labels import field, with_colon
from presentation.render import (
    CARD_LIMIT,
    GOODS_SHOWN,
    SERVICE_NAMES,
    STATUS_NAMES,
    Html,
    Translate,
    esc,
    fit,
    route,
    shown_lines,
)


class ExecStep(StrEnum):
    """What an execution-card button does."""

    PICK = "pk"
    SCAN = "sc"
    BOOK = "bk"
    DEPART = "dp"
    ARRIVE = "ar"
    CLEAR = "cl"
    HOLD = "hd"
    LAST_MILE = "lm"
    DELIVER = "dl"
    OPEN = "op"
    NO_PHOTO = "np"
    FRAGILE = "fr"


class ExecAction(CallbackData, prefix="ex"):
    """A button on a warehouse or logistics card."""

    order_id: str
    step: ExecStep


class CarrierChoice(CallbackData, prefix="exc"):
    """A carrier picked while recording a booking."""

    order_id: str
    carrier: str


class ReceiptAction(CallbackData, prefix="rcpt"):
    """The customer's "Confirm receipt" button on the delivered message."""

    order_id: str


STEP_ACTIONS: Mapping[ExecStep, Action] = {
    ExecStep.PICK: Action.PICK,
    ExecStep.SCAN: Action.OUTBOUND_SCAN,
    ExecStep.BOOK: Action.BOOK,
    ExecStep.DEPART: Action.DEPART,
    ExecStep.ARRIVE: Action.ARRIVE,
    ExecStep.CLEAR: Action.CLEAR_CUSTOMS,
    ExecStep.HOLD: Action.HOLD_AT_CUSTOMS,
    ExecStep.LAST_MILE: Action.START_LAST_MILE,
    ExecStep.DELIVER: Action.DELIVER,
}
STEP_LABELS: Mapping[ExecStep, str] = {
    ExecStep.PICK: N_("✅ Picked"),
    ExecStep.SCAN: N_("📦 Outbound scan"),
    ExecStep.BOOK: N_("🛫 Booked"),
    ExecStep.DEPART: N_("🚀 Departed"),
    ExecStep.ARRIVE: N_("📍 Arrived"),
    ExecStep.CLEAR: N_("🛃 Customs cleared"),
    ExecStep.HOLD: N_("⛔ Held by customs"),
    ExecStep.LAST_MILE: N_("🚚 Out for delivery"),
    ExecStep.DELIVER: N_("✍️ Delivered"),
}
CARD_TITLES: Mapping[Role, str] = {
    Role.WAREHOUSE: N_("Warehouse"),
    Role.LOGISTICS: N_("Logistics"),
}


def entered_status_at(order: Order) -> datetime | None:
    """When the order entered its current status, from the audit trail."""
    return next(
        (
            event.at
            for event in reversed(order.audit)
            if event.to_status is order.status and event.from_status is not event.to_status
        ),
        None,
    )


def steps_now(order: Order) -> list[ExecStep]:
    """The card's steps the order is waiting for now (the transition table decides)."""
    return [step for step, action in STEP_ACTIONS.items() if order.status in step_statuses(order, action)]


def card_keyboard(order: Order, t: Translate) -> InlineKeyboardMarkup | None:
    """One button per step the order waits for; None when it waits for none."""
    steps = steps_now(order)
    mark = mark_exception_row(order, t)
    if not steps and not mark:
        return None
    buttons = [shared_button(t(STEP_LABELS[step]), _step_data(order.id, step)) for step in steps]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    return InlineKeyboardMarkup(inline_keyboard=[*rows, *([mark] if mark else [])])


def goods_with_marks(order: Order, t: Translate) -> list[str]:
    """The goods list with SKU, quantity and a FRAGILE mark (R-4.1)."""
    lines = []
    for item in order.items:
        fragile = f" — <b>{t(N_('FRAGILE: pack separately'))}</b>" if item.fragile else ""
        sku = f"<code>{esc(item_key(item))}</code> " if item.sku else ""
        lines.append(f"• {sku}{esc(item.name)} × {item.quantity}, {item.weight_kg} kg{fragile}")
    return lines


def recorded_lines(order: Order, t: Translate, timezone: str) -> list[str]:
    """What execution has recorded so far (staff view)."""
    shipment = order.shipment
    zone = ZoneInfo(timezone)

    def at(moment: datetime) -> str:
        """Formats a recorded moment in the company's zone."""
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    lines = []
    if shipment.outbound_at and shipment.outbound_operator:
        lines.append(
            t(N_("Outbound scan: {operator}, {time}")).format(
                operator=esc(shipment.outbound_operator), time=at(shipment.outbound_at)
            )
        )
    if shipment.waybill:
        lines.append(
            t(N_("Carrier: {carrier}, waybill {waybill}")).format(
                carrier=esc(carrier_name(shipment.carrier)),
                waybill=Html(f"<code>{esc(shipment.waybill)}</code>"),
            )
        )
    if shipment.etd:
        lines.append(t(N_("Expected departure: {time}")).format(time=at(shipment.etd)))
    if shipment.customs_declaration:
        lines.append(t(N_("Customs declaration: {number}")).format(number=esc(shipment.customs_declaration)))
    if shipment.destination:
        lines.append(t(N_("Arrived at: {place}")).format(place=esc(shipment.destination)))
    if shipment.clearance_result:
        lines.append(t(N_("Clearance: {result}")).format(result=esc(shipment.clearance_result)))
    if shipment.hold_reason:
        lines.append(t(N_("Held by customs: {reason}")).format(reason=esc(shipment.hold_reason)))
    if shipment.courier_name and shipment.courier_phone:
        lines.append(
            t(N_("Courier: {name}, {phone}")).format(
                name=esc(shipment.courier_name), phone=esc(shipment.courier_phone)
            )
        )
    if shipment.eta:
        lines.append(t(N_("Expected delivery: {time}")).format(time=at(shipment.eta)))
    return lines


def card_text(order: Order, department: Role, t: Translate, timezone: str) -> str:
    """The department's card: order, status, service, destination, goods, what is recorded, due time."""
    title = t(CARD_TITLES.get(department, N_("Order")))
    lines = [
        f"<b>{with_colon(t, title)}{esc(order.display_id)}</b> ({esc(order.reference)})",
        f"{field(t, N_('Status'))}{t(STATUS_NAMES[order.status])}",
        f"{field(t, N_('Service'))}{t(SERVICE_NAMES[order.service])}",
        f"{field(t, N_('Destination'))}{route(order)}",
        field(t, N_("Goods")).rstrip(),
        *shown_lines(goods_with_marks(order, t), GOODS_SHOWN, t),
        *recorded_lines(order, t, timezone),
    ]
    clock = running_clock(order)
    if clock is not None:
        due = clock.due_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
        lines.append(t(N_("Due by {time}")).format(time=due))
    return fit(lines, t, limit=CARD_LIMIT)


def mark_exception_row(order: Order, t: Translate) -> list[InlineKeyboardButton]:
    """The *Mark exception* button of a staff card, while the table lets the order go into exception."""
    if Action.RAISE_EXCEPTION not in allowed_actions(order.status, order.service):
        return []
    return [shared_button(t(MARK_EXCEPTION), _mark_data(order.id))]


@functools.lru_cache(maxsize=4096)
def _step_data(order_id: str, step: ExecStep) -> str:
    """The callback data of a card's step button, packed once (a card is drawn on every press)."""
    return ExecAction(order_id=order_id, step=step).pack()


@functools.lru_cache(maxsize=4096)
def _mark_data(order_id: str) -> str:
    """The callback data of a card's Mark exception button, packed once."""
    return MarkException(order_id=order_id, step=MarkStep.START).pack()


MARK_EXCEPTION = N_("⚠️ Mark exception")
