"""Review cards in the order-desk chat: Approve, Reject with a reason, Ask customer; /queue; receipts (R-3).

Every press re-checks the presser's roles (loaded from the database for this update), the chat it
came from and that the card belongs to the order; the order is reloaded, so a stale card or a
second press changes nothing and is told who handled the order and when.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message, User
from aiogram.utils.i18n import gettext as _

from application.payment import PaymentUnitOfWork, order_payment
from application.ports import UnitOfWork
from application.review import (
    ReviewSetup,
    answer_question,
    approve,
    ask_customer,
    cancel_by_customer,
    record_payment_receipt,
    reject,
)
from domain.errors import ConcurrentModification, DomainError, IllegalTransition, NotPermitted, OrderNotFound
from domain.orders.model import Order
from domain.orders.responsibilities import DESK, HEAD
from domain.orders.status import OrderStatus, Role
from domain.payment import NotPaid
from domain.review import (
    REVIEW_STATUSES,
    AlreadyHandled,
    FourEyesViolation,
    RejectReason,
    last_decision,
    time_left,
)
from handlers.cards import order_of_card
from handlers.common import CommandSpec, pressed_own_order
from presentation.callbacks import REASON_STEPS, CustomerAction, CustomerStep, ReviewAction, ReviewStep
from presentation.execution_texts import handled_by, staff_name
from presentation.keyboards import N_
from presentation.labels import time_left as span_left
from presentation.payment_texts import not_paid_answer, remind_button
from presentation.render import (
    REASON_NAMES,
    STATUS_NAMES,
    Translate,
    decided_text,
    duration,
    esc,
    local_time,
    reason_keyboard,
    review_keyboard,
)

logger = logging.getLogger(__name__)

router = Router(name="review")

# Handler data key of the ReviewSetup the composition root puts into the dispatcher.
SETUP_KEY = "review_setup"
# What a review dialog keeps between the button and the typed text.
FsmData = dict[str, Any]
STAGE_STATUS = {1: OrderStatus.PENDING_REVIEW, 2: OrderStatus.PENDING_SECOND_REVIEW}

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("queue", N_("Orders waiting for review"), DESK),
    CommandSpec("receipt", N_("Record an offline payment receipt: /receipt <reference> <receipt no.>"), DESK),
)


class ReviewDialog(StatesGroup):
    """A reviewer typing a rejection reason or a question to the customer."""

    reject_reason = State()
    question = State()


class CustomerDialog(StatesGroup):
    """A customer typing the answer to a reviewer's question."""

    answer = State()


def in_desk_place(chat_id: int, chat_type: str, user_id: int, setup: ReviewSetup) -> bool:
    """Whether the chat is the order-desk chat or the staff member's own private chat."""
    if setup.order_desk_chat_id is not None and chat_id == setup.order_desk_chat_id:
        return True
    return chat_type == ChatType.PRIVATE and chat_id == user_id


async def handled_by_text(uow: UnitOfWork, order: Order, timezone: str) -> str:
    """Says who decided on the order and when, as plain text (a toast; escape it for a message)."""
    decision = last_decision(order)
    if decision is None:
        return _("This order is no longer waiting for review (now: {status}).").format(
            status=_(STATUS_NAMES[order.status])
        )
    return await handled_by(uow, decision, timezone)


async def _reload_and_explain(uow: UnitOfWork, order_id: str, timezone: str) -> str:
    """After a lost race: drops this transaction's changes and explains who won."""
    await uow.rollback()
    order = await uow.orders.get(order_id)
    return await handled_by_text(uow, order, timezone)


async def _edit_card(message: Message, text: str) -> None:
    """Shows the decision on the card and removes its buttons, so nobody acts on it twice."""
    await message.edit_text(text, reply_markup=None)


@router.callback_query(ReviewAction.filter())
async def on_review_button(
    query: CallbackQuery,
    callback_data: ReviewAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    review_setup: ReviewSetup,
    state: FSMContext,
) -> None:
    """Handles every review-card button: checks who, where and which card, then acts once."""
    setup = review_setup
    message = query.message
    user = query.from_user
    if not isinstance(message, Message) or not roles & DESK:
        await query.answer(_("Only the order desk can review orders."), show_alert=True)
        return
    if not in_desk_place(message.chat.id, message.chat.type, user.id, setup):
        await query.answer(_("Review orders in the order-desk chat."), show_alert=True)
        return
    order = await order_of_card(query, message, uow, callback_data.order_id)
    if order is None:
        return
    expected = STAGE_STATUS.get(callback_data.stage)
    if expected is None or order.status is not expected:
        await query.answer(await handled_by_text(uow, order, setup.timezone), show_alert=True)
        return
    if callback_data.stage == 2 and not roles & HEAD:
        await query.answer(_("Only the order desk head does the second review."), show_alert=True)
        return
    step = callback_data.action
    t: Translate = _
    if step is ReviewStep.REJECT:
        await message.edit_reply_markup(reply_markup=reason_keyboard(order.id, callback_data.stage, t))
        await query.answer(_("Pick the reason."))
    elif step is ReviewStep.BACK:
        await message.edit_reply_markup(reply_markup=review_keyboard(order.id, callback_data.stage, t))
        await query.answer()
    elif step in (ReviewStep.OTHER, ReviewStep.ASK):
        await _start_dialog(query, message, order, callback_data, state)
    else:
        await _decide(query, message, order, callback_data, uow, roles, setup)


async def _start_dialog(
    query: CallbackQuery, message: Message, order: Order, data: ReviewAction, state: FSMContext
) -> None:
    """Asks the reviewer to type the rejection reason or the question."""
    dialog = ReviewDialog.reject_reason if data.action is ReviewStep.OTHER else ReviewDialog.question
    await state.set_state(dialog)
    await state.update_data(
        order_id=order.id, stage=data.stage, card_chat_id=message.chat.id, card_message_id=message.message_id
    )
    if dialog is ReviewDialog.reject_reason:
        prompt = _("Write the reason for rejecting {reference}; the customer will read it.")
    else:
        prompt = _("Write your question about {reference}; I will pass it to the customer.")
    await query.answer()
    await message.reply(prompt.format(reference=esc(order.reference)) + "\n" + _("Send /cancel to stop."))


async def _decide(
    query: CallbackQuery,
    message: Message,
    order: Order,
    data: ReviewAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    setup: ReviewSetup,
) -> None:
    """Approves or rejects (with a picked reason) and shows the result on the card."""
    user = query.from_user
    expected = STAGE_STATUS[data.stage]
    card_html = message.html_text
    try:
        await uow.reviews.remember_name(user.id, staff_name(user), setup.clock.now())
        if data.action is ReviewStep.APPROVE:
            outcome = await approve(
                uow, order.id, actor_id=user.id, roles=roles, setup=setup, expected=expected
            )
            if outcome.status is OrderStatus.PENDING_SECOND_REVIEW:
                verdict = _("Approved, sent to the head for the second review")
                answer = _("Approved. The order now needs the head's review.")
            else:
                verdict = _("Approved and confirmed as {number}").format(number=outcome.order.number)
                answer = _("Approved. Order number {number}.").format(number=outcome.order.number)
        else:
            reason = REASON_STEPS[data.action]
            outcome = await reject(
                uow,
                order.id,
                actor_id=user.id,
                roles=roles,
                reason=reason,
                text="",
                setup=setup,
                expected=expected,
            )
            verdict = _("Rejected: {reason}").format(reason=_(REASON_NAMES[reason]))
            answer = _("Rejected. The customer has been told.")
    except NotPaid:
        await _refuse_unpaid(query, message, order, data.stage, uow)
        return
    except FourEyesViolation:
        await query.answer(
            _("You cannot do the second review: you did the first review or entered this order."),
            show_alert=True,
        )
        return
    except NotPermitted:
        await query.answer(_("Your role does not allow this."), show_alert=True)
        return
    except (AlreadyHandled, IllegalTransition, ConcurrentModification):
        await query.answer(await _reload_and_explain(uow, order.id, setup.timezone), show_alert=True)
        return
    await query.answer(answer)
    await _edit_card(
        message, decided_text(card_html, verdict, staff_name(user), setup.clock.now(), setup.timezone)
    )


async def _refuse_unpaid(
    query: CallbackQuery, message: Message, order: Order, stage: int, uow: UnitOfWork
) -> None:
    """Says why an unpaid order cannot be approved and adds Remind the customer to the card (R-3.1)."""
    t: Translate = _
    await uow.rollback()
    order, state, _receipt = await order_payment(cast(PaymentUnitOfWork, uow), order.id)
    await query.answer(not_paid_answer(order, state, t), show_alert=True)
    remind = remind_button(order, t)
    if remind is not None:
        keyboard = review_keyboard(order.id, stage, t).inline_keyboard
        markup = InlineKeyboardMarkup(inline_keyboard=[*keyboard, [remind]])
        await message.edit_reply_markup(reply_markup=markup)


@router.message(StateFilter(ReviewDialog.reject_reason, ReviewDialog.question), F.text)
async def on_reviewer_text(
    message: Message, state: FSMContext, uow: UnitOfWork, roles: frozenset[Role], review_setup: ReviewSetup
) -> None:
    """Rejects with the typed reason or relays the typed question to the customer."""
    dialog = await state.get_state()
    data = await state.get_data()
    await state.clear()
    if (message.text or "").startswith("/") or message.from_user is None:
        await message.reply(_("Stopped; nothing was changed."))
        return
    act = _reject_with_reason if dialog == ReviewDialog.reject_reason.state else _relay_question
    await act(message, message.from_user, data, uow, roles, review_setup)


async def _reject_with_reason(
    message: Message, user: User, data: FsmData, uow: UnitOfWork, roles: frozenset[Role], setup: ReviewSetup
) -> None:
    """Rejects with the typed reason."""
    try:
        await uow.reviews.remember_name(user.id, staff_name(user), setup.clock.now())
        await reject(
            uow,
            data["order_id"],
            actor_id=user.id,
            roles=roles,
            reason=RejectReason.OTHER,
            text=message.text or "",
            setup=setup,
            expected=STAGE_STATUS.get(int(data.get("stage", 1))),
        )
    except NotPermitted:
        await message.reply(_("Your role does not allow this."))
        return
    except (AlreadyHandled, IllegalTransition, ConcurrentModification):
        await message.reply(esc(await _reload_and_explain(uow, data["order_id"], setup.timezone)))
        return
    except (DomainError, KeyError):
        await message.reply(_("Stopped; nothing was changed."))
        return
    await message.reply(_("Rejected. The customer has been told."))
    # The card is edited straight away: the clerk's own action in this chat.
    await message.bot.edit_message_reply_markup(  # type: ignore[union-attr]
        chat_id=data["card_chat_id"], message_id=data["card_message_id"], reply_markup=None
    )


async def _relay_question(
    message: Message, user: User, data: FsmData, uow: UnitOfWork, roles: frozenset[Role], setup: ReviewSetup
) -> None:
    """Relays the typed question to the customer."""
    try:
        await ask_customer(
            uow,
            data["order_id"],
            actor_id=user.id,
            roles=roles,
            question=message.text or "",
            card_chat_id=data.get("card_chat_id"),
            card_message_id=data.get("card_message_id"),
            setup=setup,
        )
    except NotPermitted:
        await message.reply(_("Your role does not allow this."))
        return
    except AlreadyHandled as handled:
        await message.reply(esc(await handled_by_text(uow, handled.order, setup.timezone)))
        return
    except (DomainError, KeyError):
        await message.reply(_("Stopped; nothing was changed."))
        return
    await message.reply(_("Question sent to the customer; the answer will appear under the card."))


@router.callback_query(CustomerAction.filter())
async def on_customer_button(
    query: CallbackQuery,
    callback_data: CustomerAction,
    uow: UnitOfWork,
    state: FSMContext,
    review_setup: ReviewSetup,
) -> None:
    """Cancel or Answer, pressed by the customer on a message about their own order."""
    user = query.from_user
    message = query.message
    order = await pressed_own_order(query, uow, callback_data.order_id)
    if order is None:
        return
    if callback_data.action is CustomerStep.ANSWER:
        await state.set_state(CustomerDialog.answer)
        await state.update_data(order_id=order.id)
        await query.answer()
        await message.answer(_("Write your answer in one message."))  # type: ignore[union-attr]
        return
    try:
        await cancel_by_customer(uow, order.id, customer_id=user.id, setup=review_setup)
    except (IllegalTransition, AlreadyHandled, ConcurrentModification):
        await query.answer(_("This order can no longer be cancelled here."), show_alert=True)
        return
    await query.answer(_("Your order was cancelled."))
    if isinstance(message, Message):
        await message.edit_reply_markup(reply_markup=None)
        await message.answer(
            _("Your order {reference} was cancelled.").format(reference=esc(order.reference))
        )


@router.message(CustomerDialog.answer, F.text)
async def on_customer_answer(
    message: Message, state: FSMContext, uow: UnitOfWork, review_setup: ReviewSetup
) -> None:
    """Relays the customer's answer into the review card's thread."""
    data = await state.get_data()
    await state.clear()
    if message.from_user is None or "order_id" not in data:
        return
    try:
        relayed = await answer_question(
            uow,
            data["order_id"],
            customer_id=message.from_user.id,
            answer=message.text or "",
            setup=review_setup,
        )
    except (NotPermitted, OrderNotFound):
        relayed = False
    if relayed:
        await message.answer(_("Thank you, we passed your answer to the order desk."))
    else:
        await message.answer(_("There is no open question about this order."))


@router.message(Command("queue"))
async def show_queue(
    message: Message, uow: UnitOfWork, roles: frozenset[Role], review_setup: ReviewSetup
) -> None:
    """Lists orders waiting for review with their age and time left (2h first, 4h second review)."""
    user = message.from_user
    if user is None or not roles & DESK:
        await message.answer(_("Only the order desk can see the review queue."))
        return
    if not in_desk_place(message.chat.id, message.chat.type, user.id, review_setup):
        await message.answer(_("Review orders in the order-desk chat."))
        return
    now = review_setup.clock.now()
    orders = await uow.orders.list_by_status(REVIEW_STATUSES)
    if not orders:
        await message.answer(_("No orders are waiting for review."))
        return
    rows = sorted(((time_left(order, now), order) for order in orders), key=lambda row: row[0][1])
    lines = [f"<b>{_('Waiting for review')}</b>"]
    for (waited, left), order in rows:
        stage = _("second review") if order.status is OrderStatus.PENDING_SECOND_REVIEW else _("first review")
        late = " ⚠️" if left.total_seconds() < 0 else ""
        lines.append(
            f"• <code>{esc(order.reference)}</code> {esc(order.customer.name)} — {stage}, "
            + _("waiting {waited}, {left}").format(waited=duration(waited), left=span_left(left, _))
            + late
        )
    await message.answer("\n".join(lines))


@router.message(Command("receipt"))
async def record_receipt(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    review_setup: ReviewSetup,
) -> None:
    """Records an offline payment: `/receipt <ref> <receipt no.>`, or a photo captioned `/receipt <ref>`."""
    user = message.from_user
    if user is None or not roles & DESK:
        await message.answer(_("Your role does not allow this."))
        return
    parts = (command.args or "").split(maxsplit=1)
    photo = message.photo[-1].file_id if message.photo else None
    receipt = f"photo:{photo}" if photo else (parts[1] if len(parts) > 1 else "")
    if not parts or not receipt:
        await message.answer(
            _("Usage: /receipt <reference> <receipt no.> (or a photo captioned /receipt <reference>)")
        )
        return
    try:
        order = await record_payment_receipt(
            uow, parts[0], actor_id=user.id, roles=roles, receipt=receipt, setup=review_setup
        )
    except OrderNotFound:
        await message.answer(_("No order with that reference."))
        return
    except (IllegalTransition, DomainError):
        await message.answer(_("A receipt can only be recorded before the order is reviewed."))
        return
    await message.answer(
        _("Payment receipt recorded for {reference} at {time}.").format(
            reference=esc(order.reference), time=local_time(review_setup.clock.now(), review_setup.timezone)
        )
    )
