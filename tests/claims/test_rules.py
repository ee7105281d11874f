"""The claim rules (issue 14, R-6.4): evidence, contact, offers and answers; compensation amounts and caps."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest

from domain.claims import claim as rules
from domain.claims.claim import ClaimError, ClaimProblem, Offer, Resolution, claim_of
from domain.claims.compensation import (
    Basis,
    ClaimRules,
    compensation_for,
    discount_for,
    insured_value,
    shipped_rules,
)
from domain.orders.model import Order
from domain.orders.status import ExceptionType, Role
from tests.claims.helpers import CUSTOMER, LOGISTICS_ID, SERVICE_ID, T0, claimed_order

LOG: dict[str, Any] = {"actor_id": LOGISTICS_ID, "role": Role.LOGISTICS}
CS: dict[str, Any] = {"actor_id": SERVICE_ID, "role": Role.CUSTOMER_SERVICE}


def problem(error: pytest.ExceptionInfo[ClaimError]) -> ClaimProblem:
    """The reason a step was refused."""
    return error.value.problem


def with_evidence(order: Order) -> Order:
    """Attaches a photo and one broken tea set, then closes the evidence."""
    rules.add_photo(order, "PHOTO-1", max_photos=10, now=T0, **LOG)
    rules.set_item(order, 0, 1, now=T0, **LOG)
    rules.record_evidence(order, now=T0 + timedelta(minutes=30), **LOG)
    return order


def test_a_claim_is_read_from_the_orders_trail_of_its_current_exception() -> None:
    order = claimed_order()
    assert claim_of(order) is not None and claim_of(order).kind is ExceptionType.DAMAGED  # type: ignore[union-attr]

    rules.add_photo(order, "PHOTO-1", max_photos=10, now=T0, **LOG)
    rules.add_photo(order, "PHOTO-2", max_photos=10, now=T0, **LOG)
    # The same photo sent twice is kept once.
    claim = rules.add_photo(order, "PHOTO-1", max_photos=10, now=T0, **LOG)
    claim = rules.set_item(order, 1, 3, now=T0, **LOG)

    assert claim.photos == ("PHOTO-1", "PHOTO-2")
    assert claim.items == {1: 3}
    assert [line.action for line in order.audit[-3:]] == ["claim_photo", "claim_photo", "claim_item"]


def test_a_customs_hold_is_no_claim() -> None:
    order = claimed_order(ExceptionType.CUSTOMS_HOLD)
    assert claim_of(order) is None
    with pytest.raises(ClaimError) as refused:
        rules.add_photo(order, "PHOTO-1", max_photos=10, now=T0, **LOG)
    assert problem(refused) is ClaimProblem.NO_CLAIM


def test_evidence_needs_a_photo_and_the_affected_goods() -> None:
    order = claimed_order()
    with pytest.raises(ClaimError) as refused:
        rules.record_evidence(order, now=T0, **LOG)
    assert problem(refused) is ClaimProblem.NO_PHOTO
    rules.add_photo(order, "PHOTO-1", max_photos=10, now=T0, **LOG)
    with pytest.raises(ClaimError) as refused:
        rules.record_evidence(order, now=T0, **LOG)
    assert problem(refused) is ClaimProblem.NO_ITEMS
    # Setting a line back to 0 takes it off the claim.
    rules.set_item(order, 0, 2, now=T0, **LOG)
    rules.set_item(order, 0, 0, now=T0, **LOG)
    with pytest.raises(ClaimError):
        rules.record_evidence(order, now=T0, **LOG)


def test_quantities_and_lines_are_checked_and_photos_are_limited() -> None:
    order = claimed_order()
    with pytest.raises(ClaimError) as refused:
        rules.set_item(order, 0, 3, now=T0, **LOG)
    assert (problem(refused), refused.value.detail) == (ClaimProblem.BAD_QUANTITY, "2")
    with pytest.raises(ClaimError) as refused:
        rules.set_item(order, 2, 1, now=T0, **LOG)
    assert (problem(refused), refused.value.detail) == (ClaimProblem.NO_SUCH_LINE, "3")
    rules.add_photo(order, "A", max_photos=2, now=T0, **LOG)
    rules.add_photo(order, "B", max_photos=2, now=T0, **LOG)
    with pytest.raises(ClaimError) as refused:
        rules.add_photo(order, "C", max_photos=2, now=T0, **LOG)
    assert problem(refused) is ClaimProblem.TOO_MANY_PHOTOS
    with pytest.raises(ClaimError) as refused:
        rules.add_photo(order, "has space", max_photos=5, now=T0, **LOG)
    assert problem(refused) is ClaimProblem.BAD_FILE


def test_after_the_evidence_nothing_more_is_attached_and_it_is_recorded_once() -> None:
    order = with_evidence(claimed_order())
    for step in (
        lambda: rules.add_photo(order, "LATE", max_photos=10, now=T0, **LOG),
        lambda: rules.set_item(order, 1, 1, now=T0, **LOG),
        lambda: rules.record_evidence(order, now=T0, **LOG),
    ):
        with pytest.raises(ClaimError) as refused:
            step()
        assert problem(refused) is ClaimProblem.EVIDENCE_CLOSED


def test_contact_comes_after_the_evidence_and_before_any_offer_once() -> None:
    order = claimed_order()
    with pytest.raises(ClaimError) as refused:
        rules.record_contact(order, now=T0, **CS)
    assert problem(refused) is ClaimProblem.NO_EVIDENCE
    with_evidence(order)
    with pytest.raises(ClaimError) as refused:
        rules.offer(order, Offer(Resolution.RESHIP), now=T0, **CS)
    assert problem(refused) is ClaimProblem.NOT_CONTACTED
    claim = rules.record_contact(order, now=T0 + timedelta(minutes=40), **CS)
    assert claim.contacted_by == SERVICE_ID
    with pytest.raises(ClaimError) as refused:
        rules.record_contact(order, now=T0, **CS)
    assert problem(refused) is ClaimProblem.CONTACTED_ALREADY


def test_a_declined_offer_goes_back_to_customer_service_and_a_new_one_replaces_it() -> None:
    order = with_evidence(claimed_order())
    rules.record_contact(order, now=T0, **CS)
    rules.offer(order, Offer(Resolution.DISCOUNT, Decimal("24.58"), 10), now=T0, **CS)
    with pytest.raises(ClaimError) as refused:
        rules.offer(order, Offer(Resolution.RESHIP), now=T0, **CS)
    assert problem(refused) is ClaimProblem.OFFER_OPEN

    declined = rules.answer(order, False, actor_id=CUSTOMER, now=T0)
    assert declined.declined_at == T0 and not declined.open_offer
    with pytest.raises(ClaimError) as refused:
        rules.answer(order, True, actor_id=CUSTOMER, now=T0)
    assert problem(refused) is ClaimProblem.ANSWERED

    again = rules.offer(order, Offer(Resolution.RESHIP), now=T0, **CS)
    assert again.open_offer and again.offer is not None and again.offer.resolution is Resolution.RESHIP
    accepted = rules.answer(order, True, actor_id=CUSTOMER, now=T0)
    assert accepted.reship_pending
    with pytest.raises(ClaimError) as refused:
        rules.offer(order, Offer(Resolution.RESHIP), now=T0, **CS)
    assert problem(refused) is ClaimProblem.OFFER_OPEN


def test_a_reship_is_shipped_once_and_only_when_accepted() -> None:
    order = with_evidence(claimed_order(ExceptionType.WRONG_SHIPMENT))
    rules.record_contact(order, now=T0, **CS)
    rules.offer(order, Offer(Resolution.RESHIP), now=T0, **CS)
    warehouse: dict[str, Any] = {"actor_id": 9, "role": Role.WAREHOUSE}
    with pytest.raises(ClaimError) as refused:
        rules.record_reshipped(order, now=T0, **warehouse)
    assert problem(refused) is ClaimProblem.NOT_RESHIP
    rules.answer(order, True, actor_id=CUSTOMER, now=T0)
    assert rules.record_reshipped(order, now=T0, **warehouse).reshipped_by == 9
    with pytest.raises(ClaimError) as refused:
        rules.record_reshipped(order, now=T0, **warehouse)
    assert problem(refused) is ClaimProblem.RESHIPPED_ALREADY


def test_damaged_goods_are_compensated_at_the_declared_value_of_the_affected_pieces() -> None:
    order = claimed_order()
    rules.set_item(order, 0, 1, now=T0, **LOG)  # one tea set, 39.90 a piece
    rules.set_item(order, 1, 2, now=T0, **LOG)  # two silk scarves, 12.50 a piece
    compensation = compensation_for(order, claim_of(order), shipped_rules())  # type: ignore[arg-type]

    assert (compensation.amount, compensation.basis, compensation.capped) == (
        Decimal("64.90"),
        Basis.DECLARED,
        False,
    )


def test_lost_goods_are_compensated_at_the_orders_declared_value_there_being_no_insurance() -> None:
    order = claimed_order(ExceptionType.LOST)
    claim = claim_of(order)
    assert claim is not None
    compensation = compensation_for(order, claim, shipped_rules())

    # 2 x 39.90 + 5 x 12.50: every line in full. Orders carry no insured value yet.
    assert insured_value(order) is None
    assert (compensation.amount, compensation.basis) == (Decimal("142.30"), Basis.DECLARED)
    assert claim.affected(order) == {0: 2, 1: 5}
    with pytest.raises(ClaimError) as refused:
        rules.set_item(order, 0, 1, now=T0, **LOG)
    assert problem(refused) is ClaimProblem.NOT_FOR_LOST


def test_compensation_is_capped_per_currency_by_the_data() -> None:
    order = claimed_order(ExceptionType.LOST)
    capped = ClaimRules(10, MappingProxyType({"EUR": Decimal("100")}), Decimal("5000"), (10,))
    compensation = compensation_for(order, claim_of(order), capped)  # type: ignore[arg-type]

    assert (compensation.amount, compensation.value, compensation.capped) == (
        Decimal("100"),
        Decimal("142.30"),
        True,
    )
    # The shipped caps: 3000 for euros, 20000 for yuan and any currency not listed.
    assert shipped_rules().cap("EUR") == Decimal("3000")
    assert shipped_rules().cap("JPY") == Decimal("20000")


def test_a_discount_is_one_of_the_offered_shares_of_the_freight() -> None:
    order = claimed_order()
    assert discount_for(order, 20, shipped_rules()) == Decimal("49.16")  # 20 % of 245.80
    with pytest.raises(ClaimError) as refused:
        discount_for(order, 15, shipped_rules())
    assert (problem(refused), refused.value.detail) == (ClaimProblem.BAD_DISCOUNT, "15")
