"""English sentences for every intake error code: which field, what is wrong, how to fix it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.intake.screening import category_label

if TYPE_CHECKING:
    # Only named in annotations: errors.py words its exceptions with describe() from here.
    from domain.intake.errors import FieldError

# English fallback sentences: what is wrong and how to fix it. Handlers translate by code instead.
MESSAGES: dict[str, str] = {
    "text.control": "the text holds a control character (such as a NUL byte) or a broken one; "
    "please remove it",
    "country.required": "the country or region is missing; please give it, e.g. DE or Germany",
    "country.unknown": "'{text}' is not a country or region we know; please give its name or ISO code, "
    "e.g. DE or Germany",
    "country.ambiguous": "'{text}' could be several countries ({candidates}); please give the ISO code",
    "phone.required": "the phone number is missing; please add it",
    "phone.invalid": "this is not a valid phone number{country_suffix}; please check it, e.g. {example}",
    "phone.characters": "a phone number holds only digits, spaces, + - ( ) and dots, not {characters}; "
    "please check it, e.g. {example}",
    "phone.cn_mobile_length": "a mainland China mobile number has 11 digits, this one has {digits}; "
    "please check it, e.g. {example}",
    "email.required": "the email address is missing; please add it",
    "email.invalid": "this is not a valid email address ({reason}); please check it, e.g. {example}",
    "contact.required": "a phone number or an email address is needed; please add at least one",
    "name.required": "the name is missing; please add it",
    "name.too_long": "the name is too long ({length} characters, at most {max}); please shorten it",
    "name.too_short": "the name is too short; please give it in full",
    "name.unclear": "the name must contain letters; please give it in full",
    "city.required": "the city is missing; please add it",
    "city.too_long": "the city is too long ({length} characters, at most {max}); please shorten it",
    "city.too_short": "the city is too short (at least {min} characters); please give it in full",
    "city.unclear": "the city must contain letters; please give its name",
    "street.required": "the street address is missing; please add it",
    "street.too_long": "the street address is too long ({length} characters, at most {max}); "
    "please shorten it",
    "street.too_short": "the street address is too short (at least {min} characters); "
    "please give street and house number",
    "street.unclear": "the street address must contain the street name; please add it",
    "area.too_long": "the state/province is too long (at most {max} characters); please shorten it",
    "postcode.required": "the address has no postcode, which {country} requires; "
    "please add it, e.g. {example}",
    "postcode.format": "'{postcode}' is not a postcode of {country}; please check it, e.g. {example}",
    "items.required": "the order has no goods; please add at least one item",
    "items.too_many": "the order has too many lines (at most {max}); please split it",
    "item.name.required": "the goods name is missing; please say what the goods are",
    "item.name.too_long": "the goods name is too long ({length} characters, at most {max}); "
    "please shorten it",
    "item.name.too_short": "the goods name is too short; please say what the goods are",
    "item.name.unclear": "the goods name must say what the goods are, not just numbers or symbols",
    "item.quantity_integer": "the quantity must be a whole number from {min} to {max}",
    "item.quantity_range": "the quantity must be from {min} to {max}",
    "item.weight_invalid": "the weight must be a number of kg, e.g. 1.5",
    "item.weight_range": "the weight of one piece must be more than 0 and at most {max} kg",
    "item.value_invalid": "the declared value must be a number, e.g. 120.00",
    "item.value_range": "the declared value cannot be negative",
    "item.number_too_large": "this number is too large (at most {max}); please check it",
    "item.too_precise": "please give at most {places} decimal places, e.g. 0.25",
    "goods.prohibited": "'{matched}' is {category_label}, which we cannot ship; please remove this item",
    "goods.needs_review": "'{matched}' is {category_label}, allowed only after a second review",
    "service.required": "the service type is missing; please choose one of {choices}",
    "service.unknown": "this service type does not exist; please choose one of {choices}",
    "payment_method.required": "the payment method is missing; please choose one",
    "payment_method.too_long": "the payment method is too long (at most {max} characters)",
    "remarks.too_long": "the remarks are too long (at most {max} characters); please shorten them",
    "order.total_too_large": "the price of this order ({amount}) is more than one order can hold "
    "(at most {max}); please split the goods into several orders",
    "amount.invalid": "the amount paid is not a number, e.g. 123.45",
    "amount.mismatch": "the amount paid ({got}) does not match the price of the chosen service ({expected}); "
    "please pay {expected} or change the service",
    # The intake rules of each channel and the goods lines' details (drafts.py, goods.py).
    "offline.entered_by_required": "an offline order needs the staff member who enters it",
    "offline.received_at_required": "an offline order needs the time it was received; please give it",
    "offline.received_at_naive": "the time received needs a time zone; please give it with its offset",
    "offline.received_at_future": "the time received ({received_at}) is later than now ({now}); "
    "please check it",
    "offline.unconfirmed": "the customer has not confirmed the order; check every field with them "
    "and record their confirmation first",
    "channel.unknown": "'{text}' is not an order channel; use one of {choices}",
    "telegram_user_id.invalid": "the Telegram user id must be a whole number from 1 to {max}",
    "telegram_user_id.required": "an order from the chat needs the customer's Telegram user id",
    "language.invalid": "the language must be a language code such as en or zh",
    "external_ref.too_long": "the external reference is too long (at most {max} characters)",
    "item.sku_too_long": "the SKU is too long (at most {max} characters); please shorten it",
    "item.hs_code_invalid": "'{text}' is not an HS code; it has {min} to {max} digits, "
    "e.g. 8517.12 or 851712",
    "item.dimension_invalid": "the dimension must be a number of cm, more than 0 and at most {max}, e.g. 30",
    "item.dimensions_incomplete": "give all three dimensions (length, width, height in cm) or none",
    # Special requests, delivery date, special services and customs details.
    "request.kind_unknown": "this is not a kind of special request; use one of {choices}",
    "request.note_required": "the special request needs a note (the agent's name, the label wanted...)",
    "request.note_too_long": "the note is too long (at most {max} characters); please shorten it",
    "requests.too_many": "too many special requests (at most {max}); please put the rest in the remarks",
    "delivery_by.invalid": "this is not a date; please give it as {example}",
    "delivery_by.past": "the delivery date must be after today ({today}); please check it",
    "special_service.unknown": "this special service does not exist; please choose one of {choices}",
    "special_service.not_offered": "this special service is not offered with {service}; "
    "please remove it or choose another service",
    "item.hs_code_required": "{country} asks for an HS code on every goods line of a business shipment; "
    "please add it, e.g. 8517.12",
}


class _Params(dict[str, str]):
    """Leaves a placeholder visible instead of failing when a parameter is missing."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def describe(error: FieldError) -> str:
    """Says in English which field is wrong, what is wrong and how to fix it."""
    params = _Params(error.params)
    if "category" in params:
        params["category_label"] = category_label(params["category"])
    country = params.get("country", "")
    params["country_suffix"] = f" for {country}" if country else ""
    template = MESSAGES.get(error.code)
    if template is None:
        return f"{error.field}: {error.code} {dict(error.params)}".rstrip()
    return f"{error.field}: {template.format_map(params)}"
