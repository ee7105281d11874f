"""The exception case and its cause list (issue 14, R-6, R-6.3, R-6.5): pure rules."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from domain.errors import DomainError
from domain.exceptions.case import (
    CaseClosed,
    CaseResult,
    EvidenceFile,
    ExceptionCase,
    FileKind,
    OfferTooHigh,
    StepKind,
    check_offer,
    delay_length,
    prefilled_record,
)
from domain.exceptions.causes import MARKABLE, UnknownCause, cause_catalog, parse_catalog
from domain.orders.status import ExceptionType, Role
from tests.storage.factories import T0

CATALOG = cause_catalog()


def a_case(kind: ExceptionType = ExceptionType.DELAY) -> ExceptionCase:
    return ExceptionCase("order-1", kind, "weather", "Typhoon", Role.LOGISTICS, T0, 7001, id=1)


def test_every_markable_type_has_causes_a_department_and_other() -> None:
    for kind in MARKABLE:
        causes = CATALOG.causes_of(kind)
        assert causes[-1] == "other" and len(set(causes)) == len(causes)
    assert CATALOG.department_of(ExceptionType.CUSTOMS_HOLD) is Role.LOGISTICS
    assert CATALOG.department_of(ExceptionType.DAMAGED) is Role.WAREHOUSE
    assert CATALOG.check(ExceptionType.DELAY, None) is None
    with pytest.raises(UnknownCause):
        CATALOG.check(ExceptionType.LOST, "weather")


def test_a_catalog_missing_a_type_or_naming_a_wrong_one_is_refused() -> None:
    with pytest.raises(ValueError, match=r"types\.delay: missing"):
        parse_catalog('[types.other]\ndepartment = "order_desk"\ncauses = ["other"]\n')
    with pytest.raises(ValueError, match=r"types\.flood: unknown"):
        parse_catalog('[types.flood]\ndepartment = "logistics"\ncauses = ["other"]\n')


def test_compensation_limits_are_per_role_and_the_highest_role_counts() -> None:
    """R-6.3: customer service may offer 10 % of the amount on its own, the desk head 50 %."""
    assert CATALOG.limit_percent(frozenset({Role.CUSTOMER_SERVICE})) == Decimal(10)
    assert CATALOG.limit_percent(frozenset({Role.CUSTOMER_SERVICE, Role.ORDER_DESK_HEAD})) == Decimal(50)
    assert CATALOG.limit_percent(frozenset({Role.WAREHOUSE})) == Decimal(0)
    check_offer(Decimal("24.58"), Decimal("245.80"), Decimal(10))
    with pytest.raises(OfferTooHigh) as high:
        check_offer(Decimal("24.59"), Decimal("245.80"), Decimal(10))
    assert high.value.limit == Decimal("24.58")
    with pytest.raises(DomainError):
        check_offer(Decimal(0), Decimal("245.80"), Decimal(10))


def test_a_closed_case_takes_no_steps_but_its_record_and_one_answer() -> None:
    case = a_case()
    assert not case.answer(True, at=T0, customer_id=5)
    with pytest.raises(DomainError):
        case.complete_record("x", at=T0, actor_id=1, role=Role.ORDER_DESK)
    case.close(CaseResult.RESUMED, at=T0 + timedelta(hours=1), actor_id=7002, role=Role.CUSTOMER_SERVICE)
    with pytest.raises(CaseClosed):
        case.record_cause("weather", at=T0, actor_id=1, role=Role.LOGISTICS)
    with pytest.raises(CaseClosed):
        case.add_file(
            EvidenceFile("f", FileKind.PHOTO),
            at=T0,
            actor_id=5,
            role=Role.CUSTOMER,
            kind=StepKind.DOCUMENT_RECEIVED,
        )
    assert case.answer(False, at=T0 + timedelta(hours=2), customer_id=5)
    assert not case.answer(True, at=T0 + timedelta(hours=3), customer_id=5)
    assert case.satisfied is False
    case.complete_record("Reviewed", at=T0 + timedelta(hours=4), actor_id=1, role=Role.ORDER_DESK)
    with pytest.raises(CaseClosed):
        case.complete_record("Again", at=T0 + timedelta(hours=5), actor_id=1, role=Role.ORDER_DESK)


def test_the_record_is_prefilled_from_the_trail_and_the_delay_measured() -> None:
    case = a_case()
    case.add_step(StepKind.OPENED, at=T0, actor_id=7001, role=Role.LOGISTICS, note="Typhoon")
    case.record_cause("weather", at=T0, actor_id=7001, role=Role.LOGISTICS, new_eta=T0 + timedelta(hours=60))
    assert delay_length(case, None) == 60
    assert delay_length(case, T0 + timedelta(hours=24)) == 36
    case.close(CaseResult.RESUMED, at=T0 + timedelta(hours=1), actor_id=7002, role=Role.CUSTOMER_SERVICE)
    record = prefilled_record(case)
    assert record.splitlines()[:3] == ["type: delay", "cause: weather", "note: Typhoon"]
    assert "cause_recorded (logistics) - weather" in record and record.endswith("result: resumed")
