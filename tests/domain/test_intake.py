"""The intake use case (R-1, R-2): checks, quote, the stored order, offline entry limits, review flags."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from application.intake import place_order
from application.ports import UnitOfWork
from domain.clock import FixedClock
from domain.errors import NotPermitted
from domain.intake.drafts import (
    AddressDraft,
    CustomerDraft,
    ItemDraft,
    OrderDraft,
    check_draft,
    describe,
    needs_second_review,
    quote_for,
    second_review_notes,
)
from domain.intake.errors import InvalidInput
from domain.orders.events import Event, OrderStatusChanged
from domain.orders.model import Order
from domain.orders.status import Action, Channel, OrderStatus, Role
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import SlaContext
from domain.sla.policy_file import load_policy
from tests.fakes import FakeDatabase

NOW = datetime(2026, 3, 16, 3, 0, tzinfo=UTC)
DESK = 700
CUSTOMER = 555


def chat_draft(**changes: object) -> OrderDraft:
    """A valid order from the customer's Telegram chat, to Germany by air."""
    draft = OrderDraft(
        customer=CustomerDraft(
            "Li Wei", phone="138 0013 8000", email="Li.Wei@Example.com", telegram_user_id=CUSTOMER
        ),
        address=AddressDraft("Germany", " Berlin ", "Unter den Linden 1", "10117"),
        items=[ItemDraft("Tea set", "2", "1,2 kg", "79.80", sku="TEA-01", fragile=True)],
        service="air_freight",
        payment_method="alipay",
    )
    return replace(draft, **changes)  # type: ignore[arg-type]


def offline_draft(received_ago: timedelta, **changes: object) -> OrderDraft:
    """A valid hotline order received some time ago, confirmed by the customer."""
    offline: dict[str, object] = {
        "channel": Channel.HOTLINE,
        "entered_by": DESK,
        "received_at": NOW - received_ago,
        "customer_confirmed": True,
    }
    return chat_draft(**{**offline, **changes})


@pytest.fixture
def database() -> FakeDatabase:
    """An empty in-memory database with one order-desk clerk."""
    db = FakeDatabase()
    db.state.roles[DESK] = {Role.ORDER_DESK}
    return db


@pytest.fixture
def clock() -> FixedClock:
    """The time of entry."""
    return FixedClock(NOW)


async def test_a_chat_order_is_stored_normalized_and_waits_for_review(
    database: FakeDatabase, clock: FixedClock
) -> None:
    seen: list[tuple[Event, str]] = []

    async def record(event: Event, order: Order, uow: UnitOfWork) -> None:
        seen.append((event, order.reference))

    placed = await place_order(
        database.unit_of_work(), chat_draft(), clock, handlers={OrderStatusChanged: [record]}
    )

    order = database.state.orders[placed.order.id]
    assert database.commits == 1
    assert order.status is OrderStatus.PENDING_REVIEW
    assert order.reference.startswith("R-")
    assert order.customer.phone == "+8613800138000"
    assert order.customer.email == "Li.Wei@example.com"
    assert (order.address.country, order.address.city) == ("DE", "Berlin")
    assert order.items[0].quantity == 2 and order.items[0].weight_kg == Decimal("1.2")
    # 2.4 kg -> 2.5 kg: 85 first kg + 3 steps of 25, plus 2 fragile pieces at 8.
    assert placed.quote.amount == Decimal("176.00") == order.amount
    assert order.currency == "CNY" and not order.paid
    assert order.received_at == NOW and order.entered_by is None
    assert [(e.action, e.actor_id, e.actor_role) for e in order.audit] == [
        ("submit", CUSTOMER, Role.CUSTOMER),
        ("pass_validation", None, Role.SYSTEM),
    ]
    assert order.audit[0].note == "submitted via telegram"
    [(event, reference)] = seen
    assert isinstance(event, OrderStatusChanged) and event.action is Action.PASS_VALIDATION
    assert reference == order.reference
    assert placed.late_by is None and placed.review_flags == ()


async def test_an_invalid_draft_lists_every_problem_and_stores_nothing(
    database: FakeDatabase, clock: FixedClock
) -> None:
    draft = chat_draft(
        customer=CustomerDraft("", phone="1380013800", telegram_user_id=CUSTOMER),
        address=AddressDraft("US", "Springfield", "1 Main St", "ABCDE"),
        items=[ItemDraft("Gunpowder", 0, "heavy", "-1")],
        service="teleport",
        payment_method=None,
    )

    with pytest.raises(InvalidInput) as raised:
        await place_order(database.unit_of_work(), draft, clock)

    assert [(e.field, e.code) for e in raised.value.errors] == [
        ("customer.name", "name.required"),
        ("customer.phone", "phone.cn_mobile_length"),
        ("address.postcode", "postcode.format"),
        ("items[0].name", "goods.prohibited"),
        ("items[0].quantity", "item.quantity_range"),
        ("items[0].weight_kg", "item.weight_invalid"),
        ("items[0].declared_value", "item.value_range"),
        ("service", "service.unknown"),
        ("payment.method", "payment_method.required"),
    ]
    assert database.state.orders == {} and database.commits == 0


async def test_an_amount_that_is_not_the_quote_is_refused_with_the_expected_amount(
    database: FakeDatabase, clock: FixedClock
) -> None:
    with pytest.raises(InvalidInput) as raised:
        await place_order(database.unit_of_work(), chat_draft(amount="175.99", currency="CNY"), clock)

    [error] = raised.value.errors
    assert (error.field, error.code) == ("payment.amount", "amount.mismatch")
    assert "please pay 176.00 CNY" in describe(error)


async def test_the_exact_amount_is_accepted_and_kept_as_paid(
    database: FakeDatabase, clock: FixedClock
) -> None:
    placed = await place_order(
        database.unit_of_work(), chat_draft(amount=176, currency="cny", paid=True), clock
    )

    assert placed.order.amount == Decimal("176.00") and placed.order.paid


async def test_a_chat_order_needs_the_customers_telegram_id(clock: FixedClock) -> None:
    draft = chat_draft(customer=CustomerDraft("Li Wei", phone="13800138000"))

    assert [(e.field, e.code) for e in check_draft(draft, clock.now())] == [
        ("customer.telegram_user_id", "telegram_user_id.required")
    ]


@pytest.mark.parametrize(
    ("received_ago", "urgent", "late_by"),
    [
        (timedelta(minutes=59), False, None),
        (timedelta(hours=1), False, None),
        (timedelta(minutes=61), False, timedelta(minutes=1)),
        (timedelta(hours=3), False, timedelta(hours=2)),
        (timedelta(minutes=29), True, None),
        (timedelta(minutes=30), True, None),
        (timedelta(minutes=31), True, timedelta(minutes=1)),
    ],
)
async def test_offline_entry_after_the_limit_is_recorded_as_late(
    database: FakeDatabase,
    clock: FixedClock,
    received_ago: timedelta,
    urgent: bool,
    late_by: timedelta | None,
) -> None:
    placed = await place_order(database.unit_of_work(), offline_draft(received_ago, urgent=urgent), clock)

    order = placed.order
    assert placed.late_by == late_by
    [entry] = order.clocks
    assert entry.stage == ("entry_urgent" if urgent else "entry")
    assert entry.started_at == NOW - received_ago and entry.finished_at == NOW
    assert entry.met is (late_by is None)
    late_lines = [e for e in order.audit if e.action == "late_entry"]
    if late_by is None:
        assert late_lines == []
    else:
        [line] = late_lines
        assert line.actor_id == DESK and line.actor_role is Role.ORDER_DESK
        limit = "30 min (urgent)" if urgent else "60 min"
        assert (
            line.note
            == f"entered {int(received_ago.total_seconds() // 60)} min after receipt; the limit is {limit}"
        )


async def test_an_offline_order_records_channel_receipt_and_confirmation(
    database: FakeDatabase, clock: FixedClock
) -> None:
    placed = await place_order(
        database.unit_of_work(), offline_draft(timedelta(minutes=20), external_ref="MAIL-7"), clock
    )

    order = placed.order
    assert order.channel is Channel.HOTLINE
    assert order.entered_by == DESK and order.received_at == NOW - timedelta(minutes=20)
    submit = order.audit[0]
    assert (submit.actor_id, submit.actor_role) == (DESK, Role.ORDER_DESK)
    assert submit.note == (
        "submitted via hotline; external ref MAIL-7; received 2026-03-16T02:40+00:00; customer confirmed"
    )


async def test_an_offline_order_needs_clerk_receipt_time_and_confirmation(clock: FixedClock) -> None:
    draft = chat_draft(channel=Channel.SERVICE_POINT)

    errors = check_draft(draft, clock.now())

    assert [(e.field, e.code) for e in errors] == [
        ("entered_by", "offline.entered_by_required"),
        ("received_at", "offline.received_at_required"),
        ("customer_confirmed", "offline.unconfirmed"),
    ]
    assert describe(errors[2]).startswith("customer_confirmed: the customer has not confirmed the order")


async def test_an_offline_order_cannot_be_received_in_the_future(clock: FixedClock) -> None:
    draft = offline_draft(-timedelta(minutes=5))

    [error] = check_draft(draft, clock.now())

    assert describe(error) == (
        "received_at: the time received (2026-03-16T03:05+00:00) is later than now (2026-03-16T03:00+00:00); "
        "please check it"
    )


async def test_only_order_desk_staff_enter_offline_orders(database: FakeDatabase, clock: FixedClock) -> None:
    database.state.roles[800] = {Role.WAREHOUSE}

    with pytest.raises(NotPermitted):
        await place_order(database.unit_of_work(), offline_draft(timedelta(minutes=5), entered_by=800), clock)

    assert database.state.orders == {}


async def test_goods_allowed_only_after_review_are_flagged_for_the_second_review(
    database: FakeDatabase, clock: FixedClock
) -> None:
    items = [ItemDraft("Battery case", 1, 1, 5), ItemDraft("充电宝 20000mAh", 1, "0.4", 30)]

    placed = await place_order(database.unit_of_work(), chat_draft(items=items), clock)

    assert [(flag.field, flag.params["category"]) for flag in placed.review_flags] == [
        ("items[1].name", "lithium_batteries")
    ]
    assert placed.order.status is OrderStatus.PENDING_REVIEW
    assert needs_second_review(placed.order)
    assert second_review_notes(placed.order) == [
        "second review needed (R-3.2): items[1].name '充电宝' (lithium_batteries)"
    ]


async def test_innocent_goods_need_no_second_review(database: FakeDatabase, clock: FixedClock) -> None:
    placed = await place_order(database.unit_of_work(), chat_draft(), clock)

    assert not needs_second_review(placed.order)


def test_dimensions_make_a_bulky_parcel_cost_its_volume() -> None:
    light = chat_draft(items=[ItemDraft("Pillow", 1, "0.5", 10)])
    bulky = chat_draft(items=[ItemDraft("Pillow", 1, "0.5", 10, length_cm=60, width_cm=40, height_cm="25")])

    # 60 x 40 x 25 / 6000 = 10 kg chargeable instead of the first kg.
    assert quote_for(light).amount == Decimal("85.00")
    assert quote_for(bulky).chargeable_weight_kg == Decimal("10.0")
    assert quote_for(bulky).amount == Decimal("535.00")


def test_line_details_are_checked(clock: FixedClock) -> None:
    items = [
        ItemDraft("Pillow", 1, 1, 10, length_cm=60, width_cm=40),
        ItemDraft("Phone", 1, 1, 10, hs_code="85AB", sku="S" * 65, length_cm=0, width_cm="x", height_cm=10),
    ]

    errors = check_draft(chat_draft(items=items), clock.now())

    assert [(e.field, e.code) for e in errors] == [
        ("items[0].length_cm", "item.dimensions_incomplete"),
        ("items[1].length_cm", "item.dimension_invalid"),
        ("items[1].width_cm", "item.dimension_invalid"),
        ("items[1].sku", "item.sku_too_long"),
        ("items[1].hs_code", "item.hs_code_invalid"),
    ]
    assert describe(errors[-1]) == (
        "items[1].hs_code: '85AB' is not an HS code; it has 6 to 10 digits, e.g. 8517.12 or 851712"
    )


def test_a_payment_method_longer_than_its_column_is_refused(clock: FixedClock) -> None:
    [error] = check_draft(chat_draft(payment_method="x" * 33), clock.now())

    assert (error.field, error.code, error.params) == (
        "payment.method",
        "payment_method.too_long",
        {"max": "32"},
    )


def test_quote_for_checks_only_what_the_price_needs() -> None:
    draft = OrderDraft(
        address=AddressDraft("JP"), items=[ItemDraft("Tea", 3, "0.2", 1)], service="sea_freight"
    )

    assert quote_for(draft).amount == Decimal("30.00")
    with pytest.raises(InvalidInput) as raised:
        quote_for(OrderDraft(address=AddressDraft("Narnia"), items=[], service=None))
    assert [e.field for e in raised.value.errors] == ["address.country", "items", "service"]


async def test_with_the_sla_context_the_first_review_clock_starts_at_validation(
    database: FakeDatabase, clock: FixedClock
) -> None:
    sla = SlaContext(load_policy(), BusinessCalendar())

    placed = await place_order(database.unit_of_work(), offline_draft(timedelta(minutes=10)), clock, sla=sla)

    assert [(c.stage, c.started_at, c.due_at, c.running) for c in placed.order.clocks] == [
        ("entry", NOW - timedelta(minutes=10), NOW + timedelta(minutes=50), False),
        ("first_review", NOW, NOW + timedelta(hours=2), True),
    ]


# Issue 11 finding 3: every value the database stores is bounded, checked in the form it is stored in.
@pytest.mark.parametrize("user_id", [0, -1, 2**52, 2**63, 10**30, True])
def test_a_telegram_user_id_must_fit_telegrams_range(clock: FixedClock, user_id: int) -> None:
    customer = CustomerDraft("Li Wei", phone="138 0013 8000", telegram_user_id=user_id)

    [error] = check_draft(chat_draft(customer=customer), clock.now())

    assert (error.field, error.code) == ("customer.telegram_user_id", "telegram_user_id.invalid")
    assert describe(error) == (
        "customer.telegram_user_id: the Telegram user id must be a whole number from 1 to 4503599627370495"
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"external_ref": "SHOP\x00-1"}, "external_ref"),
        ({"items": [ItemDraft("Tea set", 1, 1, 10, sku="TEA\x1b01")]}, "items[0].sku"),
        ({"remarks": "ring\x00twice"}, "remarks"),
        ({"payment_method": "card\x7f"}, "payment.method"),
        ({"currency": "CN\x00Y", "amount": "176.00"}, "payment.currency"),
    ],
)
def test_a_control_character_in_a_stored_identifier_or_text_is_refused(
    clock: FixedClock, changes: dict[str, object], field: str
) -> None:
    errors = check_draft(chat_draft(**changes), clock.now())

    assert [(e.field, e.code) for e in errors] == [(field, "text.control")]


async def test_the_stored_text_is_the_checked_text(database: FakeDatabase, clock: FixedClock) -> None:
    jamo = "\u1100\u1161\u11a8"
    draft = chat_draft(
        address=AddressDraft("Germany", "Berlin", "Unter den Linden 1", "10117", area=jamo * 90),
        payment_method=jamo * 14,
        remarks="  ring" + " " * 4800 + "\n\n twice  ",
    )

    placed = await place_order(database.unit_of_work(), draft, clock)

    order = database.state.orders[placed.order.id]
    assert order.address.area == "각" * 90
    assert order.payment_method == "각" * 14
    assert order.remarks == "ring twice"


def test_a_price_beyond_the_amount_column_is_refused_before_it_is_stored() -> None:
    heavy = [ItemDraft("Steel plates", 10000, "1000", "0") for _ in range(20)]

    with pytest.raises(InvalidInput) as raised:
        quote_for(chat_draft(items=heavy))

    [error] = raised.value.errors
    assert (error.field, error.code) == ("items", "order.total_too_large")
    assert error.params == {"amount": "10000000035.00 CNY", "max": "9,999,999,999.99"}


def test_a_dimension_is_read_by_the_shared_number_parser(clock: FixedClock) -> None:
    items = [ItemDraft("Pillow", 1, 1, 10, length_cm="1e-20000000", width_cm="40", height_cm="1e999999999")]

    errors = check_draft(chat_draft(items=items), clock.now())

    assert [(e.field, e.code) for e in errors] == [
        ("items[0].length_cm", "item.dimension_invalid"),
        ("items[0].height_cm", "item.dimension_invalid"),
    ]
