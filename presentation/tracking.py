"""Where an order stands in customer words: shipment details, what happens next and when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from functools import cache
from zoneinfo import ZoneInfo

from domain.execution import carrier_name
from domain.orders.model import Order
from domain.orders.status import OrderStatus, Service
from domain.sla.clocks import running_clock, stage_for
from domain.sla.policy import SlaPolicy
from domain.sla.policy_file import load_policy
from presentation.execution_cards import entered_status_at
from presentation.keyboards import N_
from presentation.render import Html, Translate, esc

TIME_FORMAT = "%Y-%m-%d %H:%M"


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
                carrier=esc(carrier_name(shipment.carrier)),
                waybill=Html(f"<code>{esc(shipment.waybill)}</code>"),
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
