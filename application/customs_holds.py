"""Customs holds (R-4.4, R-6.3): the hold, what customs needs, the customer's documents.

Logistics records that customs holds the goods (a customs-hold exception case opens through
application/exceptions.py open_case) and what customs needs; customer service asks the customer
(exceptions.tell_customer), who uploads the documents in the chat for logistics. The case closes
with a release, return or destruction through exceptions.close_case.

Signatures (uow: an ExceptionUnitOfWork; setup: application.exceptions.ExceptionSetup):

- `hold_at_customs(uow, order_id, *, actor_id, reason, setup) -> ExceptionCase`
  Logistics' "Held by customs" (Action.HOLD_AT_CUSTOMS): opens a customs-hold case as a marking does
  (exceptions.raise_exception with that action).
- `record_customs_needs(uow, case_id, *, actor_id, needs, cause, setup) -> ExceptionCase`
  Logistics records what customs needs (CustomsNeedsRecorded): customer service gets the request.
- `add_customer_document(uow, order_id, *, customer_id, file_id, kind, setup) -> ExceptionCase`
  The customer's photo or PDF kept on the order's open case (CaseDocumentReceived tells logistics).
"""

from __future__ import annotations

from application.exception_ports import ExceptionUnitOfWork
from application.exceptions import (
    CaseNotFound,
    ExceptionSetup,
    commit_case_step,
    load_open_case,
    raise_exception,
)
from domain.errors import DomainError
from domain.exceptions.case import NOTE_MAX, EvidenceFile, ExceptionCase, FileKind, StepKind
from domain.exceptions.events import CaseDocumentReceived, CustomsNeedsRecorded
from domain.orders.responsibilities import Duty, require
from domain.orders.status import Action, ExceptionType, Role
from domain.text import checked_file_id, required_text


async def hold_at_customs(
    uow: ExceptionUnitOfWork, order_id: str, *, actor_id: int, reason: str, setup: ExceptionSetup
) -> ExceptionCase:
    """Logistics records that customs holds the goods (R-4.4): a customs-hold case opens."""
    text = required_text(reason, NOTE_MAX, "a customs hold needs its reason")
    # Opened as any department's marking is, through logistics' own action.
    return await raise_exception(
        uow,
        order_id,
        actor_id=actor_id,
        kind=ExceptionType.CUSTOMS_HOLD,
        note=text,
        setup=setup,
        action=Action.HOLD_AT_CUSTOMS,
    )


async def record_customs_needs(
    uow: ExceptionUnitOfWork,
    case_id: int,
    *,
    actor_id: int,
    needs: str,
    cause: str | None,
    setup: ExceptionSetup,
) -> ExceptionCase:
    """Logistics records what customs needs for a held order: customer service asks the customer."""
    text = required_text(needs, NOTE_MAX, "write what customs needs")
    async with uow:
        case, order, roles = await load_open_case(uow, case_id, actor_id)
        role = require(roles, Duty.FIND_DELAY_CAUSE)
        if case.type is not ExceptionType.CUSTOMS_HOLD:
            raise DomainError(f"exception case {case_id} is not a customs hold")
        now = setup.clock.now()
        case.customs_needs = text
        if cause is not None:
            case.cause = setup.catalog.check(case.type, cause)
        case.add_step(StepKind.CUSTOMS_NEEDS, at=now, actor_id=actor_id, role=role, note=text)
        order.note(text, actor_id=actor_id, role=role, now=now, action="customs_needs_recorded")
        order.record(CustomsNeedsRecorded(order.event_id(), order.id, now, case_id, text))
        await commit_case_step(uow, case, order, now, setup)
    return case


async def add_customer_document(
    uow: ExceptionUnitOfWork,
    order_id: str,
    *,
    customer_id: int,
    file_id: str,
    kind: FileKind,
    setup: ExceptionSetup,
) -> ExceptionCase:
    """The customer uploads a document (photo or PDF) for their order's open case: logistics sees it."""
    file_id = checked_file_id(file_id, "the file has no usable id")
    async with uow:
        order = await uow.orders.get(order_id)
        order.require_customer(customer_id, "upload_case_document")
        case = await uow.exceptions.open_of(order_id)
        if case is None or case.id is None:
            raise CaseNotFound(f"order {order.display_id} has no open exception case")
        now = setup.clock.now()
        case.add_file(
            EvidenceFile(file_id, kind, from_customer=True),
            at=now,
            actor_id=customer_id,
            role=Role.CUSTOMER,
            kind=StepKind.DOCUMENT_RECEIVED,
        )
        order.note(
            kind.value, actor_id=customer_id, role=Role.CUSTOMER, now=now, action="case_document_received"
        )
        order.record(CaseDocumentReceived(order.event_id(), order.id, now, case.id, file_id, kind.value))
        await commit_case_step(uow, case, order, now, setup)
    return case
