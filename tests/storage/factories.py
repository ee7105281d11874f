"""Builds domain objects for storage tests."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.orders.model import Address, Customer, Item, Order, new_reference
from domain.orders.status import Action, Channel, OrderStatus, Role, Service

T0 = datetime(2026, 3, 15, 1, 30, tzinfo=UTC)
CUSTOMER_ID = 555_000_111


def make_order(
    *,
    status: OrderStatus = OrderStatus.SUBMITTED,
    telegram_user_id: int = CUSTOMER_ID,
    created_at: datetime = T0,
) -> Order:
    """Makes an air-freight order with two items, not yet stored."""
    return Order(
        id=str(uuid.uuid4()),
        reference=new_reference(),
        customer=Customer(
            "Li Wei",
            phone="+8613800138000",
            email="li.wei@example.com",
            telegram_user_id=telegram_user_id,
            language="zh",
        ),
        address=Address(country="DE", city="Berlin", street="Unter den Linden 1", postcode="10117"),
        items=[
            Item("Tea set", 2, Decimal("1.250"), Decimal("39.90"), sku="TEA-01", fragile=True),
            Item("Silk scarf", 5, Decimal("0.1"), Decimal("12.5")),
        ],
        service=Service.AIR_FREIGHT,
        payment_method="card",
        amount=Decimal("245.80"),
        currency="EUR",
        channel=Channel.TELEGRAM,
        created_at=created_at,
        status=status,
        remarks="ring twice",
        received_at=created_at,
    )


def reviewed_order() -> Order:
    """Makes an order that passed validation and waits for review, with an open review clock."""
    order = make_order()
    order.apply(Action.PASS_VALIDATION, actor_id=None, roles=frozenset({Role.SYSTEM}), now=T0)
    order.open_clock("review", started_at=T0, due_at=T0 + timedelta(hours=2))
    return order
