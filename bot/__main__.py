"""`python -m bot` runs the bot; `migrate` only applies the migrations; `demo` runs the offline demo;
`retention [--dry-run]` runs the retention job once (or lists what it would erase)."""

from __future__ import annotations

import argparse
import asyncio
import sys

from aiogram.exceptions import TelegramUnauthorizedError

from api.app import parse_api_keys
from bot.app import apply_migrations, retention_command, run
from bot.config import MISSING_TOKEN_MESSAGE, ConfigError, load_settings
from bot.demo import main as run_demo
from bot.logging import setup_logging

# Exit status for configuration the bot cannot start with (as for command-line usage errors).
EXIT_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    """Parses the command line, checks the settings and runs the chosen command."""
    parser = argparse.ArgumentParser(prog="python -m bot", description="OrderDesk Telegram bot")
    parser.add_argument("command", nargs="?", choices=["run", "migrate", "demo", "retention"], default="run")
    parser.add_argument(
        "--dry-run", action="store_true", help="retention: list what would be erased, change nothing"
    )
    arguments = parser.parse_args(argv)
    command = arguments.command
    if command == "demo":
        # The demo brings its own settings (sandbox, demo database); .env is not read.
        return run_demo()
    try:
        settings = load_settings()
    except ConfigError as error:
        print("\n".join(error.lines), file=sys.stderr)
        return EXIT_CONFIG
    token = settings.bot_token.get_secret_value() if settings.bot_token else None
    api_keys = parse_api_keys(settings.api_keys.get_secret_value()) if settings.api_keys else {}
    webhook_secret = [settings.webhook_secret.get_secret_value()] if settings.webhook_secret else []
    setup_logging(settings.log_level, token, secrets=[*api_keys.values(), *webhook_secret])
    try:
        if command == "migrate":
            asyncio.run(apply_migrations(settings))
            return 0
        if command == "retention":
            print("\n".join(asyncio.run(retention_command(settings, dry_run=arguments.dry_run))))
            return 0
        if settings.bot_token is None:
            print(MISSING_TOKEN_MESSAGE, file=sys.stderr)
            return EXIT_CONFIG
        asyncio.run(run(settings))
    except TelegramUnauthorizedError:
        print("BOT_TOKEN was refused by Telegram (Unauthorized): check it with @BotFather", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
