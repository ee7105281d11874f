"""Fixing a rejected order (R-3.1): the Fix button opens the wizard filled in with the rejected order.

The wizard opens at the field the rejection names (presentation.callbacks.OrderFix), or at the
preview where any field can change; its Confirm (handlers/intake_confirm.py) hands the corrected
draft to application.intake.resubmit_order, which sends that same order for review again.
"""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.enums import ParseMode
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _

from application.intake import resubmit_order
from application.ports import UnitOfWork
from domain.errors import ConcurrentModification, IllegalTransition, NotPermitted, OrderNotFound
from domain.intake.drafts import OrderDraft
from domain.intake.goods import DIMENSIONS
from domain.orders.model import Order
from domain.orders.status import OrderStatus
from handlers.common import order_or_none
from handlers.intake_screens import DEFAULT_TIMEZONE, Placement, WizardChat, ask, show_preview
from handlers.intake_states import CUSTOMER, FIX_KEY, Step, new_data
from presentation.callbacks import OrderFix
from presentation.intake_texts import fix_intro_text, not_fixable_text, resubmitted_text
from presentation.keyboards import main_menu
from presentation.labels import NOT_YOUR_ORDER

router = Router(name="intake_fix")

# The wizard step each OrderFix field opens; any other field opens the preview with "Change a field".
FIX_STEPS: dict[str, str] = {"service": "service", "payment": "payment"}


def fix_data(order: Order) -> dict[str, Any]:
    """The wizard's answers taken from a rejected order, ready to correct and send again."""
    data = new_data(CUSTOMER)
    customer, address = order.customer, order.address
    data["draft"] = {
        "name": customer.name,
        "country": address.country,
        "phone": customer.phone,
        "email": customer.email,
        "city": address.city,
        "street": address.street,
        "postcode": address.postcode,
        # Kept for the order although the wizard does not ask for them (platform orders may have them).
        "area": address.area,
        "items": [
            {
                "name": item.name,
                "quantity": item.quantity,
                "weight_kg": f"{item.weight_kg:f}",
                "declared_value": f"{item.declared_value:f}",
                "sku": item.sku,
                "fragile": item.fragile,
                "hs_code": item.hs_code,
                **{
                    name: f"{getattr(item, name):f}" for name in DIMENSIONS if getattr(item, name) is not None
                },
            }
            for item in order.items
        ],
        "items_done": True,
        "service": order.service.value,
        "payment_method": order.payment_method,
        "remarks": order.remarks or None,
        "business": customer.business,
        "special_requests": [
            {"kind": request.kind.value, "note": request.note}
            for request in order.requirements.special_requests
        ],
        "delivery_by": delivery_by.isoformat() if (delivery_by := order.requirements.delivery_by) else None,
        "special_services": sorted(service.value for service in order.requirements.special_services),
    }
    data[FIX_KEY] = {"order_id": order.id, "reference": order.reference}
    return data


@router.callback_query(OrderFix.filter())
async def fix_order(
    query: CallbackQuery,
    callback_data: OrderFix,
    state: FSMContext,
    uow: UnitOfWork,
    locale: str,
    timezone: str = DEFAULT_TIMEZONE,
) -> None:
    """Opens the wizard on the customer's rejected order, filled in, at the field the rejection names."""
    user = query.from_user
    message = query.message
    order = await order_or_none(uow, callback_data.order_id)
    private = message is not None and message.chat.id == user.id
    if order is None or order.customer.telegram_user_id != user.id or message is None or not private:
        await query.answer(_(NOT_YOUR_ORDER), show_alert=True)
        return
    if order.status is not OrderStatus.REJECTED:
        await query.answer(not_fixable_text(order), show_alert=True)
        return
    await query.answer()
    data = fix_data(order)
    # The rejection may be too old to reply to; the intro is a fresh message in the same chat.
    sent = await message.answer(
        fix_intro_text(order), parse_mode=ParseMode.HTML, reply_markup=ReplyKeyboardRemove()
    )
    chat = WizardChat(sent, state, locale, timezone)
    step = FIX_STEPS.get(callback_data.field)
    if step is None:
        await show_preview(chat, data)
    else:
        await ask(chat, data, Step(step))


async def resubmit(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    order_id: str,
    draft: OrderDraft,
    placement: Placement,
) -> str | None:
    """Sends the corrected order for review again, as the same order; says so (None if it did not go)."""
    actor_id = draft.customer.telegram_user_id
    assert actor_id is not None
    try:
        placed = await resubmit_order(
            uow,
            order_id,
            draft,
            placement.clock,
            actor_id=actor_id,
            handlers=placement.event_handlers,
            sla=placement.sla,
        )
    except (NotPermitted, OrderNotFound):
        await uow.rollback()
        await state.clear()
        await message.answer(_(NOT_YOUR_ORDER), reply_markup=main_menu())
        return None
    except (IllegalTransition, ConcurrentModification):
        # Cancelled or resubmitted meanwhile (another device): say what it is now.
        await uow.rollback()
        await state.clear()
        order = await uow.orders.get(order_id)
        await message.answer(not_fixable_text(order), parse_mode=ParseMode.HTML, reply_markup=main_menu())
        return None
    return resubmitted_text(placed)
