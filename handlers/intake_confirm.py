"""Confirm on the wizard's preview (R-1.2, R-1.3): one order per preview, however often it is pressed.

Every preview gets a token that its Confirm button carries. The first press spends the token in
the wizard's FSM data in the update's transaction - the same one place_order commits the order in -
and records that this preview was submitted; any other press of it, a double tap running at the
same time included, is told so. Once the order is in, the preview loses its buttons, and the
customer is told how to pay: Telegram's invoice for a bank card, the transfer instructions and
the receipt step otherwise (handlers/payment.py).
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from aiogram import F, Router
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from application.intake import PlacedOrder, place_order
from application.ports import UnitOfWork
from application.services import EventHandlers
from domain.clock import Clock
from domain.errors import NotPermitted
from domain.intake.drafts import OrderDraft
from domain.intake.errors import InvalidInput
from domain.sla.clocks import SlaContext
from handlers.intake_fix import resubmit
from handlers.intake_keyboards import WizardAction
from handlers.intake_screens import (
    DEFAULT_TIMEZONE,
    Placement,
    WizardChat,
    current_step,
    return_to_field,
    wall_clock,
)
from handlers.intake_states import FIX_KEY, PREVIEW_KEY, order_draft, state_of
from handlers.payment import PaymentSetup, payment_prompt, start_payment
from presentation.intake_texts import offline_done_text, placed_text
from presentation.keyboards import main_menu

router = Router(name="intake_confirm")

# Where the FSM data keeps the token of the preview that was submitted, once the wizard is over.
SUBMITTED_KEY = "submitted"


def _is_open_preview(data: dict[str, Any], token: str) -> bool:
    """Whether the wizard is at the preview whose Confirm carries this token.

    A preview shown before previews had tokens has none, and its Confirm carries none.
    """
    return data.get("step") == "preview" and data.get(PREVIEW_KEY, "") == token


async def claim_preview(state: FSMContext, token: str) -> tuple[bool, dict[str, Any]]:
    """Takes the preview for submitting, once; returns whether it was taken, and the wizard's answers.

    The write before the second read takes the lock on the wizard's row (on SQLite the database's)
    in the update's transaction: a second press of the same preview waits there until the first
    has committed, and then reads what the first left. With the in-memory storage nothing in here
    waits, so no other update runs in between. A storage outside the database (Redis) has no such
    lock: there the dispatcher's event isolation has to keep one user's updates apart.
    """
    data = await state.get_data()
    if not _is_open_preview(data, token):
        return False, data
    await state.set_state(None)
    data = await state.get_data()
    if not _is_open_preview(data, token):
        # Someone else moved the wizard on meanwhile: leave it where they left it.
        if "step" in data:
            await state.set_state(state_of(current_step(data)))
        return False, data
    await state.set_data({SUBMITTED_KEY: token})
    data.pop(PREVIEW_KEY, None)
    return True, data


def _refusal(data: dict[str, Any], token: str) -> str:
    """Why a Confirm press does nothing: its preview was submitted, replaced, or the wizard is over."""
    if data.get(SUBMITTED_KEY) == token:
        return _("This order was already submitted; the form is closed and nothing was sent again.")
    if "step" in data:
        return _("That button belongs to an earlier question; please use the latest one.")
    return _("This order form is closed. Start a new one with /neworder.")


@router.callback_query(WizardAction.filter(F.act == "confirm"))
async def confirm_button(
    query: CallbackQuery,
    callback_data: WizardAction,
    state: FSMContext,
    uow: UnitOfWork,
    locale: str,
    clock: Clock | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    event_handlers: EventHandlers | None = None,
    sla: SlaContext | None = None,
    payment_setup: PaymentSetup | None = None,
) -> None:
    """Places the order (or sends the corrected one back) for the first press of a preview's Confirm."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer(_("This message is too old; please start again with /neworder."), show_alert=True)
        return
    taken, data = await claim_preview(state, callback_data.value)
    if not taken:
        await query.answer(_refusal(data, callback_data.value))
        return
    await query.answer()
    placement = Placement(wall_clock(clock), event_handlers, sla)
    draft = order_draft(data, user_id=query.from_user.id, language=locale)
    try:
        paying = None
        if FIX_KEY in data:
            text = await resubmit(message, state, uow, data[FIX_KEY]["order_id"], draft, placement)
            paying = await uow.orders.get(data[FIX_KEY]["order_id"]) if text is not None else None
        else:
            text, placed = await _place(message, state, uow, draft, placement)
            paying = placed.order if placed is not None else None
    except InvalidInput as failure:
        await return_to_field(WizardChat(message, state, locale, timezone), data, failure.errors)
        return
    if text is None:
        return
    # A preview too old to edit keeps its buttons; pressing them again is refused as above.
    with suppress(TelegramBadRequest):
        await message.edit_reply_markup(reply_markup=None)
    menu = None if draft.channel.offline else main_menu()
    prompt = payment_prompt(paying, locale) if paying is not None else None
    if prompt is not None:
        # The step after Confirm order: the customer pays (issue 12).
        text = f"{text}\n\n{prompt}"
    await message.answer(text, parse_mode=ParseMode.HTML, reply_markup=menu)
    if paying is not None:
        await start_payment(message, state, paying, payment_setup)


async def _place(
    message: Message, state: FSMContext, uow: UnitOfWork, draft: OrderDraft, placement: Placement
) -> tuple[str | None, PlacedOrder | None]:
    """Places the order (customer) or submits it (staff, once the customer has confirmed); says so."""
    try:
        placed = await place_order(
            uow, draft, placement.clock, handlers=placement.event_handlers, sla=placement.sla
        )
    except NotPermitted:
        await state.clear()
        await message.answer(_("Only the order desk can enter offline orders."))
        return None, None
    return (offline_done_text(placed) if draft.channel.offline else placed_text(placed)), placed
