"""Routing a customer notice to the customer's channel: their chat, email or platform webhook (issue 12).

The notification policy (application/notifications.py) says who is told; this says how a customer is
reached when they have no chat, and closes the customer-told clock when a notice is delivered (R-5.2).
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from application.binding import BindingsOf
from application.notifications import Notice, NoticeKind, Rendered
from application.ports import ApiOrderLink, Document, OutboxMessage, UnitOfWork
from domain.errors import ConcurrentModification, OrderNotFound
from domain.orders.events import (
    Event,
    OrderStatusChanged,
)
from domain.orders.model import Order
from domain.sla.clocks import SlaContext, apply_clock_events, running_clock
from domain.sla.policy import ClockEvent, Stage

# Outbox methods of the channels that are not Telegram (scheduler/channels.py delivers them).
EMAIL_METHOD = "email"
WEBHOOK_METHOD = "webhook"
CHANNEL_METHODS = frozenset({EMAIL_METHOD, WEBHOOK_METHOD})
# Telegram chat ids fit in 52 bits; the channels' recipients get ids below -2**53, one per recipient,
# so the outbox keeps each recipient's messages in order and one recipient's retries hold up no other.
_CHANNEL_CHAT_BASE = 2**53
# Notices every customer with an address also gets by email, whatever their chat.
EMAIL_COPY = frozenset({NoticeKind.CONFIRMATION})


def channel_chat_id(method: str, recipient: str) -> int:
    """The outbox chat id of one email address or platform: never a Telegram chat's."""
    digest = hashlib.sha256(f"{method}:{recipient.casefold()}".encode()).digest()
    return -(_CHANNEL_CHAT_BASE + int.from_bytes(digest[:7], "big"))


@dataclass(frozen=True)
class Email:
    """A rendered email: subject, plain text and HTML, the document attached, the link its QR code shows."""

    subject: str
    text: str
    html: str
    attachment: Document | None = None
    qr_link: str | None = None


# Renders the notice as Telegram would show it, on demand (only notices without email wording need it).
TelegramRendering = Callable[[], "Rendered | None"]


class EmailRenderer(Protocol):
    """Words of the customer's emails; `telegram` gives the notice as Telegram shows it, for the rest."""

    def render_email(
        self,
        notice: Notice,
        event: Event,
        order: Order,
        language: str,
        telegram: TelegramRendering,
        link: str | None,
    ) -> Email | None: ...


# Which platform API key created an order, if one did (in the caller's transaction).
PlatformLookup = Callable[[UnitOfWork, str], Awaitable[ApiOrderLink | None]]


@dataclass(frozen=True)
class CustomerChannels:
    """What routing needs beyond Telegram: email, chat bindings, platform webhooks, the told clock."""

    email: EmailRenderer | None = None
    bindings_of: BindingsOf | None = None
    bot_username: str | None = None
    platform_of: PlatformLookup | None = None
    # Names of the API keys (platforms) that have a webhook URL (API_WEBHOOKS).
    webhooks: frozenset[str] = frozenset()
    sla: SlaContext | None = None


@dataclass(frozen=True)
class CustomerRoute:
    """Where the customer of an order is told: their chat, their email address, and the language."""

    chat_id: int | None
    email: str | None
    language: str


def webhook_body(event: OrderStatusChanged, order: Order, link: ApiOrderLink) -> dict[str, Any]:
    """The JSON document a platform receives about one status change of its order (fixed once queued)."""
    shipment = order.shipment
    tracking = {
        key: value
        for key, value in (
            ("carrier", shipment.carrier),
            ("waybill", shipment.waybill),
            ("eta", shipment.eta.isoformat() if shipment.eta else None),
        )
        if value is not None
    }
    return {
        "id": event.id,
        "type": f"order.{event.to_status.value}",
        "created_at": event.at.isoformat(),
        "order": {
            "reference": order.reference,
            "number": order.number,
            "status": event.to_status.value,
            "previous_status": event.from_status.value,
            "external_ref": link.external_ref,
            "service": order.service.value,
            "amount": f"{order.amount:.2f}",
            "currency": order.currency,
            "paid": order.paid,
            "tracking": tracking,
        },
    }


def told_customer(message: OutboxMessage, order: Order) -> bool:
    """Whether a delivered outbox message told the order's customer (their chat, email or platform)."""
    if message.method in CHANNEL_METHODS:
        return True
    return order.customer.telegram_user_id is not None and message.chat_id == order.customer.telegram_user_id


async def record_delivery(
    uow: UnitOfWork, message: OutboxMessage, delivered_at: datetime, sla: SlaContext
) -> bool:
    """Closes the order's "customer told" clock when a notice of a change since it opened reached them.

    Returns whether a clock closed. A notice older than the running clock (of an earlier change)
    does not close it; a lost race with a staff action is retried once.
    """
    if message.order_id is None:
        return False
    if message.method not in CHANNEL_METHODS and message.chat_id <= 0:
        # A group chat (a team's) is never the customer's: no need to load the order.
        return False
    for attempt in (1, 2):
        try:
            async with uow:
                order = await uow.orders.get(message.order_id)
                clock = running_clock(order, Stage.CUSTOMER_NOTICE)
                stale = clock is None or message.created_at < clock.started_at
                if stale or not told_customer(message, order):
                    return False
                apply_clock_events(order, [ClockEvent.NOTICE_DELIVERED], delivered_at, sla)
                await uow.commit()
                return True
        except OrderNotFound:
            return False
        except ConcurrentModification:
            if attempt == 2:
                raise
    return False
