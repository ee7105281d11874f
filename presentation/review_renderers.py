"""The review flow's messages and documents, rendered for Telegram in the recipient's language."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from application.ports import Document, Outgoing
from domain.orders.model import Order
from domain.review import (
    RejectReason,
    SecondReviewReason,
)
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import shipped_policy
from presentation.callbacks import CustomerAction, CustomerStep
from presentation.change_notices import review_change_lines
from presentation.documents import ConfirmationDocuments, confirmation_pdf
from presentation.intake_details import clearance_notice_lines, review_detail_lines
from presentation.keyboards import N_
from presentation.payment_texts import not_paid_keyboard, not_paid_rejection_text
from presentation.render import (
    confirmation_text,
    esc,
    html_message,
    rejection_keyboard,
    rejection_text,
    review_card_text,
    review_keyboard,
    translator_or_default,
)


class TelegramReviewRenderers:
    """Renders the review flow's messages for Telegram in the recipient's language."""

    def __init__(self, i18n: I18n, timezone: str, documents: ConfirmationDocuments | None = None) -> None:
        self.i18n = i18n
        self.timezone = timezone
        # The company's details and the expected delivery date on the PDF, when configured (issue 12).
        self.documents = documents
        # The expected delivery date the review checks a time requirement against: the PDF's policy
        # and calendar when configured, else the shipped policy on the company's calendar.
        configured = documents.sla if documents is not None else None
        self.sla = configured or SlaContext(shipped_policy(), BusinessCalendar(timezone))

    def _card_time(self, order: Order) -> datetime:
        """The moment of the order's latest change (the card is made with it)."""
        return order.audit[-1].at if order.audit else order.created_at

    def review_card(
        self,
        order: Order,
        reasons: list[SecondReviewReason],
        *,
        second: bool,
        language: str,
        names: Mapping[int, str] | None = None,
    ) -> Outgoing:
        """The review card with its buttons."""
        t = translator_or_default(self.i18n, language)
        markup = review_keyboard(order.id, 2 if second else 1, t)
        details = review_detail_lines(order, t, self._card_time(order), language, self.sla)
        # A change of service or zone sent it back to review: the card says what changed.
        details = [*review_change_lines(order, t), *details]
        text = review_card_text(order, reasons, second=second, t=t, details=details, names=names)
        if not order.paid and not second:
            # Approve waits for the payment (issue 12); the desk is told when it lands.
            waiting = N_("⏳ Not paid yet: Approve waits for the payment; you are told when it arrives.")
            text += "\n" + t(waiting)
        return html_message(text, markup)

    def confirmation(self, order: Order, *, language: str) -> Outgoing:
        """The confirmation text for the customer."""
        t = translator_or_default(self.i18n, language)
        text = confirmation_text(order, t, clearance_notice_lines(order, t, language))
        return html_message(text)

    def confirmation_document(self, order: Order, *, language: str) -> tuple[Document, Outgoing]:
        """The confirmation PDF and the sendDocument call carrying it."""
        t = translator_or_default(self.i18n, language)
        if self.documents is not None:
            document = self.documents.pdf(order, t)
        else:
            document = Document(f"order-{order.number}.pdf", confirmation_pdf(order, t, self.timezone))
        caption = t(N_("Order confirmation {number} (PDF)")).format(number=esc(order.number or ""))
        return document, Outgoing("sendDocument", {"caption": caption, "parse_mode": "HTML"})

    def rejection(self, order: Order, reason: RejectReason, text: str, *, language: str) -> Outgoing:
        """The rejection message with Fix and Cancel; "not paid": how to pay, with Pay and Cancel."""
        t = translator_or_default(self.i18n, language)
        if reason is RejectReason.NOT_PAID:
            return html_message(
                not_paid_rejection_text(order, text, t, language), not_paid_keyboard(order, t)
            )
        return html_message(rejection_text(order, reason, text, t), rejection_keyboard(order, reason, t))

    def question(self, order: Order, question: str, *, language: str) -> Outgoing:
        """A reviewer's question, with an Answer button."""
        t = translator_or_default(self.i18n, language)
        button = InlineKeyboardButton(
            text=t(N_("Answer")),
            callback_data=CustomerAction(order_id=order.id, action=CustomerStep.ANSWER).pack(),
        )
        title = t(N_("A question about your order {reference}")).format(reference=esc(order.reference))
        text = f"<b>{title}</b>\n{esc(question)}\n\n{t(N_('Press Answer and write your reply.'))}"
        markup = InlineKeyboardMarkup(inline_keyboard=[[button]])
        return html_message(text, markup)

    def answer(self, order: Order, answer: str, *, language: str) -> Outgoing:
        """The customer's answer, for the review card's thread."""
        t = translator_or_default(self.i18n, language)
        title = t(N_("Customer’s answer about {reference}")).format(reference=esc(order.reference))
        return html_message(f"<b>{title}</b>\n{esc(answer)}")
