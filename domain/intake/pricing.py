"""Quotes from the tariff (domain/data/tariff.toml) and the check that payment matches (R-2.3).

Chargeable weight: each item line at the greater of its actual and volumetric weight
(length x width x height cm / divisor, per piece; lines without all three dimensions at actual
weight), summed, rounded up to the service's step and never below the first-weight band.
The first band costs first_rate; every started step beyond it costs additional_rate.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Any

from domain.intake.errors import FieldError
from domain.orders.status import Service

CENT = Decimal("0.01")
_DIMENSIONS = ("length_cm", "width_cm", "height_cm")


def to_cents(amount: Decimal) -> Decimal:
    """Rounds money to the cent, halves up."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class ZoneRate:
    """Price of the first weight band and of each further step, for one zone."""

    first_rate: Decimal
    additional_rate: Decimal


@dataclass(frozen=True)
class ServiceTariff:
    """How one service is priced."""

    volumetric_divisor: Decimal
    first_kg: Decimal
    step_kg: Decimal
    rates: dict[str, ZoneRate]


@dataclass(frozen=True)
class Tariff:
    """The company's price list: zones, per-service rates and surcharges."""

    currency: str
    default_zone: str
    zones: dict[str, str]
    services: dict[Service, ServiceTariff]
    fragile_per_piece: Decimal
    urgent_percent: Decimal
    # Usual days from confirmation to delivery, per service (the expected delivery date, R-3.1).

    def zone_for(self, country_code: str | None) -> str:
        """The destination zone of a country; countries not listed fall in the default zone."""
        return self.zones.get((country_code or "").upper(), self.default_zone)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tariff:
        """Builds the tariff from the parsed TOML document, checking every zone has a rate."""
        zones = {code: zone for zone, codes in data["zones"].items() for code in codes}
        all_zones = {*data["zones"], data["default_zone"]}
        services = {}
        for name, raw in data["services"].items():
            rates = {
                zone: ZoneRate(Decimal(rate["first_rate"]), Decimal(rate["additional_rate"]))
                for zone, rate in raw["rates"].items()
            }
            missing = all_zones - rates.keys()
            if missing:
                raise ValueError(f"tariff for {name} has no rate for zones {sorted(missing)}")
            services[Service(name)] = ServiceTariff(
                volumetric_divisor=Decimal(raw["volumetric_divisor"]),
                first_kg=Decimal(raw["first_kg"]),
                step_kg=Decimal(raw["step_kg"]),
                rates=rates,
            )
        surcharges = data.get("surcharges", {})
        return cls(
            currency=data["currency"],
            default_zone=data["default_zone"],
            zones=zones,
            services=services,
            fragile_per_piece=Decimal(surcharges.get("fragile_per_piece", "0")),
            urgent_percent=Decimal(surcharges.get("urgent_percent", "0")),
        )


@cache
def load_tariff() -> Tariff:
    """Loads the tariff shipped with the package."""
    text = resources.files("domain.data").joinpath("tariff.toml").read_text(encoding="utf-8")
    return Tariff.from_dict(tomllib.loads(text))


@dataclass(frozen=True)
class QuoteLine:
    """One line of the fee breakdown; code and params let the handler word it in any language."""

    code: str
    params: dict[str, str]
    amount: Decimal


@dataclass(frozen=True)
class Quote:
    """The price of an order for one service and destination."""

    amount: Decimal
    currency: str
    chargeable_weight_kg: Decimal
    breakdown: list[QuoteLine] = field(default_factory=list)
    service: Service | None = None
    zone: str | None = None

    @property
    def display(self) -> str:
        """The amount with its currency, e.g. '123.45 CNY'."""
        return f"{self.amount} {self.currency}"


def _get(source: object, name: str, default: Any = None) -> Any:
    """Reads a field from a mapping or an object."""
    if isinstance(source, Mapping):
        return source.get(name, default)
    return getattr(source, name, default)


def line_weight_kg(item: object, divisor: Decimal) -> Decimal:
    """Chargeable weight of one item line: actual or volumetric, whichever is greater, times quantity."""
    per_piece = Decimal(str(_get(item, "weight_kg")))
    dimensions = [_get(item, name) for name in _DIMENSIONS]
    if all(d is not None for d in dimensions):
        length, width, height = (Decimal(str(d)) for d in dimensions)
        per_piece = max(per_piece, length * width * height / divisor)
    return per_piece * int(_get(item, "quantity"))


def chargeable_weight_kg(items: Iterable[object], service_tariff: ServiceTariff) -> Decimal:
    """Total chargeable weight, rounded up to the step and at least the first-weight band."""
    total = sum((line_weight_kg(item, service_tariff.volumetric_divisor) for item in items), Decimal(0))
    steps = (total / service_tariff.step_kg).to_integral_value(rounding=ROUND_CEILING)
    return max(steps * service_tariff.step_kg, service_tariff.first_kg)


def quote(
    service: Service | str,
    country_code: str | None,
    items: Iterable[object],
    *,
    urgent: bool = False,
    tariff: Tariff | None = None,
) -> Quote:
    """Prices validated items for a service and destination, with a line-by-line breakdown."""
    tariff = tariff or load_tariff()
    service = Service(service)
    lines_in = list(items)
    service_tariff = tariff.services[service]
    zone = tariff.zone_for(country_code)
    rate = service_tariff.rates[zone]
    weight = chargeable_weight_kg(lines_in, service_tariff)

    first = to_cents(rate.first_rate)
    breakdown = [
        QuoteLine(
            "freight.first_weight",
            {"zone": zone, "weight_kg": str(service_tariff.first_kg), "rate": str(rate.first_rate)},
            first,
        )
    ]
    extra_steps = int((weight - service_tariff.first_kg) / service_tariff.step_kg)
    if extra_steps:
        breakdown.append(
            QuoteLine(
                "freight.additional_weight",
                {
                    "steps": str(extra_steps),
                    "step_kg": str(service_tariff.step_kg),
                    "rate": str(rate.additional_rate),
                },
                to_cents(rate.additional_rate * extra_steps),
            )
        )
    freight = sum((line.amount for line in breakdown), Decimal(0))

    fragile_pieces = sum(int(_get(item, "quantity")) for item in lines_in if _get(item, "fragile", False))
    if fragile_pieces and tariff.fragile_per_piece:
        breakdown.append(
            QuoteLine(
                "surcharge.fragile",
                {"pieces": str(fragile_pieces), "rate": str(tariff.fragile_per_piece)},
                to_cents(tariff.fragile_per_piece * fragile_pieces),
            )
        )
    if urgent and tariff.urgent_percent:
        breakdown.append(
            QuoteLine(
                "surcharge.urgent",
                {"percent": str(tariff.urgent_percent)},
                to_cents(freight * tariff.urgent_percent / 100),
            )
        )
    total = sum((line.amount for line in breakdown), Decimal(0))
    return Quote(to_cents(total), tariff.currency, weight, breakdown, service, zone)


def check_payment(
    quote: Quote, amount_paid: Decimal, currency: str, *, field: str = "payment.amount"
) -> list[FieldError]:
    """Says whether the amount paid is the quoted price, to the cent and in the same currency."""
    currency = currency.strip().upper()
    if currency == quote.currency.upper() and amount_paid == quote.amount:
        return []
    got = f"{amount_paid} {currency}"
    return [FieldError(field, "amount.mismatch", {"expected": quote.display, "got": got})]
