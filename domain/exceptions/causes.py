"""The cause list of each exception type and the compensation limits per role, kept as data.

domain/data/exception_causes.toml names, per type staff can mark, the department that handles
it and the causes offered as buttons; and the most each role may offer as compensation on its own.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from types import MappingProxyType

from domain.errors import DomainError
from domain.orders.status import ExceptionType, Role

# The types marked through an exception case; cancellations and modifications have flows of their own.
MARKABLE: tuple[ExceptionType, ...] = (
    ExceptionType.DELAY,
    ExceptionType.DAMAGED,
    ExceptionType.WRONG_SHIPMENT,
    ExceptionType.LOST,
    ExceptionType.CUSTOMS_HOLD,
    ExceptionType.OTHER,
)


class UnknownCause(DomainError):
    """A cause that is not on the type's list."""

    def __init__(self, kind: ExceptionType, cause: str) -> None:
        self.kind = kind
        self.cause = cause
        super().__init__(f"{cause!r} is not a cause of {kind.value} exceptions")


@dataclass(frozen=True)
class TypeCauses:
    """One type's handling department and its causes in button order."""

    department: Role
    causes: tuple[str, ...]


@dataclass(frozen=True)
class CauseCatalog:
    """Every markable type's causes, and the compensation limits per role (percent of the amount)."""

    types: Mapping[ExceptionType, TypeCauses]
    compensation_limits: Mapping[Role, Decimal]

    def causes_of(self, kind: ExceptionType) -> tuple[str, ...]:
        """The causes of a type, in button order."""
        return self.types[kind].causes

    def department_of(self, kind: ExceptionType) -> Role:
        """The department that handles cases of a type."""
        return self.types[kind].department

    def check(self, kind: ExceptionType, cause: str | None) -> str | None:
        """Returns the cause if the type lists it (None: not known yet); raises UnknownCause otherwise."""
        if cause is None:
            return None
        if kind not in self.types or cause not in self.types[kind].causes:
            raise UnknownCause(kind, cause)
        return cause

    def limit_percent(self, roles: frozenset[Role]) -> Decimal:
        """The highest share of the order's amount any of the roles may offer (0: none)."""
        return max((self.compensation_limits.get(role, Decimal(0)) for role in roles), default=Decimal(0))


def parse_catalog(text: str) -> CauseCatalog:
    """Reads a cause catalog document; raises ValueError naming the wrong key."""
    document = tomllib.loads(text)
    types: dict[ExceptionType, TypeCauses] = {}
    for key, table in document.get("types", {}).items():
        try:
            kind = ExceptionType(key)
        except ValueError:
            raise ValueError(f"types.{key}: unknown exception type") from None
        causes = tuple(str(cause) for cause in table["causes"])
        if not causes or len(set(causes)) != len(causes):
            raise ValueError(f"types.{key}.causes: must list distinct causes")
        types[kind] = TypeCauses(Role(table["department"]), causes)
    missing = [kind.value for kind in MARKABLE if kind not in types]
    if missing:
        raise ValueError(f"types.{missing[0]}: missing")
    limits = {
        Role(role): Decimal(str(value)) for role, value in document.get("compensation_limits", {}).items()
    }
    return CauseCatalog(MappingProxyType(types), MappingProxyType(limits))


@cache
def cause_catalog() -> CauseCatalog:
    """The shipped cause catalog, loaded once."""
    text = resources.files("domain.data").joinpath("exception_causes.toml").read_text(encoding="utf-8")
    return parse_catalog(text)
