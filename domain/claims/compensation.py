"""What a claim pays (R-6.4): the declared value of the affected goods, or the insured value, capped.

Damaged or wrongly shipped goods are compensated at the declared value of the affected pieces
(Item.declared_value is one piece's value, in the order's currency). Lost goods are compensated at
the order's value: its insured value when the order has one, else the declared value of every
line. Orders carry no insurance yet (domain/data/special_services.toml has none), so `insured_value`
is None and lost goods are paid at their declared value. Every amount is capped per currency by
domain/data/claims.toml; a discount is one of the percentages of the order's freight it lists.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

from domain.claims.claim import Claim, ClaimError, ClaimProblem
from domain.orders.model import Order

CENT = Decimal("0.01")


class Basis(StrEnum):
    """What a compensation amount is worked out from."""

    DECLARED = "declared"
    INSURED = "insured"


@dataclass(frozen=True)
class ClaimRules:
    """The claim limits kept as data: photos per claim, the caps per currency, the discounts offered."""

    max_photos: int
    caps: MappingProxyType[str, Decimal]
    default_cap: Decimal
    discount_percents: tuple[int, ...]

    def cap(self, currency: str) -> Decimal:
        """The most one claim pays in a currency."""
        return self.caps.get(currency.upper(), self.default_cap)


@dataclass(frozen=True)
class Compensation:
    """A claim's amount, what it was worked out from, and whether the cap cut it."""

    amount: Decimal
    value: Decimal
    basis: Basis
    capped: bool
    currency: str


def rules_from(document: dict[str, Any]) -> ClaimRules:
    """Reads the claim rules from a parsed claims.toml."""
    compensation = {key: Decimal(str(value)) for key, value in document["compensation"].items()}
    default = compensation.pop("default")
    percents = tuple(int(value) for value in document["discount"]["percents"])
    if any(not 0 < value < 100 for value in percents) or default <= 0:
        raise ValueError("claims.toml: discounts are 1-99 % and the default cap is positive")
    return ClaimRules(
        int(document["evidence"]["max_photos"]),
        MappingProxyType({key.upper(): value for key, value in compensation.items()}),
        default,
        percents,
    )


@cache
def shipped_rules() -> ClaimRules:
    """The built-in claim rules (domain/data/claims.toml), read once."""
    text = resources.files("domain.data").joinpath("claims.toml").read_text(encoding="utf-8")
    return rules_from(tomllib.loads(text))


def insured_value(order: Order) -> Decimal | None:
    """The order's insured value: None, since orders carry no insurance yet."""
    del order
    return None


def goods_value(order: Order, affected: dict[int, int]) -> Decimal:
    """The declared value of the affected pieces."""
    total = sum(
        (order.items[index].declared_value * quantity for index, quantity in affected.items()),
        Decimal(0),
    )
    return total.quantize(CENT, ROUND_HALF_UP)


def compensation_for(order: Order, claim: Claim, rules: ClaimRules) -> Compensation:
    """What the claim pays: the affected goods' declared value (lost: insured or order value), capped."""
    insured = insured_value(order) if claim.lost else None
    if insured is not None:
        value, basis = insured.quantize(CENT, ROUND_HALF_UP), Basis.INSURED
    else:
        value, basis = goods_value(order, claim.affected(order)), Basis.DECLARED
    cap = rules.cap(order.currency)
    return Compensation(min(value, cap), value, basis, value > cap, order.currency)


def discount_for(order: Order, percent: int, rules: ClaimRules) -> Decimal:
    """The amount a discount of percent takes off the order's freight; refuses a percentage not offered."""
    if percent not in rules.discount_percents:
        raise ClaimError(ClaimProblem.BAD_DISCOUNT, str(percent))
    amount = (order.amount * percent / Decimal(100)).quantize(CENT, ROUND_HALF_UP)
    return min(amount, rules.cap(order.currency))
