"""/sla in a team chat and the Acknowledge button, through Dispatcher.feed_update on the fake unit of work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update
from babel.messages.pofile import read_po

from application.sla_sweeps import SlaSweeper
from bot.i18n import LOCALES_DIR, create_i18n
from domain.clock import FixedClock
from domain.orders.status import OrderStatus, Role
from domain.sla.policy import Stage
from handlers import sla as sla_handlers
from presentation import sla_alerts
from presentation.labels import DEPARTMENT_LABELS, STAGE_LABELS
from presentation.sla_alerts import SlaAlertTexts
from tests import telegram
from tests.dispatchers import routed_dispatcher
from tests.fakes import FakeDatabase
from tests.mocked_bot import MockedBot
from tests.review.conftest import command
from tests.sla.conftest import (
    ORDER_DESK_CHAT,
    SLA,
    TEAM_CHATS,
    WAREHOUSE_CHAT,
    UowFactory,
    seed_clock,
)

START = datetime(2026, 3, 16, 2, tzinfo=UTC)  # Monday 10:00 in Shanghai
CLERK = 301
PICKER = 302
OTHER_CLERK = 303
ADMIN = 900


@pytest.fixture
def new_uow(database: FakeDatabase) -> UowFactory:
    """Units of work on the fake database (the sweeps' SQL is tested in test_sweeps.py)."""
    return database.unit_of_work


@pytest.fixture
def clock() -> FixedClock:
    """The controlled time of the test."""
    return FixedClock(START)


@pytest.fixture
def dispatcher(new_uow: UowFactory, clock: FixedClock) -> Dispatcher:
    """A dispatcher with the production middlewares and the SLA router on the test database."""
    return routed_dispatcher(
        new_uow, [sla_handlers.router], admin_ids=[ADMIN], sla=SLA, clock=clock, team_chats=TEAM_CHATS
    )


@pytest.fixture
async def staff(new_uow: UowFactory) -> None:
    """An order-desk clerk, another clerk and a warehouse picker."""
    async with new_uow() as uow:
        for user_id, role in (
            (CLERK, Role.ORDER_DESK),
            (OTHER_CLERK, Role.ORDER_DESK),
            (PICKER, Role.WAREHOUSE),
        ):
            await uow.staff.grant(user_id, role, by=None, at=START)
        await uow.commit()


def press(update_id: int, data: str, user_id: int, name: str, alert: dict[str, Any]) -> Update:
    """Builds a button press on an alert message as the bot sent it."""
    message = telegram.bot_message(77, alert["text"], chat=telegram.chat(alert["chat_id"]), date=START)
    message["reply_markup"] = alert["reply_markup"]
    query = telegram.callback_query(
        f"cb{update_id}", data, sender=telegram.user(user_id, name), message=message, chat_instance="team"
    )
    return Update.model_validate({"update_id": update_id, "callback_query": query})


@pytest.fixture
async def alert(
    new_uow: UowFactory, database: FakeDatabase, clock: FixedClock, render: Any
) -> dict[str, Any]:
    """Lets a first review run late, sweeps, and returns the alert message queued for the order desk."""
    await seed_clock(new_uow, Stage.FIRST_REVIEW, START, OrderStatus.PENDING_REVIEW)
    clock.current = START + timedelta(hours=2, minutes=10)
    texts = SlaAlertTexts(render, zone=SLA.calendar.zone)
    await SlaSweeper(uow_factory=new_uow, clock=clock, sla=SLA, team_chats=TEAM_CHATS, texts=texts).sweep()
    (row,) = database.state.outbox
    # The bot's copy of the message: plain text, as Telegram returns it (entities aside).
    text = row.params["text"].replace("<b>", "").replace("</b>", "")
    return {"chat_id": row.chat_id, "text": text, "reply_markup": row.params["reply_markup"]}


# The buttons of an alert message, left to right.
ACKNOWLEDGE, OPEN_ORDER = 0, 1


async def press_alert_button(
    dispatcher: Dispatcher,
    bot: MockedBot,
    alert: dict[str, Any],
    button: int,
    user_id: int,
    first_name: str,
    update_id: int = 1,
) -> None:
    """Presses one of the alert message's buttons as the user."""
    data = alert["reply_markup"]["inline_keyboard"][0][button]["callback_data"]
    await dispatcher.feed_update(bot, press(update_id, data, user_id, first_name, alert))


def answers(bot: MockedBot) -> list[dict[str, Any]]:
    """Returns the answerCallbackQuery params so far."""
    return [request.params for request in bot.requests_for("answerCallbackQuery")]


@pytest.mark.usefixtures("staff")
async def test_acknowledge_marks_the_alert_and_a_second_press_is_refused(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, alert: dict[str, Any]
) -> None:
    await press_alert_button(dispatcher, bot, alert, ACKNOWLEDGE, CLERK, "Ann")
    await press_alert_button(dispatcher, bot, alert, ACKNOWLEDGE, OTHER_CLERK, "Bo", update_id=2)

    (edit,) = bot.requests_for("editMessageText")
    assert edit.params["text"].endswith("✅ Acknowledged by Ann at 03-16 12:10.")
    assert [button["text"] for button in edit.decoded("reply_markup")["inline_keyboard"][0]] == ["Open order"]
    first, second = answers(bot)
    assert first["text"] == "Acknowledged; the escalation is stopped."
    assert second["text"] == "Already acknowledged by Ann at 03-16 12:10." and second["show_alert"] == "true"
    (row,) = database.state.alerts.values()
    assert (row.acknowledged_by, row.acknowledged_by_name) == (CLERK, "Ann")


@pytest.mark.usefixtures("staff")
async def test_acknowledge_by_another_department_is_refused_and_changes_nothing(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, alert: dict[str, Any]
) -> None:
    await press_alert_button(dispatcher, bot, alert, ACKNOWLEDGE, PICKER, "Pat")

    assert bot.requests_for("editMessageText") == []
    (answer,) = answers(bot)
    assert answer["text"] == "Only order desk staff, the order desk or an admin can acknowledge this alert."
    (row,) = database.state.alerts.values()
    assert row.acknowledged_at is None


@pytest.mark.usefixtures("staff")
async def test_open_order_shows_the_running_clock(
    dispatcher: Dispatcher, bot: MockedBot, alert: dict[str, Any]
) -> None:
    await press_alert_button(dispatcher, bot, alert, OPEN_ORDER, CLERK, "Ann")

    (message,) = bot.requests_for("sendMessage")
    assert "first review (order desk): due 03-16 12:00, 10m overdue" in message.params["text"]
    # The status in words, never its stored value.
    assert ": waiting for review\n" in message.params["text"]
    assert "pending_review" not in message.params["text"]


@pytest.mark.usefixtures("staff")
async def test_sla_lists_the_teams_overdue_and_at_risk_orders_worst_first(
    dispatcher: Dispatcher, bot: MockedBot, new_uow: UowFactory, clock: FixedClock
) -> None:
    late = await seed_clock(new_uow, Stage.FIRST_REVIEW, START - timedelta(hours=3))  # 1h overdue
    later = await seed_clock(new_uow, Stage.CONFIRMATION, START - timedelta(hours=4))  # 3h overdue
    risky = await seed_clock(new_uow, Stage.FIRST_REVIEW, START - timedelta(minutes=100))  # 20m left
    await seed_clock(new_uow, Stage.FIRST_REVIEW, START)  # fine
    await seed_clock(new_uow, Stage.PICKING, START - timedelta(days=2))  # the warehouse's, not listed

    await dispatcher.feed_update(bot, command(1, "/sla", chat_id=ORDER_DESK_CHAT, user_id=CLERK))

    (message,) = bot.requests_for("sendMessage")
    lines = message.params["text"].split("\n")
    assert lines[0] == "⏱ order desk, order desk head: 2 overdue, 1 at risk."
    assert lines[1:] == [
        f"🚨 <b>{later.reference}</b> · confirmation · 3h overdue",
        f"🚨 <b>{late.reference}</b> · first review · 1h overdue",
        f"⚠️ <b>{risky.reference}</b> · first review · 20m left",
    ]


@pytest.mark.usefixtures("staff")
async def test_sla_in_the_warehouse_chat_lists_only_warehouse_stages_and_outside_a_team_chat_explains(
    dispatcher: Dispatcher, bot: MockedBot, new_uow: UowFactory
) -> None:
    await seed_clock(new_uow, Stage.FIRST_REVIEW, START - timedelta(hours=3))

    await dispatcher.feed_update(bot, command(1, "/sla", chat_id=WAREHOUSE_CHAT, user_id=PICKER))
    await dispatcher.feed_update(bot, command(2, "/sla", chat_id=-999, user_id=PICKER))

    first, second = (request.params["text"] for request in bot.requests_for("sendMessage"))
    assert first == "✅ warehouse: every step is within its time limit."
    assert second.startswith("Send /sla in a team chat")


async def test_sla_is_for_staff_only(dispatcher: Dispatcher, bot: MockedBot) -> None:
    await dispatcher.feed_update(bot, command(1, "/sla", chat_id=ORDER_DESK_CHAT, user_id=12345))

    (message,) = bot.requests_for("sendMessage")
    assert message.params["text"] == "/sla is for staff."


def test_every_sla_text_is_translated_into_chinese() -> None:
    with (LOCALES_DIR / "zh" / "LC_MESSAGES" / "sla.po").open("rb") as po_file:
        catalog = read_po(po_file, locale="zh")
    msgids = [
        value for name, value in vars(sla_alerts).items() if name.endswith(("_TEXT", "_LINE", "_BUTTON"))
    ]
    msgids += [
        *STAGE_LABELS.values(),
        *DEPARTMENT_LABELS.values(),
        "Acknowledged; the escalation is stopped.",
    ]
    missing = [msgid for msgid in msgids if msgid not in catalog or not catalog[msgid].string]
    assert len(msgids) > 40 and missing == []
    i18n = create_i18n("en")
    assert i18n.gettext(sla_alerts.ACKNOWLEDGE_BUTTON, locale="zh") == "确认处理"
