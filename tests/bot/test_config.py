"""Settings parsing, validation messages and the start-up refusals of `python -m bot`."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings, load_settings
from domain.orders.status import Role

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456:" + "A" * 35


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Removes every setting from the environment so only the test's values count."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


def config_errors(**environment: str) -> list[str]:
    """Returns the error lines load_settings reports for the environment."""
    with pytest.MonkeyPatch.context() as patch:
        for key, value in environment.items():
            patch.setenv(key, value)
        with pytest.raises(ConfigError) as raised:
            load_settings(env_file=None)
    return raised.value.lines


def test_defaults() -> None:
    settings = load_settings(env_file=None)

    assert settings.bot_token is None
    assert settings.telegram_api_base == "https://api.telegram.org"
    assert settings.database_url == "sqlite+aiosqlite:///data/orderdesk.sqlite3"
    assert settings.admin_ids == []
    assert settings.zone.key == "Asia/Shanghai"
    assert settings.default_language == "en"
    assert (settings.webhook_host, settings.webhook_port, settings.webhook_path) == (
        "0.0.0.0",
        8443,
        "/telegram/webhook",
    )


def test_admin_ids_are_read_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADMIN_IDS", "1, 2")

    assert load_settings(env_file=None).admin_ids == [1, 2]


def test_a_non_numeric_admin_id_names_the_key() -> None:
    assert config_errors(ADMIN_IDS="1,bob") == [
        "Configuration error: ADMIN_IDS: "
        "Input should be a valid integer, unable to parse string as an integer"
    ]


def test_an_unknown_time_zone_names_the_key() -> None:
    assert config_errors(TIMEZONE="Mars/Base") == [
        "Configuration error: TIMEZONE: unknown time zone 'Mars/Base'"
    ]


def test_the_holiday_country_is_checked_against_the_holidays_registry() -> None:
    assert config_errors(HOLIDAY_COUNTRY="xx") == [
        "Configuration error: HOLIDAY_COUNTRY: no public-holiday calendar for 'XX'"
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOLIDAY_COUNTRY", "de")
        assert load_settings(env_file=None).holiday_country == "DE"


def test_only_async_database_drivers_are_accepted() -> None:
    assert config_errors(DATABASE_URL="postgresql://localhost/db") == [
        "Configuration error: DATABASE_URL: scheme must be one of sqlite+aiosqlite, postgresql+asyncpg, "
        "got 'postgresql'"
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1/test")
        assert load_settings(env_file=None).database_url.startswith("postgresql+asyncpg://")


def test_a_webhook_needs_a_valid_secret() -> None:
    assert config_errors(WEBHOOK_URL="https://bot.example.com/telegram/webhook") == [
        "Configuration error: WEBHOOK_SECRET: required when WEBHOOK_URL is set"
    ]
    assert config_errors(WEBHOOK_URL="https://bot.example.com/hook", WEBHOOK_SECRET="has space") == [
        "Configuration error: WEBHOOK_SECRET: must be 1-256 characters of A-Z, a-z, 0-9, _ and -"
    ]


def test_errors_do_not_echo_secret_values() -> None:
    lines = config_errors(BOT_TOKEN="not a token at all", WEBHOOK_SECRET="bad secret!")

    assert [line.split(":")[1].strip() for line in lines] == ["BOT_TOKEN", "WEBHOOK_SECRET"]
    assert not any("not a token at all" in line or "bad secret!" in line for line in lines)


def test_other_values_are_validated_with_their_key() -> None:
    lines = config_errors(
        DEFAULT_LANGUAGE="fr", WEBHOOK_PORT="70000", TELEGRAM_API_BASE="api.telegram.org", REDIS_URL="x"
    )

    assert [line.split(":")[1].strip() for line in lines] == [
        "TELEGRAM_API_BASE",
        "REDIS_URL",
        "DEFAULT_LANGUAGE",
        "WEBHOOK_PORT",
    ]


def test_team_chats_map_to_their_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAREHOUSE_CHAT_ID", "-1001")
    monkeypatch.setenv("ORDER_DESK_CHAT_ID", "-1002")

    assert load_settings(env_file=None).team_chats() == {
        -1002: frozenset({Role.ORDER_DESK, Role.ORDER_DESK_HEAD}),
        -1001: frozenset({Role.WAREHOUSE}),
    }


def test_env_file_is_read_and_empty_values_mean_unset(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(f"BOT_TOKEN={TOKEN}\nREDIS_URL=\nDEFAULT_LANGUAGE=zh\n", encoding="utf-8")

    settings = load_settings(env_file=str(env_file))

    assert settings.bot_token is not None and settings.bot_token.get_secret_value() == TOKEN
    assert settings.redis_url is None
    assert settings.default_language == "zh"


def test_env_example_documents_every_key_with_a_comment_above() -> None:
    lines = (ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    keys = [line.split("=", 1)[0] for line in lines if re.match(r"^[A-Z_]+=", line)]

    assert sorted(keys) == sorted(name.upper() for name in Settings.model_fields)
    for index, line in enumerate(lines):
        if re.match(r"^[A-Z_]+=", line):
            assert lines[index - 1].startswith("# "), f"no comment above {line}"
    load_settings(env_file=str(ROOT / ".env.example"))


def run_bot(tmp_path: Path, *args: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """Runs `python -m bot` in an empty directory with nothing but PATH (and the given keys) set."""
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.update(environment)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_bot_token_stops_with_one_clear_line(tmp_path: Path) -> None:
    result = run_bot(tmp_path)

    assert result.returncode == 2
    assert result.stderr == ("BOT_TOKEN is not set: put it in .env (see .env.example) or the environment\n")
    assert result.stdout == ""


def test_invalid_settings_stop_start_up_naming_the_keys(tmp_path: Path) -> None:
    result = run_bot(tmp_path, TIMEZONE="Mars/Base", BOT_TOKEN=TOKEN)

    assert result.returncode == 2
    assert result.stderr == "Configuration error: TIMEZONE: unknown time zone 'Mars/Base'\n"
    assert "Traceback" not in result.stderr
