"""Domain events of exception cases, for the notification policy to act on (R-6)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from domain.orders.events import Event
from domain.orders.status import ExceptionType


@dataclass(frozen=True)
class ExceptionRaised(Event):
    """Someone marked an exception on the order: the order desk and customer service are alerted (R-6)."""

    case_id: int
    kind: ExceptionType
    cause: str | None
    note: str


@dataclass(frozen=True)
class ExceptionClosed(Event):
    """A case closed with its result: the customer is asked whether they are satisfied (R-6.5)."""

    case_id: int
    result: str
    kind: ExceptionType
    # The exception record prefilled from the case's trail, for the order desk to complete.
    draft: str


@dataclass(frozen=True)
class DelayCauseRecorded(Event):
    """Logistics recorded a delay's cause and the new expected time: customer service drafts the notice."""

    case_id: int
    cause: str
    new_eta: datetime
    # Whether the delay is beyond the compensation threshold: customer service may offer one.
    compensable: bool = False


@dataclass(frozen=True)
class CustomsNeedsRecorded(Event):
    """Logistics recorded what customs needs: customer service gets the request to send the customer."""

    case_id: int
    needs: str


@dataclass(frozen=True)
class CustomerToldOfException(Event):
    """Customer service sends the customer the (edited) delay notice or customs request (R-6.3)."""

    case_id: int
    text: str
    # Whether the customer is asked to upload documents in the chat (a customs hold).
    asks_documents: bool = False


@dataclass(frozen=True)
class CompensationOffered(Event):
    """Customer service offers the customer compensation for a long delay; they accept with a button."""

    case_id: int
    kind: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class CaseDocumentReceived(Event):
    """The customer uploaded a document for a case: logistics sees it (customs hold)."""

    case_id: int
    file_id: str
    file_kind: str
