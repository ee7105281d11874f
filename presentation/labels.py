"""Translated labels (catalog msgids) of stages and departments, and how spans of time read."""

from __future__ import annotations

from collections.abc import Mapping
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
