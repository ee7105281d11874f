"""The fake Bot API server driven by a real aiogram Bot and Dispatcher over loopback HTTP."""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from aiogram import Bot, Dispatcher, F, Router, html
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.filters import CommandStart
from aiogram.types import (
    BotCommand,
    BotCommandScopeChat,
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)

from sandbox.server import FakeBotApi, run_fake_bot_api

TOKEN = "123456:TEST-token_for-sandbox"


@pytest.fixture
async def api() -> AsyncIterator[FakeBotApi]:
    """Runs the fake server; a test that triggers violations on purpose must clear them."""
    async with run_fake_bot_api() as server:
        yield server
        assert server.violations == []


@asynccontextmanager
async def connected_bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """A real aiogram Bot talking HTTP to the fake server, closed when the block ends."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api.base_url))
    async with Bot(TOKEN, session=session, default=DefaultBotProperties(parse_mode="HTML")) as real_bot:
        yield real_bot


@pytest.fixture
async def bot(api: FakeBotApi) -> AsyncIterator[Bot]:
    """A real aiogram Bot talking HTTP to the fake server."""
    async with connected_bot(api) as real_bot:
        yield real_bot


def echo_router() -> Router:
    """A tiny bot: greets on /start with a button, answers the button, echoes texts and documents."""
    router = Router()
    ping = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Ping", callback_data="ping")]])

    @router.message(CommandStart())
    async def greet(message: Message) -> None:
        name = message.from_user.first_name if message.from_user else "there"
        await message.answer(f"Hello, <b>{html.quote(name)}</b>!", reply_markup=ping)

    @router.callback_query(F.data == "ping")
    async def pong(query: CallbackQuery) -> None:
        await query.answer("pong")
        if isinstance(query.message, Message):
            await query.message.edit_text("Pinged")

    @router.message(F.document)
    async def echo_document(message: Message, bot: Bot) -> None:
        assert message.document is not None
        file = await bot.get_file(message.document.file_id)
        assert file.file_path is not None
        content = await bot.download_file(file.file_path)
        assert content is not None
        data = content.read()
        upload = BufferedInputFile(data, filename=f"echo-{message.document.file_name}")
        await message.answer_document(upload, caption=f"{len(data)} bytes &amp; back")

    @router.message(F.text)
    async def echo_text(message: Message) -> None:
        await message.answer(html.quote(message.text or ""))

    return router


@asynccontextmanager
async def dispatcher_polling(api: FakeBotApi, bot: Bot, dispatcher: Dispatcher) -> AsyncIterator[None]:
    """Runs the dispatcher's long polling against the fake server until the block ends."""
    task = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1))
    await api.wait_for_call("getUpdates")
    try:
        yield
    finally:
        await dispatcher.stop_polling()
        await task


@asynccontextmanager
async def polling(api: FakeBotApi, bot: Bot) -> AsyncIterator[Dispatcher]:
    """Runs dp.start_polling with the echo router until the block ends."""
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    async with dispatcher_polling(api, bot, dispatcher):
        yield dispatcher


async def test_start_command_gets_a_greeting_with_a_button(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice & Co")

    async with polling(api, bot):
        sent = api.send_text(alice, None, "/start")
        reply = await api.wait_for_bot_message(alice.id)

    assert sent["entities"] == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert reply["text"] == "Hello, Alice & Co!"
    assert reply["entities"] == [{"type": "bold", "offset": 7, "length": 10}]
    assert reply["chat"]["id"] == alice.id
    assert reply["reply_markup"] == {"inline_keyboard": [[{"text": "Ping", "callback_data": "ping"}]]}


async def test_pressing_a_button_is_answered_and_edits_the_message(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice")

    async with polling(api, bot):
        api.send_text(alice, None, "/start")
        greeting = await api.wait_for_bot_message(alice.id)
        query_id = api.press_button(alice, greeting, "ping")
        answer = await api.wait_for_callback_answer(query_id)
        edited = await api.wait_for_bot_message(alice.id)

    assert answer["text"] == "pong"
    assert edited["message_id"] == greeting["message_id"]
    assert edited["text"] == "Pinged"
    assert "edit_date" in edited
    assert "reply_markup" not in edited
    with pytest.raises(LookupError, match="no button"):
        api.press_button(alice, edited, "ping")


async def test_texts_in_a_group_are_echoed_to_the_group(api: FakeBotApi, bot: Bot) -> None:
    alice, bob = api.create_user("Alice"), api.create_user("Bob")
    team = api.create_group("Warehouse team", [alice, bob])

    async with polling(api, bot):
        api.send_text(bob, team, "pallet <3> ready")
        echo = await api.wait_for_bot_message(team.id, lambda m: "pallet" in m.get("text", ""))

    assert echo["text"] == "pallet <3> ready"
    assert echo["chat"] == {"id": team.id, "type": "supergroup", "title": "Warehouse team"}
    assert [m["text"] for m in api.bot_messages(team)] == ["pallet <3> ready"]


async def test_document_round_trip_keeps_the_bytes(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice")
    content = bytes(range(256)) * 40

    async with polling(api, bot):
        api.send_document(alice, None, content, file_name="manifest.pdf")
        reply = await api.wait_for_bot_message(alice.id, lambda m: "document" in m)

    assert reply["caption"] == f"{len(content)} bytes & back"
    assert reply["document"]["file_name"] == "echo-manifest.pdf"
    file = await bot.get_file(reply["document"]["file_id"])
    assert file.file_path is not None
    downloaded = await bot.download_file(file.file_path)
    assert downloaded is not None
    assert downloaded.read() == content


async def test_get_updates_offsets_confirm_updates(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice")
    for text in ("one", "two", "three"):
        api.send_text(alice, None, text)

    first = await bot.get_updates(limit=2)
    again = await bot.get_updates()
    after_confirm = await bot.get_updates(offset=again[-1].update_id + 1, timeout=0)

    assert [u.message.text for u in first if u.message] == ["one", "two"]
    assert [u.update_id for u in again] == [first[0].update_id, first[1].update_id, first[1].update_id + 1]
    assert after_confirm == []
    assert api.pending_updates == []


async def test_waiting_long_poll_wakes_when_an_update_arrives(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice")
    started = time.monotonic()
    poll = asyncio.create_task(bot.get_updates(timeout=20))
    await api.wait_for_call("getUpdates")

    api.send_text(alice, None, "hello")
    updates = await poll

    assert [u.message.text for u in updates if u.message] == ["hello"]
    assert time.monotonic() - started < 5


async def test_allowed_updates_filters_and_update_ids_increase(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice")
    api.send_text(alice, None, "/start")
    greeting = await bot.send_message(
        alice.id,
        "hi",
        reply_markup=InlineKeyboardMarkup(
            inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]
        ),
    )
    api.press_button(alice, {"chat": {"id": alice.id}, "message_id": greeting.message_id}, text="Go")

    updates = await bot.get_updates(allowed_updates=["callback_query"])

    assert [u.callback_query.data for u in updates if u.callback_query] == ["go"]
    assert len(updates) == 1
    assert updates[0].update_id == 2


async def test_raw_update_can_be_delivered_twice_with_the_same_id(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice")
    message = api.send_text(alice, None, "first")
    update_id = (await bot.get_updates())[0].update_id
    duplicate_id = api.queue_raw_update({"message": {**message, "message_id": 99, "text": "again"}}, times=2)

    delivered = await bot.get_updates(offset=update_id + 1)
    confirmed = await bot.get_updates(offset=duplicate_id + 1, timeout=0)
    api.redeliver(duplicate_id)
    redelivered = await bot.get_updates(offset=duplicate_id + 1, timeout=0)

    assert duplicate_id == update_id + 1
    assert [u.update_id for u in delivered] == [duplicate_id, duplicate_id]
    assert confirmed == []
    assert [u.update_id for u in redelivered] == [duplicate_id]


async def test_injected_errors_raise_what_telegram_would(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice")
    api.fail_next("sendMessage", 429, retry_after=3)
    api.fail_next("sendMessage", 403, chat_id=alice.id)

    with pytest.raises(TelegramRetryAfter) as flood:
        await bot.send_message(alice.id, "one")
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(alice.id, "two")
    delivered = await bot.send_message(alice.id, "three")

    assert flood.value.retry_after == 3
    assert [m["text"] for m in api.bot_messages(alice.id)] == ["three"]
    assert delivered.message_id == 1


async def test_blocked_user_and_unchanged_edit_are_refused(api: FakeBotApi, bot: Bot) -> None:
    alice, bob = api.create_user("Alice"), api.create_user("Bob")
    sent = await bot.send_message(alice.id, "Status: <b>new</b>")
    api.block_bot(bob)

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("Status: <b>new</b>", chat_id=alice.id, message_id=sent.message_id)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(bob.id, "hello")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(424242, "hello")


async def test_edits_and_deletions_are_kept_in_the_history(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice")
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Open", callback_data="o:1")]])
    card = await bot.send_document(
        alice.id, BufferedInputFile(b"invoice", "invoice.pdf"), caption="Invoice", reply_markup=markup
    )
    # Like Telegram, an edit without reply_markup drops the keyboard, so the caption edit repeats it.
    await bot.edit_message_caption(
        chat_id=alice.id, message_id=card.message_id, caption="Invoice <i>paid</i>", reply_markup=markup
    )
    await bot.edit_message_reply_markup(chat_id=alice.id, message_id=card.message_id, reply_markup=None)
    await bot.delete_message(alice.id, card.message_id)

    outputs = [(o.kind, o.message.get("caption"), "reply_markup" in o.message) for o in api.outputs]
    assert outputs == [
        ("sent", "Invoice", True),
        ("edited", "Invoice paid", True),
        ("edited", "Invoice paid", False),
        ("deleted", "Invoice paid", False),
    ]
    assert api.private_chat(alice).deleted[card.message_id]["caption_entities"][0]["type"] == "italic"
    assert api.bot_messages(alice.id) == []


async def test_commands_are_kept_per_scope_and_language(api: FakeBotApi, bot: Bot) -> None:
    team = api.create_group("Team")
    await bot.set_my_commands([BotCommand(command="start", description="Start")])
    await bot.set_my_commands(
        [BotCommand(command="queue", description="Review queue")],
        scope=BotCommandScopeChat(chat_id=team.id),
        language_code="ru",
    )

    default = await bot.get_my_commands()
    team_ru = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=team.id), language_code="ru")
    team_en = await bot.get_my_commands(scope=BotCommandScopeChat(chat_id=team.id))
    await bot.delete_my_commands()

    assert [c.command for c in default] == ["start"]
    assert [c.command for c in team_ru] == ["queue"]
    assert team_en == []
    assert await bot.get_my_commands() == []


async def test_spec_violations_are_recorded_and_rejected(api: FakeBotApi, bot: Bot) -> None:
    alice = api.create_user("Alice")

    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(alice.id, "Tom & Jerry")

    assert api.violations == [
        "sendMessage.text: can't parse entities: bare '&' at character 4 (escape it as &amp;)"
    ]
    assert api.bot_messages(alice.id) == []
    api.violations.clear()


async def test_unknown_method_answers_404_like_telegram(api: FakeBotApi) -> None:
    async with aiohttp.ClientSession() as client:
        async with client.post(f"{api.base_url}/bot{TOKEN}/sendMesage", json={"chat_id": 1}) as response:
            status, body = response.status, await response.json()
        async with client.post(
            f"{api.base_url}/bot{TOKEN}/SENDMESSAGE", data={"chat_id": "1", "text": "x"}
        ) as response:
            case_insensitive = await response.json()

    assert status == 404
    assert body == {"ok": False, "error_code": 404, "description": "Not Found: method not found"}
    assert case_insensitive == {"ok": False, "error_code": 400, "description": "Bad Request: chat not found"}
    assert api.violations == ["sendMesage: unknown method"]
    api.violations.clear()


async def test_json_bodies_are_accepted(api: FakeBotApi) -> None:
    alice = api.create_user("Alice")
    payload = {
        "chat_id": alice.id,
        "text": "<i>typed</i>",
        "parse_mode": "HTML",
        "disable_notification": True,
    }

    async with aiohttp.ClientSession() as client:
        async with client.post(f"{api.base_url}/bot{TOKEN}/sendMessage", json=payload) as response:
            body = await response.json()

    assert body["ok"] is True
    assert body["result"]["text"] == "typed"
    assert body["result"]["from"]["id"] == 123456


async def test_a_call_accepted_as_sent_seeds_a_bot_message_a_user_can_press(
    api: FakeBotApi, bot: Bot
) -> None:
    alice = api.create_user("Alice")
    team = api.create_group("Order desk", [alice])
    markup = {"inline_keyboard": [[{"text": "Ping", "callback_data": "ping"}]]}
    params = {"chat_id": team.id, "text": "Card <b>1</b>", "parse_mode": "HTML", "reply_markup": markup}
    with pytest.raises(ValueError, match="has not called yet"):
        await api.accept_as_sent("sendMessage", params)
    await bot.get_me()
    api.calls.clear()

    card = await api.accept_as_sent("sendMessage", params)

    assert card["text"] == "Card 1"
    assert card["entities"] == [{"type": "bold", "offset": 5, "length": 1}]
    assert api.bot_messages(team) == [card]
    assert api.calls == []
    async with polling(api, bot):
        query_id = api.press_button(alice, card, "ping")
        assert (await api.wait_for_callback_answer(query_id))["text"] == "pong"
        edited = await api.wait_for_bot_output(team, kinds=("edited",))
    assert edited.message["text"] == "Pinged"
