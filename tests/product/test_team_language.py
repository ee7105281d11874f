"""Each team chat has its language: /lang in a group, by an admin or the team's head (issue 18, R-X.4)."""

from __future__ import annotations

import re
from datetime import timedelta

from domain.orders.status import OrderStatus, Role
from domain.sla.clocks import open_stage
from domain.sla.policy import Stage
from presentation.callbacks import ReviewAction, ReviewStep
from presentation.keyboards import TeamLanguageChoice
from tests.product.conftest import (
    ADMIN_ID,
    DESK_CHAT,
    DESK_ID,
    HEAD_ID,
    NOW,
    PICKER_ID,
    WAREHOUSE_CHAT,
    Product,
    buttons,
    card_message,
    grant,
    store,
    team_language_sweeper,
)
from tests.storage.factories import make_order

CJK = re.compile(r"[\u4e00-\u9fff]")
# Words of English that must not be left in a Chinese card (labels, not names or ids).
ENGLISH_WORD = re.compile(r"\b[A-Za-z]{4,}\b")


async def set_language(product: Product, chat_id: int, user_id: int, code: str) -> str:
    """Sends /lang in a team chat and presses the language; returns the last reply's text."""
    await product.say("/lang", user_id=user_id, chat_id=chat_id)
    picker = product.sent(chat_id)[-1]
    data = TeamLanguageChoice(code=code).pack()
    assert data in buttons(picker).values()
    await product.press(data, user_id=user_id, on=picker)
    edits = [r for r in product.bot.requests_for("editMessageText") if int(r.params["chat_id"]) == chat_id]
    return str(edits[-1].params["text"]) if edits else ""


async def test_a_chinese_warehouse_chat_receives_chinese_cards_and_the_desk_english_ones(
    product: Product,
) -> None:
    await grant(product, Role.ORDER_DESK, DESK_ID)
    await grant(product, Role.ORDER_DESK_HEAD, HEAD_ID)
    await grant(product, Role.WAREHOUSE, PICKER_ID)
    assert (
        await set_language(product, WAREHOUSE_CHAT, ADMIN_ID, "zh")
        == "完成：从现在起，本群的卡片和提醒使用中文。"
    )

    # Paid, as first review requires (issue 12).
    order = make_order(status=OrderStatus.PENDING_REVIEW)
    order.paid = True
    order = await store(product, order)
    approve = ReviewAction(order_id=order.id, action=ReviewStep.APPROVE, stage=1).pack()
    await product.press(
        approve, user_id=DESK_ID, on=card_message(DESK_CHAT, f"Review card {order.reference}")
    )
    # The factory's order needs the head's second review too; its card names the first reviewer.
    second_card = [m for m in await product.outbox(DESK_CHAT) if m.order_id == order.id][-1]
    assert "First review passed by: Olivia Desk" in second_card.params["text"]
    assert str(DESK_ID) not in second_card.params["text"]
    second = ReviewAction(order_id=order.id, action=ReviewStep.APPROVE, stage=2).pack()
    await product.press(
        second, user_id=HEAD_ID, on=card_message(DESK_CHAT, f"Review card {order.reference}", 78)
    )

    [card] = [m for m in await product.outbox(WAREHOUSE_CHAT) if m.order_id == order.id]
    text = re.sub(r"<[^>]+>", "", card.params["text"])
    assert CJK.search(text)
    # Only names, goods and addresses the customer wrote stay in Latin letters.
    allowed = {"Tea", "Silk", "scarf", "Berlin", "Unter", "Linden", "ring", "twice", "Wei"}
    # The order's reference is an id people read as it is (random letters, e.g. R-ASFMRASX).
    assert set(ENGLISH_WORD.findall(text.replace(order.reference, ""))) <= allowed, text
    labels = [b["text"] for row in card.params["reply_markup"]["inline_keyboard"] for b in row]
    assert all(CJK.search(label) for label in labels), labels
    # The desk's chat chose nothing: its notices stay in the default language.
    assert (await product.order(order.reference)).status is OrderStatus.CONFIRMED
    [desk_card] = [m for m in await product.outbox(DESK_CHAT) if m.order_id == order.id][-1:]
    assert not CJK.search(re.sub(r"<[^>]+>", "", desk_card.params["text"]).replace("Li Wei", ""))


async def test_only_an_admin_or_the_teams_head_sets_a_team_chats_language(product: Product) -> None:
    await grant(product, Role.WAREHOUSE, PICKER_ID)
    await grant(product, Role.ORDER_DESK_HEAD, HEAD_ID)

    await product.say("/lang", user_id=PICKER_ID, chat_id=WAREHOUSE_CHAT)
    assert "Only an administrator or this team's head" in product.sent(WAREHOUSE_CHAT)[-1].params["text"]
    await product.say("/lang", user_id=HEAD_ID, chat_id=WAREHOUSE_CHAT)
    assert "Only an administrator or this team's head" in product.sent(WAREHOUSE_CHAT)[-1].params["text"]
    # A forged press is checked against the database again.
    picker = product.sent(WAREHOUSE_CHAT)[-1]
    await product.press(TeamLanguageChoice(code="zh").pack(), user_id=PICKER_ID, on=picker)
    assert "Only an administrator" in product.bot.requests_for("answerCallbackQuery")[-1].params["text"]

    assert (
        await set_language(product, DESK_CHAT, HEAD_ID, "zh") == "完成：从现在起，本群的卡片和提醒使用中文。"
    )


async def test_lang_in_a_group_that_is_no_team_chat_says_so(product: Product) -> None:
    await product.say("/lang", user_id=ADMIN_ID, chat_id=-1009999999999)

    assert "not a team chat" in product.sent(-1009999999999)[-1].params["text"]


async def test_sla_alerts_reach_a_chinese_warehouse_in_chinese_and_the_desk_in_english(
    product: Product,
) -> None:
    await set_language(product, WAREHOUSE_CHAT, ADMIN_ID, "zh")
    order = make_order(status=OrderStatus.CONFIRMED)
    open_stage(order, Stage.PICKING, NOW - timedelta(hours=30), product.workflow.sla)
    await store(product, order)
    sweeper = team_language_sweeper(product)

    report = await sweeper.sweep()

    assert report.breaches == 1
    [alert] = [m for m in await product.outbox(WAREHOUSE_CHAT) if m.order_id == order.id]
    text = re.sub(r"<[^>]+>", "", alert.params["text"])
    assert "时限超时" in text and "拣货" in text and "SLA breach" not in text
    labels = [b["text"] for row in alert.params["reply_markup"]["inline_keyboard"] for b in row]
    assert all(CJK.search(label) for label in labels), labels
