"""Exception cases in the chats (issue 14, R-6, R-6.3, R-6.5): marking, and the buttons of a case's alerts.

Staff mark an exception from an order card (*Mark exception*) or with `/exception <number>`: a
type, a cause, a note. The case alert's buttons let logistics record a delay's cause and new time
or what customs needs, customer service send (or edit) the drafted message to the customer and
offer compensation for a long delay, logistics record a customs release, return or destruction,
and the departments close the case. The customer's buttons accept an offer, start a customs
document upload and say with one tap whether they are satisfied; the order desk completes the
record or cancels as the company. A button that needs a value (a time, a text, an amount, a
document) sets an ExceptionDialog state (handlers/exception_support.py) and
handlers/exception_dialogs.py takes the message that follows.

Every press reloads the case and the order and checks the presser's roles in the database; the
use cases (application/exceptions.py, exception_delays.py, customs_holds.py) refuse what the
roles or the status do not allow.
Handler data: `exception_setup` (application.exceptions.ExceptionSetup) and `i18n`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from application.cancellation import CancellationSetup, CancellationUnitOfWork, cancel_by_company
from application.exception_delays import accept_compensation
from application.exceptions import (
    CaseNotFound,
    ExceptionSetup,
    answer_satisfaction,
    close_case,
    complete_record,
    load_case,
    raise_exception,
    tell_customer,
)
from application.ports import UnitOfWork
from application.services import Actor
from domain.cancellation import CancellationError
from domain.errors import ConcurrentModification, DomainError, IllegalTransition, NotPermitted
from domain.exceptions.case import (
    CANCELLING,
    NOTE_MAX,
    CaseClosed,
    CaseResult,
    CompensationKind,
    ExceptionCase,
    prefilled_record,
)
from domain.exceptions.causes import MARKABLE, cause_catalog
from domain.orders.model import Order
from domain.orders.responsibilities import Duty, may, roles_for
from domain.orders.status import Action, ExceptionType, OrderStatus, Role
from handlers.common import CommandSpec, order_or_none
from handlers.exception_support import (
    ExceptionDialog,
    exceptions_of,
    explain,
    remember,
    timezone_of,
    typed_text,
)
from presentation import exception_texts as T
from presentation.callbacks import CaseAction, CaseStep, MarkException, MarkStep
from presentation.exception_texts import (
    case_cause_keyboard,
    cause_keyboard,
    delay_draft,
    needs_draft,
    type_keyboard,
    type_label,
)
from presentation.execution_texts import STATUS_NAMES
from presentation.keyboards import N_
from presentation.render import esc, local_time, translator_or_default

router = Router(name="exceptions")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "exception",
        N_("Mark an exception on an order: /exception <number>"),
        roles_for(Action.RAISE_EXCEPTION),
    ),
)
RESULTS = {
    CaseStep.RELEASE: CaseResult.RELEASED,
    CaseStep.RETURN: CaseResult.RETURNED,
    CaseStep.DESTROY: CaseResult.DESTROYED,
    CaseStep.RESOLVE: CaseResult.RESUMED,
}


async def _name(uow: UnitOfWork, user_id: int | None) -> str:
    """A staff member's name as they last acted, else a dash."""
    if user_id is None:
        return "—"
    return await uow.reviews.name_of(user_id) or "—"


async def _case_closed(
    query: CallbackQuery, uow: UnitOfWork, case: ExceptionCase, setup: ExceptionSetup
) -> None:
    """Tells a late presser who closed the case and when."""
    when = local_time(case.closed_at, timezone_of(setup)) if case.closed_at else "—"
    await query.answer(
        _(T.CASE_CLOSED).format(name=await _name(uow, case.closed_by), time=when), show_alert=True
    )


async def _start_marking(target: Message, order: Order, roles: frozenset[Role]) -> None:
    """Offers the exception types for an order."""
    await target.answer(
        _(T.CHOOSE_TYPE).format(id=esc(order.display_id)), reply_markup=type_keyboard(order.id, _)
    )


@router.message(Command("exception"))
async def on_command(
    message: Message, command: CommandObject, uow: UnitOfWork, roles: frozenset[Role]
) -> None:
    """`/exception <number>`: the types to choose from."""
    if not may(roles, Action.RAISE_EXCEPTION):
        await message.answer(_(T.NOT_ALLOWED))
        return
    key = (command.args or "").strip()
    if not key:
        await message.answer(esc(_(T.USAGE)))
        return
    order = await uow.orders.find(key)
    if order is None:
        await message.answer(_(T.NO_ORDER).format(key=esc(key)))
        return
    await _start_marking(message, order, roles)


@router.callback_query(MarkException.filter())
async def on_mark(
    query: CallbackQuery,
    callback_data: MarkException,
    uow: UnitOfWork,
    roles: frozenset[Role],
    state: FSMContext,
) -> None:
    """The Mark exception button, then the type, then the cause; the note comes as the next message."""
    message = query.message
    if not may(roles, Action.RAISE_EXCEPTION) or not isinstance(message, Message):
        await query.answer(_(T.NOT_ALLOWED), show_alert=True)
        return
    order = await order_or_none(uow, callback_data.order_id)
    markable = {kind.value for kind in MARKABLE}
    if order is None or (callback_data.step is not MarkStep.START and callback_data.kind not in markable):
        await query.answer(_(T.CASE_GONE), show_alert=True)
        return
    shown = esc(order.display_id)
    if callback_data.step is MarkStep.START:
        await query.answer()
        await _start_marking(message, order, roles)
        return
    kind = ExceptionType(callback_data.kind)
    if callback_data.step is MarkStep.TYPE:
        await query.answer()
        text = _(T.CHOOSE_CAUSE).format(type=esc(type_label(kind, _)), id=shown)
        await message.edit_text(text, reply_markup=cause_keyboard(order.id, kind, _))
        return
    causes = cause_catalog().causes_of(kind)
    cause = causes[callback_data.cause] if 0 <= callback_data.cause < len(causes) else None
    await state.set_state(ExceptionDialog.note)
    await state.update_data(order_id=order.id, kind=kind.value, cause=cause)
    await query.answer()
    await message.answer(_(T.ASK_NOTE).format(type=esc(type_label(kind, _)), id=shown))


@router.message(ExceptionDialog.note, F.text)
async def on_note(
    message: Message,
    uow: UnitOfWork,
    state: FSMContext,
    exception_setup: ExceptionSetup,
    roles: frozenset[Role],
) -> None:
    """The note of a marking: the exception is raised."""
    # "/skip" is shorter than any limit, so checking the text as typed checks the note too.
    typed = await typed_text(message, uow, state, exception_setup, roles, limit=NOTE_MAX)
    if typed is None:
        return
    note = "" if typed.text.strip() == "/skip" else typed.text
    data, user = typed.data, typed.user
    kind = ExceptionType(data["kind"])
    try:
        case = await raise_exception(
            exceptions_of(uow),
            data["order_id"],
            actor_id=user.id,
            kind=kind,
            cause=data.get("cause"),
            note=note,
            setup=exception_setup,
        )
    except (DomainError, ConcurrentModification) as error:
        await state.clear()
        if isinstance(error, IllegalTransition):
            order = await uow.orders.get(data["order_id"])
            await message.answer(_(T.NOT_NOW).format(status=_(STATUS_NAMES[order.status])))
            return
        await explain(message, uow, error, exception_setup)
        return
    await state.clear()
    order = await uow.orders.get(case.order_id)
    await message.answer(_(T.MARKED).format(id=esc(order.display_id), type=esc(type_label(kind, _))))


@router.callback_query(CaseAction.filter())
async def on_case(
    query: CallbackQuery,
    callback_data: CaseAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    state: FSMContext,
    exception_setup: ExceptionSetup,
    i18n: I18n,
) -> None:
    """A button on a case's message: checked, then acted on or asked for the value it needs."""
    message, user, step = query.message, query.from_user, callback_data.step
    cases = exceptions_of(uow)
    await remember(uow, user, roles, exception_setup)
    try:
        case = await load_case(cases, callback_data.case_id)
    except CaseNotFound:
        await query.answer(_(T.CASE_GONE), show_alert=True)
        return
    order = await uow.orders.get(case.order_id)
    shown = esc(order.display_id)
    assert case.id is not None
    base: dict[str, Any] = {"case_id": case.id}
    try:
        match step:
            case CaseStep.SATISFIED | CaseStep.UNSATISFIED:
                done = await answer_satisfaction(
                    cases,
                    case.id,
                    customer_id=user.id,
                    satisfied=step is CaseStep.SATISFIED,
                    setup=exception_setup,
                )
                await query.answer(_(T.THANKS_ANSWER) if done else _(T.ANSWERED_ALREADY))
                return
            case CaseStep.ACCEPT:
                done = await accept_compensation(cases, case.id, customer_id=user.id, setup=exception_setup)
                await query.answer(
                    _(T.ACCEPTED).format(id=shown) if done else _(T.ANSWERED_ALREADY), show_alert=True
                )
                return
            case CaseStep.UPLOAD:
                if order.customer.telegram_user_id != user.id:
                    await query.answer(_(T.NOT_YOURS), show_alert=True)
                    return
                await state.set_state(ExceptionDialog.document)
                await state.update_data(order_id=order.id)
                await query.answer()
                if isinstance(message, Message):
                    await message.answer(_(T.ASK_DOCUMENT).format(id=shown))
                return
        if step is CaseStep.CANCEL:
            await _cancel_by_company(query, uow, roles, case, order, exception_setup)
            return
        if step in (CaseStep.RECORD, CaseStep.RECORD_EDIT):
            if not await _allowed(query, roles, Duty.RECORD_EXCEPTION):
                return
            if case.recorded_at is not None:
                await query.answer(_(T.RECORDED_ALREADY).format(id=shown), show_alert=True)
                return
            if order.status is OrderStatus.EXCEPTION:
                await query.answer(_(T.RECORD_AFTER_CANCEL), show_alert=True)
                return
            if step is CaseStep.RECORD:
                await complete_record(cases, case.id, actor_id=user.id, text=None, setup=exception_setup)
                await query.answer(_(T.RECORDED).format(id=shown), show_alert=True)
                return
            await _ask(query, state, ExceptionDialog.record, base, _(T.ASK_RECORD).format(id=shown))
            return
        if not case.open:
            await _case_closed(query, uow, case, exception_setup)
            return
        match step:
            case CaseStep.CAUSE if callback_data.arg < 0:
                if not await _allowed(query, roles, Duty.FIND_DELAY_CAUSE):
                    return
                await query.answer()
                if isinstance(message, Message):
                    await message.answer(
                        _(T.CHOOSE_CAUSE).format(type=esc(type_label(case.type, _)), id=shown),
                        reply_markup=case_cause_keyboard(case.id, case.type, _),
                    )
            case CaseStep.CAUSE | CaseStep.OFFER if not _in_range(step, callback_data.arg, case):
                await query.answer(_(T.CASE_GONE), show_alert=True)
            case CaseStep.CAUSE:
                if not await _allowed(query, roles, Duty.FIND_DELAY_CAUSE):
                    return
                cause = cause_catalog().causes_of(case.type)[callback_data.arg]
                await _ask(query, state, ExceptionDialog.eta, {**base, "cause": cause}, _(T.ASK_ETA))
            case CaseStep.NEEDS:
                if not await _allowed(query, roles, Duty.FIND_DELAY_CAUSE):
                    return
                await _ask(query, state, ExceptionDialog.needs, base, _(T.ASK_NEEDS).format(id=shown))
            case CaseStep.SEND:
                customer_t = translator_or_default(i18n, order.customer.language)
                text = _draft(case, order, customer_t, exception_setup)
                await tell_customer(cases, case.id, actor_id=user.id, text=text, setup=exception_setup)
                await query.answer(_(T.TOLD_STAFF).format(id=shown), show_alert=True)
            case CaseStep.EDIT:
                if not await _allowed(query, roles, Duty.TELL_CUSTOMER_OF_EXCEPTION):
                    return
                await _ask(query, state, ExceptionDialog.draft, base, _(T.ASK_EDIT).format(id=shown))
            case CaseStep.OFFER:
                if not await _allowed(query, roles, Duty.TELL_CUSTOMER_OF_EXCEPTION):
                    return
                kind = list(CompensationKind)[callback_data.arg]
                limit = (order.amount * exception_setup.catalog.limit_percent(roles) / 100).quantize(
                    Decimal("0.01")
                )
                prompt = _(T.ASK_AMOUNT).format(
                    kind=_(T.COMPENSATION_LABELS[kind]), id=shown, currency=esc(order.currency), limit=limit
                )
                await _ask(query, state, ExceptionDialog.amount, {**base, "kind": kind.value}, prompt)
            case _ if step in RESULTS:
                result = RESULTS[step]
                await close_case(cases, case.id, actor_id=user.id, result=result, setup=exception_setup)
                await query.answer(
                    _(T.CLOSED_REPLY).format(id=shown, result=_(T.RESULT_LABELS[result])), show_alert=True
                )
            case _:
                await query.answer()
    except CaseClosed:
        fresh = await load_case(exceptions_of(uow), case.id)
        await _case_closed(query, uow, fresh, exception_setup)
    except IllegalTransition:
        await query.answer(_(T.NOT_NOW).format(status=_(STATUS_NAMES[order.status])), show_alert=True)
    except (DomainError, ConcurrentModification) as error:
        await explain(query, uow, error, exception_setup)


async def _cancel_by_company(
    query: CallbackQuery,
    uow: UnitOfWork,
    roles: frozenset[Role],
    case: ExceptionCase,
    order: Order,
    setup: ExceptionSetup,
) -> None:
    """The desk cancels an order whose goods customs returned or destroyed (issue 13's company path)."""
    if case.result not in CANCELLING or order.status is not OrderStatus.EXCEPTION:
        await query.answer(_(T.CANCEL_REFUSED), show_alert=True)
        return
    assert case.id is not None and case.result is not None
    reason = _(T.RESULT_LABELS[case.result])
    cancellations: CancellationUnitOfWork = uow  # type: ignore[assignment]
    actor = Actor(query.from_user.id, roles)
    try:
        await cancel_by_company(
            cancellations,
            order.id,
            actor,
            f"{reason}: {case.note}" if case.note else reason,
            CancellationSetup(setup.clock, setup.handlers, setup.sla),
            other_service=case.result is CaseResult.RETURNED,
        )
    except NotPermitted:
        await query.answer(_(T.NOT_ALLOWED), show_alert=True)
        return
    except (CancellationError, ConcurrentModification):
        await query.answer(_(T.CANCEL_REFUSED), show_alert=True)
        return
    shown = esc(order.display_id)
    await query.answer(_(T.CANCEL_STARTED).format(id=shown), show_alert=True)
    if isinstance(query.message, Message):
        text, markup = T.record_card(case.id, order, case.result.value, prefilled_record(case), _)
        await query.message.answer(text, reply_markup=markup)


async def _ask(
    query: CallbackQuery, state: FSMContext, asked: State, data: dict[str, Any], prompt: str
) -> None:
    """Waits for the presser's next message as the value a button needs."""
    await state.set_state(asked)
    await state.update_data(data)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(prompt)


async def _allowed(query: CallbackQuery, roles: frozenset[Role], duty: Duty) -> bool:
    """Whether the presser's roles hold the button's duty; a press without it is told so."""
    if may(roles, duty):
        return True
    await query.answer(_(T.NOT_ALLOWED), show_alert=True)
    return False


def _in_range(step: CaseStep, arg: int, case: ExceptionCase) -> bool:
    """Whether a button's place in a list names an entry (a cause of the case's type, an offer kind)."""
    if step is CaseStep.CAUSE:
        return 0 <= arg < len(cause_catalog().causes_of(case.type))
    return 0 <= arg < len(CompensationKind)


def _draft(case: ExceptionCase, order: Order, customer_t: T.Translate, setup: ExceptionSetup) -> str:
    """The message the bot drafted for the customer from the case."""
    if case.type is ExceptionType.CUSTOMS_HOLD:
        return needs_draft(order, case.customs_needs or case.note, customer_t)
    if case.cause is None or case.new_eta is None:
        raise DomainError(_(T.ASK_ETA))
    return delay_draft(order, case.cause, case.new_eta, customer_t, timezone_of(setup))
