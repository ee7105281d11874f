"""Customs at the destination (R-4.3, R-4.4): special goods whose clearance may take longer, HS codes.

The list is data (domain/data/special_goods.toml): categories of goods with their keywords and
the destinations where their clearance takes longer, and the destinations that want an HS code
on every line of a business shipment.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from domain.intake.screening import first_match, phrases
from domain.orders.model import Order

ALL_DESTINATIONS = "*"


@dataclass(frozen=True)
class GoodsCategory:
    """One category of special goods: its names, keywords and the destinations it applies to."""

    id: str
    label_en: str
    label_zh: str
    keywords: tuple[Any, ...]
    destinations: frozenset[str]

    def applies_to(self, country: str) -> bool:
        """Whether clearance of these goods takes longer in the country."""
        return ALL_DESTINATIONS in self.destinations or country.upper() in self.destinations


@dataclass(frozen=True)
class CustomsRules:
    """The special-goods categories and the destinations wanting HS codes of businesses."""

    categories: tuple[GoodsCategory, ...]
    hs_code_destinations: frozenset[str]

    def category(self, category_id: str) -> GoodsCategory | None:
        """Finds a category by its id."""
        return next((c for c in self.categories if c.id == category_id), None)


@dataclass(frozen=True)
class SpecialGoods:
    """A goods line whose clearance may take longer: which line, its category, the keyword found."""

    line: int
    name: str
    category: str
    matched: str


def parse_rules(data: Mapping[str, Any]) -> CustomsRules:
    """Builds the rules from the parsed TOML document."""
    categories = tuple(
        GoodsCategory(
            id=key,
            label_en=raw["label_en"],
            label_zh=raw["label_zh"],
            keywords=phrases(raw["keywords"]),
            destinations=frozenset(code.upper() for code in raw["destinations"]),
        )
        for key, raw in data.get("categories", {}).items()
    )
    listed = data.get("hs_code", {}).get("business_destinations", [])
    destinations = frozenset(code.upper() for code in listed)
    return CustomsRules(categories, destinations)


@cache
def customs_rules() -> CustomsRules:
    """Loads the rules shipped with the package."""
    text = resources.files("domain.data").joinpath("special_goods.toml").read_text(encoding="utf-8")
    return parse_rules(tomllib.loads(text))


def special_goods(
    names: Iterable[str], country: str, rules: CustomsRules | None = None
) -> list[SpecialGoods]:
    """Lists the goods lines whose clearance may take longer in the destination, one category each."""
    rules = rules or customs_rules()
    found = []
    for line, name in enumerate(names):
        for category in rules.categories:
            if not category.applies_to(country):
                continue
            matched = first_match(name, category.keywords)
            if matched is not None:
                found.append(SpecialGoods(line, name, category.id, matched))
                break
    return found


def hs_code_required(country: str, business: bool, rules: CustomsRules | None = None) -> bool:
    """Whether every goods line needs an HS code: a business shipping where customs ask for one."""
    return business and country.upper() in (rules or customs_rules()).hs_code_destinations


def goods_category_label(category_id: str, language: str = "en") -> str:
    """Names a special-goods category for people, in English or Chinese; unknown ids as they are."""
    category = customs_rules().category(category_id)
    if category is None:
        return category_id
    return category.label_zh if language.startswith("zh") else category.label_en


def order_special_goods(order: Order) -> list[SpecialGoods]:
    """The order's goods whose clearance may take longer at its destination (R-4.4)."""
    return special_goods((item.name for item in order.items), order.address.country)
