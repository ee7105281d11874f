"""Quotes from the tariff and the amount-paid check (R-2.3)."""

from decimal import Decimal
from typing import Any

import pytest

from domain.intake.pricing import Quote, Tariff, check_payment, load_tariff, quote
from domain.orders.status import Service


def line(weight: str, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    """A goods line of the given per-piece weight."""
    return {
        "name": "Cotton T-shirt",
        "quantity": quantity,
        "weight_kg": Decimal(weight),
        "declared_value": 10,
    } | extra


def test_every_service_has_a_tariff() -> None:
    assert set(load_tariff().services) == set(Service)


def test_first_kilogram_only() -> None:
    result = quote(Service.AIR_FREIGHT, "DE", [line("0.4")])

    assert result.amount == Decimal("85.00")
    assert result.currency == "CNY"
    assert result.chargeable_weight_kg == Decimal(1)
    assert [(q.code, q.amount) for q in result.breakdown] == [("freight.first_weight", Decimal("85.00"))]


@pytest.mark.parametrize(
    ("weight", "chargeable", "steps", "amount"),
    [
        ("1.0", "1", 0, "85.00"),
        ("1.01", "1.5", 1, "110.00"),
        ("1.5", "1.5", 1, "110.00"),
        ("2.3", "2.5", 3, "160.00"),
    ],
)
def test_air_charges_every_started_half_kilogram_after_the_first(
    weight: str, chargeable: str, steps: int, amount: str
) -> None:
    result = quote(Service.AIR_FREIGHT, "DE", [line(weight)])

    assert result.chargeable_weight_kg == Decimal(chargeable)
    assert result.amount == Decimal(amount)
    additional = [q for q in result.breakdown if q.code == "freight.additional_weight"]
    assert [int(q.params["steps"]) for q in additional] == ([steps] if steps else [])


def test_sea_charges_by_started_kilogram() -> None:
    # 2.3 kg -> 3 kg: 45.00 + 2 x 12.00.
    result = quote(Service.SEA_FREIGHT, "DE", [line("2.3")])

    assert result.chargeable_weight_kg == Decimal(3)
    assert result.amount == Decimal("69.00")


def test_weight_sums_quantities_over_lines() -> None:
    # 3 x 0.3 + 2 x 0.5 = 1.9 kg -> 2.0 kg: 85.00 + 2 x 25.00.
    result = quote(Service.AIR_FREIGHT, "US", [line("0.3", 3), line("0.5", 2)])

    assert result.chargeable_weight_kg == Decimal(2)
    assert result.amount == Decimal("135.00")


@pytest.mark.parametrize(
    ("country", "zone", "amount"),
    [
        ("JP", "A", "45.00"),
        ("DE", "B", "85.00"),
        ("us", "B", "85.00"),
        ("BR", "C", "120.00"),
        ("AE", "C", "120.00"),
    ],
)
def test_zone_sets_the_rate(country: str, zone: str, amount: str) -> None:
    result = quote(Service.AIR_FREIGHT, country, [line("0.5")])

    assert (result.zone, result.amount) == (zone, Decimal(amount))


@pytest.mark.parametrize("country", ["KE", "XX", None])
def test_country_not_in_any_zone_uses_the_default_zone(country: str | None) -> None:
    result = quote(Service.AIR_FREIGHT, country, [line("0.5")])

    assert result.zone == "D"
    assert result.amount == Decimal("150.00")


def test_volumetric_weight_counts_when_greater() -> None:
    box = line("1", length_cm=40, width_cm=30, height_cm=20)

    # Air: 24000 cm3 / 6000 = 4 kg -> 85.00 + 6 x 25.00.
    air = quote(Service.AIR_FREIGHT, "DE", [box])
    assert air.chargeable_weight_kg == Decimal(4)
    assert air.amount == Decimal("235.00")
    # Sea: 24000 / 8000 = 3 kg -> 45.00 + 2 x 12.00.
    assert quote(Service.SEA_FREIGHT, "DE", [box]).chargeable_weight_kg == Decimal(3)


def test_actual_weight_counts_when_greater_or_dimensions_missing() -> None:
    dense = line("5", length_cm=10, width_cm=10, height_cm=10)
    partial = line("1", length_cm=100, width_cm=100)

    assert quote(Service.AIR_FREIGHT, "DE", [dense]).chargeable_weight_kg == Decimal(5)
    assert quote(Service.AIR_FREIGHT, "DE", [partial]).chargeable_weight_kg == Decimal(1)


def test_fragile_and_urgent_surcharges() -> None:
    # Freight 85.00 + 25.00; fragile 2 pieces x 8.00; urgent 30 % of the freight.
    result = quote(Service.AIR_FREIGHT, "DE", [line("0.6", 2, fragile=True)], urgent=True)

    assert [(q.code, q.amount) for q in result.breakdown] == [
        ("freight.first_weight", Decimal("85.00")),
        ("freight.additional_weight", Decimal("25.00")),
        ("surcharge.fragile", Decimal("16.00")),
        ("surcharge.urgent", Decimal("33.00")),
    ]
    assert result.amount == Decimal("159.00")
    assert result.amount == sum(q.amount for q in result.breakdown)


def small_tariff(first_rate: str, additional_rate: str, urgent_percent: str) -> Tariff:
    """A one-zone tariff for arithmetic tests."""
    rates = {"Z": {"first_rate": first_rate, "additional_rate": additional_rate}}
    service = {"volumetric_divisor": 6000, "first_kg": "1", "step_kg": "0.5", "rates": rates}
    return Tariff.from_dict(
        {
            "currency": "CNY",
            "default_zone": "Z",
            "zones": {},
            "surcharges": {"fragile_per_piece": "0", "urgent_percent": urgent_percent},
            "services": {s.value: service for s in Service},
        }
    )


def test_rounding_is_half_up_to_the_cent() -> None:
    # 12.5 % of 10.12 is 1.265: half-up gives 1.27 where banker's rounding would give 1.26.
    result = quote(
        Service.AIR_FREIGHT, "DE", [line("1")], urgent=True, tariff=small_tariff("10.12", "0", "12.5")
    )

    assert result.breakdown[-1].amount == Decimal("1.27")
    assert result.amount == Decimal("11.39")


def test_money_is_exact_to_the_cent() -> None:
    # Three steps of 0.10 must be 0.30, not 0.30000000000000004.
    result = quote(Service.AIR_FREIGHT, "DE", [line("2.5")], tariff=small_tariff("0.10", "0.10", "0"))

    assert result.amount == Decimal("0.40")
    assert str(result.amount) == "0.40"


def test_tariff_without_a_rate_for_a_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="no rate for zones"):
        Tariff.from_dict(
            {
                "currency": "CNY",
                "default_zone": "D",
                "zones": {"A": ["JP"]},
                "services": {
                    "air_freight": {
                        "volumetric_divisor": 6000,
                        "first_kg": "1",
                        "step_kg": "0.5",
                        "rates": {"A": {"first_rate": "1", "additional_rate": "1"}},
                    }
                },
            }
        )


# Payment (R-2.3: the service matches the amount paid)

QUOTE = Quote(Decimal("123.45"), "CNY", Decimal(1))


@pytest.mark.parametrize(("paid", "currency"), [("123.45", "CNY"), ("123.450", "CNY"), ("123.45", "cny")])
def test_payment_equal_to_the_quote_passes(paid: str, currency: str) -> None:
    assert check_payment(QUOTE, Decimal(paid), currency) == []


@pytest.mark.parametrize(
    ("paid", "currency", "got"),
    [
        ("123.44", "CNY", "123.44 CNY"),
        ("123.46", "CNY", "123.46 CNY"),
        ("123.449", "CNY", "123.449 CNY"),
        ("123.45", "USD", "123.45 USD"),
    ],
)
def test_payment_mismatch_says_the_expected_amount(paid: str, currency: str, got: str) -> None:
    [error] = check_payment(QUOTE, Decimal(paid), currency)

    assert (error.field, error.code) == ("payment.amount", "amount.mismatch")
    assert error.params == {"expected": "123.45 CNY", "got": got}
