"""What people are told when Telegram refuses a message for its content (issue 11, finding 1).

The outbox sender gives such a message up; instead of silence, the chat it was for gets a short
fallback, and the order desk is told, with /failed listing every message not delivered.
"""

from __future__ import annotations

from datetime import datetime

from aiogram.utils.i18n import I18n

from application.ports import REFUSAL_KEY_PREFIX, OutboxMessage
from presentation.keyboards import N_
from presentation.render import esc, one_line, translator

FALLBACK = N_("⚠️ A message for you could not be shown here. Our team has been told and will follow up.")
DESK_NOTICE = N_(
    "⚠️ Telegram refused a message ({method}) for chat {chat}: {error}. Send /failed to see the messages "
    "not delivered."
)


class TelegramRefusalNotices:
    """The fallback for the refused message's chat and the order desk's notice, in the desk's language."""

    def __init__(self, i18n: I18n, language: str, desk_chat_id: int | None) -> None:
        self._t = translator(i18n, language)
        self._desk_chat_id = desk_chat_id

    def notices(
        self, message: OutboxMessage, message_id: int, error: str, now: datetime
    ) -> list[OutboxMessage]:
        """The plain-text messages a refusal causes (no HTML, so they cannot be refused the same way)."""
        out = [
            OutboxMessage(
                message.chat_id,
                "sendMessage",
                {"chat_id": message.chat_id, "text": self._t(FALLBACK)},
                now,
                order_id=message.order_id,
                dedup_key=f"{REFUSAL_KEY_PREFIX}:{message_id}",
            )
        ]
        if self._desk_chat_id is not None:
            text = self._t(DESK_NOTICE).format(
                method=message.method, chat=message.chat_id, error=esc(one_line(error, 200))
            )
            out.append(
                OutboxMessage(
                    self._desk_chat_id,
                    "sendMessage",
                    {"chat_id": self._desk_chat_id, "text": text, "parse_mode": "HTML"},
                    now,
                    order_id=message.order_id,
                    dedup_key=f"{REFUSAL_KEY_PREFIX}-desk:{message_id}",
                )
            )
        return out
