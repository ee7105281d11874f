"""The words and buttons of changes to a placed order (issue 13, R-6.2), in the reader's language.

What the customer (or customer service for a caller) is offered and refused, the steps of entering
a new address, contact or service, and the answers to the order desk's Apply. The notices the
notification policy sends about a change (the desk's change card, the customer's and the
warehouse's notices) are presentation/change_notices.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from domain.intake.address import country_name
from domain.orders.change_record import ChangeRecord, ChangeStatus
from domain.orders.changes import PriceChange, summary
from domain.orders.model import AuditEvent, Order
from domain.orders.requests import CHANGE_KINDS, ChangeRefusal, OrderRequestKind
from domain.orders.status import Service
from presentation.callbacks import OrderRequest
from presentation.keyboards import N_
from presentation.labels import field
from presentation.render import SERVICE_NAMES, Translate, esc, fit, local_time, money

# The order desk applies an address or contact change within the hour (R-6.2, `modification`).
APPLY_WITHIN = timedelta(hours=1)
# What the customer sends to keep a contact detail as it is.
KEEP = "-"

SERVICE_CODES: Mapping[Service, str] = {
    Service.AIR_FREIGHT: "a",
    Service.SEA_FREIGHT: "s",
    Service.OVERSEAS_WAREHOUSE: "w",
}
SERVICE_BY_CODE: Mapping[str, Service] = {code: service for service, code in SERVICE_CODES.items()}


class ChangeApply(CallbackData, prefix="chg"):
    """The order desk's Apply under a change card."""

    order_id: str
    number: int


class ChangeOffer(CallbackData, prefix="chof"):
    """A customer's order button after "I want to change my order": what it can change."""

    order_id: str


class ServicePick(CallbackData, prefix="chs"):
    """A new service picked for the order (before agreeing to its price); confirm: agreed at amount."""

    order_id: str
    service: str
    # The new amount in cents the customer agrees to (0 while only picking).
    cents: int = 0


class ChangeStep(CallbackData, prefix="chst"):
    """Send or drop the change entered (address or contact)."""

    send: bool


KIND_BUTTONS: Mapping[OrderRequestKind, str] = {
    OrderRequestKind.ADDRESS: N_("✏️ Change address"),
    OrderRequestKind.CONTACT: N_("☎️ Change contact"),
    OrderRequestKind.SERVICE: N_("🔁 Change service"),
}
KIND_NAMES: Mapping[str, str] = {
    OrderRequestKind.ADDRESS.value: N_("delivery address"),
    OrderRequestKind.CONTACT.value: N_("contact details"),
    OrderRequestKind.SERVICE.value: N_("service"),
}
REASONS: Mapping[ChangeRefusal, str] = {
    ChangeRefusal.NOT_PLACED: N_("the order has not been through our review yet"),
    ChangeRefusal.LEFT_WAREHOUSE: N_("the order has left our warehouse"),
    ChangeRefusal.CUSTOMS_STARTED: N_("customs declaration for the order has started"),
    ChangeRefusal.CLOSED: N_("the order is finished"),
    ChangeRefusal.INTERRUPTED: N_("a cancellation or a problem with the order is being handled"),
    ChangeRefusal.ALREADY_WAITING: N_("a change of this already waits for our order desk"),
    ChangeRefusal.NO_QUOTE: N_("we cannot price it here"),
}
FORWARDING = N_(
    "After delivery we can forward the parcel to another address, at a quote: write to customer service."
)
ALTERNATIVES: Mapping[ChangeRefusal, str] = {
    ChangeRefusal.NOT_PLACED: N_("Correct it with “Fix the order”, or cancel it and place it again."),
    ChangeRefusal.LEFT_WAREHOUSE: FORWARDING,
    ChangeRefusal.CUSTOMS_STARTED: FORWARDING,
    ChangeRefusal.CLOSED: N_("Place a new order with /neworder."),
    ChangeRefusal.INTERRUPTED: N_("Customer service contacts you; write to them if it is urgent."),
    ChangeRefusal.ALREADY_WAITING: N_("It is done within the hour, and you are told here."),
    ChangeRefusal.NO_QUOTE: N_("Write to customer service for a quote."),
}
SINCE = N_(" ({time}, by {name})")
SINCE_TIME = N_(" ({time})")
OFFER_TITLE = N_("<b>Order {id}</b>: what would you like to change?")
NOTHING_OFFERED = N_("<b>Order {id}</b> cannot be changed now: {reason}. {alternative}")
OFFER_REFUSED_LINE = N_("• {what}: not now — {reason}.")
PICK_ORDER = N_("Which order would you like to change?")
NO_ORDERS = N_("You have no orders to change. Place one with /neworder.")
USAGE = N_("Usage: /change <reference or number>")
NOT_FOUND = N_("No order with that reference.")
STALE = N_("This button is no longer valid.")
REFUSED = N_("Sorry, the {what} of order {id} cannot be changed: {reason}. {alternative}")

ASK_COUNTRY = N_(
    "New delivery address for order {id} (now: {old}).\nCountry of the destination, e.g. Germany or DE "
    "(send /cancel to stop):"
)
ASK_CITY = N_("City:")
ASK_STREET = N_("Street and house number:")
ASK_POSTCODE = N_("Postcode, e.g. {example}:")
ASK_PHONE = N_(
    "New contact details for order {id}.\nPhone number in international form, e.g. {example} "
    "(now: {old}; send {keep} to keep it):"
)
ASK_EMAIL = N_("Email address (now: {old}; send {keep} to keep it):")
NONE_GIVEN = N_("none")
CONFIRM_TITLE = N_("<b>Change of the {what} of order {id}</b>")
NOW = N_("Now")
NEW = N_("New")
ZONE_REQUOTE = N_(
    "The new destination is priced anew: {before} → {after}; our order desk reviews the order again."
)
DESK_APPLIES = N_("Our order desk applies it within the hour.")
SEND = N_("✅ Send the change")
SEND_FOR_CALLER = N_("✅ The caller agreed: file it")
DROP = N_("✖ Drop it")
DROPPED = N_("Nothing was changed.")
SENT = N_("✅ Your change is with our order desk; it is done by {due}. You are told here.")
SENT_FOR_CALLER = N_(
    "✅ Filed for {customer}, with their consent on the phone; the order desk applies it by {due}."
)
SAME_AS_NOW = N_("That is what the order has already; nothing to change.")

SERVICE_TITLE = N_("Change the service of order {id} (now {service}, {amount}). Choose the new one:")
SERVICE_BUTTON = N_("{service} — {amount}")
SERVICE_CONFIRM = N_("<b>{service} for order {id}</b>")
NEW_PRICE = N_("New price")
PRICE_NOW = N_("Price now")
TO_PAY = N_("You pay the difference of {amount}.")
TO_REFUND = N_("You get {amount} back within 3 working days.")
BACK_TO_REVIEW = N_("The order goes back to our order desk’s review and keeps its number.")
AGREE = N_("✅ Agree and change")
QUOTE_CHANGED = N_("The price has changed in the meantime; here is the new one.")
SERVICE_CHANGED = N_("✅ Changed to {service}.")

APPLIED_BY = N_("✅ Applied — {name}, {time}")
REFUSED_BY = N_("✖ Too late — {reason}")
ALREADY = N_("This change was handled already: {status} — {name}, {time}.")
STATUS_APPLIED = N_("applied")
STATUS_REFUSED = N_("too late")


def shown_values(kind: str, values: Mapping[str, str], t: Translate) -> str:
    """A change's values as people read them: the country by name, the service by its name."""
    if kind == OrderRequestKind.SERVICE.value:
        return t(SERVICE_NAMES[Service(values["service"])])
    if kind == OrderRequestKind.ADDRESS.value:
        parts = {**values, "country": country_name(values.get("country", ""))}
        return esc(summary({name: parts[name] for name in ("street", "city", "area", "postcode", "country")}))
    return esc(summary(values)) or t(NONE_GIVEN)


def since_text(since: AuditEvent | None, names: Mapping[int, str], timezone: str, t: Translate) -> str:
    """ " (10:15, by Wang Wei)": when the order moved on, and who moved it."""
    if since is None:
        return ""
    time = local_time(since.at, timezone)
    name = names.get(since.actor_id) if since.actor_id is not None else None
    return t(SINCE_TIME).format(time=time) if not name else t(SINCE).format(time=time, name=esc(name))


def refusal_text(
    order: Order,
    kind: OrderRequestKind,
    reason: ChangeRefusal,
    t: Translate,
    since: str = "",
) -> str:
    """Why the change is refused, and the alternative."""
    return t(REFUSED).format(
        what=t(KIND_NAMES[kind.value]),
        id=esc(order.display_id),
        reason=t(REASONS[reason]) + since,
        alternative=t(ALTERNATIVES[reason]),
    )


def offer(
    order: Order, refusals: Mapping[OrderRequestKind, ChangeRefusal | None], t: Translate
) -> tuple[str, InlineKeyboardMarkup | None]:
    """The changes the order's stage allows as buttons; the others with their reason."""
    shown = esc(order.display_id)
    allowed = [kind for kind in CHANGE_KINDS if refusals.get(kind) is None]
    if not allowed:
        first = next(reason for reason in refusals.values() if reason is not None)
        text = t(NOTHING_OFFERED).format(
            id=shown, reason=t(REASONS[first]), alternative=t(ALTERNATIVES[first])
        )
        return text, None
    lines = [t(OFFER_TITLE).format(id=shown)]
    for kind, refused in refusals.items():
        if refused is not None:
            lines.append(t(OFFER_REFUSED_LINE).format(what=t(KIND_BUTTONS[kind]), reason=t(REASONS[refused])))
    buttons = [
        [
            InlineKeyboardButton(
                text=t(KIND_BUTTONS[kind]), callback_data=OrderRequest(order_id=order.id, kind=kind).pack()
            )
        ]
        for kind in allowed
    ]
    return fit(lines, t), InlineKeyboardMarkup(inline_keyboard=buttons)


def orders_keyboard(orders: Sequence[Order], t: Translate) -> InlineKeyboardMarkup:
    """One button per order the customer may want to change."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t(N_("Order {id}")).format(id=order.display_id),
                    callback_data=ChangeOffer(order_id=order.id).pack(),
                )
            ]
            for order in orders
        ]
    )


def confirm_text(
    order: Order, kind: OrderRequestKind, new: Mapping[str, str], price: PriceChange | None, t: Translate
) -> str:
    """The change as entered, before it is sent: now and new, and a re-quote when the zone changes."""
    old = {"phone": order.customer.phone or "", "email": order.customer.email or ""}
    if kind is OrderRequestKind.ADDRESS:
        address = order.address
        old = {
            "country": address.country,
            "city": address.city,
            "street": address.street,
            "postcode": address.postcode or "",
            "area": address.area or "",
        }
    lines = [
        t(CONFIRM_TITLE).format(what=t(KIND_NAMES[kind.value]), id=esc(order.display_id)),
        f"{field(t, NOW)}{shown_values(kind.value, old, t)}",
        f"{field(t, NEW)}{shown_values(kind.value, new, t)}",
    ]
    if price is not None:
        lines.append(
            t(ZONE_REQUOTE).format(
                before=money(price.before, order.currency), after=money(price.after, order.currency)
            )
        )
    lines.append(t(DESK_APPLIES))
    return fit(lines, t)


def send_keyboard(staff: bool, t: Translate) -> InlineKeyboardMarkup:
    """Send the change (the caller agreed, for staff) or drop it."""
    send = InlineKeyboardButton(
        text=t(SEND_FOR_CALLER if staff else SEND), callback_data=ChangeStep(send=True).pack()
    )
    drop = InlineKeyboardButton(text=t(DROP), callback_data=ChangeStep(send=False).pack())
    return InlineKeyboardMarkup(inline_keyboard=[[send], [drop]])


def service_choices(
    order: Order, quotes: Mapping[Service, PriceChange], t: Translate
) -> tuple[str, InlineKeyboardMarkup]:
    """The other services with their new price, one button each."""
    text = t(SERVICE_TITLE).format(
        id=esc(order.display_id),
        service=t(SERVICE_NAMES[order.service]),
        amount=money(order.amount, order.currency),
    )
    rows = [
        [
            InlineKeyboardButton(
                text=t(SERVICE_BUTTON).format(
                    service=t(SERVICE_NAMES[service]), amount=f"{price.after} {order.currency}"
                ),
                callback_data=ServicePick(order_id=order.id, service=SERVICE_CODES[service]).pack(),
            )
        ]
        for service, price in quotes.items()
    ]
    return text, InlineKeyboardMarkup(inline_keyboard=rows)


def price_lines(order: Order, price: PriceChange, t: Translate) -> list[str]:
    """New price, price now, and what is paid or refunded."""
    lines = [
        f"{field(t, NEW_PRICE)}{money(price.after, order.currency)}",
        f"{field(t, PRICE_NOW)}{money(price.before, order.currency)}",
    ]
    if price.to_pay:
        lines.append(t(TO_PAY).format(amount=money(price.to_pay, order.currency)))
    if price.to_refund:
        lines.append(t(TO_REFUND).format(amount=money(price.to_refund, order.currency)))
    return lines


def service_confirm(
    order: Order, service: Service, price: PriceChange, t: Translate
) -> tuple[str, InlineKeyboardMarkup]:
    """The new service's price and what it means, with Agree and change."""
    lines = [
        t(SERVICE_CONFIRM).format(service=t(SERVICE_NAMES[service]), id=esc(order.display_id)),
        *price_lines(order, price, t),
        t(BACK_TO_REVIEW),
    ]
    cents = int(price.after * 100)
    agree = InlineKeyboardButton(
        text=t(AGREE),
        callback_data=ServicePick(order_id=order.id, service=SERVICE_CODES[service], cents=cents).pack(),
    )
    drop = InlineKeyboardButton(text=t(DROP), callback_data=ChangeStep(send=False).pack())
    return fit(lines, t), InlineKeyboardMarkup(inline_keyboard=[[agree], [drop]])


def decided_line(record: ChangeRecord, name: str, t: Translate, timezone: str) -> str:
    """The line a decided change card ends with."""
    at = record.decided_at or record.requested_at
    if record.status is ChangeStatus.APPLIED:
        return t(APPLIED_BY).format(name=esc(name), time=local_time(at, timezone))
    return t(REFUSED_BY).format(reason=t(REASONS[ChangeRefusal(record.refusal or "left_warehouse")]))


def already_text(record: ChangeRecord, name: str, t: Translate, timezone: str) -> str:
    """Tells a second press who handled the change, and when."""
    status = STATUS_APPLIED if record.status is ChangeStatus.APPLIED else STATUS_REFUSED
    at = record.decided_at or record.requested_at
    return t(ALREADY).format(status=t(status), name=esc(name), time=local_time(at, timezone))


def due_text(now: datetime, timezone: str) -> str:
    """When a change asked for now is applied at the latest."""
    return local_time(now + APPLY_WITHIN, timezone)
