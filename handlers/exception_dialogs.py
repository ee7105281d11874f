"""The values a case's buttons ask for, typed or sent as the next message (issue 14, R-6.3, R-6.5).

A button of a case's alert (handlers/exceptions.py) sets an ExceptionDialog state; the message
that follows, in that state only, is a delay's new expected time, what customs needs, customer
service's own wording of the notice, a compensation amount, the order desk's exception record,
or the customer's customs document (a photo or PDF). Each runs its use case (in
application/exception_delays.py, customs_holds.py or exceptions.py), which checks the roles.
Handler data: `exception_setup` (application.exceptions.ExceptionSetup).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from application.customs_holds import add_customer_document, record_customs_needs
from application.exception_delays import offer_compensation, parse_amount, record_delay_cause
from application.exception_ports import ExceptionUnitOfWork
from application.exceptions import ExceptionSetup, complete_record, tell_customer
from application.ports import UnitOfWork
from domain.errors import ConcurrentModification, DomainError
from domain.exceptions.case import NOTE_MAX, CompensationKind, ExceptionCase, FileKind, OfferTooHigh
from domain.orders.status import Role
from handlers.dialogs import DialogStep
from handlers.exception_support import ExceptionDialog, exceptions_of, explain, timezone_of, typed_text
from presentation import exception_texts as T
from presentation.render import esc

router = Router(name="exception_dialogs")


async def _finish(
    message: Message,
    uow: UnitOfWork,
    state: FSMContext,
    setup: ExceptionSetup,
    step: Awaitable[ExceptionCase],
    done: str,
) -> None:
    """Runs a dialog's last step and says it is done, or why not; the dialog ends either way."""
    try:
        case = await step
    except (DomainError, ConcurrentModification) as error:
        await state.clear()
        await explain(message, uow, error, setup)
        return
    await state.clear()
    order = await uow.orders.get(case.order_id)
    await message.answer(_(done).format(id=esc(order.display_id)))


class _TextUseCase(Protocol):
    """A case use case that takes a typed text as it is (the customer's message, the exception record)."""

    def __call__(
        self, uow: ExceptionUnitOfWork, case_id: int, *, actor_id: int, text: str, setup: ExceptionSetup
    ) -> Awaitable[ExceptionCase]: ...


@dataclass(frozen=True)
class _Value:
    """A value typed into a case dialog, with what its step acts through."""

    message: Message
    uow: UnitOfWork
    state: FSMContext
    setup: ExceptionSetup
    typed: DialogStep

    @property
    def case_id(self) -> int:
        """The case the dialog's button was pressed on."""
        return int(self.typed.data["case_id"])

    @property
    def actor_id(self) -> int:
        """Who typed the value."""
        return self.typed.user.id

    @property
    def cases(self) -> ExceptionUnitOfWork:
        """The unit of work as the case use cases need it."""
        return exceptions_of(self.uow)

    async def finish(self, step: Awaitable[ExceptionCase], done: str) -> None:
        """Runs the step's use case and says it is done, or why not; the dialog ends either way."""
        await _finish(self.message, self.uow, self.state, self.setup, step, done)

    async def pass_text(self, use_case: _TextUseCase, done: str) -> None:
        """Runs a use case that takes the typed text as it is, and says it is done, or why not."""
        step = use_case(
            self.cases, self.case_id, actor_id=self.actor_id, text=self.typed.text, setup=self.setup
        )
        await self.finish(step, done)


async def _eta(value: _Value) -> None:
    """The new expected time of a delay: the cause and time are recorded."""
    zone = ZoneInfo(timezone_of(value.setup))
    try:
        eta = datetime.strptime(value.typed.text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    except ValueError:
        await value.message.answer(_(T.BAD_ETA))
        return
    if eta <= value.setup.clock.now():
        await value.message.answer(_(T.BAD_ETA))
        return
    step = record_delay_cause(
        value.cases,
        value.case_id,
        actor_id=value.actor_id,
        cause=value.typed.data["cause"],
        new_eta=eta,
        setup=value.setup,
    )
    await value.finish(step, T.CAUSE_SAVED)


async def _needs(value: _Value) -> None:
    """What customs needs: customer service gets the request to send."""
    step = record_customs_needs(
        value.cases,
        value.case_id,
        actor_id=value.actor_id,
        needs=value.typed.text,
        cause=None,
        setup=value.setup,
    )
    await value.finish(step, T.NEEDS_SAVED)


async def _edited(value: _Value) -> None:
    """Customer service's own wording of the message: sent to the customer."""
    await value.pass_text(tell_customer, T.TOLD_STAFF)


async def _amount(value: _Value) -> None:
    """The compensation amount: the offer goes to the customer."""
    message, uow, state, setup, data = value.message, value.uow, value.state, value.setup, value.typed.data
    try:
        amount = parse_amount(value.typed.text)
    except DomainError:
        await message.answer(_(T.BAD_AMOUNT))
        return
    try:
        case = await offer_compensation(
            value.cases,
            value.case_id,
            actor_id=value.actor_id,
            kind=CompensationKind(data["kind"]),
            amount=amount,
            setup=setup,
        )
    except OfferTooHigh as high:
        await message.answer(_(T.TOO_HIGH).format(amount=high.amount, limit=high.limit))
        return
    except (DomainError, ConcurrentModification) as error:
        if amount <= 0:
            await message.answer(_(T.BAD_AMOUNT))
            return
        await state.clear()
        await explain(message, uow, error, setup)
        return
    await state.clear()
    order = await uow.orders.get(case.order_id)
    await message.answer(_(T.OFFERED).format(id=esc(order.display_id)))


async def _record(value: _Value) -> None:
    """The order desk's own exception record."""
    await value.pass_text(complete_record, T.RECORDED)


@dataclass(frozen=True)
class _Step:
    """How a case dialog's typed value is read (its limit and blank check) and acted on."""

    act: Callable[[_Value], Awaitable[None]]
    limit: int | None = None
    empty: str | None = None


_STEPS: dict[str | None, _Step] = {
    ExceptionDialog.eta.state: _Step(_eta),
    ExceptionDialog.needs.state: _Step(_needs, limit=NOTE_MAX),
    ExceptionDialog.draft.state: _Step(_edited, limit=NOTE_MAX, empty=T.EMPTY_TEXT),
    ExceptionDialog.amount.state: _Step(_amount),
    ExceptionDialog.record.state: _Step(_record),
}


@router.message(StateFilter(*_STEPS), F.text)
async def on_value(
    message: Message,
    uow: UnitOfWork,
    state: FSMContext,
    exception_setup: ExceptionSetup,
    roles: frozenset[Role],
    raw_state: str | None,
) -> None:
    """A value a case's button asked for, read once and acted on by the step its dialog state names."""
    step = _STEPS[raw_state]
    typed = await typed_text(message, uow, state, exception_setup, roles, limit=step.limit, empty=step.empty)
    if typed is None:
        return
    await step.act(_Value(message, uow, state, exception_setup, typed))


@router.message(ExceptionDialog.document, F.photo | F.document)
async def on_document(
    message: Message, uow: UnitOfWork, state: FSMContext, exception_setup: ExceptionSetup
) -> None:
    """The customer's photo or PDF for their held order: kept on the case, shown to logistics."""
    data = await state.get_data()
    user = message.from_user
    assert user is not None
    if message.photo:
        file_id, kind = message.photo[-1].file_id, FileKind.PHOTO
    else:
        assert message.document is not None
        file_id, kind = message.document.file_id, FileKind.DOCUMENT
    step = add_customer_document(
        exceptions_of(uow),
        data["order_id"],
        customer_id=user.id,
        file_id=file_id,
        kind=kind,
        setup=exception_setup,
    )
    await _finish(message, uow, state, exception_setup, step, T.DOCUMENT_THANKS)


@router.message(ExceptionDialog.document)
async def on_not_document(message: Message, uow: UnitOfWork, state: FSMContext) -> None:
    """Text where a document was asked for: says what to send."""
    data = await state.get_data()
    order = await uow.orders.get(data["order_id"])
    await message.answer(_(T.NOT_A_DOCUMENT).format(id=esc(order.display_id)))
