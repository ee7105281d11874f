"""What the wizard and /offline capture beyond the basics, through the production dispatcher (issue 19).

Quick buttons for a goods line (fragile, SKU, HS code), the size of heavy lines, and from the
preview: shipping as a business, special requests, a delivery date and special services. Each
answer is checked as it arrives; the stored order keeps them (R-3.1, R-3.2, R-4.1, R-4.3).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from domain.orders.special import RequestKind, Requirements, SpecialRequest, SpecialService
from domain.orders.status import Channel, Role
from domain.review import ReviewPolicy, SecondReviewCause, second_review_reasons
from tests.fakes import FakeDatabase
from tests.intake.conftest import (
    Chat,
    ChatFactory,
    answer_air_freight_without_remarks,
    answer_customer_and_address,
    answer_goods_line,
    answer_up_to_preview,
    confirmed_order,
    find_order,
    grant,
    reference_in,
    start_new_order,
    start_offline_order,
)

DESK_ID = 301
POLICY = ReviewPolicy(threshold=Decimal(10000), currency="CNY")


async def add_special_request(chat: Chat, kind: str, note: str) -> None:
    """Presses Special request on the preview, picks the kind and writes its note."""
    await chat.press("➕ Special request")
    await chat.press(kind)
    await chat.send(note)


async def vase_up_to_more_items(chat: ChatFactory) -> Chat:
    """Opens a customer's chat and answers a new order up to "another goods line?" after a porcelain vase."""
    ann = chat()
    await start_new_order(ann)
    await answer_goods_line(ann, "Porcelain vase", quantity="1", weight="2", value="300")
    return ann


async def test_a_line_is_marked_fragile_with_its_sku_and_hs_code_by_quick_buttons(
    chat: ChatFactory, database: FakeDatabase
) -> None:
    ann = await vase_up_to_more_items(chat)

    assert "Is there another goods line" in ann.text
    await ann.press("Mark “Porcelain vase” fragile")
    assert "🔸 Fragile ✓ (press to undo)" in ann.labels()
    await ann.press("🏷 SKU")
    assert "SKU of “Porcelain vase”" in ann.text
    await ann.send("x" * 65)
    assert "the SKU is too long (at most 64 characters)" in ann.text
    await ann.send("VASE-01")
    assert "Is there another goods line" in ann.text
    await ann.press("📑 HS code")
    await ann.send("69-13")
    assert "“69-13” is not an HS code" in ann.text
    await ann.send("6913.10")
    await answer_air_freight_without_remarks(ann)

    assert "Porcelain vase × 1, 2 kg each, declared value 300.00 CNY · fragile · SKU VASE-01 · HS 691310" in (
        ann.text
    )
    assert "Fragile handling, 1 pieces" in ann.text
    order = await confirmed_order(ann, database)
    [item] = order.items
    assert (item.sku, item.fragile, item.hs_code) == ("VASE-01", True, "691310")


async def test_the_fragile_mark_can_be_taken_back(chat: ChatFactory, database: FakeDatabase) -> None:
    ann = await vase_up_to_more_items(chat)
    await ann.press("Mark “Porcelain vase” fragile")
    await ann.press("Fragile ✓")

    assert "🔸 Mark “Porcelain vase” fragile" in ann.labels()
    await answer_air_freight_without_remarks(ann)
    order = await confirmed_order(ann, database)
    assert not order.items[0].fragile


async def test_only_a_heavy_line_is_asked_its_size_and_the_size_is_checked(
    chat: ChatFactory, database: FakeDatabase
) -> None:
    ann = chat()
    await start_new_order(ann)
    for answer in ("Marble table", "1", "45"):
        await ann.send(answer)

    assert "“Marble table” is heavy: its size per piece in cm" in ann.text
    await ann.send("120x80")
    assert "give all three dimensions (length, width, height in cm) or none" in ann.text
    await ann.send("120x0x75")
    assert "a dimension must be a number of cm, more than 0 and at most 1000" in ann.text
    await ann.send("120 × 80 × 75 cm")
    assert "Declared value of the whole line “Marble table”" in ann.text
    await ann.send("900")
    await answer_air_freight_without_remarks(ann)

    assert "120×80×75 cm" in ann.text
    assert "Special services: Oversize cargo (reviewed by the order desk head)" in ann.text
    # Volumetric weight 120 x 80 x 75 / 6000 = 120 kg beats the actual 45 kg.
    assert "Chargeable weight: 120 kg" in ann.text
    order = await confirmed_order(ann, database)
    [item] = order.items
    assert (item.length_cm, item.width_cm, item.height_cm) == (Decimal(120), Decimal(80), Decimal(75))
    assert [r.cause for r in second_review_reasons(order, POLICY)] == [SecondReviewCause.OVERSIZE]


async def test_a_simple_parcel_asks_nothing_more(chat: ChatFactory, database: FakeDatabase) -> None:
    ann = chat()
    await answer_up_to_preview(ann)

    order = await confirmed_order(ann, database)
    assert order.requirements == Requirements()
    assert not order.customer.business
    assert (order.items[0].sku, order.items[0].hs_code, order.items[0].length_cm) == (None, None, None)


async def test_special_requests_delivery_date_and_services_from_the_preview(
    chat: ChatFactory, database: FakeDatabase
) -> None:
    ann = chat()
    await answer_up_to_preview(ann)

    await ann.press("➕ Special request")
    assert "Which special request?" in ann.text
    await ann.press("Named customs agent")
    await ann.send("   ")
    assert "the request needs a note" in ann.text
    await ann.send("Agent Wang <Ltd>, licence 4401")
    assert "Special request: Named customs agent — Agent Wang &lt;Ltd&gt;, licence 4401" in ann.text
    await add_special_request(ann, "Special labels", "Label every carton “Made in China”")

    await ann.press("📅 Delivery date")
    await ann.send("next week")
    assert "this is not a date; please give it as 2026-12-20" in ann.text
    await ann.send("2026-03-02")
    assert "the delivery date must be after today (2026-03-02)" in ann.text
    await ann.send("2026-03-20")
    assert "Delivery by 2026-03-20" in ann.text

    await ann.press("⚙ Special service")
    labels = ann.labels()
    # The custom warehouse service exists only with the overseas-warehouse service.
    assert "☐ Oversize cargo" in labels and not any("Custom overseas-warehouse" in label for label in labels)
    await ann.press("☐ Oversize cargo")
    assert "☑ Oversize cargo" in ann.labels()
    await ann.press("Done")
    assert "Special services: Oversize cargo" in ann.text

    order = await confirmed_order(ann, database)
    assert order.requirements == Requirements(
        special_requests=(
            SpecialRequest(RequestKind.CUSTOMS_AGENT, "Agent Wang <Ltd>, licence 4401"),
            SpecialRequest(RequestKind.SPECIAL_LABELS, "Label every carton “Made in China”"),
        ),
        delivery_by=date(2026, 3, 20),
        special_services=frozenset({SpecialService.OVERSIZE}),
    )
    assert [r.cause for r in second_review_reasons(order, POLICY)] == [SecondReviewCause.OVERSIZE]


async def test_requests_can_be_removed_and_a_date_skipped(chat: ChatFactory, database: FakeDatabase) -> None:
    ann = chat()
    await answer_up_to_preview(ann)
    await add_special_request(ann, "Other request", "Call before delivery")
    await ann.press("➕ Special request")
    await ann.press("Remove all requests")
    await ann.press("📅 Delivery date")
    await ann.press("Skip")

    assert "Please check the order" in ann.text and "Special request:" not in ann.text
    order = await confirmed_order(ann, database)
    assert order.requirements == Requirements()


async def test_the_custom_warehouse_service_is_chosen_with_the_overseas_warehouse(
    chat: ChatFactory, database: FakeDatabase
) -> None:
    ann = chat()
    await start_new_order(ann)
    await answer_goods_line(ann, "Cotton T-shirts", quantity="2", weight="0.5", value="40")
    await ann.press("No, continue")
    await ann.press("Overseas warehouse")
    await ann.press("Alipay")
    await ann.send("please call the customer first")
    await ann.press("⚙ Special service")
    await ann.press("☐ Custom overseas-warehouse service")
    await ann.press("Done")

    order = await confirmed_order(ann, database)
    assert order.remarks == "please call the customer first"
    assert [r.cause for r in second_review_reasons(order, POLICY)] == [SecondReviewCause.CUSTOM_WAREHOUSE]


async def test_a_business_shipping_where_customs_ask_gives_every_line_an_hs_code(
    chat: ChatFactory, database: FakeDatabase
) -> None:
    ann = chat()
    await answer_up_to_preview(ann)
    await ann.press("☐ Shipping as a business")
    assert "Business customer" in ann.text
    assert "☑ Shipping as a business" in ann.labels()

    await ann.press("Confirm order")
    assert "Germany asks for an HS code on every goods line of a business shipment" in ann.text
    assert "HS code of “Cotton T-shirts”" in ann.text
    # The line's HS code is required now: no Skip.
    assert not any("Skip" in label for label in ann.labels())
    await ann.send("6109.10")
    order = await confirmed_order(ann, database)
    assert order.customer.business and order.items[0].hs_code == "610910"


async def test_an_individual_needs_no_hs_code(chat: ChatFactory, database: FakeDatabase) -> None:
    ann = chat()
    await answer_up_to_preview(ann)
    await ann.press("☐ Shipping as a business")
    await ann.press("☑ Shipping as a business")

    order = await confirmed_order(ann, database)
    assert not order.customer.business and order.items[0].hs_code is None


async def test_an_offline_order_takes_the_same_details(chat: ChatFactory, database: FakeDatabase) -> None:
    await grant(database, DESK_ID, Role.ORDER_DESK)
    desk = chat(user_id=DESK_ID, first_name="Desk")
    await start_offline_order(desk, received="09:30", urgent=False)
    await answer_customer_and_address(desk, name="Wang Wei")
    await answer_goods_line(desk, "Glass teapot", quantity="1", weight="0.8", value="120")
    await desk.press("Mark “Glass teapot” fragile")
    await desk.press("🏷 SKU")
    await desk.send("POT-9")
    await answer_air_freight_without_remarks(desk, "Bank transfer")
    await desk.press("📅 Delivery date")
    await desk.send("2026/03/25")
    await desk.press("Customer confirmed the details")
    await desk.press("Submit order")

    assert "is entered and waits for review" in desk.text
    order = await find_order(database, reference_in(desk.text))
    assert order is not None
    assert order.channel is Channel.HOTLINE
    assert (order.items[0].sku, order.items[0].fragile) == ("POT-9", True)
    assert order.requirements.delivery_by == date(2026, 3, 25)


async def test_a_stale_quick_button_is_refused(chat: ChatFactory) -> None:
    ann = await vase_up_to_more_items(chat)
    fragile = ann.button_data("Mark “Porcelain vase” fragile")
    await ann.press("No, continue")

    replies = await ann.press_data(fragile)

    answers = [r for r in replies if r.name == "answerCallbackQuery"]
    assert answers and "earlier question" in str(answers[0].params.get("text"))
    assert "Which service do you need?" in ann.text
