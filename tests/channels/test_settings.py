"""The channel settings (issue 12): API_WEBHOOKS names API_KEYS entries; BOT_USERNAME is a username."""

from __future__ import annotations

import pytest

from api.app import parse_api_webhooks
from bot.config import ConfigError, load_settings

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"


def test_webhooks_are_read_by_platform() -> None:
    webhooks = parse_api_webhooks(" shop:https://shop.example/hooks , mall:http://10.0.0.5:8080/x ")

    assert webhooks == {"shop": "https://shop.example/hooks", "mall": "http://10.0.0.5:8080/x"}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("shop", "must be name:http(s)://url"),
        ("shop:ftp://x", "must be name:http(s)://url"),
        ("shop:https://a,shop:https://b", "names 'shop' twice"),
        ("other:https://a", "names no key of API_KEYS"),
    ],
)
def test_a_wrong_api_webhooks_stops_start_up_naming_the_key(value: str, problem: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=None, bot_token=TOKEN, api_keys="shop:k1", api_webhooks=value)

    assert raised.value.lines == [
        f"Configuration error: API_WEBHOOKS: {raised.value.lines[0].split(': ', 2)[2]}"
    ]
    assert problem in raised.value.lines[0]


def test_the_bot_username_may_be_written_with_an_at_sign() -> None:
    settings = load_settings(env_file=None, bot_token=TOKEN, bot_username="@OrderDeskBot")

    assert settings.bot_username == "OrderDeskBot"
    with pytest.raises(ConfigError, match="BOT_USERNAME"):
        load_settings(env_file=None, bot_token=TOKEN, bot_username="no spaces allowed")
