"""Paying in the chat (R-3.1): Telegram's invoice and pre-checkout, transfer receipts, the desk's checks.

The bank card is paid through Telegram Payments: the pre-checkout query is answered only after the
order is re-read and still payable at that amount and currency; successful_payment is recorded
once per charge id. Transfers are paid outside and proved by a receipt (photo or file) sent here;
the order desk accepts or refuses it under the copy it gets. Roles come from the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from aiogram import F, Router
from aiogram.dispatcher.event.bases import SkipHandler
from aiogram.enums import ChatType
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, PreCheckoutQuery
from aiogram.utils.i18n import gettext as _

from application.payment import (
    PaymentUnitOfWork,
    TelegramCharge,
    awaiting_receipt,
    check_pre_checkout,
    decide_receipt,
    record_telegram_payment,
    request_payment,
    submit_receipt,
)
from application.review import ReviewSetup
from domain.errors import ConcurrentModification, DomainError, IllegalTransition, NotPermitted, OrderNotFound
from domain.orders.model import Order
from domain.orders.responsibilities import DESK
from domain.orders.status import Channel, Role
from domain.payment import ReceiptKind, ReceiptRefusal, awaits_payment, is_online, needs_receipt
from handlers.common import pressed_own_order
from handlers.review import in_desk_place
from presentation.labels import NOT_YOUR_ORDER
from presentation.payment_texts import (
    PRE_CHECKOUT_ERRORS,
    PaymentAction,
    PayStep,
    ReceiptAction,
    ReceiptStep,
    after_placing_text,
    invoice_params,
    pay_button,
    receipt_keyboard,
    refusal_keyboard,
)
from presentation.render import Translate, decided_text, esc

logger = logging.getLogger(__name__)

router = Router(name="payment")


@dataclass(frozen=True)
class PaymentSetup:
    """The payment settings handlers need: the Telegram Payments provider token (None: no card payment)."""

    provider_token: str | None = None


class PaymentDialog(StatesGroup):
    """A customer about to send the transfer receipt of an order."""

    receipt = State()


async def send_invoice(message: Message, order: Order, setup: PaymentSetup | None) -> None:
    """Sends Telegram's invoice for the order's quote, or says card payment is not available."""
    t: Translate = _
    if setup is None or not setup.provider_token:
        await message.answer(
            _("Card payment is not available right now; our order desk will contact you about paying.")
        )
        return
    await message.answer_invoice(**invoice_params(order, t, setup.provider_token))


def payment_prompt(order: Order, locale: str) -> str | None:
    """After Confirm order: exactly how to pay, for a customer's unpaid chat order."""
    if order.paid or order.channel is not Channel.TELEGRAM:
        return None
    t: Translate = _
    return after_placing_text(order, t, locale)


async def start_payment(
    message: Message, state: FSMContext, order: Order, setup: PaymentSetup | None
) -> None:
    """After Confirm order: sends the invoice (bank card) or waits for the transfer receipt."""
    if order.paid or order.channel is not Channel.TELEGRAM:
        return
    if is_online(order.payment_method):
        await send_invoice(message, order, setup)
    elif needs_receipt(order.payment_method):
        await state.set_state(PaymentDialog.receipt)
        await state.update_data(payment_order_id=order.id)


@router.callback_query(PaymentAction.filter(F.act.in_({PayStep.INVOICE, PayStep.RECEIPT})))
async def on_pay_button(
    query: CallbackQuery,
    callback_data: PaymentAction,
    uow: PaymentUnitOfWork,
    state: FSMContext,
    payment_setup: PaymentSetup | None = None,
) -> None:
    """Pay now (sends the invoice) or Send receipt (waits for the photo or file), for the customer."""
    order = await pressed_own_order(query, uow, callback_data.order_id)
    if order is None or not isinstance(query.message, Message):
        return
    if not awaits_payment(order):
        await query.answer(_("This order does not wait for a payment."), show_alert=True)
        return
    await query.answer()
    if callback_data.act is PayStep.INVOICE and is_online(order.payment_method):
        await send_invoice(query.message, order, payment_setup)
        return
    await state.set_state(PaymentDialog.receipt)
    await state.update_data(payment_order_id=order.id)
    await query.message.answer(
        _("Send a photo or PDF of the transfer receipt for {reference} now.").format(
            reference=esc(order.reference)
        )
    )


async def _desk_message(query: CallbackQuery, roles: frozenset[Role], setup: ReviewSetup) -> Message | None:
    """The pressed message, when an order-desk member pressed it where the desk works; answers otherwise."""
    message = query.message
    if not isinstance(message, Message) or not roles & DESK:
        await query.answer(_("Only the order desk can review orders."), show_alert=True)
        return None
    if not in_desk_place(message.chat.id, message.chat.type, query.from_user.id, setup):
        await query.answer(_("Review orders in the order-desk chat."), show_alert=True)
        return None
    return message


@router.callback_query(PaymentAction.filter(F.act == PayStep.REMIND))
async def on_remind(
    query: CallbackQuery,
    callback_data: PaymentAction,
    uow: PaymentUnitOfWork,
    roles: frozenset[Role],
    review_setup: ReviewSetup,
) -> None:
    """Remind the customer: queues the customer's reminder with how to pay."""
    message = await _desk_message(query, roles, review_setup)
    if message is None:
        return
    try:
        order = await request_payment(
            uow, callback_data.order_id, actor_id=query.from_user.id, roles=roles, setup=review_setup
        )
    except NotPermitted:
        await query.answer(_("Your role does not allow this."), show_alert=True)
        return
    except (OrderNotFound, IllegalTransition, ConcurrentModification, DomainError):
        await query.answer(_("This order does not wait for a payment."), show_alert=True)
        return
    await query.answer(
        _("Reminder sent to the customer with how to pay {reference}.").format(reference=order.reference)
    )


@router.pre_checkout_query()
async def on_pre_checkout(query: PreCheckoutQuery, uow: PaymentUnitOfWork) -> None:
    """Answers Telegram's last check before the charge, after re-reading the order."""
    refusal = await check_pre_checkout(
        uow,
        query.invoice_payload,
        payer_id=query.from_user.id,
        total_amount=query.total_amount,
        currency=query.currency,
    )
    if refusal is None:
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message=_(PRE_CHECKOUT_ERRORS[refusal]))


@router.message(F.successful_payment)
async def on_successful_payment(message: Message, uow: PaymentUnitOfWork, review_setup: ReviewSetup) -> None:
    """Records the charge once; the customer's thanks and the desk's card come from the outbox."""
    paid = message.successful_payment
    if paid is None or message.from_user is None:
        return
    charge = TelegramCharge(
        payload=paid.invoice_payload,
        payer_id=message.from_user.id,
        total_amount=paid.total_amount,
        currency=paid.currency,
        telegram_payment_charge_id=paid.telegram_payment_charge_id,
        provider_payment_charge_id=paid.provider_payment_charge_id,
    )
    outcome = await record_telegram_payment(uow, charge, review_setup)
    if outcome.order is None:
        logger.warning("A payment for an unknown order arrived; the order desk must refund it")
        await message.answer(
            _("We received a payment we cannot match to an order; our order desk will contact you.")
        )
    elif outcome.recorded and not outcome.settled:
        await message.answer(
            _(
                "We received your payment for {reference}, but the order changed meanwhile; "
                "our order desk will contact you."
            ).format(reference=esc(outcome.order.reference))
        )


def _receipt_file(message: Message) -> tuple[str, ReceiptKind] | None:
    """The photo (largest size) or document a message carries."""
    if message.photo:
        return message.photo[-1].file_id, ReceiptKind.PHOTO
    if message.document:
        return message.document.file_id, ReceiptKind.DOCUMENT
    return None


async def _take_receipt(
    message: Message, state: FSMContext, uow: PaymentUnitOfWork, order_id: str, setup: ReviewSetup
) -> None:
    """Stores the receipt for the order and tells the customer the desk checks it."""
    sent = _receipt_file(message)
    if message.from_user is None or sent is None:
        return
    await state.clear()
    try:
        await submit_receipt(
            uow, order_id, customer_id=message.from_user.id, file_id=sent[0], kind=sent[1], setup=setup
        )
    except (NotPermitted, OrderNotFound):
        await message.answer(_(NOT_YOUR_ORDER))
        return
    except (IllegalTransition, DomainError):
        await message.answer(_("This order does not wait for a payment."))
        return
    await message.answer(_("Thank you! Our order desk checks your receipt and tells you here."))


@router.message(PaymentDialog.receipt, F.photo | F.document)
async def on_receipt(
    message: Message, state: FSMContext, uow: PaymentUnitOfWork, review_setup: ReviewSetup
) -> None:
    """Takes the transfer receipt of the order the customer is paying and sends it to the order desk."""
    data = await state.get_data()
    if "payment_order_id" not in data:
        await state.clear()
        raise SkipHandler
    await _take_receipt(message, state, uow, data["payment_order_id"], review_setup)


@router.message(
    StateFilter(None), F.chat.type == ChatType.PRIVATE, F.photo | F.document, ~F.caption.startswith("/")
)
async def on_unasked_receipt(
    message: Message, state: FSMContext, uow: PaymentUnitOfWork, review_setup: ReviewSetup
) -> None:
    """A photo or file sent later: the receipt of the customer's one order waiting for it."""
    user = message.from_user
    waiting = await awaiting_receipt(uow, user.id) if user is not None else []
    if not waiting:
        raise SkipHandler
    if len(waiting) == 1:
        await _take_receipt(message, state, uow, waiting[0].id, review_setup)
        return
    t: Translate = _
    rows = [
        [InlineKeyboardButton(text=f"🧾 {order.reference}", callback_data=button.callback_data)]
        for order in waiting[:5]
        if (button := pay_button(order, t)) is not None
    ]
    await message.answer(
        _("Which order is this receipt for? Press it, then send the receipt again."),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=rows),
    )


@router.message(PaymentDialog.receipt)
async def on_receipt_other(message: Message, state: FSMContext) -> None:
    """Anything else leaves the receipt step and is handled as usual (menu buttons, commands)."""
    await state.clear()
    raise SkipHandler


@router.callback_query(ReceiptAction.filter())
async def on_receipt_button(
    query: CallbackQuery,
    callback_data: ReceiptAction,
    uow: PaymentUnitOfWork,
    roles: frozenset[Role],
    review_setup: ReviewSetup,
) -> None:
    """Accept, Refuse (then the reason) or Back under a receipt in the order-desk chat."""
    message = await _desk_message(query, roles, review_setup)
    if message is None:
        return
    t: Translate = _
    step = callback_data.act
    if step is ReceiptStep.REFUSE:
        await message.edit_reply_markup(reply_markup=refusal_keyboard(callback_data.payment_id, t))
        await query.answer(_("Pick the reason."))
        return
    if step is ReceiptStep.BACK:
        await message.edit_reply_markup(reply_markup=receipt_keyboard(callback_data.payment_id, t))
        await query.answer()
        return
    accept = step is ReceiptStep.ACCEPT
    reason = None if accept else ReceiptRefusal(step.value)
    caption = message.html_text
    try:
        await decide_receipt(
            uow,
            callback_data.payment_id,
            actor_id=query.from_user.id,
            roles=roles,
            accept=accept,
            reason=reason,
            setup=review_setup,
        )
    except NotPermitted:
        await query.answer(_("Your role does not allow this."), show_alert=True)
        return
    except (OrderNotFound, IllegalTransition, ConcurrentModification, DomainError):
        await query.answer(_("This receipt was already decided on, or the order moved on."), show_alert=True)
        return
    verdict = _("Payment accepted") if accept else _("Receipt refused; the customer was told why")
    name = query.from_user.full_name or str(query.from_user.id)
    now = review_setup.clock.now()
    await query.answer(verdict)
    await message.edit_caption(
        caption=decided_text(caption, verdict, name, now, review_setup.timezone), reply_markup=None
    )
