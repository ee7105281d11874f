"""Keyboards shared by the handlers, their typed callback data and the filter matching menu buttons."""

from __future__ import annotations

import functools
from weakref import WeakKeyDictionary

from aiogram.filters import Filter
from aiogram.filters.callback_data import CallbackData
from aiogram.types import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _


def N_(message: str) -> str:
    """Marks a message for the catalogs without translating it (it is translated where shown)."""
    return message


# Main-menu button labels (msgids); handlers of other modules match them with MenuButton.
NEW_ORDER = N_("New order")
MY_ORDERS = N_("My orders")
HELP = N_("Help")

# Language names are written in their own language, so they are not translated.
LANGUAGE_NAMES: dict[str, str] = {"en": "English", "zh": "中文"}


class LanguageChoice(CallbackData, prefix="lang"):
    """The language button pressed in the /lang picker."""

    code: str


class TeamLanguageChoice(CallbackData, prefix="tlang"):
    """The language button pressed in a team chat's /lang picker (issue 18)."""

    code: str


class MyOrdersPage(CallbackData, prefix="mo"):
    """The "older orders" button of /myorders: which page to show."""

    page: int


@functools.lru_cache(maxsize=8192)
def shared_button(text: str, callback_data: str) -> InlineKeyboardButton:
    """An inline button, built once for its text and data and shared by every keyboard that shows it.

    Keyboards are built again for every reply, each button a pydantic model (issue 17); aiogram
    never changes a button once built, so one can sit in any number of keyboards.
    """
    return InlineKeyboardButton(text=text, callback_data=callback_data)


class MenuButton(Filter):
    """Matches a message whose text is the given button label in any of the bot's languages."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._labels: WeakKeyDictionary[I18n, frozenset[str]] = WeakKeyDictionary()

    async def __call__(self, message: Message, i18n: I18n) -> bool:
        """Compares the text with the label's translation in every loaded language."""
        return message.text is not None and message.text in self.labels(i18n)

    def labels(self, i18n: I18n) -> frozenset[str]:
        """The label in every language the translator has loaded (worked out once per translator)."""
        labels = self._labels.get(i18n)
        if labels is None:
            labels = frozenset(
                {self.label} | {i18n.gettext(self.label, locale=code) for code in i18n.available_locales}
            )
            self._labels[i18n] = labels
        return labels


def main_menu() -> ReplyKeyboardMarkup:
    """Builds the customer's main menu in the current language."""
    return ReplyKeyboardMarkup(
        keyboard=[
            [KeyboardButton(text=_(NEW_ORDER)), KeyboardButton(text=_(MY_ORDERS))],
            [KeyboardButton(text=_(HELP))],
        ],
        resize_keyboard=True,
        is_persistent=True,
    )


def language_picker(
    choice: type[LanguageChoice | TeamLanguageChoice] = LanguageChoice,
) -> InlineKeyboardMarkup:
    """Builds one button per language the bot speaks (the user's, or a team chat's)."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(text=name, callback_data=choice(code=code).pack())
                for code, name in LANGUAGE_NAMES.items()
            ]
        ]
    )
