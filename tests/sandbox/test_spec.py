"""BotApiSpec: every request the bot sends is checked against the machine-readable Bot API."""

import json
from pathlib import Path

import pytest

from sandbox import spec as spec_module
from sandbox.spec import BotApiSpec


@pytest.fixture(scope="module")
def spec() -> BotApiSpec:
    return BotApiSpec.load()


def keyboard(*buttons: dict) -> str:
    """Returns an inline keyboard as aiogram sends it in a form: a JSON string."""
    return json.dumps({"inline_keyboard": [list(buttons)]})


def test_correct_send_message_passes(spec: BotApiSpec) -> None:
    params = {
        "chat_id": "123",
        "text": "<b>Order OD-1</b> is approved",
        "parse_mode": "HTML",
        "reply_markup": keyboard({"text": "Open", "callback_data": "o:open:1"}),
    }

    assert spec.check("sendMessage", params) == []


def test_json_bodies_with_typed_values_pass(spec: BotApiSpec) -> None:
    params = {
        "chat_id": -1001234567890,
        "text": "hi",
        "disable_notification": True,
        "reply_markup": {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]},
    }

    assert spec.check("sendMessage", params) == []


def test_method_names_match_case_insensitively(spec: BotApiSpec) -> None:
    assert spec.canonical_method("SENDMESSAGE") == "sendMessage"
    assert spec.check("sendmessage", {"chat_id": "1", "text": "x"}) == []


@pytest.mark.parametrize(
    ("method", "params", "fragment"),
    [
        ("sendMessage", {"text": "hi"}, "missing required field 'chat_id'"),
        ("sendMessage", {"chat_id": "1", "text": "hi", "colour": "red"}, "unknown field 'colour'"),
        ("sendMessage", {"chat_id": "1", "text": "x" * 4097}, "4097 characters"),
        ("sendMessage", {"chat_id": "1", "text": "   "}, "text is empty"),
        ("sendMessage", {"chat_id": "1", "text": "<b>x", "parse_mode": "HTML"}, 'start tag "b"'),
        ("sendMessage", {"chat_id": "1", "text": "<script>x</script>", "parse_mode": "HTML"}, '"script"'),
        ("sendMessage", {"chat_id": "1", "text": "Tom & Jerry", "parse_mode": "HTML"}, "bare '&'"),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "reply_markup": keyboard({"text": "A", "callback_data": "é" * 33})},
            "66 bytes",
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "reply_markup": keyboard({"text": "A", "callback_data": "x" * 65})},
            "65 bytes",
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "reply_markup": keyboard({"text": "A"})},
            "exactly one action",
        ),
        (
            "sendMessage",
            {
                "chat_id": "1",
                "text": "x",
                "reply_markup": keyboard({"text": "A", "callback_data": "a", "url": "https://x.org"}),
            },
            "exactly one action",
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "reply_markup": keyboard({"text": "A", "callback": "a"})},
            "unknown field 'callback'",
        ),
        (
            "sendMessage",
            {"chat_id": "1", "text": "x", "reply_markup": "{broken"},
            "expected InlineKeyboardMarkup",
        ),
        ("sendMessage", {"chat_id": True, "text": "x"}, "expected Integer or String"),
        ("sendMessage", {"chat_id": "1", "text": "x", "disable_notification": "maybe"}, "expected Boolean"),
        ("sendPhoto", {"chat_id": "1", "photo": "id", "caption": "c" * 1025}, "1025 characters"),
        ("sendMesage", {"chat_id": "1", "text": "x"}, "sendMesage: unknown method"),
        ("answerCallbackQuery", {"callback_query_id": "1", "text": "t" * 201}, "201 characters"),
        (
            "setMyCommands",
            {"commands": json.dumps([{"command": "Start", "description": "Begin"}])},
            "lowercase",
        ),
        (
            "setMyCommands",
            {"commands": json.dumps([{"command": "start"}])},
            "missing required field 'description'",
        ),
        (
            "setMyCommands",
            {"commands": "[]", "scope": json.dumps({"type": "chat"})},
            "BotCommandScopeChat is missing required field 'chat_id'",
        ),
        ("sendDocument", {"chat_id": "1", "document": "attach://part1"}, "refers to no uploaded file"),
    ],
)
def test_violations_are_reported(spec: BotApiSpec, method: str, params: dict, fragment: str) -> None:
    violations = spec.check(method, params)

    assert any(fragment in violation for violation in violations), violations


def test_length_counts_the_text_after_html_parsing(spec: BotApiSpec) -> None:
    text = "<b>" + "x" * 4000 + "</b>" + "<i>" + "y" * 96 + "</i>"
    assert len(text) > 4096

    assert spec.check("sendMessage", {"chat_id": "1", "text": text, "parse_mode": "HTML"}) == []
    too_long = spec.check("sendMessage", {"chat_id": "1", "text": text + "z", "parse_mode": "HTML"})
    assert too_long == ["sendMessage.text: 4097 characters after entity parsing (must be 1-4096 characters)"]


def test_violation_names_the_path_to_the_bad_value(spec: BotApiSpec) -> None:
    markup = json.dumps(
        {"inline_keyboard": [[{"text": "A", "url": "https://x.org"}], [{"text": "B", "callback_data": ""}]]}
    )

    assert spec.check("sendMessage", {"chat_id": "1", "text": "x", "reply_markup": markup}) == [
        "sendMessage.reply_markup.inline_keyboard[1][0].callback_data: 0 bytes (must be 1-64 bytes)"
    ]


def test_uploaded_files_are_accepted_as_attachments_or_direct_parts(spec: BotApiSpec) -> None:
    attached = spec.check(
        "sendDocument", {"chat_id": "1", "document": "attach://part1"}, files={"part1": b"%PDF"}
    )
    direct = spec.check("sendDocument", {"chat_id": "1"}, files={"document": b"%PDF"})
    stray = spec.check("sendDocument", {"chat_id": "1", "document": "file-id"}, files={"part9": b"%PDF"})

    assert attached == []
    assert direct == []
    assert stray == ["sendDocument: uploaded file part 'part9' is not used"]


def test_reply_keyboard_alternative_is_recognised(spec: BotApiSpec) -> None:
    markup = json.dumps(
        {"keyboard": [[{"text": "Share phone", "request_contact": True}]], "resize_keyboard": True}
    )

    assert spec.check("sendMessage", {"chat_id": "1", "text": "x", "reply_markup": markup}) == []


def test_spec_location_prefers_the_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    custom = tmp_path / "api.json"
    custom.write_text(
        json.dumps({"version": "Bot API 0.1", "methods": {"getMe": {"fields": []}}, "types": {}})
    )
    monkeypatch.setenv("TELEGRAM_API_SPEC", str(custom))

    loaded = BotApiSpec.load()

    assert loaded.version == "Bot API 0.1"
    assert loaded.check("sendMessage", {}) == ["sendMessage: unknown method"]


def test_vendored_copy_is_used_when_shared_is_absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("TELEGRAM_API_SPEC", raising=False)
    monkeypatch.setattr(spec_module, "SHARED_SPEC_PATH", tmp_path / "missing" / "api.json")

    assert spec_module.default_spec_path() == spec_module.VENDORED_SPEC_PATH
    assert BotApiSpec.load(spec_module.VENDORED_SPEC_PATH).canonical_method("getupdates") == "getUpdates"
