"""Translated labels (catalog msgids) of stages and departments, and how spans of time read."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping
from datetime import timedelta


def format_span(span: timedelta) -> str:
    """Writes a length of time as 2d 3h 5m (minutes rounded down, at least 0m)."""
    minutes = max(int(span.total_seconds()) // 60, 0)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{days}d"] if days else []
    if hours:
        parts.append(f"{hours}h")
    if minutes or not parts:
        parts.append(f"{minutes}m")
    return " ".join(parts)


def N_(message: str) -> str:
    """Marks a message for the catalogs without translating it (it is translated where shown)."""
    return message


# Refused to anyone pressing or naming an order that is not theirs.
NOT_YOUR_ORDER = N_("This is not your order.")

# English labels (translation msgids) of stages and departments in alerts, /sla and the digest.
STAGE_LABELS: Mapping[str, str] = {
    "entry": N_("offline entry"),
    "entry_urgent": N_("urgent offline entry"),
    "first_review": N_("first review"),
    "second_review": N_("second review"),
    "confirmation": N_("confirmation"),
    "picking": N_("picking"),
    "picking_overseas": N_("overseas picking"),
    "outbound": N_("outbound scan"),
    "booking": N_("booking and customs declaration"),
    "clearance": N_("customs clearance"),
    "last_mile": N_("last-mile start"),
    "customer_notice": N_("customer told of status change"),
    "cancel_check": N_("cancellation check"),
    "cancel_done": N_("cancellation done"),
    "refund": N_("refund"),
    "modification": N_("modification"),
    "delay_cause": N_("delay cause"),
    "delay_notice": N_("delay told to customer"),
    "evidence": N_("damage or loss evidence"),
    "claim_contact": N_("customer contacted about claim"),
    "compensation": N_("compensation paid"),
    "exception_record": N_("exception record"),
    "completion": N_("completion"),
    "survey": N_("follow-up survey"),
    "archive": N_("archive"),
    "customer_reply": N_("answer to a customer's message"),
    "reship": N_("reship of replacement goods"),
}


DEPARTMENT_LABELS: Mapping[str, str] = {
    "order_desk": N_("order desk"),
    "order_desk_head": N_("order desk head"),
    "warehouse": N_("warehouse"),
    "logistics": N_("logistics"),
    "customer_service": N_("customer service"),
    "finance": N_("finance"),
    "management": N_("management"),
}


# Staff words for the trail lines and actions render.ACTION_NAMES does not name (issue 18): every
# action of the transition table and every audit-only line, so no raw value reaches a person.
ACTION_LABELS: Mapping[str, str] = {
    "submit": N_("order received"),
    "late_entry": N_("entered after its time limit"),
    "needs_second_review": N_("needs the head's review"),
    "pick_mismatch": N_("count differs at picking"),
    "staff_correction": N_("corrected by staff"),
    "pick": N_("picked"),
    "outbound_scan": N_("outbound scan"),
    "book": N_("booked with the carrier"),
    "depart": N_("departed"),
    "arrive": N_("arrived"),
    "clear_customs": N_("customs cleared"),
    "hold_at_customs": N_("held by customs"),
    "start_last_mile": N_("out for delivery"),
    "deliver": N_("delivered"),
    "confirm_receipt": N_("receipt confirmed"),
    "complete": N_("complete the order"),
    "archive": N_("archive"),
    "request_cancellation": N_("cancellation requested"),
    "decline_cancellation": N_("cancellation declined"),
    "start_recall": N_("recall started"),
    "confirm_cancellation": N_("cancellation confirmed"),
    "raise_exception": N_("exception raised"),
    "resolve_exception": N_("exception resolved"),
    # Changes to a placed order (issue 13, R-6.2).
    "requote": N_("back to review after a re-quote"),
    "change_address_requested": N_("address change asked for"),
    "change_address_applied": N_("address changed"),
    "change_address_refused": N_("address change too late"),
    "change_contact_requested": N_("contact change asked for"),
    "change_contact_applied": N_("contact changed"),
    "change_contact_refused": N_("contact change too late"),
    "change_service_applied": N_("service changed"),
}
PAYMENT_METHOD_LABELS: Mapping[str, str] = {
    "alipay": N_("Alipay"),
    "wechat_pay": N_("WeChat Pay"),
    "bank_transfer": N_("Bank transfer"),
    "card": N_("Bank card"),
}
CHANNEL_NAMES: Mapping[str, str] = {
    "telegram": N_("Telegram"),
    "platform_api": N_("platform (API)"),
    "hotline": N_("hotline"),
    "service_point": N_("service point"),
    "email": N_("email"),
}


def labelled(labels: Mapping[str, str], value: str, t: Callable[[str], str]) -> str:
    """The translated label of a value; a value with no label (typed by a person) escaped as it is."""
    label = labels.get(value)
    return t(label) if label is not None else html.escape(value, quote=False)


def payment_name(method: str, t: Callable[[str], str]) -> str:
    """The payment method in the reader's words."""
    return labelled(PAYMENT_METHOD_LABELS, method, t)


def channel_name(channel: str, t: Callable[[str], str]) -> str:
    """Where the order came in, in the reader's words."""
    return labelled(CHANNEL_NAMES, channel, t)


def time_left(span: timedelta, t: Callable[[str], str]) -> str:
    """How long is left, or "overdue by ..." once the time is past (never a negative span)."""
    if span < timedelta(0):
        return t(N_("overdue by {span}")).format(span=format_span(-span))
    return t(N_("{span} left")).format(span=format_span(span))


# Who acted, by role, in alerts' "last action" lines: the departments, and the others.
ROLE_LABELS: Mapping[str, str] = {
    **DEPARTMENT_LABELS,
    "admin": N_("administrator"),
    "customer": N_("the customer"),
    "system": N_("the system"),
}


def field(t: Callable[[str], str], msgid: str) -> str:
    """A field's label with its colon as the language writes it ("Status: ", "状态："), issue 18."""
    return with_colon(t, t(msgid))


def with_colon(t: Callable[[str], str], text: str) -> str:
    """A translated text followed by the language's colon."""
    return t(N_("{label}: ")).format(label=text)
