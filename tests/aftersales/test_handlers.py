"""Report a problem, /complete, /archive, /track of an erased order, the reminder, the retention command."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiogram.types import BufferedInputFile

from application.archive import archive_due
from application.completion import complete_due, report_problem
from application.retention import run_retention
from application.survey import send_due_surveys
from bot.app import retention_command
from bot.config import load_settings
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.orders.status import Action, ExceptionType, OrderStatus, Role
from presentation.archive import PdfArchiveDocuments
from presentation.claims_texts import OTHER_PROBLEM, ClaimReport
from presentation.survey_texts import ProblemAction
from scheduler.jobs import AFTERSALES_JOB, RETENTION_JOB, build_scheduler
from tests.aftersales.conftest import (
    CS_CHAT,
    CUSTOMER_ID,
    DELIVERED_AT,
    TZ,
    Uows,
    aftersales,
    an_hour_after_delivery,
    complete_and_survey,
    delivered_order,
    dispatcher_for,
    outbox,
    surveyed,
)
from tests.fixtures import grant_roles
from tests.mocked_bot import MockedBot
from tests.review.conftest import Card, command, press
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory  # noqa: F401

DESK_ID = 701
WAREHOUSE_ID = 301
DESK_CHAT = -1001000000001


def last_text(bot: MockedBot) -> str:
    return str(bot.requests_for("sendMessage")[-1].params["text"])


async def test_report_a_problem_tells_customer_service_and_stops_the_completion(
    new_uow: Uows,  # noqa: F811
    tmp_path: Path,
    bot: MockedBot,
) -> None:
    clock, setup, order_id = await an_hour_after_delivery(new_uow, tmp_path)
    dispatcher = dispatcher_for(new_uow, setup)
    problem = ProblemAction(order_id=order_id).pack()

    # Someone else's press is refused; the customer is asked what is wrong (damaged, wrong goods or
    # something else, issue 14) and "something else" is recorded once.
    other = ClaimReport(order_id=order_id, kind=OTHER_PROBLEM).pack()
    await dispatcher.feed_update(bot, press(1, problem, user_id=42424, card=Card(42424, 5, "")))
    await dispatcher.feed_update(bot, press(2, problem, user_id=CUSTOMER_ID, card=Card(CUSTOMER_ID, 6, "")))
    assert "What is wrong with order 20260310001?" in last_text(bot)
    await dispatcher.feed_update(bot, press(3, other, user_id=CUSTOMER_ID, card=Card(CUSTOMER_ID, 7, "")))
    await dispatcher.feed_update(bot, press(4, other, user_id=CUSTOMER_ID, card=Card(CUSTOMER_ID, 7, "")))

    alerts = [str(request.params.get("text")) for request in bot.requests_for("answerCallbackQuery")]
    assert alerts[0] == "This is not your order."
    assert "Customer service has your report" in alerts[2] and "already reported" in alerts[3]
    (card,) = [row.params["text"] for row in await outbox(new_uow, CS_CHAT)]
    assert "reports a problem with delivered order 20260310001" in card
    clock.current = DELIVERED_AT + timedelta(days=30)
    assert await complete_due(new_uow, setup) == 0
    async with new_uow() as uow:
        order = await uow.orders.get(order_id)
    assert order.status is OrderStatus.DELIVERED
    assert [line.action for line in order.audit].count("problem_reported") == 1
    bot.assert_no_violations()


async def test_the_order_desk_completes_by_hand_with_a_reason(
    new_uow: Uows,  # noqa: F811
    tmp_path: Path,
    bot: MockedBot,
) -> None:
    clock, setup, order_id = await an_hour_after_delivery(new_uow, tmp_path)
    await grant_roles(new_uow, {Role.ORDER_DESK: [DESK_ID], Role.WAREHOUSE: [WAREHOUSE_ID]}, at=DELIVERED_AT)
    dispatcher = dispatcher_for(new_uow, setup)

    await dispatcher.feed_update(
        bot, command(1, "/complete 20260310001 ok", user_id=WAREHOUSE_ID, chat_id=DESK_CHAT)
    )
    assert last_text(bot) == "/complete is for the order desk."
    await dispatcher.feed_update(bot, command(2, "/complete 20260310001", user_id=DESK_ID, chat_id=DESK_CHAT))
    assert "the order number and the reason" in last_text(bot)
    await dispatcher.feed_update(bot, command(3, "/complete 999 phoned", user_id=DESK_ID, chat_id=DESK_CHAT))
    assert last_text(bot) == "I found no order 999."
    await dispatcher.feed_update(
        bot,
        command(4, "/complete 20260310001 customer confirmed by phone", user_id=DESK_ID, chat_id=DESK_CHAT),
    )
    assert last_text(bot) == "Order 20260310001 is completed."

    async with new_uow() as uow:
        order = await uow.orders.get(order_id)
    last = order.audit[-1]
    assert (order.status, last.action, last.actor_id, last.note) == (
        OrderStatus.COMPLETED,
        "complete",
        DESK_ID,
        "customer confirmed by phone",
    )
    assert [(c.finished_at, c.met) for c in order.clocks if c.stage == "completion"] == [(clock.now(), True)]
    bot.assert_no_violations()


async def test_staff_fetch_the_archive_and_an_erased_order_is_no_longer_kept(
    new_uow: Uows,  # noqa: F811
    tmp_path: Path,
    bot: MockedBot,
) -> None:
    clock = FixedClock(DELIVERED_AT)
    setup = aftersales(clock, tmp_path)
    await surveyed(new_uow, clock, setup)
    await grant_roles(new_uow, {Role.WAREHOUSE: [WAREHOUSE_ID]}, at=DELIVERED_AT)
    dispatcher = dispatcher_for(new_uow, setup)

    await dispatcher.feed_update(bot, command(1, "/archive 20260310001", user_id=CUSTOMER_ID))
    assert last_text(bot) == "/archive is for staff."
    await dispatcher.feed_update(bot, command(2, "/archive 20260310001", user_id=WAREHOUSE_ID))
    assert "is not archived yet" in last_text(bot)
    assert await archive_due(new_uow, setup, PdfArchiveDocuments(create_i18n("en"), TZ)) == 1
    await dispatcher.feed_update(bot, command(3, "/archive 20260310001", user_id=WAREHOUSE_ID))
    (sent,) = bot.requests_for("sendDocument")
    (upload,) = sent.files.values()
    assert upload.filename == "20260310001.zip"
    assert isinstance(upload, BufferedInputFile)
    content = upload.data
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(content)).namelist()

    await dispatcher.feed_update(bot, command(4, "/track 20260310001", user_id=CUSTOMER_ID))
    assert "no longer kept" not in last_text(bot)
    clock.current = datetime(2029, 3, 23, 1, 30, tzinfo=UTC)
    await run_retention(new_uow, setup)
    for update_id, user_id in ((5, CUSTOMER_ID), (6, 42424)):
        await dispatcher.feed_update(bot, command(update_id, "/track 20260310001", user_id=user_id))
        assert last_text(bot) == (
            "Order 20260310001 is no longer kept: its data was deleted when the retention period ended."
        )
    await dispatcher.feed_update(bot, command(7, "/archive 20260310001", user_id=WAREHOUSE_ID))
    assert "no longer kept" in last_text(bot)
    bot.assert_no_violations()


async def test_one_reminder_goes_out_in_working_hours_and_no_more(new_uow: Uows, tmp_path: Path) -> None:  # noqa: F811
    clock = FixedClock(DELIVERED_AT)
    setup = aftersales(clock, tmp_path)
    await surveyed(new_uow, clock, setup)
    sent_at = clock.now()

    # Two working days on is Wednesday 09:30; at 20:00 the evening before nothing goes out.
    clock.current = sent_at + timedelta(days=1, hours=10, minutes=30)
    assert await send_due_surveys(new_uow, setup) == 0
    clock.current = sent_at + timedelta(days=2)
    assert await send_due_surveys(new_uow, setup) == 1
    clock.current = sent_at + timedelta(days=9)
    assert await send_due_surveys(new_uow, setup) == 0
    texts = [
        row.params["text"] for row in await outbox(new_uow, CUSTOMER_ID) if "survey-" in row.params["text"]
    ]
    assert len(texts) == 2 and "⏰" in texts[1]


async def test_a_customer_with_no_telegram_and_no_email_is_recorded_as_unreachable(
    new_uow: Uows,  # noqa: F811
    tmp_path: Path,
) -> None:
    clock = FixedClock(DELIVERED_AT)
    setup = aftersales(clock, tmp_path)
    order_id = await delivered_order(new_uow, telegram_user_id=None, email=None)

    assert await complete_and_survey(new_uow, clock, setup) == 1
    async with new_uow() as uow:
        record = await uow.aftersales.get(order_id)
        order = await uow.orders.get(order_id)
    assert record is not None and record.survey_unreachable and record.survey_token is None
    assert order.audit[-1].action == "survey_unreachable"
    assert [c.met for c in order.clocks if c.stage == "survey"] == [True]
    # Unreachable counts as surveyed: the archive follows at once.
    assert await archive_due(new_uow, setup, PdfArchiveDocuments(create_i18n("en"), TZ)) == 1


async def test_the_retention_command_lists_what_would_go(
    new_uow: Uows,  # noqa: F811
    database_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    clock = FixedClock(DELIVERED_AT)
    setup = aftersales(clock, tmp_path)
    await surveyed(new_uow, clock, setup)
    await archive_due(new_uow, setup, PdfArchiveDocuments(create_i18n("en"), TZ))
    settings = load_settings(env_file=None, database_url=database_url, archive_dir=str(tmp_path))

    early = await retention_command(
        settings, dry_run=True, clock=FixedClock(datetime(2029, 3, 22, 15, 59, tzinfo=UTC))
    )
    due = await retention_command(
        settings, dry_run=True, clock=FixedClock(datetime(2029, 3, 22, 16, tzinfo=UTC))
    )

    assert early == ["0 orders would be erased"]
    assert due == ["20260310001\tarchived 2026-03-23\terase from 2029-03-23", "1 orders would be erased"]
    async with new_uow() as uow:
        order = await uow.orders.find("20260310001")
    assert order is not None and order.customer.email


def test_the_scheduler_runs_the_after_sales_sweep_and_the_daily_retention() -> None:
    from application.sla_sweeps import SlaSweeper

    async def nothing() -> None:
        return None

    sweeper = SlaSweeper.__new__(SlaSweeper)
    from application.sla_sweep_settings import SweepSettings

    sweeper.settings = SweepSettings()
    scheduler = build_scheduler(sweeper, timezone=TZ, aftersales=nothing, retention=nothing)

    retention = scheduler.get_job(RETENTION_JOB)
    assert scheduler.get_job(AFTERSALES_JOB) is not None and retention is not None
    assert str(retention.trigger.fields[5]) == "3" and str(retention.trigger.timezone) == TZ


async def test_an_order_back_from_a_closed_exception_completes_at_the_next_sweep(
    new_uow: Uows,  # noqa: F811
    tmp_path: Path,
) -> None:
    clock = FixedClock(DELIVERED_AT + timedelta(hours=1))
    setup = aftersales(clock, tmp_path)
    waiting = await delivered_order(new_uow, number="20260310002")
    order_id = await delivered_order(new_uow)
    await report_problem(new_uow(), waiting, CUSTOMER_ID, setup)
    await report_problem(new_uow(), order_id, CUSTOMER_ID, setup)
    async with new_uow() as uow:
        order = await uow.orders.get(order_id)
        order.apply(
            Action.RAISE_EXCEPTION,
            actor_id=DESK_ID,
            roles=frozenset({Role.CUSTOMER_SERVICE}),
            now=clock.now(),
            exception_type=ExceptionType.DAMAGED,
        )
        clock.current += timedelta(hours=1)
        order.apply(
            Action.RESOLVE_EXCEPTION,
            actor_id=DESK_ID,
            roles=frozenset({Role.CUSTOMER_SERVICE}),
            now=clock.now(),
        )
        order.pull_events()
        await uow.commit()

    assert await complete_due(new_uow, setup) == 1

    async with new_uow() as uow:
        statuses = [(await uow.orders.get(key)).status for key in (waiting, order_id)]
        last = (await uow.orders.get(order_id)).audit[-1]
    assert statuses == [OrderStatus.DELIVERED, OrderStatus.COMPLETED]
    assert last.note == "exception closed (R-7.1)"
