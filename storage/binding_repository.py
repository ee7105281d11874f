"""One-time chat-binding tokens and consents for later orders (issue 12), in the caller's transaction."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ChatBindingTokenRow, ChatConsentRow


class SqlBindingRepository:
    """Implements application.binding.BindingRepository on a unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def issue(self, token: str, order_id: str, at: datetime) -> None:
        """Stores a new token for the order."""
        self._session.add(ChatBindingTokenRow(token=token, order_id=order_id, created_at=at))
        await self._session.flush()

    async def unused_token(self, order_id: str) -> str | None:
        """Returns the order's latest token nobody used yet, if any."""
        stmt = (
            select(ChatBindingTokenRow.token)
            .where(ChatBindingTokenRow.order_id == order_id, ChatBindingTokenRow.used_at.is_(None))
            .order_by(ChatBindingTokenRow.created_at.desc())
            .limit(1)
        )
        return await self._session.scalar(stmt)

    async def take(self, token: str, chat_id: int, at: datetime) -> str | None:
        """Marks an unused token used by the chat; returns its order, None if unknown or used before."""
        stmt = (
            update(ChatBindingTokenRow)
            .where(ChatBindingTokenRow.token == token, ChatBindingTokenRow.used_at.is_(None))
            .values(used_at=at, chat_id=chat_id)
            .returning(ChatBindingTokenRow.order_id)
        )
        return (await self._session.execute(stmt)).scalar_one_or_none()

    async def agree(self, chat_id: int, phone: str | None, email: str | None, at: datetime) -> None:
        """Records the consent for later orders with this phone or email."""
        self._session.add(ChatConsentRow(chat_id=chat_id, phone=phone, email=_folded(email), agreed_at=at))
        await self._session.flush()

    async def chat_for(self, phone: str | None, email: str | None) -> int | None:
        """Returns the chat the latest consent for this phone or email names, if any."""
        matches = []
        if phone:
            matches.append(ChatConsentRow.phone == phone)
        if email:
            matches.append(ChatConsentRow.email == _folded(email))
        if not matches:
            return None
        stmt = (
            select(ChatConsentRow.chat_id)
            .where(or_(*matches))
            .order_by(ChatConsentRow.agreed_at.desc(), ChatConsentRow.id.desc())
            .limit(1)
        )
        return await self._session.scalar(stmt)


def _folded(email: str | None) -> str | None:
    """Email addresses compare without case."""
    return email.casefold() if email else None
