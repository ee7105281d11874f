"""Payment tests: the real middlewares, the payment and review routers, on the fake database with payments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update

from application.review import ReviewSetup
from bot.i18n import PoI18n
from domain.orders.model import Order
from domain.orders.status import Action, Role
from handlers import payment, review
from handlers.payment import PaymentSetup
from tests import telegram
from tests.dispatchers import routed_dispatcher
from tests.fixtures import grant_roles
from tests.payment.fakes import FakePaymentUnitOfWork, PaymentDatabase
from tests.review.conftest import (
    ADMIN_ID,
    CUSTOMER_ID,
    DESK_ID,
    T0,
    _user,
    clock,
    make_order,
    setup,
)

# The review tests' clock and setup fixtures serve here too.
__all__ = ["clock", "setup"]

PROVIDER_TOKEN = "284685063:TEST:sandbox"
Uows = Callable[[], FakePaymentUnitOfWork]


@pytest.fixture
def database() -> PaymentDatabase:
    """An empty fake database with payments."""
    return PaymentDatabase()


@pytest.fixture
def new_uow(database: PaymentDatabase) -> Uows:
    """Makes a fresh unit of work on the fake database for each call."""
    return database.unit_of_work


@pytest.fixture
def dispatcher(new_uow: Uows, i18n: PoI18n, setup: ReviewSetup) -> Dispatcher:
    """The project's middlewares in production order with the payment and review routers."""
    return routed_dispatcher(
        new_uow,
        (payment.router, review.router),
        admin_ids=[ADMIN_ID],
        i18n=i18n,
        review_setup=setup,
        payment_setup=PaymentSetup(PROVIDER_TOKEN),
    )


@pytest.fixture
async def staffed(new_uow: Uows) -> None:
    """A desk clerk in the database."""
    await grant_roles(new_uow, {Role.ORDER_DESK: (DESK_ID,)}, at=T0, by=ADMIN_ID)


def unpaid_order(*, payment_method: str = "card", language: str = "en", amount: str = "245.80") -> Order:
    """An unpaid order waiting for the first review."""
    order = make_order(language=language, amount=amount)
    order.paid = False
    order.payment_method = payment_method
    return order


def rejected_as_not_paid(order: Order) -> Order:
    """The order after the desk rejected it as not paid."""
    order.apply(Action.REJECT, actor_id=DESK_ID, roles=frozenset({Role.ORDER_DESK}), now=T0, note="not_paid")
    order.pull_events()
    return order


def _customer_message(update_id: int, message_id: int, content: dict[str, Any]) -> Update:
    """A message of the customer in their private chat, carrying this content."""
    message = {
        "message_id": message_id,
        "date": int(T0.timestamp()),
        "chat": telegram.chat(CUSTOMER_ID),
        "from": _user(CUSTOMER_ID, "en"),
        **content,
    }
    return Update.model_validate({"update_id": update_id, "message": message})


def pre_checkout(
    update_id: int,
    order: Order,
    total_amount: int,
    currency: str,
    *,
    user_id: int = CUSTOMER_ID,
    language_code: str = "en",
) -> Update:
    """Telegram's pre-checkout query for an invoice of the order."""
    return Update.model_validate(
        {
            "update_id": update_id,
            "pre_checkout_query": {
                "id": f"pc{update_id}",
                "from": _user(user_id, language_code),
                "currency": currency,
                "total_amount": total_amount,
                "invoice_payload": f"order:{order.id}",
            },
        }
    )


def successful_payment(update_id: int, order: Order, total_amount: int, currency: str, charge: str) -> Update:
    """The service message Telegram sends once it has charged the customer."""
    payment = {
        "currency": currency,
        "total_amount": total_amount,
        "invoice_payload": f"order:{order.id}",
        "telegram_payment_charge_id": charge,
        "provider_payment_charge_id": f"provider-{charge}",
    }
    return _customer_message(update_id, 20_000 + update_id, {"successful_payment": payment})


def customer_file(update_id: int, *, photo: bool = True) -> Update:
    """The customer sends a photo (or a PDF) in their private chat."""
    content: dict[str, Any]
    if photo:
        content = {
            "photo": [{"file_id": "receipt-photo", "file_unique_id": "u-rp", "width": 90, "height": 160}]
        }
    else:
        content = {
            "document": {"file_id": "receipt-pdf", "file_unique_id": "u-rd", "file_name": "receipt.pdf"}
        }
    return _customer_message(update_id, 30_000 + update_id, content)
