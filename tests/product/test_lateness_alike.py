"""An alert and /order read one overdue step's lateness alike, from the same clock reading (issue 18)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.i18n import PoI18n, create_i18n
from domain.orders.status import OrderStatus, Role
from domain.sla.alerts import AlertKind, DueClock
from domain.sla.policy import Stage
from handlers.orders import staff_card
from presentation.labels import format_span
from presentation.render import translator
from presentation.sla_alerts import SlaAlertTexts, render_with
from tests.storage.factories import make_order

T0 = datetime(2026, 3, 16, 2, tzinfo=UTC)


@pytest.fixture(scope="module")
def i18n() -> PoI18n:
    """The production catalogs."""
    return create_i18n("en")


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("paused", [False, True])
def test_alert_and_order_card_show_the_same_lateness(i18n: PoI18n, language: str, paused: bool) -> None:
    """One order, one overdue picking step: the breach alert and /order say it is late by the same span."""
    order = make_order(status=OrderStatus.CONFIRMED)
    clock = order.open_clock(Stage.PICKING.value, started_at=T0, due_at=T0 + timedelta(hours=4))
    # A fast-forward of a day and a half; a paused clock stands still at its pause (3h 20m late).
    now = T0 + timedelta(days=1, hours=12, minutes=7)
    if paused:
        clock.paused_at = T0 + timedelta(hours=7, minutes=20)
    late = (clock.paused_at or now) - clock.due_at
    due = DueClock(
        clock_id=1,
        order_id=order.id,
        order_ref=order.reference,
        stage=clock.stage,
        started_at=clock.started_at,
        due_at=clock.due_at,
        paused_at=clock.paused_at,
    )
    texts = SlaAlertTexts(
        render_with(lambda msgid, locale: i18n.gettext(msgid, locale=locale)), locale=language
    )
    alert = str(texts.alert(AlertKind.BREACH, due, Role.WAREHOUSE, 1, now).params["text"])
    line = texts.alert_line(AlertKind.BREACH, due, now)
    card = staff_card(
        order, frozenset({Role.WAREHOUSE}), translator(i18n, language), "Asia/Shanghai", now=now
    )
    span = format_span(late)
    assert span in alert
    assert span in line
    assert span in card
    assert card.count(span) == 1
