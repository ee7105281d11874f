"""SQL of customer conversations (issue 18) and of each team chat's language."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from application.conversation import CARD_KEY, Conversation, ConversationMessage, Person
from storage.models import ConversationMessageRow, ConversationRow, OutboxRow, TeamChatRow
from storage.repositories import table_of, upsert

NAME_MAX = 200


def _conversation(row: ConversationRow) -> Conversation:
    """Reads one conversation row."""
    return Conversation(row.id, row.customer_id, row.customer_name, row.language, row.opened_at)


def _message(row: ConversationMessageRow) -> ConversationMessage:
    """Reads one message row."""
    return ConversationMessage(
        row.id,
        row.conversation_id,
        row.at,
        row.from_customer,
        row.author_id,
        row.author_name,
        row.text,
        row.intent,
        row.order_id,
        row.due_at,
        row.answered_at,
        row.met,
    )


class SqlConversationStore:
    """Conversations and their messages in the caller's transaction (the ConversationStore port)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def conversation_of(self, customer: Person, at: datetime) -> Conversation:
        """The customer's conversation, opened now if they have none; keeps name and language fresh."""
        table = table_of(ConversationRow)
        name = customer.name[:NAME_MAX]
        stmt = upsert(self._session, table).values(
            customer_id=customer.user_id, customer_name=name, language=customer.language, opened_at=at
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.customer_id],
            set_={"customer_name": stmt.excluded.customer_name, "language": stmt.excluded.language},
        )
        await self._session.execute(stmt)
        row = await self._session.scalar(
            select(ConversationRow)
            .where(ConversationRow.customer_id == customer.user_id)
            .execution_options(populate_existing=True)
        )
        assert row is not None
        return _conversation(row)

    async def get(self, conversation_id: int) -> Conversation | None:
        """Loads one conversation."""
        row = await self._session.get(ConversationRow, conversation_id)
        return None if row is None else _conversation(row)

    async def add(self, message: ConversationMessage) -> int:
        """Stores a message; returns its id."""
        row = ConversationMessageRow(
            conversation_id=message.conversation_id,
            at=message.at,
            from_customer=message.from_customer,
            author_id=message.author_id,
            author_name=message.author_name[:NAME_MAX],
            text=message.text,
            intent=message.intent,
            order_id=message.order_id,
            due_at=message.due_at,
        )
        self._session.add(row)
        await self._session.flush()
        return row.id

    async def message_for_card(self, chat_id: int, telegram_message_id: int) -> ConversationMessage | None:
        """The customer message whose card Telegram numbered so in that chat, if it is one."""
        key = await self._session.scalar(
            select(OutboxRow.dedup_key)
            .where(OutboxRow.chat_id == chat_id, OutboxRow.telegram_message_id == telegram_message_id)
            .limit(1)
        )
        if key is None or not key.startswith(CARD_KEY):
            return None
        try:
            message_id = int(key.removeprefix(CARD_KEY))
        except ValueError:
            return None
        row = await self._session.get(ConversationMessageRow, message_id)
        return None if row is None else _message(row)

    async def answer_waiting(self, conversation_id: int, at: datetime) -> list[ConversationMessage]:
        """Closes the answer clock of every unanswered customer message; returns them closed."""
        rows = (
            await self._session.scalars(
                select(ConversationMessageRow)
                .where(
                    ConversationMessageRow.conversation_id == conversation_id,
                    ConversationMessageRow.from_customer.is_(True),
                    ConversationMessageRow.answered_at.is_(None),
                )
                .order_by(ConversationMessageRow.id)
            )
        ).all()
        for row in rows:
            row.answered_at = at
            row.met = row.due_at is None or at <= row.due_at
        await self._session.flush()
        return [_message(row) for row in rows]

    async def unanswered(self, limit: int) -> list[ConversationMessage]:
        """Customer messages nobody has answered yet, oldest first (customer service's /todo)."""
        rows = (
            await self._session.scalars(
                select(ConversationMessageRow)
                .where(
                    ConversationMessageRow.from_customer.is_(True),
                    ConversationMessageRow.answered_at.is_(None),
                )
                .order_by(ConversationMessageRow.at, ConversationMessageRow.id)
                .limit(limit)
            )
        ).all()
        return [_message(row) for row in rows]

    async def overdue(self, now: datetime, limit: int) -> list[ConversationMessage]:
        """Unanswered customer messages past their answer time, oldest first."""
        rows = (
            await self._session.scalars(
                select(ConversationMessageRow)
                .where(
                    ConversationMessageRow.from_customer.is_(True),
                    ConversationMessageRow.answered_at.is_(None),
                    ConversationMessageRow.due_at < now,
                )
                .order_by(ConversationMessageRow.due_at, ConversationMessageRow.id)
                .limit(limit)
            )
        ).all()
        return [_message(row) for row in rows]


class SqlChatLanguages:
    """The language of each team chat, set with /lang in the group."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def language_of(self, chat_id: int) -> str | None:
        """The language a team chat chose, if it chose one."""
        return await self._session.scalar(
            select(TeamChatRow.language)
            .where(TeamChatRow.chat_id == chat_id, TeamChatRow.language.is_not(None))
            .limit(1)
        )

    async def set_language(self, chat_id: int, language: str) -> int:
        """Sets the language of every department that uses the chat; returns how many do."""
        result = await self._session.execute(
            update(TeamChatRow).where(TeamChatRow.chat_id == chat_id).values(language=language)
        )
        return int(getattr(result, "rowcount", 0) or 0)
