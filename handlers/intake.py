"""The order wizard in the private chat (R-1.2, R-2): /neworder and the New order button, step by step.

Every free-text answer is checked the moment it arrives with the domain's single-field checks;
a failure names the field, what is wrong and how to fix it, in the user's language, and asks the
same question again. Fixed choices are buttons; Back, Change a field and Cancel sit under every
question. The preview's Confirm is handled in handlers/intake_confirm.py, the Fix button on a
rejection in handlers/intake_fix.py; staff entering offline orders (/offline, handlers/offline.py)
use the same wizard with the offline steps in front. The screens are in handlers/intake_screens.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.enums import ChatType, ParseMode
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _

from domain.clock import Clock
from domain.intake.errors import InvalidInput
from domain.intake.goods import normalize_hs_code, normalize_sku, parse_size
from domain.intake.requirements import normalize_request_note, parse_delivery_by
from domain.intake.validation import (
    normalize_city,
    normalize_customer_name,
    normalize_email,
    normalize_item_name,
    normalize_phone,
    normalize_postcode,
    normalize_remarks,
    normalize_street,
    parse_country,
    parse_declared_value,
    parse_quantity,
    parse_weight_kg,
)
from handlers.common import CommandSpec
from handlers.intake_extras import extra_button, extra_pick
from handlers.intake_keyboards import STEP_FIELDS, WizardAction, parse_step_key
from handlers.intake_screens import (
    DEFAULT_TIMEZONE,
    WizardChat,
    advance,
    ask,
    can_add_item,
    current_step,
    show_fields,
    show_item_fields,
    show_preview,
    use_the_buttons,
    wall_clock,
)
from handlers.intake_states import (
    CUSTOMER,
    ITEM_KEYS,
    OrderWizard,
    Step,
    add_item,
    answer,
    correcting,
    draft_of,
    drop_empty_item,
    is_offline,
    may_skip,
    new_data,
    parse_received_at,
    previous_step,
    remove_item,
)
from presentation.field_errors import describe_all
from presentation.ids import parse_index
from presentation.intake_texts import CHANNEL_LABELS, PAYMENT_LABELS, PROMPTS, SERVICE_LABELS, cancelled_text
from presentation.keyboards import HELP, MY_ORDERS, N_, NEW_ORDER, MenuButton, main_menu

router = Router(name="intake")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("neworder", N_("Place a new order")),
    CommandSpec("cancel", N_("Cancel the order you are entering")),
)


async def start_wizard(
    message: Message, state: FSMContext, mode: str, locale: str, timezone: str, intro: str
) -> None:
    """Starts a fresh wizard (a wizard already under way is replaced)."""
    await message.answer(intro, parse_mode=ParseMode.HTML, reply_markup=ReplyKeyboardRemove())
    await advance(WizardChat(message, state, locale, timezone), new_data(mode))


@router.message(Command("neworder"), F.chat.type == ChatType.PRIVATE)
@router.message(MenuButton(NEW_ORDER), F.chat.type == ChatType.PRIVATE)
async def new_order(
    message: Message, state: FSMContext, locale: str, timezone: str = DEFAULT_TIMEZONE
) -> None:
    """Starts the customer's order wizard."""
    intro = _(
        "Let’s place your order. I will ask for each detail in turn; under every question you can go "
        "back, change an earlier answer or cancel."
    )
    await start_wizard(message, state, CUSTOMER, locale, timezone, intro)


@router.message(Command("neworder"))
async def new_order_in_group(message: Message) -> None:
    """Sends the customer to the private chat, where orders are placed."""
    await message.answer(_("Please write to me in a private chat to place an order."))


@router.message(Command("cancel"), StateFilter(OrderWizard))
async def cancel_command(message: Message, state: FSMContext) -> None:
    """Cancels the wizard by command."""
    await cancel(message, state)


async def cancel(message: Message, state: FSMContext) -> None:
    """Throws the wizard's answers away."""
    data = await state.get_data()
    await state.clear()
    text = cancelled_text(correcting(data))
    await message.answer(text, reply_markup=None if is_offline(data) else main_menu())


def _parse_text(data: dict[str, Any], step: Step, text: str, now: datetime, timezone: str) -> Any:
    """Checks a typed answer for its step; returns the value to keep or raises InvalidInput."""
    draft = draft_of(data)
    index = step.line or 0
    match step.name:
        case "received_at":
            return parse_received_at(text, now, timezone).isoformat()
        case "name":
            return normalize_customer_name(text)
        case "country":
            return parse_country(text).code
        case "phone":
            return normalize_phone(text, draft.get("country"))
        case "email":
            return normalize_email(text)
        case "city":
            return normalize_city(text)
        case "street":
            return normalize_street(text)
        case "postcode":
            return normalize_postcode(draft["country"], text)
        case "item_name":
            return normalize_item_name(text, field=f"items[{index}].name")
        case "item_quantity":
            return parse_quantity(text, field=f"items[{index}].quantity")
        case "item_weight":
            # The domain's number parser bounds digits and decimals, as for the API.
            return f"{parse_weight_kg(text, field=f'items[{index}].weight_kg'):f}"
        case "item_value":
            return f"{parse_declared_value(text, field=f'items[{index}].declared_value'):f}"
        case "remarks":
            return normalize_remarks(text) or None
        case "item_size":
            return parse_size(text, field=f"items[{index}].length_cm")
        case "item_sku":
            return normalize_sku(text, field=f"items[{index}].sku")
        case "item_hs":
            return normalize_hs_code(text, field=f"items[{index}].hs_code")
        case "request_note":
            return normalize_request_note(text)
        case "delivery_by":
            return parse_delivery_by(text, now.astimezone(ZoneInfo(timezone)).date()).isoformat()
    raise LookupError(step.name)


TEXT_STEPS = frozenset(
    {
        "received_at",
        "name",
        "country",
        "phone",
        "email",
        "city",
        "street",
        "postcode",
        "item_name",
        "item_quantity",
        "item_weight",
        "item_value",
        "remarks",
        "item_size",
        "item_sku",
        "item_hs",
        "request_note",
        "delivery_by",
    }
)


@router.message(
    StateFilter(OrderWizard), F.text, ~F.text.startswith("/"), ~MenuButton(HELP), ~MenuButton(MY_ORDERS)
)
async def text_answer(
    message: Message,
    state: FSMContext,
    locale: str,
    clock: Clock | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> None:
    """Checks a typed answer: keeps it and moves on, or says what is wrong and asks again."""
    chat = WizardChat(message, state, locale, timezone)
    data = await state.get_data()
    step = current_step(data)
    if step.name not in TEXT_STEPS:
        await use_the_buttons(chat, data, step)
        return
    try:
        value = _parse_text(data, step, message.text or "", wall_clock(clock).now(), timezone)
    except InvalidInput as failure:
        await ask(chat, data, step, describe_all(failure.errors, chat.locale))
        return
    answer(data, step, value)
    await advance(chat, data)


@router.message(StateFilter(OrderWizard), ~F.text)
async def not_text(
    message: Message, state: FSMContext, locale: str, timezone: str = DEFAULT_TIMEZONE
) -> None:
    """Asks for text (or a button) when something else arrives, e.g. a photo or a sticker."""
    chat = WizardChat(message, state, locale, timezone)
    data = await state.get_data()
    step = current_step(data)
    notice = _("I can only read text here; please type the answer or use the buttons.")
    if step.name in TEXT_STEPS:
        await ask(chat, data, step, notice)
    else:
        await use_the_buttons(chat, data, step)


@router.callback_query(WizardAction.filter(), StateFilter(OrderWizard))
async def wizard_button(
    query: CallbackQuery,
    callback_data: WizardAction,
    state: FSMContext,
    locale: str,
    clock: Clock | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> None:
    """Handles the wizard's buttons but Confirm: choices, Skip, Back, Change, Cancel, the consent tick."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer(_("This message is too old; please start again with /neworder."), show_alert=True)
        return
    data = await state.get_data()
    step = current_step(data)
    if callback_data.step != data.get("step"):
        await query.answer(_("That button belongs to an earlier question; please use the latest one."))
        return
    await query.answer()
    chat = WizardChat(message, state, locale, timezone)
    act, value = callback_data.act, callback_data.value
    if await extra_button(chat, data, step, act, value):
        return
    if act == "cancel":
        await cancel(message, state)
    elif act == "back":
        await _back(chat, data, step)
    elif act == "edit":
        data["return_to"] = data["step"]
        await show_fields(chat, data)
    elif act == "skip" and may_skip(data, step):
        answer(data, step, None)
        await advance(chat, data)
    elif act == "pick":
        await _pick(chat, data, step, value, wall_clock(clock).now())
    elif act == "field" and (value in STEP_FIELDS or value == "urgent"):
        await ask(chat, data, Step(value))
    elif act == "item" and (line := parse_index(value, len(draft_of(data)["items"]))) is not None:
        await show_item_fields(chat, data, line)
    elif act == "add_item" and can_add_item(data):
        await ask(chat, data, add_item(data))
    elif act == "item_field" and step.line is not None and value in ITEM_KEYS:
        await ask(chat, data, Step(value, step.line))
    elif act == "remove" and step.line is not None and remove_item(data, step.line):
        await advance(chat, data, _("The goods line was removed."))
    elif act == "toggle" and is_offline(data):
        draft = draft_of(data)
        draft["confirmed"] = not draft.get("confirmed")
        await show_preview(chat, data)
    else:
        await use_the_buttons(chat, data, step)


@router.callback_query(WizardAction.filter())
async def closed_wizard_button(query: CallbackQuery) -> None:
    """Answers a button of a wizard that is over (placed, cancelled or replaced)."""
    await query.answer(_("This order form is closed. Start a new one with /neworder."), show_alert=True)


async def _back(chat: WizardChat, data: dict[str, Any], step: Step) -> None:
    """Goes one question back; from the field lists, back to where the change started."""
    if step.name == "edit_fields":
        returning = parse_step_key(str(data.pop("return_to", "preview")))
        if returning.name == "preview" or returning.name not in PROMPTS:
            await advance(chat, data)
        else:
            await ask(chat, data, returning)
        return
    if step.name == "edit_item":
        await show_fields(chat, data)
        return
    if drop_empty_item(data, step):
        await ask(chat, data, Step("more_items"))
        return
    previous = previous_step(data, step)
    if previous is None:
        await ask(chat, data, step, _("This is the first question."))
        return
    await ask(chat, data, previous)


async def _pick(chat: WizardChat, data: dict[str, Any], step: Step, value: str, now: datetime) -> None:
    """Keeps a button choice and moves on."""
    choices: dict[str, Any] = {
        "channel": {key: key for key in CHANNEL_LABELS},
        "urgent": {"1": True, "0": False},
        "service": {key: key for key in SERVICE_LABELS},
        "payment": {key: key for key in PAYMENT_LABELS},
    }
    if step.name == "country":
        try:
            answer(data, step, parse_country(value).code)
        except InvalidInput as failure:
            await ask(chat, data, step, describe_all(failure.errors, chat.locale))
            return
    elif step.name == "received_at" and value == "now":
        answer(data, step, now.isoformat())
    elif step.name == "more_items" and value == "more" and can_add_item(data):
        draft_of(data)["items_done"] = False
        await ask(chat, data, add_item(data))
        return
    elif step.name == "more_items" and value == "done":
        answer(data, step, True)
    elif step.name in choices and value in choices[step.name]:
        answer(data, step, choices[step.name][value])
    elif await extra_pick(chat, data, step, value):
        return
    else:
        await use_the_buttons(chat, data, step)
        return
    await advance(chat, data)
