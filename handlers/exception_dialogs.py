"""The values a case's buttons ask for, typed or sent as the next message (issue 14, R-6.3, R-6.5).

A button of a case's alert (handlers/exceptions.py) sets an ExceptionDialog state; the message
that follows, in that state only, is a delay's new expected time, what customs needs, customer
service's own wording of the notice, a compensation amount, the order desk's exception record,
or the customer's customs document (a photo or PDF). Each runs its use case (in
application/exception_delays.py, customs_holds.py or exceptions.py), which checks the roles.
Handler data: `exception_setup` (application.exceptions.ExceptionSetup).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from application.customs_holds import add_customer_document, record_customs_needs
from application.exception_delays import offer_compensation, parse_amount, record_delay_cause
from application.exceptions import ExceptionSetup, complete_record, tell_customer
from application.ports import UnitOfWork
from domain.errors import ConcurrentModification, DomainError
from domain.exceptions.case import NOTE_MAX, CompensationKind, ExceptionCase, FileKind, OfferTooHigh
from domain.orders.status import Role
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


@router.message(ExceptionDialog.eta, F.text)
async def on_eta(
    message: Message,
    uow: UnitOfWork,
    state: FSMContext,
    exception_setup: ExceptionSetup,
    roles: frozenset[Role],
) -> None:
    """The new expected time of a delay: the cause and time are recorded."""
    typed = await typed_text(message, uow, state, exception_setup, roles)
    if typed is None:
        return
    data, user = typed.data, typed.user
    zone = ZoneInfo(timezone_of(exception_setup))
    try:
        eta = datetime.strptime(typed.text.strip(), "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    except ValueError:
        await message.answer(_(T.BAD_ETA))
        return
    if eta <= exception_setup.clock.now():
        await message.answer(_(T.BAD_ETA))
        return
    step = record_delay_cause(
        exceptions_of(uow),
        data["case_id"],
        actor_id=user.id,
        cause=data["cause"],
        new_eta=eta,
        setup=exception_setup,
    )
    await _finish(message, uow, state, exception_setup, step, T.CAUSE_SAVED)


@router.message(ExceptionDialog.needs, F.text)
async def on_needs(
    message: Message,
    uow: UnitOfWork,
    state: FSMContext,
    exception_setup: ExceptionSetup,
    roles: frozenset[Role],
) -> None:
    """What customs needs: customer service gets the request to send."""
    typed = await typed_text(message, uow, state, exception_setup, roles, limit=NOTE_MAX)
    if typed is None:
        return
    data, user, text = typed.data, typed.user, typed.text
    step = record_customs_needs(
        exceptions_of(uow),
        data["case_id"],
        actor_id=user.id,
        needs=text,
        cause=None,
        setup=exception_setup,
    )
    await _finish(message, uow, state, exception_setup, step, T.NEEDS_SAVED)


@router.message(ExceptionDialog.draft, F.text)
async def on_edited(
    message: Message,
    uow: UnitOfWork,
    state: FSMContext,
    exception_setup: ExceptionSetup,
    roles: frozenset[Role],
) -> None:
    """Customer service's own wording of the message: sent to the customer."""
    typed = await typed_text(message, uow, state, exception_setup, roles, limit=NOTE_MAX, empty=T.EMPTY_TEXT)
    if typed is None:
        return
    data, user, text = typed.data, typed.user, typed.text
    step = tell_customer(
        exceptions_of(uow), data["case_id"], actor_id=user.id, text=text, setup=exception_setup
    )
    await _finish(message, uow, state, exception_setup, step, T.TOLD_STAFF)


@router.message(ExceptionDialog.amount, F.text)
async def on_amount(
    message: Message,
    uow: UnitOfWork,
    state: FSMContext,
    exception_setup: ExceptionSetup,
    roles: frozenset[Role],
) -> None:
    """The compensation amount: the offer goes to the customer."""
    typed = await typed_text(message, uow, state, exception_setup, roles)
    if typed is None:
        return
    data, user = typed.data, typed.user
    try:
        amount = parse_amount(message.text or "")
    except DomainError:
        await message.answer(_(T.BAD_AMOUNT))
        return
    try:
        case = await offer_compensation(
            exceptions_of(uow),
            data["case_id"],
            actor_id=user.id,
            kind=CompensationKind(data["kind"]),
            amount=amount,
            setup=exception_setup,
        )
    except OfferTooHigh as high:
        await message.answer(_(T.TOO_HIGH).format(amount=high.amount, limit=high.limit))
        return
    except (DomainError, ConcurrentModification) as error:
        if amount <= 0:
            await message.answer(_(T.BAD_AMOUNT))
            return
        await state.clear()
        await explain(message, uow, error, exception_setup)
        return
    await state.clear()
    order = await uow.orders.get(case.order_id)
    await message.answer(_(T.OFFERED).format(id=esc(order.display_id)))


@router.message(ExceptionDialog.record, F.text)
async def on_record(
    message: Message,
    uow: UnitOfWork,
    state: FSMContext,
    exception_setup: ExceptionSetup,
    roles: frozenset[Role],
) -> None:
    """The order desk's own exception record."""
    typed = await typed_text(message, uow, state, exception_setup, roles)
    if typed is None:
        return
    data, user = typed.data, typed.user
    step = complete_record(
        exceptions_of(uow),
        data["case_id"],
        actor_id=user.id,
        text=typed.text,
        setup=exception_setup,
    )
    await _finish(message, uow, state, exception_setup, step, T.RECORDED)


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
