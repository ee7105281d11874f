"""A loopback fake of the Telegram Bot API: a real bot talks HTTP to it, a test plays the users.

The bot side is served at ``/bot<token>/<method>`` (JSON, urlencoded and multipart bodies, as
aiogram's AiohttpSession sends them) and ``/file/bot<token>/<path>``. Every request is checked
against the Bot API spec; violations are kept in ``FakeBotApi.violations``. The user side is plain
Python: ``create_user``, ``create_group``, ``send_text``, ``press_button``, ``send_photo``,
``send_document`` queue updates; ``wait_for_bot_message`` waits for what the bot sent.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import itertools
import json
import re
import struct
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.spec import BotApiSpec
from sandbox.telegram_html import parse_html, utf16_length

Json = dict[str, Any]
MessagePredicate = Callable[[Json], bool]

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
BOT_BLOCKED = "Forbidden: bot was blocked by the user"
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
DEFAULT_ALLOWED_UPDATES_EXCLUDED = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
_TOKEN = re.compile(r"(\d+):[A-Za-z0-9_-]+")
_MAX_POLL_SECONDS = 50.0


class ApiError(Exception):
    """A Bot API error answer: HTTP status = error_code, with Telegram's description."""

    def __init__(self, error_code: int, description: str, parameters: Json | None = None) -> None:
        super().__init__(description)
        self.error_code = error_code
        self.description = description
        self.parameters = parameters

    def to_json(self) -> Json:
        """Returns the error as the Bot API answer body."""
        body: Json = {"ok": False, "error_code": self.error_code, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


@dataclass
class FakeUser:
    """A Telegram user played by the test."""

    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = "en"
    blocked_bot: bool = False

    def to_json(self) -> Json:
        """Returns the user as a Bot API User object."""
        data: Json = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data


@dataclass
class FakeChat:
    """A chat with its message history as the fake server keeps it."""

    id: int
    type: str
    title: str | None = None
    first_name: str | None = None
    username: str | None = None
    user: FakeUser | None = None
    members: list[FakeUser] = field(default_factory=list)
    messages: dict[int, Json] = field(default_factory=dict)
    deleted: dict[int, Json] = field(default_factory=dict)
    reply_keyboard: Json | None = None
    actions: list[str] = field(default_factory=list)
    _message_ids: Iterator[int] = field(default_factory=lambda: itertools.count(1), repr=False)

    def to_json(self) -> Json:
        """Returns the chat as a Bot API Chat object."""
        data: Json = {"id": self.id, "type": self.type}
        for key in ("title", "first_name", "username"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data

    def next_message_id(self) -> int:
        """Allocates the next message id in this chat."""
        return next(self._message_ids)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    content: bytes
    filename: str | None = None
    content_type: str | None = None


@dataclass
class StoredFile:
    """A file the server knows, downloadable at /file/bot<token>/<file_path>."""

    file_id: str
    file_unique_id: str
    content: bytes
    file_path: str
    file_name: str | None = None
    mime_type: str | None = None


@dataclass(frozen=True)
class BotOutput:
    """Something the bot did to a message: kind is 'sent', 'edited' or 'deleted'."""

    kind: str
    chat_id: int
    message: Json


@dataclass(frozen=True)
class ApiCall:
    """One request the bot made: canonical method name, params as sent, names of uploaded parts."""

    method: str
    params: Json
    files: tuple[str, ...]


@dataclass
class InjectedError:
    """An error the next matching calls of a method answer with."""

    method: str
    error: ApiError
    remaining: int
    chat_id: int | str | None = None

    def matches(self, method: str, params: Json) -> bool:
        """Tells whether this error applies to a call."""
        if self.remaining <= 0 or self.method != method.lower():
            return False
        return self.chat_id is None or str(params.get("chat_id")) == str(self.chat_id)


@dataclass
class _QueuedUpdate:
    update: Json
    # A redelivered copy ignores the offset once, like an update whose confirmation got lost.
    redelivery: bool = False

    @property
    def update_id(self) -> int:
        return int(self.update["update_id"])

    @property
    def kind(self) -> str:
        return next(key for key in self.update if key != "update_id")


@dataclass
class _Call:
    method: str
    params: Json
    files: dict[str, UploadedFile]

    def get_str(self, key: str, default: str | None = None) -> str | None:
        value = self.params.get(key, default)
        return None if value is None else str(value)

    def get_int(self, key: str, default: int | None = None) -> int | None:
        value = self.params.get(key)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ApiError(400, f"Bad Request: invalid {key} specified") from None

    def get_bool(self, key: str) -> bool:
        return self.params.get(key) in (True, "true", "True", "1", 1)

    def get_json(self, key: str) -> Any:
        value = self.params.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ApiError(400, f"Bad Request: can't parse {key} JSON object") from None
        return value

    def get_file(self, key: str) -> UploadedFile | str | None:
        value = self.params.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            return self.files.get(value.removeprefix("attach://"))
        if value is None:
            return self.files.get(key)
        return str(value)


Handler = Callable[[_Call], Awaitable[Any]]


class FakeBotApi:
    """The fake Bot API server state: chats, messages, files, the update queue and the spec checks."""

    def __init__(
        self,
        *,
        spec: BotApiSpec | None = None,
        bot_first_name: str = "OrderDesk",
        bot_username: str = "orderdesk_test_bot",
        clock: Callable[[], float] = time.time,
        answer_delay: float = 0.0,
    ) -> None:
        self.spec = spec or BotApiSpec.load()
        # Seconds every method but getUpdates waits, after taking effect, before answering: a slow
        # Telegram, and a wide window for a bot to die between Telegram's acceptance and its answer.
        self.answer_delay = answer_delay
        self.bot_first_name = bot_first_name
        self.bot_username = bot_username
        self.bot_id = 0
        self.clock = clock
        self.base_url = ""
        self.violations: list[str] = []
        self.calls: list[ApiCall] = []
        self.unsupported_calls: list[str] = []
        self.users: dict[int, FakeUser] = {}
        self.chats: dict[int, FakeChat] = {}
        self.files: dict[str, StoredFile] = {}
        self.outputs: list[BotOutput] = []
        self.callback_answers: dict[str, Json] = {}
        self.commands: dict[tuple[str, str], list[Json]] = {}
        self.webhook_url = ""
        self.injected_errors: list[InjectedError] = []
        self._consumed_outputs: set[int] = set()
        self._queue: list[_QueuedUpdate] = []
        self._history: dict[int, Json] = {}
        self._update_ids = itertools.count(1)
        self._last_update_id = 0
        self._user_ids = itertools.count(100001)
        self._group_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._open_callback_queries: set[str] = set()
        self._allowed_updates: list[str] | None = None
        self._poll_generation = 0
        self._changed = asyncio.Event()
        self._closing = False
        self._handlers: dict[str, Handler] = {
            "getme": self._get_me,
            "getupdates": self._get_updates,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._get_webhook_info,
            "setmycommands": self._set_my_commands,
            "deletemycommands": self._delete_my_commands,
            "getmycommands": self._get_my_commands,
            "sendmessage": self._send_message,
            "editmessagetext": self._edit_message_text,
            "editmessagereplymarkup": self._edit_message_reply_markup,
            "editmessagecaption": self._edit_message_caption,
            "deletemessage": self._delete_message,
            "answercallbackquery": self._answer_callback_query,
            "sendphoto": self._send_photo,
            "senddocument": self._send_document,
            "getfile": self._get_file,
            "sendchataction": self._send_chat_action,
            "sendinvoice": self._send_invoice,
            "answerprecheckoutquery": self._answer_pre_checkout_query,
        }
        # Telegram Payments: invoices by (chat, message), open pre-checkout queries, the bot's answers.
        self.invoices: dict[tuple[int, int], Json] = {}
        self.pre_checkout_answers: dict[str, Json] = {}
        self._open_checkouts: dict[str, tuple[FakeUser, FakeChat, Json]] = {}
        self._checkout_ids = itertools.count(1)
        self._charge_ids = itertools.count(1)

    # ----- HTTP side -----

    def make_app(self) -> web.Application:
        """Builds the aiohttp application serving the Bot API and file downloads."""
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_api)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._handle_file)
        return app

    def close(self) -> None:
        """Wakes every waiting long poll so the server can shut down at once."""
        self._closing = True
        self._notify()

    async def _handle_api(self, request: web.Request) -> web.Response:
        token_match = _TOKEN.fullmatch(request.match_info["token"])
        if token_match is None:
            return _answer_error(ApiError(401, "Unauthorized"))
        self.bot_id = self.bot_id or int(token_match.group(1))
        requested = request.match_info["method"]
        method = self.spec.canonical_method(requested)
        if method is None:
            self.violations.append(f"{requested}: unknown method")
            return _answer_error(ApiError(404, "Not Found: method not found"))
        try:
            params, files = await _read_params(request)
        except ValueError as error:
            return _answer_error(ApiError(400, f"Bad Request: {error}"))
        self.calls.append(ApiCall(method, params, tuple(files)))
        self._notify()
        problems = self.spec.check(method, params, files)
        self.violations += problems
        try:
            rejected = [problem for problem in problems if "unknown field" not in problem]
            if rejected:
                raise ApiError(400, f"Bad Request: {rejected[0]}")
            self._raise_injected_error(method, params)
            handler = self._handlers.get(method.lower())
            if handler is None:
                self.unsupported_calls.append(method)
                raise ApiError(501, f"Not Implemented: the sandbox does not emulate {method}")
            result = await handler(_Call(method, params, files))
        except ApiError as error:
            return _answer_error(error)
        if self.answer_delay > 0 and method != "getUpdates":
            await asyncio.sleep(self.answer_delay)
        return web.json_response({"ok": True, "result": result})

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        stored = next((f for f in self.files.values() if f.file_path == path), None)
        if stored is None or _TOKEN.fullmatch(request.match_info["token"]) is None:
            return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)
        return web.Response(body=stored.content, content_type=stored.mime_type or "application/octet-stream")

    def _raise_injected_error(self, method: str, params: Json) -> None:
        for injected in self.injected_errors:
            if injected.matches(method, params):
                injected.remaining -= 1
                raise injected.error

    # ----- test-side controls -----

    def fail_next(
        self,
        method: str,
        error_code: int,
        *,
        times: int = 1,
        chat_id: int | str | None = None,
        retry_after: int = 5,
        description: str | None = None,
    ) -> None:
        """Makes the next `times` calls of method (optionally only for one chat) answer with an error."""
        parameters = None
        if error_code == 429:
            description = description or f"Too Many Requests: retry after {retry_after}"
            parameters = {"retry_after": retry_after}
        elif error_code == 403:
            description = description or BOT_BLOCKED
        elif error_code == 400:
            description = description or NOT_MODIFIED
        else:
            description = description or f"Error {error_code}"
        error = ApiError(error_code, description, parameters)
        self.injected_errors.append(InjectedError(method.lower(), error, times, chat_id))

    async def accept_as_sent(self, method: str, params: Json) -> Json:
        """Carries out a Bot API call as if the bot had made it, unchecked and unrecorded; returns its result.

        For seeding what an earlier run of the bot sent, e.g. the review cards of a crash test; the bot
        must have called once before, so that its messages carry its id.
        """
        handler = self._handlers.get(method.lower())
        if handler is None:
            raise ValueError(f"the sandbox does not emulate {method}")
        if not self.bot_id:
            raise ValueError("the bot has not called yet, so its id is unknown")
        result: Json = await handler(_Call(method, copy.deepcopy(params), {}))
        return result

    def create_user(
        self,
        first_name: str = "Alice",
        *,
        username: str | None = None,
        last_name: str | None = None,
        language_code: str | None = "en",
        user_id: int | None = None,
    ) -> FakeUser:
        """Creates a user and the private chat between them and the bot."""
        user = FakeUser(user_id or next(self._user_ids), first_name, last_name, username, language_code)
        self.users[user.id] = user
        self.chats[user.id] = FakeChat(
            user.id, "private", first_name=first_name, username=username, user=user
        )
        return user

    def create_group(
        self,
        title: str,
        members: list[FakeUser] | tuple[FakeUser, ...] = (),
        *,
        chat_id: int | None = None,
        chat_type: str = "supergroup",
    ) -> FakeChat:
        """Creates a group chat (a supergroup by default) the bot is a member of."""
        chat_id = chat_id or -(1_000_000_000_000 + next(self._group_ids))
        chat = FakeChat(chat_id, chat_type, title=title, members=list(members))
        self.chats[chat_id] = chat
        return chat

    def private_chat(self, user: FakeUser) -> FakeChat:
        """Returns the private chat of a user with the bot."""
        return self.chats[user.id]

    def block_bot(self, user: FakeUser, blocked: bool = True) -> None:
        """Makes the user block (or unblock) the bot: sending to them then answers 403."""
        user.blocked_bot = blocked

    def send_text(
        self, user: FakeUser, chat: FakeChat | int | None, text: str, *, reply_to: Json | None = None
    ) -> Json:
        """Sends a text message as user (a reply when reply_to is given); a /command gets its entity."""
        content: Json = {"text": text}
        if reply_to is not None:
            content["reply_to_message"] = copy.deepcopy(reply_to)
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": utf16_length(command)}]
        return self._user_message(user, chat, content)

    def send_photo(
        self, user: FakeUser, chat: FakeChat | int | None, content: bytes, caption: str | None = None
    ) -> Json:
        """Sends a photo as user."""
        stored = self._store_file(content, "photos", "photo.jpg", "image/jpeg")
        message: Json = {"photo": [self._photo_size(stored)]}
        if caption:
            message["caption"] = caption
        return self._user_message(user, chat, message)

    def send_document(
        self,
        user: FakeUser,
        chat: FakeChat | int | None,
        content: bytes,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> Json:
        """Sends a document as user."""
        stored = self._store_file(content, "documents", file_name, mime_type)
        message: Json = {"document": self._document(stored)}
        if caption:
            message["caption"] = caption
        return self._user_message(user, chat, message)

    def press_button(
        self, user: FakeUser, message: Json, callback_data: str | None = None, *, text: str | None = None
    ) -> str:
        """Presses an inline button (by callback_data or label) on the current version of a bot message."""
        chat = self._chat(message["chat"]["id"])
        current = chat.messages.get(message["message_id"])
        if current is None:
            raise LookupError(f"message {message['message_id']} in chat {chat.id} does not exist (deleted?)")
        buttons = [b for row in (current.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]
        button = next(
            (
                b
                for b in buttons
                if (callback_data is None or b.get("callback_data") == callback_data)
                and (text is None or b.get("text") == text)
                and "callback_data" in b
            ),
            None,
        )
        if button is None:
            available = [(b.get("text"), b.get("callback_data")) for b in buttons]
            raise LookupError(
                f"no button {callback_data or text!r} on message {current['message_id']}: {available}"
            )
        query_id = str(next(self._callback_ids))
        self._open_callback_queries.add(query_id)
        chat_instance = hashlib.sha1(f"{chat.id}".encode()).hexdigest()[:16]
        self.queue_update(
            "callback_query",
            {
                "id": query_id,
                "from": user.to_json(),
                "message": copy.deepcopy(current),
                "chat_instance": chat_instance,
                "data": button["callback_data"],
            },
        )
        return query_id

    def pay_invoice(self, user: FakeUser, message: Json) -> str:
        """Presses Pay on an invoice: Telegram asks the bot (pre_checkout_query) before charging."""
        chat = self._chat(message["chat"]["id"])
        invoice = self.invoices.get((chat.id, int(message["message_id"])))
        if invoice is None:
            raise LookupError(f"message {message['message_id']} in chat {chat.id} is not an invoice")
        query_id = f"pc{next(self._checkout_ids)}"
        self._open_checkouts[query_id] = (user, chat, invoice)
        self.queue_update(
            "pre_checkout_query",
            {
                "id": query_id,
                "from": user.to_json(),
                "currency": invoice["currency"],
                "total_amount": invoice["total_amount"],
                "invoice_payload": invoice["payload"],
            },
        )
        return query_id

    def queue_update(self, kind: str, payload: Json) -> int:
        """Queues an update of the given kind ('message', 'callback_query'...) with a fresh update_id."""
        return self.queue_raw_update({kind: payload})

    def queue_raw_update(self, update: Json, *, times: int = 1) -> int:
        """Queues an update dict as is (its own update_id, if any, is kept); times>1 delivers duplicates."""
        update = copy.deepcopy(update)
        if "update_id" not in update:
            update = {"update_id": self._next_update_id(), **update}
        update_id = int(update["update_id"])
        if update_id > self._last_update_id:
            self._last_update_id = update_id
            self._update_ids = itertools.count(update_id + 1)
        self._history[update_id] = update
        self._queue.append(_QueuedUpdate(update))
        self._queue += [_QueuedUpdate(copy.deepcopy(update), redelivery=True) for _ in range(times - 1)]
        self._notify()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Delivers an already delivered update once more, as Telegram does when a confirmation is lost."""
        self._queue.append(_QueuedUpdate(copy.deepcopy(self._history[update_id]), redelivery=True))
        self._notify()

    @property
    def pending_updates(self) -> list[Json]:
        """Returns the updates queued and not yet confirmed by the bot."""
        return [queued.update for queued in self._queue]

    def bot_messages(self, chat: FakeChat | int) -> list[Json]:
        """Returns the bot's messages currently in a chat (after edits, without deleted ones)."""
        chat = self._chat(chat if isinstance(chat, int) else chat.id)
        return [m for m in chat.messages.values() if m.get("from", {}).get("id") == self.bot_id]

    async def wait_for_bot_output(
        self,
        chat: FakeChat | int,
        predicate: MessagePredicate | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline belongs to the helper's contract
        kinds: tuple[str, ...] = ("sent", "edited"),
    ) -> BotOutput:
        """Waits for the next not yet seen output of the bot in a chat that matches predicate."""
        chat_id = chat if isinstance(chat, int) else chat.id
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changed
                    for index, output in enumerate(self.outputs):
                        if (
                            index in self._consumed_outputs
                            or output.chat_id != chat_id
                            or output.kind not in kinds
                        ):
                            continue
                        if predicate is None or predicate(output.message):
                            self._consumed_outputs.add(index)
                            return output
                    await changed.wait()
        except TimeoutError:
            seen = [
                (o.kind, o.message.get("text") or o.message.get("caption"))
                for o in self.outputs
                if o.chat_id == chat_id
            ]
            raise TimeoutError(
                f"the bot sent nothing matching to chat {chat_id} within {timeout}s; it did: {seen}"
            ) from None

    async def wait_for_bot_message(
        self,
        chat_id: FakeChat | int,
        predicate: MessagePredicate | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline belongs to the helper's contract
    ) -> Json:
        """Waits for the next message the bot sent (or edited) in a chat that matches predicate."""
        return (await self.wait_for_bot_output(chat_id, predicate, timeout)).message

    async def wait_for_call(
        self,
        method: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline belongs to the helper's contract
    ) -> ApiCall:
        """Waits until the bot has called a Bot API method (e.g. its first getUpdates); returns that call."""
        async with asyncio.timeout(timeout):
            while True:
                changed = self._changed
                call = next((c for c in self.calls if c.method.lower() == method.lower()), None)
                if call is not None:
                    return call
                await changed.wait()

    async def wait_for_callback_answer(
        self,
        query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - the deadline belongs to the helper's contract
    ) -> Json:
        """Waits until the bot answers a callback query; returns the answerCallbackQuery params."""
        async with asyncio.timeout(timeout):
            while query_id not in self.callback_answers:
                changed = self._changed
                await changed.wait()
        return self.callback_answers[query_id]

    # ----- internals -----

    def _notify(self) -> None:
        """Wakes every waiter; each waiter holds the event it started waiting on."""
        self._changed.set()
        self._changed = asyncio.Event()

    def _next_update_id(self) -> int:
        update_id = next(self._update_ids)
        self._last_update_id = update_id
        return update_id

    def _now(self) -> int:
        return int(self.clock())

    def _chat(self, chat_id: int | str | None) -> FakeChat:
        chat: FakeChat | None = None
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            chat = next((c for c in self.chats.values() if c.username == chat_id[1:]), None)
        elif chat_id is not None:
            try:
                chat = self.chats.get(int(chat_id))
            except ValueError:
                chat = None
        if chat is None:
            raise ApiError(400, "Bad Request: chat not found")
        return chat

    def _bot_user(self) -> Json:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_first_name,
            "username": self.bot_username,
        }

    def _user_message(self, user: FakeUser, chat: FakeChat | int | None, content: Json) -> Json:
        target = (
            self.chats[user.id] if chat is None else self._chat(chat if isinstance(chat, int) else chat.id)
        )
        message_id = target.next_message_id()
        message = {
            "message_id": message_id,
            "from": user.to_json(),
            "chat": target.to_json(),
            "date": self._now(),
            **content,
        }
        target.messages[message_id] = message
        self.queue_update("message", copy.deepcopy(message))
        return copy.deepcopy(message)

    def _store_file(
        self, content: bytes, folder: str, file_name: str | None, mime_type: str | None
    ) -> StoredFile:
        number = next(self._file_ids)
        unique = hashlib.sha1(content).hexdigest()[:16]
        extension = file_name.rsplit(".", 1)[1] if file_name and "." in file_name else "bin"
        stored = StoredFile(
            file_id=f"BQAC{number:06d}{unique}",
            file_unique_id=f"AgAD{unique}",
            content=content,
            file_path=f"{folder}/file_{number}.{extension}",
            file_name=file_name,
            mime_type=mime_type,
        )
        self.files[stored.file_id] = stored
        return stored

    @staticmethod
    def _document(stored: StoredFile) -> Json:
        document: Json = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
        }
        if stored.file_name:
            document["file_name"] = stored.file_name
        if stored.mime_type:
            document["mime_type"] = stored.mime_type
        return document

    @staticmethod
    def _photo_size(stored: StoredFile) -> Json:
        width, height = _image_size(stored.content)
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "width": width,
            "height": height,
        }

    def _output(self, kind: str, chat: FakeChat, message: Json) -> None:
        self.outputs.append(BotOutput(kind, chat.id, copy.deepcopy(message)))
        self._notify()

    def _target_chat(self, call: _Call) -> FakeChat:
        chat = self._chat(call.params.get("chat_id"))
        if chat.user is not None and chat.user.blocked_bot:
            raise ApiError(403, BOT_BLOCKED)
        return chat

    def _formatted(self, call: _Call, text_key: str, entities_key: str) -> Json:
        """Returns text (or caption) and its entities as Telegram stores them after parsing."""
        raw = call.get_str(text_key)
        if raw is None:
            return {}
        parse_mode = (call.get_str("parse_mode") or "").upper()
        entities = call.get_json(entities_key)
        text = raw
        if parse_mode == "HTML":
            parsed = parse_html(raw)
            if parsed.errors:
                raise ApiError(400, f"Bad Request: can't parse entities: {parsed.errors[0]}")
            text, entities = parsed.text, [entity.to_dict() for entity in parsed.entities]
        result: Json = {text_key: text}
        entities = [full for entity in entities or [] if (full := self._with_user(entity)) is not None]
        if entities:
            result[entities_key] = entities
        return result

    def _with_user(self, entity: Json) -> Json | None:
        """Gives a text_mention the whole User as Telegram answers; drops a mention of an unknown user."""
        if entity.get("type") != "text_mention":
            return entity
        user = self.users.get(int((entity.get("user") or {}).get("id", 0)))
        return {**entity, "user": user.to_json()} if user is not None else None

    def _new_bot_message(self, call: _Call, chat: FakeChat, content: Json) -> Json:
        message: Json = {
            "message_id": chat.next_message_id(),
            "from": self._bot_user(),
            "chat": chat.to_json(),
            "date": self._now(),
            **content,
        }
        reply_to = self._replied_message(call, chat)
        if reply_to is not None:
            message["reply_to_message"] = copy.deepcopy(reply_to)
        markup = call.get_json("reply_markup")
        if isinstance(markup, dict):
            if "inline_keyboard" in markup:
                message["reply_markup"] = markup
            elif "keyboard" in markup:
                chat.reply_keyboard = markup
            elif markup.get("remove_keyboard"):
                chat.reply_keyboard = None
        chat.messages[message["message_id"]] = message
        self._output("sent", chat, message)
        return copy.deepcopy(message)

    def _replied_message(self, call: _Call, chat: FakeChat) -> Json | None:
        parameters = call.get_json("reply_parameters")
        message_id = parameters.get("message_id") if isinstance(parameters, dict) else None
        if message_id is None:
            return None
        replied = chat.messages.get(int(message_id))
        if replied is None and not parameters.get("allow_sending_without_reply"):
            raise ApiError(400, "Bad Request: message to be replied not found")
        return replied

    def _bot_message_to_edit(self, call: _Call) -> tuple[FakeChat, Json]:
        if call.params.get("inline_message_id"):
            raise ApiError(501, "Not Implemented: the sandbox does not emulate inline messages")
        chat = self._target_chat(call)
        message = chat.messages.get(call.get_int("message_id") or 0)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        if message.get("from", {}).get("id") != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return chat, message

    def _apply_edit(self, chat: FakeChat, message: Json, changes: Json, removed: tuple[str, ...]) -> Json:
        before = copy.deepcopy(message)
        for key in removed:
            message.pop(key, None)
        message.update(changes)
        if message == before:
            raise ApiError(400, NOT_MODIFIED)
        message["edit_date"] = self._now()
        self._output("edited", chat, message)
        return copy.deepcopy(message)

    def _file_for(self, call: _Call, key: str, folder: str) -> StoredFile:
        value = call.get_file(key)
        if isinstance(value, UploadedFile):
            return self._store_file(value.content, folder, value.filename, value.content_type)
        if value is None:
            raise ApiError(400, f"Bad Request: there is no {key} in the request")
        if value in self.files:
            return self.files[value]
        if value.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: failed to get HTTP URL content")
        raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")

    # ----- Bot API methods -----

    async def _get_me(self, call: _Call) -> Json:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    async def _get_updates(self, call: _Call) -> list[Json]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete "
                "the webhook first",
            )
        offset = call.get_int("offset")
        limit = min(max(call.get_int("limit", 100) or 100, 1), 100)
        timeout = min(float(call.get_int("timeout", 0) or 0), _MAX_POLL_SECONDS)
        allowed = call.get_json("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = [str(kind) for kind in allowed]
        self._poll_generation += 1
        generation = self._poll_generation
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            changed = self._changed
            batch = self._take_updates(offset, limit)
            # Only the first wait honours a negative offset; later rounds read the trimmed queue.
            offset = None if offset is not None and offset < 0 else offset
            if batch or self._closing:
                return batch
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            try:
                async with asyncio.timeout(remaining):
                    await changed.wait()
            except TimeoutError:
                return []
            if generation != self._poll_generation:
                raise ApiError(
                    409,
                    "Conflict: terminated by other getUpdates request; make sure that only one bot "
                    "instance is running",
                )

    def _take_updates(self, offset: int | None, limit: int) -> list[Json]:
        if offset is not None and offset < 0:
            regular = [q for q in self._queue if not q.redelivery]
            self._queue = regular[offset:] + [q for q in self._queue if q.redelivery]
        elif offset is not None:
            self._queue = [q for q in self._queue if q.update_id >= offset or q.redelivery]
        allowed = self._allowed_updates
        if allowed:
            self._queue = [q for q in self._queue if q.kind in allowed]
        else:
            self._queue = [q for q in self._queue if q.kind not in DEFAULT_ALLOWED_UPDATES_EXCLUDED]
        batch = self._queue[:limit]
        # A redelivered copy is gone once delivered; regular updates wait for confirmation by offset.
        self._queue = [q for q in self._queue if not (q.redelivery and q in batch)]
        return [copy.deepcopy(q.update) for q in batch]

    async def _set_webhook(self, call: _Call) -> bool:
        self.webhook_url = call.get_str("url") or ""
        if call.get_bool("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _delete_webhook(self, call: _Call) -> bool:
        self.webhook_url = ""
        if call.get_bool("drop_pending_updates"):
            self._queue.clear()
        return True

    async def _get_webhook_info(self, call: _Call) -> Json:
        return {
            "url": self.webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._queue),
        }

    def _commands_key(self, call: _Call) -> tuple[str, str]:
        scope = call.get_json("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), call.get_str("language_code") or ""

    async def _set_my_commands(self, call: _Call) -> bool:
        self.commands[self._commands_key(call)] = call.get_json("commands") or []
        return True

    async def _delete_my_commands(self, call: _Call) -> bool:
        self.commands.pop(self._commands_key(call), None)
        return True

    async def _get_my_commands(self, call: _Call) -> list[Json]:
        return self.commands.get(self._commands_key(call), [])

    async def _send_message(self, call: _Call) -> Json:
        chat = self._target_chat(call)
        return self._new_bot_message(call, chat, self._formatted(call, "text", "entities"))

    async def _edit_message_text(self, call: _Call) -> Json:
        chat, message = self._bot_message_to_edit(call)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        changes = self._formatted(call, "text", "entities")
        markup = call.get_json("reply_markup")
        if markup:
            changes["reply_markup"] = markup
        return self._apply_edit(chat, message, changes, removed=("entities", "reply_markup"))

    async def _edit_message_reply_markup(self, call: _Call) -> Json:
        chat, message = self._bot_message_to_edit(call)
        markup = call.get_json("reply_markup")
        changes = {"reply_markup": markup} if markup else {}
        return self._apply_edit(chat, message, changes, removed=("reply_markup",))

    async def _edit_message_caption(self, call: _Call) -> Json:
        chat, message = self._bot_message_to_edit(call)
        if not any(key in message for key in ("photo", "document", "video", "audio", "animation")):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        changes = self._formatted(call, "caption", "caption_entities")
        markup = call.get_json("reply_markup")
        if markup:
            changes["reply_markup"] = markup
        return self._apply_edit(
            chat, message, changes, removed=("caption", "caption_entities", "reply_markup")
        )

    async def _delete_message(self, call: _Call) -> bool:
        chat = self._chat(call.params.get("chat_id"))
        message_id = call.get_int("message_id") or 0
        message = chat.messages.pop(message_id, None)
        if message is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        chat.deleted[message_id] = message
        self._output("deleted", chat, message)
        return True

    async def _answer_callback_query(self, call: _Call) -> bool:
        query_id = call.get_str("callback_query_id") or ""
        if query_id not in self._open_callback_queries:
            raise ApiError(400, QUERY_TOO_OLD)
        self._open_callback_queries.discard(query_id)
        self.callback_answers[query_id] = dict(call.params)
        self._notify()
        return True

    async def _send_photo(self, call: _Call) -> Json:
        chat = self._target_chat(call)
        stored = self._file_for(call, "photo", "photos")
        content = {
            "photo": [self._photo_size(stored)],
            **self._formatted(call, "caption", "caption_entities"),
        }
        return self._new_bot_message(call, chat, content)

    async def _send_document(self, call: _Call) -> Json:
        chat = self._target_chat(call)
        stored = self._file_for(call, "document", "documents")
        content = {"document": self._document(stored), **self._formatted(call, "caption", "caption_entities")}
        return self._new_bot_message(call, chat, content)

    async def _get_file(self, call: _Call) -> Json:
        stored = self.files.get(call.get_str("file_id") or "")
        if stored is None:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    async def _send_invoice(self, call: _Call) -> Json:
        """Shows an invoice with Telegram's Pay button (the first button must be pay when one is given)."""
        chat = self._target_chat(call)
        prices = call.get_json("prices") or []
        if not isinstance(prices, list) or not prices:
            raise ApiError(400, "Bad Request: prices must be non-empty")
        total = sum(int(price.get("amount", 0)) for price in prices if isinstance(price, dict))
        currency = (call.get_str("currency") or "").upper()
        if len(currency) != 3:
            raise ApiError(400, "Bad Request: CURRENCY_INVALID")
        if total <= 0:
            raise ApiError(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
        invoice = {
            "title": call.get_str("title") or "",
            "description": call.get_str("description") or "",
            "start_parameter": call.get_str("start_parameter") or "",
            "currency": currency,
            "total_amount": total,
        }
        markup = call.get_json("reply_markup")
        buttons = [b for row in (markup or {}).get("inline_keyboard", []) for b in row] if markup else []
        if buttons and not buttons[0].get("pay"):
            raise ApiError(400, "Bad Request: the first button of an invoice must be a Pay button")
        if not buttons:
            amount = total / 10 ** _currency_exponent(currency)
            label = f"Pay {amount:.{_currency_exponent(currency)}f} {currency}"
            call.params["reply_markup"] = json.dumps({"inline_keyboard": [[{"text": label, "pay": True}]]})
        message = self._new_bot_message(call, chat, {"invoice": invoice})
        payload = call.get_str("payload") or ""
        self.invoices[(chat.id, message["message_id"])] = {**invoice, "payload": payload}
        return message

    async def _answer_pre_checkout_query(self, call: _Call) -> bool:
        """Takes the bot's answer; ok charges and sends successful_payment, else the error is shown."""
        query_id = call.get_str("pre_checkout_query_id") or ""
        checkout = self._open_checkouts.pop(query_id, None)
        if checkout is None:
            raise ApiError(400, QUERY_TOO_OLD)
        ok = call.get_bool("ok")
        if not ok and not call.get_str("error_message"):
            raise ApiError(400, "Bad Request: error_message is required when ok is false")
        self.pre_checkout_answers[query_id] = dict(call.params)
        if ok:
            user, chat, invoice = checkout
            number = next(self._charge_ids)
            paid = {
                "currency": invoice["currency"],
                "total_amount": invoice["total_amount"],
                "invoice_payload": invoice["payload"],
                "telegram_payment_charge_id": f"sandbox-charge-{number:06d}",
                "provider_payment_charge_id": f"sandbox-provider-{number:06d}",
            }
            self._user_message(user, chat, {"successful_payment": paid})
        self._notify()
        return True

    async def _send_chat_action(self, call: _Call) -> bool:
        chat = self._target_chat(call)
        action = call.get_str("action") or ""
        if action not in CHAT_ACTIONS:
            raise ApiError(400, "Bad Request: wrong parameter action in request")
        chat.actions.append(action)
        return True


async def _read_params(request: web.Request) -> tuple[Json, dict[str, UploadedFile]]:
    """Reads query, JSON, urlencoded or multipart params; file parts come back separately."""
    params: Json = dict(request.query)
    files: dict[str, UploadedFile] = {}
    if request.method != "POST" or not request.can_read_body:
        return params, files
    if request.content_type == "application/json":
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the JSON body must be an object")
        params.update(body)
        return params, files
    form = await request.post()
    for key, value in form.items():
        if isinstance(value, web.FileField):
            files[key] = UploadedFile(value.file.read(), value.filename, value.content_type)
        else:
            params[key] = value
    return params, files


def _answer_error(error: ApiError) -> web.Response:
    return web.json_response(error.to_json(), status=error.error_code)


# Currencies Telegram counts without minor units (currencies.json "exp": 0); all others have two.
_ZERO_DECIMAL = frozenset("BIF CLP DJF GNF ISK JPY KMF KRW MGA PYG RWF UGX VND VUV XAF XOF XPF".split())


def _currency_exponent(currency: str) -> int:
    """How many decimals the currency's amounts have in an invoice."""
    return 0 if currency in _ZERO_DECIMAL else 2


def _image_size(content: bytes) -> tuple[int, int]:
    """Reads the pixel size of a PNG; other formats get a plausible default."""
    if content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) >= 24:
        width, height = struct.unpack(">II", content[16:24])
        return width, height
    return 800, 600


@asynccontextmanager
async def run_fake_bot_api(
    host: str = "127.0.0.1", port: int = 0, **options: Any
) -> AsyncIterator[FakeBotApi]:
    """Runs a FakeBotApi on host:port (0 picks a free port); server.base_url is where the bot points."""
    server = FakeBotApi(**options)
    runner = web.AppRunner(server.make_app(), access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_port = runner.addresses[0][1]
    server.base_url = f"http://{host}:{bound_port}"
    try:
        yield server
    finally:
        server.close()
        await runner.cleanup()
