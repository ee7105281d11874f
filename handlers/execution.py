"""Warehouse and logistics buttons on the order cards, and the customer's receipt (R-4).

Every press re-checks the presser's roles (loaded from the database for this update), the chat it
came from (the department's team chat, or the staff member's private chat) and that the card shows
the order; the order is reloaded and the transition table decides whether it waits for the step.
A second press, or a stale card, changes nothing and is told who did the step and when. The values
a step needs are asked for by handlers/execution_dialog.py.

Handler data this router needs besides `uow`, `roles` and `state`: `execution_setup`
(application.execution.ExecutionSetup) and `team_chats` (department value -> chat id).
"""

from __future__ import annotations

from collections.abc import Mapping

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, ForceReply, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from application.execution import ExecutionSetup, confirm_receipt, depart, outbound_scan
from application.ports import UnitOfWork
from domain.errors import ConcurrentModification, IllegalTransition, NotPermitted, OrderNotFound
from domain.execution import AlreadyDone, carriers_for, check_step, expected_picks
from domain.orders.model import Order
from domain.orders.responsibilities import NEXT_TEAM, Duty, may, team_of
from domain.orders.status import Role
from domain.sla.alerts import chat_for
from handlers import execution_dialog
from handlers.cards import order_of_card
from handlers.common import own_chat_presser
from handlers.dialogs import move_dialog
from handlers.execution_dialog import FIELDS, FIRST_STATES, finish
from presentation.cancellation_texts import on_hold
from presentation.execution_cards import (
    STEP_ACTIONS,
    CarrierChoice,
    ExecAction,
    ExecStep,
    ReceiptAction,
    card_keyboard,
    card_text,
)
from presentation.execution_texts import PROMPTS, handled_by, not_now, staff_name
from presentation.labels import DEPARTMENT_LABELS, NOT_YOUR_ORDER
from presentation.render import esc

router = Router(name="execution")
router.include_router(execution_dialog.router)

SETUP_KEY = "execution_setup"


def in_team_place(
    chat_id: int, chat_type: str, user_id: int, department: Role, chats: Mapping[str, int]
) -> bool:
    """Whether the chat is the department's chat (the order desk's if it has none) or the user's own."""
    return chat_id == chat_for(department, chats) or (chat_type == ChatType.PRIVATE and chat_id == user_id)


@router.callback_query(ExecAction.filter(F.step == ExecStep.OPEN))
async def on_open(
    query: CallbackQuery,
    callback_data: ExecAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    execution_setup: ExecutionSetup,
) -> None:
    """Puts an order's card (from /todo) in the chat again, with the buttons of its next step."""
    if not may(roles, Duty.OPEN_ORDER_CARD) or not isinstance(query.message, Message):
        await query.answer(_("Your role does not allow this."), show_alert=True)
        return
    try:
        order = await uow.orders.get(callback_data.order_id)
    except OrderNotFound:
        await query.answer(_("This button does not belong to an order."), show_alert=True)
        return
    department = NEXT_TEAM.get(order.status, Role.LOGISTICS)
    await query.answer()
    await query.message.answer(
        card_text(order, department, _, execution_setup.timezone), reply_markup=card_keyboard(order, _)
    )


@router.callback_query(ExecAction.filter(F.step.in_(set(STEP_ACTIONS))))
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
    action = STEP_ACTIONS[step]
    department = team_of(action)
    if not isinstance(message, Message) or not may(roles, action):
        team = _(DEPARTMENT_LABELS[department.value])
        await query.answer(_("Only {team} can do this.").format(team=team), show_alert=True)
        return
    if not in_team_place(message.chat.id, message.chat.type, user.id, department, team_chats):
        team = _(DEPARTMENT_LABELS[department.value])
        await query.answer(_("Do this in the {team} chat.").format(team=team), show_alert=True)
        return
    order = await order_of_card(query, message, uow, callback_data.order_id)
    if order is None:
        return
    held = on_hold(order, _, execution_setup.timezone)
    if held is not None:
        # A cancellation holds the order: the button says why it does nothing now.
        await query.answer(held, show_alert=True)
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
        await finish(
            message, user, roles, state, uow, setup, base, lambda actor: depart(uow, order.id, actor, setup)
        )
        return
    if step is ExecStep.SCAN:
        await query.answer()
        name = staff_name(user)
        await finish(
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
    await move_dialog(state, FIRST_STATES[step], base)
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
        first = FIELDS[step].questions[0].state.state or ""
        prompt = _(PROMPTS[first.split(":")[-1]])
        await message.answer(f"{shown}: {prompt}\n{stop}", reply_markup=ForceReply())


@router.callback_query(ReceiptAction.filter())
async def on_receipt(
    query: CallbackQuery, callback_data: ReceiptAction, uow: UnitOfWork, execution_setup: ExecutionSetup
) -> None:
    """The customer confirms receipt of their own delivered order, in their private chat."""
    user, message = await own_chat_presser(query), query.message
    if user is None:
        return
    try:
        await confirm_receipt(uow, callback_data.order_id, user.id, execution_setup)
    except (NotPermitted, OrderNotFound):
        await query.answer(_(NOT_YOUR_ORDER), show_alert=True)
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
