"""Bot API payloads for tests: users, chats, messages and button presses shaped as Telegram sends them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

BOT_ID = 42
BOT_USER = {"id": BOT_ID, "is_bot": True, "first_name": "OrderDesk"}


def user(user_id: int, first_name: str, language_code: str | None = "en") -> dict[str, Any]:
    """A human Telegram user (no language code when the client sends none)."""
    sender: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name}
    if language_code is not None:
        sender["language_code"] = language_code
    return sender


def chat(
    chat_id: int, first_name: str = "User", *, kind: str | None = None, title: str = "Team"
) -> dict[str, Any]:
    """A chat: private for a positive id (as Telegram numbers them), else a supergroup, or of `kind`."""
    kind = kind or ("private" if chat_id > 0 else "supergroup")
    if kind == "private":
        return {"id": chat_id, "type": "private", "first_name": first_name}
    return {"id": chat_id, "type": kind, "title": title}


def text_message(
    message_id: int, text: str, *, chat: dict[str, Any], sender: dict[str, Any], date: datetime
) -> dict[str, Any]:
    """A text message of a user; a command gets its bot_command entity, as Telegram marks it."""
    message: dict[str, Any] = {
        "message_id": message_id,
        "date": int(date.timestamp()),
        "chat": chat,
        "from": sender,
        "text": text,
    }
    if text.startswith("/"):
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return message


def bot_message(message_id: int, text: str, *, chat: dict[str, Any], date: datetime) -> dict[str, Any]:
    """A message the bot sent, as a button press carries it."""
    return {
        "message_id": message_id,
        "date": int(date.timestamp()),
        "chat": chat,
        "from": BOT_USER,
        "text": text,
    }


def callback_query(
    query_id: str, data: str, *, sender: dict[str, Any], message: dict[str, Any], chat_instance: str = "ci"
) -> dict[str, Any]:
    """A press of an inline button with this callback data on a message."""
    return {"id": query_id, "from": sender, "chat_instance": chat_instance, "message": message, "data": data}
