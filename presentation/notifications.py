"""The words of every notice the notification policy sends (application/notifications.py).

TelegramNotices renders each notice for Telegram in the recipient's language: the customer's
status updates (with the waybill, the courier's contact and the expected time when known, and
*Confirm receipt* on the delivered one), the review flow's messages, and the team cards.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from application.notifications import Audience, Notice, NoticeKind, Rendered
from application.notifier import TeamChatLookup, build_notifier
from application.ports import Outgoing, UnitOfWork
from application.review import ReviewSetup
from application.services import EventHandlers
from domain.cancellation import CancellationChanged
from domain.clock import Clock
from domain.execution import carrier_name
from domain.orders.events import CustomerAnswered, CustomerAsked, Event, OrderRejected, OrderStatusChanged
from domain.orders.model import Order
from domain.orders.status import IN_EXECUTION, ExceptionType, OrderStatus, Role
from domain.review import RejectReason, ReviewPolicy, second_review_reasons
from domain.sla.clocks import SlaContext
from presentation.cancellation_texts import CANCELLATION_NOTICES, CUSTOMER_GOES_ON, render_cancellation
from presentation.change_notices import CHANGE_NOTICES, render_change_notice
from presentation.documents import ConfirmationDocuments
from presentation.exception_texts import EXCEPTION_NOTICES, TelegramExceptionNotices
from presentation.execution_cards import ReceiptAction, card_keyboard, card_text
from presentation.finance_texts import FINANCE_NOTICES, render_finance_notice
from presentation.keyboards import N_
from presentation.payment_notices import PAYMENT_NOTICES, TelegramPaymentNotices
from presentation.render import Translate, esc, html_message, keyboard_json, translator_or_default
from presentation.review_renderers import TelegramReviewRenderers
from presentation.survey_texts import problem_button
from presentation.tracking import progress_lines

HEADLINES: Mapping[OrderStatus, str] = {
    OrderStatus.PICKED: N_("📦 Your order {id} is packed at our warehouse."),
    OrderStatus.OUTBOUND: N_("🚚 Your order {id} has left our warehouse."),
    OrderStatus.BOOKED: N_("🛫 Your order {id} is booked with {carrier}."),
    OrderStatus.IN_TRANSIT: N_("✈️ Your order {id} is on its way."),
    OrderStatus.ARRIVED: N_("📍 Your order {id} has arrived in the destination country."),
    OrderStatus.CLEARED: N_("🛃 Your order {id} has cleared customs."),
    OrderStatus.OUT_FOR_DELIVERY: N_("🚚 Your order {id} is out for delivery."),
    OrderStatus.DELIVERED: N_("✅ Your order {id} has been delivered."),
    OrderStatus.COMPLETED: N_("🙏 Thank you! Your order {id} is complete."),
    OrderStatus.CANCELLATION_REQUESTED: N_("We have your request to cancel order {id} and are checking it."),
    OrderStatus.RECALL_IN_PROGRESS: N_("We are bringing your order {id} back."),
    OrderStatus.CANCELLED: N_("Your order {id} is cancelled."),
}
CUSTOMS_HOLD = N_("⏳ Customs is checking your order {id}; this can take longer for some goods.")
PROBLEM = N_("⚠️ There is a problem with your order {id}; our team is on it and will contact you.")
RESUMED = N_("👍 The problem with your order {id} is solved; it goes on.")
FRAGILE_NOTE = N_("Fragile items are packed separately and labelled “fragile”.")
TRACK_HINT = N_("Follow it any time with /track {id}.")
CONFIRM_RECEIPT = N_("Confirm receipt")


def fixed_team_chats(chats: Mapping[str, int]) -> TeamChatLookup:
    """A lookup over configured chat ids (department value -> chat id), for tests and simple setups."""

    async def lookup(uow: UnitOfWork, key: str) -> int | None:
        """Returns the configured chat of the department."""
        return chats.get(key)

    return lookup


def headline(order: Order, event: OrderStatusChanged, t: Translate) -> str | None:
    """The first line of the customer's update, or None when this change is not told here."""
    shown = esc(order.display_id)
    if event.to_status is OrderStatus.EXCEPTION:
        hold = order.exception_type is ExceptionType.CUSTOMS_HOLD
        return t(CUSTOMS_HOLD if hold else PROBLEM).format(id=shown)
    if event.from_status is OrderStatus.EXCEPTION and event.to_status is not OrderStatus.CANCELLED:
        return t(RESUMED).format(id=shown)
    if event.from_status is OrderStatus.CANCELLATION_REQUESTED and event.to_status in IN_EXECUTION:
        # The cancellation was declined or another service chosen: the order goes on.
        return t(CUSTOMER_GOES_ON).format(id=shown)
    if event.to_status not in HEADLINES:
        return None
    carrier = esc(carrier_name(order.shipment.carrier))
    return t(HEADLINES[event.to_status]).format(id=shown, carrier=carrier)


def customer_update(
    order: Order, event: OrderStatusChanged, t: Translate, timezone: str
) -> dict[str, Any] | None:
    """The sendMessage parameters of the customer's update about one status change."""
    first = headline(order, event, t)
    if first is None:
        return None
    lines = [first]
    if event.to_status is OrderStatus.PICKED and order.shipment.fragile_labelled:
        lines.append(t(FRAGILE_NOTE))
    lines += progress_lines(order, t, timezone)
    if event.to_status not in (OrderStatus.COMPLETED, OrderStatus.CANCELLED):
        lines += ["", t(TRACK_HINT).format(id=esc(order.display_id))]
    params: dict[str, Any] = {"text": "\n".join(lines), "parse_mode": "HTML"}
    if event.to_status is OrderStatus.DELIVERED:
        button = InlineKeyboardButton(
            text=t(CONFIRM_RECEIPT), callback_data=ReceiptAction(order_id=order.id).pack()
        )
        # Report a problem stops the order completing by itself (R-7.1, presentation/survey_texts.py).
        params["reply_markup"] = keyboard_json(
            InlineKeyboardMarkup(inline_keyboard=[[button], [problem_button(order, t)]])
        )
    return params


HOLD_NOTICE = N_("⛔ Customs holds {id} ({reference}): {reason}")
OUTBOUND_NOTE_CAPTION = N_("Outbound note of {id}")


class TelegramNotices:
    """Renders every notice of the policy for Telegram (the NoticeRenderer port)."""

    def __init__(
        self,
        i18n: I18n,
        timezone: str,
        review_policy: ReviewPolicy,
        documents: ConfirmationDocuments | None = None,
    ) -> None:
        self.i18n = i18n
        self.timezone = timezone
        self.review = TelegramReviewRenderers(i18n, timezone, documents)
        self.review_policy = review_policy
        self.payments = TelegramPaymentNotices(self.review, review_policy)
        self.exceptions = TelegramExceptionNotices(partial(translator_or_default, i18n), timezone)

    def render(self, notice: Notice, event: Event, order: Order, audience: Audience) -> Rendered | None:
        """Renders one notice; None when there is nothing to say."""
        t, language = translator_or_default(self.i18n, audience.language), audience.language
        match notice.kind, event:
            case kind, _ if kind in CHANGE_NOTICES:
                change = render_change_notice(kind, event, order, t, self.timezone, audience.names)
                return None if change is None else Rendered(change)
            case kind, CancellationChanged() if kind in CANCELLATION_NOTICES:
                cancellation = render_cancellation(kind, event, order, t, self.timezone)
                return None if cancellation is None else Rendered(cancellation)
            case kind, _ if kind in PAYMENT_NOTICES:
                message = self.payments.render(kind, event, order, t, language)
                return None if message is None else Rendered(message)
            case kind, _ if kind in EXCEPTION_NOTICES:
                message = self.exceptions.render(kind, event, order, t, audience.names)
                return None if message is None else Rendered(message)
            case kind, _ if kind in FINANCE_NOTICES:
                message = render_finance_notice(kind, event, order, t, self.timezone)
                return None if message is None else Rendered(message)
            case NoticeKind.REVIEW_CARD, OrderStatusChanged():
                second = event.to_status is OrderStatus.PENDING_SECOND_REVIEW
                reasons = second_review_reasons(order, self.review_policy)
                card = self.review.review_card(
                    order, reasons, second=second, language=language, names=audience.names
                )
                return Rendered(card)
            case NoticeKind.REJECTION, OrderRejected():
                reason = RejectReason(event.reason)
                return Rendered(self.review.rejection(order, reason, event.text, language=language))
            case NoticeKind.QUESTION, CustomerAsked():
                return Rendered(self.review.question(order, event.question, language=language))
            case NoticeKind.ANSWER, CustomerAnswered():
                message = self.review.answer(order, event.answer, language=language)
                if audience.reply_to is not None:
                    reply = {"message_id": audience.reply_to, "allow_sending_without_reply": True}
                    message = Outgoing(message.method, {**message.params, "reply_parameters": reply})
                return Rendered(message)
            case NoticeKind.CONFIRMATION, _:
                return Rendered(self.review.confirmation(order, language=language))
            case NoticeKind.CONFIRMATION_PDF, _:
                document, message = self.review.confirmation_document(order, language=language)
                return Rendered(message, document)
            case NoticeKind.CUSTOMER_UPDATE, OrderStatusChanged():
                params = customer_update(order, event, t, self.timezone)
                return None if params is None else Rendered(Outgoing("sendMessage", params))
            case NoticeKind.TEAM_CARD, _ if isinstance(notice.to, Role):
                return Rendered(Outgoing("sendMessage", self._card(order, notice.to, t)))
            case NoticeKind.OUTBOUND_NOTE, _ if order.shipment.outbound_note_id is not None:
                caption = t(OUTBOUND_NOTE_CAPTION).format(id=esc(order.display_id))
                note_id = order.shipment.outbound_note_id
                note = {"document_id": note_id, "caption": caption, "parse_mode": "HTML"}
                return Rendered(Outgoing("sendDocument", note))
            case NoticeKind.CUSTOMS_HOLD, _:
                text = t(HOLD_NOTICE).format(
                    id=esc(order.display_id),
                    reference=esc(order.reference),
                    reason=esc(order.shipment.hold_reason or ""),
                )
                return Rendered(html_message(text))
        return None

    def _card(self, order: Order, team: Role, t: Translate) -> dict[str, Any]:
        """The team's card of the order with the buttons of its next step."""
        params: dict[str, Any] = {"text": card_text(order, team, t, self.timezone), "parse_mode": "HTML"}
        markup = card_keyboard(order, t)
        if markup is not None:
            params["reply_markup"] = keyboard_json(markup)
        return params


def build_review_setup(
    *,
    i18n: I18n,
    clock: Clock,
    timezone: str,
    order_desk_chat_id: int | None,
    policy: ReviewPolicy,
    sla: SlaContext | None = None,
    handlers: EventHandlers | None = None,
    team_language: str = "en",
) -> ReviewSetup:
    """Builds the review use cases' setup; without handlers, the policy's notices go to fixed chats."""
    if handlers is None:
        chats = {} if order_desk_chat_id is None else {Role.ORDER_DESK.value: order_desk_chat_id}
        notices = TelegramNotices(i18n, timezone, policy)
        handlers = build_notifier(notices, fixed_team_chats(chats), team_language=team_language)
    return ReviewSetup(
        policy=policy,
        clock=clock,
        timezone=timezone,
        order_desk_chat_id=order_desk_chat_id,
        sla=sla,
        handlers=handlers,
    )
