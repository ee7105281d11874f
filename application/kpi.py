"""KPI use cases (R-8.2): a month's four KPIs for the company or a team, read through the KPI queries port."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from application.ports import UnitOfWork
from domain.clock import Clock
from domain.kpi import (
    ExceptionTally,
    KpiCard,
    KpiInputs,
    Month,
    OrderError,
    StageTally,
    department_lookup,
    kpi_card,
)
from domain.orders.status import Role
from domain.sla.clocks import SlaContext


class KpiQueries(Protocol):
    """The counts of a period [start, end) the KPIs are worked out from (storage/kpi_repository.py)."""

    async def orders_received(self, start: datetime, end: datetime) -> int: ...

    async def order_errors(self, start: datetime, end: datetime) -> list[OrderError]: ...

    async def closed_clocks(self, start: datetime, end: datetime) -> list[StageTally]: ...

    async def exception_answers(self, start: datetime, end: datetime) -> list[ExceptionTally]: ...

    async def completed_orders(self, start: datetime, end: datetime) -> int: ...

    async def complained_orders(self, start: datetime, end: datetime) -> int: ...


@dataclass(frozen=True)
class KpiSetup:
    """What the KPI use cases need besides the unit of work: the queries on it, the SLA policy, the time."""

    queries_of: Callable[[UnitOfWork], KpiQueries]
    sla: SlaContext
    clock: Clock


async def kpi_inputs(queries: KpiQueries, month: Month, setup: KpiSetup) -> KpiInputs:
    """Reads the counts of one month (judged in the company time zone)."""
    start, end = month.bounds(setup.sla.calendar.zone)
    return KpiInputs(
        orders=await queries.orders_received(start, end),
        errors=await queries.order_errors(start, end),
        stages=await queries.closed_clocks(start, end),
        exceptions=await queries.exception_answers(start, end),
        completed=await queries.completed_orders(start, end),
        complained=await queries.complained_orders(start, end),
    )


async def month_kpis(
    uow: UnitOfWork, setup: KpiSetup, month: Month, scope: frozenset[Role] | None = None
) -> KpiCard:
    """Works out a month's KPIs for the company, or for the departments in scope (a team chat)."""
    inputs = await kpi_inputs(setup.queries_of(uow), month, setup)
    return kpi_card(month, inputs, department_lookup(setup.sla.policy), scope)
