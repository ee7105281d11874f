"""The customer's order wizard end to end: the production dispatcher on the fake unit of work (R-1.2)."""

from __future__ import annotations

from decimal import Decimal

from domain.orders.status import Channel, OrderStatus, Service
from tests.fakes import FakeDatabase
from tests.intake.conftest import (
    ChatFactory,
    answer_air_freight,
    answer_goods_line,
    answer_up_to_preview,
    assert_small_order_in,
    change_field,
    confirmed_order,
    orders_of,
    start_new_order,
)


async def test_a_full_order_in_english(chat: ChatFactory, database: FakeDatabase) -> None:
    ann = chat()

    await answer_up_to_preview(ann)

    preview = ann.text
    assert "Please check the order" in preview
    assert_small_order_in(preview)
    assert "Price: 85.00 CNY" in preview
    assert ann.labels() == [
        "✔ Confirm order",
        # What the customer may ask beyond the goods (issue 19).
        "☐ Shipping as a business",
        "➕ Special request",
        "📅 Delivery date",
        "⚙ Special service",
        "« Back",
        "✎ Change a field",
        "✖ Cancel order",
    ]

    order = await confirmed_order(ann, database)

    assert "is placed" in ann.text
    assert "Amount to pay: 85.00 CNY by Alipay (not paid yet)" in ann.text
    assert f"/track {order.reference}" in ann.text
    assert order.status is OrderStatus.PENDING_REVIEW
    assert order.channel is Channel.TELEGRAM
    assert order.customer.name == "Ann Smith"
    assert order.customer.phone == "+4915123456789"
    assert order.customer.email is None
    assert order.customer.telegram_user_id == ann.user_id
    assert (order.address.country, order.address.city, order.address.postcode) == ("DE", "Berlin", "10117")
    assert [(item.name, item.quantity, item.weight_kg) for item in order.items] == [
        ("Cotton T-shirts", 2, Decimal("0.5"))
    ]
    assert order.service is Service.AIR_FREIGHT
    assert (order.amount, order.currency, order.payment_method, order.paid) == (
        Decimal("85.00"),
        "CNY",
        "alipay",
        False,
    )


async def test_a_chinese_user_gets_chinese_questions_and_errors(chat: ChatFactory) -> None:
    li = chat(user_id=101, language_code="zh-hans", first_name="李")

    await li.send("/neworder")
    assert "客户的全名是什么" in li.text
    await li.send("李雷")
    assert "货物寄往哪里" in li.text
    assert "德国" in li.labels()
    await li.send("德国")
    await li.send("13812345678")
    await li.press("跳过")
    await li.send("柏林")
    await li.send("Unter den Linden 1")
    await li.send("1011")

    assert "<b>邮编</b>: “1011”不是德国的邮编格式；请检查，例如 26133。" in li.text
    assert "德国的邮编" in li.text


async def test_invalid_answers_are_explained_and_the_same_question_is_asked_again(chat: ChatFactory) -> None:
    ann = chat()
    await ann.send("/neworder")
    await ann.send("Ann Smith")

    await ann.send("Atlantis")
    assert "<b>Destination country</b>: “Atlantis” is not a country or region we know" in ann.text
    assert "Where do the goods go?" in ann.text
    await ann.send("United States")

    await ann.send("12345")
    assert "<b>Phone</b>: this is not a valid phone number" in ann.text
    await ann.send("13812345")
    assert "a mainland China mobile number has 11 digits, this one has 8" in ann.text
    await ann.send("+1 201 555 0123")
    await ann.press("Skip")
    await ann.send("New York")
    await ann.send("350 Fifth Avenue")

    await ann.send("ABCDE")
    assert "<b>Postcode</b>: “ABCDE” is not a postcode of United States" in ann.text
    assert "Postcode in United States" in ann.text
    await ann.send("10118")

    await ann.send("fireworks")
    assert "<b>Goods 1: name</b>: “firework” counts as explosives, which we cannot ship" in ann.text
    await ann.send("Tea set")

    await ann.send("0")
    assert "<b>Goods 1: quantity</b>: the quantity must be from 1 to 10000." in ann.text
    await ann.send("1")
    await ann.send("heavy")
    assert "<b>Goods 1: weight</b>: the weight must be a number of kilograms" in ann.text
    await ann.send("1.2")
    await ann.send("-5")
    assert "<b>Goods 1: declared value</b>: the declared value cannot be negative." in ann.text
    await ann.send("100")

    assert "Is there another goods line" in ann.text


async def test_a_german_postcode_must_have_five_digits(chat: ChatFactory) -> None:
    ann = chat()
    await start_new_order(ann, postcode=None)

    await ann.send("1011")

    assert "“1011” is not a postcode of Germany; please check it, e.g. 26133." in ann.text
    assert "Postcode in Germany" in ann.text


async def test_a_country_without_postcodes_skips_the_question(chat: ChatFactory) -> None:
    ann = chat()
    await start_new_order(
        ann,
        country="United Arab Emirates",
        phone="+971 50 123 4567",
        city="Dubai",
        street="Sheikh Zayed Road 1",
        postcode=None,
    )

    assert "Goods line 1: what are the goods?" in ann.text


async def test_the_email_is_required_when_the_phone_is_skipped(chat: ChatFactory) -> None:
    ann = chat()
    await ann.send("/neworder")
    await ann.send("Ann Smith")
    await ann.press("Germany")
    await ann.press("Skip")

    assert "Email address" in ann.text
    assert not any("Skip" in label for label in ann.labels())
    await ann.send("not-an-email")
    assert "<b>Email</b>: this is not a valid email address" in ann.text
    await ann.send("ann@example.com")
    assert "City in Germany" in ann.text


async def test_back_returns_to_the_previous_question_and_keeps_the_answers(chat: ChatFactory) -> None:
    ann = chat()
    await ann.send("/neworder")
    await ann.send("Ann Smith")
    await ann.press("Germany")

    await ann.press("Back")
    assert "Where do the goods go?" in ann.text
    assert "Now: <i>Germany</i>" in ann.text
    await ann.press("Back")
    assert "full name" in ann.text
    assert "Now: <i>Ann Smith</i>" in ann.text
    await ann.send("Ann Smith-Jones")

    # The country is still answered, so the wizard goes on where it was.
    assert "Phone number" in ann.text


async def test_an_old_button_is_refused(chat: ChatFactory) -> None:
    ann = chat()
    await ann.send("/neworder")
    await ann.send("Ann Smith")
    old_germany = ann.button_data("Germany")
    await ann.press("Germany")

    requests = await ann.press_data(old_germany)

    assert [request.name for request in requests] == ["answerCallbackQuery"]
    assert "earlier question" in requests[0].params["text"]


async def test_edit_from_the_preview_changes_one_field_and_returns_to_the_preview(
    chat: ChatFactory, database: FakeDatabase
) -> None:
    ann = chat()
    await answer_up_to_preview(ann)

    await ann.press("Change a field")
    assert "Which field do you want to change?" in ann.text
    await ann.press("Service type")
    assert "Which service do you need?" in ann.text
    await ann.press("Sea freight")
    assert "Please check the order" in ann.text
    assert "Sea freight + customs agency" in ann.text
    assert "Price: 45.00 CNY" in ann.text

    await change_field(ann, "Goods 1: Cotton T-shirts", "Goods 1: quantity")
    await ann.send("3")
    assert "Cotton T-shirts × 3" in ann.text
    assert "Price: 57.00 CNY" in ann.text

    await change_field(ann, "Destination country")
    await ann.press("United Kingdom")
    # The German postcode is not a British one, so it is asked again before the preview.
    assert "Postcode in United Kingdom" in ann.text
    await ann.send("sw1a 1aa")
    assert "Please check the order" in ann.text

    order = await confirmed_order(ann, database)
    assert (order.service, order.items[0].quantity, order.address.country, order.address.postcode) == (
        Service.SEA_FREIGHT,
        3,
        "GB",
        "SW1A 1AA",
    )


async def test_another_goods_line_can_be_added_and_removed(chat: ChatFactory) -> None:
    ann = chat()
    await start_new_order(ann)
    await answer_goods_line(ann, "Tea set", quantity="1", weight="1", value="50")
    await ann.press("Add another goods line")
    assert "Goods line 2" in ann.text
    await answer_goods_line(ann, "Power bank 10000mAh", quantity="1", weight="0.3", value="150")
    await answer_air_freight(ann, "Bank transfer")
    await ann.send("Please call before delivery <b>&</b>")

    assert "2. Power bank 10000mAh × 1" in ann.text
    assert "needs a second review before it can ship" in ann.text
    assert "Please call before delivery &lt;b&gt;&amp;&lt;/b&gt;" in ann.text

    await change_field(ann, "Goods 2: Power bank", "Remove this goods line")
    assert "The goods line was removed." in ann.text
    assert "Power bank" not in ann.text


async def test_cancel_throws_the_answers_away(chat: ChatFactory, database: FakeDatabase) -> None:
    ann = chat()
    await answer_up_to_preview(ann)

    await ann.press("Cancel order")

    assert "The order was cancelled; nothing was saved." in ann.text
    assert ann.last_message().decoded("reply_markup")["keyboard"][0][0]["text"] == "New order"
    assert await orders_of(database, ann.user_id) == []
    # The wizard is over: a text is not taken as an answer any more (it goes to a person, issue 18).
    [reply] = await ann.send("Ann Smith")
    assert reply.params["text"].startswith("Customer service")


async def test_a_new_order_button_in_the_main_menu_starts_the_wizard(chat: ChatFactory) -> None:
    ann = chat()
    await ann.send("New order")

    assert "full name" in ann.text


async def test_a_photo_is_not_an_answer(chat: ChatFactory) -> None:
    ann = chat()
    await ann.send("/neworder")

    await ann.send_photo()

    assert "I can only read text here" in ann.text
    assert "full name" in ann.text


async def test_a_button_of_a_finished_wizard_is_answered(chat: ChatFactory) -> None:
    ann = chat()
    await answer_up_to_preview(ann)
    confirm = ann.button_data("Confirm order")
    await ann.press_data(confirm)

    requests = await ann.press_data(confirm)

    assert [request.name for request in requests] == ["answerCallbackQuery"]
    assert "closed" in requests[0].params["text"]
