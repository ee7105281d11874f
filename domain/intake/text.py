"""Reading what people type at intake: text normalised alike for checks and storage, and numbers."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from decimal import Context, Decimal, InvalidOperation
from typing import Any

from domain.intake.errors import FieldError, InvalidInput, fail
from domain.text import has_control

# Longest text read as a number ("9999999999.99" has 13 characters); longer text is not a number.
NUMBER_TEXT_MAX = 40


def clean(text: object) -> str:
    """Folds full-width characters and collapses whitespace in user input."""
    if text is None:
        return ""
    return " ".join(unicodedata.normalize("NFKC", str(text)).split())


def refuse_control(text: str, field: str) -> str:
    """Returns the text, or raises text.control if it holds a control character or an unpaired surrogate."""
    if has_control(text):
        raise fail(field, "text.control")
    return text


def clean_text(text: object, field: str) -> str:
    """Normalises intake text alike for its check and its storage (NFKC, whitespace); refuses controls."""
    return refuse_control(clean(text), field)


def normalize_text(
    text: str | None, field: str, kind: str, minimum: int, maximum: int, *, needs_letter: bool = True
) -> str:
    """Checks a free-text field: present, within its length, and not just digits or punctuation."""
    cleaned = clean_text(text, field)
    if not cleaned:
        raise fail(field, f"{kind}.required")
    if len(cleaned) > maximum:
        raise fail(field, f"{kind}.too_long", max=str(maximum), length=str(len(cleaned)))
    if len(cleaned) < minimum:
        raise fail(field, f"{kind}.too_short", min=str(minimum))
    if needs_letter and not any(ch.isalpha() for ch in cleaned):
        raise fail(field, f"{kind}.unclear")
    return cleaned


def read_decimal(value: object, *, field: str, places: int) -> Decimal | None:
    """The one number parser of intake, for the API and the chat alike: a Decimal, or None if it is no number.

    Reads numbers and text ('1.5', '1,5', '2 kg', full-width digits). Text longer than NUMBER_TEXT_MAX
    characters is no number. More than `places` decimals raise item.too_precise, so the exponent is
    bounded below; the result has no exponent and at most `places` decimals, unless it is so large
    that every caller's range check refuses it.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float):
        number = Decimal(str(value))
    else:
        text = clean(value).lower().removesuffix("kg").strip()
        if len(text) > NUMBER_TEXT_MAX:
            return None
        if text.count(",") == 1 and "." not in text:
            text = text.replace(",", ".")
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
    if not number.is_finite():
        return None
    if number.is_zero():
        return Decimal(0)
    digits, exponent = number.as_tuple().digits, int(number.as_tuple().exponent)
    if exponent < -places:
        # Only zeros may follow the last kept decimal; checked on the digits, so no exponent is ever expanded.
        if any(digits[-(-places - exponent) :]):
            raise fail(field, "item.too_precise", places=str(places))
        return number.quantize(Decimal(1).scaleb(-places), context=Context(prec=len(digits) + 1))
    if 0 < exponent and number.adjusted() <= NUMBER_TEXT_MAX:
        return number.quantize(Decimal(1), context=Context(prec=NUMBER_TEXT_MAX + 2))
    return number


def collect(errors: list[FieldError], check: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs a single-field check, adding its errors to the list instead of raising."""
    try:
        return check(*args, **kwargs)
    except InvalidInput as failure:
        errors.extend(failure.errors)
        return None


def read_field(source: object, name: str, default: Any = None) -> Any:
    """Reads a field from a mapping or an object (dict drafts and dataclasses alike)."""
    if isinstance(source, Mapping):
        return source.get(name, default)
    return getattr(source, name, default)
