"""Domain events of the after-sales flows, for the notification policy to act on (R-7)."""

from __future__ import annotations

from dataclasses import dataclass

from domain.orders.events import Event


@dataclass(frozen=True)
class SurveySent(Event):
    """Customer service's follow-up survey (or its one reminder) goes to the customer (R-7.2)."""

    token: str
    reminder: bool = False


@dataclass(frozen=True)
class ComplaintRaised(Event):
    """A survey answer is a complaint: a low rating or a comment the customer marked as one (R-7.2)."""

    rating: int
    comment: str | None
    marked: bool


@dataclass(frozen=True)
class ProblemReported(Event):
    """The customer reported a problem with a delivered order instead of confirming receipt (R-7.1)."""
