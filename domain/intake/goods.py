"""Goods checks (R-2.2, R-4.1, R-4.3): each line's name and screening, quantity, weight, value and details."""

from __future__ import annotations

import re
from collections.abc import Iterable
from decimal import Decimal

from domain.intake.errors import FieldError, InvalidInput, fail
from domain.intake.screening import Verdict, screen
from domain.intake.text import clean, collect, normalize_text, read_decimal, read_field, refuse_control

# A goods line as entered: a number may come as text ("1.5", "2 kg").
Number = Decimal | int | float | str | None

ITEM_NAME_MAX = 120
ITEMS_MAX = 100
QUANTITY_MIN, QUANTITY_MAX = 1, 10_000
WEIGHT_MAX_KG = Decimal(1000)
# Weights are kept to the gram.
WEIGHT_PLACES = 3
# Money is kept to the cent with at most 10 digits before the point (storage's Numeric(12, 2)).
MONEY_PLACES = 2
CENT = Decimal("0.01")
MONEY_MAX = Decimal("9999999999.99")
DECLARED_VALUE_MAX = MONEY_MAX
# Sized to the columns that store them.
SKU_MAX = 64
HS_CODE_DIGITS = (6, 10)
DIMENSION_MAX_CM = Decimal(1000)
DIMENSION_PLACES = 1
DIMENSIONS = ("length_cm", "width_cm", "height_cm")


def normalize_item_name(text: str | None, *, field: str = "items[0].name") -> str:
    """Returns a clear goods name, refusing prohibited goods (goods needing review pass)."""
    name = normalize_text(text, field, "item.name", 1, ITEM_NAME_MAX)
    result = screen(name)
    if result.verdict is Verdict.BLOCKED:
        raise fail(field, "goods.prohibited", category=result.category or "", matched=result.matched or "")
    return name


def parse_quantity(value: object, *, field: str = "items[0].quantity") -> int:
    """Returns the quantity as a whole number from 1 to 10000."""
    try:
        number = read_decimal(value, field=field, places=0)
    except InvalidInput:
        number = None
    if number is None:
        raise fail(field, "item.quantity_integer", min=str(QUANTITY_MIN), max=str(QUANTITY_MAX))
    if not QUANTITY_MIN <= number <= QUANTITY_MAX:
        raise fail(field, "item.quantity_range", min=str(QUANTITY_MIN), max=str(QUANTITY_MAX))
    return int(number)


def parse_weight_kg(value: object, *, field: str = "items[0].weight_kg") -> Decimal:
    """Returns the weight of one piece in kg: more than 0, at most 1000, to the gram."""
    number = read_decimal(value, field=field, places=WEIGHT_PLACES)
    if number is None:
        raise fail(field, "item.weight_invalid", max=str(WEIGHT_MAX_KG))
    if not Decimal(0) < number <= WEIGHT_MAX_KG:
        raise fail(field, "item.weight_range", max=str(WEIGHT_MAX_KG))
    return number


def parse_declared_value(value: object, *, field: str = "items[0].declared_value") -> Decimal:
    """Returns the declared value of the line: a number of money, zero or more."""
    number = read_decimal(value, field=field, places=MONEY_PLACES)
    if number is None:
        raise fail(field, "item.value_invalid")
    if number < 0:
        raise fail(field, "item.value_range")
    if number > DECLARED_VALUE_MAX:
        raise fail(field, "item.number_too_large", max=f"{DECLARED_VALUE_MAX:,}")
    return number


def check_items(items: Iterable[object] | None) -> list[FieldError]:
    """Lists what is wrong with the goods lines, prohibited goods included (R-2.2)."""
    lines = list(items or [])
    if not lines:
        return [FieldError("items", "items.required")]
    if len(lines) > ITEMS_MAX:
        return [FieldError("items", "items.too_many", {"max": str(ITEMS_MAX)})]
    errors: list[FieldError] = []
    for index, item in enumerate(lines):
        prefix = f"items[{index}]"
        collect(errors, normalize_item_name, read_field(item, "name"), field=f"{prefix}.name")
        collect(errors, parse_quantity, read_field(item, "quantity"), field=f"{prefix}.quantity")
        collect(errors, parse_weight_kg, read_field(item, "weight_kg"), field=f"{prefix}.weight_kg")
        collect(
            errors, parse_declared_value, read_field(item, "declared_value"), field=f"{prefix}.declared_value"
        )
    return errors


def review_flags(items: Iterable[object] | None) -> list[FieldError]:
    """Lists goods allowed only after a second review (e.g. lithium batteries); not errors (R-3.2)."""
    flags = []
    for index, item in enumerate(items or []):
        result = screen(clean(read_field(item, "name")))
        if result.verdict is Verdict.REVIEW:
            flags.append(
                FieldError(
                    f"items[{index}].name",
                    "goods.needs_review",
                    {"category": result.category or "", "matched": result.matched or ""},
                )
            )
    return flags


def trimmed(value: object) -> str:
    """Returns the value as trimmed text ('' for None)."""
    return "" if value is None else str(value).strip()


def read_dimension(value: Number, path: str, errors: list[FieldError]) -> Decimal | None:
    """Reads one dimension in cm; notes an error if it is not a sane positive number."""
    try:
        number = read_decimal(value, field=path, places=DIMENSION_PLACES)
    except InvalidInput:
        number = None
    if number is None or not Decimal(0) < number <= DIMENSION_MAX_CM:
        errors.append(FieldError(path, "item.dimension_invalid", {"max": str(DIMENSION_MAX_CM)}))
        return None
    return number


def identifier_errors(value: object, path: str, too_long: str, maximum: int) -> list[FieldError]:
    """What is wrong with an identifier stored as given (trimmed): a control character, or its length."""
    text = trimmed(value)
    try:
        refuse_control(text, path)
    except InvalidInput as failure:
        return failure.errors
    return [FieldError(path, too_long, {"max": str(maximum)})] if len(text) > maximum else []


def hs_code_digits(text: object) -> str | None:
    """Returns the HS code as digits only (dots and spaces dropped), or None if it is not one."""
    digits = "".join(ch for ch in trimmed(text) if ch not in ". ")
    low, high = HS_CODE_DIGITS
    return digits if digits.isdigit() and digits.isascii() and low <= len(digits) <= high else None


def normalize_sku(text: str | None, *, field: str = "items[0].sku") -> str:
    """Returns the SKU as stored (trimmed), at most SKU_MAX characters, no control characters."""
    errors = identifier_errors(text, field, "item.sku_too_long", SKU_MAX)
    if errors:
        raise InvalidInput(errors)
    return trimmed(text)


def normalize_hs_code(text: str | None, *, field: str = "items[0].hs_code") -> str:
    """Returns the HS code as digits (dots and spaces dropped), or raises item.hs_code_invalid."""
    digits = hs_code_digits(text)
    if digits is None:
        low, high = HS_CODE_DIGITS
        raise fail(field, "item.hs_code_invalid", text=trimmed(text)[:40], min=str(low), max=str(high))
    return digits


_SIZE_SEPARATORS = re.compile(r"\s*[x×*X,]\s*|\s+")


def parse_size(text: str | None, *, field: str = "items[0].length_cm") -> dict[str, str]:
    """Reads one piece's size typed as 'length x width x height' in cm (e.g. 60x40x30) into three numbers."""
    cleaned = clean(text).lower().removesuffix("cm").strip()
    parts = [part for part in _SIZE_SEPARATORS.split(cleaned) if part]
    if len(parts) != len(DIMENSIONS):
        raise fail(field, "item.dimensions_incomplete")
    errors: list[FieldError] = []
    numbers = [read_dimension(part, field, errors) for part in parts]
    if errors:
        raise InvalidInput(errors[:1])
    return {name: f"{number:f}" for name, number in zip(DIMENSIONS, numbers, strict=True)}
