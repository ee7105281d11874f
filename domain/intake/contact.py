"""Contact checks (R-2.1): the customer's name, phone number (by destination) and email address."""

from __future__ import annotations

import re

import email_validator
import phonenumbers

from domain.intake.address import country_name
from domain.intake.errors import fail
from domain.intake.text import clean_text, normalize_text

_CN_MOBILE = re.compile(r"1[3-9]\d*")
CN_MOBILE_DIGITS = 11
# Customers are mostly senders in mainland China: a number without "+" that is not valid for
# the destination is tried as a Chinese number before it is refused.
HOME_REGION = "CN"
NAME_MAX = 100


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
        raise fail(field, "phone.required")
    # phonenumbers drops letters it does not expect ("8000x" reads as 8000): refuse them instead (issue 18).
    stray = sorted(set(_PHONE_STRAY.findall(raw)))
    # Text with hardly a digit is no number at all: that gets the country's example below.
    if stray and len(re.sub(r"\D", "", raw)) >= PHONE_DIGITS_MIN:
        example = phone_example(country_code.upper() if country_code else HOME_REGION)
        raise fail(field, "phone.characters", characters=" ".join(stray), example=example)
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
        raise fail(field, "phone.cn_mobile_length", digits=str(len(digits)), example=phone_example("CN"))
    if blamed in (None, "ZZ"):
        raise fail(field, "phone.invalid", country="", example=phone_example(HOME_REGION))
    raise fail(field, "phone.invalid", country=country_name(blamed), example=phone_example(blamed))


def normalize_email(text: str | None, *, field: str = "customer.email") -> str:
    """Returns the normalized email address (syntax only; no DNS look-up)."""
    raw = clean_text(text, field)
    if not raw:
        raise fail(field, "email.required")
    try:
        return email_validator.validate_email(raw, check_deliverability=False).normalized
    except email_validator.EmailNotValidError as error:
        raise fail(field, "email.invalid", reason=email_problem(raw), example="name@example.com") from error


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


def normalize_customer_name(text: str | None, *, field: str = "customer.name") -> str:
    """Returns the customer's name, trimmed."""
    return normalize_text(text, field, "name", 1, NAME_MAX)
