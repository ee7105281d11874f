"""Buttons of the order wizard: fixed choices, the country picker, Back / Change / Cancel on every step."""

from __future__ import annotations

import functools
from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _

from domain.intake.special_services import offered
from domain.intake.validation import ITEMS_MAX
from domain.orders.status import Service
from handlers.intake_states import (
    ITEM_KEYS,
    PREVIEW_KEY,
    Step,
    draft_of,
    is_answered,
    is_offline,
    may_skip,
    previous_step,
    sequence,
)
from presentation.field_errors import FIELD_LABELS, ITEM_FIELD_LABELS
from presentation.ids import parse_index
from presentation.intake_details import REQUEST_NAMES, SPECIAL_SERVICE_NAMES
from presentation.intake_texts import CHANNEL_LABELS, PAYMENT_LABELS, SERVICE_LABELS, country_label
from presentation.keyboards import N_

# Longest goods name shown on a button.
BUTTON_TEXT_MAX = 32

# The destinations most orders go to, offered as buttons (others are typed).
COMMON_COUNTRIES = ("US", "GB", "DE", "FR", "JP", "KR", "AU", "CA", "SG", "AE", "BR", "HK")
COUNTRIES_PER_ROW = 3

BACK = N_("« Back")
CHANGE = N_("✎ Change a field")
CANCEL = N_("✖ Cancel order")
SKIP = N_("Skip »")
NOW = N_("Just now")
URGENT = N_("⚡ Urgent")
NOT_URGENT = N_("Not urgent")
ADD_ITEM = N_("➕ Add another goods line")
NO_MORE_ITEMS = N_("No, continue »")
CONFIRM = N_("✔ Confirm order")
SUBMIT = N_("✔ Submit order")
CUSTOMER_CONFIRMED = N_("☑ Customer confirmed the details")
CUSTOMER_NOT_CONFIRMED = N_("☐ Customer confirmed the details")
REMOVE_ITEM = N_("🗑 Remove this goods line")
# Quick buttons: a line's fragile mark, SKU and HS code; the order's extras on the preview (issue 19).
FRAGILE_ON = N_("🔸 Fragile ✓ (press to undo)")
FRAGILE_OFF = N_("🔸 Mark “{name}” fragile")
LINE_SKU = N_("🏷 SKU")
LINE_HS = N_("📑 HS code")
BUSINESS_ON = N_("☑ Shipping as a business")
BUSINESS_OFF = N_("☐ Shipping as a business")
ADD_REQUEST = N_("➕ Special request")
DELIVERY_DATE = N_("📅 Delivery date")
SPECIAL_SERVICE = N_("⚙ Special service")
NO_REQUEST = N_("No special request »")
CLEAR_REQUESTS = N_("🗑 Remove all requests")
DONE = N_("Done »")

# The steps whose field the "change a field" list offers, with the field label they show.
STEP_FIELDS: dict[str, str] = {
    "channel": "channel",
    "received_at": "received_at",
    "name": "customer.name",
    "country": "address.country",
    "phone": "customer.phone",
    "email": "customer.email",
    "city": "address.city",
    "street": "address.street",
    "postcode": "address.postcode",
    "service": "service",
    "payment": "payment.method",
    "remarks": "remarks",
}
URGENT_LABEL = N_("Urgent")


class WizardAction(CallbackData, prefix="wz"):
    """A wizard button: the step it belongs to (stale buttons are refused), what it does, a value."""

    step: str
    act: str
    value: str = ""


def step_key(step: Step) -> str:
    """Names a step for callback data and the FSM data, e.g. 'item_weight.1'."""
    return step.name if step.line is None else f"{step.name}.{step.line}"


def parse_step_key(key: str) -> Step:
    """Reads a step key back."""
    name, _, index = key.partition(".")
    return Step(name, parse_index(index, ITEMS_MAX))


def _button(text: str, step: Step, act: str, value: str = "") -> InlineKeyboardButton:
    """One wizard button."""
    return _made_button(text, step_key(step), act, value)


@functools.lru_cache(maxsize=4096)
def _made_button(text: str, key: str, act: str, value: str) -> InlineKeyboardButton:
    """A wizard button, built once: a step shows a dozen of them, each a pydantic model (issue 17).

    Buttons are never changed once built, so one can sit in many keyboards.
    """
    return InlineKeyboardButton(text=text, callback_data=WizardAction(step=key, act=act, value=value).pack())


def short(text: str, limit: int = BUTTON_TEXT_MAX) -> str:
    """Shortens user text for a button label (buttons are plain text, not HTML)."""
    value = " ".join(text.split())
    return value if len(value) <= limit else value[: limit - 1] + "…"


def navigation_row(data: dict[str, Any], step: Step) -> list[InlineKeyboardButton]:
    """Back (except on the first step), Change a field (once something is answered), Cancel."""
    row = []
    if previous_step(data, step) is not None:
        row.append(_button(_(BACK), step, "back"))
    if any(is_answered(data, other) for other in sequence(data)):
        row.append(_button(_(CHANGE), step, "edit"))
    row.append(_button(_(CANCEL), step, "cancel"))
    return row


def _choices(step: Step, locale: str) -> list[list[InlineKeyboardButton]]:
    """The fixed choices of a step, as rows of buttons."""
    if step.name == "channel":
        return [[_button(_(label), step, "pick", value)] for value, label in CHANNEL_LABELS.items()]
    if step.name == "received_at":
        return [[_button(_(NOW), step, "pick", "now")]]
    if step.name == "urgent":
        return [[_button(_(URGENT), step, "pick", "1"), _button(_(NOT_URGENT), step, "pick", "0")]]
    if step.name == "country":
        buttons = [_button(country_label(code, locale), step, "pick", code) for code in COMMON_COUNTRIES]
        return [buttons[i : i + COUNTRIES_PER_ROW] for i in range(0, len(buttons), COUNTRIES_PER_ROW)]
    if step.name == "more_items":
        return [
            [_button(_(ADD_ITEM), step, "pick", "more")],
            [_button(_(NO_MORE_ITEMS), step, "pick", "done")],
        ]
    if step.name == "service":
        return [[_button(_(label), step, "pick", value)] for value, label in SERVICE_LABELS.items()]
    if step.name == "payment":
        buttons = [_button(_(label), step, "pick", value) for value, label in PAYMENT_LABELS.items()]
        return [buttons[:2], buttons[2:]]
    return []


def _line_rows(data: dict[str, Any], step: Step) -> list[list[InlineKeyboardButton]]:
    """Quick buttons for the goods line just entered: fragile, SKU and HS code."""
    items = draft_of(data)["items"]
    line = len(items) - 1
    item = items[line]
    label = _(FRAGILE_ON) if item.get("fragile") else _(FRAGILE_OFF).format(name=short(item.get("name", "")))
    return [
        [_button(label, step, "fragile", str(line))],
        [_button(_(LINE_SKU), step, "line_sku", str(line)), _button(_(LINE_HS), step, "line_hs", str(line))],
    ]


def _extra_choices(data: dict[str, Any], step: Step) -> list[list[InlineKeyboardButton]]:
    """The choices of the steps asked from the preview: request kinds and special services."""
    draft = draft_of(data)
    if step.name == "request_kind":
        rows = [[_button(_(label), step, "pick", kind)] for kind, label in REQUEST_NAMES.items()]
        if draft.get("special_requests"):
            rows.append([_button(_(CLEAR_REQUESTS), step, "pick", "clear")])
        return [*rows, [_button(_(NO_REQUEST), step, "pick", "none")]]
    if step.name == "special_service":
        chosen = set(draft.get("special_services", []))
        service = Service(draft["service"]) if draft.get("service") in set(Service) else None
        rows = [
            [_button(("☑ " if special in chosen else "☐ ") + _(label), step, "pick", special)]
            for special, label in SPECIAL_SERVICE_NAMES.items()
            if service is None or offered(special, service)
        ]
        return [*rows, [_button(_(DONE), step, "pick", "done")]]
    return []


def step_keyboard(
    data: dict[str, Any], step: Step, locale: str, *, can_add_item: bool
) -> InlineKeyboardMarkup:
    """The buttons under a question: its choices, Skip if optional, then the navigation row."""
    rows = _choices(step, locale) + _extra_choices(data, step)
    if step.name == "more_items" and not can_add_item:
        rows = rows[1:]
    if step.name == "more_items":
        rows = _line_rows(data, step) + rows
    if may_skip(data, step):
        rows.append([_button(_(SKIP), step, "skip")])
    rows.append(navigation_row(data, step))
    return InlineKeyboardMarkup(inline_keyboard=rows)


def preview_keyboard(data: dict[str, Any]) -> InlineKeyboardMarkup:
    """Confirm / Change / Cancel under the preview; offline orders also record the customer's consent.

    Confirm carries the preview's token, so it submits this preview once and no other.
    """
    step = Step("preview")
    token = str(data.get(PREVIEW_KEY, ""))
    rows = []
    if is_offline(data):
        confirmed = bool(draft_of(data).get("confirmed"))
        label = CUSTOMER_CONFIRMED if confirmed else CUSTOMER_NOT_CONFIRMED
        rows.append([_button(_(label), step, "toggle")])
        rows.append([_button(_(SUBMIT), step, "confirm", token)])
    else:
        rows.append([_button(_(CONFIRM), step, "confirm", token)])
    business = BUSINESS_ON if draft_of(data).get("business") else BUSINESS_OFF
    rows.append([_button(_(business), step, "business")])
    rows.append(
        [
            _button(_(ADD_REQUEST), step, "extra", "request_kind"),
            _button(_(DELIVERY_DATE), step, "extra", "delivery_by"),
        ]
    )
    rows.append([_button(_(SPECIAL_SERVICE), step, "extra", "special_service")])
    rows.append(
        [_button(_(BACK), step, "back"), _button(_(CHANGE), step, "edit"), _button(_(CANCEL), step, "cancel")]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def fields_keyboard(data: dict[str, Any], *, can_add_item: bool) -> InlineKeyboardMarkup:
    """The answered fields as buttons, to pick one to change; each goods line opens its own list."""
    step = Step("edit_fields")
    rows: list[list[InlineKeyboardButton]] = []
    answered = [other for other in sequence(data) if is_answered(data, other)]
    single = [
        _button(_(FIELD_LABELS[STEP_FIELDS[other.name]]), step, "field", other.name)
        for other in answered
        if other.name in STEP_FIELDS
    ]
    if any(other.name == "urgent" for other in answered):
        single.insert(
            2 if len(single) >= 2 else len(single), _button(_(URGENT_LABEL), step, "field", "urgent")
        )
    rows += [single[i : i + 2] for i in range(0, len(single), 2)]
    items = draft_of(data)["items"]
    for index, item in enumerate(items):
        if item.get("name"):
            text = _("Goods {number}: {name}").format(number=index + 1, name=short(item["name"]))
            rows.append([_button(text, step, "item", str(index))])
    if can_add_item and any(is_answered(data, Step("item_value", index)) for index in range(len(items))):
        rows.append([_button(_(ADD_ITEM), step, "add_item")])
    rows.append([_button(_(BACK), step, "back"), _button(_(CANCEL), step, "cancel")])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def item_fields_keyboard(data: dict[str, Any], index: int) -> InlineKeyboardMarkup:
    """The fields of one goods line, and removing it (when it is not the only one)."""
    step = Step("edit_item", index)
    item = draft_of(data)["items"][index]
    buttons = [
        _button(_(ITEM_FIELD_LABELS[key]).format(number=index + 1), step, "item_field", name)
        for name, key in ITEM_KEYS.items()
        if key in item
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    if len(draft_of(data)["items"]) > 1:
        rows.append([_button(_(REMOVE_ITEM), step, "remove", str(index))])
    rows.append([_button(_(BACK), step, "back"), _button(_(CANCEL), step, "cancel")])
    return InlineKeyboardMarkup(inline_keyboard=rows)
