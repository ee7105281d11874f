"""Stored documents (e.g. the confirmation PDF) are uploaded by the sender from the outbox (R-3.3)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from aiogram.types import BufferedInputFile
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from application.ports import OutboxMessage, StoredDocument
from domain.clock import FixedClock
from storage.models import OutboxRow
from storage.uow import SqlUnitOfWork
from tests.mocked_bot import MockedBot
from tests.outbox.conftest import T0, sender_on


class StoredDocuments:
    """Serves documents like the review repository does, from a dict."""

    def __init__(self, documents: dict[int, StoredDocument]) -> None:
        self.documents = documents

    async def get_document(self, document_id: int) -> StoredDocument | None:
        """Returns the document or None."""
        return self.documents.get(document_id)


def pdf(document_id: int, created_at: datetime) -> StoredDocument:
    """A tiny stand-in PDF."""
    return StoredDocument(document_id, "o-1", "confirmation", "20260315001.pdf", b"%PDF-1.4 demo", created_at)


async def enqueue(new_uow: Callable[[], SqlUnitOfWork], *messages: OutboxMessage) -> None:
    """Queues the messages in one committed unit of work."""
    async with new_uow() as uow:
        for message in messages:
            await uow.outbox.enqueue(message)
        await uow.commit()


async def test_a_send_document_row_uploads_the_stored_bytes_and_a_missing_one_fails(
    new_uow: Callable[[], SqlUnitOfWork],
    session_factory: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    mocked_bot: MockedBot,
) -> None:
    present = OutboxMessage(7, "sendDocument", {"document_id": 1, "caption": "Order 20260315001"}, T0)
    missing = OutboxMessage(8, "sendDocument", {"document_id": 2, "caption": "lost"}, T0)
    await enqueue(new_uow, present, missing)
    sender = sender_on(session_factory, mocked_bot, clock, documents=StoredDocuments({1: pdf(1, T0)}))

    assert await sender.run_once() == 1

    [request] = mocked_bot.requests_for("sendDocument")
    assert request.params["chat_id"] in (7, "7")
    [upload] = request.files.values()
    assert isinstance(upload, BufferedInputFile)
    assert (upload.filename, upload.data) == ("20260315001.pdf", b"%PDF-1.4 demo")
    async with session_factory() as session:
        states = dict((await session.execute(select(OutboxRow.id, OutboxRow.state))).all())
    assert present.id is not None and missing.id is not None
    assert (states[present.id], states[missing.id]) == ("sent", "failed")


async def test_an_accepted_send_whose_answer_cannot_be_read_is_not_sent_again(
    new_uow: Callable[[], SqlUnitOfWork],
    session_factory: async_sessionmaker[AsyncSession],
    clock: FixedClock,
    mocked_bot: MockedBot,
) -> None:
    alert = OutboxMessage(-100, "sendMessage", {"text": "SLA breach"}, T0)
    following = OutboxMessage(-100, "sendMessage", {"text": "next card"}, T0)
    await enqueue(new_uow, alert, following)
    # Telegram says ok, but the Message lacks fields aiogram needs, so aiogram cannot read it.
    mocked_bot.add_result_for("sendMessage", ok=True, result={"message_id": 41})
    sender = sender_on(session_factory, mocked_bot, clock)

    for _ in range(5):
        await sender.run_once()
        clock.advance(timedelta(seconds=5))

    texts = [request.params["text"] for request in mocked_bot.requests_for("sendMessage")]
    assert texts == ["SLA breach", "next card"]
    async with session_factory() as session:
        rows = {row.id: row for row in (await session.scalars(select(OutboxRow))).all()}
    assert alert.id is not None and following.id is not None
    assert (rows[alert.id].state, rows[alert.id].telegram_message_id) == ("sent", 41)
    assert rows[following.id].state == "sent"
