"""Direct replies under flood control, and the replies a replayed update repeats (issue 11, finding 8)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
from aiogram import Dispatcher
from aiogram.exceptions import ClientDecodeError, TelegramBadRequest
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    SendChatAction,
    SendMessage,
)
from aiogram.types import BufferedInputFile
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.dispatcher import build_bot
from bot.replies import ReplyingSession, collect_replies, install_reply_middlewares, send_replies
from tests.bot.conftest import CUSTOMER_ID, callback_update, message_update
from tests.fakes import FakeDatabase
from tests.mocked_bot import MockedBot

APOLOGY_EN = "Something went wrong on our side; please try again. Nothing was changed."


class RecordedSleep:
    """Stands in for asyncio.sleep and remembers every wait."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        """Records the wait without waiting."""
        self.waits.append(seconds)


@pytest.fixture
def sleep(bot: MockedBot) -> RecordedSleep:
    """Puts the reply middlewares on the recording bot, with a 30 s bound and a recorded sleep."""
    recorded = RecordedSleep()
    install_reply_middlewares(bot.session, 30, sleep=recorded)
    return recorded


def texts(bot: MockedBot) -> list[str]:
    """The texts of every sendMessage so far."""
    return [request.params["text"] for request in bot.requests_for("sendMessage")]


async def test_a_welcome_refused_with_429_is_sent_again_after_retry_after(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, sleep: RecordedSleep
) -> None:
    bot.add_retry_after_for("sendMessage", 3)

    await dispatcher.feed_update(bot, message_update(1, "/start"))

    assert sleep.waits == [3]
    sent = texts(bot)
    assert len(sent) == 2 and all("Welcome to OrderDesk" in text for text in sent)
    assert APOLOGY_EN not in sent
    assert database.state.processed_updates == {1}


async def test_several_429s_are_waited_out_while_their_waits_stay_within_the_bound(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, sleep: RecordedSleep
) -> None:
    for retry_after in (10, 10, 10):
        bot.add_retry_after_for("sendMessage", retry_after)

    await dispatcher.feed_update(bot, message_update(1, "/start"))

    assert sleep.waits == [10, 10, 10]
    assert "Welcome to OrderDesk" in texts(bot)[-1]
    assert database.state.processed_updates == {1}


async def test_a_wait_beyond_the_bound_is_waited_after_the_commit_and_nothing_is_apologised(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, sleep: RecordedSleep
) -> None:
    # The reply goes after the update's transaction (issue 17): waiting holds no lock, so no bound applies.
    bot.add_retry_after_for("sendMessage", 20)
    bot.add_retry_after_for("sendMessage", 20)

    await dispatcher.feed_update(bot, message_update(1, "/start"))

    assert sleep.waits == [20, 20]
    assert len(texts(bot)) == 3
    assert APOLOGY_EN not in texts(bot)
    assert database.state.processed_updates == {1}


async def test_a_replayed_press_counts_its_answer_and_edit_as_done_and_commits(
    dispatcher: Dispatcher, bot: MockedBot, database: FakeDatabase, sleep: RecordedSleep
) -> None:
    # The first run answered the query and took the picker's buttons away, then the process died
    # before its commit: Telegram refuses both a second time.
    bot.add_result_for(
        AnswerCallbackQuery,
        ok=False,
        description="Bad Request: query is too old and response timeout expired or query ID is invalid",
    )
    bot.add_result_for(
        EditMessageReplyMarkup,
        ok=False,
        description="Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
    )

    await dispatcher.feed_update(bot, callback_update(4, "lang:zh"))

    assert database.state.languages[CUSTOMER_ID] == "zh"
    assert database.state.processed_updates == {4}
    assert texts(bot) == ["好的，今后我将使用中文与您交流。"]


async def test_other_refusals_still_fail_the_request(bot: MockedBot, sleep: RecordedSleep) -> None:
    bot.add_result_for(EditMessageText, ok=False, description="Bad Request: message to edit not found")

    with pytest.raises(TelegramBadRequest):
        await bot.edit_message_text("x", chat_id=CUSTOMER_ID, message_id=1)


async def test_the_outbox_senders_bot_has_no_reply_middlewares_and_the_replying_bot_has_both() -> None:
    replying = build_bot("42:TEST", "http://127.0.0.1:8081/", reply_retry_seconds=5)
    sending = build_bot("42:TEST", "http://127.0.0.1:8081/")
    try:
        assert [type(m).__name__ for m in replying.session.middleware] == [
            "DeferredReplies",
            "ReplaySafe",
            "ReplyRetry",
        ]
        assert list(sending.session.middleware) == []
    finally:
        await replying.session.close()
        await sending.session.close()


async def test_a_request_sent_at_once_follows_the_replies_kept_before_it(
    bot: MockedBot, sleep: RecordedSleep
) -> None:
    # An invoice after "your order is placed" must not overtake it (issue 12 on issue 17's deferral).
    with collect_replies() as kept:
        await bot.send_message(CUSTOMER_ID, "Your order is placed")
        assert [request.name for request in bot.requests] == []
        await bot.send_document(CUSTOMER_ID, BufferedInputFile(b"%PDF", "order.pdf"))
        await bot.send_message(CUSTOMER_ID, "Thank you")

    assert [request.name for request in bot.requests] == ["sendMessage", "sendDocument"]
    assert [type(method).__name__ for _, method in kept] == ["SendMessage"]


@pytest.fixture
async def answering_api() -> AsyncIterator[tuple[str, list[str]]]:
    """A loopback Bot API: messages answered ok with a result no model reads, chat actions refused."""
    called: list[str] = []

    async def answer(request: web.Request) -> web.Response:
        called.append(request.match_info["method"])
        if request.match_info["method"] == "sendChatAction":
            refusal = {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
            return web.json_response(refusal, status=400)
        return web.json_response({"ok": True, "result": {"not": "a message"}})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", answer)
    async with TestServer(app) as server:
        yield str(server.make_url("")).rstrip("/"), called


async def test_a_kept_reply_is_checked_but_its_result_is_not_read(
    answering_api: tuple[str, list[str]], caplog: pytest.LogCaptureFixture
) -> None:
    """After the commit Telegram's ok is enough; a direct request still reads its result (issue 17)."""
    base_url, called = answering_api
    bot = build_bot("42:TEST", base_url, reply_retry_seconds=30)
    assert isinstance(bot.session, ReplyingSession)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.replies"):
            await send_replies(
                [
                    (bot, SendMessage(chat_id=CUSTOMER_ID, text="Kept")),
                    (bot, SendChatAction(chat_id=1, action="typing")),
                ]
            )
        # The message went and its unreadable result broke nothing; the refusal was still read as one.
        assert called == ["sendMessage", "sendChatAction"]
        assert [record.getMessage() for record in caplog.records] == [
            "sendChatAction was refused: TelegramBadRequest"
        ]
        with pytest.raises(ClientDecodeError):
            await bot(SendMessage(chat_id=CUSTOMER_ID, text="Direct"))
    finally:
        await bot.session.close()
