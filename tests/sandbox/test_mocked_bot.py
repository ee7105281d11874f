"""MockedBot: a real aiogram Bot whose requests are recorded, spec-checked and answered by the test."""

import pytest
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import AnswerCallbackQuery, EditMessageText, SendMessage
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from tests.mocked_bot import MockedBot


async def test_send_message_is_recorded_as_sent_over_the_wire(mocked_bot: MockedBot) -> None:
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Approve", callback_data="o:ap:7")]]
    )

    message = await mocked_bot.send_message(555, "<b>Order</b> OD-7", parse_mode="HTML", reply_markup=markup)

    request = mocked_bot.get_request()
    assert request.name == "sendMessage"
    assert request.params["chat_id"] == "555"
    assert request.params["text"] == "<b>Order</b> OD-7"
    assert request.decoded("reply_markup") == {
        "inline_keyboard": [[{"text": "Approve", "callback_data": "o:ap:7"}]]
    }
    assert message.chat.id == 555
    assert message.text == "Order OD-7"
    assert message.reply_markup is not None
    assert message.reply_markup.model_dump() == markup.model_dump()


async def test_default_results_number_messages_and_confirm_simple_calls(mocked_bot: MockedBot) -> None:
    first = await mocked_bot.send_message(1, "a")
    second = await mocked_bot.send_message(1, "b")

    assert second.message_id == first.message_id + 1
    assert await mocked_bot.answer_callback_query("q1") is True
    assert (await mocked_bot.get_me()).is_bot is True
    assert [request.name for request in mocked_bot.requests] == [
        "sendMessage",
        "sendMessage",
        "answerCallbackQuery",
        "getMe",
    ]


async def test_queued_result_is_returned(mocked_bot: MockedBot) -> None:
    mocked_bot.add_result_for(AnswerCallbackQuery, ok=True, result=False)

    assert await mocked_bot.answer_callback_query("q1") is False
    assert await mocked_bot.answer_callback_query("q2") is True


async def test_queued_429_raises_retry_after(mocked_bot: MockedBot) -> None:
    mocked_bot.add_retry_after_for(SendMessage, retry_after=14)

    with pytest.raises(TelegramRetryAfter) as caught:
        await mocked_bot.send_message(1, "hi")

    assert caught.value.retry_after == 14
    assert (await mocked_bot.send_message(1, "hi again")).text == "hi again"


async def test_queued_403_raises_forbidden(mocked_bot: MockedBot) -> None:
    mocked_bot.add_blocked_for(SendMessage)

    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await mocked_bot.send_message(1, "hi")


async def test_queued_400_raises_bad_request(mocked_bot: MockedBot) -> None:
    mocked_bot.add_result_for(
        "editMessageText", ok=False, error_code=400, description="Bad Request: message is not modified"
    )

    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await mocked_bot.edit_message_text("same", chat_id=1, message_id=3)


async def test_document_upload_is_recorded_as_a_file_part(mocked_bot: MockedBot) -> None:
    message = await mocked_bot.send_document(
        9, BufferedInputFile(b"%PDF-1.7", filename="invoice.pdf"), caption="Invoice"
    )

    request = mocked_bot.requests_for("sendDocument")[0]
    (part,) = request.files
    assert request.params["document"] == f"attach://{part}"
    assert request.files[part].filename == "invoice.pdf"
    assert message.document is not None


async def test_spec_violations_are_collected_and_fail_the_test() -> None:
    bot = MockedBot()
    await bot.send_message(1, "Tom & Jerry", parse_mode="HTML")
    await bot(EditMessageText(text="x" * 4097, chat_id=1, message_id=1))

    assert bot.violations == [
        "sendMessage.text: can't parse entities: bare '&' at character 4 (escape it as &amp;)",
        "editMessageText.text: 4097 characters (must be 1-4096 characters)",
    ]
    with pytest.raises(pytest.fail.Exception, match="Bot API violations"):
        bot.assert_no_violations()


async def test_call_without_a_queued_or_default_result_is_a_violation() -> None:
    bot = MockedBot()

    with pytest.raises(TelegramBadRequest):
        await bot.get_chat(1)

    assert bot.violations == [
        "getChat: no result queued with add_result_for() and the mock has no default for it"
    ]
