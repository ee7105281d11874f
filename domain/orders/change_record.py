"""One change to a placed order as the aggregate keeps it (R-6.2): what, old and new, who, when, consent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from domain.orders.status import Role


class ChangeStatus(StrEnum):
    """Where a change stands: waiting for the order desk, applied, or refused (too late)."""

    PENDING = "pending"
    APPLIED = "applied"
    REFUSED = "refused"


class Consent(StrEnum):
    """How the customer agreed to the change (R-1.4): they asked in the chat, or on the phone to staff."""

    IN_CHAT = "in_chat"
    BY_PHONE = "by_phone"


@dataclass
class ChangeRecord:
    """A change request of an order and its outcome; the values are the fields' text, old and new."""

    number: int
    kind: str
    old: dict[str, str]
    new: dict[str, str]
    requested_by: int | None
    requested_role: Role
    requested_at: datetime
    consent: Consent
    status: ChangeStatus = ChangeStatus.PENDING
    # Who recorded the customer's consent on the phone, and what they noted (hotline changes).
    consent_note: str = ""
    decided_by: int | None = None
    decided_at: datetime | None = None
    # Why a pending change was refused when the order desk came to apply it (ChangeRefusal value).
    refusal: str | None = None
    amount_before: Decimal | None = None
    amount_after: Decimal | None = None
    extra: dict[str, str] = field(default_factory=dict)
