"""Acceptance (issue 12): a chat order paid through Telegram's invoice reaches review as paid.

The production wiring (bot/app.py's workflow and dispatcher on SQLite) with the recording bot:
the wizard's bank-card order gets the invoice for its quote, the pre-checkout is answered after
the database check, the charge lands once, and the order desk's refreshed card can be approved.
"""

from __future__ import annotations

from aiogram.types import Update

from domain.orders.status import OrderStatus
from handlers.payment import PaymentSetup
from presentation.callbacks import ReviewAction, ReviewStep
from tests.bot.test_wiring import ADMIN_ID, CUSTOMER_ID, DESK_CHAT, DESK_ID, Wired, wired
from tests.intake.conftest import Chat, answer_small_order, reference_in
from tests.review.conftest import buttons, card_of

__all__ = ["wired"]

TOKEN = "284685063:TEST:acceptance"


def payment_update(update_id: int, kind: str, payload: dict[str, object]) -> Update:
    """A pre_checkout_query or a successful_payment message of the customer."""
    user = {"id": CUSTOMER_ID, "is_bot": False, "first_name": "Ann", "language_code": "en"}
    if kind == "pre_checkout_query":
        return Update.model_validate({"update_id": update_id, kind: {"id": "pc1", "from": user, **payload}})
    message = {
        "message_id": 9000 + update_id,
        "date": 1_765_000_000,
        "chat": {"id": CUSTOMER_ID, "type": "private", "first_name": "Ann"},
        "from": user,
        "successful_payment": payload,
    }
    return Update.model_validate({"update_id": update_id, "message": message})


async def test_a_chat_order_paid_through_the_invoice_reaches_review_as_paid(wired: Wired) -> None:
    wired.dispatcher["payment_setup"] = PaymentSetup(TOKEN)
    await wired.say(f"/staff add {DESK_ID} order_desk", user_id=ADMIN_ID)
    ann = Chat(wired.dispatcher, wired.bot, wired.update_ids, user_id=CUSTOMER_ID)
    await ann.send("/neworder")
    await answer_small_order(ann, payment="Bank card")

    await ann.press("Confirm order")

    [invoice] = wired.bot.requests_for("sendInvoice")
    reference = reference_in(invoice.params["title"])
    order = await wired.order(reference)
    assert (order.status, order.paid, order.currency) == (OrderStatus.PENDING_REVIEW, False, "CNY")
    total = invoice.decoded("prices")[0]["amount"]
    assert total == int(order.amount * 100)
    approve = ReviewAction(order_id=order.id, action=ReviewStep.APPROVE, stage=1).pack()
    [first_card] = [m for m in await wired.outbox(DESK_CHAT) if m.order_id == order.id]
    await wired.press(approve, user_id=DESK_ID, card=card_of(first_card))
    assert (await wired.order(reference)).status is OrderStatus.PENDING_REVIEW

    checkout = {"currency": "CNY", "total_amount": total, "invoice_payload": invoice.params["payload"]}
    await wired.dispatcher.feed_update(
        wired.bot, payment_update(next(wired.update_ids), "pre_checkout_query", checkout)
    )
    [answer] = wired.bot.requests_for("answerPreCheckoutQuery")
    assert answer.params["ok"] == "true"
    paid = {**checkout, "telegram_payment_charge_id": "tg-acc-1", "provider_payment_charge_id": "prov-acc-1"}
    for _ in range(2):
        await wired.dispatcher.feed_update(wired.bot, payment_update(next(wired.update_ids), "message", paid))

    order = await wired.order(reference)
    assert order.paid and [line.action for line in order.audit].count("payment_received") == 1
    [refreshed] = [m for m in await wired.outbox(DESK_CHAT) if (m.dedup_key or "").startswith("paid-card:")]
    assert "Payment received for" in refreshed.params["text"] and "paid)" in refreshed.params["text"]
    assert approve in buttons(refreshed)
    await wired.press(approve, user_id=DESK_ID, card=card_of(refreshed))
    assert (await wired.order(reference)).status is OrderStatus.CONFIRMED
