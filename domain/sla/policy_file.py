"""Reading the SLA policy file: the shipped domain/data/sla_policy.toml, overlaid by a site file.

A file given by SLA_POLICY_FILE overrides only what it names (limits, each stage's starts_on, ends_on
and department, the special goods' limits); a wrong key or value is refused naming the key and the
file. The stages, their events and the built-in table are in domain/sla/policy.py.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from os import PathLike
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from domain.orders.status import (
    TEAMS,
    Role,
)
from domain.sla.calendar import Duration
from domain.sla.policy import DEFAULT_STAGES, DORMANT, ClockEvent, SlaPolicy, Stage, StagePolicy

_STAGE_TABLE_KEYS = ("starts_on", "ends_on", "department")
_BUILT_IN = "built-in sla_policy.toml"
_Member = TypeVar("_Member", ClockEvent, Role)


class SlaPolicyError(ValueError):
    """The SLA policy file is unreadable or names something wrong; the message says which key."""

    def __init__(self, key: str | None, problem: str, source: str) -> None:
        self.key = key
        self.problem = problem
        self.source = source
        where = f"{key}: " if key else ""
        super().__init__(f"{where}{problem} (in {source})")


@cache
def shipped_policy() -> SlaPolicy:
    """Returns the built-in policy (without a site file), loaded once."""
    return load_policy()


def load_policy(path: str | PathLike[str] | None = None) -> SlaPolicy:
    """Loads the shipped policy, overridden by the file at path (e.g. SLA_POLICY_FILE) if given."""
    shipped = resources.files("domain.data").joinpath("sla_policy.toml")
    limits: dict[Stage, Duration] = {}
    special: dict[Stage, Duration] = {}
    rows = _Rows(
        {stage: row.starts_on for stage, row in DEFAULT_STAGES.items()},
        {stage: row.ends_on for stage, row in DEFAULT_STAGES.items()},
        {stage: row.department for stage, row in DEFAULT_STAGES.items()},
    )
    _overlay(_read(shipped.read_text(encoding="utf-8"), _BUILT_IN), _BUILT_IN, limits, rows, special)
    missing = [stage for stage in Stage if stage not in limits]
    if missing:
        raise SlaPolicyError(f"limits.{missing[0]}", "has no limit", _BUILT_IN)
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as error:
            raise SlaPolicyError(
                None, f"cannot read the SLA policy file: {error.strerror}", source
            ) from error
        _overlay(_read(text, source), source, limits, rows, special)
    return SlaPolicy(
        MappingProxyType(
            {
                stage: StagePolicy(
                    stage,
                    limits[stage],
                    rows.starts[stage],
                    rows.ends[stage],
                    rows.departments[stage],
                    DEFAULT_STAGES[stage].services,
                    stage in DORMANT,
                )
                for stage in Stage
            }
        ),
        MappingProxyType(special),
    )


@dataclass(frozen=True)
class _Rows:
    """The start, ends and department of every stage while a policy is read."""

    starts: dict[Stage, ClockEvent]
    ends: dict[Stage, tuple[ClockEvent, ...]]
    departments: dict[Stage, Role]


def _read(text: str, source: str) -> dict[str, Any]:
    """Parses a policy document."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise SlaPolicyError(None, f"not valid TOML: {error}", source) from error


def _overlay(
    document: dict[str, Any],
    source: str,
    limits: dict[Stage, Duration],
    rows: _Rows,
    special: dict[Stage, Duration],
) -> None:
    """Checks a policy document and writes what it names over the values so far."""
    for key in document:
        if key not in ("limits", "stages", "special_goods"):
            raise SlaPolicyError(
                key, "unknown table; a policy has [limits], [stages.<stage>] and [special_goods]", source
            )
    for table, into in (("limits", limits), ("special_goods", special)):
        for key, text in _table(document, table, source).items():
            stage = _stage(f"{table}.{key}", key, source)
            try:
                into[stage] = Duration.parse(text)
            except ValueError as error:
                raise SlaPolicyError(f"{table}.{key}", str(error), source) from None
    for key, overrides in _table(document, "stages", source).items():
        stage = _stage(f"stages.{key}", key, source)
        if not isinstance(overrides, dict):
            raise SlaPolicyError(
                f"stages.{key}", "must be a table with starts_on, ends_on and/or department", source
            )
        for field_name, value in overrides.items():
            name = f"stages.{key}.{field_name}"
            if field_name == "starts_on":
                rows.starts[stage] = _member(ClockEvent, value, name, "event", source)
            elif field_name == "ends_on":
                rows.ends[stage] = _events(value, name, source)
            elif field_name == "department":
                department = _member(Role, value, name, "department", source)
                if department not in TEAMS:
                    teams = ", ".join(sorted(TEAMS))
                    raise SlaPolicyError(name, f"{value!r} is not a department; use one of {teams}", source)
                rows.departments[stage] = department
            else:
                keys = ", ".join(_STAGE_TABLE_KEYS[:-1]) + f" or {_STAGE_TABLE_KEYS[-1]}"
                raise SlaPolicyError(name, f"unknown setting; use {keys}", source)


def _events(value: object, name: str, source: str) -> tuple[ClockEvent, ...]:
    """Returns the end events a policy value names: one event or a non-empty list of them."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values:
        raise SlaPolicyError(name, "must be an event or a list of events", source)
    return tuple(dict.fromkeys(_member(ClockEvent, item, name, "event", source) for item in values))


def _table(document: dict[str, Any], key: str, source: str) -> dict[str, Any]:
    """Returns a top-level table of the document, empty if absent."""
    table = document.get(key, {})
    if not isinstance(table, dict):
        raise SlaPolicyError(key, "must be a table", source)
    return table


def _stage(name: str, key: str, source: str) -> Stage:
    """Returns the stage a policy key names."""
    try:
        return Stage(key)
    except ValueError:
        raise SlaPolicyError(name, f"unknown stage {key!r}; stages are {', '.join(Stage)}", source) from None


def _member(kind: type[_Member], value: object, name: str, noun: str, source: str) -> _Member:
    """Returns the enum member a policy value names."""
    if isinstance(value, str) and value in kind.__members__.values():
        return kind(value)
    raise SlaPolicyError(name, f"unknown {noun} {value!r}; use one of {', '.join(kind)}", source)
