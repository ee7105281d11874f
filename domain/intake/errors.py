"""What intake refuses: one FieldError per wrong field, all of them at once in InvalidInput."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import DomainError
from domain.intake.messages import describe


@dataclass(frozen=True)
class FieldError:
    """One thing wrong with one field: where (path), what (stable code), and the message's values."""

    field: str
    code: str
    params: dict[str, str] = dataclasses.field(default_factory=dict)


class InvalidInput(DomainError):
    """Raised by the single-field functions; carries the field errors."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        self.errors = list(errors)
        super().__init__("; ".join(describe(e) for e in self.errors))


def fail(field_path: str, code: str, **params: str) -> InvalidInput:
    """Makes the exception for one failed field."""
    return InvalidInput([FieldError(field_path, code, dict(params))])
