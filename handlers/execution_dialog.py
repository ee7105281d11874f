"""The values staff type for a warehouse or logistics step, one question at a time (R-4).

Each step is a row of FIELDS: the questions in order, how each answer is checked, and the use case
the last answer runs. One message handler answers every question, so a new step is a new row.
Every value is checked as it comes, with the reason and an example when it is wrong; the use case
re-checks roles and status when it runs (handlers/execution.py explains a lost race).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    User,
)
from aiogram.utils.i18n import gettext as _

from application.customs_holds import hold_at_customs
from application.exceptions import ExceptionSettings, ExceptionSetup
from application.execution import (
    PICK_MISMATCHES,
    ExecutionSetup,
    arrive,
    book,
    clear_customs,
    deliver,
    pick,
    record_pick_mismatch,
    start_last_mile,
)
from application.ports import UnitOfWork
from application.services import Actor
from domain.errors import ConcurrentModification, IllegalTransition, NotPermitted
from domain.execution import (
    AlreadyDone,
    ExecutionError,
    check_picked,
    clean_text,
    fragile_keys,
    future_time,
    normalize_carrier,
    normalize_courier_phone,
    normalize_declaration,
    normalize_waybill,
    parse_picked,
    step_statuses,
    who_handled,
)
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus, Role
from handlers.exception_support import exceptions_of
from presentation.cancellation_texts import on_hold
from presentation.execution_cards import STEP_ACTIONS, STEP_LABELS, CarrierChoice, ExecAction, ExecStep
from presentation.execution_texts import PROMPTS, error_text, handled_by, not_now, staff_name
from presentation.keyboards import N_
from presentation.render import esc, local_time

logger = logging.getLogger(__name__)

FRAGILE_CONFIRM = N_("✅ Packed separately, labelled fragile")

router = Router(name="execution_dialog")


class ExecutionDialog(StatesGroup):
    """Staff typing the values of a step, one at a time."""

    picked = State()
    fragile = State()
    carrier = State()
    waybill = State()
    etd = State()
    declaration = State()
    destination = State()
    clearance = State()
    hold_reason = State()
    courier_name = State()
    courier_phone = State()
    eta = State()
    signed_by = State()
    proof_photo = State()


# Checks one typed answer against the dialog so far and the order; raises ExecutionError if wrong.
Check = Callable[[str, Mapping[str, Any], Order, ExecutionSetup], Any]
# Runs the step's use case with every answer of the dialog.
Run = Callable[[UnitOfWork, Mapping[str, Any], Actor, ExecutionSetup], Awaitable[Order]]


@dataclass(frozen=True)
class Question:
    """One value of a step: its dialog state, the key it is kept under and how it is checked."""

    state: State
    check: Check


@dataclass(frozen=True)
class StepDialog:
    """The questions of a step, in order, and the use case the last answer runs."""

    questions: tuple[Question, ...]
    run: Run


def _raw(text: str, data: Mapping[str, Any], order: Order, setup: ExecutionSetup) -> str:
    """Keeps the text as typed; the use case checks it."""
    return text


def _picked(text: str, data: Mapping[str, Any], order: Order, setup: ExecutionSetup) -> dict[str, int]:
    """Reads the counted SKUs and quantities and checks them against the order."""
    counted = parse_picked(text)
    check_picked(order, counted)
    return counted


def _carrier(text: str, data: Mapping[str, Any], order: Order, setup: ExecutionSetup) -> str:
    """Reads a typed carrier name or code."""
    return normalize_carrier(text)


def _waybill(text: str, data: Mapping[str, Any], order: Order, setup: ExecutionSetup) -> str:
    """Checks the waybill against the chosen carrier's format."""
    return normalize_waybill(data["carrier"], text)


def _future(text: str, data: Mapping[str, Any], order: Order, setup: ExecutionSetup) -> str:
    """Checks that an estimate lies ahead; kept as ISO text in the dialog's data."""
    return future_time(text, setup.timezone, setup.clock.now()).isoformat()


def _declaration(text: str, data: Mapping[str, Any], order: Order, setup: ExecutionSetup) -> str:
    """Reads the customs declaration number as filed."""
    return normalize_declaration(text)


def _courier(text: str, data: Mapping[str, Any], order: Order, setup: ExecutionSetup) -> str:
    """Reads the courier's name."""
    return clean_text(text, "courier.invalid")


def _courier_phone(text: str, data: Mapping[str, Any], order: Order, setup: ExecutionSetup) -> str:
    """Reads the courier's phone in the destination country."""
    return normalize_courier_phone(text, order.address.country)


def _signed_by(text: str, data: Mapping[str, Any], order: Order, setup: ExecutionSetup) -> str:
    """Reads who signed for the goods."""
    return clean_text(text, "signed_by.invalid")


async def _pick(uow: UnitOfWork, data: Mapping[str, Any], actor: Actor, setup: ExecutionSetup) -> Order:
    """Records the checked count."""
    fragile = bool(data.get("fragile"))
    return await pick(uow, data["order_id"], actor, data["picked"], setup, fragile_confirmed=fragile)


def _keywords(
    use_case: Callable[..., Awaitable[Order]],
    *keys: str,
    times: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
) -> Run:
    """Runs a use case that takes the dialog's values as keywords (times are kept as ISO text)."""

    async def run(uow: UnitOfWork, data: Mapping[str, Any], actor: Actor, setup: ExecutionSetup) -> Order:
        """Records every value of the dialog."""
        values = {key: data[key] for key in keys}
        values |= {key: datetime.fromisoformat(data[key]) for key in times}
        values |= {key: data.get(key) for key in optional}
        return await use_case(uow, data["order_id"], actor, setup=setup, **values)

    return run


def _one_value(use_case: Callable[..., Awaitable[Order]], key: str) -> Run:
    """Runs a use case that takes one typed value."""

    async def run(uow: UnitOfWork, data: Mapping[str, Any], actor: Actor, setup: ExecutionSetup) -> Order:
        """Records the typed value."""
        return await use_case(uow, data["order_id"], actor, data[key], setup)

    return run


async def _hold(uow: UnitOfWork, data: Mapping[str, Any], actor: Actor, setup: ExecutionSetup) -> Order:
    """Customs holds the goods: the hold opens a customs-hold exception case (issue 14, R-6)."""
    if actor.user_id is None:
        raise NotPermitted(Action.HOLD_AT_CUSTOMS, actor.roles)
    cases = ExceptionSetup(setup.clock, setup.sla, setup.handlers, ExceptionSettings(timezone=setup.timezone))
    case = await hold_at_customs(
        exceptions_of(uow), data["order_id"], actor_id=actor.user_id, reason=data["hold_reason"], setup=cases
    )
    return await uow.orders.get(case.order_id)


D = ExecutionDialog
FIELDS: Mapping[ExecStep, StepDialog] = {
    # The fragile confirmation that follows is a button, asked only when the order has fragile goods.
    ExecStep.PICK: StepDialog((Question(D.picked, _picked), Question(D.fragile, _raw)), _pick),
    ExecStep.BOOK: StepDialog(
        (
            Question(D.carrier, _carrier),
            Question(D.waybill, _waybill),
            Question(D.etd, _future),
            Question(D.declaration, _declaration),
        ),
        _keywords(book, "carrier", "waybill", "declaration", times=("etd",)),
    ),
    ExecStep.ARRIVE: StepDialog((Question(D.destination, _raw),), _one_value(arrive, "destination")),
    ExecStep.CLEAR: StepDialog((Question(D.clearance, _raw),), _one_value(clear_customs, "clearance")),
    ExecStep.HOLD: StepDialog((Question(D.hold_reason, _raw),), _hold),
    ExecStep.LAST_MILE: StepDialog(
        (
            Question(D.courier_name, _courier),
            Question(D.courier_phone, _courier_phone),
            Question(D.eta, _future),
        ),
        _keywords(start_last_mile, "courier_name", "courier_phone", times=("eta",)),
    ),
    # The proof photo that follows is a photo or a button, not typed (handlers below).
    ExecStep.DELIVER: StepDialog(
        (Question(D.signed_by, _signed_by), Question(D.proof_photo, _raw)),
        _keywords(deliver, "signed_by", optional=("proof_photo",)),
    ),
}
del D
FIRST_STATES: Mapping[ExecStep, State] = {step: dialog.questions[0].state for step, dialog in FIELDS.items()}
TYPED_STATES = tuple(
    question.state
    for dialog in FIELDS.values()
    for question in dialog.questions
    if question.state not in (ExecutionDialog.proof_photo, ExecutionDialog.fragile)
)


def _key(state: State) -> str:
    """The data key an answer is kept under: the state's own name."""
    return state.state.split(":")[-1] if state.state else ""


def _position(state_name: str | None) -> tuple[ExecStep, int] | None:
    """Finds the step and question a dialog state belongs to."""
    for step, dialog in FIELDS.items():
        for index, question in enumerate(dialog.questions):
            if question.state.state == state_name:
                return step, index
    return None


async def ask(message: Message, state: FSMContext, next_state: State, **values: Any) -> None:
    """Keeps the accepted values and asks the next question."""
    if values:
        await state.update_data(**values)
    await state.set_state(next_state)
    await message.reply(_(PROMPTS[_key(next_state)]), reply_markup=ForceReply())


async def stopped(message: Message, state: FSMContext) -> bool:
    """Ends the dialog on a command (e.g. /cancel); nothing is recorded."""
    if (message.text or "").startswith("/"):
        await state.clear()
        await message.reply(_("Stopped; nothing was changed."))
        return True
    return False


async def finish(
    message: Message,
    user: User,
    roles: frozenset[Role],
    state: FSMContext,
    uow: UnitOfWork,
    setup: ExecutionSetup,
    data: Mapping[str, Any],
    use_case: Callable[[Actor], Awaitable[Order]],
) -> None:
    """Runs the step's use case and tells the result; a lost race is explained, not retried."""
    actor = Actor(user.id, roles)
    step = ExecStep(data["step"])
    try:
        await uow.reviews.remember_name(user.id, staff_name(user), setup.clock.now())
        order = await use_case(actor)
    except ExecutionError as error:
        # The value may have gone stale meanwhile (an estimate now in the past): ask for it again.
        await message.reply(error_text(error))
        return
    except NotPermitted:
        await state.clear()
        await message.reply(_("Your role does not allow this."))
        return
    except (AlreadyDone, ConcurrentModification, IllegalTransition):
        await state.clear()
        await uow.rollback()
        order = await uow.orders.get(data["order_id"])
        action = STEP_ACTIONS[step]
        held = on_hold(order, _, setup.timezone)
        if held is not None:
            # A cancellation won the race: who asked and when, and why nothing more happens.
            await message.reply(esc(held))
            return
        if order.status in step_statuses(order, action):
            await message.reply(_("Someone changed the order at the same moment; press the button again."))
            return
        event = who_handled(order, step_statuses(order, action))
        await message.reply(esc(await handled_by(uow, event, setup.timezone)) if event else not_now(order))
        return
    await state.clear()
    verdict = _("{step} — {name}, {time}").format(
        step=_(STEP_LABELS[step]),
        name=esc(staff_name(user)),
        time=local_time(setup.clock.now(), setup.timezone),
    )
    if order.status is OrderStatus.OUTBOUND:
        verdict += "\n" + _("The outbound note goes to logistics with the card.")
    await message.answer(verdict)
    if message.bot is None:
        return
    try:
        await message.bot.edit_message_reply_markup(
            chat_id=data["card_chat_id"], message_id=data["card_message_id"], reply_markup=None
        )
    except TelegramBadRequest as error:
        logger.info("Card of order %s kept its buttons: %s", order.id, error.message)


async def _answer(
    message: Message,
    user: User,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    setup: ExecutionSetup,
    value: Any,
) -> None:
    """Keeps an accepted answer; asks the next question, or runs the step after the last one."""
    position = _position(await state.get_state())
    if position is None:
        return
    step, index = position
    dialog = FIELDS[step]
    key = _key(dialog.questions[index].state)
    await state.update_data(**{key: value})
    if index + 1 < len(dialog.questions):
        following = dialog.questions[index + 1].state
        order_id = (await state.get_data())["order_id"]
        if following is ExecutionDialog.proof_photo:
            await _ask_for_proof(message, state, order_id)
            return
        if following is ExecutionDialog.fragile:
            fragile = fragile_keys(await uow.orders.get(order_id))
            if fragile:
                await _ask_fragile(message, state, order_id, fragile)
                return
        else:
            await ask(message, state, following)
            return
    data = await state.get_data()

    def use_case(actor: Actor) -> Awaitable[Order]:
        """Runs the step with every answer of the dialog."""
        return dialog.run(uow, data, actor, setup)

    await finish(message, user, roles, state, uow, setup, data, use_case)


async def _ask_fragile(message: Message, state: FSMContext, order_id: str, fragile: list[str]) -> None:
    """Asks the warehouse to confirm the fragile goods are packed separately and labelled (R-4.1)."""
    await state.set_state(ExecutionDialog.fragile)
    button = InlineKeyboardButton(
        text=_(FRAGILE_CONFIRM), callback_data=ExecAction(order_id=order_id, step=ExecStep.FRAGILE).pack()
    )
    text = _("Fragile: {items}. Pack them separately, label them “fragile”, then confirm.").format(
        items=esc(", ".join(fragile))
    )
    await message.reply(text, reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]))


async def _ask_for_proof(message: Message, state: FSMContext, order_id: str) -> None:
    """Asks for the optional proof photo, with a No photo button."""
    await state.set_state(ExecutionDialog.proof_photo)
    button = InlineKeyboardButton(
        text=_("No photo"), callback_data=ExecAction(order_id=order_id, step=ExecStep.NO_PHOTO).pack()
    )
    await message.reply(
        _("Send the proof-of-delivery photo as a reply, or press No photo."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
    )


@router.message(StateFilter(*TYPED_STATES), F.text)
async def on_typed(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Checks one typed value of a step's dialog; a wrong one is refused with the reason."""
    if await stopped(message, state) or message.from_user is None:
        return
    position = _position(await state.get_state())
    if position is None:
        return
    step, index = position
    data = await state.get_data()
    order = await uow.orders.get(data["order_id"])
    try:
        value = FIELDS[step].questions[index].check(message.text or "", data, order, execution_setup)
    except ExecutionError as error:
        if step is ExecStep.PICK and error.code in PICK_MISMATCHES:
            # A count that does not match the order is an error against accuracy, kept in the trail.
            actor = Actor(message.from_user.id, roles)
            await record_pick_mismatch(uow, order.id, actor, error, execution_setup)
        await message.reply(error_text(error))
        return
    await _answer(message, message.from_user, state, uow, roles, execution_setup, value)


@router.callback_query(ExecutionDialog.carrier, CarrierChoice.filter())
async def on_carrier_button(query: CallbackQuery, callback_data: CarrierChoice, state: FSMContext) -> None:
    """Takes the picked carrier and asks for the waybill."""
    data = await state.get_data()
    if data.get("order_id") != callback_data.order_id or not isinstance(query.message, Message):
        await query.answer(_("This question is no longer open."), show_alert=True)
        return
    await query.answer()
    await ask(query.message, state, ExecutionDialog.waybill, carrier=callback_data.carrier)


@router.message(ExecutionDialog.proof_photo, F.photo)
async def on_proof_photo(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Records the delivery with the proof photo."""
    if message.from_user is None or not message.photo:
        return
    proof = message.photo[-1].file_id
    await _answer(message, message.from_user, state, uow, roles, execution_setup, proof)


@router.message(ExecutionDialog.proof_photo, F.text)
async def on_proof_text(message: Message, state: FSMContext) -> None:
    """Reminds that a photo (or No photo) is expected."""
    if not await stopped(message, state):
        await message.reply(_("Send the proof-of-delivery photo as a reply, or press No photo."))


# The steps' questions answered by a button, and the answer each button gives.
BUTTON_ANSWERS: Mapping[ExecStep, tuple[State, Any]] = {
    # Delivered without a proof photo.
    ExecStep.NO_PHOTO: (ExecutionDialog.proof_photo, None),
    # The fragile goods are packed separately and labelled; the pick is recorded.
    ExecStep.FRAGILE: (ExecutionDialog.fragile, True),
}


@router.callback_query(ExecAction.filter(F.step.in_(set(BUTTON_ANSWERS))))
async def on_button_answer(
    query: CallbackQuery,
    callback_data: ExecAction,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Takes a button as the answer to the open question; a button of another question is refused."""
    question, value = BUTTON_ANSWERS[callback_data.step]
    data = await state.get_data()
    if await state.get_state() != question.state or data.get("order_id") != callback_data.order_id:
        await query.answer(_("This question is no longer open."), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await _answer(query.message, query.from_user, state, uow, roles, execution_setup, value)
