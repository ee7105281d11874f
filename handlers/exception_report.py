"""/exceptions (the monthly exception report on demand) and /improve (an improvement action against a cause).

Handler data this router needs besides `uow`, `roles`, `i18n` and `locale`: `exception_report_setup`
(application.exception_report.ExceptionReportSetup) and `team_chats` (department value -> chat id).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InaccessibleMessage, InlineKeyboardMarkup, Message, User
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from application.exception_report import (
    ExceptionReportSetup,
    find_causes,
    record_improvement,
    send_exception_report,
)
from application.ports import UnitOfWork
from domain.exception_report import ACTION_MAX, ActionTextError, Cause
from domain.kpi import Month, MonthError, requested_month
from domain.orders.responsibilities import Duty, may, roles_for
from domain.orders.status import Role
from domain.sla.alerts import departments_of_chat
from handlers.common import CommandSpec
from presentation.callbacks import ImproveCause
from presentation.exception_improve import (
    ASK_ACTION,
    ASK_CAUSE,
    ASK_TYPE,
    PENDING,
    RECORDED,
    cause_keyboard,
    type_keyboard,
)
from presentation.exception_labels import cause_label, type_name
from presentation.keyboards import N_
from presentation.render import Translate, esc, one_line, translator

router = Router(name="exception_report")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "exceptions",
        N_("Send the monthly exception report: /exceptions [YYYY-MM]"),
        roles_for(Duty.SEE_EXCEPTION_REPORT),
    ),
    CommandSpec(
        "improve",
        N_("Record an improvement action against a cause: /improve [cause] [action]"),
        roles_for(Duty.RECORD_IMPROVEMENT),
    ),
)

# The FSM data keys of a pending /improve: the action typed with the command, or the cause chosen.
PENDING_ACTION = "improve_action"
PENDING_TYPE = "improve_type"
PENDING_CAUSE = "improve_cause"
NOT_FOR_YOU = N_("/improve is for the order desk and its head.")


class ImproveDialog(StatesGroup):
    """/improve waiting for the action's text, once its cause was chosen."""

    action = State()


@router.message(Command("exceptions"))
async def request_exception_report(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    exception_report_setup: ExceptionReportSetup,
    team_chats: Mapping[str, int],
    locale: str,
) -> None:
    """Queues a month's exception report (last month's by default) to this chat: message, chart, XLSX."""
    if not may(roles, Duty.SEE_EXCEPTION_REPORT):
        await message.answer(_("/exceptions is for management, the order desk head and administrators."))
        return
    setup = exception_report_setup
    now = setup.clock.now()
    current = Month.of(now, setup.zone)
    text = (command.args or "").strip()
    try:
        month = requested_month(text, now, setup.zone, default=current.previous())
    except MonthError:
        await message.answer(_month_hint(text, current))
        return
    # A team chat reads its reports in its own language; a private chat in the user's.
    language = locale
    if departments_of_chat(message.chat.id, team_chats):
        language = await setup.chat_language(uow, message.chat.id) or setup.locale
    await send_exception_report(uow, setup, month, message.chat.id, language)
    await message.answer(
        _(
            "⚠️ The exception report of {month} is being prepared: the summary, the chart and the XLSX "
            "arrive here in a moment."
        ).format(month=month)
    )


def _month_hint(text: str, current: Month) -> str:
    """Says what is wrong with the month asked for."""
    try:
        month = Month.parse(text)
    except MonthError:
        return _("Write the month as YYYY-MM, e.g. /exceptions {month}.").format(month=current.previous())
    return _("{month} has not begun yet; ask for {current} or an earlier month.").format(
        month=month, current=current
    )


@router.message(Command("improve"))
async def improve(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    exception_report_setup: ExceptionReportSetup,
    state: FSMContext,
    i18n: I18n,
    locale: str,
) -> None:
    """Records an action against the cause named, or asks for the cause with buttons (and then the text)."""
    t = translator(i18n, locale)
    if not may(roles, Duty.RECORD_IMPROVEMENT):
        await message.answer(t(NOT_FOR_YOU))
        return
    setup = exception_report_setup
    args = (command.args or "").strip()
    word, _space, rest = args.partition(" ")
    causes = find_causes(setup.causes, word) if word else []
    await state.clear()
    if len(causes) == 1 and rest.strip():
        await _record(message, uow, setup, roles, causes[0], rest, message.from_user, t)
        return
    if len(causes) == 1:
        await _ask_action(state, causes[0])
        await message.answer(t(ASK_ACTION).format(cause=cause_label(causes[0], t), limit=ACTION_MAX))
        return
    # Not a cause (or one of several types'): the words are the action, the cause comes from the buttons.
    action = rest.strip() if causes else args
    if action:
        await state.update_data({PENDING_ACTION: action})
    if causes:
        text = t(ASK_CAUSE).format(type=" · ".join(type_name(cause.type, t) for cause in causes))
        await message.answer(text, reply_markup=cause_keyboard(causes, t, with_type=True))
        return
    lines = [t(ASK_TYPE)]
    if action:
        lines.append(t(PENDING).format(action=one_line(action, 300)))
    await message.answer("\n".join(lines), reply_markup=type_keyboard(setup.causes, t))


async def _ask_action(state: FSMContext, cause: Cause) -> None:
    """Waits for the action's text against the cause."""
    await state.set_state(ImproveDialog.action)
    await state.update_data({PENDING_TYPE: cause.type, PENDING_CAUSE: cause.name})


@router.callback_query(ImproveCause.filter())
async def choose_cause(
    query: CallbackQuery,
    callback_data: ImproveCause,
    uow: UnitOfWork,
    roles: frozenset[Role],
    exception_report_setup: ExceptionReportSetup,
    state: FSMContext,
    i18n: I18n,
    locale: str,
) -> None:
    """A type shows its causes; a cause records the action typed with /improve, or asks for its text."""
    setup = exception_report_setup
    t = translator(i18n, locale)
    if not may(roles, Duty.RECORD_IMPROVEMENT):
        await query.answer(t(NOT_FOR_YOU), show_alert=True)
        return
    names = setup.causes.get(callback_data.type)
    if names is None or (callback_data.cause and callback_data.cause not in names):
        await query.answer(
            _("That cause is not on the cause list any more; send /improve again."), show_alert=True
        )
        return
    await query.answer()
    if not callback_data.cause:
        causes = [Cause(callback_data.type, name) for name in names]
        text = t(ASK_CAUSE).format(type=type_name(callback_data.type, t))
        await _edit(query.message, text, cause_keyboard(causes, t))
        return
    cause = Cause(callback_data.type, callback_data.cause)
    pending = (await state.get_data()).get(PENDING_ACTION)
    message = query.message if isinstance(query.message, Message) else None
    if pending:
        if await _record(message, uow, setup, roles, cause, str(pending), query.from_user, t):
            await state.clear()
        return
    await _ask_action(state, cause)
    await _edit(query.message, t(ASK_ACTION).format(cause=cause_label(cause, t), limit=ACTION_MAX), None)


@router.message(ImproveDialog.action, F.text, ~F.text.startswith("/"))
async def action_text(
    message: Message,
    uow: UnitOfWork,
    roles: frozenset[Role],
    exception_report_setup: ExceptionReportSetup,
    state: FSMContext,
    i18n: I18n,
    locale: str,
) -> None:
    """The action's text, once its cause was chosen."""
    data = await state.get_data()
    cause = Cause(str(data.get(PENDING_TYPE, "")), str(data.get(PENDING_CAUSE, "")))
    t = translator(i18n, locale)
    setup = exception_report_setup
    if await _record(message, uow, setup, roles, cause, message.text or "", message.from_user, t):
        await state.clear()


async def _record(
    message: Message | None,
    uow: UnitOfWork,
    setup: ExceptionReportSetup,
    roles: frozenset[Role],
    cause: Cause,
    action: str,
    user: User | None,
    t: Translate,
) -> bool:
    """Records the action and confirms it; a wrong text gets what to fix. True once recorded."""
    if message is None or user is None:
        return False
    if not may(roles, Duty.RECORD_IMPROVEMENT):
        await message.answer(t(NOT_FOR_YOU))
        return False
    try:
        recorded = await record_improvement(
            uow, setup, roles, cause, action, by=user.id, by_name=user.full_name
        )
    except ActionTextError as error:
        if error.length == 0:
            await message.answer(_("Write what will be done against the cause, in one message."))
        else:
            await message.answer(
                _(
                    "The action is {length} characters long; shorten it to at most {limit} and send it again."
                ).format(length=error.length, limit=ACTION_MAX)
            )
        return False
    await uow.reviews.remember_name(user.id, user.full_name, setup.clock.now())
    await message.answer(t(RECORDED).format(cause=cause_label(cause, t), action=esc(recorded.action)))
    return True


async def _edit(
    message: Message | InaccessibleMessage | None, text: str, markup: InlineKeyboardMarkup | None
) -> None:
    """Shows the next question on the button's message."""
    if isinstance(message, Message):
        await message.edit_text(text, reply_markup=markup)
