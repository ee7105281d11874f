"""The notifier: each domain event's notices (the policy in application/notifications.py) rendered and
queued as outbox rows in the event's transaction, to the team chats and the customer's channel.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from application.binding import telegram_link, token_for
from application.customer_channels import (
    EMAIL_COPY,
    EMAIL_METHOD,
    WEBHOOK_METHOD,
    CustomerChannels,
    CustomerRoute,
    channel_chat_id,
    webhook_body,
)
from application.notifications import (
    CARD_THREAD,
    CUSTOMER,
    DOCUMENT_KINDS,
    NOTIFIED_EVENTS,
    Audience,
    Notice,
    NoticeRenderer,
    Rendered,
    notices_for,
)
from application.ports import Document, OutboxMessage, UnitOfWork
from application.services import EventHandlers
from domain.orders.events import CustomerAnswered, Event, OrderStatusChanged
from domain.orders.model import Order
from domain.orders.status import Role
from domain.sla.clocks import apply_clock_events
from domain.sla.policy import ClockEvent

# Looks up a department's chat id in the caller's transaction (it follows supergroup migrations).
TeamChatLookup = Callable[[UnitOfWork, str], Awaitable[int | None]]
# Looks up the language a team chat chose with /lang (None: the team language default), issue 18.
ChatLanguageLookup = Callable[[UnitOfWork, int], Awaitable[str | None]]


def build_notifier(
    renderer: NoticeRenderer,
    team_chat: TeamChatLookup,
    *,
    team_language: str = "en",
    channels: CustomerChannels | None = None,
    chat_language: ChatLanguageLookup | None = None,
) -> EventHandlers:
    """Returns the event handlers that queue every notice of the policy in the event's transaction."""
    routes = channels or CustomerChannels()

    async def customer_route(order: Order, uow: UnitOfWork) -> CustomerRoute:
        """Finds the customer's chat (bound, or by their consent for this phone or email) and address."""
        customer = order.customer
        if customer.telegram_user_id is None and routes.bindings_of is not None:
            agreed = await routes.bindings_of(uow).chat_for(customer.phone, customer.email)
            if agreed is not None:
                # The customer agreed that their later orders go to this chat (application/binding.py).
                customer.telegram_user_id = agreed
        chat_id = customer.telegram_user_id
        language = customer.language
        if chat_id is not None:
            language = await uow.users.language_of(chat_id) or language
        email = customer.email if routes.email is not None else None
        return CustomerRoute(chat_id, email, language)

    async def language_of(uow: UnitOfWork, chat_id: int) -> str:
        """The language of a team chat: its own choice, else the team default."""
        chosen = await chat_language(uow, chat_id) if chat_language is not None else None
        return chosen or team_language

    async def audience(notice: Notice, event: Event, order: Order, uow: UnitOfWork) -> Audience | None:
        """Finds the chat and language of a team's notice; None when the team has no chat."""
        if notice.to == CARD_THREAD and isinstance(event, CustomerAnswered):
            desk = await team_chat(uow, Role.ORDER_DESK.value)
            chat_id = event.card_chat_id if event.card_chat_id is not None else desk
            if chat_id is None:
                return None
            in_desk_card = event.card_message_id is not None and event.card_chat_id == desk
            return Audience(
                chat_id, await language_of(uow, chat_id), event.card_message_id if in_desk_card else None
            )
        team = notice.to if isinstance(notice.to, Role) else Role.ORDER_DESK
        # The order desk watches every order: a team without a chat is told there.
        chat_id = await team_chat(uow, team.value)
        if chat_id is None and team is not Role.ORDER_DESK:
            chat_id = await team_chat(uow, Role.ORDER_DESK.value)
        if chat_id is None:
            return None
        return Audience(chat_id, await language_of(uow, chat_id), names=await staff_names(uow, order))

    async def queue(notice: Notice, event: Event, order: Order, uow: UnitOfWork, where: Audience) -> None:
        """Renders a notice for a Telegram chat and queues it."""
        rendered = renderer.render(notice, event, order, where)
        if rendered is None:
            return
        params: dict[str, Any] = {**rendered.message.params, "chat_id": where.chat_id}
        if rendered.document is not None:
            params["document_id"] = await save(notice, order, uow, rendered.document, event.at)
        await uow.outbox.enqueue(
            OutboxMessage(
                where.chat_id,
                rendered.message.method,
                params,
                event.at,
                order_id=order.id,
                dedup_key=f"{notice.kind.value}:{event.id}",
            )
        )

    async def save(notice: Notice, order: Order, uow: UnitOfWork, document: Document, at: datetime) -> int:
        """Stores a generated document for the sender to upload or attach."""
        kind = DOCUMENT_KINDS.get(notice.kind, notice.kind.value)
        return await uow.reviews.save_document(order.id, kind, document.filename, document.content, at)

    async def mail(notice: Notice, event: Event, order: Order, uow: UnitOfWork, route: CustomerRoute) -> None:
        """Renders a customer notice as an email and queues it for the customer's address."""
        if routes.email is None or route.email is None:
            return
        link = None
        if route.chat_id is None and routes.bindings_of is not None and routes.bot_username:
            token = await token_for(routes.bindings_of(uow), order.id, event.at)
            link = telegram_link(routes.bot_username, token)
        language = route.language

        def as_telegram() -> Rendered | None:
            """The notice as the customer's chat would show it (the email of a notice without its own)."""
            return renderer.render(notice, event, order, Audience(0, language))

        email = routes.email.render_email(notice, event, order, language, as_telegram, link)
        if email is None:
            return
        params: dict[str, Any] = {
            "to": route.email,
            "subject": email.subject,
            "text": email.text,
            "html": email.html,
        }
        if email.attachment is not None:
            params["document_id"] = await save(notice, order, uow, email.attachment, event.at)
        if email.qr_link is not None:
            params["qr_link"] = email.qr_link
        await uow.outbox.enqueue(
            OutboxMessage(
                channel_chat_id(EMAIL_METHOD, route.email),
                EMAIL_METHOD,
                params,
                event.at,
                order_id=order.id,
                dedup_key=f"{EMAIL_METHOD}:{notice.kind.value}:{event.id}",
            )
        )

    async def tell_platform(event: OrderStatusChanged, order: Order, uow: UnitOfWork) -> None:
        """Queues the signed webhook of a status change for the platform that placed the order."""
        if routes.platform_of is None or not routes.webhooks:
            return
        link = await routes.platform_of(uow, order.id)
        if link is None or link.key_name not in routes.webhooks:
            return
        # The body is fixed now, so every retry sends the same bytes under the same event id.
        body = json.dumps(webhook_body(event, order, link), ensure_ascii=False, separators=(",", ":"))
        await uow.outbox.enqueue(
            OutboxMessage(
                channel_chat_id(WEBHOOK_METHOD, link.key_name),
                WEBHOOK_METHOD,
                {"platform": link.key_name, "event_id": event.id, "body": body},
                event.at,
                order_id=order.id,
                dedup_key=f"{WEBHOOK_METHOD}:{event.id}",
            )
        )

    async def notify(event: Event, order: Order, uow: UnitOfWork) -> None:
        """Queues every notice the policy decides for the event, on the channels routing picks."""
        route: CustomerRoute | None = None
        for notice in notices_for(event, order):
            if notice.to is not CUSTOMER:
                where = await audience(notice, event, order, uow)
                if where is not None:
                    await queue(notice, event, order, uow, where)
                continue
            route = route or await customer_route(order, uow)
            if route.chat_id is not None:
                await queue(notice, event, order, uow, Audience(route.chat_id, route.language))
            if route.chat_id is None or notice.kind in EMAIL_COPY:
                await mail(notice, event, order, uow, route)
        if route is not None and routes.sla is not None:
            # Every customer-facing change is to be told within the hour, reachable or not.
            apply_clock_events(order, [ClockEvent.CUSTOMER_FACING_CHANGE], event.at, routes.sla)
        if isinstance(event, OrderStatusChanged):
            await tell_platform(event, order, uow)

    return {event_type: [notify] for event_type in NOTIFIED_EVENTS}


async def staff_names(uow: UnitOfWork, order: Order) -> dict[int, str]:
    """The names the people of an order's trail last acted under (issue 18: names, never ids)."""
    names: dict[int, str] = {}
    for user_id in sorted({event.actor_id for event in order.audit if event.actor_id is not None}):
        name = await uow.reviews.name_of(user_id)
        if name:
            names[user_id] = name
    return names
