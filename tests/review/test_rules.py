"""The second-review rule and the four-eyes rule (R-3.2)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from domain.orders.model import Item
from domain.orders.status import Action, Role, Service
from domain.review import (
    FourEyesViolation,
    ReviewPolicy,
    SecondReviewCause,
    check_four_eyes,
    parse_threshold,
    second_review_reasons,
)
from tests.review.conftest import T0, make_order

POLICY = ReviewPolicy(threshold=Decimal(10000), currency="CNY", rates={"EUR": Decimal("7.8")})


def causes(**kwargs: Any) -> list[SecondReviewCause]:
    """The causes the rule gives for an order built from kwargs."""
    return [reason.cause for reason in second_review_reasons(make_order(**kwargs), POLICY)]


def test_an_ordinary_order_needs_no_second_review() -> None:
    assert causes() == []


@pytest.mark.parametrize(
    ("amount", "expected"), [("1282.04", []), ("1282.06", [SecondReviewCause.LARGE_AMOUNT])]
)
def test_the_amount_is_compared_with_the_threshold_in_its_currency(
    amount: str, expected: list[SecondReviewCause]
) -> None:
    assert causes(amount=amount) == expected


def test_an_amount_in_a_currency_without_a_rate_goes_to_the_head() -> None:
    reasons = second_review_reasons(make_order(), ReviewPolicy(threshold=Decimal(10000), currency="CNY"))
    assert [(r.cause, r.detail) for r in reasons] == [(SecondReviewCause.UNKNOWN_CURRENCY, "EUR")]


def test_special_services_and_goods_screened_review_are_reasons() -> None:
    heavy = [Item("Marble table", 1, Decimal("45"), Decimal("100"))]
    assert causes(items=heavy) == [SecondReviewCause.OVERSIZE]
    # Remarks are never read for special services (issue 19): they are chosen or follow from the goods.
    assert causes(remarks="超大件，需要叉车") == []
    assert causes(service=Service.OVERSEAS_WAREHOUSE, remarks="custom labelling at the warehouse") == []
    batteries = [Item("Power bank 10000mAh", 3, Decimal("0.3"), Decimal("20"))]
    reasons = second_review_reasons(make_order(items=batteries), POLICY)
    assert [(r.cause, r.detail) for r in reasons] == [(SecondReviewCause.GOODS_REVIEW, "Power bank 10000mAh")]


def test_four_eyes_refuses_the_first_reviewer_and_the_clerk_who_entered_the_order() -> None:
    order = make_order(amount="2000", entered_by=7)
    desk = frozenset({Role.ORDER_DESK_HEAD})
    order.apply(Action.REFER_SECOND_REVIEW, actor_id=5, roles=desk, now=T0)
    with pytest.raises(FourEyesViolation):
        check_four_eyes(order, 5)
    with pytest.raises(FourEyesViolation):
        check_four_eyes(order, 7)
    check_four_eyes(order, 6)


def test_threshold_setting_is_read_with_its_currency() -> None:
    assert parse_threshold("10000 cny") == (Decimal(10000), "CNY")
    with pytest.raises(ValueError):
        parse_threshold("10000")
