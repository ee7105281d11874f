"""Callback-data strings of the buttons the scheduler sends and the handlers answer (<= 64 bytes each).

They carry only ids, never a role: whoever presses a button is checked against the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from presentation.ids import MAX_ROW_ID, parse_id

# Telegram's limit on callback_data.
MAX_CALLBACK_BYTES = 64
SLA_PREFIX = "sa"
SLA_ACKNOWLEDGE = "ack"
SLA_ACKNOWLEDGE_BATCH = "ackb"
SLA_OPEN_ORDER = "open"
_SLA_ACTIONS = frozenset({SLA_ACKNOWLEDGE, SLA_ACKNOWLEDGE_BATCH, SLA_OPEN_ORDER})
# A batch token or an order id (hex, a UUID): what the buttons carry besides alert ids.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,48}")


@dataclass(frozen=True)
class SlaCallback:
    """A pressed SLA button: what to do and with which alert, batch or order."""

    action: str
    value: str

    @property
    def alert_id(self) -> int:
        """The alert id of an Acknowledge button (parse_sla has checked it)."""
        alert_id = parse_id(self.value, MAX_ROW_ID)
        if alert_id is None:
            raise ValueError(f"not an alert id: {self.value!r}")
        return alert_id


def _pack(action: str, value: str) -> str:
    """Joins prefix, action and value, refusing what Telegram would refuse."""
    data = f"{SLA_PREFIX}:{action}:{value}"
    if len(data.encode()) > MAX_CALLBACK_BYTES:
        raise ValueError(f"callback data longer than {MAX_CALLBACK_BYTES} bytes: {data!r}")
    return data


def pack_sla_ack(alert_id: int) -> str:
    """Returns the data of the Acknowledge button of one alert."""
    return _pack(SLA_ACKNOWLEDGE, str(alert_id))


def pack_sla_ack_batch(batch: str) -> str:
    """Returns the data of the Acknowledge button of a digest of merged alerts."""
    return _pack(SLA_ACKNOWLEDGE_BATCH, batch)


def pack_sla_open(order_id: str) -> str:
    """Returns the data of the Open order button."""
    return _pack(SLA_OPEN_ORDER, order_id)


def parse_sla(data: str | None) -> SlaCallback | None:
    """Reads SLA button data; None if it is not one, or is malformed (e.g. an alert id out of range)."""
    if not data:
        return None
    parts = data.split(":", 2)
    if len(parts) != 3 or parts[0] != SLA_PREFIX or parts[1] not in _SLA_ACTIONS:
        return None
    action, value = parts[1], parts[2]
    if action == SLA_ACKNOWLEDGE:
        if parse_id(value, MAX_ROW_ID) is None:
            return None
    elif not _TOKEN.fullmatch(value):
        return None
    return SlaCallback(action, value)
