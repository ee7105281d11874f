"""Every side effect of an order's status change, in one place, as outbox rows in the same transaction.

build_event_handlers() returns the EventHandlers the use cases run before they commit. For each
OrderStatusChanged it queues:

(a) the customer's update (R-5.2), in the customer's language and words, with the waybill, the
    courier's contact and the expected time when known; "Confirm receipt" on the delivered one;
(b) the card of the department that must act next, into its team chat (warehouse on confirmed
    and picked, logistics from outbound on; the outbound note PDF goes with the logistics card);
(c) the review card of the review flow (domain.review.post_review_card) when the order reaches a
    review; its dedup key makes a card the review use case queued itself not go out twice.

What the review flow tells the customer itself (confirmation, rejection) is not repeated here.
Every row has a dedup key naming the order and the audit line of the change, so running the
handlers twice for one change (a retried transaction) queues nothing twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from application.ports import OutboxMessage, UnitOfWork
from application.review import ReviewSetup, post_review_card
from application.services import EventHandlers
from domain.execution import carrier_name
from domain.orders.events import Event, OrderStatusChanged
from domain.orders.model import Order
from domain.orders.status import BEFORE_CONFIRMATION, ExceptionType, OrderStatus, Role
from presentation.execution_cards import NEXT_DEPARTMENT, ReceiptAction, card_keyboard, card_text
from presentation.keyboards import N_
from presentation.render import Translate, esc, keyboard_json, translator
from presentation.tracking import progress_lines

# Looks up a department's chat id in the caller's transaction (e.g. storage's SqlTeamChats.chat_of).
TeamChatLookup = Callable[[UnitOfWork, str], Awaitable[int | None]]

# Statuses whose news reaches the customer through another flow (intake, review), or not at all.
TOLD_ELSEWHERE = frozenset({*BEFORE_CONFIRMATION, OrderStatus.CONFIRMED, OrderStatus.ARCHIVED})
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
    if event.to_status in TOLD_ELSEWHERE or event.to_status not in HEADLINES:
        return None
    if event.to_status is OrderStatus.CANCELLED and event.from_status in BEFORE_CONFIRMATION:
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
        params["reply_markup"] = keyboard_json(InlineKeyboardMarkup(inline_keyboard=[[button]]))
    return params


def build_event_handlers(
    *,
    i18n: I18n,
    timezone: str,
    team_chat: TeamChatLookup,
    review: ReviewSetup | None = None,
    team_language: str = "en",
) -> EventHandlers:
    """Returns the handlers turning status changes into the customer's update, team cards and review cards."""

    def t_for(locale: str) -> Translate:
        """The translator of a locale the bot speaks, else of the default one."""
        known = locale if locale in i18n.available_locales else i18n.default_locale
        return translator(i18n, known)

    async def tell_customer(event: OrderStatusChanged, order: Order, uow: UnitOfWork, key: str) -> None:
        """(a) Queues the customer's update in their language (their /lang choice wins)."""
        chat_id = order.customer.telegram_user_id
        if chat_id is None:
            return
        language = await uow.users.language_of(chat_id) or order.customer.language
        params = customer_update(order, event, t_for(language), timezone)
        if params is not None:
            await uow.outbox.enqueue(
                OutboxMessage(chat_id, "sendMessage", params, event.at, order.id, f"customer:{key}")
            )

    async def post_team_card(event: OrderStatusChanged, order: Order, uow: UnitOfWork, key: str) -> None:
        """(b) Queues the next department's card in its chat (the order desk's if it has none)."""
        department = NEXT_DEPARTMENT.get(event.to_status)
        if department is None:
            await tell_desk_of_hold(event, order, uow, key)
            return
        chat_id = await team_chat(uow, department.value) or await team_chat(uow, Role.ORDER_DESK.value)
        if chat_id is None:
            return
        t = t_for(team_language)
        params: dict[str, Any] = {"text": card_text(order, department, t, timezone), "parse_mode": "HTML"}
        markup = card_keyboard(order, t)
        if markup is not None:
            params["reply_markup"] = keyboard_json(markup)
        note_id = order.shipment.outbound_note_id
        if event.to_status is OrderStatus.OUTBOUND and note_id is not None:
            caption = t(N_("Outbound note of {id}")).format(id=esc(order.display_id))
            document = {"document_id": note_id, "caption": caption, "parse_mode": "HTML"}
            await uow.outbox.enqueue(
                OutboxMessage(chat_id, "sendDocument", document, event.at, order.id, f"note:{key}")
            )
        await uow.outbox.enqueue(
            OutboxMessage(chat_id, "sendMessage", params, event.at, order.id, f"card:{key}")
        )

    async def tell_desk_of_hold(event: OrderStatusChanged, order: Order, uow: UnitOfWork, key: str) -> None:
        """Tells the order desk that customs holds an order, with the reason logistics gave."""
        if (
            event.to_status is not OrderStatus.EXCEPTION
            or order.exception_type is not ExceptionType.CUSTOMS_HOLD
        ):
            return
        chat_id = await team_chat(uow, Role.ORDER_DESK.value)
        if chat_id is None:
            return
        t = t_for(team_language)
        text = t(N_("⛔ Customs holds {id} ({reference}): {reason}")).format(
            id=esc(order.display_id),
            reference=esc(order.reference),
            reason=esc(order.shipment.hold_reason or ""),
        )
        await uow.outbox.enqueue(
            OutboxMessage(
                chat_id,
                "sendMessage",
                {"text": text, "parse_mode": "HTML"},
                event.at,
                order.id,
                f"hold:{key}",
            )
        )

    async def post_review(event: OrderStatusChanged, order: Order, uow: UnitOfWork) -> None:
        """(c) The review flow's card when the order reaches a review."""
        if review is None:
            return
        if event.to_status is OrderStatus.PENDING_REVIEW:
            await post_review_card(order, uow, review)
        elif event.to_status is OrderStatus.PENDING_SECOND_REVIEW:
            await post_review_card(order, uow, review, second=True)

    async def on_status_changed(event: Event, order: Order, uow: UnitOfWork) -> None:
        """Queues everything one status change causes."""
        if not isinstance(event, OrderStatusChanged):
            return
        # The audit line of this change names it uniquely, also when a status is reached again.
        line = next(
            (
                index
                for index in range(len(order.audit) - 1, -1, -1)
                if order.audit[index].action == event.action.value
                and order.audit[index].from_status is event.from_status
                and order.audit[index].at == event.at
            ),
            len(order.audit),
        )
        key = f"{order.id}:{line}"
        await tell_customer(event, order, uow, key)
        await post_team_card(event, order, uow, key)
        await post_review(event, order, uow)

    return {OrderStatusChanged: [on_status_changed]}
