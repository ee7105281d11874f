"""/myorders and /track show a customer their own orders only, in customer words (R-1)."""

from __future__ import annotations

import pytest

from tests.intake.conftest import Chat, ChatFactory, answer_up_to_preview, confirm


async def place(customer: Chat) -> str:
    """Places a small order; returns its reference."""
    await answer_up_to_preview(customer)
    return await confirm(customer)


async def test_each_customer_sees_and_tracks_only_their_own_orders(chat: ChatFactory) -> None:
    ann, bob = chat(user_id=100, first_name="Ann"), chat(user_id=200, first_name="Bob")
    ann_order, bob_order = await place(ann), await place(bob)

    await ann.send("/myorders")
    assert ann_order in ann.text
    assert bob_order not in ann.text
    assert "being checked by our order desk" in ann.text

    await ann.send(f"/track {ann_order.lower()}")
    assert f"<b>Order {ann_order}</b>" in ann.text
    assert "Now: being checked by our order desk" in ann.text
    assert "2026-03-02 10:00 — Order received" in ann.text
    assert "Details checked" in ann.text
    assert "pending_review" not in ann.text
    assert "submitted via" not in ann.text

    await ann.send(f"/track {bob_order}")
    not_yours = ann.text
    await ann.send("/track R-ZZZZZZZZ")
    assert not_yours == ann.text.replace("R-ZZZZZZZZ", bob_order)
    assert "I found no order" in not_yours


async def test_my_orders_button_and_empty_list(chat: ChatFactory) -> None:
    ann = chat()

    await ann.send("My orders")

    assert ann.text == "You have no orders yet. Place one with /neworder."


@pytest.mark.parametrize(
    ("command", "reply"),
    [("/track", "Send /track and the order’s reference or number"), ("/track <b>&", "&lt;b&gt;&amp;")],
    ids=["without a reference it explains itself", "it escapes what it quotes"],
)
async def test_track_answers_a_bad_reference(chat: ChatFactory, command: str, reply: str) -> None:
    ann = chat()

    await ann.send(command)

    assert reply in ann.text
