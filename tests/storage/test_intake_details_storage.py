"""The intake details survive a reload on SQLite and PostgreSQL (migration 0009; issue 19)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal

from application.intake import place_order, resubmit_order
from domain.clock import FixedClock
from domain.intake.drafts import AddressDraft, CustomerDraft, ItemDraft, OrderDraft
from domain.intake.requirements import SpecialRequestDraft
from domain.orders.special import RequestKind, Requirements, SpecialRequest, SpecialService
from domain.orders.status import Action, Role
from storage.uow import SqlUnitOfWork
from tests.api.conftest import T0
from tests.fixtures import grant_roles

CUSTOMER = 5151
DESK = 5252


def draft(**changes: object) -> OrderDraft:
    """A business order to Germany with every detail intake keeps."""
    values: dict[str, object] = {
        "customer": CustomerDraft("Li Wei", phone="+8613812345678", telegram_user_id=CUSTOMER, business=True),
        "address": AddressDraft("DE", "Berlin", "Unter den Linden 1", "10117"),
        "items": [
            ItemDraft(
                "Marble table",
                1,
                "45",
                "900",
                sku="TBL-1",
                fragile=True,
                hs_code="6802.91",
                length_cm="120",
                width_cm="80.5",
                height_cm=75,
            ),
            ItemDraft("Silk scarf", 2, "0.2", "50", hs_code="621410"),
        ],
        "service": "overseas_warehouse",
        "payment_method": "card",
        "special_requests": [
            SpecialRequestDraft("customs_agent", "Agent Wang"),
            SpecialRequestDraft("other", "call first"),
        ],
        "delivery_by": "2026-04-30",
        "special_services": ["custom_warehouse"],
    }
    values.update(changes)
    return OrderDraft(**values)  # type: ignore[arg-type]


async def test_every_detail_is_stored_and_read_back(new_uow: Callable[[], SqlUnitOfWork]) -> None:
    placed = await place_order(new_uow(), draft(), FixedClock(T0))

    async with new_uow() as uow:
        order = await uow.orders.get(placed.order.id)
    table, scarf = order.items
    assert (table.sku, table.fragile, table.hs_code) == ("TBL-1", True, "680291")
    assert (table.length_cm, table.width_cm, table.height_cm) == (Decimal(120), Decimal("80.5"), Decimal(75))
    assert (scarf.hs_code, scarf.length_cm, scarf.fragile) == ("621410", None, False)
    assert order.customer.business
    assert order.requirements == Requirements(
        special_requests=(
            SpecialRequest(RequestKind.CUSTOMS_AGENT, "Agent Wang"),
            SpecialRequest(RequestKind.OTHER, "call first"),
        ),
        delivery_by=date(2026, 4, 30),
        special_services=frozenset({SpecialService.CUSTOM_WAREHOUSE}),
    )


async def test_a_correction_replaces_the_details_and_the_trail_says_what_changed(
    new_uow: Callable[[], SqlUnitOfWork],
) -> None:
    await grant_roles(new_uow, {Role.ORDER_DESK: [DESK]}, at=T0)
    placed = await place_order(new_uow(), draft(), FixedClock(T0))
    async with new_uow() as uow:
        order = await uow.orders.get(placed.order.id)
        order.apply(Action.REJECT, actor_id=DESK, roles=frozenset({Role.ORDER_DESK}), now=T0, note="not paid")
        await uow.commit()

    corrected = draft(special_requests=[], delivery_by=None, special_services=[])
    await resubmit_order(new_uow(), placed.order.id, corrected, FixedClock(T0), actor_id=CUSTOMER)

    async with new_uow() as uow:
        order = await uow.orders.get(placed.order.id)
    assert order.requirements == Requirements()
    [resubmitted] = [event for event in order.audit if event.action == Action.RESUBMIT.value]
    before = "customs_agent: Agent Wang; other: call first; deliver by 2026-04-30; custom_warehouse"
    assert f"requirements: {before} → -" in resubmitted.note
