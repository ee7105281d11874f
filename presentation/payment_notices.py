"""The payment notices of the notification policy (issue 12), rendered for Telegram."""

from __future__ import annotations

from application.notifications import NoticeKind
from application.ports import Outgoing
from domain.orders.events import Event
from domain.orders.model import Order
from domain.orders.status import OrderStatus
from domain.payment import PaymentReceived, ReceiptKind, ReceiptRefused, ReceiptSubmitted
from domain.review import ReviewPolicy, second_review_reasons
from presentation.payment_texts import (
    paid_headline,
    pay_keyboard,
    payment_received_text,
    receipt_caption,
    receipt_keyboard,
    receipt_refused_text,
    reminder_text,
)
from presentation.render import Translate, html_message, keyboard_json
from presentation.review_renderers import TelegramReviewRenderers

PAYMENT_NOTICES = frozenset(
    {
        NoticeKind.PAYMENT_RECEIVED,
        NoticeKind.PAID_CARD,
        NoticeKind.RECEIPT,
        NoticeKind.RECEIPT_REFUSED,
        NoticeKind.PAYMENT_REQUEST,
    }
)


class TelegramPaymentNotices:
    """Renders the payment notices in the recipient's language."""

    def __init__(self, review: TelegramReviewRenderers, policy: ReviewPolicy) -> None:
        self.review = review
        self.policy = policy

    def render(
        self, kind: NoticeKind, event: Event, order: Order, t: Translate, language: str
    ) -> Outgoing | None:
        """Renders one payment notice; None when the event does not fit the kind."""
        match kind, event:
            case NoticeKind.PAYMENT_RECEIVED, PaymentReceived():
                return html_message(payment_received_text(order, t))
            case NoticeKind.PAID_CARD, PaymentReceived():
                second = order.status is OrderStatus.PENDING_SECOND_REVIEW
                reasons = [] if second else second_review_reasons(order, self.policy)
                card = self.review.review_card(order, reasons, second=second, language=language)
                text = f"{paid_headline(order, t)}\n\n{card.params['text']}"
                return Outgoing(card.method, {**card.params, "text": text})
            case NoticeKind.RECEIPT, ReceiptSubmitted():
                method, key = (
                    ("sendPhoto", "photo")
                    if event.kind is ReceiptKind.PHOTO
                    else ("sendDocument", "document")
                )
                params = {
                    key: event.file_id,
                    "caption": receipt_caption(order, t),
                    "parse_mode": "HTML",
                    "reply_markup": keyboard_json(receipt_keyboard(event.payment_id, t)),
                }
                return Outgoing(method, params)
            case NoticeKind.RECEIPT_REFUSED, ReceiptRefused():
                text = receipt_refused_text(order, event.reason, t, language)
                return html_message(text, pay_keyboard(order, t))
            case NoticeKind.PAYMENT_REQUEST, _:
                return html_message(reminder_text(order, t, language), pay_keyboard(order, t))
        return None
