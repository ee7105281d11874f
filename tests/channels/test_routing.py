"""Routing customer notices (issue 12, R-5.2): the bound chat, else email; the confirmation mailed to all."""

from __future__ import annotations

from application.customer_channels import EMAIL_METHOD, WEBHOOK_METHOD, channel_chat_id
from application.ports import ApiOrderLink
from application.services import EventHandlers
from domain.orders.status import OrderStatus
from tests.channels.conftest import (
    BOT_USERNAME,
    CHAT,
    EMAIL,
    PLATFORM,
    T0,
    FakeBindings,
    change,
    customer_order,
    outbox_rows,
    store,
    stored_order,
)
from tests.fakes import FakeDatabase


def methods(database: FakeDatabase) -> list[tuple[int, str]]:
    """Where every committed outbox row goes, and by which method."""
    return [(message.chat_id, message.method) for message in database.outbox_of()]


async def test_a_customer_with_only_an_email_gets_every_update_by_email(
    database: FakeDatabase, handlers: EventHandlers
) -> None:
    order = await stored_order(database, chat=None)

    await change(database, handlers, order, OrderStatus.PICKED)

    [mail] = outbox_rows(database, EMAIL_METHOD)
    assert mail.chat_id == channel_chat_id(EMAIL_METHOD, EMAIL) < -(2**53)
    assert mail.params["to"] == EMAIL
    assert "packed at our warehouse" in mail.params["text"] and "<" not in mail.params["text"]
    assert "packed at our warehouse" in mail.params["html"]
    # No chat: the email carries the one-time link that binds one.
    assert f"https://t.me/{BOT_USERNAME}?start=" in mail.params["html"]
    assert all(chat < 0 for chat, _ in methods(database))


async def test_a_customer_with_a_chat_is_told_there_and_not_by_email(
    database: FakeDatabase, handlers: EventHandlers
) -> None:
    order = await stored_order(database, chat=CHAT)

    await change(database, handlers, order, OrderStatus.PICKED)

    assert [m.method for m in database.outbox_of(CHAT)] == ["sendMessage"]
    assert outbox_rows(database, EMAIL_METHOD) == []


async def test_the_confirmation_goes_by_email_to_a_chat_customer_too_with_the_pdf(
    database: FakeDatabase, handlers: EventHandlers
) -> None:
    order = await stored_order(database, chat=CHAT)

    await change(database, handlers, order, OrderStatus.CONFIRMED, number="20260316001")

    [text, _pdf] = database.outbox_of(CHAT)
    assert (text.method, _pdf.method) == ("sendMessage", "sendDocument")
    # Every goods line, not only the first.
    assert "Tea set" in text.params["text"] and "Silk scarf" in text.params["text"]
    [mail] = outbox_rows(database, EMAIL_METHOD)
    assert "20260316001" in mail.params["subject"]
    assert mail.params["document_id"] is not None
    # The chat is bound already: no link, no QR code.
    assert "qr_link" not in mail.params and "t.me" not in mail.params["html"]


async def test_a_customer_with_neither_chat_nor_email_gets_nothing_queued(
    database: FakeDatabase, handlers: EventHandlers
) -> None:
    order = await stored_order(database, chat=None, email=None)

    await change(database, handlers, order, OrderStatus.PICKED)

    assert [m for m in database.outbox_of() if m.chat_id > 0 or m.method == EMAIL_METHOD] == []


async def test_a_consent_for_the_phone_binds_a_later_order_to_that_chat(
    database: FakeDatabase, handlers: EventHandlers, bindings: FakeBindings
) -> None:
    order = customer_order(chat=None)
    bindings.consents.append((CHAT, order.customer.phone, None))
    await store(database, order)

    await change(database, handlers, order, OrderStatus.PICKED)

    assert [m.method for m in database.outbox_of(CHAT)] == ["sendMessage"]
    assert outbox_rows(database, EMAIL_METHOD) == []
    assert database.orders[0].customer.telegram_user_id == CHAT


async def test_a_platform_order_gets_a_webhook_for_every_status_change_with_a_stable_id(
    database: FakeDatabase, handlers: EventHandlers, platform_orders: dict[str, ApiOrderLink]
) -> None:
    order = customer_order(chat=None, email=None)
    platform_orders[order.id] = ApiOrderLink(PLATFORM, order.id, T0, external_ref="SHOP-1")
    await store(database, order)

    first = await change(database, handlers, order, OrderStatus.PENDING_REVIEW)
    second = await change(database, handlers, order, OrderStatus.AWAITING_CONFIRMATION)

    hooks = outbox_rows(database, WEBHOOK_METHOD)
    assert [hook.params["event_id"] for hook in hooks] == [first.id, second.id]
    assert {hook.chat_id for hook in hooks} == {channel_chat_id(WEBHOOK_METHOD, PLATFORM)}
    assert '"type":"order.pending_review"' in hooks[0].params["body"]
    assert '"external_ref":"SHOP-1"' in hooks[0].params["body"]


async def test_another_platforms_orders_and_chat_orders_get_no_webhook(
    database: FakeDatabase, handlers: EventHandlers, platform_orders: dict[str, ApiOrderLink]
) -> None:
    other = customer_order(chat=CHAT)
    platform_orders[other.id] = ApiOrderLink("no-hook-shop", other.id, T0)
    chat_order = customer_order(chat=CHAT)
    for order in (other, chat_order):
        await store(database, order)
        await change(database, handlers, order, OrderStatus.PICKED)

    assert outbox_rows(database, WEBHOOK_METHOD) == []
