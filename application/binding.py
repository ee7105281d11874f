"""Binding a customer's Telegram chat to an order through a one-time link (issue 12, R-1.1, R-5.2).

A platform or offline order has no chat the bot may trust: a Telegram user id in a platform's
request body is ignored. Instead the order gets a one-time token; the link
`https://t.me/<bot>?start=<token>` opens the bot with `/start <token>`, and that chat becomes the
order's. After binding, the customer may agree that their later orders with the same phone or
email go to the same chat; routing (application/customer_channels.py) asks the consents.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.ports import UnitOfWork
from domain.errors import OrderNotFound
from domain.orders.model import Order
from domain.orders.status import Role

# Telegram's deep-link parameter: up to 64 of A-Z, a-z, 0-9, _ and -; 32 random characters here.
TOKEN_BYTES = 24
BOUND_ACTION = "chat_bound"
CONSENT_ACTION = "chat_consent"


class BindingRepository(Protocol):
    """One-time link tokens and the consents for later orders, in the caller's transaction."""

    async def issue(self, token: str, order_id: str, at: datetime) -> None: ...

    async def unused_token(self, order_id: str) -> str | None: ...

    async def take(self, token: str, chat_id: int, at: datetime) -> str | None: ...

    async def agree(self, chat_id: int, phone: str | None, email: str | None, at: datetime) -> None: ...

    async def chat_for(self, phone: str | None, email: str | None) -> int | None: ...


# The binding repository on a unit of work's transaction (storage implements it on the SQL session).
BindingsOf = Callable[[UnitOfWork], BindingRepository]


def new_token() -> str:
    """A random token that fits Telegram's deep-link parameter."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def telegram_link(bot_username: str, token: str) -> str:
    """The t.me link that opens the bot with `/start <token>`."""
    return f"https://t.me/{bot_username}?start={token}"


async def token_for(bindings: BindingRepository, order_id: str, at: datetime) -> str:
    """Returns the order's unused token, issuing one if it has none (in the caller's transaction)."""
    token = await bindings.unused_token(order_id)
    if token is None:
        token = new_token()
        await bindings.issue(token, order_id, at)
    return token


async def binding_token(uow: UnitOfWork, bindings_of: BindingsOf, order_id: str, at: datetime) -> str:
    """Returns the order's one-time token in a transaction of its own (the API's telegram_link)."""
    async with uow:
        token = await token_for(bindings_of(uow), order_id, at)
        await uow.commit()
    return token


@dataclass(frozen=True)
class Bound:
    """A chat bound to an order: the order, and whether it asked for consent about later orders."""

    order: Order
    may_ask_consent: bool


async def bind_chat(
    uow: UnitOfWork, bindings_of: BindingsOf, token: str, chat_id: int, at: datetime
) -> Bound | None:
    """Binds the chat to the token's order, once; None for an unknown or used token."""
    async with uow:
        order_id = await bindings_of(uow).take(token, chat_id, at)
        if order_id is None:
            return None
        try:
            order = await uow.orders.get(order_id)
        except OrderNotFound:
            return None
        order.customer.telegram_user_id = chat_id
        order.note("", actor_id=chat_id, role=Role.CUSTOMER, now=at, action=BOUND_ACTION)
        await uow.commit()
    contact = order.customer.phone or order.customer.email
    return Bound(order, may_ask_consent=contact is not None)


async def agree_to_later_orders(
    uow: UnitOfWork, bindings_of: BindingsOf, order_id: str, chat_id: int, at: datetime
) -> Order | None:
    """Records that the chat's later orders with this order's phone or email go to it.

    Only the chat the order is bound to may agree (checked against the database, not the button).
    """
    async with uow:
        try:
            order = await uow.orders.get(order_id)
        except OrderNotFound:
            return None
        if order.customer.telegram_user_id != chat_id:
            return None
        await bindings_of(uow).agree(chat_id, order.customer.phone, order.customer.email, at)
        order.note("", actor_id=chat_id, role=Role.CUSTOMER, now=at, action=CONSENT_ACTION)
        await uow.commit()
    return order
