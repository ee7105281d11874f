"""The rules kept as data for special services, special goods and HS codes (R-3.2, R-4.3, R-4.4; issue 19)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from domain.delivery import expected_delivery_date
from domain.intake.clearance import hs_code_required, special_goods
from domain.intake.drafts import AddressDraft, CustomerDraft, ItemDraft, OrderDraft, check_draft
from domain.intake.requirements import SpecialRequestDraft, check_requirements, requirements_of
from domain.intake.special_services import asks_size, is_oversize, offered, special_services
from domain.orders.model import Item
from domain.orders.special import RequestKind, SpecialService
from domain.orders.status import Service
from domain.review import ReviewPolicy, SecondReviewCause, delivery_check, second_review_reasons
from domain.sla.calendar import BusinessCalendar, Duration
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import SlaPolicyError, load_policy
from tests.review.conftest import make_order

NOW = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
POLICY = ReviewPolicy(threshold=Decimal(10000), currency="CNY", rates={"EUR": Decimal("7.8")})


def line(weight: str = "1", size: tuple[str, str, str] | None = None) -> dict[str, object]:
    """One goods line as a mapping, the way drafts and items are read."""
    sides = dict(zip(("length_cm", "width_cm", "height_cm"), size or (None, None, None), strict=True))
    return {"weight_kg": Decimal(weight), **sides}


@pytest.mark.parametrize(
    ("weight", "size", "oversize"),
    [
        ("29.999", None, False),
        ("30", None, True),
        ("5", ("119", "50", "40"), False),
        # The longest side reaches 120 cm, in whichever order the sides are given.
        ("5", ("40", "120", "50"), True),
        # Girth: 110 + 2 x (50 + 45) = 300 cm.
        ("5", ("110", "50", "45"), True),
        ("5", ("110", "50", "44"), False),
        # A size given only in part says nothing about oversize.
        ("5", ("200", None, None), False),
    ],
)
def test_oversize_follows_from_weight_longest_side_and_girth(
    weight: str, size: tuple[str, str, str] | None, oversize: bool
) -> None:
    assert is_oversize(line(weight, size)) is oversize


def test_the_size_is_asked_from_ten_kilograms_a_piece() -> None:
    assert not asks_size("9.999") and asks_size("10") and asks_size(Decimal(45))
    assert not asks_size(None) and not asks_size("heavy")


def test_the_custom_warehouse_service_is_offered_only_with_the_overseas_warehouse() -> None:
    assert offered(SpecialService.CUSTOM_WAREHOUSE, Service.OVERSEAS_WAREHOUSE)
    assert not offered(SpecialService.CUSTOM_WAREHOUSE, Service.AIR_FREIGHT)
    assert offered(SpecialService.OVERSIZE, Service.SEA_FREIGHT)
    assert special_services([line("45")], []) == {SpecialService.OVERSIZE}
    assert special_services([line("1")], [SpecialService.CUSTOM_WAREHOUSE]) == {
        SpecialService.CUSTOM_WAREHOUSE
    }


@pytest.mark.parametrize(
    "remarks",
    [
        "please call the customer first",
        "customs papers are in the box",
        "custom labelling at the warehouse",
        "超大件，需要叉车",
        "oversize pallet",
    ],
)
def test_remark_words_never_make_a_special_service(remarks: str) -> None:
    order = make_order(service=Service.OVERSEAS_WAREHOUSE, remarks=remarks, amount="100")
    assert second_review_reasons(order, POLICY) == []


def test_chosen_services_and_size_are_second_review_reasons() -> None:
    order = make_order(service=Service.OVERSEAS_WAREHOUSE, amount="100")
    order.items = [
        Item(
            "Sofa",
            1,
            Decimal(20),
            Decimal(500),
            length_cm=Decimal(200),
            width_cm=Decimal(90),
            height_cm=Decimal(80),
        )
    ]
    order.requirements = requirements_of([], None, ["custom_warehouse"])
    causes = [reason.cause for reason in second_review_reasons(order, POLICY)]
    assert causes == [SecondReviewCause.OVERSIZE, SecondReviewCause.CUSTOM_WAREHOUSE]


@pytest.mark.parametrize(
    ("name", "country", "category"),
    [
        ("Green tea 500 g", "DE", "food"),
        ("茶叶礼盒", "US", "food"),
        ("Hand cream", "KR", "cosmetics"),
        ("Digital thermometer", "SG", "medical"),
        ("Wooden toy train", "AU", "plants"),
        # Not special where the list does not say so, and look-alikes are not goods of the category.
        ("Green tea 500 g", "SG", None),
        ("Tea set", "DE", None),
        ("Coffee mug", "US", None),
        ("Wooden toy train", "DE", None),
    ],
)
def test_special_goods_are_found_by_category_and_destination(
    name: str, country: str, category: str | None
) -> None:
    found = special_goods([name], country)
    assert [goods.category for goods in found] == ([category] if category else [])


def test_hs_codes_are_required_of_businesses_where_customs_ask() -> None:
    assert hs_code_required("DE", business=True) and hs_code_required("us", business=True)
    assert not hs_code_required("DE", business=False)
    assert not hs_code_required("SG", business=True)


def test_requests_dates_and_services_are_checked() -> None:
    today = date(2026, 3, 16)
    ok = [SpecialRequestDraft("customs_agent", "Agent Li"), SpecialRequestDraft("other", "call first")]
    assert check_requirements(ok, "2026-04-01", ["oversize"], Service.AIR_FREIGHT, today) == []
    errors = check_requirements(
        [SpecialRequestDraft("gift", "x"), SpecialRequestDraft("other", "bad\x00note")],
        "2026-03-16",
        ["custom_warehouse"],
        Service.SEA_FREIGHT,
        today,
    )
    assert [(e.field, e.code) for e in errors] == [
        ("special_requests[0].kind", "request.kind_unknown"),
        ("special_requests[1].note", "text.control"),
        ("delivery_by", "delivery_by.past"),
        ("special_services[0]", "special_service.not_offered"),
    ]
    built = requirements_of(ok, "2026/04/01", ["oversize"])
    assert built.delivery_by == date(2026, 4, 1)
    assert [r.kind for r in built.special_requests] == [RequestKind.CUSTOMS_AGENT, RequestKind.OTHER]


def test_a_business_draft_without_hs_codes_is_refused_line_by_line() -> None:
    draft = OrderDraft(
        customer=CustomerDraft(name="Li Wei", phone="+8613812345678", telegram_user_id=5, business=True),
        address=AddressDraft("DE", "Berlin", "Unter den Linden 1", "10117"),
        items=[
            ItemDraft("Silk scarf", 2, "0.3", "25", hs_code="6214.10"),
            ItemDraft("Tea set", 1, "1", "40"),
        ],
        service="air_freight",
        payment_method="card",
    )
    assert [(e.field, e.code) for e in check_draft(draft, NOW)] == [
        ("items[1].hs_code", "item.hs_code_required")
    ]


SLA = SlaContext(load_policy(), BusinessCalendar("Asia/Shanghai"))


def test_the_delivery_date_is_checked_against_the_date_the_confirmation_states() -> None:
    order = make_order()
    assert delivery_check(order, NOW, SLA) is None
    # The one expected date (domain/delivery.py): our steps at their limits plus the carrier's transit.
    expected = expected_delivery_date(order.service, order.address.country, NOW, SLA)
    assert expected > NOW.date()
    order.requirements = requirements_of([], expected.isoformat(), [])
    check = delivery_check(order, NOW, SLA)
    assert check is not None and check.expected_on == expected and check.feasible
    order.requirements = requirements_of([], (expected - timedelta(days=1)).isoformat(), [])
    check = delivery_check(order, NOW, SLA)
    assert check is not None and not check.feasible


def test_special_goods_are_expected_later_by_their_longer_clearance() -> None:
    usual = make_order()
    special = make_order(items=[Item("Green tea 500 g", 2, Decimal("1"), Decimal("30"))])
    for order in (usual, special):
        order.requirements = requirements_of([], "2027-01-01", [])
    usual_check, special_check = delivery_check(usual, NOW, SLA), delivery_check(special, NOW, SLA)
    assert usual_check is not None and special_check is not None
    # The policy's 5 days of clearance instead of 48 h: three days later.
    assert special_check.expected_on - usual_check.expected_on == timedelta(days=3)


def test_the_policy_keeps_a_longer_clearance_for_special_goods(tmp_path: Path) -> None:
    shipped = load_policy()
    assert shipped.special_goods_limit("clearance") == Duration(5, "d")
    # Stages without a longer limit keep their own.
    assert shipped.special_goods_limit("picking") == shipped.stage("picking").limit

    site = tmp_path / "sla.toml"
    site.write_text('[special_goods]\nclearance = "7d"\n', encoding="utf-8")
    assert load_policy(site).special_goods_limit("clearance") == Duration(7, "d")
    site.write_text('[special_goods]\nclearence = "7d"\n', encoding="utf-8")
    with pytest.raises(SlaPolicyError, match=r"special_goods\.clearence"):
        load_policy(site)
    site.write_text('[special_goods]\nclearance = "soon"\n', encoding="utf-8")
    with pytest.raises(SlaPolicyError, match=r"special_goods\.clearance"):
        load_policy(site)
