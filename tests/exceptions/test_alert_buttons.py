"""The case alert's buttons by type (R-6, R-6.4): a claim is closed through its own cards only."""

from __future__ import annotations

import pytest

from domain.orders.status import ExceptionType
from presentation.exception_texts import case_keyboard


def labels(kind: ExceptionType) -> list[str]:
    """The button labels of a case alert of this type, in English."""
    markup = case_keyboard(7, kind, lambda text: text)
    return [] if markup is None else [b.text for row in markup.inline_keyboard for b in row]


@pytest.mark.parametrize("kind", [ExceptionType.DAMAGED, ExceptionType.WRONG_SHIPMENT, ExceptionType.LOST])
def test_a_claim_alert_cannot_be_resolved_before_the_customer_agrees(kind: ExceptionType) -> None:
    assert "✅ Resolved, go on" not in labels(kind)


def test_a_delay_alert_asks_for_the_cause_and_can_be_resolved() -> None:
    assert labels(ExceptionType.DELAY) == ["🔎 Record cause and new time", "✅ Resolved, go on"]


def test_another_exception_can_be_resolved() -> None:
    assert labels(ExceptionType.OTHER) == ["✅ Resolved, go on"]
