"""A Bot whose session records requests, checks them against the Bot API spec and replays answers.

In the spirit of aiogram's own tests/mocked_bot.py. Every request is recorded exactly as
AiohttpSession would send it (form values, nested objects as JSON strings, files as parts) and
checked with sandbox.spec.BotApiSpec; the ``mocked_bot`` and ``bot`` (HTML defaults) fixtures fail the
test on any violation, as ``telegram`` (sandbox.server's fake Bot API over HTTP) does.
Answers come from a per-method queue (``add_result_for``), else from a plausible default for the
common methods; errors go through aiogram's own ``check_response``, so the same exceptions are
raised as with the real server.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile, TelegramObject, User

from sandbox.server import FakeBotApi, run_fake_bot_api
from sandbox.spec import BotApiSpec
from sandbox.telegram_html import parse_html

TEST_TOKEN = "42:TEST"
TOO_MANY_REQUESTS = "Too Many Requests: retry after {retry_after}"
BOT_BLOCKED = "Forbidden: bot was blocked by the user"
MESSAGE_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
_TRUE_BY_DEFAULT = frozenset(
    {
        "answerCallbackQuery",
        "setMyCommands",
        "deleteMyCommands",
        "deleteMessage",
        "deleteMessages",
        "sendChatAction",
        "deleteWebhook",
        "setWebhook",
        "setChatMenuButton",
        "setMyDescription",
        "setMyShortDescription",
        "setMyName",
        "answerPreCheckoutQuery",
    }
)
_MESSAGE_BY_DEFAULT = frozenset(
    {
        "sendMessage",
        "editMessageText",
        "editMessageReplyMarkup",
        "editMessageCaption",
        "sendDocument",
        "sendPhoto",
        "sendInvoice",
    }
)


@dataclass(frozen=True)
class RecordedRequest:
    """One request as it would go over the wire: API method name, form params and file parts."""

    method: TelegramMethod[Any]
    name: str
    params: dict[str, Any]
    files: dict[str, InputFile]

    def decoded(self, key: str) -> Any:
        """Returns a param with JSON-encoded values (reply_markup, commands...) decoded."""
        value = self.params.get(key)
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value


@dataclass
class BotApiAnswer:
    """What a fake Bot API answers a request: its result, or an error code with description and parameters."""

    ok: bool
    result: Any = None
    error_code: int = 200
    description: str | None = None
    parameters: dict[str, Any] | None = None


class DownloadingSession(BaseSession):
    """A fake Bot API session: answers each request with what answer() decides, through aiogram's own
    response check (so callers see the real exceptions); file downloads are the bytes registered in
    ``downloads`` (file path -> bytes)."""

    def __init__(self) -> None:
        super().__init__()
        self.downloads: dict[str, bytes] = {}

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - BaseSession's signature
    ) -> TelegramType:
        """Answers the request like the Bot API would."""
        answer = await self.answer(bot, method)
        payload: dict[str, Any] = {"ok": answer.ok}
        if answer.ok:
            payload["result"] = _to_json(answer.result)
        else:
            payload.update(error_code=answer.error_code, description=answer.description)
            if answer.parameters:
                payload["parameters"] = answer.parameters
        status = 200 if answer.ok else answer.error_code
        response = self.check_response(
            bot=bot, method=method, status_code=status, content=json.dumps(payload)
        )
        return response.result  # type: ignore[return-value]

    async def answer(self, bot: Bot, method: TelegramMethod[Any]) -> BotApiAnswer:
        """Decides what the Bot API answers the request."""
        raise NotImplementedError

    async def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,  # noqa: ASYNC109 - BaseSession's signature
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """Yields the bytes registered in ``downloads`` for the file path the url ends with."""
        path = next((path for path in self.downloads if url.endswith("/" + path)), None)
        if path is None:
            raise AssertionError(f"no download registered for {url}; set session.downloads[file_path]")
        content = self.downloads[path]
        for start in range(0, len(content), chunk_size):
            yield content[start : start + chunk_size]


class MockedSession(DownloadingSession):
    """Session that records and checks every request and answers from queued or default results."""

    def __init__(self, spec: BotApiSpec | None = None) -> None:
        super().__init__()
        self.spec = spec or BotApiSpec.load()
        self.requests: list[RecordedRequest] = []
        self.violations: list[str] = []
        self.closed = True
        self._answers: defaultdict[str, deque[BotApiAnswer]] = defaultdict(deque)
        self._message_ids: Iterator[int] = itertools.count(1)

    def add_answer(self, method_name: str, answer: BotApiAnswer) -> None:
        """Queues an answer for the next call of an API method (by its API name)."""
        self._answers[method_name.lower()].append(answer)

    async def close(self) -> None:
        """Marks the session closed."""
        self.closed = True

    async def answer(self, bot: Bot, method: TelegramMethod[Any]) -> BotApiAnswer:
        """Records and checks the request, then answers it from the queue or by default."""
        self.closed = False
        request = self.build_request(bot, method)
        self.requests.append(request)
        self.violations += self.spec.check(request.name, request.params, request.files)
        return self._next_answer(bot, request)

    def build_request(self, bot: Bot, method: TelegramMethod[Any]) -> RecordedRequest:
        """Prepares params and files exactly as AiohttpSession.build_form_data does."""
        files: dict[str, InputFile] = {}
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                params[key] = prepared
        return RecordedRequest(method=method, name=method.__api_method__, params=params, files=files)

    def _next_answer(self, bot: Bot, request: RecordedRequest) -> BotApiAnswer:
        queued = self._answers.get(request.name.lower())
        if queued:
            return queued.popleft()
        result = self._default_result(bot, request)
        if result is None:
            self.violations.append(
                f"{request.name}: no result queued with add_result_for() and the mock has no default for it"
            )
            return BotApiAnswer(
                ok=False, error_code=400, description=f"Bad Request: no mocked result for {request.name}"
            )
        return BotApiAnswer(ok=True, result=result)

    def _default_result(self, bot: Bot, request: RecordedRequest) -> Any:
        name = request.name
        if name in _TRUE_BY_DEFAULT:
            return True
        if name == "getMe":
            return _bot_user(bot)
        if name in ("getMyCommands", "getUpdates"):
            return []
        if name == "getFile":
            file_id = request.params.get("file_id", "file")
            return {"file_id": file_id, "file_unique_id": f"u-{file_id}", "file_path": f"documents/{file_id}"}
        if name in _MESSAGE_BY_DEFAULT:
            return self._fabricate_message(bot, request)
        return None

    def _fabricate_message(self, bot: Bot, request: RecordedRequest) -> dict[str, Any]:
        params = request.params
        chat_id = params.get("chat_id", "0")
        chat_id = int(chat_id) if str(chat_id).lstrip("-").isdigit() else -1000000000001
        message_id = int(params["message_id"]) if "message_id" in params else next(self._message_ids)
        message: dict[str, Any] = {
            "message_id": message_id,
            "date": int(time.time()),
            "from": _bot_user(bot),
        }
        if chat_id > 0:
            message["chat"] = {"id": chat_id, "type": "private", "first_name": "User"}
        else:
            message["chat"] = {"id": chat_id, "type": "supergroup", "title": "Group"}
        if request.name.startswith("edit"):
            message["edit_date"] = int(time.time())
        for text_key, entities_key in (("text", "entities"), ("caption", "caption_entities")):
            if text_key in params:
                plain, entities = _plain_text(params[text_key], params.get("parse_mode"))
                message[text_key] = plain
                if entities:
                    message[entities_key] = entities
        if request.name == "sendDocument":
            message["document"] = {"file_id": f"document-{message_id}", "file_unique_id": f"ud-{message_id}"}
        if request.name == "sendPhoto":
            message["photo"] = [
                {
                    "file_id": f"photo-{message_id}",
                    "file_unique_id": f"up-{message_id}",
                    "width": 1,
                    "height": 1,
                }
            ]
        if request.name == "sendInvoice":
            prices = request.decoded("prices") or []
            message["invoice"] = {
                "title": params.get("title", ""),
                "description": params.get("description", ""),
                "start_parameter": params.get("start_parameter", ""),
                "currency": params.get("currency", ""),
                "total_amount": sum(int(price["amount"]) for price in prices),
            }
        markup = request.decoded("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message


class MockedBot(Bot):
    """A Bot on a MockedSession: queue answers with add_result_for(), inspect ``requests``."""

    if TYPE_CHECKING:
        session: MockedSession

    def __init__(self, token: str = TEST_TOKEN, spec: BotApiSpec | None = None, **kwargs: Any) -> None:
        super().__init__(token, session=MockedSession(spec), **kwargs)
        self._me = User.model_validate(_bot_user(self))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Returns every request made so far, oldest first."""
        return self.session.requests

    @property
    def violations(self) -> list[str]:
        """Returns every spec violation (and every call the mock could not answer) so far."""
        return self.session.violations

    def add_result_for(
        self,
        method: type[TelegramMethod[Any]] | str,
        ok: bool = True,
        result: Any = None,
        error_code: int = 200,
        description: str | None = None,
        parameters: dict[str, Any] | None = None,
    ) -> None:
        """Queues the answer to the next call of method (a method class or its API name)."""
        name = method if isinstance(method, str) else method.__api_method__
        if not ok and error_code == 200:
            error_code = 400
        self.session.add_answer(name, BotApiAnswer(ok, result, error_code, description, parameters))

    def add_retry_after_for(self, method: type[TelegramMethod[Any]] | str, retry_after: int) -> None:
        """Queues a 429 flood-control error for the next call of method."""
        description = TOO_MANY_REQUESTS.format(retry_after=retry_after)
        self.add_result_for(
            method, ok=False, error_code=429, description=description, parameters={"retry_after": retry_after}
        )

    def add_blocked_for(self, method: type[TelegramMethod[Any]] | str) -> None:
        """Queues a 403 'bot was blocked by the user' error for the next call of method."""
        self.add_result_for(method, ok=False, error_code=403, description=BOT_BLOCKED)

    def add_not_modified_for(self, method: type[TelegramMethod[Any]] | str) -> None:
        """Queues a 400 'message is not modified' error for the next call of method."""
        self.add_result_for(method, ok=False, error_code=400, description=MESSAGE_NOT_MODIFIED)

    def get_request(self) -> RecordedRequest:
        """Removes and returns the most recent request (like aiogram's MockedBot)."""
        return self.session.requests.pop()

    def requests_for(self, method: type[TelegramMethod[Any]] | str) -> list[RecordedRequest]:
        """Returns the requests of one API method, oldest first."""
        name = (method if isinstance(method, str) else method.__api_method__).lower()
        return [request for request in self.session.requests if request.name.lower() == name]

    def assert_no_violations(self) -> None:
        """Fails the test if any request broke the Bot API spec or could not be answered."""
        if self.session.violations:
            pytest.fail("Bot API violations:\n" + "\n".join(self.session.violations), pytrace=False)


@pytest.fixture
def mocked_bot() -> Iterator[MockedBot]:
    """Yields a MockedBot and fails the test afterwards if any request broke the Bot API spec."""
    bot = MockedBot()
    yield bot
    bot.assert_no_violations()


@pytest.fixture
def bot() -> Iterator[MockedBot]:
    """A recording bot with the production defaults (HTML); fails the test on any Bot API violation."""
    recording = MockedBot(default=DefaultBotProperties(parse_mode=ParseMode.HTML))
    yield recording
    recording.assert_no_violations()


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotApi]:
    """Serves the fake Bot API over HTTP on a free loopback port; no test may leave a spec violation."""
    async with run_fake_bot_api() as server:
        yield server
        assert server.violations == []


def _bot_user(bot: Bot) -> dict[str, Any]:
    return {"id": bot.id, "is_bot": True, "first_name": "OrderDesk", "username": "orderdesk_test_bot"}


def _plain_text(text: str, parse_mode: Any) -> tuple[str, list[dict[str, Any]]]:
    if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
        parsed = parse_html(text)
        return parsed.text, [entity.to_dict() for entity in parsed.entities]
    return text, []


def _to_json(result: Any) -> Any:
    if isinstance(result, TelegramObject):
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)
    if isinstance(result, list):
        return [_to_json(item) for item in result]
    return result
