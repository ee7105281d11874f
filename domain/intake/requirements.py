"""What the customer asks of an order beyond its goods (R-3.1, R-3.2): special requests as choices
with a note each, a delivery-by date and special services; each checked like any intake field."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from domain.intake.errors import FieldError, InvalidInput
from domain.intake.special_services import offered
from domain.intake.text import clean
from domain.orders.special import RequestKind, Requirements, SpecialRequest, SpecialService
from domain.orders.status import Service
from domain.text import has_control

REQUESTS_MAX = 5
REQUEST_NOTE_MAX = 200
DATE_EXAMPLE = "2026-12-20"
# Formats a delivery date may be typed in.
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d")


@dataclass
class SpecialRequestDraft:
    """One special request as entered: its kind (customs_agent, special_labels, other) and note."""

    kind: str | None = None
    note: str | None = None


def read_date(value: object) -> date | None:
    """Reads a date (a date, or text such as 2026-12-20), or None if it is none."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = clean(value)
    for pattern in DATE_FORMATS:
        try:
            return datetime.strptime(text, pattern).date()
        except ValueError:
            continue
    return None


def check_delivery_by(value: object, today: date, *, field: str = "delivery_by") -> list[FieldError]:
    """What is wrong with a delivery-by date: not a date, or not after today."""
    if value is None or clean(value) == "":
        return []
    day = read_date(value)
    if day is None:
        return [FieldError(field, "delivery_by.invalid", {"example": DATE_EXAMPLE})]
    if day <= today:
        return [FieldError(field, "delivery_by.past", {"today": today.isoformat()})]
    return []


def _request_errors(index: int, request: SpecialRequestDraft) -> list[FieldError]:
    """What is wrong with one special request: an unknown kind, a missing or unfit note."""
    prefix = f"special_requests[{index}]"
    errors = []
    if clean(request.kind) not in set(RequestKind):
        choices = ", ".join(RequestKind)
        errors.append(FieldError(f"{prefix}.kind", "request.kind_unknown", {"choices": choices}))
    note = clean(request.note)
    if not note:
        errors.append(FieldError(f"{prefix}.note", "request.note_required"))
    elif has_control(note):
        errors.append(FieldError(f"{prefix}.note", "text.control"))
    elif len(note) > REQUEST_NOTE_MAX:
        errors.append(FieldError(f"{prefix}.note", "request.note_too_long", {"max": str(REQUEST_NOTE_MAX)}))
    return errors


def _service_errors(services: Iterable[str], service: Service | None) -> list[FieldError]:
    """What is wrong with the chosen special services: unknown, or not offered with the service."""
    errors = []
    for index, name in enumerate(services):
        path = f"special_services[{index}]"
        if clean(name) not in set(SpecialService):
            errors.append(FieldError(path, "special_service.unknown", {"choices": ", ".join(SpecialService)}))
        elif service is not None and not offered(SpecialService(clean(name)), service):
            errors.append(FieldError(path, "special_service.not_offered", {"service": service.value}))
    return errors


def check_requirements(
    requests: Iterable[SpecialRequestDraft],
    delivery_by: object,
    services: Iterable[str],
    service: Service | None,
    today: date,
) -> list[FieldError]:
    """Lists what is wrong with an order's special requests, delivery date and special services."""
    lines = list(requests)
    errors: list[FieldError] = []
    if len(lines) > REQUESTS_MAX:
        errors.append(FieldError("special_requests", "requests.too_many", {"max": str(REQUESTS_MAX)}))
    else:
        for index, request in enumerate(lines):
            errors += _request_errors(index, request)
    errors += check_delivery_by(delivery_by, today)
    return errors + _service_errors(services, service)


def requirements_of(
    requests: Iterable[SpecialRequestDraft], delivery_by: object, services: Iterable[str]
) -> Requirements:
    """Builds the order's requirements from checked answers."""
    return Requirements(
        special_requests=tuple(
            SpecialRequest(RequestKind(clean(request.kind)), clean(request.note)) for request in requests
        ),
        delivery_by=None if delivery_by is None or clean(delivery_by) == "" else read_date(delivery_by),
        special_services=frozenset(SpecialService(clean(name)) for name in services),
    )


def normalize_request_note(text: str | None, *, field: str = "special_requests[0].note") -> str:
    """Returns a special request's note as stored, or raises what is wrong with it."""
    errors = _request_errors(0, SpecialRequestDraft(RequestKind.OTHER.value, text))
    if errors:
        raise InvalidInput([FieldError(field, error.code, error.params) for error in errors])
    return clean(text)


def parse_delivery_by(text: str | None, today: date, *, field: str = "delivery_by") -> date:
    """Returns the date the goods must arrive by, after today, or raises what is wrong with it."""
    errors = check_delivery_by(text, today, field=field)
    day = read_date(text)
    if errors or day is None:
        raise InvalidInput(errors or [FieldError(field, "delivery_by.invalid", {"example": DATE_EXAMPLE})])
    return day
