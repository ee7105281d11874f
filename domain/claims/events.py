"""Domain events of claims (R-6.4), for the notification policy to act on."""

from __future__ import annotations

from dataclasses import dataclass

from domain.claims.claim import ClaimStep
from domain.orders.events import Event


@dataclass(frozen=True)
class ClaimChanged(Event):
    """A claim step was recorded (the evidence closed, the customer contacted, an offer made or answered)."""

    step: ClaimStep
