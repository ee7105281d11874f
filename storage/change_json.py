"""The changes of a placed order (R-6.2) as the orders row keeps them: a JSON list, decimals as text."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.orders.change_record import ChangeRecord, ChangeStatus, Consent
from domain.orders.status import Role

_TIMES = ("requested_at", "decided_at")
_AMOUNTS = ("amount_before", "amount_after")


def changes_to_json(changes: list[ChangeRecord]) -> list[dict[str, Any]] | None:
    """Turns the order's changes into JSON (None for an order without changes)."""
    if not changes:
        return None
    result = []
    for record in changes:
        data = asdict(record)
        for name in (*_TIMES, *_AMOUNTS):
            value = data[name]
            data[name] = (
                value.isoformat()
                if isinstance(value, datetime)
                else (str(value) if value is not None else None)
            )
        for name in ("requested_role", "consent", "status"):
            data[name] = data[name].value
        result.append(data)
    return result


def changes_from_json(data: list[dict[str, Any]] | None) -> list[ChangeRecord]:
    """Reads the order's changes back; keys a newer writer added are ignored."""
    records = []
    for entry in data or []:
        known: dict[str, Any] = {
            name: entry.get(name) for name in ChangeRecord.__dataclass_fields__ if name in entry
        }
        for name in _TIMES:
            if known.get(name) is not None:
                known[name] = datetime.fromisoformat(known[name])
        for name in _AMOUNTS:
            if known.get(name) is not None:
                known[name] = Decimal(known[name])
        known["requested_role"] = Role(known["requested_role"])
        known["consent"] = Consent(known["consent"])
        known["status"] = ChangeStatus(known["status"])
        records.append(ChangeRecord(**known))
    return records
