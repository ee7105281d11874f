"""Execution (R-4): the warehouse's and logistics' steps, each with the values it records, validated.

Every use case loads the order, checks the actor's roles (loaded from the database by the caller)
and that the order waits for this step, validates the typed values, records them on the order's
Shipment, applies the action through the transition table and commits with the side effects the
event handlers queue (customer update, next department's card): one transaction.

A step the order has already passed raises AlreadyDone naming who did it and when, so a second
press (or a stale card) changes nothing; a step the order has not reached raises IllegalTransition.
Typed values that fail validation raise ExecutionError with a code and parameters the chat layer
words in the user's language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers

from domain.errors import DomainError, IllegalTransition
from domain.intake.clearance import order_special_goods
from domain.intake.contact import phone_example
from domain.orders.model import AuditEvent, Item, Order
from domain.orders.responsibilities import require
from domain.orders.status import TRANSITIONS, Action, OrderStatus, Role, Service
from domain.sla.calendar import BusinessCalendar
from domain.sla.clocks import running_clock
from domain.sla.policy import SlaPolicy, Stage
from domain.text import has_control

# Longest free text a step records (destination, clearance result, names, reasons).
TEXT_MAX = 200
# Estimates further ahead than this are typing mistakes (a year instead of a month...).
HORIZON = timedelta(days=180)
TIME_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%m-%d %H:%M", "%H:%M")
_PICK_LINE = re.compile(r"(.+?)(?:\s*[x×*:]\s*|\s+)(\d+)", re.IGNORECASE)
_DECLARATION = re.compile(r"[A-Z0-9][A-Z0-9-]{3,39}")
_GENERIC_WAYBILL = re.compile(r"[A-Z0-9][A-Z0-9-]{5,34}")


class ExecutionError(DomainError):
    """A typed value is wrong; `code` and `params` let the chat layer say what and how to fix it."""

    def __init__(self, code: str, **params: Any) -> None:
        self.code = code
        self.params = params
        super().__init__(f"{code}: {params}" if params else code)


class AlreadyDone(DomainError):
    """The order has already left the status this step is for: somebody did it (or something else)."""

    def __init__(self, order: Order, event: AuditEvent | None) -> None:
        self.order = order
        self.event = event
        super().__init__(f"order {order.display_id} is no longer waiting for this step")


# --- carriers and waybills (R-4.3) --------------------------------------------------------------


def _s10_ok(waybill: str) -> bool:
    """Checks the UPU S10 check digit of a postal item id such as EE123456785CN."""
    digits = [int(c) for c in waybill[2:10]]
    remainder = 11 - sum(d * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7), strict=True)) % 11
    check = {10: 0, 11: 5}.get(remainder, remainder)
    return check == int(waybill[10])


def _awb_ok(waybill: str) -> bool:
    """Checks an IATA air waybill: 3-digit airline prefix, 7-digit serial, serial mod 7 as last digit."""
    digits = waybill.replace("-", "")
    return int(digits[3:10]) % 7 == int(digits[10])


@dataclass(frozen=True)
class Carrier:
    """A carrier the company books, with its waybill format when known."""

    code: str
    name: str
    services: frozenset[Service]
    pattern: re.Pattern[str]
    example: str
    check: Callable[[str], bool] | None = None

    def valid(self, waybill: str) -> bool:
        """Whether the waybill has this carrier's format (and check digit, where it has one)."""
        return self.pattern.fullmatch(waybill) is not None and (self.check is None or self.check(waybill))


_AIR = frozenset({Service.AIR_FREIGHT})
_SEA = frozenset({Service.SEA_FREIGHT})
CARRIERS: Mapping[str, Carrier] = MappingProxyType(
    {
        carrier.code: carrier
        for carrier in (
            Carrier("DHL", "DHL Express", _AIR, re.compile(r"\d{10}"), "1234567890"),
            Carrier("FEDEX", "FedEx", _AIR, re.compile(r"\d{12}|\d{15}"), "123456789012"),
            Carrier("UPS", "UPS", _AIR, re.compile(r"1Z[0-9A-Z]{16}"), "1Z999AA10123456784"),
            Carrier(
                "EMS", "China Post EMS", _AIR, re.compile(r"[A-Z]{2}\d{9}[A-Z]{2}"), "EE123456785CN", _s10_ok
            ),
            Carrier("SF", "SF Express", _AIR, re.compile(r"SF\d{12,13}"), "SF1234567890123"),
            Carrier(
                "AWB", "Air waybill (airline)", _AIR, re.compile(r"\d{3}-?\d{8}"), "160-12345675", _awb_ok
            ),
            Carrier("MAERSK", "Maersk", _SEA, re.compile(r"(?:MAEU)?\d{9}"), "MAEU123456789"),
            Carrier("COSCO", "COSCO Shipping", _SEA, re.compile(r"(?:COSU)?\d{10}"), "COSU6123456789"),
            Carrier("MSC", "MSC", _SEA, re.compile(r"MEDU[A-Z0-9]{6,8}"), "MEDU1234567"),
        )
    }
)


def carriers_for(service: Service) -> list[Carrier]:
    """Lists the known carriers of a service, in table order."""
    return [carrier for carrier in CARRIERS.values() if service in carrier.services]


def normalize_carrier(text: str) -> str:
    """Returns the carrier code a typed name or code means, or the cleaned name of another carrier."""
    cleaned = " ".join(text.split())
    if not 2 <= len(cleaned) <= 60:
        raise ExecutionError("carrier.invalid")
    folded = cleaned.casefold()
    for carrier in CARRIERS.values():
        if folded in (carrier.code.casefold(), carrier.name.casefold()):
            return carrier.code
    return cleaned


def normalize_waybill(carrier: str, text: str) -> str:
    """Returns the waybill number in its canonical form, or raises with the carrier's expected format."""
    waybill = re.sub(r"\s+", "", text).upper()
    known = CARRIERS.get(carrier)
    if known is None:
        if _GENERIC_WAYBILL.fullmatch(waybill) is None:
            raise ExecutionError("waybill.invalid", waybill=waybill[:40])
        return waybill
    if not known.valid(waybill):
        raise ExecutionError(
            "waybill.format", carrier=known.name, example=known.example, waybill=waybill[:40]
        )
    return waybill


def carrier_name(code: str | None) -> str:
    """Returns the display name of a carrier code (another carrier's name as typed)."""
    if code is None:
        return ""
    known = CARRIERS.get(code)
    return known.name if known else code


def normalize_declaration(text: str) -> str:
    """Returns the customs declaration number as filed."""
    number = re.sub(r"\s+", "", text).upper()
    if _DECLARATION.fullmatch(number) is None:
        raise ExecutionError("declaration.invalid")
    return number


# --- free text, times and phones ----------------------------------------------------------------


def clean_text(text: str, code: str) -> str:
    """Returns one line of staff text (2 to TEXT_MAX characters) or raises with the field's code."""
    cleaned = " ".join(text.split())
    if has_control(cleaned):
        raise ExecutionError("text.control")
    if len(cleaned) < 2 or len(cleaned) > TEXT_MAX:
        raise ExecutionError(code, limit=TEXT_MAX)
    return cleaned


def parse_local_time(text: str, timezone: str, now: datetime) -> datetime:
    """Reads a time typed in the company's zone (2026-03-20 14:00, 03-20 14:00 or 14:00 today) as UTC."""
    zone = ZoneInfo(timezone)
    local_now = now.astimezone(zone)
    cleaned = " ".join(text.split())
    for time_format in TIME_FORMATS:
        try:
            parsed = datetime.strptime(cleaned, time_format)
        except ValueError:
            continue
        if "%Y" not in time_format:
            parsed = parsed.replace(year=local_now.year)
        if "%m" not in time_format:
            parsed = parsed.replace(month=local_now.month, day=local_now.day)
        return parsed.replace(tzinfo=zone).astimezone(now.tzinfo)
    raise ExecutionError("time.format")


def future_time(text: str, timezone: str, now: datetime) -> datetime:
    """Reads an estimate, which must lie in the future (and within HORIZON)."""
    moment = parse_local_time(text, timezone, now)
    return check_future(moment, timezone, now)


def check_future(moment: datetime, timezone: str, now: datetime) -> datetime:
    """Refuses an estimate in the past or implausibly far ahead."""
    if moment <= now:
        shown = now.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
        raise ExecutionError("time.past", now=shown)
    if moment - now > HORIZON:
        raise ExecutionError("time.too_far", days=HORIZON.days)
    return moment


def normalize_courier_phone(text: str, country: str) -> str:
    """Returns the courier's number in E.164; a number without '+' is read in the destination country."""
    raw = text.strip()
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    try:
        number = phonenumbers.parse(raw, country.upper())
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ExecutionError("phone.invalid", example=phone_example(country.upper()))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- picking (R-4.1) ----------------------------------------------------------------------------


def item_key(item: Item) -> str:
    """How the warehouse names an item: its SKU, else its name."""
    return item.sku or item.name


def expected_picks(order: Order) -> dict[str, int]:
    """The quantity the warehouse must pick per item key."""
    expected: dict[str, int] = {}
    for item in order.items:
        expected[item_key(item)] = expected.get(item_key(item), 0) + item.quantity
    return expected


def parse_picked(text: str) -> dict[str, int]:
    """Reads "<SKU> <quantity>" lines (also "SKU x 2", "SKU: 2") into counted quantities."""
    counted: dict[str, int] = {}
    for raw_line in text.splitlines():
        line = raw_line.strip().lstrip("•-").strip()
        if not line:
            continue
        match = _PICK_LINE.fullmatch(line)
        if match is None:
            raise ExecutionError("pick.line", line=line[:60])
        key = match.group(1).strip()
        counted[key] = counted.get(key, 0) + int(match.group(2))
    if not counted:
        raise ExecutionError("pick.empty")
    return counted


def check_picked(order: Order, counted: Mapping[str, int]) -> dict[str, int]:
    """Checks counted SKUs and quantities against the order; returns them under the order's keys."""
    expected = expected_picks(order)
    by_fold = {key.casefold(): key for key in expected}
    matched: dict[str, int] = {}
    for key, quantity in counted.items():
        known = by_fold.get(key.casefold())
        if known is None:
            raise ExecutionError("pick.unknown", sku=key[:60])
        matched[known] = matched.get(known, 0) + quantity
    for key, quantity in expected.items():
        if key not in matched:
            raise ExecutionError("pick.missing", sku=key)
        if matched[key] != quantity:
            raise ExecutionError("pick.quantity", sku=key, expected=quantity, counted=matched[key])
    return matched


def fragile_keys(order: Order) -> list[str]:
    """The items to pack separately and label "fragile" (R-4.1)."""
    return [item_key(item) for item in order.items if item.fragile]


def check_fragile_confirmed(order: Order, confirmed: bool) -> list[str]:
    """The fragile items picked; refuses the pick until the warehouse confirms they are packed
    separately and labelled "fragile" (R-4.1)."""
    keys = fragile_keys(order)
    if keys and not confirmed:
        raise ExecutionError("fragile.unconfirmed", items=", ".join(keys)[:TEXT_MAX])
    return keys


# --- customs clearance (R-4.4) ------------------------------------------------------------------


def lengthen_special_clearance(
    order: Order, now: datetime, policy: SlaPolicy, calendar: BusinessCalendar
) -> bool:
    """Gives a clearance clock opened now the policy's longer limit when the order has special goods."""
    clock = running_clock(order, Stage.CLEARANCE.value, policy)
    if clock is None or clock.started_at != now or not order_special_goods(order):
        return False
    clock.due_at = calendar.add(clock.started_at, policy.special_goods_limit(Stage.CLEARANCE.value))
    return True


# --- the use cases ------------------------------------------------------------------------------


def step_statuses(order: Order, action: Action) -> frozenset[OrderStatus]:
    """The statuses in which the action is this order's next step (the transition table decides)."""
    return frozenset(
        status
        for (status, act), rule in TRANSITIONS.items()
        if act is action and rule.applies_to(order.service)
    )


def who_handled(order: Order, statuses: frozenset[OrderStatus]) -> AuditEvent | None:
    """Returns the latest status change that took the order out of one of these statuses."""
    return next(
        (
            event
            for event in reversed(order.audit)
            if event.from_status in statuses and event.to_status is not event.from_status
        ),
        None,
    )


def check_step(order: Order, action: Action, roles: frozenset[Role]) -> None:
    """Refuses a step the roles may not do, or one the order is not (or no longer) waiting for."""
    require(roles, action)
    statuses = step_statuses(order, action)
    if order.status in statuses:
        return
    event = who_handled(order, statuses)
    if event is not None:
        raise AlreadyDone(order, event)
    raise IllegalTransition(order.status, action, order.service if not statuses else None)
