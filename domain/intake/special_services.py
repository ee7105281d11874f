"""Special services (R-3.2): oversize cargo by size and weight, the custom warehouse service by choice.

The thresholds are data (domain/data/special_services.toml). Oversize follows from a line's
weight per piece and its size; the custom overseas-warehouse service is only ever chosen by the
customer, and only with the services the data names. Remarks are never read for either.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

from domain.intake.text import read_field
from domain.orders.special import SpecialService
from domain.orders.status import Service


@dataclass(frozen=True)
class ServiceRules:
    """When goods are oversize cargo, when the wizard asks a line's size, where custom service is offered."""

    oversize_piece_kg: Decimal
    oversize_side_cm: Decimal
    oversize_girth_cm: Decimal
    ask_size_from_kg: Decimal
    custom_warehouse_services: frozenset[Service]


def parse_rules(data: Mapping[str, Any]) -> ServiceRules:
    """Builds the rules from the parsed TOML document."""
    oversize = data["oversize"]
    return ServiceRules(
        oversize_piece_kg=Decimal(oversize["piece_weight_kg"]),
        oversize_side_cm=Decimal(oversize["longest_side_cm"]),
        oversize_girth_cm=Decimal(oversize["girth_cm"]),
        ask_size_from_kg=Decimal(data["dimensions"]["ask_from_piece_weight_kg"]),
        custom_warehouse_services=frozenset(Service(s) for s in data["custom_warehouse"]["services"]),
    )


@cache
def service_rules() -> ServiceRules:
    """Loads the rules shipped with the package."""
    text = resources.files("domain.data").joinpath("special_services.toml").read_text(encoding="utf-8")
    return parse_rules(tomllib.loads(text))


def _number(value: object) -> Decimal | None:
    """A line's number as a Decimal (None if absent or not one)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def is_oversize(item: object, rules: ServiceRules | None = None) -> bool:
    """Whether one piece of the line reaches the oversize weight, longest side or girth."""
    rules = rules or service_rules()
    weight = _number(read_field(item, "weight_kg"))
    if weight is not None and weight >= rules.oversize_piece_kg:
        return True
    sides = [_number(read_field(item, name)) for name in ("length_cm", "width_cm", "height_cm")]
    if any(side is None for side in sides):
        return False
    longest, *others = sorted((side for side in sides if side is not None), reverse=True)
    return longest >= rules.oversize_side_cm or longest + 2 * sum(others) >= rules.oversize_girth_cm


def asks_size(weight_kg: object, rules: ServiceRules | None = None) -> bool:
    """Whether a line is heavy enough that its size is asked for (lighter lines are simple parcels)."""
    weight = _number(weight_kg)
    return weight is not None and weight >= (rules or service_rules()).ask_size_from_kg


def offered(special: SpecialService, service: Service, rules: ServiceRules | None = None) -> bool:
    """Whether a special service may be chosen with the order's service."""
    if special is SpecialService.CUSTOM_WAREHOUSE:
        return service in (rules or service_rules()).custom_warehouse_services
    return True


def special_services(
    items: Iterable[object], chosen: Iterable[SpecialService], rules: ServiceRules | None = None
) -> frozenset[SpecialService]:
    """The order's special services: those chosen, and oversize when a line's size or weight calls for it."""
    found = set(chosen)
    if any(is_oversize(item, rules) for item in items):
        found.add(SpecialService.OVERSIZE)
    return frozenset(found)
