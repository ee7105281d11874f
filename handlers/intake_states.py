"""The order wizard's steps and the answers collected so far, kept as plain JSON in the FSM data.

One wizard serves customers (/neworder) and order-desk staff entering offline orders (/offline),
which adds the channel, the time received and the urgent flag in front (R-1.3, R-1.4). The next
step is always the first one not answered yet, so Back, editing a field from the preview and
resuming after a restart all follow from the answers themselves.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

from aiogram.fsm.state import State, StatesGroup

from domain.intake.clearance import hs_code_required
from domain.intake.drafts import AddressDraft, CustomerDraft, ItemDraft, OrderDraft
from domain.intake.errors import FieldError, InvalidInput
from domain.intake.requirements import SpecialRequestDraft
from domain.intake.special_services import asks_size
from domain.intake.validation import ITEMS_MAX, normalize_postcode, postcode_required, postcode_used
from domain.orders.special import RequestKind
from domain.orders.status import Channel
from presentation.ids import parse_index
from presentation.intake_texts import RECEIVED_AT_EXAMPLE

CUSTOMER = "customer"
OFFLINE = "offline"
# Goods lines one chat order may have, so the preview card fits one Telegram message.
WIZARD_ITEMS_MAX = 10
# Where the fix wizard keeps the rejected order it corrects (its id and reference).
FIX_KEY = "fix"
# The token of the preview on screen: its Confirm button carries it, and submitting spends it.
PREVIEW_KEY = "preview_token"


class OrderWizard(StatesGroup):
    """Dialog steps of the order wizard; the order's own lifecycle lives in domain/status.py."""

    channel = State()
    received_at = State()
    urgent = State()
    name = State()
    country = State()
    phone = State()
    email = State()
    city = State()
    street = State()
    postcode = State()
    item_name = State()
    item_quantity = State()
    item_weight = State()
    item_size = State()
    item_value = State()
    item_sku = State()
    item_hs = State()
    more_items = State()
    service = State()
    payment = State()
    remarks = State()
    request_kind = State()
    request_note = State()
    delivery_by = State()
    special_service = State()
    preview = State()
    edit_fields = State()
    edit_item = State()


class Step(NamedTuple):
    """A step of the wizard; goods steps name the goods line they are about."""

    name: str
    line: int | None = None


OFFLINE_STEPS = ("channel", "received_at", "urgent")
CUSTOMER_STEPS = ("name", "country", "phone", "email", "city", "street", "postcode")
# item_size only for heavy lines (asks_size); SKU and HS code are quick buttons off the linear flow.
ITEM_STEPS = ("item_name", "item_quantity", "item_weight", "item_size", "item_value")
# Asked from the preview's buttons: what the customer asks beyond the goods.
EXTRA_STEPS = ("request_kind", "request_note", "delivery_by", "special_service")
CLOSING_STEPS = ("more_items", "service", "payment", "remarks")
# Where each answer is kept in data["draft"] (goods answers in data["draft"]["items"][index]).
DRAFT_KEYS: dict[str, str] = {
    "channel": "channel",
    "received_at": "received_at",
    "urgent": "urgent",
    "name": "name",
    "country": "country",
    "phone": "phone",
    "email": "email",
    "city": "city",
    "street": "street",
    "postcode": "postcode",
    "more_items": "items_done",
    "service": "service",
    "payment": "payment_method",
    "remarks": "remarks",
    "request_kind": "pending_request",
    "request_note": "special_requests",
    "delivery_by": "delivery_by",
    "special_service": "special_services",
}
ITEM_KEYS: dict[str, str] = {
    "item_name": "name",
    "item_quantity": "quantity",
    "item_weight": "weight_kg",
    "item_value": "declared_value",
    "item_size": "length_cm",
    "item_sku": "sku",
    "item_hs": "hs_code",
}
STEP_BY_FIELD: dict[str, str] = {
    "customer.name": "name",
    "customer.phone": "phone",
    "customer.contact": "phone",
    "customer.email": "email",
    "address.country": "country",
    "address.city": "city",
    "address.street": "street",
    "address.postcode": "postcode",
    "items": "item_name",
    "service": "service",
    "payment.method": "payment",
    "remarks": "remarks",
    "channel": "channel",
    "received_at": "received_at",
    "delivery_by": "delivery_by",
}
STEP_BY_ITEM_FIELD = {key: step for step, key in ITEM_KEYS.items()} | {
    "width_cm": "item_size",
    "height_cm": "item_size",
}


def state_of(step: Step) -> State:
    """The dialog state the wizard is in at a step."""
    state: State = getattr(OrderWizard, step.name)
    return state


def new_data(mode: str) -> dict[str, Any]:
    """Starts the wizard's data for a customer or an offline order."""
    return {"mode": mode, "draft": {"items": [{}]}, "index": 0}


def is_offline(data: dict[str, Any]) -> bool:
    """Whether staff are entering an offline order."""
    return data.get("mode") == OFFLINE


def draft_of(data: dict[str, Any]) -> dict[str, Any]:
    """The answers so far."""
    draft: dict[str, Any] = data.setdefault("draft", {"items": [{}]})
    if not draft.get("items"):
        draft["items"] = [{}]
    return draft


def asks_postcode(draft: dict[str, Any]) -> bool:
    """Whether the destination has postcodes (an unknown destination yet: assume it does)."""
    country = draft.get("country")
    return country is None or postcode_used(country)


def sequence(data: dict[str, Any]) -> list[Step]:
    """Every step of this order in order, one group of goods steps per goods line."""
    draft = draft_of(data)
    names = [*(OFFLINE_STEPS if is_offline(data) else ()), *CUSTOMER_STEPS]
    steps = [Step(name) for name in names if name != "postcode" or asks_postcode(draft)]
    for index, item in enumerate(draft["items"]):
        steps += [
            Step(name, index)
            for name in ITEM_STEPS
            if name != "item_size" or asks_size(item.get("weight_kg"))
        ]
    steps += [Step(name) for name in CLOSING_STEPS]
    return steps


def is_answered(data: dict[str, Any], step: Step) -> bool:
    """Whether the step has an answer (a skipped optional field counts as answered)."""
    draft = draft_of(data)
    if step.name in ITEM_KEYS:
        items = draft["items"]
        return step.line is not None and step.line < len(items) and ITEM_KEYS[step.name] in items[step.line]
    if step.name == "more_items":
        return bool(draft.get("items_done"))
    return DRAFT_KEYS.get(step.name, step.name) in draft


def stored_answer(data: dict[str, Any], step: Step) -> Any:
    """The answer a step has (None if skipped or not answered yet)."""
    draft = draft_of(data)
    if step.name in ITEM_KEYS:
        items = draft["items"]
        if step.line is None or step.line >= len(items):
            return None
        item = items[step.line]
        if step.name == "item_size" and "length_cm" in item:
            return "×".join(str(item.get(name)) for name in ("length_cm", "width_cm", "height_cm"))
        return item.get(ITEM_KEYS[step.name])
    return draft.get(DRAFT_KEYS.get(step.name, step.name))


def correcting(data: dict[str, Any]) -> str | None:
    """The reference of the rejected order the wizard corrects (None for a new order)."""
    fix = data.get(FIX_KEY)
    return str(fix["reference"]) if fix else None


def first_unanswered(data: dict[str, Any]) -> Step | None:
    """The step to ask next, or None when the order is complete and the preview is due."""
    return next((step for step in sequence(data) if not is_answered(data, step)), None)


def previous_step(data: dict[str, Any], step: Step) -> Step | None:
    """The step before this one (None at the first step); the preview's is the last step."""
    steps = sequence(data)
    if step.name == "preview":
        return steps[-1]
    if step not in steps:
        return None
    position = steps.index(step)
    return steps[position - 1] if position > 0 else None


def answer(data: dict[str, Any], step: Step, value: Any) -> None:
    """Records the answer of a step."""
    draft = draft_of(data)
    if step.name == "item_size":
        assert step.line is not None
        draft["items"][step.line].update(value)
        return
    if step.name in ITEM_KEYS:
        assert step.line is not None
        draft["items"][step.line][ITEM_KEYS[step.name]] = value
        return
    if step.name == "request_note":
        kind = draft.pop("pending_request", RequestKind.OTHER.value)
        draft.setdefault("special_requests", []).append({"kind": kind, "note": value})
        return
    if step.name == "country" and value != draft.get("country"):
        _keep_postcode_if_valid(draft, value)
    draft[DRAFT_KEYS[step.name]] = value


def _keep_postcode_if_valid(draft: dict[str, Any], country: str) -> None:
    """Forgets a postcode that is not valid for the new destination, so it is asked again."""
    postcode = draft.get("postcode")
    if not postcode_used(country):
        draft["postcode"] = None
        return
    if postcode is None:
        draft.pop("postcode", None)
        return
    try:
        draft["postcode"] = normalize_postcode(country, postcode)
    except InvalidInput:
        draft.pop("postcode", None)


def add_item(data: dict[str, Any]) -> Step:
    """Starts another goods line; returns its first step."""
    draft = draft_of(data)
    draft["items"].append({})
    draft.pop("items_done", None)
    return Step("item_name", len(draft["items"]) - 1)


def remove_item(data: dict[str, Any], index: int) -> bool:
    """Removes a goods line unless it is the only one; says whether it did."""
    items = draft_of(data)["items"]
    if len(items) <= 1 or not 0 <= index < len(items):
        return False
    del items[index]
    return True


def drop_empty_item(data: dict[str, Any], step: Step) -> bool:
    """Going back from a new, still empty goods line removes it; says whether it did."""
    items = draft_of(data)["items"]
    if step.name != "item_name" or step.line is None or step.line == 0 or step.line >= len(items):
        return False
    if items[step.line]:
        return False
    del items[step.line]
    draft_of(data).pop("items_done", None)
    return True


def step_for_error(error: FieldError) -> Step | None:
    """The step where the field of a validation error is asked."""
    if error.field.startswith("items[") and "]." in error.field:
        index_text, _, key = error.field[len("items[") :].partition("].")
        line = parse_index(index_text, ITEMS_MAX)
        if line is not None and key in STEP_BY_ITEM_FIELD:
            return Step(STEP_BY_ITEM_FIELD[key], line)
        return None
    name = STEP_BY_FIELD.get(error.field)
    if name is None:
        return None
    return Step(name, 0) if name in ITEM_KEYS else Step(name)


def may_skip(data: dict[str, Any], step: Step) -> bool:
    """Whether an optional step may be skipped: one contact is enough, remarks are optional."""
    draft = draft_of(data)
    if step.name == "phone":
        return "email" not in draft or bool(draft.get("email"))
    if step.name == "email":
        return bool(draft.get("phone"))
    if step.name == "postcode":
        country = draft.get("country")
        return country is not None and postcode_used(country) and not postcode_required(country)
    if step.name == "item_hs":
        return not hs_code_needed(draft)
    return step.name in ("remarks", "item_sku", "delivery_by")


def hs_code_needed(draft: dict[str, Any]) -> bool:
    """Whether every goods line needs an HS code: a business shipping where customs ask for it (R-4.3)."""
    country = draft.get("country")
    return isinstance(country, str) and hs_code_required(country, bool(draft.get("business")))


def parse_received_at(text: str, now: datetime, timezone: str) -> datetime:
    """Reads when an offline order was received: '14:05' (today) or '2026-11-28 14:05', local time.

    Returns an aware UTC datetime; raises InvalidInput if it is not a time or lies in the future.
    """
    zone = ZoneInfo(timezone)
    cleaned = " ".join(text.replace("：", ":").split())
    local_now = now.astimezone(zone)
    moment = None
    for pattern in ("%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y/%m/%d %H:%M"):
        try:
            parsed = datetime.strptime(cleaned, pattern)
        except ValueError:
            continue
        if pattern == "%H:%M":
            parsed = local_now.replace(hour=parsed.hour, minute=parsed.minute, second=0, microsecond=0)
            moment = parsed.replace(tzinfo=None)
        else:
            moment = parsed
        break
    if moment is None:
        raise InvalidInput(
            [FieldError("received_at", "received_at.format", {"text": text, "example": RECEIVED_AT_EXAMPLE})]
        )
    received = moment.replace(tzinfo=zone)
    # Staff type minutes; a receipt in the current minute is not "in the future".
    if received > local_now + timedelta(seconds=59):
        params = {
            "received_at": received.strftime("%Y-%m-%d %H:%M"),
            "now": local_now.strftime("%Y-%m-%d %H:%M"),
        }
        raise InvalidInput([FieldError("received_at", "offline.received_at_future", params)])
    return min(received, local_now).astimezone(now.tzinfo)


def order_draft(data: dict[str, Any], *, user_id: int, language: str) -> OrderDraft:
    """Builds the use case's draft from the answers; offline orders are entered by the user.

    A fix keeps what the wizard does not ask for: the address's area.
    """
    draft = draft_of(data)
    offline = is_offline(data)
    items = [
        ItemDraft(
            name=item.get("name"),
            quantity=item.get("quantity"),
            weight_kg=item.get("weight_kg"),
            declared_value=item.get("declared_value"),
            sku=item.get("sku"),
            fragile=bool(item.get("fragile")),
            hs_code=item.get("hs_code"),
            length_cm=item.get("length_cm"),
            width_cm=item.get("width_cm"),
            height_cm=item.get("height_cm"),
        )
        for item in draft["items"]
        if item
    ]
    received_at = draft.get("received_at")
    return OrderDraft(
        customer=CustomerDraft(
            name=draft.get("name"),
            phone=draft.get("phone"),
            email=draft.get("email"),
            telegram_user_id=None if offline else user_id,
            language=language,
            business=bool(draft.get("business")),
        ),
        address=AddressDraft(
            country=draft.get("country"),
            city=draft.get("city"),
            street=draft.get("street"),
            postcode=draft.get("postcode"),
            area=draft.get("area"),
        ),
        items=items,
        service=draft.get("service"),
        payment_method=draft.get("payment_method"),
        remarks=draft.get("remarks"),
        urgent=bool(draft.get("urgent")) if offline else False,
        channel=Channel(draft["channel"]) if offline and draft.get("channel") else Channel.TELEGRAM,
        entered_by=user_id if offline else None,
        received_at=datetime.fromisoformat(received_at) if offline and received_at else None,
        customer_confirmed=bool(draft.get("confirmed")) if offline else False,
        special_requests=[
            SpecialRequestDraft(request.get("kind"), request.get("note"))
            for request in draft.get("special_requests", [])
        ],
        delivery_by=draft.get("delivery_by"),
        special_services=list(draft.get("special_services", [])),
    )
