"""The review flow through the fake Bot API and the fake unit of work (R-3.1, R-3.2, R-3.3, R-P)."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update

from application.ports import OutboxMessage
from application.review import ReviewSetup
from application.services import Actor, EventHandlers, perform_action
from domain.clock import FixedClock
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus, Role
from presentation.callbacks import ReviewAction, ReviewStep
from tests.fakes import FakeDatabase
from tests.fixtures import load, store
from tests.mocked_bot import MockedBot
from tests.review.conftest import (
    ADMIN_ID,
    CUSTOMER_ID,
    DESK2_ID,
    DESK_CHAT,
    DESK_ID,
    HEAD2_ID,
    HEAD_ID,
    NAMES,
    OTHER_CHAT,
    OTHER_CUSTOMER_ID,
    WAREHOUSE_ID,
    Card,
    Uows,
    alerts,
    buttons,
    card_of,
    command,
    count_audit,
    deliver,
    make_order,
    outbox,
    press,
    sent_texts,
)

NUMBER = re.compile(r"^20260315\d{3,}$")


def approve_data(order_id: str, stage: int = 1) -> str:
    """The Approve button's data."""
    return ReviewAction(order_id=order_id, action=ReviewStep.APPROVE, stage=stage).pack()


async def feed(dispatcher: Dispatcher, bot: MockedBot, update: Update) -> None:
    """Feeds one update through the dispatcher."""
    await dispatcher.feed_update(bot, update)


async def validated_with_card(
    new_uow: Uows, setup: ReviewSetup, database: FakeDatabase, **kwargs: Any
) -> Card:
    """Stores a submitted order, passes validation with the card handler wired, and returns its card."""
    order = make_order(**kwargs)
    order.status = OrderStatus.SUBMITTED
    order.audit.clear()
    await store(new_uow, order)
    handlers: EventHandlers = setup.handlers
    system = Actor(None, frozenset({Role.SYSTEM}))
    await perform_action(new_uow(), order.id, Action.PASS_VALIDATION, system, setup.clock, handlers=handlers)
    cards = [m for m in await outbox(database, DESK_CHAT) if m.order_id == order.id]
    assert len(cards) == 1
    return card_of(cards[0])


async def order_id_of(card: Card, new_uow: Uows) -> str:
    """Finds the order a card is about by the reference it shows."""
    reference = re.search(r"R-[0-9A-Z]{8}", card.text)
    assert reference is not None
    async with new_uow() as uow:
        order = await uow.orders.find(reference.group(0))
    assert order is not None
    return order.id


ValidatedCard = Callable[..., Awaitable[tuple[Card, str]]]


@pytest.fixture
def validated(new_uow: Uows, setup: ReviewSetup, database: FakeDatabase) -> ValidatedCard:
    """Validates a submitted make_order(**kwargs); returns its review card and the id of the order shown."""

    async def validate(**kwargs: Any) -> tuple[Card, str]:
        card = await validated_with_card(new_uow, setup, database, **kwargs)
        return card, await order_id_of(card, new_uow)

    return validate


class Desk:
    """The staffed order desk reviewing cards: the production dispatcher on the fake database."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        bot: MockedBot,
        uows: Uows,
        database: FakeDatabase,
        validated: ValidatedCard,
    ) -> None:
        self.dispatcher, self.bot, self.uows, self.database = dispatcher, bot, uows, database
        self.validated = validated

    async def feed(self, update: Update) -> None:
        """Feeds one update through the dispatcher."""
        await self.dispatcher.feed_update(self.bot, update)

    async def load(self, order_id: str) -> Order:
        """Reads the order as it is stored now."""
        return await load(self.uows, order_id)

    async def outbox(self, chat_id: int) -> list[OutboxMessage]:
        """The messages queued for a chat."""
        return await outbox(self.database, chat_id)


@pytest.fixture
def desk(
    staffed: None,
    dispatcher: Dispatcher,
    mocked_bot: MockedBot,
    new_uow: Uows,
    database: FakeDatabase,
    validated: ValidatedCard,
) -> Desk:
    """The staffed order desk, with a validate-and-post-the-card step."""
    return Desk(dispatcher, mocked_bot, new_uow, database, validated)


async def test_validated_order_posts_an_escaped_review_card_that_passes_the_spec(
    new_uow: Uows, setup: ReviewSetup, database: FakeDatabase, mocked_bot: MockedBot
) -> None:
    order = make_order()
    order.status = OrderStatus.SUBMITTED
    await store(new_uow, order)
    handlers: EventHandlers = setup.handlers
    system = Actor(None, frozenset({Role.SYSTEM}))

    await perform_action(new_uow(), order.id, Action.PASS_VALIDATION, system, setup.clock, handlers=handlers)

    [card] = await outbox(database, DESK_CHAT)
    assert card.method == "sendMessage"
    assert order.reference in card.params["text"]
    assert "Li &lt;b&gt;Wei&lt;/b&gt; &amp; Co" in card.params["text"]
    assert approve_data(order.id) in buttons(card)
    await deliver(mocked_bot, [card], new_uow)
    assert mocked_bot.requests_for("sendMessage")


async def test_approve_confirms_with_a_number_and_queues_text_and_pdf_for_the_customer(desk: Desk) -> None:
    card, order_id = await desk.validated()

    await desk.feed(press(1, approve_data(order_id), user_id=DESK_ID, card=card))

    order = await desk.load(order_id)
    assert order.status is OrderStatus.CONFIRMED
    assert order.number is not None and NUMBER.match(order.number)
    actions = [event.action for event in order.audit]
    assert actions[-3:] == ["approve", "confirm", "assign_number"]
    assert order.audit[-3].actor_id == DESK_ID and order.audit[-3].actor_role is Role.ORDER_DESK
    to_customer = await desk.outbox(CUSTOMER_ID)
    assert [m.method for m in to_customer] == ["sendMessage", "sendDocument"]
    assert order.number in to_customer[0].params["text"]
    assert "您的订单已确认" in to_customer[0].params["text"]
    assert "Li &lt;b&gt;Wei&lt;/b&gt;" in to_customer[0].params["text"]
    await deliver(desk.bot, to_customer, desk.uows)
    [document] = desk.bot.requests_for("sendDocument")
    assert document.files
    [edit] = desk.bot.requests_for("editMessageText")
    assert "Approved and confirmed as " + order.number in edit.params["text"]
    assert "Dora Desk" in edit.params["text"]
    assert "reply_markup" not in edit.params


async def test_large_order_needs_the_head_and_the_same_person_cannot_do_both_reviews(desk: Desk) -> None:
    card, order_id = await desk.validated(amount="2000.00")

    await desk.feed(press(1, approve_data(order_id), user_id=HEAD_ID, card=card))

    order = await desk.load(order_id)
    assert order.status is OrderStatus.PENDING_SECOND_REVIEW
    assert order.audit[-1].note == "large_amount"
    head_cards = [m for m in await desk.outbox(DESK_CHAT) if (m.dedup_key or "").startswith("review-card:")]
    assert len(head_cards) == 2
    head_card = card_of(head_cards[-1], message_id=78)
    assert "Second review" in head_card.text and "large amount" in head_card.text
    assert approve_data(order_id, 2) in buttons(head_cards[-1])

    await desk.feed(press(2, approve_data(order_id, 2), user_id=HEAD_ID, card=head_card))
    await desk.feed(press(3, approve_data(order_id, 2), user_id=DESK2_ID, card=head_card))

    assert (await desk.load(order_id)).status is OrderStatus.PENDING_SECOND_REVIEW
    assert "you did the first review" in alerts(desk.bot)[-2]
    assert "Only the order desk head" in alerts(desk.bot)[-1]

    await desk.feed(press(4, approve_data(order_id, 2), user_id=HEAD2_ID, card=head_card))

    order = await desk.load(order_id)
    assert order.status is OrderStatus.CONFIRMED and order.number is not None
    approvals = [e for e in order.audit if e.action == "approve_second"]
    assert [(e.actor_id, e.actor_role) for e in approvals] == [(HEAD2_ID, Role.ORDER_DESK_HEAD)]


async def test_second_reviewer_must_not_have_entered_the_order(desk: Desk) -> None:
    card, order_id = await desk.validated(amount="2000.00", entered_by=HEAD2_ID)
    await desk.feed(press(1, approve_data(order_id), user_id=DESK_ID, card=card))
    head_card = card_of((await desk.outbox(DESK_CHAT))[-1], message_id=78)

    await desk.feed(press(2, approve_data(order_id, 2), user_id=HEAD2_ID, card=head_card))

    assert (await desk.load(order_id)).status is OrderStatus.PENDING_SECOND_REVIEW
    assert "entered this order" in alerts(desk.bot)[-1]


async def test_reject_with_a_reason_tells_a_chinese_customer_and_offers_fix_and_cancel(desk: Desk) -> None:
    card, order_id = await desk.validated()
    reject = ReviewAction(order_id=order_id, action=ReviewStep.REJECT).pack()
    not_paid = ReviewAction(order_id=order_id, action=ReviewStep.NOT_PAID).pack()

    await desk.feed(press(1, reject, user_id=DESK_ID, card=card))
    [picker] = desk.bot.requests_for("editMessageReplyMarkup")
    assert not_paid in str(picker.params["reply_markup"])
    await desk.feed(press(2, not_paid, user_id=DESK_ID, card=card))

    order = await desk.load(order_id)
    assert order.status is OrderStatus.REJECTED
    assert order.audit[-1].note == "not_paid"
    [message] = await desk.outbox(CUSTOMER_ID)
    assert "未付款" in message.params["text"] and "我们尚未收到您的付款" in message.params["text"]
    # Not only "Fix -> pick the method -> still unpaid" (issue 12): how to pay, with Pay now first.
    assert buttons(message) == [f"pay:{order_id}:inv", f"fix:{order_id}:payment", f"co:{order_id}:cancel"]
    await deliver(desk.bot, [message], desk.uows)

    cancel = f"co:{order_id}:cancel"
    customer_view = Card(CUSTOMER_ID, 90, "rejected")
    await desk.feed(press(3, cancel, user_id=OTHER_CUSTOMER_ID, card=customer_view))
    assert (await desk.load(order_id)).status is OrderStatus.REJECTED
    await desk.feed(press(4, cancel, user_id=CUSTOMER_ID, card=customer_view))
    assert (await desk.load(order_id)).status is OrderStatus.CANCELLED


async def test_reject_for_another_reason_takes_free_text_and_escapes_it(desk: Desk) -> None:
    card, order_id = await desk.validated(language="en")
    other = ReviewAction(order_id=order_id, action=ReviewStep.OTHER).pack()

    await desk.feed(press(1, other, user_id=DESK_ID, card=card))
    await desk.feed(command(2, "Route <closed> & suspended", user_id=DESK_ID, chat_id=DESK_CHAT))

    order = await desk.load(order_id)
    assert order.status is OrderStatus.REJECTED
    assert order.audit[-1].note == "other: Route <closed> & suspended"
    [message] = await desk.outbox(CUSTOMER_ID)
    assert "Route &lt;closed&gt; &amp; suspended" in message.params["text"]
    assert "Other reason" in message.params["text"]


async def test_pressing_approve_twice_changes_the_order_once(desk: Desk, clock: FixedClock) -> None:
    card, order_id = await desk.validated()
    clock.advance(timedelta(minutes=5))

    await desk.feed(press(1, approve_data(order_id), user_id=DESK_ID, card=card))
    await desk.feed(press(2, approve_data(order_id), user_id=DESK2_ID, card=card))

    assert alerts(desk.bot)[-1] == "Already handled by Dora Desk at 2026-03-15 09:35."
    assert count_audit(desk.database, order_id, "approve") == 1
    assert len(await desk.outbox(CUSTOMER_ID)) == 2


@pytest.mark.parametrize(
    ("user_id", "chat_id", "refusal"),
    [
        (CUSTOMER_ID, DESK_CHAT, "Only the order desk"),
        (WAREHOUSE_ID, DESK_CHAT, "Only the order desk"),
        (DESK_ID, OTHER_CHAT, "order-desk chat"),
        (DESK2_ID, DESK_ID, "order-desk chat"),
    ],
)
async def test_wrong_role_or_wrong_chat_changes_nothing(
    desk: Desk, user_id: int, chat_id: int, refusal: str
) -> None:
    card, order_id = await desk.validated()
    elsewhere = Card(chat_id, card.message_id, card.text)

    await desk.feed(press(1, approve_data(order_id), user_id=user_id, card=elsewhere))

    assert (await desk.load(order_id)).status is OrderStatus.PENDING_REVIEW
    assert refusal in alerts(desk.bot)[-1]
    assert await desk.outbox(CUSTOMER_ID) == []


@pytest.mark.parametrize("forgery", ["other_order", "unknown_action", "mangled", "unknown_order"])
async def test_forged_callbacks_change_nothing(desk: Desk, forgery: str) -> None:
    card, order_id = await desk.validated()
    other = await store(desk.uows, make_order())
    data = {
        "other_order": approve_data(other.id),
        "unknown_action": f"rv:{order_id}:zz:1",
        "mangled": f"rv:{order_id}",
        "unknown_order": approve_data("00000000-0000-0000-0000-000000000000"),
    }[forgery]

    await desk.feed(press(1, data, user_id=DESK_ID, card=card))

    assert (await desk.load(order_id)).status is OrderStatus.PENDING_REVIEW
    assert (await desk.load(other.id)).status is OrderStatus.PENDING_REVIEW
    assert await desk.outbox(CUSTOMER_ID) == []


async def test_ask_customer_relays_the_question_and_the_answer_comes_back_under_the_card(desk: Desk) -> None:
    card, order_id = await desk.validated(language="en")
    ask = ReviewAction(order_id=order_id, action=ReviewStep.ASK).pack()

    await desk.feed(press(1, ask, user_id=DESK_ID, card=card))
    await desk.feed(command(2, "Which <customs> agent?", user_id=DESK_ID, chat_id=DESK_CHAT))

    [question] = await desk.outbox(CUSTOMER_ID)
    assert "Which &lt;customs&gt; agent?" in question.params["text"]
    [answer_button] = buttons(question)
    await desk.feed(press(3, answer_button, user_id=CUSTOMER_ID, card=Card(CUSTOMER_ID, 91, "question")))
    await desk.feed(command(4, "DHL, please", user_id=CUSTOMER_ID))

    relayed = (await desk.outbox(DESK_CHAT))[-1]
    assert "DHL, please" in relayed.params["text"]
    assert relayed.params["reply_parameters"]["message_id"] == card.message_id
    order = await desk.load(order_id)
    assert [e.action for e in order.audit][-2:] == ["ask_customer", "customer_answer"]
    await deliver(desk.bot, [question, relayed], desk.uows)


@pytest.mark.usefixtures("staffed")
async def test_queue_lists_orders_waiting_with_age_and_time_left(
    dispatcher: Dispatcher, new_uow: Uows, setup: ReviewSetup, mocked_bot: MockedBot, clock: FixedClock
) -> None:
    order = await store(new_uow, make_order())
    clock.advance(timedelta(minutes=30))

    await feed(dispatcher, mocked_bot, command(1, "/queue", user_id=DESK_ID, chat_id=DESK_CHAT))
    await feed(dispatcher, mocked_bot, command(2, "/queue", user_id=CUSTOMER_ID))

    staff_view, customer_view = sent_texts(mocked_bot)
    assert order.reference in staff_view
    assert "waiting 0h 30m, 1h 30m left" in staff_view
    assert order.reference not in customer_view


@pytest.mark.usefixtures("staffed")
async def test_order_card_shows_staff_the_timeline_and_hides_other_customers_orders(
    dispatcher: Dispatcher, new_uow: Uows, mocked_bot: MockedBot
) -> None:
    order = await store(new_uow, make_order())

    await dispatcher.feed_update(
        mocked_bot, command(1, f"/order {order.reference}", user_id=OTHER_CUSTOMER_ID)
    )
    await feed(dispatcher, mocked_bot, command(2, f"/order {order.reference}", user_id=CUSTOMER_ID))
    await dispatcher.feed_update(
        mocked_bot, command(3, f"/order {order.reference}", user_id=DESK_ID, chat_id=DESK_CHAT)
    )

    stranger, owner, clerk = mocked_bot.requests_for("sendMessage")
    assert stranger.params["text"] == "No order with that reference."
    assert order.reference not in stranger.params["text"]
    assert "waiting for review" in owner.params["text"] and "reply_markup" not in owner.params
    assert "validation passed" in clerk.params["text"] and "approved" in clerk.params["text"]
    assert approve_data(order.id) in str(clerk.params["reply_markup"])


async def test_staff_add_remove_and_list_are_admin_only_and_audited(
    dispatcher: Dispatcher, new_uow: Uows, database: FakeDatabase, mocked_bot: MockedBot
) -> None:
    await feed(dispatcher, mocked_bot, command(1, "/staff add 4242 warehouse", user_id=DESK_ID))
    await feed(dispatcher, mocked_bot, command(2, "/staff add 4242 warehouse", user_id=ADMIN_ID))
    await feed(dispatcher, mocked_bot, command(3, "/staff add 4242 finance", user_id=ADMIN_ID))
    await feed(dispatcher, mocked_bot, command(4, "/staff remove 4242 warehouse", user_id=ADMIN_ID))
    await feed(dispatcher, mocked_bot, command(5, "/staff add 4242 customer", user_id=ADMIN_ID))
    await feed(dispatcher, mocked_bot, command(6, "/staff list", user_id=ADMIN_ID))

    refused, added, *_, bad_role, listing = sent_texts(mocked_bot)
    assert refused == "Only administrators can manage staff."
    assert added == "4242 is now warehouse."
    assert bad_role.startswith("Usage:")
    assert "<code>4242</code> (name not known yet: they have not written to the bot): finance" in listing
    async with new_uow() as uow:
        assert await uow.staff.roles_of(4242) == frozenset({Role.FINANCE})
    trail = [(line.action, line.role.value, line.actor_id) for line in database.state.staff_audit]
    assert sorted(trail) == sorted(
        [("grant", "warehouse", ADMIN_ID), ("grant", "finance", ADMIN_ID), ("revoke", "warehouse", ADMIN_ID)]
    )


async def test_receipt_marks_an_offline_order_paid_and_audits_it(
    dispatcher: Dispatcher, new_uow: Uows, mocked_bot: MockedBot, staffed: None
) -> None:
    order = make_order()
    order.paid = False
    await store(new_uow, order)

    await dispatcher.feed_update(
        mocked_bot, command(1, f"/receipt {order.reference} BANK-7781", user_id=DESK_ID, chat_id=DESK_CHAT)
    )

    stored = await load(new_uow, order.id)
    assert stored.paid is True
    assert (stored.audit[-1].action, stored.audit[-1].note, stored.audit[-1].actor_id) == (
        "payment_receipt",
        "BANK-7781",
        DESK_ID,
    )


async def test_confirmation_pdf_carries_the_number_and_renders_chinese(
    new_uow: Uows, setup: ReviewSetup, database: FakeDatabase, staffed: None
) -> None:
    from io import BytesIO

    from pypdf import PdfReader

    from application.review import approve
    from presentation.fonts import cjk_font_file

    order = await store(new_uow, make_order(amount="100.00"))
    await approve(new_uow(), order.id, actor_id=DESK_ID, roles=frozenset({Role.ORDER_DESK}), setup=setup)

    [_, document_row] = await outbox(database, CUSTOMER_ID)
    async with new_uow() as uow:
        document = await uow.reviews.get_document(document_row.params["document_id"])
    assert document is not None and document.content.startswith(b"%PDF")
    # The CJK TrueType font is embedded when installed (issue 12); else the CID font is named.
    assert (b"/FontFile2" if cjk_font_file() else b"STSong-Light") in document.content
    text = "\n".join(page.extract_text() for page in PdfReader(BytesIO(document.content)).pages)
    number = (await load(new_uow, order.id)).number
    assert number is not None and number in text
    assert "订单确认单" in text and "预计时效" in text and "如何查询订单" in text
    assert "100.00 EUR" in text


async def test_a_staff_name_with_html_characters_reads_right_in_toasts_and_replies(
    desk: Desk, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 11 finding 5: "Already handled by Tom & Jerry <Ops>" in a toast and in an HTML reply."""
    monkeypatch.setitem(NAMES, DESK2_ID, "Tom & Jerry <Ops>")
    card, order_id = await desk.validated()
    other = ReviewAction(order_id=order_id, action=ReviewStep.OTHER).pack()

    await desk.feed(press(1, other, user_id=DESK_ID, card=card))
    await desk.feed(press(2, approve_data(order_id), user_id=DESK2_ID, card=card))
    await desk.feed(press(3, approve_data(order_id), user_id=DESK_ID, card=card))
    await desk.feed(command(4, "too late", user_id=DESK_ID, chat_id=DESK_CHAT))

    assert alerts(desk.bot)[-1].startswith("Already handled by Tom & Jerry <Ops> at ")
    [reply] = [r for r in desk.bot.requests_for("sendMessage") if "too late" not in r.params["text"]][-1:]
    assert "Already handled by Tom &amp; Jerry &lt;Ops&gt; at " in reply.params["text"]
    desk.bot.assert_no_violations()
