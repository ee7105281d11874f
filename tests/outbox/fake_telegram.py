"""A fake Bot API session: answers each request by a policy, on a controlled clock, and records it.

Answers go through aiogram's own check_response, so the sender sees the same exceptions as with
the real server. A policy may also raise (a network error, or a simulated crash of the process).
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aiogram import Bot
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod

from domain.clock import Clock
from tests.mocked_bot import BotApiAnswer, DownloadingSession

TOKEN = "42:TEST"


class SimulatedCrash(BaseException):
    """The sender process dies here; a BaseException, so nothing in the sender catches it."""


@dataclass(frozen=True)
class Answer:
    """What the fake server answers: ok, or an error code with its description and parameters."""

    error_code: int = 200
    description: str = ""
    parameters: dict[str, Any] | None = None
    # The sender process dies "before" the request reaches Telegram or "after" Telegram handled it.
    crash: Literal["before", "after"] | None = None

    @property
    def ok(self) -> bool:
        """Tells whether Telegram accepted the request."""
        return self.error_code == 200


OK = Answer()
CRASH_BEFORE_SENDING = Answer(crash="before")
CRASH_AFTER_TELEGRAM_ACCEPTED = Answer(crash="after")


def retry_after(seconds: int) -> Answer:
    """A 429 flood-control answer."""
    return Answer(429, f"Too Many Requests: retry after {seconds}", {"retry_after": seconds})


def blocked() -> Answer:
    """A 403 from a user who blocked the bot."""
    return Answer(403, "Forbidden: bot was blocked by the user")


def migrated(to_chat_id: int) -> Answer:
    """A 400 telling that the group became a supergroup."""
    return Answer(
        400, "Bad Request: group chat was upgraded to a supergroup chat", {"migrate_to_chat_id": to_chat_id}
    )


def bad_request(description: str) -> Answer:
    """A 400 with the given description."""
    return Answer(400, f"Bad Request: {description}")


@dataclass(frozen=True)
class Request:
    """One request the fake received, when, and what it answered."""

    at: datetime
    method: str
    chat_id: int | None
    text: str | None
    answer: Answer


Policy = Callable[[TelegramMethod[Any]], Answer | Exception]


class FakeTelegram(DownloadingSession):
    """Records every request with the clock's time and answers it by the policy (OK by default)."""

    def __init__(self, clock: Clock, policy: Policy | None = None) -> None:
        super().__init__()
        self.clock = clock
        self.policy: Policy = policy or (lambda _method: OK)
        self.requests: list[Request] = []
        self._message_ids = itertools.count(1)
        self._arrived = asyncio.Event()

    def delivered(self) -> list[Request]:
        """Returns the requests Telegram accepted, oldest first."""
        return [request for request in self.requests if request.answer.ok]

    async def wait_delivered(self, count: int) -> None:
        """Waits until Telegram has accepted `count` requests."""
        while len(self.delivered()) < count:
            self._arrived.clear()
            await self._arrived.wait()

    async def close(self) -> None:
        """Nothing to close."""

    async def answer(self, bot: Bot, method: TelegramMethod[Any]) -> BotApiAnswer:
        """Answers the request by the policy, after recording it."""
        answer = self.policy(method)
        if isinstance(answer, Exception):
            raise answer
        if answer.crash == "before":
            raise SimulatedCrash
        chat_id = getattr(method, "chat_id", None)
        self.requests.append(
            Request(self.clock.now(), method.__api_method__, chat_id, getattr(method, "text", None), answer)
        )
        self._arrived.set()
        if answer.crash == "after":
            raise SimulatedCrash
        result = self._result(method, chat_id) if answer.ok else None
        return BotApiAnswer(answer.ok, result, answer.error_code, answer.description, answer.parameters)

    def _result(self, method: TelegramMethod[Any], chat_id: Any) -> Any:
        """Fabricates the result of a successful call."""
        if method.__api_method__ in ("sendMessage", "editMessageText"):
            chat_type = "private" if int(chat_id) > 0 else "supergroup"
            message_id = getattr(method, "message_id", None) or next(self._message_ids)
            return {
                "message_id": message_id,
                "date": int(self.clock.now().timestamp()),
                "chat": {"id": int(chat_id), "type": chat_type},
                "text": getattr(method, "text", ""),
            }
        return True


def network_error(method: TelegramMethod[Any]) -> TelegramNetworkError:
    """The error AiohttpSession raises when the connection fails."""
    return TelegramNetworkError(method=method, message="ClientConnectorError: connection reset")


def fake_bot(session: FakeTelegram) -> Bot:
    """A Bot talking to the fake session."""
    return Bot(TOKEN, session=session)
