"""A service change (issue 13, R-6.2): re-quoted, the difference charged or refunded, back to first review."""

from __future__ import annotations

from decimal import Decimal

import pytest

from application.changes import change_service, quote_service
from application.review import ReviewSetup
from domain.finance import OwedReason
from domain.intake.pricing import quote
from domain.orders.change_record import ChangeStatus, Consent
from domain.orders.changes import ChangeRefused, NothingChanged, QuoteChanged
from domain.orders.requests import ChangeRefusal
from domain.orders.status import OrderStatus, Service
from domain.payment import amount_due, awaits_payment
from tests.changes.conftest import CARE, CUSTOMER, DESK_CHAT, Uows, make_order
from tests.fakes import FakeDatabase
from tests.fixtures import load, store


async def test_a_cheaper_service_sends_the_order_back_to_review_and_owes_the_difference(
    new_uow: Uows, database: FakeDatabase, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.PICKED))
    air = order.amount
    sea = quote(Service.SEA_FREIGHT, "DE", order.items).amount

    outcome = await change_service(
        new_uow(), order.id, Service.SEA_FREIGHT, actor=CUSTOMER, setup=setup, expected_amount=sea
    )

    stored = await load(new_uow, order.id)
    assert stored.status is OrderStatus.PENDING_REVIEW
    assert stored.number == "20260316001"
    assert (stored.service, stored.amount, stored.paid, stored.outstanding) == (
        Service.SEA_FREIGHT,
        sea,
        True,
        None,
    )
    assert outcome.price.to_refund == air - sea
    (record,) = stored.changes
    assert (record.old, record.new, record.status) == (
        {"service": "air_freight"},
        {"service": "sea_freight"},
        ChangeStatus.APPLIED,
    )
    assert (record.requested_by, record.consent, record.amount_before, record.amount_after) == (
        CUSTOMER.user_id,
        Consent.IN_CHAT,
        air,
        sea,
    )
    async with new_uow() as uow:
        (owed,) = await uow.finance.for_order(order.id)
    assert (owed.reason, owed.amount) == (OwedReason.PRICE_DIFFERENCE, air - sea)
    # The picking and outbound clocks ended; first review runs again.
    running = {clock.stage for clock in stored.clocks if clock.running}
    assert "outbound" not in running and "first_review" in running
    # The order desk gets the review card again.
    assert DESK_CHAT in {message.chat_id for message in database.outbox_of()}


async def test_a_dearer_service_leaves_the_difference_to_pay_before_review_passes(
    new_uow: Uows, database: FakeDatabase, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.CONFIRMED, service=Service.SEA_FREIGHT))
    sea = order.amount
    air = quote(Service.AIR_FREIGHT, "DE", order.items).amount

    outcome = await change_service(
        new_uow(), order.id, Service.AIR_FREIGHT, actor=CARE, setup=setup, consent_note="caller confirmed"
    )

    stored = await load(new_uow, order.id)
    assert (stored.amount, stored.paid, amount_due(stored)) == (air, False, air - sea)
    assert awaits_payment(stored)
    assert outcome.price.to_pay == air - sea
    assert stored.changes[0].consent is Consent.BY_PHONE
    # The customer is told the difference with the payment flow's Pay now (an invoice for it).
    told = database.outbox_of(CUSTOMER.user_id)[-1].params
    assert "difference" in told["text"] and "pay:" in str(told["reply_markup"])
    assert str(air - sea) in told["text"]


async def test_a_price_the_customer_did_not_see_is_refused(new_uow: Uows, setup: ReviewSetup) -> None:
    order = await store(new_uow, make_order())

    with pytest.raises(QuoteChanged):
        await change_service(
            new_uow(), order.id, Service.SEA_FREIGHT, actor=CUSTOMER, setup=setup, expected_amount=Decimal(1)
        )
    with pytest.raises(NothingChanged):
        await quote_service(new_uow(), order.id, Service.AIR_FREIGHT, actor=CUSTOMER)


async def test_after_outbound_the_service_is_refused_with_who_and_when(
    new_uow: Uows, setup: ReviewSetup
) -> None:
    order = await store(new_uow, make_order(status=OrderStatus.OUTBOUND))

    with pytest.raises(ChangeRefused) as refused:
        await change_service(new_uow(), order.id, Service.SEA_FREIGHT, actor=CUSTOMER, setup=setup)

    assert refused.value.reason is ChangeRefusal.LEFT_WAREHOUSE
    assert refused.value.since is not None and refused.value.since.action == "outbound_scan"
