"""Every validation failure has a specific message in each language: field, what is wrong, how to fix it."""

from __future__ import annotations

import pytest
from aiogram.utils.i18n import I18n

from bot.i18n import create_i18n
from domain.intake.errors import FieldError
from presentation.field_errors import DOMAIN_CODES, MESSAGES, describe

I18N = create_i18n("en")


def described(error: FieldError, locale: str) -> str:
    """The message for an error in a language."""
    with I18N.context(), I18N.use_locale(locale):
        assert isinstance(I18n.get_current(), I18n)
        return describe(error, locale)


def test_every_domain_code_has_its_own_message() -> None:
    assert DOMAIN_CODES <= MESSAGES.keys()


@pytest.mark.parametrize("code", sorted(MESSAGES))
def test_every_message_is_translated_to_chinese(code: str) -> None:
    assert I18N.gettext(MESSAGES[code], locale="zh") != MESSAGES[code]


@pytest.mark.parametrize(
    ("error", "locale", "expected"),
    [
        (
            FieldError("address.postcode", "postcode.required", {"country": "Germany", "example": "10115"}),
            "en",
            "<b>Postcode</b>: Germany requires a postcode; please add it, e.g. 10115.",
        ),
        (
            FieldError("address.postcode", "postcode.required", {"country": "Germany", "example": "10115"}),
            "zh",
            "<b>邮编</b>: 寄往德国需要邮编；请填写，例如 10115。",
        ),
        (
            FieldError(
                "items[1].name", "goods.prohibited", {"category": "explosives", "matched": "firework"}
            ),
            "zh",
            "<b>货物 2：品名</b>: “firework”属于爆炸品，我们无法承运；请删除此货物或填写其他货物。",
        ),
        (
            FieldError("customer.phone", "phone.invalid", {"country": "", "example": "+86 138 1234 5678"}),
            "en",
            "<b>Phone</b>: this is not a valid phone number; please check it, e.g. +86 138 1234 5678.",
        ),
    ],
)
def test_messages_name_the_field_in_the_users_language(error: FieldError, locale: str, expected: str) -> None:
    assert described(error, locale) == expected


def test_quoted_user_text_is_escaped_and_shortened() -> None:
    text = described(FieldError("address.country", "country.unknown", {"text": "<b>" + "x" * 5000}), "en")

    assert "&lt;b&gt;" in text
    assert "<b>x" not in text
    assert len(text) < 300


def test_an_unknown_code_still_names_the_field() -> None:
    text = described(FieldError("remarks", "remarks.rude", {"word": "<&>"}), "en")

    assert text.startswith("<b>Remarks</b>: ")
    assert "<&>" not in text
