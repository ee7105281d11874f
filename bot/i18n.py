"""Translations compiled from the `.po` catalogs at start-up, and the per-user language choice."""

from __future__ import annotations

import gettext
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from application.ports import UnitOfWork
from bot.middlewares import SAVED_LANGUAGE_KEY

GROUP_TYPES = frozenset({"group", "supergroup"})

LOCALES_DIR = Path(__file__).resolve().parent.parent / "locales"
DOMAIN = "messages"
# Handler data key of the language chosen for the update; error handlers reuse it.
LOCALE_KEY = "locale"


class PoI18n(I18n):
    """aiogram's I18n reading `.po` files directly, so no compiled `.mo` file is kept in the repository."""

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        """Compiles every `<locale>/LC_MESSAGES/*.po` under the path in memory, one catalog per locale."""
        translations: dict[str, gettext.GNUTranslations] = {}
        for directory in sorted(self.path.iterdir()):
            po_paths = sorted((directory / "LC_MESSAGES").glob("*.po")) if directory.is_dir() else []
            if po_paths:
                translations[directory.name] = compile_catalogs(po_paths, directory.name)
        return translations

    @contextmanager
    def context(self) -> Iterator[I18n]:
        """Makes this instance the one aiogram's gettext uses."""
        # ContextInstanceMixin gives every subclass its own context variable, but aiogram's gettext
        # reads I18n's, so the base class's variable is the one to set.
        token = I18n.set_current(self)
        try:
            yield self
        finally:
            I18n.reset_current(token)


def read_catalog(po_path: Path, locale: str) -> Catalog:
    """Reads one `.po` catalog."""
    with po_path.open("rb") as po_file:
        return read_po(po_file, locale=locale)


def compile_catalogs(po_paths: list[Path], locale: str) -> gettext.GNUTranslations:
    """Merges the feature catalogs of one locale (one `.po` per module) into gettext translations."""
    merged = Catalog(locale=locale)
    origin: dict[str, Path] = {}
    for po_path in po_paths:
        for message in read_catalog(po_path, locale):
            if not message.id:
                continue
            key = str(message.id)
            known = merged.get(key)
            # Two modules may share a text, but never with two different translations.
            if known is not None and known.string != message.string:
                raise ValueError(f"{po_path}: {key!r} is translated differently in {origin[key]}")
            merged[key] = message
            origin[key] = po_path
    buffer = BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def create_i18n(default_language: str = "en", path: Path = LOCALES_DIR) -> PoI18n:
    """Loads the catalogs with the configured fallback language."""
    return PoI18n(path=path, default_locale=default_language, domain=DOMAIN)


def language_from_telegram(language_code: str | None, default: str) -> str:
    """Maps Telegram's IETF language tag to one of ours: Chinese variants to zh, others to en."""
    if not language_code:
        return default
    return "zh" if language_code.lower().startswith("zh") else "en"


class LanguageMiddleware(I18nMiddleware):
    """Chooses the language: a team chat's own (/lang), else the user's saved choice, else Telegram's."""

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        """Resolves the language once per update and remembers it in the handler data."""
        known = data.get(LOCALE_KEY)
        if known:
            return str(known)
        locale = await self._chat_locale(data)
        if locale is None:
            locale = await self._resolve(data.get("event_from_user"), data.get("uow"), data)
        data[LOCALE_KEY] = locale
        return locale

    async def _chat_locale(self, data: dict[str, Any]) -> str | None:
        """The language a group chat chose with /lang: every reply in it uses it, as its cards do (R-X.4)."""
        chat, uow, languages = data.get("event_chat"), data.get("uow"), data.get("chat_languages")
        if chat is None or chat.type not in GROUP_TYPES or uow is None or languages is None:
            return None
        chosen = await languages.language_of(uow, chat.id)
        return chosen if chosen in self.i18n.available_locales else None

    async def _resolve(self, user: User | None, uow: UnitOfWork | None, data: dict[str, Any]) -> str:
        """Looks the language up in the database first, then in the Telegram profile."""
        default = self.i18n.default_locale
        if user is None:
            return default
        if SAVED_LANGUAGE_KEY in data:
            # The roles middleware read it with the roles: no second read.
            saved = data[SAVED_LANGUAGE_KEY]
        else:
            saved = await uow.users.language_of(user.id) if uow is not None else None
        if saved in self.i18n.available_locales:
            return str(saved)
        return language_from_telegram(user.language_code, default)
