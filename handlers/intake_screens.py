"""The order wizard's screens: a step's question, the preview card and the lists of fields to change.

Each screen moves the wizard to its step, saves the answers and sends its message; the routers
(handlers/intake.py, intake_confirm.py, intake_fix.py) decide which screen comes next.

Handler data the wizard reads besides the middlewares' `uow`, `roles` and `locale`: `clock`
(domain.clock.Clock, the wall clock if absent), `timezone` (IANA name for times staff type,
Asia/Shanghai if absent), `event_handlers` and `sla` (what placing an order sets off).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from aiogram.enums import ParseMode
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from application.services import EventHandlers
from domain.clock import Clock, SystemClock
from domain.intake.drafts import quote_for
from domain.intake.errors import FieldError, InvalidInput
from domain.sla.clocks import SlaContext
from handlers.dialogs import move_dialog
from handlers.intake_keyboards import (
    fields_keyboard,
    item_fields_keyboard,
    parse_step_key,
    preview_keyboard,
    step_key,
    step_keyboard,
)
from handlers.intake_states import (
    ITEM_KEYS,
    PREVIEW_KEY,
    WIZARD_ITEMS_MAX,
    OrderWizard,
    Step,
    correcting,
    draft_of,
    first_unanswered,
    is_answered,
    is_offline,
    may_skip,
    order_draft,
    state_of,
    step_for_error,
    stored_answer,
)
from presentation.field_errors import describe_all
from presentation.intake_texts import answer_text, preview_text, prompt_text
from presentation.render import esc

DEFAULT_TIMEZONE = "Asia/Shanghai"
SYSTEM_CLOCK = SystemClock()


@dataclass(frozen=True)
class WizardChat:
    """Where the wizard talks: the message it answers, the dialog state, the language and time zone."""

    message: Message
    state: FSMContext
    locale: str
    timezone: str


@dataclass(frozen=True)
class Placement:
    """What placing an order needs besides the draft: time, side effects and SLA clocks."""

    clock: Clock
    event_handlers: EventHandlers | None
    sla: SlaContext | None


def wall_clock(clock: Clock | None) -> Clock:
    """The injected clock, or the wall clock."""
    return clock or SYSTEM_CLOCK


def can_add_item(data: dict[str, Any]) -> bool:
    """Whether the order may have one more goods line in the chat."""
    return len(draft_of(data)["items"]) < WIZARD_ITEMS_MAX


def current_step(data: dict[str, Any]) -> Step:
    """The step the wizard is at."""
    return parse_step_key(str(data.get("step", "")))


def _with_notice(text: str, notice: str | None) -> str:
    """Puts a notice (what was wrong, what changed) above a screen's text."""
    return f"{notice}\n\n{text}" if notice else text


def _current_answer(chat: WizardChat, data: dict[str, Any], step: Step) -> str | None:
    """The step's answer so far, as shown under a question asked again (None if unanswered)."""
    if step.name in ("more_items", "request_kind", "request_note", "special_service"):
        return None
    if not is_answered(data, step):
        return None
    return answer_text(step.name, stored_answer(data, step), chat.locale, chat.timezone)


async def ask(chat: WizardChat, data: dict[str, Any], step: Step, notice: str | None = None) -> None:
    """Moves the wizard to a step, saves the answers and asks the step's question."""
    data["step"] = step_key(step)
    await move_dialog(chat.state, state_of(step), data)
    text = prompt_text(
        step.name,
        step.line,
        draft_of(data),
        chat.locale,
        chat.timezone,
        skippable=may_skip(data, step),
        current=_current_answer(chat, data, step),
    )
    markup = step_keyboard(data, step, chat.locale, can_add_item=can_add_item(data))
    await chat.message.answer(_with_notice(text, notice), parse_mode=ParseMode.HTML, reply_markup=markup)


async def advance(chat: WizardChat, data: dict[str, Any], notice: str | None = None) -> None:
    """Asks the first unanswered question, or shows the preview once everything is answered."""
    step = first_unanswered(data)
    if step is None:
        await show_preview(chat, data, notice)
        return
    await ask(chat, data, step, notice)


async def _open_preview(state: FSMContext, data: dict[str, Any]) -> None:
    """Moves the wizard to the preview with a fresh token, so an older preview's Confirm is refused."""
    data["step"] = "preview"
    data[PREVIEW_KEY] = secrets.token_urlsafe(6)
    await move_dialog(state, OrderWizard.preview, data)


async def show_preview(chat: WizardChat, data: dict[str, Any], notice: str | None = None) -> None:
    """Shows the preview card with Confirm / Change / Cancel; an unpriceable draft goes back to its field."""
    try:
        quote = quote_for(order_draft(data, user_id=0, language=chat.locale))
    except InvalidInput as failure:
        await return_to_field(chat, data, failure.errors)
        return
    await _open_preview(chat.state, data)
    text = preview_text(
        draft_of(data),
        quote,
        chat.locale,
        chat.timezone,
        offline=is_offline(data),
        correcting=correcting(data),
    )
    await chat.message.answer(
        _with_notice(text, notice), parse_mode=ParseMode.HTML, reply_markup=preview_keyboard(data)
    )


async def return_to_field(chat: WizardChat, data: dict[str, Any], errors: list[FieldError]) -> None:
    """Explains what is wrong and asks the first wrong field again (or shows the preview if none can be)."""
    notice = describe_all(errors, chat.locale)
    for error in errors:
        step = step_for_error(error)
        if step is not None and step.name in ITEM_KEYS and step.line is not None:
            if step.line >= len(draft_of(data)["items"]):
                continue
        if step is not None:
            await ask(chat, data, step, notice)
            return
    await _open_preview(chat.state, data)
    await chat.message.answer(notice, parse_mode=ParseMode.HTML, reply_markup=preview_keyboard(data))


async def show_fields(chat: WizardChat, data: dict[str, Any], notice: str | None = None) -> None:
    """Lists the answered fields to pick the one to change."""
    data["step"] = "edit_fields"
    await move_dialog(chat.state, OrderWizard.edit_fields, data)
    text = _with_notice(_("Which field do you want to change?"), notice)
    await chat.message.answer(text, reply_markup=fields_keyboard(data, can_add_item=can_add_item(data)))


async def show_item_fields(
    chat: WizardChat, data: dict[str, Any], index: int, notice: str | None = None
) -> None:
    """Lists the fields of one goods line."""
    data["step"] = step_key(Step("edit_item", index))
    await move_dialog(chat.state, OrderWizard.edit_item, data)
    item = draft_of(data)["items"][index]
    text = _("What do you want to change about goods line {number} ({name})?").format(
        number=index + 1, name=esc(item.get("name", ""))
    )
    markup = item_fields_keyboard(data, index)
    await chat.message.answer(_with_notice(text, notice), parse_mode=ParseMode.HTML, reply_markup=markup)


async def use_the_buttons(chat: WizardChat, data: dict[str, Any], step: Step) -> None:
    """Says a step takes a button, and shows it again."""
    notice = _("Please choose with the buttons below.")
    if step.name == "preview":
        await show_preview(chat, data, notice)
    elif step.name == "edit_fields":
        await show_fields(chat, data, notice)
    elif step.name == "edit_item" and step.line is not None:
        await show_item_fields(chat, data, step.line, notice)
    else:
        await ask(chat, data, step, notice)
