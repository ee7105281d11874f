"""Texts and keyboards of review cards, customer messages and the order card; user text always escaped."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from application.ports import Outgoing
from domain.errors import DomainError
from domain.intake.pricing import QuoteLine, quote
from domain.intake.screening import Verdict, screen
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus, Service
from domain.review import (
    RejectReason,
    SecondReviewCause,
    SecondReviewReason,
    first_reviewer,
)
from domain.sla.policy_file import load_policy
from presentation.callbacks import CustomerAction, CustomerStep, OrderFix, ReviewAction, ReviewStep
from presentation.keyboards import N_
from presentation.labels import ACTION_LABELS, channel_name, field, payment_name, with_colon

Translate = Callable[[str], str]

# Telegram's limits on a message's text and on a media caption. They count the text after its
# entities are parsed; the HTML source is never shorter, so a source within them always fits.
MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
# Room kept on a card for what is added to it later (who decided, and when).
CARD_LIMIT = MESSAGE_LIMIT - 300
# How many goods lines a card lists, and how much of a free text it repeats; /order shows the rest.
GOODS_SHOWN = 15
TEXT_SHOWN = 300

SERVICE_NAMES: dict[Service, str] = {
    Service.AIR_FREIGHT: N_("International air freight + customs agency"),
    Service.SEA_FREIGHT: N_("International sea freight + customs agency"),
    Service.OVERSEAS_WAREHOUSE: N_("Overseas warehouse dispatch + local delivery"),
}
STATUS_NAMES: dict[OrderStatus, str] = {
    OrderStatus.SUBMITTED: N_("submitted"),
    OrderStatus.VALIDATION_FAILED: N_("needs correction"),
    OrderStatus.PENDING_REVIEW: N_("waiting for review"),
    OrderStatus.PENDING_SECOND_REVIEW: N_("waiting for the head's review"),
    OrderStatus.REJECTED: N_("rejected"),
    OrderStatus.AWAITING_CONFIRMATION: N_("awaiting confirmation"),
    OrderStatus.CONFIRMED: N_("confirmed"),
    OrderStatus.PICKED: N_("picked"),
    OrderStatus.OUTBOUND: N_("left the warehouse"),
    OrderStatus.BOOKED: N_("booked with the carrier"),
    OrderStatus.IN_TRANSIT: N_("in transit"),
    OrderStatus.ARRIVED: N_("arrived in the destination"),
    OrderStatus.CLEARED: N_("cleared customs"),
    OrderStatus.OUT_FOR_DELIVERY: N_("out for delivery"),
    OrderStatus.DELIVERED: N_("delivered"),
    OrderStatus.COMPLETED: N_("completed"),
    OrderStatus.ARCHIVED: N_("archived"),
    OrderStatus.CANCELLATION_REQUESTED: N_("cancellation requested"),
    OrderStatus.RECALL_IN_PROGRESS: N_("being recalled"),
    OrderStatus.CANCELLED: N_("cancelled"),
    OrderStatus.EXCEPTION: N_("exception"),
}
REASON_NAMES: dict[RejectReason, str] = {
    RejectReason.NOT_PAID: N_("Not paid"),
    RejectReason.INCONSISTENT: N_("Information inconsistent"),
    RejectReason.CANNOT_SERVE: N_("Cannot serve"),
    RejectReason.OTHER: N_("Other reason"),
}
REASON_TO_CUSTOMER: dict[RejectReason, str] = {
    RejectReason.NOT_PAID: N_(
        "we have not received your payment yet; please pay and submit the order again."
    ),
    RejectReason.INCONSISTENT: N_("some of the order's information does not match; please check it."),
    RejectReason.CANNOT_SERVE: N_("we cannot provide this service for the order as it stands."),
    RejectReason.OTHER: N_("see the note from our order desk below."),
}
CAUSE_NAMES: dict[SecondReviewCause, str] = {
    SecondReviewCause.LARGE_AMOUNT: N_("large amount (threshold {detail})"),
    SecondReviewCause.UNKNOWN_CURRENCY: N_("amount in {detail}, no rate to compare with the threshold"),
    SecondReviewCause.OVERSIZE: N_("oversize cargo"),
    SecondReviewCause.CUSTOM_WAREHOUSE: N_("custom overseas-warehouse service"),
    SecondReviewCause.GOODS_REVIEW: N_("goods need review: {detail}"),
}
QUOTE_LINE_NAMES: dict[str, str] = {
    "freight.first_weight": N_("Freight, first weight"),
    "freight.additional_weight": N_("Freight, additional weight"),
    "surcharge.fragile": N_("Fragile handling"),
    "surcharge.urgent": N_("Urgent surcharge"),
}
VERDICT_NAMES: dict[Verdict, str] = {
    Verdict.OK: N_("clear"),
    Verdict.REVIEW: N_("needs review"),
    Verdict.BLOCKED: N_("prohibited"),
}
ACTION_NAMES: dict[str, str] = {
    Action.PASS_VALIDATION.value: N_("validation passed"),
    Action.FAIL_VALIDATION.value: N_("validation failed"),
    Action.RESUBMIT.value: N_("resubmitted"),
    Action.APPROVE.value: N_("approved"),
    Action.REFER_SECOND_REVIEW.value: N_("approved, sent to the head"),
    Action.APPROVE_SECOND.value: N_("approved by the head"),
    Action.REJECT.value: N_("rejected"),
    Action.CONFIRM.value: N_("confirmed"),
    Action.CANCEL.value: N_("cancelled"),
    "assign_number": N_("order number given"),
    "ask_customer": N_("question to the customer"),
    "customer_answer": N_("customer answered"),
    "payment_receipt": N_("payment receipt recorded"),
    **ACTION_LABELS,
}
# The execution stages the confirmation promises, in order, per kind of service.
INTERNATIONAL_TIMELINE = (
    ("picking", N_("Picking and packing")),
    ("outbound", N_("Outbound scan")),
    ("booking", N_("Carrier booking and customs declaration")),
    ("clearance", N_("Customs clearance after arrival")),
    ("last_mile", N_("Start of local delivery after clearance")),
)
WAREHOUSE_TIMELINE = (
    ("picking_overseas", N_("Picking and packing")),
    ("outbound", N_("Outbound scan")),
    ("last_mile", N_("Start of local delivery")),
)


class Html(str):
    """Telegram HTML that is safe as it is: escaped text, or markup built from escaped parts."""


class HtmlTemplate(str):
    """A translated message for an HTML message: format() escapes every value that is not Html."""

    def format(self, *args: object, **kwargs: object) -> Html:
        """Fills the placeholders, escaping each value by construction (Html values stay as they are)."""
        safe_args = [_safe(value) for value in args]
        safe_kwargs = {name: _safe(value) for name, value in kwargs.items()}
        return Html(str.format(self, *safe_args, **safe_kwargs))


def _safe(value: object) -> object:
    """Escapes a template value unless it is Html; numbers stay numbers, so format specs still work."""
    if isinstance(value, Html | int | float | Decimal) and not isinstance(value, bool):
        return value
    return esc(value)


def translator(i18n: I18n, locale: str) -> Translate:
    """Returns a function translating msgids into the locale, as templates that escape their values."""
    return lambda message: HtmlTemplate(i18n.gettext(message, locale=locale))


def translator_or_default(i18n: I18n, locale: str | None) -> Translate:
    """The translator of a locale the bot speaks, else of the default one."""
    return translator(i18n, locale if locale in i18n.available_locales else i18n.default_locale)


def esc(text: object) -> Html:
    """Escapes user-supplied text for Telegram HTML."""
    return Html(html.escape(str(text), quote=False))


def local_time(moment: datetime, timezone: str) -> str:
    """Formats a moment in the company's time zone."""
    return moment.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")


def duration(delta: timedelta) -> str:
    """Formats a duration as e.g. '1h 05m' ('-0h 10m' when late)."""
    sign = "-" if delta < timedelta(0) else ""
    minutes = int(abs(delta).total_seconds() // 60)
    return f"{sign}{minutes // 60}h {minutes % 60:02d}m"


def money(amount: Decimal, currency: str) -> Html:
    """Formats an amount with its currency."""
    return Html(f"{amount:.2f} {esc(currency)}")


def goods_lines(order: Order, t: Translate | None = None) -> list[str]:
    """Lists the goods, one escaped line per item; given a translator, the first GOODS_SHOWN and a count."""
    lines = [
        f"• {esc(item.name)} × {item.quantity}, {item.weight_kg} kg, "
        f"{money(item.declared_value, order.currency)}"
        for item in order.items
    ]
    return lines if t is None else shown_lines(lines, GOODS_SHOWN, t)


def shown_lines(lines: Sequence[str], shown: int, t: Translate) -> list[str]:
    """The first lines of a list, and how many more there are when it is longer."""
    if len(lines) <= shown:
        return list(lines)
    rest = len(lines) - shown
    return [*lines[:shown], t(N_("… and {count} more (see /order)")).format(count=rest)]


def one_line(text: str, limit: int = TEXT_SHOWN) -> str:
    """User text on one line, white space folded, cut to limit with an ellipsis (not escaped)."""
    folded = " ".join(text.split())
    return folded if len(folded) <= limit else folded[: limit - 1] + "…"


def fit(lines: Sequence[str], t: Translate, *, limit: int = MESSAGE_LIMIT) -> str:
    """Joins lines into one message within the limit; whole lines that do not fit are counted instead."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    # Lines are cut whole, so no HTML tag is ever split; the count line says what was left out.
    room = limit - len(t(N_("… {count} more lines not shown")).format(count=len(lines))) - 1
    kept: list[str] = []
    used = 0
    for line in lines:
        if used + len(line) + 1 > room:
            break
        kept.append(line)
        used += len(line) + 1
    left_out = t(N_("… {count} more lines not shown")).format(count=len(lines) - len(kept))
    return "\n".join([*kept, left_out])


def route(order: Order) -> str:
    """Describes where the goods go."""
    address = order.address
    parts = [address.street, address.city, address.area or "", address.postcode or "", address.country]
    return esc(", ".join(part for part in parts if part))


def screening_verdict(order: Order) -> Verdict:
    """The worst screening verdict over the order's goods."""
    worst = Verdict.OK
    for item in order.items:
        verdict = screen(item.name).verdict
        if verdict.severity > worst.severity:
            worst = verdict
    return worst


def order_summary(order: Order, t: Translate) -> list[str]:
    """The lines every card shows: customer, route, goods, service, amount, payment, channel, remarks."""
    customer = order.customer
    contact = ", ".join(esc(value) for value in (customer.phone, customer.email) if value)
    lines = [
        f"{field(t, N_('Customer'))}{esc(customer.name)}" + (f" ({contact})" if contact else ""),
        f"{field(t, N_('Destination'))}{route(order)}",
        f"{field(t, N_('Service'))}{t(SERVICE_NAMES[order.service])}",
        field(t, N_("Goods")).rstrip(),
        *goods_lines(order, t),
        f"{field(t, N_('Amount'))}{money(order.amount, order.currency)} "
        f"({payment_name(order.payment_method, t)}, "
        + (t(N_("paid")) if order.paid else t(N_("not paid")))
        + ")",
        f"{field(t, N_('Channel'))}{channel_name(order.channel, t)}"
        + (f" · {t(N_('urgent'))}" if order.urgent else ""),
        f"{field(t, N_('Screening'))}{t(VERDICT_NAMES[screening_verdict(order)])}",
    ]
    if order.remarks:
        lines.append(f"{field(t, N_('Remarks'))}{esc(one_line(order.remarks))}")
    return lines


def reason_lines(reasons: Sequence[SecondReviewReason], t: Translate) -> list[str]:
    """Words the second-review reasons."""
    return [f"• {t(CAUSE_NAMES[reason.cause]).format(detail=esc(reason.detail))}" for reason in reasons]


def review_keyboard(order_id: str, stage: int, t: Translate) -> InlineKeyboardMarkup:
    """Approve / Reject / Ask customer."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t(N_("Approve")),
                    callback_data=ReviewAction(
                        order_id=order_id, action=ReviewStep.APPROVE, stage=stage
                    ).pack(),
                ),
                InlineKeyboardButton(
                    text=t(N_("Reject")),
                    callback_data=ReviewAction(
                        order_id=order_id, action=ReviewStep.REJECT, stage=stage
                    ).pack(),
                ),
            ],
            [
                InlineKeyboardButton(
                    text=t(N_("Ask customer")),
                    callback_data=ReviewAction(order_id=order_id, action=ReviewStep.ASK, stage=stage).pack(),
                )
            ],
        ]
    )


def reason_keyboard(order_id: str, stage: int, t: Translate) -> InlineKeyboardMarkup:
    """The reason picker of Reject, with Back."""
    steps = (ReviewStep.NOT_PAID, ReviewStep.INCONSISTENT, ReviewStep.CANNOT_SERVE, ReviewStep.OTHER)
    names = dict(zip(steps, REASON_NAMES.values(), strict=True))
    rows = [
        [
            InlineKeyboardButton(
                text=t(names[step]),
                callback_data=ReviewAction(order_id=order_id, action=step, stage=stage).pack(),
            )
        ]
        for step in steps
    ]
    rows.append(
        [
            InlineKeyboardButton(
                text=t(N_("Back")),
                callback_data=ReviewAction(order_id=order_id, action=ReviewStep.BACK, stage=stage).pack(),
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


def keyboard_json(markup: InlineKeyboardMarkup) -> dict[str, Any]:
    """Turns a keyboard into the JSON an outbox row stores."""
    return markup.model_dump(mode="json", exclude_none=True)


def html_message(text: str, markup: InlineKeyboardMarkup | None = None) -> Outgoing:
    """A sendMessage in HTML, with buttons when given."""
    params: dict[str, Any] = {"text": text, "parse_mode": "HTML"}
    if markup is not None:
        params["reply_markup"] = keyboard_json(markup)
    return Outgoing("sendMessage", params)


def review_card_text(
    order: Order,
    reasons: Sequence[SecondReviewReason],
    *,
    second: bool,
    t: Translate,
    details: Sequence[str] = (),
    names: Mapping[int, str] | None = None,
) -> str:
    """The review card: title, summary, what intake captured for review and why the head must review."""
    title = t(N_("Second review (order desk head)")) if second else t(N_("Review"))
    lines = [f"<b>{with_colon(t, title)}{esc(order.display_id)}</b>", *order_summary(order, t), *details]
    if reasons:
        lines += ["", f"<b>{field(t, N_('Needs the head’s review')).rstrip()}</b>", *reason_lines(reasons, t)]
    if second and (reviewer := first_reviewer(order)) is not None:
        lines.append(f"{field(t, N_('First review passed by'))}{person(reviewer, names, t)}")
    return fit(lines, t, limit=CARD_LIMIT)


def fee_lines(order: Order, t: Translate) -> list[str]:
    """The fee breakdown from the tariff when it prices the order in its currency, else the total."""
    try:
        priced = quote(order.service, order.address.country, order.items, urgent=order.urgent)
    except (DomainError, KeyError, ValueError):
        priced = None
    lines: list[QuoteLine] = priced.breakdown if priced and priced.currency == order.currency else []
    result = [
        f"• {t(QUOTE_LINE_NAMES.get(line.code, line.code))}: {money(line.amount, order.currency)}"
        for line in lines
    ]
    result.append(f"<b>{field(t, N_('Total'))}{money(order.amount, order.currency)}</b>")
    return result


def timeline_lines(order: Order, t: Translate) -> list[str]:
    """The expected time of each execution stage, from the SLA policy (R-3.3)."""
    policy = load_policy()
    stages = INTERNATIONAL_TIMELINE if order.service.international else WAREHOUSE_TIMELINE
    lines = [
        f"• {field(t, label)}{t(N_('within {limit}')).format(limit=policy.stage(key).limit)}"
        for key, label in stages
    ]
    if order.service.international:
        lines.insert(3, f"• {t(N_('Transit: as scheduled by the carrier; we tell you the departure'))}")
    return lines


def confirmation_text(order: Order, t: Translate, notices: Sequence[str] = ()) -> str:
    """The order confirmation message (R-3.3), with notices told in advance (longer clearance, R-4.4)."""
    lines = [
        f"<b>{t(N_('Your order is confirmed'))}</b>",
        f"{field(t, N_('Order number'))}<b>{esc(order.number or '')}</b>",
        # Customer, destination, service, the goods heading and every goods line, not only the first.
        *order_summary(order, t)[:4],
        *goods_lines(order),
        "",
        f"<b>{t(N_('Fees'))}</b>",
        *fee_lines(order, t),
        "",
        f"<b>{t(N_('Expected timeline'))}</b>",
        *timeline_lines(order, t),
        *notices,
        "",
        t(N_("Track it any time: send /track {number} or open “My orders”.")).format(
            number=esc(order.number or "")
        ),
    ]
    return fit(lines, t)


def rejection_text(order: Order, reason: RejectReason, note: str, t: Translate) -> str:
    """Tells the customer why the order was not accepted and what to do."""
    lines = [
        f"<b>{t(N_('Your order {reference} was not accepted')).format(reference=esc(order.reference))}</b>",
        f"{field(t, N_('Reason'))}{t(REASON_NAMES[reason])} — {t(REASON_TO_CUSTOMER[reason])}",
    ]
    if note:
        lines.append(f"{field(t, N_('Note from the order desk'))}{esc(one_line(note, 1000))}")
    lines.append(t(N_("You can fix the order and send it again, or cancel it.")))
    return fit(lines, t)


def rejection_keyboard(order: Order, reason: RejectReason, t: Translate) -> InlineKeyboardMarkup:
    """Fix (back into the wizard) or Cancel."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t(N_("Fix the order")),
                    callback_data=OrderFix(order_id=order.id, field=reason.fix_field).pack(),
                ),
                InlineKeyboardButton(
                    text=t(N_("Cancel the order")),
                    callback_data=CustomerAction(order_id=order.id, action=CustomerStep.CANCEL).pack(),
                ),
            ]
        ]
    )


def decided_text(card_text: str, verdict: str, name: str, at: datetime, timezone: str) -> str:
    """The card's text after a decision: who did what, and when."""
    return f"{card_text}\n\n<b>{esc(verdict)}</b> — {esc(name)}, {local_time(at, timezone)}"


def timeline(order: Order, t: Translate, timezone: str, names: Mapping[int, str] | None = None) -> list[str]:
    """The order's audit trail, one line per event, people by name."""
    lines = []
    for event in order.audit:
        what = t(ACTION_NAMES[event.action]) if event.action in ACTION_NAMES else esc(event.action)
        who = f" — {person(event.actor_id, names, t)}" if event.actor_id is not None else ""
        # The system's own notes are internal English (rule names, field paths): only people's are shown.
        shown = event.note and event.actor_id is not None
        note = f": {esc(one_line(event.note, 200))}" if shown else ""
        lines.append(f"• {local_time(event.at, timezone)} {what}{who}{note}")
    return lines


def person(user_id: int, names: Mapping[int, str] | None, t: Translate) -> str:
    """A staff member by the name they last acted under; one never seen is "a staff member"."""
    name = (names or {}).get(user_id)
    return esc(name) if name else t(N_("a staff member"))
