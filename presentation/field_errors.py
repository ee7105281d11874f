"""Turns validation FieldErrors into one translated sentence each: which field, what is wrong, how to fix it.

The domain gives each failure a stable code and its values (domain/intake/);
the words live here, in the user's language. Values that echo the user's own text are shortened
and HTML-escaped, so a message always fits a Telegram message.
"""

from __future__ import annotations

import html
import re

from aiogram.utils.i18n import gettext as _

from domain.intake.errors import FieldError, InvalidInput
from domain.intake.messages import MESSAGES as VALIDATION_MESSAGES
from domain.intake.messages import describe as describe_in_english
from domain.intake.screening import category_label
from domain.intake.validation import parse_country
from presentation.keyboards import N_

# Longest piece of the user's own text quoted back in an error.
QUOTE_MAX = 40
# Longest English fallback sentence shown for a code without words of its own.
DESCRIBE_MAX = 300

# Field labels by the last part of the field path (items[2].name -> "name" of goods line 3).
FIELD_LABELS: dict[str, str] = {
    "delivery_by": N_("Delivery date"),
    "special_requests": N_("Special requests"),
    "customer.name": N_("Name"),
    "customer.phone": N_("Phone"),
    "customer.email": N_("Email"),
    "customer.contact": N_("Contact"),
    "customer.telegram_user_id": N_("Telegram account"),
    "customer.language": N_("Language"),
    "address.country": N_("Destination country"),
    "address.city": N_("City"),
    "address.street": N_("Street address"),
    "address.postcode": N_("Postcode"),
    "address.area": N_("State or province"),
    "items": N_("Goods list"),
    "service": N_("Service type"),
    "payment.method": N_("Payment method"),
    "payment.amount": N_("Amount paid"),
    "payment.currency": N_("Currency"),
    "remarks": N_("Remarks"),
    "channel": N_("Order channel"),
    "received_at": N_("Time received"),
    "entered_by": N_("Entered by"),
    "customer_confirmed": N_("Customer confirmation"),
    "external_ref": N_("External reference"),
}
ITEM_FIELD_LABELS: dict[str, str] = {
    "name": N_("Goods {number}: name"),
    "quantity": N_("Goods {number}: quantity"),
    "weight_kg": N_("Goods {number}: weight"),
    "declared_value": N_("Goods {number}: declared value"),
    "sku": N_("Goods {number}: SKU"),
    "hs_code": N_("Goods {number}: HS code"),
    "length_cm": N_("Goods {number}: dimensions"),
    "width_cm": N_("Goods {number}: dimensions"),
    "height_cm": N_("Goods {number}: dimensions"),
}
_ITEM_PATH = re.compile(r"items\[(\d+)\]\.(\w+)")

# What is wrong and how to fix it, per error code; {placeholders} are the error's params.
MESSAGES: dict[str, str] = {
    "country.required": N_("the destination country is missing; please give it, e.g. DE or Germany."),
    "country.unknown": N_(
        "“{text}” is not a country or region we know; please give its name or its two-letter code, "
        "e.g. Germany or DE."
    ),
    "country.ambiguous": N_(
        "“{text}” could be several countries ({candidates}); please give the two-letter code."
    ),
    "phone.required": N_("the phone number is missing; please add it."),
    "phone.invalid": N_("this is not a valid phone number for {country}; please check it, e.g. {example}."),
    "phone.invalid.no_country": N_("this is not a valid phone number; please check it, e.g. {example}."),
    "phone.characters": N_(
        "a phone number holds only digits, spaces, + - ( ) and dots, not {characters}; "
        "please check it, e.g. {example}."
    ),
    "phone.cn_mobile_length": N_(
        "a mainland China mobile number has 11 digits, this one has {digits}; "
        "please check it, e.g. {example}."
    ),
    "email.required": N_("the email address is missing; please add it."),
    "email.invalid": N_("this is not a valid email address ({reason}); please check it, e.g. {example}."),
    "contact.required": N_("we need a phone number or an email address; please give at least one."),
    "name.required": N_("the name is missing; please give it."),
    "name.too_long": N_("the name is too long ({length} characters, at most {max}); please shorten it."),
    "name.too_short": N_("the name is too short; please give it in full."),
    "name.unclear": N_("a name must contain letters; please give it in full."),
    "city.required": N_("the city is missing; please give it."),
    "city.too_long": N_("the city is too long ({length} characters, at most {max}); please shorten it."),
    "city.too_short": N_("the city is too short (at least {min} characters); please give it in full."),
    "city.unclear": N_("a city name must contain letters; please give its name."),
    "street.required": N_("the street address is missing; please give it."),
    "street.too_long": N_(
        "the street address is too long ({length} characters, at most {max}); please shorten it."
    ),
    "street.too_short": N_(
        "the street address is too short (at least {min} characters); "
        "please give the street and house number."
    ),
    "street.unclear": N_("the street address must contain the street name; please add it."),
    "area.too_long": N_("the state or province is too long (at most {max} characters); please shorten it."),
    "postcode.required": N_("{country} requires a postcode; please add it, e.g. {example}."),
    "postcode.format": N_("“{postcode}” is not a postcode of {country}; please check it, e.g. {example}."),
    "items.required": N_("the order has no goods; please add at least one item."),
    "items.too_many": N_("the order has too many goods lines (at most {max}); please split it."),
    "item.name.required": N_("the goods name is missing; please say what the goods are."),
    "item.name.too_long": N_(
        "the goods name is too long ({length} characters, at most {max}); please shorten it."
    ),
    "item.name.too_short": N_("the goods name is too short; please say what the goods are."),
    "item.name.unclear": N_("please say what the goods are in words, not just numbers or symbols."),
    "item.quantity_integer": N_("the quantity must be a whole number from {min} to {max}, e.g. 2."),
    "item.quantity_range": N_("the quantity must be from {min} to {max}."),
    "item.weight_invalid": N_("the weight must be a number of kilograms, e.g. 1.5."),
    "item.weight_range": N_("the weight of one piece must be more than 0 and at most {max} kg."),
    "item.value_invalid": N_("the declared value must be a number, e.g. 120.00."),
    "item.value_range": N_("the declared value cannot be negative."),
    "item.number_too_large": N_("this number is too large (at most {max}); please check it."),
    "item.too_precise": N_("please give at most {places} decimal places, e.g. 0.25."),
    "text.control": N_(
        "this holds an invisible control character (often from copy and paste); please type it again."
    ),
    "order.total_too_large": N_(
        "the price of this order ({amount}) is more than one order can take (at most {max}); "
        "please split the goods into several orders."
    ),
    "item.sku_too_long": N_("the SKU is too long (at most {max} characters); please shorten it."),
    "item.hs_code_invalid": N_(
        "“{text}” is not an HS code; it has {min} to {max} digits, e.g. 8517.12 or 851712."
    ),
    "item.dimension_invalid": N_(
        "a dimension must be a number of cm, more than 0 and at most {max}, e.g. 30."
    ),
    "item.dimensions_incomplete": N_("give all three dimensions (length, width, height in cm) or none."),
    "item.hs_code_required": N_(
        "{country} asks for an HS code on every goods line of a business shipment; "
        "please add it, e.g. 8517.12."
    ),
    "request.kind_unknown": N_("this is not a kind of special request; please choose one of the buttons."),
    "request.note_required": N_("the request needs a note, e.g. the customs agent’s name or the label text."),
    "request.note_too_long": N_("the note is too long (at most {max} characters); please shorten it."),
    "requests.too_many": N_("too many special requests (at most {max}); please put the rest in the remarks."),
    "delivery_by.invalid": N_("this is not a date; please give it as {example}."),
    "delivery_by.past": N_("the delivery date must be after today ({today}); please check it."),
    "special_service.unknown": N_("this special service does not exist; please choose one of the buttons."),
    "special_service.not_offered": N_(
        "this special service is not offered with the chosen service; please remove it or change the service."
    ),
    "goods.prohibited": N_(
        "“{matched}” counts as {category}, which we cannot ship; please remove this item or name other goods."
    ),
    "goods.needs_review": N_("“{matched}” counts as {category}; it can ship only after a second review."),
    "service.required": N_("the service type is missing; please choose one."),
    "service.unknown": N_("this service type does not exist; please choose one of the buttons."),
    "payment_method.required": N_("the payment method is missing; please choose one."),
    "payment_method.too_long": N_("the payment method is too long (at most {max} characters)."),
    "remarks.too_long": N_("the remarks are too long (at most {max} characters); please shorten them."),
    "amount.invalid": N_("the amount paid is not a number, e.g. 123.45."),
    "amount.mismatch": N_(
        "the amount paid ({got}) does not match the price of the chosen service ({expected}); "
        "please pay {expected} or change the service."
    ),
    "offline.entered_by_required": N_("an offline order needs the staff member who enters it."),
    "offline.received_at_required": N_("please give the time the order was received."),
    "offline.received_at_naive": N_("the time received needs a time zone."),
    "offline.received_at_future": N_(
        "the time received ({received_at}) is later than now ({now}); please check it."
    ),
    "offline.unconfirmed": N_(
        "the customer has not confirmed the order yet; go through every field with them and record "
        "their confirmation first."
    ),
    "received_at.format": N_(
        "“{text}” is not a time; give the time of day, e.g. 14:05, or the date and time, e.g. {example}."
    ),
    "channel.unknown": N_("this is not an order channel; please choose one of the buttons."),
    "telegram_user_id.invalid": N_("the Telegram account is not valid."),
    "telegram_user_id.required": N_("an order from the chat needs the customer’s Telegram account."),
    "language.invalid": N_("the language must be a language code such as en or zh."),
    "external_ref.too_long": N_("the external reference is too long (at most {max} characters)."),
}

# Every code the domain can raise has a sentence here (checked by a test); these are the domain's.
DOMAIN_CODES = frozenset(VALIDATION_MESSAGES)


# domain.intake.validation.email_problem's few words, for the reader (issue 18: never cut off).
EMAIL_PROBLEMS: dict[str, str] = {
    "no @-sign": N_("it has no @-sign"),
    "more than one @-sign": N_("it has more than one @-sign"),
    "nothing before the @-sign": N_("nothing comes before the @-sign"),
    "the part after the @-sign is not a domain name": N_("the part after the @-sign is not a domain name"),
    "a character that is not allowed": N_("it holds a character that is not allowed"),
}


class _Params(dict[str, str]):
    """Leaves an unknown placeholder visible instead of failing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def quoted(text: object, limit: int = QUOTE_MAX) -> str:
    """Shortens a piece of user text for quoting it back, HTML-escaped."""
    value = " ".join(str(text).split())
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return html.escape(value, quote=False)


def country_name(name_or_code: str, locale: str) -> str:
    """Names a country in the user's language, from its English name or code (unknown: as given)."""
    if not name_or_code:
        return ""
    try:
        country = parse_country(name_or_code)
    except InvalidInput:
        return quoted(name_or_code)
    if locale.startswith("zh") and country.name_zh:
        return country.name_zh
    return html.escape(country.name_en, quote=False)


def field_label(path: str) -> str:
    """Names the field of an error path in the current language, e.g. 'Goods 2: weight'."""
    match = _ITEM_PATH.fullmatch(path)
    if match is not None:
        label = ITEM_FIELD_LABELS.get(match.group(2))
        if label is not None:
            return _(label).format(number=int(match.group(1)) + 1)
    label = FIELD_LABELS.get(path)
    return _(label) if label is not None else quoted(path)


def _params(error: FieldError, locale: str) -> _Params:
    """The error's values made safe and localized for the message."""
    params = _Params({key: quoted(value) for key, value in error.params.items()})
    if "country" in error.params:
        params["country"] = country_name(error.params["country"], locale)
    if error.code == "email.invalid" and "reason" in error.params:
        reason = EMAIL_PROBLEMS.get(error.params["reason"])
        params["reason"] = _(reason) if reason is not None else quoted(error.params["reason"], DESCRIBE_MAX)
    if "category" in error.params:
        params["category"] = html.escape(category_label(error.params["category"], locale), quote=False)
    return params


def describe(error: FieldError, locale: str) -> str:
    """Says in the user's language which field is wrong, what is wrong and how to fix it (HTML)."""
    code = error.code
    if code == "phone.invalid" and not error.params.get("country"):
        code = "phone.invalid.no_country"
    template = MESSAGES.get(code)
    if template is None:
        # A code without words of its own still names the field and says something useful.
        return f"<b>{field_label(error.field)}</b>: {quoted(describe_in_english(error), DESCRIBE_MAX)}"
    return f"<b>{field_label(error.field)}</b>: {_(template).format_map(_params(error, locale))}"


def describe_all(errors: list[FieldError], locale: str) -> str:
    """One line per error."""
    return "\n".join(describe(error, locale) for error in errors)
