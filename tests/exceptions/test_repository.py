"""The exception case repository on the fake, SQLite and PostgreSQL: the same contract (issue 14)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from application.aftersales_ports import AftersalesUnitOfWork
from application.exception_ports import ExceptionUnitOfWork
from domain.exceptions.case import (
    CaseResult,
    Compensation,
    CompensationKind,
    EvidenceFile,
    ExceptionCase,
    FileKind,
    StepKind,
)
from domain.orders.status import ExceptionType, Role
from storage.database import create_session_factory
from storage.kpi_repository import SqlKpiQueries
from storage.uow import SqlUnitOfWork
from tests.fakes import FakeDatabase
from tests.storage.conftest import EVERY_BACKEND, backend_url, empty_database, pg_url
from tests.storage.factories import T0, make_order

__all__ = ["pg_url"]


@pytest.fixture(params=EVERY_BACKEND)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of the backend under test ("fake" for the fake)."""
    return backend_url(request, tmp_path)


@pytest.fixture
async def uows(backend: str) -> AsyncIterator[Callable[[], ExceptionUnitOfWork]]:
    """Units of work on the backend."""
    if backend == "fake":
        yield FakeDatabase().unit_of_work
        return
    engine = await empty_database(backend)
    sessions = create_session_factory(engine)
    yield lambda: SqlUnitOfWork(sessions)
    await engine.dispose()


def _case(order_id: str) -> ExceptionCase:
    """A customs-hold case with a document from the customer and a compensation."""
    case = ExceptionCase(
        order_id=order_id,
        type=ExceptionType.CUSTOMS_HOLD,
        cause=None,
        note="Invoice missing",
        department=Role.LOGISTICS,
        opened_at=T0,
        opened_by=7001,
    )
    case.add_step(StepKind.OPENED, at=T0, actor_id=7001, role=Role.LOGISTICS, note="Invoice missing")
    return case


async def test_a_case_is_stored_and_read_back_whole(uows: Callable[[], ExceptionUnitOfWork]) -> None:
    """Every field of the record survives the round trip; the open case is found by order."""
    order = make_order()
    async with uows() as uow:
        await uow.orders.add(order)
        case_id = await uow.exceptions.add(_case(order.id))
        await uow.commit()
    async with uows() as uow:
        case = await uow.exceptions.open_of(order.id)
        assert case is not None and case.id == case_id
        case.customs_needs = "Commercial invoice"
        case.cause = "documents_missing"
        case.add_file(
            EvidenceFile("AgAD-file-1", FileKind.DOCUMENT, from_customer=True),
            at=T0 + timedelta(hours=1),
            actor_id=555,
            role=Role.CUSTOMER,
            kind=StepKind.DOCUMENT_RECEIVED,
        )
        case.evidence.items.append("Tea set")
        case.new_eta = T0 + timedelta(days=2)
        case.compensation = Compensation(
            CompensationKind.COUPON, Decimal("12.50"), "EUR", T0, 7002, accepted_at=T0 + timedelta(hours=2)
        )
        case.close(CaseResult.RELEASED, at=T0 + timedelta(hours=3), actor_id=7001, role=Role.LOGISTICS)
        await uow.exceptions.save(case)
        await uow.commit()
    async with uows() as uow:
        assert await uow.exceptions.open_of(order.id) is None
        (stored,) = await uow.exceptions.of_order(order.id)
        unrecorded = await uow.exceptions.closed_unrecorded(10)
    assert stored == case
    assert [c.id for c in unrecorded] == [case_id]
    assert stored.evidence.files == [EvidenceFile("AgAD-file-1", FileKind.DOCUMENT, True)]
    assert [step.kind for step in stored.steps] == [
        StepKind.OPENED,
        StepKind.DOCUMENT_RECEIVED,
        StepKind.CLOSED,
    ]


async def test_nothing_is_kept_without_commit(uows: Callable[[], ExceptionUnitOfWork]) -> None:
    """A case added in a rolled-back unit of work is gone."""
    order = make_order()
    async with uows() as uow:
        await uow.orders.add(order)
        await uow.commit()
    async with uows() as uow:
        await uow.exceptions.add(_case(order.id))
    async with uows() as uow:
        assert await uow.exceptions.of_order(order.id) == []


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_the_kpi_archive_and_erasure_read_the_cases(
    backend: str, uows: Callable[[], ExceptionUnitOfWork]
) -> None:
    """The exception-satisfaction KPI counts the answer, the archive keeps the case, erasure blanks notes."""
    order = make_order()
    case = _case(order.id)
    case.add_file(
        EvidenceFile("AgAD-photo", FileKind.PHOTO, from_customer=True),
        at=T0,
        actor_id=555,
        role=Role.CUSTOMER,
        kind=StepKind.DOCUMENT_RECEIVED,
    )
    case.close(CaseResult.RELEASED, at=T0 + timedelta(hours=5), actor_id=7001, role=Role.LOGISTICS)
    assert case.answer(True, at=T0 + timedelta(hours=6), customer_id=555)
    async with uows() as uow:
        await uow.orders.add(order)
        await uow.exceptions.add(case)
        await uow.commit()
    uow = uows()
    assert isinstance(uow, SqlUnitOfWork)
    async with uow:
        tallies = await SqlKpiQueries(uow.session).exception_answers(T0, T0 + timedelta(days=1))
        (archived,) = await uow.aftersales.exceptions_of(order.id)
    assert [(t.department, t.answered, t.satisfied) for t in tallies] == [(Role.LOGISTICS, 1, 1)]
    assert (archived.type, archived.result, archived.note, archived.satisfied) == (
        "customs_hold",
        "released",
        "Invoice missing",
        True,
    )
    erasing: AftersalesUnitOfWork = uows()  # type: ignore[assignment]
    async with erasing:
        counts = await erasing.aftersales.erase(order.id, T0 + timedelta(days=1), directory=None)
        await erasing.commit()
    async with uows() as uow:
        (erased,) = await uow.exceptions.of_order(order.id)
    assert counts["exception_cases"] == 1
    assert erased.note == "" and erased.evidence.files == []
    assert all(step.note == "" and step.files == () for step in erased.steps)
    assert (erased.type, erased.result, erased.satisfied) == (
        ExceptionType.CUSTOMS_HOLD,
        CaseResult.RELEASED,
        True,
    )
