"""Words of the warehouse's and logistics' dialogs: prompts, refusals of typed values, who did a step."""

from __future__ import annotations

from collections.abc import Mapping

from aiogram.types import User
from aiogram.utils.i18n import gettext as _

from application.ports import UnitOfWork
from domain.execution import ExecutionError
from domain.orders.model import AuditEvent, Order
from domain.orders.status import Role
from presentation.keyboards import N_
from presentation.render import STATUS_NAMES, esc, local_time

# Why a typed value was refused, by ExecutionError code; parameters are escaped before formatting.
ERRORS: Mapping[str, str] = {
    "pick.line": N_("I could not read “{line}”: write one item per line, its SKU and the quantity."),
    "pick.empty": N_("Write the picked items, one per line: SKU and quantity, e.g. TEA-01 2."),
    "pick.unknown": N_("{sku} is not in this order; check the SKU."),
    "pick.missing": N_("{sku} is missing from your count."),
    "pick.quantity": N_("{sku}: the order has {expected}, you counted {counted}. Check the goods."),
    "fragile.unconfirmed": N_("Confirm first that {items} are packed separately and labelled fragile."),
    "operator.invalid": N_("Write a name of 2 to {limit} characters."),
    "carrier.invalid": N_("Write the carrier’s name (2 to 60 characters) or pick one."),
    "waybill.format": N_("{waybill} is not a {carrier} waybill number; it looks like {example}."),
    "waybill.invalid": N_("{waybill} is not a waybill number: use 6 to 35 letters, digits or dashes."),
    "declaration.invalid": N_("Write the customs declaration number: 4 to 40 letters, digits or dashes."),
    "time.format": N_(
        "Write the time as 2026-03-20 14:00 (or 03-20 14:00, or 14:00 for today), company time."
    ),
    "time.past": N_("That time has passed (it is {now} now); give a time in the future."),
    "time.too_far": N_("That is more than {days} days ahead; check the date."),
    "phone.invalid": N_("That is not a valid phone number; write it like {example}."),
    "destination.invalid": N_("Write the place of arrival in 2 to {limit} characters."),
    "clearance.invalid": N_("Write the clearance result in 2 to {limit} characters."),
    "hold.invalid": N_("Write why customs holds the goods, in 2 to {limit} characters."),
    "courier.invalid": N_("Write the courier’s name in 2 to {limit} characters."),
    "signed_by.invalid": N_("Write who signed, in 2 to {limit} characters."),
    "text.control": N_("That text holds an invisible control character; type it again without it."),
}
PROMPTS: Mapping[str, str] = {
    "waybill": N_("Waybill number?"),
    "etd": N_("Estimated departure (company time), e.g. 2026-03-20 14:00?"),
    "declaration": N_("Customs declaration number (the declaration is filed)?"),
    "destination": N_("Where did the goods arrive (airport, port or city)?"),
    "clearance": N_("Clearance result (e.g. released, duties paid)?"),
    "hold_reason": N_("Why does customs hold the goods?"),
    "courier_name": N_("Courier’s name?"),
    "courier_phone": N_("Courier’s phone?"),
    "eta": N_("Estimated delivery (company time), e.g. 2026-03-20 18:00?"),
    "signed_by": N_("Who signed for the goods?"),
}


def error_text(error: ExecutionError) -> str:
    """Words a refused value in the user's language."""
    params = {name: esc(value) for name, value in error.params.items()}
    return _(ERRORS.get(error.code, N_("That value is not valid."))).format(**params)


def staff_name(user: User) -> str:
    """The name a staff member is shown under."""
    return user.full_name or (f"@{user.username}" if user.username else str(user.id))


async def handled_by(uow: UnitOfWork, event: AuditEvent | None, timezone: str) -> str:
    """Says who took the order past the step, and when, as plain text (a toast; escape it for a message)."""
    if event is None:
        return _("This order is not waiting for this step.")
    if event.actor_role is Role.CUSTOMER:
        name = _("the customer")
    elif event.actor_id is None:
        name = _("the system")
    else:
        name = await uow.reviews.name_of(event.actor_id) or str(event.actor_id)
    return _("Already handled by {name} at {time}.").format(name=name, time=local_time(event.at, timezone))


def not_now(order: Order) -> str:
    """Says that the order has not reached the step."""
    return _("Not possible now: the order is {status}.").format(status=_(STATUS_NAMES[order.status]))
