"""SQL of the review flow: questions to customers, generated documents, staff display names."""

from __future__ import annotations

import functools
from datetime import datetime
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, Executable, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from application.ports import ReviewQuestion, StoredDocument
from storage.models import OrderDocumentRow, ReviewQuestionRow, StaffNameRow
from storage.repositories import after_commit, record_from, table_of, upsert_in

NAME_MAX = 200
# Staff names this process has committed, per database: most staff updates carry an unchanged name,
# and writing it again would cost a statement per update (issue 17). Cleared when it grows past this.
NAMES_KNOWN_MAX = 10_000
_COMMITTED_NAMES: WeakKeyDictionary[Engine | Connection, dict[int, str]] = WeakKeyDictionary()


@functools.cache
def _remember_name(dialect: str) -> Executable:
    """The upsert of a staff member's name, built once per SQL dialect (every staff update runs it)."""
    table = table_of(StaffNameRow)
    stmt = upsert_in(dialect, table).values(
        user_id=bindparam("user_id"), name=bindparam("name"), updated_at=bindparam("updated_at")
    )
    return stmt.on_conflict_do_update(
        index_elements=[table.c.user_id],
        set_={"name": stmt.excluded.name, "updated_at": stmt.excluded.updated_at},
    )


class SqlReviewRepository:
    """Review-flow rows in the caller's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_question(
        self,
        order_id: str,
        asked_by: int,
        question: str,
        at: datetime,
        *,
        card_chat_id: int | None,
        card_message_id: int | None,
    ) -> int:
        """Records a question to the customer; returns its id."""
        row = ReviewQuestionRow(
            order_id=order_id,
            asked_by=asked_by,
            asked_at=at,
            question=question,
            card_chat_id=card_chat_id,
            card_message_id=card_message_id,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def open_question(self, order_id: str) -> ReviewQuestion | None:
        """Returns the latest unanswered question about the order."""
        stmt = (
            select(ReviewQuestionRow)
            .where(ReviewQuestionRow.order_id == order_id, ReviewQuestionRow.answered_at.is_(None))
            .order_by(ReviewQuestionRow.id.desc())
            .limit(1)
        )
        row = await self._session.scalar(stmt)
        return record_from(ReviewQuestion, row) if row is not None else None

    async def answer_question(self, question_id: int, answer: str, at: datetime) -> bool:
        """Records the answer once; False if the question was answered already."""
        table = table_of(ReviewQuestionRow)
        stmt = (
            update(table)
            .where(table.c.id == question_id, table.c.answered_at.is_(None))
            .values(answer=answer, answered_at=at)
            .returning(table.c.id)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none() is not None

    async def save_document(
        self, order_id: str, kind: str, filename: str, content: bytes, at: datetime
    ) -> int:
        """Stores a generated document; returns its id for the outbox row."""
        row = OrderDocumentRow(
            order_id=order_id, kind=kind, filename=filename, content=content, created_at=at
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def get_document(self, document_id: int) -> StoredDocument | None:
        """Loads a stored document."""
        row = await self._session.get(OrderDocumentRow, document_id)
        return record_from(StoredDocument, row) if row is not None else None

    async def remember_name(self, user_id: int, name: str, at: datetime) -> None:
        """Keeps the name a staff member acts under (not written again while unchanged)."""
        bind = self._session.get_bind()
        known = _COMMITTED_NAMES.setdefault(bind, {})
        kept = name[:NAME_MAX]
        if known.get(user_id) == kept:
            return
        await self._session.execute(
            _remember_name(bind.dialect.name), {"user_id": user_id, "name": kept, "updated_at": at}
        )

        def committed() -> None:
            if len(known) >= NAMES_KNOWN_MAX:
                known.clear()
            known[user_id] = kept

        after_commit(self._session, committed)

    async def name_of(self, user_id: int) -> str | None:
        """Returns the name a staff member last acted under."""
        return await self._session.scalar(select(StaffNameRow.name).where(StaffNameRow.user_id == user_id))
