"""Warehouse and logistics buttons on the order cards, the dialogs for their values, and receipt (R-4).

Every press re-checks the presser's roles (loaded from the database for this update), the chat it
came from (the department's team chat, or the staff member's private chat) and that the card shows
the order; the order is reloaded and the transition table decides whether it waits for the step.
A second press, or a stale card, changes nothing and is told who did the step and when. Typed
values are checked as they come, with the reason and an example when one is wrong.

Handler data this router needs besides `uow`, `roles` and `state`: `execution_setup`
(domain.execution.ExecutionSetup) and `team_chats` (department value -> chat id).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramBadRequest
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

from application.execution import (
    ExecutionSetup,
    arrive,
    book,
    clear_customs,
    confirm_receipt,
    deliver,
    depart,
    hold_by_customs,
    outbound_scan,
    pick,
    start_last_mile,
)
from application.ports import UnitOfWork
from application.services import Actor
from domain.errors import ConcurrentModification, IllegalTransition, NotPermitted, OrderNotFound
from domain.execution import (
    AlreadyDone,
    ExecutionError,
    carriers_for,
    check_picked,
    check_step,
    clean_text,
    expected_picks,
    future_time,
    normalize_carrier,
    normalize_courier_phone,
    normalize_declaration,
    normalize_waybill,
    parse_picked,
    step_statuses,
    who_handled,
)
from domain.orders.model import AuditEvent, Order
from domain.orders.status import ACTION_ROLES, OrderStatus, Role
from domain.sla.alerts import chat_for
from presentation.execution_cards import (
    NEXT_DEPARTMENT,
    STEP_ACTIONS,
    STEP_DEPARTMENTS,
    STEP_LABELS,
    CarrierChoice,
    ExecAction,
    ExecStep,
    ReceiptAction,
    card_keyboard,
    card_text,
)
from presentation.keyboards import N_
from presentation.labels import DEPARTMENT_LABELS
from presentation.render import STATUS_NAMES, esc, local_time

logger = logging.getLogger(__name__)

router = Router(name="execution")

SETUP_KEY = "execution_setup"


class ExecutionDialog(StatesGroup):
    """Staff typing the values of a step, one at a time."""

    picked = State()
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


# Why a typed value was refused, by ExecutionError code; parameters are escaped before formatting.
ERRORS: Mapping[str, str] = {
    "pick.line": N_("I could not read “{line}”: write one item per line, its SKU and the quantity."),
    "pick.empty": N_("Write the picked items, one per line: SKU and quantity, e.g. TEA-01 2."),
    "pick.unknown": N_("{sku} is not in this order; check the SKU."),
    "pick.missing": N_("{sku} is missing from your count."),
    "pick.quantity": N_("{sku}: the order has {expected}, you counted {counted}. Check the goods."),
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
}
PROMPTS: Mapping[State, str] = {
    ExecutionDialog.waybill: N_("Waybill number?"),
    ExecutionDialog.etd: N_("Estimated departure (company time), e.g. 2026-03-20 14:00?"),
    ExecutionDialog.declaration: N_("Customs declaration number (the declaration is filed)?"),
    ExecutionDialog.destination: N_("Where did the goods arrive (airport, port or city)?"),
    ExecutionDialog.clearance: N_("Clearance result (e.g. released, duties paid)?"),
    ExecutionDialog.hold_reason: N_("Why does customs hold the goods?"),
    ExecutionDialog.courier_name: N_("Courier’s name?"),
    ExecutionDialog.courier_phone: N_("Courier’s phone?"),
    ExecutionDialog.eta: N_("Estimated delivery (company time), e.g. 2026-03-20 18:00?"),
    ExecutionDialog.signed_by: N_("Who signed for the goods?"),
}
FIRST_STATES: Mapping[ExecStep, State] = {
    ExecStep.PICK: ExecutionDialog.picked,
    ExecStep.BOOK: ExecutionDialog.carrier,
    ExecStep.ARRIVE: ExecutionDialog.destination,
    ExecStep.CLEAR: ExecutionDialog.clearance,
    ExecStep.HOLD: ExecutionDialog.hold_reason,
    ExecStep.LAST_MILE: ExecutionDialog.courier_name,
    ExecStep.DELIVER: ExecutionDialog.signed_by,
}
OPENERS = frozenset({Role.WAREHOUSE, Role.LOGISTICS, Role.ORDER_DESK, Role.ORDER_DESK_HEAD, Role.ADMIN})

UseCase = Callable[[Actor], Awaitable[Order]]


def error_text(error: ExecutionError) -> str:
    """Words a refused value in the user's language."""
    params = {name: esc(value) for name, value in error.params.items()}
    return _(ERRORS.get(error.code, N_("That value is not valid."))).format(**params)


def staff_name(user: User) -> str:
    """The name a staff member is shown under."""
    return user.full_name or (f"@{user.username}" if user.username else str(user.id))


def in_team_place(
    chat_id: int, chat_type: str, user_id: int, department: Role, chats: Mapping[str, int]
) -> bool:
    """Whether the chat is the department's chat (the order desk's if it has none) or the user's own."""
    return chat_id == chat_for(department, chats) or (chat_type == ChatType.PRIVATE and chat_id == user_id)


def shows_order(message: Message, order: Order) -> bool:
    """Whether the pressed message is about this order (a forged id on another card is refused)."""
    text = message.text or message.caption or ""
    return order.reference in text or (order.number is not None and order.number in text)


async def handled_by(uow: UnitOfWork, event: AuditEvent | None, timezone: str) -> str:
    """Says who took the order past the step, and when ("already handled by <name> at <time>")."""
    if event is None:
        return _("This order is not waiting for this step.")
    if event.actor_role is Role.CUSTOMER:
        name = _("the customer")
    elif event.actor_id is None:
        name = _("the system")
    else:
        name = await uow.reviews.name_of(event.actor_id) or str(event.actor_id)
    return _("Already handled by {name} at {time}.").format(
        name=esc(name), time=local_time(event.at, timezone)
    )


def not_now(order: Order) -> str:
    """Says that the order has not reached the step."""
    return _("Not possible now: the order is {status}.").format(status=_(STATUS_NAMES[order.status]))


@router.callback_query(ExecAction.filter(F.step == ExecStep.OPEN))
async def on_open(
    query: CallbackQuery,
    callback_data: ExecAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Puts an order's card (from /todo) in the chat again, with the buttons of its next step."""
    if not roles & OPENERS or not isinstance(query.message, Message):
        await query.answer(_("Your role does not allow this."), show_alert=True)
        return
    try:
        order = await uow.orders.get(callback_data.order_id)
    except OrderNotFound:
        await query.answer(_("This button does not belong to an order."), show_alert=True)
        return
    department = NEXT_DEPARTMENT.get(order.status, Role.LOGISTICS)
    await query.answer()
    await query.message.answer(
        card_text(order, department, _, execution_setup.timezone), reply_markup=card_keyboard(order, _)
    )


@router.callback_query(ExecAction.filter(F.step == ExecStep.NO_PHOTO))
async def on_no_photo(
    query: CallbackQuery,
    callback_data: ExecAction,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Records the delivery without a proof photo."""
    data = await state.get_data()
    if (
        await state.get_state() != ExecutionDialog.proof_photo.state
        or data.get("order_id") != callback_data.order_id
    ):
        await query.answer(_("This question is no longer open."), show_alert=True)
        return
    await query.answer()
    if isinstance(query.message, Message):
        await _record_delivery(query.message, query.from_user, state, uow, roles, execution_setup, None)


@router.callback_query(ExecAction.filter())
async def on_step(
    query: CallbackQuery,
    callback_data: ExecAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    state: FSMContext,
    execution_setup: ExecutionSetup,
    team_chats: Mapping[str, int],
) -> None:
    """A step's button: checks who, where, which card and the status, then acts or asks for the values."""
    message, user, step = query.message, query.from_user, callback_data.step
    action, department = STEP_ACTIONS[step], STEP_DEPARTMENTS[step]
    if not isinstance(message, Message) or not roles & ACTION_ROLES[action]:
        team = _(DEPARTMENT_LABELS[department.value])
        await query.answer(_("Only {team} can do this.").format(team=team), show_alert=True)
        return
    if not in_team_place(message.chat.id, message.chat.type, user.id, department, team_chats):
        team = _(DEPARTMENT_LABELS[department.value])
        await query.answer(_("Do this in the {team} chat.").format(team=team), show_alert=True)
        return
    try:
        order = await uow.orders.get(callback_data.order_id)
    except OrderNotFound:
        await query.answer(_("This button does not belong to an order."), show_alert=True)
        return
    if not shows_order(message, order):
        await query.answer(_("This button does not belong to this card."), show_alert=True)
        return
    try:
        check_step(order, action, roles)
    except AlreadyDone as done:
        await query.answer(await handled_by(uow, done.event, execution_setup.timezone), show_alert=True)
        return
    except IllegalTransition:
        await query.answer(not_now(order), show_alert=True)
        return
    base = {
        "order_id": order.id,
        "step": step.value,
        "card_chat_id": message.chat.id,
        "card_message_id": message.message_id,
    }
    setup = execution_setup
    if step is ExecStep.DEPART:
        await query.answer()
        await _finish(
            message, user, roles, state, uow, setup, base, lambda actor: depart(uow, order.id, actor, setup)
        )
        return
    if step is ExecStep.SCAN:
        await query.answer()
        name = staff_name(user)
        await _finish(
            message,
            user,
            roles,
            state,
            uow,
            setup,
            base,
            lambda actor: outbound_scan(uow, order.id, actor, name, setup),
        )
        return
    await state.set_state(FIRST_STATES[step])
    await state.set_data(base)
    await query.answer()
    await _ask_first(message, order, step)


async def _ask_first(message: Message, order: Order, step: ExecStep) -> None:
    """Asks for the first value of a step."""
    shown = esc(order.display_id)
    stop = _("Send /cancel to stop.")
    if step is ExecStep.PICK:
        expected = "\n".join(
            f"<code>{esc(key)} {quantity}</code>" for key, quantity in expected_picks(order).items()
        )
        text = _(
            "Count the goods of {id} and write them, one per line: SKU and quantity. The order has:"
        ).format(id=shown)
        await message.answer(f"{text}\n{expected}\n{stop}", reply_markup=ForceReply())
    elif step is ExecStep.BOOK:
        buttons = [
            InlineKeyboardButton(
                text=carrier.name, callback_data=CarrierChoice(order_id=order.id, carrier=carrier.code).pack()
            )
            for carrier in carriers_for(order.service)
        ]
        rows = [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
        text = _("Booking {id}: pick the carrier, or reply with its name.").format(id=shown)
        await message.answer(f"{text}\n{stop}", reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
    else:
        first = FIRST_STATES[step]
        await message.answer(f"{shown}: {_(PROMPTS[first])}\n{stop}", reply_markup=ForceReply())


async def _ask(message: Message, state: FSMContext, next_state: State, **values: Any) -> None:
    """Keeps the accepted value and asks for the next one."""
    await state.update_data(**values)
    await state.set_state(next_state)
    await message.reply(_(PROMPTS[next_state]), reply_markup=ForceReply())


async def _stopped(message: Message, state: FSMContext) -> bool:
    """Ends the dialog on a command (e.g. /cancel); nothing is recorded."""
    if (message.text or "").startswith("/"):
        await state.clear()
        await message.reply(_("Stopped; nothing was changed."))
        return True
    return False


async def _finish(
    message: Message,
    user: User,
    roles: frozenset[Role],
    state: FSMContext,
    uow: UnitOfWork,
    setup: ExecutionSetup,
    data: Mapping[str, Any],
    use_case: UseCase,
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
        if order.status in step_statuses(order, action):
            await message.reply(_("Someone changed the order at the same moment; press the button again."))
            return
        event = who_handled(order, step_statuses(order, action))
        await message.reply(await handled_by(uow, event, setup.timezone) if event else not_now(order))
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
    try:
        await message.bot.edit_message_reply_markup(  # type: ignore[union-attr]
            chat_id=data["card_chat_id"], message_id=data["card_message_id"], reply_markup=None
        )
    except TelegramBadRequest as error:
        logger.info("Card of order %s kept its buttons: %s", order.id, error.message)


async def _typed(message: Message, state: FSMContext) -> tuple[dict[str, Any], str] | None:
    """The dialog's data and the typed text; None when the user stopped the dialog."""
    if await _stopped(message, state) or message.from_user is None:
        return None
    return await state.get_data(), message.text or ""


def _user(message: Message) -> User:
    """The sender of a dialog message (_typed has checked there is one)."""
    assert message.from_user is not None
    return message.from_user


@router.message(ExecutionDialog.picked, F.text)
async def on_picked(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Checks the counted SKUs and quantities against the order, then records the picking."""
    typed = await _typed(message, state)
    if typed is None:
        return
    data, text = typed
    try:
        counted = parse_picked(text)
        check_picked(await uow.orders.get(data["order_id"]), counted)
    except ExecutionError as error:
        await message.reply(error_text(error))
        return
    setup = execution_setup

    def use_case(actor: Actor) -> Awaitable[Order]:
        """Records the checked count."""
        return pick(uow, data["order_id"], actor, counted, setup)

    await _finish(message, _user(message), roles, state, uow, setup, data, use_case)


@router.callback_query(ExecutionDialog.carrier, CarrierChoice.filter())
async def on_carrier_button(query: CallbackQuery, callback_data: CarrierChoice, state: FSMContext) -> None:
    """Takes the picked carrier and asks for the waybill."""
    data = await state.get_data()
    if data.get("order_id") != callback_data.order_id or not isinstance(query.message, Message):
        await query.answer(_("This question is no longer open."), show_alert=True)
        return
    await query.answer()
    await _ask(query.message, state, ExecutionDialog.waybill, carrier=callback_data.carrier)


@router.message(ExecutionDialog.carrier, F.text)
async def on_carrier_text(message: Message, state: FSMContext) -> None:
    """Takes a typed carrier name and asks for the waybill."""
    typed = await _typed(message, state)
    if typed is None:
        return
    try:
        carrier = normalize_carrier(typed[1])
    except ExecutionError as error:
        await message.reply(error_text(error))
        return
    await _ask(message, state, ExecutionDialog.waybill, carrier=carrier)


@router.message(ExecutionDialog.waybill, F.text)
async def on_waybill(message: Message, state: FSMContext) -> None:
    """Checks the waybill against the carrier's format and asks for the estimated departure."""
    typed = await _typed(message, state)
    if typed is None:
        return
    data, text = typed
    try:
        waybill = normalize_waybill(data["carrier"], text)
    except ExecutionError as error:
        await message.reply(error_text(error))
        return
    await _ask(message, state, ExecutionDialog.etd, waybill=waybill)


@router.message(ExecutionDialog.etd, F.text)
async def on_etd(message: Message, state: FSMContext, execution_setup: ExecutionSetup) -> None:
    """Checks that the estimated departure lies ahead and asks for the customs declaration."""
    typed = await _typed(message, state)
    if typed is None:
        return
    setup = execution_setup
    try:
        etd = future_time(typed[1], setup.timezone, setup.clock.now())
    except ExecutionError as error:
        await message.reply(error_text(error))
        return
    await _ask(message, state, ExecutionDialog.declaration, etd=etd.isoformat())


@router.message(ExecutionDialog.declaration, F.text)
async def on_declaration(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Records the booking with the filed customs declaration."""
    typed = await _typed(message, state)
    if typed is None:
        return
    data, text = typed
    try:
        declaration = normalize_declaration(text)
    except ExecutionError as error:
        await message.reply(error_text(error))
        return
    setup = execution_setup

    def use_case(actor: Actor) -> Awaitable[Order]:
        """Books with every value of the dialog."""
        return book(
            uow,
            data["order_id"],
            actor,
            carrier=data["carrier"],
            waybill=data["waybill"],
            etd=datetime.fromisoformat(data["etd"]),
            declaration=declaration,
            setup=setup,
        )

    await _finish(message, _user(message), roles, state, uow, setup, data, use_case)


TextStep = Callable[[UnitOfWork, str, Actor, str, ExecutionSetup], Awaitable[Order]]


async def _one_text_step(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    setup: ExecutionSetup,
    run: TextStep,
) -> None:
    """A step with one typed value: arrival place, clearance result, hold reason."""
    typed = await _typed(message, state)
    if typed is None:
        return
    data, text = typed

    def use_case(actor: Actor) -> Awaitable[Order]:
        """Records the typed value."""
        return run(uow, data["order_id"], actor, text, setup)

    await _finish(message, _user(message), roles, state, uow, setup, data, use_case)


@router.message(ExecutionDialog.destination, F.text)
async def on_destination(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Records the arrival."""
    await _one_text_step(message, state, uow, roles, execution_setup, arrive)


@router.message(ExecutionDialog.clearance, F.text)
async def on_clearance(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Records the clearance result."""
    await _one_text_step(message, state, uow, roles, execution_setup, clear_customs)


@router.message(ExecutionDialog.hold_reason, F.text)
async def on_hold_reason(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Records the customs hold, which opens an exception."""
    await _one_text_step(message, state, uow, roles, execution_setup, hold_by_customs)


@router.message(ExecutionDialog.courier_name, F.text)
async def on_courier_name(message: Message, state: FSMContext) -> None:
    """Takes the courier's name and asks for the phone."""
    typed = await _typed(message, state)
    if typed is None:
        return
    try:
        name = clean_text(typed[1], "courier.invalid")
    except ExecutionError as error:
        await message.reply(error_text(error))
        return
    await _ask(message, state, ExecutionDialog.courier_phone, courier_name=name)


@router.message(ExecutionDialog.courier_phone, F.text)
async def on_courier_phone(message: Message, state: FSMContext, uow: UnitOfWork) -> None:
    """Checks the courier's phone (read in the destination country) and asks for the ETA."""
    typed = await _typed(message, state)
    if typed is None:
        return
    data, text = typed
    order = await uow.orders.get(data["order_id"])
    try:
        phone = normalize_courier_phone(text, order.address.country)
    except ExecutionError as error:
        await message.reply(error_text(error))
        return
    await _ask(message, state, ExecutionDialog.eta, courier_phone=phone)


@router.message(ExecutionDialog.eta, F.text)
async def on_eta(
    message: Message,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Checks that the ETA lies ahead and records the start of the delivery."""
    typed = await _typed(message, state)
    if typed is None:
        return
    data, text = typed
    setup = execution_setup
    try:
        eta = future_time(text, setup.timezone, setup.clock.now())
    except ExecutionError as error:
        await message.reply(error_text(error))
        return

    def use_case(actor: Actor) -> Awaitable[Order]:
        """Starts the last mile with every value of the dialog."""
        return start_last_mile(
            uow,
            data["order_id"],
            actor,
            courier_name=data["courier_name"],
            courier_phone=data["courier_phone"],
            eta=eta,
            setup=setup,
        )

    await _finish(message, _user(message), roles, state, uow, setup, data, use_case)


@router.message(ExecutionDialog.signed_by, F.text)
async def on_signed_by(message: Message, state: FSMContext) -> None:
    """Takes who signed and asks for the optional proof photo."""
    typed = await _typed(message, state)
    if typed is None:
        return
    data, text = typed
    try:
        name = clean_text(text, "signed_by.invalid")
    except ExecutionError as error:
        await message.reply(error_text(error))
        return
    await state.update_data(signed_by=name)
    await state.set_state(ExecutionDialog.proof_photo)
    button = InlineKeyboardButton(
        text=_("No photo"), callback_data=ExecAction(order_id=data["order_id"], step=ExecStep.NO_PHOTO).pack()
    )
    await message.reply(
        _("Send the proof-of-delivery photo as a reply, or press No photo."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
    )


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
    photo = message.photo[-1].file_id
    await _record_delivery(message, message.from_user, state, uow, roles, execution_setup, photo)


@router.message(ExecutionDialog.proof_photo, F.text)
async def on_proof_text(message: Message, state: FSMContext) -> None:
    """Reminds that a photo (or No photo) is expected."""
    if not await _stopped(message, state):
        await message.reply(_("Send the proof-of-delivery photo as a reply, or press No photo."))


async def _record_delivery(
    message: Message,
    user: User,
    state: FSMContext,
    uow: UnitOfWork,
    roles: frozenset[Role],
    setup: ExecutionSetup,
    photo: str | None,
) -> None:
    """Records the delivery with who signed and the photo, if any."""
    data = await state.get_data()

    def use_case(actor: Actor) -> Awaitable[Order]:
        """Delivers with every value of the dialog."""
        return deliver(
            uow, data["order_id"], actor, signed_by=data["signed_by"], proof_photo=photo, setup=setup
        )

    await _finish(message, user, roles, state, uow, setup, data, use_case)


@router.callback_query(ReceiptAction.filter())
async def on_receipt(
    query: CallbackQuery, callback_data: ReceiptAction, uow: UnitOfWork, execution_setup: ExecutionSetup
) -> None:
    """The customer confirms receipt of their own delivered order, in their private chat."""
    user, message = query.from_user, query.message
    private = isinstance(message, Message) and message.chat.id == user.id
    try:
        if not private:
            raise NotPermitted("confirm_receipt", frozenset({Role.CUSTOMER}))
        await confirm_receipt(uow, callback_data.order_id, user.id, execution_setup)
    except (NotPermitted, OrderNotFound):
        await query.answer(_("This is not your order."), show_alert=True)
        return
    except (AlreadyDone, ConcurrentModification):
        await uow.rollback()
        await query.answer(_("Receipt is already confirmed. Thank you!"), show_alert=True)
        return
    except IllegalTransition:
        await query.answer(_("This order cannot be confirmed as received now."), show_alert=True)
        return
    await query.answer(_("Thank you for confirming receipt!"))
    if isinstance(message, Message):
        await message.edit_reply_markup(reply_markup=None)
