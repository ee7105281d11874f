"""Offline orders by order-desk staff: channel, time received, urgency, consent, late entry (R-1.3, R-1.4)."""

from __future__ import annotations

import pytest

from domain.intake.drafts import LATE_ENTRY_ACTION
from domain.orders.status import Channel, OrderStatus, Role
from tests.fakes import FakeDatabase
from tests.intake.conftest import (
    Chat,
    ChatFactory,
    answer_small_order,
    find_order,
    grant,
    reference_in,
    start_offline_order,
)

DESK_ID = 300


async def answer_offline_order(desk: Chat, *, received: str, urgent: bool) -> None:
    """Enters an offline order up to its preview."""
    await start_offline_order(desk, received=received, urgent=urgent)
    await answer_small_order(desk, name="Wang Wei", payment="Bank transfer")


@pytest.mark.parametrize(
    ("received", "urgent", "late_minutes"),
    [("08:30", False, 90), ("09:20", False, None), ("09:20", True, 40), ("2026-03-02 09:45", True, None)],
)
async def test_an_offline_order_is_entered_and_late_entry_is_recorded(
    chat: ChatFactory,
    database: FakeDatabase,
    received: str,
    urgent: bool,
    late_minutes: int | None,
) -> None:
    await grant(database, DESK_ID, Role.ORDER_DESK)
    desk = chat(user_id=DESK_ID, first_name="Desk")
    await answer_offline_order(desk, received=received, urgent=urgent)

    assert "Order channel: ☎ Hotline" in desk.text
    assert f"Urgent: {'yes' if urgent else 'no'}" in desk.text
    assert "☐ Customer confirmed the details" in desk.labels()

    await desk.press("Submit order")
    assert "the customer has not confirmed the order yet" in desk.text
    await desk.press("Customer confirmed the details")
    assert "☑ Customer confirmed the details" in desk.labels()
    await desk.press("Submit order")

    assert "is entered and waits for review" in desk.text
    order = await find_order(database, reference_in(desk.text))
    assert order is not None
    assert (order.channel, order.entered_by, order.urgent, order.status) == (
        Channel.HOTLINE,
        DESK_ID,
        urgent,
        OrderStatus.PENDING_REVIEW,
    )
    assert order.customer.telegram_user_id is None
    late = [event for event in order.audit if event.action == LATE_ENTRY_ACTION]
    if late_minutes is None:
        assert late == []
        assert "late entry" not in desk.text
    else:
        limit = 30 if urgent else 60
        assert len(late) == 1
        assert f"entered {late_minutes} min after receipt; the limit is {limit} min" in desk.text


async def test_the_time_received_must_be_a_time_and_not_in_the_future(
    chat: ChatFactory, database: FakeDatabase
) -> None:
    await grant(database, DESK_ID, Role.ORDER_DESK_HEAD)
    desk = chat(user_id=DESK_ID)
    await desk.send("/offline")
    await desk.press("Service point")

    await desk.send("noon")
    assert "<b>Time received</b>: “noon” is not a time" in desk.text
    await desk.send("10:30")
    assert "the time received (2026-03-02 10:30) is later than now (2026-03-02 10:00)" in desk.text
    await desk.press("Just now")
    assert "Is the order urgent?" in desk.text


@pytest.mark.parametrize("role", [None, Role.WAREHOUSE], ids=["a customer", "a warehouse worker"])
async def test_only_order_desk_staff_can_enter_offline_orders(
    chat: ChatFactory, database: FakeDatabase, role: Role | None
) -> None:
    if role is not None:
        await grant(database, 301, role)
    user = chat(user_id=301)

    await user.send("/offline")

    assert user.text == "Only order-desk staff can enter offline orders."
    # No wizard started: the next text is not taken as an answer (it gets the leftover reply, issue 18).
    [reply] = await user.send("Hotline")
    assert "/help" in reply.params["text"] or reply.params["text"].startswith("Customer service")
