"""Finance's chat (issue 13, R-6.1, R-6.4): Record as paid on a refund or payout card, and /refunds.

*Record as paid* asks the one who pressed for the payment's reference (for a Telegram Payments
charge: the provider's refund reference), then the time it was paid (Paid just now, or a typed
time); the record is paid once however often anyone presses, and the loser is told who recorded
it and when. Roles are read from the database at every press. Texts are in the team chat's
language (/lang) in a team chat, else in the user's.

Handler data this router needs besides `uow`, `roles` and `locale`: `clock`, `timezone`, `sla`,
`event_handlers`, `i18n`, `team_chats` and `chat_languages`; from `locale`, `i18n`, `team_chats`
and `chat_languages` this router's chat_translator gives every handler `t`, the translator of the
chat it answers in.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, ForceReply, Message, TelegramObject, User
from aiogram.utils.i18n import I18n

from application.conversation import ChatLanguages
from application.finance import (
    FinanceUnitOfWork,
    RecordNotFound,
    open_page,
    owed_entry,
    record_clock,
    record_paid,
)
from application.services import Actor, EventHandlers
from domain.clock import Clock
from domain.errors import ConcurrentModification, NotPermitted, OrderNotFound
from domain.finance import REFERENCE_MAX, AlreadyPaid, MoneyOwed, OwedRefused
from domain.orders.responsibilities import Duty, may, roles_for
from domain.orders.status import Role
from domain.sla.alerts import departments_of_chat
from domain.sla.clocks import SlaContext, clock_left
from handlers.common import CommandSpec
from handlers.dialogs import DialogStep, dialog_step
from presentation.execution_texts import staff_name
from presentation.finance_texts import (
    KIND_NAMES,
    OwedAction,
    OwedStep,
    card_of_record,
    page_keyboard,
    page_line,
    page_text,
    paid_now_keyboard,
)
from presentation.labels import N_
from presentation.render import Translate, esc, local_time, money, translator, translator_or_default

logger = logging.getLogger(__name__)

router = Router(name="finance")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "refunds", N_("List the refunds and payouts waiting to be paid"), roles_for(Duty.SEE_REFUNDS)
    ),
)

NOT_FINANCE = N_("Only finance records refunds and payouts as paid.")
NOT_FOR_YOU = N_("/refunds is for finance, management and administrators.")
STOPPED = N_("Stopped; nothing was changed.")
TIME_FORMAT = re.compile(r"^(?:(\d{4})-(\d{2})-(\d{2})\s+)?(\d{1,2}):(\d{2})$")


class FinanceDialog(StatesGroup):
    """A finance member recording a refund or payout paid: the reference, then the time."""

    reference = State()
    paid_at = State()


async def _translator(
    chat: Chat | None,
    uow: FinanceUnitOfWork,
    i18n: I18n,
    locale: str,
    team_chats: Mapping[str, int] | None,
    chat_languages: ChatLanguages | None,
) -> Translate:
    """The team chat's language (its /lang, else the team default) in a team chat, else the user's."""
    if chat is not None and departments_of_chat(chat.id, team_chats or {}):
        chosen = await chat_languages.language_of(uow, chat.id) if chat_languages is not None else None
        return translator_or_default(i18n, chosen)
    return translator(i18n, locale)


NextHandler = Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]]


async def chat_translator(handler: NextHandler, event: TelegramObject, data: dict[str, Any]) -> Any:
    """Gives a finance handler `t`, the translator of the chat its message or pressed card is in."""
    message = event.message if isinstance(event, CallbackQuery) else event
    chat = message.chat if isinstance(message, Message) else None
    data["t"] = await _translator(
        chat,
        data["uow"],
        data["i18n"],
        data["locale"],
        data.get("team_chats"),
        data.get("chat_languages"),
    )
    return await handler(event, data)


# Inner middlewares: only an update one of this router's handlers takes pays for the language look-up.
router.message.middleware(chat_translator)
router.callback_query.middleware(chat_translator)


async def _who(uow: FinanceUnitOfWork, user_id: int | None, t: Translate) -> str:
    """The name of the person who recorded a payment (never their id)."""
    name = await uow.reviews.name_of(user_id) if user_id is not None else None
    return name or t(N_("a colleague"))


async def already_paid_text(uow: FinanceUnitOfWork, record: MoneyOwed, t: Translate, timezone: str) -> str:
    """Tells the loser of a double press who recorded the payment, when, and with which reference (plain)."""
    when = record.recorded_at or record.paid_at
    return t(N_("Already recorded as paid by {name} at {time} (reference {reference}).")).format(
        name=await _who(uow, record.paid_by, t),
        time=local_time(when, timezone) if when else "",
        reference=record.paid_reference or "",
    )


def _plain(text: str) -> str:
    """A template's text as a toast shows it (toasts are not HTML)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@router.message(Command("refunds"))
async def show_refunds(
    message: Message,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    clock: Clock,
    timezone: str,
    t: Translate,
) -> None:
    """The open refunds and payouts, oldest due first, with how late each is and a button to pay it."""
    if not may(roles, Duty.SEE_REFUNDS):
        await message.answer(t(NOT_FOR_YOU))
        return
    text, markup = await _page(uow, roles, 0, clock, timezone, t)
    await message.answer(text, reply_markup=markup)


async def _page(
    uow: FinanceUnitOfWork, roles: frozenset[Role], offset: int, clock: Clock, timezone: str, t: Translate
) -> tuple[str, Any]:
    """One page of /refunds: its text and buttons."""
    page = await open_page(uow, roles=roles, offset=offset)
    now = clock.now()
    lines = [
        page_line(
            page.offset + number,
            entry.record,
            entry.order,
            clock_left(record_clock(entry.order, entry.record), now),
            t,
            timezone,
        )
        for number, entry in enumerate(page.entries, start=1)
    ]
    text = page_text(lines, page.total, page.offset, len(page.entries), t)
    records = [entry.record for entry in page.entries]
    orders = [entry.order for entry in page.entries]
    return text, page_keyboard(records, orders, page.total, page.offset, len(records) or 1, t)


@router.callback_query(OwedAction.filter(F.act == OwedStep.PAGE))
async def on_page(
    query: CallbackQuery,
    callback_data: OwedAction,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    clock: Clock,
    timezone: str,
    t: Translate,
) -> None:
    """Previous / Next in /refunds."""
    message = query.message
    if not may(roles, Duty.SEE_REFUNDS) or not isinstance(message, Message):
        await query.answer(_plain(t(NOT_FOR_YOU)), show_alert=True)
        return
    text, markup = await _page(uow, roles, callback_data.value, clock, timezone, t)
    await query.answer()
    try:
        await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as error:
        # The same page again (nothing changed since): Telegram refuses an identical edit.
        logger.info("Refunds page kept: %s", error.message)


@router.callback_query(OwedAction.filter(F.act.in_({OwedStep.PAY, OwedStep.LIST_PAY})))
async def on_record_paid(
    query: CallbackQuery,
    callback_data: OwedAction,
    state: FSMContext,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    timezone: str,
    t: Translate,
) -> None:
    """Record as paid: checks the presser's role and the record, then asks for the payment's reference."""
    message = query.message
    if not may(roles, Duty.RECORD_REFUND) or not isinstance(message, Message):
        await query.answer(_plain(t(NOT_FINANCE)), show_alert=True)
        return
    try:
        entry = await owed_entry(uow, callback_data.value)
    except (RecordNotFound, OrderNotFound):
        await query.answer(_plain(t(N_("This refund or payout no longer exists."))), show_alert=True)
        return
    record = entry.record
    if not record.is_open:
        await query.answer(_plain(await already_paid_text(uow, record, t, timezone)), show_alert=True)
        return
    await state.set_state(FinanceDialog.reference)
    # A card of its own loses its button once paid; a /refunds page keeps the others' buttons.
    single = callback_data.act is OwedStep.PAY
    await state.update_data(
        owed_record_id=record.id,
        owed_card_chat_id=message.chat.id if single else None,
        owed_card_message_id=message.message_id if single else None,
    )
    await query.answer()
    what = t(KIND_NAMES[record.kind])
    if record.payment_source == "telegram":
        ask = t(
            N_(
                "{what} of {amount} for order {id}: reply with the provider's refund reference "
                "(the Telegram Payments charge was {charge})."
            )
        )
    else:
        ask = t(N_("{what} of {amount} for order {id}: reply with the payment's reference from the bank."))
    prompt = ask.format(
        what=what,
        amount=money(record.amount, record.currency),
        id=esc(entry.order.display_id),
        charge=esc(record.provider_payment_charge_id or ""),
    )
    stop = t(N_("Send /cancel to stop."))
    await message.answer(
        f"{card_of_record(record, entry.order, t, timezone)}\n\n{prompt}\n{stop}", reply_markup=ForceReply()
    )


async def _typed(
    message: Message,
    state: FSMContext,
    t: Translate,
    *,
    empty: str | None = None,
    limit: int | None = None,
    too_long: str = "",
) -> DialogStep | None:
    """A finance dialog's reply, stripped; a command stops the dialog."""
    return await dialog_step(
        message,
        state,
        t=t,
        stop=STOPPED,
        strip=True,
        empty=empty,
        limit=limit,
        too_long=too_long,
        reply=True,
        again=ForceReply(),
    )


@router.message(FinanceDialog.reference, F.text)
async def on_reference(
    message: Message,
    state: FSMContext,
    uow: FinanceUnitOfWork,
    t: Translate,
) -> None:
    """Takes the reference, then asks when the money went out."""
    wrong = N_("The reference must be 1 to {limit} characters; reply with the reference again.")
    typed = await _typed(message, state, t, empty=wrong, limit=REFERENCE_MAX, too_long=wrong)
    if typed is None:
        return
    data = typed.data
    await state.update_data(owed_reference=typed.text)
    await state.set_state(FinanceDialog.paid_at)
    await message.reply(
        t(
            N_(
                "When was it paid? Press the button if just now, or reply to this message with the time "
                "as YYYY-MM-DD HH:MM or HH:MM (today), company time."
            )
        ),
        reply_markup=paid_now_keyboard(int(data["owed_record_id"]), t),
    )


def parse_paid_at(text: str, now: datetime, timezone: str) -> datetime | None:
    """Reads YYYY-MM-DD HH:MM or HH:MM (today) in the company's time zone; None if it is neither."""
    found = TIME_FORMAT.match(" ".join(text.split()))
    if found is None:
        return None
    zone = ZoneInfo(timezone)
    year, month, day, hour, minute = found.groups()
    today = now.astimezone(zone).date()
    try:
        return datetime(
            int(year) if year else today.year,
            int(month) if month else today.month,
            int(day) if day else today.day,
            int(hour),
            int(minute),
            tzinfo=zone,
        )
    except ValueError:
        return None


@router.message(FinanceDialog.paid_at, F.text)
async def on_paid_at(
    message: Message,
    state: FSMContext,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    clock: Clock,
    timezone: str,
    sla: SlaContext,
    event_handlers: EventHandlers,
    t: Translate,
) -> None:
    """Takes the typed time and records the payment."""
    typed = await _typed(message, state, t)
    if typed is None:
        return
    text = typed.text
    paid_at = parse_paid_at(text, clock.now(), timezone)
    if paid_at is None:
        await message.reply(
            t(
                N_("“{text}” is not a time I can read; reply with YYYY-MM-DD HH:MM, e.g. 2026-03-18 14:30.")
            ).format(text=text[:40])
        )
        return
    reply = await _finish(typed.user, state, uow, roles, paid_at, clock, timezone, sla, event_handlers, t)
    await message.reply(reply)
    await _close_card(message, state, uow, t, timezone)


@router.callback_query(OwedAction.filter(F.act == OwedStep.NOW))
async def on_paid_now(
    query: CallbackQuery,
    callback_data: OwedAction,
    state: FSMContext,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    clock: Clock,
    timezone: str,
    sla: SlaContext,
    event_handlers: EventHandlers,
    t: Translate,
) -> None:
    """Paid just now: records the payment at this moment (only for the one who typed the reference)."""
    message = query.message
    data = await state.get_data()
    mine = (
        await state.get_state() == FinanceDialog.paid_at.state
        and data.get("owed_record_id") == callback_data.value
    )
    if not mine or not isinstance(message, Message):
        await query.answer(_plain(t(N_("Press Record as paid on the card first."))), show_alert=True)
        return
    reply = await _finish(query.from_user, state, uow, roles, None, clock, timezone, sla, event_handlers, t)
    await query.answer()
    await message.edit_text(reply)
    await _close_card(message, state, uow, t, timezone)


async def _finish(
    user: User,
    state: FSMContext,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    paid_at: datetime | None,
    clock: Clock,
    timezone: str,
    sla: SlaContext,
    handlers: EventHandlers,
    t: Translate,
) -> str:
    """Records the payment; returns what to tell the one who recorded it (HTML)."""
    data = await state.get_data()
    record_id = int(data["owed_record_id"])
    try:
        await uow.reviews.remember_name(user.id, staff_name(user), clock.now())
        record = await record_paid(
            uow,
            record_id,
            actor=Actor(user.id, roles),
            reference=str(data.get("owed_reference", "")),
            paid_at=paid_at,
            clock=clock,
            handlers=handlers,
            sla=sla,
        )
    except NotPermitted:
        await state.clear()
        return t(NOT_FINANCE)
    except AlreadyPaid as lost:
        await state.clear()
        return esc(await already_paid_text(uow, lost.record, t, timezone))
    except OwedRefused as refused:
        return _refusal(refused, t)
    except ConcurrentModification:
        await uow.rollback()
        await state.clear()
        return t(N_("Someone changed this order at the same moment; press Record as paid again."))
    except (RecordNotFound, OrderNotFound):
        await state.clear()
        return t(N_("This refund or payout no longer exists."))
    await state.set_state(None)
    await state.update_data(owed_record_id=None, owed_reference=None, owed_paid_id=record.id)
    return t(
        N_(
            "✅ {what} of {amount} recorded as paid by {name} at {time}, reference {reference}. "
            "The customer is told."
        )
    ).format(
        what=t(KIND_NAMES[record.kind]),
        amount=money(record.amount, record.currency),
        name=staff_name(user),
        time=local_time(record.paid_at or clock.now(), timezone),
        reference=record.paid_reference or "",
    )


def _refusal(refused: OwedRefused, t: Translate) -> str:
    """Says which value to give again and why."""
    if refused.field == "paid_at" and "future" in refused.problem:
        return t(N_("That time is still to come; reply with the time the money went out."))
    if refused.field == "paid_at":
        return t(N_("That time is before the money was owed; reply with the time the money went out."))
    return t(N_("The reference is missing; press Record as paid again and give it."))


async def _close_card(
    message: Message, state: FSMContext, uow: FinanceUnitOfWork, t: Translate, timezone: str
) -> None:
    """Shows the card as paid, without its button (a page of /refunds keeps the others' buttons)."""
    data = await state.get_data()
    chat_id, message_id = data.get("owed_card_chat_id"), data.get("owed_card_message_id")
    paid_id = data.get("owed_paid_id")
    if await state.get_state() is not None or paid_id is None:
        # Still asking (the time was refused), or nothing was paid: the card stays as it is.
        return
    await state.clear()
    if chat_id is None or message_id is None or message.bot is None:
        return
    entry = await owed_entry(uow, int(paid_id))
    record = entry.record
    paid = t(N_("✅ Paid: reference {reference}, recorded by {name} at {time}.")).format(
        reference=record.paid_reference or "",
        name=await _who(uow, record.paid_by, t),
        time=local_time(record.recorded_at or record.paid_at or entry.record.created_at, timezone),
    )
    text = f"{card_of_record(record, entry.order, t, timezone)}\n\n{paid}"
    try:
        await message.bot.edit_message_text(
            text=text, chat_id=chat_id, message_id=message_id, parse_mode="HTML", reply_markup=None
        )
    except TelegramBadRequest as error:
        logger.info("Refund card kept as it was: %s", error.message)
