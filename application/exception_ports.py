"""Ports of the exception cases (R-6): the case repository and the unit of work that knows it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from application.ports import UnitOfWork
from domain.exceptions.case import ExceptionCase


class ExceptionRepository(Protocol):
    """Exception cases of orders (storage/exception_repository.py); a case is saved whole."""

    async def add(self, case: ExceptionCase) -> int: ...

    async def get(self, case_id: int) -> ExceptionCase | None: ...

    async def save(self, case: ExceptionCase) -> None: ...

    async def of_order(self, order_id: str) -> list[ExceptionCase]: ...

    async def open_of(self, order_id: str) -> ExceptionCase | None: ...

    async def closed_unrecorded(self, limit: int) -> Sequence[ExceptionCase]: ...


class ExceptionUnitOfWork(UnitOfWork, Protocol):
    """A unit of work that also knows the exception cases."""

    exceptions: ExceptionRepository
