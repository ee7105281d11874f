"""A lean loopback Bot API for the benchmarks and the multi-instance test: fast, and it measures.

It answers every method with a plausible result (a message for the send and edit methods, True
for the rest), hands queued updates out through getUpdates (long polling) or posts them to
webhook URLs round-robin, and records each call with its time, so that a test can check the sending
limits Telegram enforces (30 messages/s overall, 1/s per private chat, 20/min per group).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

Json = dict[str, Any]

BOT_ID = 123456789
# The methods that put a message into a chat (what Telegram's sending limits count).
SENDING_METHODS = frozenset(
    {"sendMessage", "sendDocument", "sendPhoto", "copyMessage", "forwardMessage", "sendMediaGroup"}
)
_MESSAGE_METHODS = SENDING_METHODS | {"editMessageText", "editMessageReplyMarkup", "editMessageCaption"}


@dataclass(frozen=True)
class Call:
    """One request the bot made."""

    method: str
    params: Json
    at: float

    @property
    def chat_id(self) -> int | None:
        """The chat the request is for, if any."""
        chat = self.params.get("chat_id")
        try:
            return int(chat) if chat is not None else None
        except ValueError:
            return None


@dataclass
class LeanBotApi:
    """The fake server; start() it, point the bot at base_url."""

    host: str = "127.0.0.1"
    port: int = 0
    calls: list[Call] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    # Answers the next sending call whose text starts with retry_after_prefix with a 429 and this retry_after.
    retry_after_once: int | None = None
    retry_after_prefix: str = ""
    _updates: deque[Json] = field(default_factory=deque)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _next_update_id: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _runner: web.AppRunner | None = None
    _waiters: list[tuple[str, int, asyncio.Future[None]]] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        """The Bot API base URL to configure the bot with."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> None:
        """Serves the fake on a free loopback port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stops serving."""
        if self._runner is not None:
            await self._runner.cleanup()

    def make_update_id(self) -> int:
        """A fresh update id."""
        return next(self._next_update_id)

    def queue(self, updates: Iterable[Json]) -> None:
        """Makes updates available to getUpdates."""
        self._updates.extend(updates)
        self._arrived.set()

    async def wait_count(self, method: str, count: int, within: float = 120.0) -> None:
        """Returns once `method` has been called `count` times in all (TimeoutError after `within` s)."""
        if self.counts[method] >= count:
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((method, count, future))
        async with asyncio.timeout(within):
            await future

    def sent(self) -> list[Call]:
        """The successful calls that put a message into a chat, in order."""
        return [call for call in self.calls if call.method in SENDING_METHODS]

    async def _handle(self, request: web.Request) -> web.Response:
        """Answers one Bot API request."""
        method = request.match_info["method"]
        params = await _params(request)
        if method == "getUpdates":
            return _ok(await self._get_updates(params, request))
        if (
            self.retry_after_once is not None
            and method in SENDING_METHODS
            and str(params.get("text", "")).startswith(self.retry_after_prefix)
        ):
            retry_after, self.retry_after_once = self.retry_after_once, None
            self.calls.append(Call("429:" + method, params, time.monotonic()))
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after},
                }
            )
        self.calls.append(Call(method, params, time.monotonic()))
        self.counts[method] += 1
        self._wake(method)
        return _ok(self._result(method, params))

    def _wake(self, method: str) -> None:
        """Resolves the waiters whose count is reached."""
        for waiter in list(self._waiters):
            name, count, future = waiter
            if name == method and self.counts[method] >= count:
                self._waiters.remove(waiter)
                if not future.done():
                    future.set_result(None)

    async def _get_updates(self, params: Json, request: web.Request) -> list[Json]:
        """Long-polls: the queued updates (up to the limit), or an empty list after the timeout."""
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        if not self._updates and timeout > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), timeout)
            except TimeoutError:
                return []
        if request.transport is None or request.transport.is_closing():
            # The poller has gone (e.g. a bot stopped mid-poll): the updates wait for the next one.
            return []
        batch: list[Json] = []
        while self._updates and len(batch) < limit:
            batch.append(self._updates.popleft())
        return batch

    def _result(self, method: str, params: Json) -> Any:
        """A plausible result of the method."""
        if method == "getMe":
            return {"id": BOT_ID, "is_bot": True, "first_name": "Bench", "username": "bench_bot"}
        if method == "getWebhookInfo":
            return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if method == "getMyCommands":
            return []
        if method not in _MESSAGE_METHODS:
            return True
        chat_id = _chat_of(params)
        chat_type = "private" if chat_id > 0 else "supergroup"
        message: Json = {
            "message_id": int(params.get("message_id") or next(self._message_ids)),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type, "title": None if chat_id > 0 else "Team"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bench"},
        }
        if "text" in params:
            message["text"] = str(params["text"])
        return message


async def _params(request: web.Request) -> Json:
    """Reads the request's parameters (JSON, form or multipart)."""
    if request.content_type == "application/json":
        body = await request.json()
        return body if isinstance(body, dict) else {}
    params: Json = {}
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, aiohttp.BodyPartReader) and part.name and part.filename is None:
                params[part.name] = await part.text()
            elif isinstance(part, aiohttp.BodyPartReader) and part.name:
                await part.read()
                params[part.name] = "<file>"
        return params
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _chat_of(params: Json) -> int:
    """The numeric chat id of a request (0 if none)."""
    try:
        return int(params.get("chat_id") or 0)
    except ValueError:
        return 0


def _ok(result: Any) -> web.Response:
    """A successful Bot API answer."""
    return web.Response(text=json.dumps({"ok": True, "result": result}), content_type="application/json")


def private_message(update_id: int, user_id: int, text: str, *, name: str = "Bench") -> Json:
    """An update: a user's text message in the private chat."""
    user = {"id": user_id, "is_bot": False, "first_name": name, "language_code": "en"}
    message: Json = {
        "message_id": update_id,
        "date": int(time.time()),
        "chat": {"id": user_id, "type": "private", "first_name": name},
        "from": user,
        "text": text,
    }
    if text.startswith("/"):
        command = text.split()[0]
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"update_id": update_id, "message": message}


def button_press(update_id: int, user_id: int, data: str) -> Json:
    """An update: a user's press of an inline button under a bot message in the private chat."""
    user = {"id": user_id, "is_bot": False, "first_name": "Staff", "language_code": "en"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"q{update_id}",
            "from": user,
            "chat_instance": str(user_id),
            "data": data,
            "message": {
                "message_id": 1,
                "date": int(time.time()),
                "chat": {"id": user_id, "type": "private", "first_name": "Staff"},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Bench"},
                "text": "card",
            },
        },
    }


def window_violations(
    calls: list[Call], *, overall: int, per_private: int, per_group_minute: int, tolerance: float = 0.005
) -> list[str]:
    """Checks the sending limits over sliding windows shortened by `tolerance` s; returns what exceeded."""
    problems: list[str] = []
    times = sorted(call.at for call in calls)
    for start, end in _windows(times, 1.0 - tolerance):
        if end - start > overall:
            problems.append(f"{end - start} messages within 1 s overall")
            break
    by_chat: dict[int, list[float]] = {}
    for call in calls:
        if call.chat_id is not None:
            by_chat.setdefault(call.chat_id, []).append(call.at)
    for chat, stamps in by_chat.items():
        stamps.sort()
        window, allowed = (1.0, per_private) if chat > 0 else (60.0, per_group_minute)
        for start, end in _windows(stamps, window - tolerance):
            if end - start > allowed:
                problems.append(f"{end - start} messages to chat {chat} within {window:.0f} s")
                break
    return problems


def _windows(times: list[float], length: float) -> Iterable[tuple[int, int]]:
    """Yields (first, past-last) index pairs of every window of `length` seconds starting at a call."""
    end = 0
    for start, stamp in enumerate(times):
        end = max(end, start)
        while end < len(times) and times[end] - stamp < length:
            end += 1
        yield start, end
