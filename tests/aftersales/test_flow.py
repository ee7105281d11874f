"""The after-sales flow on SQLite and PostgreSQL: completion, survey, archive, retention, erasure."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from application.archive import archive_due, fetch_archive
from application.completion import complete_due, record_completions
from application.retention import run_retention
from application.survey import SurveyLocked, comment, rate, send_due_surveys
from bot.i18n import create_i18n
from domain.aftersales.retention import is_erased
from domain.clock import FixedClock
from domain.orders.status import OrderStatus
from presentation.archive import PdfArchiveDocuments
from storage.models import (
    ChatBindingTokenRow,
    ChatConsentRow,
    ConversationMessageRow,
    ConversationRow,
    OrderPaymentRow,
)
from tests.aftersales.conftest import (
    CS_CHAT,
    CUSTOMER_ID,
    DELIVERED_AT,
    EMAIL,
    NAME,
    PHONE,
    TZ,
    Uows,
    aftersales,
    delivered_order,
    outbox,
)
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory  # noqa: F401


async def everything_stored(engine: AsyncEngine) -> list[str]:  # noqa: F811
    """Every value of every column of every table, as text (reflected, so new tables are scanned too)."""
    metadata = MetaData()
    values: list[str] = []
    async with engine.connect() as connection:
        await connection.run_sync(metadata.reflect)
        for table in metadata.sorted_tables:
            for row in (await connection.execute(select(table))).all():
                for value in row:
                    if isinstance(value, bytes):
                        values.append(value.decode("utf-8", "replace"))
                    elif value is not None:
                        values.append(
                            json.dumps(value, default=str, ensure_ascii=False)
                            if isinstance(value, dict | list)
                            else str(value)
                        )
    return values


RECEIPT_FILE = "AgACAgreceipt-photo-of-the-transfer"
CONVERSATION_TEXT = "please ring my neighbour at number 12"


async def linked_personal_data(new_uow: Uows, order_id: str) -> None:  # noqa: F811
    """Stores what other features keep of the customer: a receipt, a chat consent and link, a conversation."""
    at = DELIVERED_AT
    async with new_uow() as uow:
        session = uow.session
        session.add(
            OrderPaymentRow(
                order_id=order_id,
                method="bank_transfer",
                source="receipt",
                status="accepted",
                amount=Decimal("245.80"),
                currency="EUR",
                file_id=RECEIPT_FILE,
                file_kind="photo",
                created_at=at,
            )
        )
        session.add(ChatConsentRow(chat_id=CUSTOMER_ID, phone=PHONE, email=EMAIL, agreed_at=at))
        link = ChatBindingTokenRow(token="one-time", order_id=order_id, created_at=at, chat_id=CUSTOMER_ID)
        session.add(link)
        thread = ConversationRow(customer_id=CUSTOMER_ID, customer_name=NAME, language="en", opened_at=at)
        session.add(thread)
        await session.flush()
        session.add(
            ConversationMessageRow(
                conversation_id=thread.id,
                at=at,
                from_customer=True,
                author_id=CUSTOMER_ID,
                author_name=NAME,
                text=CONVERSATION_TEXT,
                order_id=order_id,
            )
        )
        await uow.commit()


async def test_an_order_completes_is_surveyed_archived_and_erased(
    new_uow: Uows,  # noqa: F811
    engine: AsyncEngine,  # noqa: F811
    tmp_path: Path,
) -> None:
    clock = FixedClock(DELIVERED_AT + timedelta(days=2))
    setup = aftersales(clock, tmp_path / "archives")
    order_id = await delivered_order(new_uow)

    assert await complete_due(new_uow, setup) == 0
    # Thursday 10:00 local: three working days after the delivery.
    clock.current = datetime(2026, 3, 19, 2, 1, tzinfo=UTC)
    assert await complete_due(new_uow, setup) == 1
    assert await record_completions(new_uow, setup) == 1
    async with new_uow() as uow:
        order = await uow.orders.get(order_id)
        record = await uow.aftersales.get(order_id)
    assert order.status is OrderStatus.COMPLETED and record is not None
    assert record.completed_at == clock.now()
    completion = [c for c in order.clocks if c.stage == "completion"]
    assert [(c.finished_at, c.met) for c in completion] == [(clock.now(), True)]

    # Friday 20:00 local is night, Saturday a weekend: no survey; Monday 09:30 it goes out.
    for moment in (datetime(2026, 3, 20, 12, tzinfo=UTC), datetime(2026, 3, 21, 2, tzinfo=UTC)):
        clock.current = moment
        assert await send_due_surveys(new_uow, setup) == 0
    clock.current = datetime(2026, 3, 23, 1, 30, tzinfo=UTC)
    assert await send_due_surveys(new_uow, setup) == 1
    assert await send_due_surveys(new_uow, setup) == 0
    (survey,) = [row for row in await outbox(new_uow, CUSTOMER_ID) if "start=survey-" in row.params["text"]]
    async with new_uow() as uow:
        record = await uow.aftersales.get(order_id)
        order = await uow.orders.get(order_id)
    assert record is not None and record.survey_token
    assert f"https://t.me/OrderDeskBot?start=survey-{record.survey_token}" in survey.params["text"]
    buttons = [b["callback_data"] for b in survey.params["reply_markup"]["inline_keyboard"][0]]
    assert len(buttons) == 5
    assert [(c.finished_at, c.met) for c in order.clocks if c.stage == "survey"] == [(clock.now(), True)]

    answer = (await rate(new_uow(), record.survey_token, 2, setup)).answer
    assert answer is not None and answer.complaint
    answer = (await comment(new_uow(), record.survey_token, "box was crushed", True, setup)).answer
    assert answer is not None and answer.marked_complaint and answer.comment == "box was crushed"
    cards = [row.params["text"] for row in await outbox(new_uow, CS_CHAT)]
    assert len(cards) == 2 and "2 of 5" in cards[0] and "box was crushed" in cards[1]
    # Changed within the window, then locked.
    clock.current = clock.now() + timedelta(hours=1)
    changed = (await rate(new_uow(), record.survey_token, 4, setup)).answer
    assert changed is not None and changed.complaint  # the marked comment still counts
    clock.current = clock.now() + timedelta(hours=24)
    with pytest.raises(SurveyLocked):
        await rate(new_uow(), record.survey_token, 5, setup)

    assert await archive_due(new_uow, setup, PdfArchiveDocuments(create_i18n("en"), TZ)) == 1
    archived_at = clock.now()
    async with new_uow() as uow:
        order = await uow.orders.get(order_id)
    assert order.status is OrderStatus.ARCHIVED
    assert [(c.finished_at, c.met) for c in order.clocks if c.stage == "archive"] == [(archived_at, True)]
    stored = await fetch_archive(new_uow(), order_id, setup)
    assert stored is not None and stored.filename == "20260310001.zip"
    assert hashlib.sha256(stored.content).hexdigest() == stored.sha256
    with zipfile.ZipFile(io.BytesIO(stored.content)) as archive:
        names = set(archive.namelist())
        manifest = json.loads(archive.read("manifest.json"))
        sums = archive.read("SHA256SUMS").decode()
        assert names == {
            "confirmation.pdf",
            "outbound-note.pdf",
            "order.json",
            "shipping.json",
            "exceptions.json",
            "exceptions.csv",
            "audit.json",
            "audit.csv",
            "survey.json",
            "manifest.json",
            "SHA256SUMS",
        }
        for entry in manifest["files"]:
            content = archive.read(entry["name"])
            assert hashlib.sha256(content).hexdigest() == entry["sha256"] and len(content) == entry["size"]
            assert f"{entry['sha256']}  {entry['name']}" in sums
        assert archive.read("confirmation.pdf") == b"%PDF confirmation"
        assert json.loads(archive.read("shipping.json"))["waybill"] == "4839201756"
        assert json.loads(archive.read("exceptions.json"))[0]["cause"] == "weather"
        assert json.loads(archive.read("audit.json"))[-1]["action"] == "archive"
    assert any(path.name == "20260310001.zip" for path in (tmp_path / "archives").iterdir())
    await linked_personal_data(new_uow, order_id)
    stored_values = "\n".join(await everything_stored(engine))
    assert PHONE in stored_values and EMAIL in stored_values and NAME in stored_values
    assert RECEIPT_FILE in stored_values and CONVERSATION_TEXT in stored_values

    # Kept until the local day three years on: the evening before, nothing is due.
    local_midnight = datetime.combine(
        archived_at.astimezone(setup.sla.calendar.zone).date().replace(year=2029),
        datetime.min.time(),
        tzinfo=setup.sla.calendar.zone,
    ).astimezone(UTC)
    clock.current = local_midnight - timedelta(minutes=1)
    assert (await run_retention(new_uow, setup, dry_run=True)).due == []
    clock.current = local_midnight
    dry = await run_retention(new_uow, setup, dry_run=True)
    assert [due.display_id for due in dry.due] == ["20260310001"]
    async with new_uow() as uow:
        assert not is_erased(await uow.orders.get(order_id))

    report = await run_retention(new_uow, setup)
    assert (
        report.counts["orders"] == 1
        and report.counts["archives"] == 1
        and report.counts["archive_files"] == 1
    )
    async with new_uow() as uow:
        order = await uow.orders.get(order_id)
        answer_after = await uow.aftersales.answer_of(order_id)
    assert is_erased(order) and order.number == "20260310001"
    # The anonymous KPI facts stay: the completion line, the rating and the complaint, the clocks.
    assert any(line.action == "complete" for line in order.audit)
    assert answer_after is not None and answer_after.rating == 4 and answer_after.complaint
    assert answer_after.comment is None
    stored_values = "\n".join(await everything_stored(engine))
    written = ("box was crushed", "Unter den Linden", RECEIPT_FILE, CONVERSATION_TEXT)
    for personal in (PHONE, EMAIL, NAME, *written):
        assert personal not in stored_values, personal
    assert list((tmp_path / "archives").iterdir()) == []
    # Every run is audited as counts.
    async with new_uow() as uow:
        from storage.models import RetentionRunRow

        runs = (await uow.session.scalars(select(RetentionRunRow).order_by(RetentionRunRow.id))).all()
    assert [(run.dry_run, run.counts["due"]) for run in runs] == [(True, 0), (True, 1), (False, 1)]
