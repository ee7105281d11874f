"""Telegram's command menus: customer commands by default, staff commands in each team chat."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n

from domain.orders.status import Role
from handlers.common import CommandSpec


def menu(specs: Sequence[CommandSpec], roles: frozenset[Role], i18n: I18n, locale: str) -> list[BotCommand]:
    """Builds the command list a user with these roles sees, described in the given language."""
    return [
        BotCommand(command=spec.name, description=i18n.gettext(spec.description, locale=locale))
        for spec in specs
        if spec.applies_to(roles)
    ]


async def set_commands(
    bot: Bot, i18n: I18n, specs: Sequence[CommandSpec], team_chats: Mapping[int, frozenset[Role]]
) -> None:
    """Publishes the menus for every language: the default one (customers) and one per team chat."""
    # language_code None is the fallback for users whose language has no menu of its own.
    languages: list[tuple[str | None, str]] = [(None, i18n.default_locale)]
    languages += [(code, code) for code in i18n.available_locales]
    for language_code, locale in languages:
        await bot.set_my_commands(
            commands=menu(specs, frozenset(), i18n, locale),
            scope=BotCommandScopeDefault(),
            language_code=language_code,
        )
        for chat_id, roles in team_chats.items():
            await bot.set_my_commands(
                commands=menu(specs, roles, i18n, locale),
                scope=BotCommandScopeChat(chat_id=chat_id),
                language_code=language_code,
            )
