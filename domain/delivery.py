"""The expected delivery date of an order (R-3.3): our steps at their SLA limits plus the carrier's transit.

Transit days per service and zone are kept with the tariff (domain/data/tariff.toml, `[transit]`).
From the confirmation, each of the company's own steps takes its limit from the SLA policy on the
business calendar (picking, the outbound scan, booking, customs clearance and the last mile; the
overseas warehouse has no booking or customs), and the carrier's transit runs in calendar days
between booking and arrival.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from functools import cache
from importlib import resources
from types import MappingProxyType

from domain.intake.pricing import load_tariff
from domain.orders.status import Service
from domain.sla.calendar import Duration
from domain.sla.clocks import SlaContext
from domain.sla.policy import Stage

# Our steps before the carrier's transit, and after it, per kind of service.
_BEFORE_TRANSIT: Mapping[bool, tuple[Stage, ...]] = MappingProxyType(
    {
        True: (Stage.PICKING, Stage.OUTBOUND, Stage.BOOKING),
        False: (Stage.PICKING_OVERSEAS, Stage.OUTBOUND),
    }
)
_AFTER_TRANSIT: Mapping[bool, tuple[Stage, ...]] = MappingProxyType(
    {True: (Stage.CLEARANCE, Stage.LAST_MILE), False: (Stage.LAST_MILE,)}
)


@cache
def transit_days() -> Mapping[tuple[Service, str], int]:
    """Reads the transit days per (service, zone) from the tariff file, once."""
    text = resources.files("domain.data").joinpath("tariff.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text).get("transit", {})
    days = {}
    for service in Service:
        for zone, value in table.get(service.value, {}).items():
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"tariff transit.{service.value}.{zone} must be a whole number of days")
            days[(service, zone)] = value
    return MappingProxyType(days)


def expected_arrival(
    service: Service, country: str, confirmed_at: datetime, sla: SlaContext, *, special_goods: bool = False
) -> datetime:
    """Returns the latest moment the order should be delivered if every step keeps its limit.

    Special goods (R-4.4) take the policy's longer limit of the steps it names (clearance).
    """
    international = service.international
    zone = load_tariff().zone_for(country)

    def limit(stage: Stage) -> Duration:
        return sla.policy.special_goods_limit(stage.value) if special_goods else sla.policy.stage(stage).limit

    moment = confirmed_at
    for stage in _BEFORE_TRANSIT[international]:
        moment = sla.calendar.add(moment, limit(stage))
    moment += timedelta(days=transit_days().get((service, zone), 0))
    for stage in _AFTER_TRANSIT[international]:
        moment = sla.calendar.add(moment, limit(stage))
    return moment


def expected_delivery_date(
    service: Service, country: str, confirmed_at: datetime, sla: SlaContext, *, special_goods: bool = False
) -> date:
    """The expected delivery date in the company's time zone."""
    arrival = expected_arrival(service, country, confirmed_at, sla, special_goods=special_goods)
    return arrival.astimezone(sla.calendar.zone).date()
