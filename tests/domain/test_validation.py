"""Automatic validation on entry (R-1.2, R-2.1, R-2.2, R-2.4)."""

import socket
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from domain.intake.countries import CHINESE_NAMES
from domain.intake.errors import FieldError, InvalidInput
from domain.intake.messages import MESSAGES, describe
from domain.intake.validation import (
    WEIGHT_MAX_KG,
    Country,
    check_address,
    check_items,
    clean_text,
    normalize_area,
    normalize_city,
    normalize_customer_name,
    normalize_email,
    normalize_item_name,
    normalize_payment_method,
    normalize_phone,
    normalize_postcode,
    normalize_remarks,
    normalize_street,
    parse_amount,
    parse_country,
    parse_declared_value,
    parse_quantity,
    parse_service,
    parse_weight_kg,
    postcode_required,
    postcode_used,
    read_decimal,
    review_flags,
    validate_order,
)
from domain.orders.model import Address, Customer, Item


def codes(errors: list[FieldError]) -> dict[str, str]:
    """Maps each failed field to its error code."""
    return {e.field: e.code for e in errors}


def only_error(excinfo: pytest.ExceptionInfo[InvalidInput]) -> FieldError:
    """The single error an InvalidInput carries."""
    assert len(excinfo.value.errors) == 1
    return excinfo.value.errors[0]


# Countries (R-2.1: country/region)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("DE", "DE"),
        ("de", "DE"),
        ("DEU", "DE"),
        ("Germany", "DE"),
        ("germany", "DE"),
        ("德国", "DE"),
        ("US", "US"),
        ("USA", "US"),
        ("United States", "US"),
        ("美国", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("英国", "GB"),
        ("日本", "JP"),
        ("France", "FR"),
        ("巴西", "BR"),
        ("阿联酋", "AE"),
        ("United Arab Emirates", "AE"),
        ("中国", "CN"),
        ("South Korea", "KR"),
        ("韩国", "KR"),
        ("俄罗斯", "RU"),
        ("马来西亚", "MY"),
        (" ＤＥ ", "DE"),
    ],
)
def test_country_from_code_english_or_chinese_name(text: str, code: str) -> None:
    assert parse_country(text).code == code


@pytest.mark.parametrize(("code", "names"), sorted(CHINESE_NAMES.items()))
def test_every_chinese_name_reads_back_as_its_country(code: str, names: tuple[str, ...]) -> None:
    for name in names:
        country = parse_country(name)
        assert (country.code, country.name_zh) == (code, names[0])


def test_country_carries_english_and_chinese_names() -> None:
    assert parse_country("de") == Country("DE", "Germany", "德国")
    assert parse_country("Niger").name_zh is None


@pytest.mark.parametrize("text", ["Atlantis", "XX", "火星国"])
def test_unknown_country_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_country(text)

    error = only_error(excinfo)
    assert (error.field, error.code) == ("address.country", "country.unknown")
    assert error.params["text"] == text


def test_ambiguous_country_is_not_guessed() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_country("Korea")

    error = only_error(excinfo)
    assert error.code == "country.ambiguous"
    assert {"KP", "KR"} <= set(error.params["candidates"].split(", "))


def test_missing_country_is_required() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        parse_country("  ")

    assert only_error(excinfo).code == "country.required"


# Phones (R-2.1: a mainland China mobile is 11 digits)


@pytest.mark.parametrize(
    ("text", "country", "e164"),
    [
        ("13812345678", "CN", "+8613812345678"),
        ("138 1234 5678", "CN", "+8613812345678"),
        ("+86 138-1234-5678", None, "+8613812345678"),
        ("008613812345678", None, "+8613812345678"),
        ("+1 415 555 2671", "US", "+14155552671"),
        ("(415) 555-2671", "US", "+14155552671"),
        ("+1 415 555 2671", "DE", "+14155552671"),
        ("030 901820", "DE", "+4930901820"),
        ("+49 1512 3456789", None, "+4915123456789"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("03-1234-5678", "JP", "+81312345678"),
        ("06 12 34 56 78", "FR", "+33612345678"),
        ("11 91234-5678", "BR", "+5511912345678"),
        ("050 123 4567", "AE", "+971501234567"),
    ],
)
def test_valid_phone_is_normalized_to_e164(text: str, country: str | None, e164: str) -> None:
    assert normalize_phone(text, country) == e164


def test_chinese_sender_mobile_is_accepted_for_a_foreign_destination() -> None:
    # The customer is usually the sender in mainland China, the address abroad.
    assert normalize_phone("13812345678", "DE") == "+8613812345678"


@pytest.mark.parametrize(("text", "country"), [("1381234567", "CN"), ("+86 138123456789", None)])
def test_cn_mobile_with_wrong_length_says_so(text: str, country: str | None) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        normalize_phone(text, country)

    error = only_error(excinfo)
    assert error.code == "phone.cn_mobile_length"
    assert error.params["digits"] == str(len(text.replace("+86 ", "")))
    assert error.params["example"].startswith("+86 1")
    assert "11 digits" in describe(error)


@pytest.mark.parametrize(
    ("text", "country", "country_name", "prefix"),
    [
        ("12345", "DE", "Germany", "+49 "),
        ("+49 123", None, "Germany", "+49 "),
        ("555-0000", "US", "United States", "+1 "),
        ("call me", "GB", "United Kingdom", "+44 "),
    ],
)
def test_invalid_phone_gives_an_example_for_the_country(
    text: str, country: str | None, country_name: str, prefix: str
) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        normalize_phone(text, country)

    error = only_error(excinfo)
    assert (error.field, error.code) == ("customer.phone", "phone.invalid")
    assert error.params["country"] == country_name
    assert error.params["example"].startswith(prefix)


def test_phone_error_uses_the_given_field_path() -> None:
    with pytest.raises(InvalidInput) as excinfo:
        normalize_phone("", "CN", field="recipient.phone")

    assert only_error(excinfo) == FieldError("recipient.phone", "phone.required", {})


# Emails


@pytest.mark.parametrize(
    ("text", "normalized"),
    [("li.wei@example.com", "li.wei@example.com"), (" Li.Wei@Example.COM ", "Li.Wei@example.com")],
)
def test_valid_email_is_normalized(text: str, normalized: str) -> None:
    assert normalize_email(text) == normalized


@pytest.mark.parametrize("text", ["li.wei", "li.wei@", "li wei@example.com", "a@b", "a@@example.com"])
def test_invalid_email_is_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        normalize_email(text)

    error = only_error(excinfo)
    assert (error.field, error.code) == ("customer.email", "email.invalid")
    assert error.params["reason"]


# Addresses (R-2.1: country, city, street and the postcode the country requires)


@pytest.mark.parametrize(
    ("country", "postcode"),
    [
        ("DE", "10115"),
        ("US", "94103"),
        ("US", "94103-1234"),
        ("GB", "SW1A 1AA"),
        ("JP", "100-0001"),
        ("FR", "75008"),
        ("BR", "01310-100"),
        ("CN", "100000"),
    ],
)
def test_address_with_valid_postcode_passes(country: str, postcode: str) -> None:
    assert check_address(country, "Some City", "1 Main Street", postcode) == []


@pytest.mark.parametrize(
    ("country", "postcode", "country_name"),
    [
        ("DE", "1011", "Germany"),
        ("US", "9410", "United States"),
        ("BR", "0131-100", "Brazil"),
        ("GB", "123", "United Kingdom"),
    ],
)
def test_postcode_in_wrong_format_gives_an_example(country: str, postcode: str, country_name: str) -> None:
    [error] = check_address(country, "Some City", "1 Main Street", postcode)

    assert (error.field, error.code) == ("address.postcode", "postcode.format")
    assert error.params["country"] == country_name
    assert error.params["postcode"] == postcode
    assert error.params["example"]
    assert country_name in describe(error) and error.params["example"] in describe(error)


@pytest.mark.parametrize("country", ["DE", "US", "GB", "JP", "FR", "BR", "CN"])
def test_missing_postcode_is_refused_where_the_country_requires_one(country: str) -> None:
    [error] = check_address(country, "Some City", "1 Main Street", None)

    assert (error.field, error.code) == ("address.postcode", "postcode.required")
    assert postcode_required(country)
    assert describe(error).startswith("address.postcode: the address has no postcode")


def test_country_without_postcodes_does_not_ask_for_one() -> None:
    assert not postcode_required("AE")
    assert not postcode_used("AE")
    assert check_address("AE", "Dubai", "Sheikh Zayed Road 1", None) == []
    assert check_address("AE", "Dubai", "Sheikh Zayed Road 1", "") == []


def test_optional_postcode_is_checked_when_given() -> None:
    assert not postcode_required("IE")
    assert postcode_used("IE")
    assert check_address("IE", "Dublin", "1 O'Connell Street", None) == []
    assert codes(check_address("IE", "Dublin", "1 O'Connell Street", "12")) == {
        "address.postcode": "postcode.format"
    }


def test_postcode_is_normalized() -> None:
    assert normalize_postcode("GB", " sw1a  1aa ") == "SW1A 1AA"
    assert normalize_postcode("AE", None) is None


def test_state_narrows_the_postcode() -> None:
    assert check_address("US", "San Francisco", "1 Market St", "94103", area="CA") == []
    assert codes(check_address("US", "San Francisco", "1 Market St", "10001", area="CA")) == {
        "address.postcode": "postcode.format"
    }


def test_address_lists_every_problem_at_once() -> None:
    errors = check_address("DE", "", "x" * 201, None)

    assert codes(errors) == {
        "address.postcode": "postcode.required",
        "address.city": "city.required",
        "address.street": "street.too_long",
    }


def test_unknown_country_code_in_address() -> None:
    assert codes(check_address("XX", "Somewhere", "1 Main Street", "12345")) == {
        "address.country": "country.unknown"
    }


@pytest.mark.parametrize(("city", "code"), [("1234", "city.unclear"), ("B", "city.too_short")])
def test_city_must_be_a_name(city: str, code: str) -> None:
    with pytest.raises(InvalidInput) as excinfo:
        normalize_city(city)

    assert only_error(excinfo).code == code


def test_address_rules_need_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("address validation tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)

    assert postcode_required("DE")
    assert codes(check_address("DE", "Berlin", "Unter den Linden 1", "1011")) == {
        "address.postcode": "postcode.format"
    }


# Goods


def item(**overrides: Any) -> dict[str, Any]:
    """A valid goods line, with some fields replaced."""
    return {
        "name": "Cotton T-shirt",
        "quantity": 2,
        "weight_kg": Decimal("0.3"),
        "declared_value": Decimal("50"),
    } | overrides


def test_valid_items_pass() -> None:
    assert (
        check_items([item(), item(name="蓝牙耳机", quantity="1", weight_kg="0.2", declared_value="0")]) == []
    )


def test_no_items_is_an_error() -> None:
    assert codes(check_items([])) == {"items": "items.required"}


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        ({"name": ""}, "items[0].name", "item.name.required"),
        ({"name": "1234-5678"}, "items[0].name", "item.name.unclear"),
        ({"name": "x" * 121}, "items[0].name", "item.name.too_long"),
        ({"name": "Fireworks"}, "items[0].name", "goods.prohibited"),
        ({"name": "管制刀具"}, "items[0].name", "goods.prohibited"),
        ({"quantity": 0}, "items[0].quantity", "item.quantity_range"),
        ({"quantity": 10_001}, "items[0].quantity", "item.quantity_range"),
        ({"quantity": "2.5"}, "items[0].quantity", "item.quantity_integer"),
        ({"quantity": True}, "items[0].quantity", "item.quantity_integer"),
        ({"weight_kg": 0}, "items[0].weight_kg", "item.weight_range"),
        ({"weight_kg": "1000.01"}, "items[0].weight_kg", "item.weight_range"),
        ({"weight_kg": "heavy"}, "items[0].weight_kg", "item.weight_invalid"),
        ({"weight_kg": Decimal("NaN")}, "items[0].weight_kg", "item.weight_invalid"),
        ({"declared_value": "-1"}, "items[0].declared_value", "item.value_range"),
        ({"declared_value": None}, "items[0].declared_value", "item.value_invalid"),
    ],
)
def test_bad_item_field_is_reported_with_its_path(overrides: dict[str, Any], field: str, code: str) -> None:
    assert codes(check_items([item(**overrides)])) == {field: code}


def test_item_errors_name_the_line() -> None:
    errors = check_items([item(), item(quantity=0, name="打火机")])

    assert codes(errors) == {"items[1].name": "goods.prohibited", "items[1].quantity": "item.quantity_range"}
    assert errors[0].params == {"category": "flammables", "matched": "打火机"}
    assert "cannot ship" in describe(errors[0])


def test_goods_needing_review_are_flagged_not_refused() -> None:
    lines = [item(), item(name="锂电池充电宝")]

    assert check_items(lines) == []
    [flag] = review_flags(lines)
    assert (flag.field, flag.code) == ("items[1].name", "goods.needs_review")
    assert flag.params["category"] == "lithium_batteries"


def test_wizard_reads_numbers_as_typed() -> None:
    assert parse_quantity("3") == 3
    assert parse_weight_kg("1,5") == Decimal("1.5")
    assert parse_weight_kg("2 kg") == Decimal(2)
    assert normalize_item_name("  Phone  case ") == "Phone case"


def test_service_is_one_the_company_sells() -> None:
    assert parse_service("Air_Freight").value == "air_freight"
    with pytest.raises(InvalidInput) as excinfo:
        parse_service("rocket")
    assert only_error(excinfo).code == "service.unknown"
    assert "sea_freight" in only_error(excinfo).params["choices"]


# Whole order (HTTP intake API)


def draft(**overrides: Any) -> dict[str, Any]:
    """A valid order draft as the intake API receives it, with some fields replaced."""
    return {
        "customer": {"name": "Li Wei", "phone": "13812345678", "email": "li.wei@example.com"},
        "address": {
            "country": "Germany",
            "city": "Berlin",
            "street": "Unter den Linden 1",
            "postcode": "10115",
        },
        "items": [{"name": "Cotton T-shirt", "quantity": 2, "weight_kg": "0.4", "declared_value": "50"}],
        "service": "air_freight",
        "payment_method": "alipay",
    } | overrides


def test_valid_order_has_no_errors() -> None:
    assert validate_order(draft()) == []


def test_order_lists_every_problem_with_its_path() -> None:
    errors = validate_order(
        draft(
            customer={"name": "", "phone": "1381234567", "email": "li.wei@"},
            address={"country": "DE", "city": "Berlin", "street": "Unter den Linden 1", "postcode": ""},
            items=[{"name": "Fireworks", "quantity": 0, "weight_kg": "0.4", "declared_value": "5"}],
            service="teleport",
            payment_method="",
        )
    )

    assert codes(errors) == {
        "customer.name": "name.required",
        "customer.phone": "phone.cn_mobile_length",
        "customer.email": "email.invalid",
        "address.postcode": "postcode.required",
        "items[0].name": "goods.prohibited",
        "items[0].quantity": "item.quantity_range",
        "service": "service.unknown",
        "payment.method": "payment_method.required",
    }


def test_order_needs_a_phone_or_an_email() -> None:
    assert validate_order(draft(customer={"name": "Li Wei", "email": "li.wei@example.com"})) == []
    assert codes(validate_order(draft(customer={"name": "Li Wei"}))) == {
        "customer.contact": "contact.required"
    }


def test_order_with_unknown_country_still_checks_the_rest() -> None:
    errors = validate_order(draft(address={"country": "Atlantis", "city": "", "street": "1 Main St"}))

    assert codes(errors) == {"address.country": "country.unknown", "address.city": "city.required"}


def test_order_country_without_postcode() -> None:
    address = {"country": "阿联酋", "city": "Dubai", "street": "Sheikh Zayed Road 1"}

    assert validate_order(draft(address=address)) == []


def test_amount_paid_must_match_the_quote() -> None:
    # One 0.8 kg line of 2 pieces = 1.6 kg, air to zone B: 85.00 + 2 x 25.00.
    items = [{"name": "Cotton T-shirt", "quantity": 2, "weight_kg": "0.8", "declared_value": "50"}]

    assert validate_order(draft(items=items, amount="135.00", currency="CNY")) == []
    [error] = validate_order(draft(items=items, amount="130.00", currency="CNY"))
    assert (error.field, error.code) == ("payment.amount", "amount.mismatch")
    assert error.params == {"expected": "135.00 CNY", "got": "130.00 CNY"}
    assert "please pay 135.00 CNY" in describe(error)


def test_order_as_objects_shaped_like_the_model() -> None:
    order = SimpleNamespace(
        customer=Customer(name="Müller GmbH", phone="+49 30 901820"),
        address=Address(country="DE", city="Berlin", street="Unter den Linden 1", postcode="1011"),
        items=[
            Item(name="lithium battery", quantity=1, weight_kg=Decimal("0.5"), declared_value=Decimal(80))
        ],
        service="sea_freight",
        payment_method="bank_transfer",
        remarks="",
    )

    assert codes(validate_order(order)) == {"address.postcode": "postcode.format"}
    assert codes(review_flags(order.items)) == {"items[0].name": "goods.needs_review"}


# Messages (R-2.4: says exactly what is wrong and how to fix it)


def test_describe_names_field_problem_and_fix() -> None:
    error = FieldError("address.postcode", "postcode.required", {"country": "Germany", "example": "10115"})

    assert describe(error) == (
        "address.postcode: the address has no postcode, which Germany requires; please add it, e.g. 10115"
    )


def test_every_error_the_validators_produce_has_a_message() -> None:
    errors = validate_order(
        draft(
            customer={"name": "1", "phone": "12345", "email": "x"},
            address={"country": "Korea", "city": "9", "street": "!!", "area": "x" * 101},
            items=[item(name="", quantity="x", weight_kg="x", declared_value="x"), item(name="vodka")],
            service="",
            payment_method="x" * 41,
            remarks="x" * 501,
        )
    ) + review_flags([item(name="vodka")])

    assert len(errors) >= 10
    for error in errors:
        assert error.code in MESSAGES, error.code
        text = describe(error)
        assert text.startswith(error.field + ": ")
        assert "{" not in text, text


def test_describe_falls_back_for_an_unknown_code() -> None:
    assert describe(FieldError("x.y", "made.up", {})) == "x.y: made.up {}"


@pytest.mark.parametrize(
    ("text", "code"),
    [("12345678901", "item.number_too_large"), ("19.999", "item.too_precise"), ("-1", "item.value_range")],
)
def test_declared_value_must_fit_money_to_the_cent(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_declared_value(text, field="items[2].declared_value")

    [error] = caught.value.errors
    assert (error.field, error.code) == ("items[2].declared_value", code)
    assert describe(error).startswith("items[2].declared_value: ")
    assert "{" not in describe(error)


def test_declared_value_to_the_cent_is_accepted() -> None:
    assert parse_declared_value("9999999999.99") == Decimal("9999999999.99")
    assert parse_declared_value("120.5") == Decimal("120.5")


# Issue 11 findings 3 and 4: one normalisation for the check and for storage, bounded numbers.
@pytest.mark.parametrize("control", ["\x00", "\x07", "\x1b", "\x7f", "\x9b", "\ud800"])
@pytest.mark.parametrize(
    ("check", "field"),
    [
        (normalize_customer_name, "customer.name"),
        (normalize_city, "address.city"),
        (normalize_street, "address.street"),
        (normalize_email, "customer.email"),
        (normalize_item_name, "items[0].name"),
        (normalize_area, "address.area"),
        (normalize_payment_method, "payment.method"),
        (normalize_remarks, "remarks"),
        (parse_country, "address.country"),
        (parse_service, "service"),
    ],
)
def test_a_control_character_is_refused_by_every_text_check(check: Any, field: str, control: str) -> None:
    text = "Anna" + control + "berlin@example.com"
    with pytest.raises(InvalidInput) as caught:
        check(text)

    assert only_error(caught) == FieldError(field, "text.control", {})


def test_a_postcode_with_a_control_character_is_refused() -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_postcode("DE", "101\x0017")

    assert only_error(caught).code == "text.control"


def test_clean_text_folds_and_collapses_what_it_stores() -> None:
    assert clean_text("  Ｂｅｒｌｉｎ \n\t Mitte ", "address.city") == "Berlin Mitte"
    assert clean_text("\u1100\u1161\u11a8" * 3, "address.area") == "각각각"
    assert clean_text(None, "remarks") == ""


@pytest.mark.parametrize(
    ("check", "raw", "stored"),
    [
        (normalize_area, "\u1100\u1161\u11a8" * 90, "각" * 90),
        (normalize_payment_method, "\u1100\u1161\u11a8" * 14, "각" * 14),
        (normalize_remarks, "ring" + " " * 4800 + "\n twice", "ring twice"),
    ],
)
def test_the_checked_value_is_the_stored_value(check: Any, raw: str, stored: str) -> None:
    assert check(raw) == stored


@pytest.mark.parametrize(
    ("check", "text", "code", "limit"),
    [
        (normalize_area, "a" * 101, "area.too_long", "100"),
        (normalize_payment_method, "m" * 33, "payment_method.too_long", "32"),
        (normalize_remarks, "r " * 250 + "r", "remarks.too_long", "500"),
        # NFKC makes 3 characters of each "㍱": 11 fit the limit raw, not as stored.
        (normalize_payment_method, "㍱" * 11, "payment_method.too_long", "32"),
    ],
)
def test_a_length_limit_counts_the_stored_form(check: Any, text: str, code: str, limit: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check(text)

    assert (only_error(caught).code, only_error(caught).params["max"]) == (code, limit)


def test_no_area_and_no_remarks_are_allowed() -> None:
    assert normalize_area(None) is None and normalize_area("  ") is None
    assert normalize_remarks(None) == ""


@pytest.mark.parametrize(
    ("value", "places", "expected"),
    [
        ("1.5", 3, Decimal("1.5")),
        ("1,25 kg", 3, Decimal("1.25")),
        ("１.５", 3, Decimal("1.5")),
        ("1.2500000", 2, Decimal("1.25")),
        ("1e3", 2, Decimal("1000")),
        (1e-1, 3, Decimal("0.1")),
        ("0E-999999999", 2, Decimal(0)),
        ("-0", 2, Decimal(0)),
        (Decimal("7"), 0, Decimal("7")),
    ],
)
def test_read_decimal_returns_a_plain_bounded_number(value: object, places: int, expected: Decimal) -> None:
    number = read_decimal(value, field="x", places=places)

    assert number == expected
    assert number is not None and -places <= int(number.as_tuple().exponent) <= 0


@pytest.mark.parametrize("value", ["1e-20000000", "0.0001", 1e-300, "1.0000000000000000000000000000000001"])
def test_read_decimal_refuses_more_decimals_than_kept(value: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_decimal(value, field="items[0].weight_kg", places=3)

    assert only_error(caught) == FieldError("items[0].weight_kg", "item.too_precise", {"places": "3"})


@pytest.mark.parametrize("value", [None, True, "", "abc", "NaN", "Infinity", "sNaN", "1" * 41, [1], "1e"])
def test_read_decimal_says_none_for_what_is_no_number(value: object) -> None:
    assert read_decimal(value, field="x", places=2) is None


def test_a_huge_exponent_is_left_for_the_range_check_without_expanding_it() -> None:
    number = read_decimal("1e999999999", field="x", places=2)

    assert number is not None and number > WEIGHT_MAX_KG
    with pytest.raises(InvalidInput) as caught:
        parse_weight_kg("1e999999999")
    assert only_error(caught).code == "item.weight_range"


@pytest.mark.parametrize(
    ("parse", "value", "code"),
    [
        (parse_weight_kg, "1e-20000000", "item.too_precise"),
        (parse_weight_kg, "0.0005", "item.too_precise"),
        (parse_declared_value, "1e-20000000", "item.too_precise"),
        (parse_declared_value, "1e999999999", "item.number_too_large"),
        (parse_quantity, "1e-20000000", "item.quantity_integer"),
        (parse_quantity, "2.5", "item.quantity_integer"),
        (parse_quantity, "1e999999999", "item.quantity_range"),
        (parse_amount, "1e-20000000", "item.too_precise"),
        (parse_amount, "lots", "amount.invalid"),
    ],
)
def test_every_number_parser_bounds_digits_and_exponent(parse: Any, value: str, code: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse(value)

    assert only_error(caught).code == code


def test_a_weight_is_kept_to_the_gram() -> None:
    assert parse_weight_kg("0.125") == Decimal("0.125")
    assert parse_quantity("2.0") == 2
    assert parse_amount("201.00") == Decimal("201.00")


def test_an_order_total_beyond_the_amount_column_is_refused() -> None:
    heavy = {"name": "Steel plates", "quantity": 10000, "weight_kg": "1000", "declared_value": "0"}
    order = {
        "customer": {"name": "Anna Schmidt", "email": "anna@example.com"},
        "address": {"country": "DE", "city": "Berlin", "street": "Unter den Linden 1", "postcode": "10117"},
        "items": [dict(heavy) for _ in range(20)],
        "service": "air_freight",
        "payment_method": "card",
        "amount": "1.00",
    }

    [error] = validate_order(order)

    assert (error.field, error.code) == ("items", "order.total_too_large")
    assert error.params["max"] == "9,999,999,999.99"
    assert describe(error).startswith("items: the price of this order (")
