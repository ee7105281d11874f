"""What the exception handler modules share (issue 14): the dialog's states and the replies to a refusal.

handlers/exceptions.py (marking and the case alerts' buttons) asks for a value by setting an
ExceptionDialog state; handlers/exception_dialogs.py answers the message that follows. Both turn
a refused use case into a reply the same way (explain) and keep the name staff act under
(remember), and read a typed value (typed_text).
Handler data: `exception_setup` (application.exceptions.ExceptionSetup).
"""

from __future__ import annotations

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, User
from aiogram.utils.i18n import gettext as _

from application.exception_ports import ExceptionUnitOfWork
from application.exceptions import CaseNotFound, CaseOpenAlready, ExceptionSetup
from application.ports import UnitOfWork
from domain.errors import ConcurrentModification, NotPermitted
from domain.orders.status import Role
from handlers.dialogs import DialogStep, dialog_step
from presentation import exception_texts as T
from presentation.execution_texts import staff_name


class ExceptionDialog(StatesGroup):
    """What the next message of a staff member or customer answers."""

    note = State()
    eta = State()
    needs = State()
    draft = State()
    amount = State()
    record = State()
    document = State()


def exceptions_of(uow: UnitOfWork) -> ExceptionUnitOfWork:
    """The unit of work as the exception use cases need it (the SQL one and the fake have the cases)."""
    if not hasattr(uow, "exceptions"):
        raise TypeError("the exception cases live in the SQL database")
    return uow  # type: ignore[return-value]


async def remember(uow: UnitOfWork, user: User | None, roles: frozenset[Role], setup: ExceptionSetup) -> None:
    """Keeps the name staff act under, for "closed by" and the cards (people by name, issue 18)."""
    if user is not None and roles - {Role.CUSTOMER}:
        await uow.reviews.remember_name(user.id, staff_name(user), setup.clock.now())


async def _refused(target: Message | CallbackQuery, text: str) -> None:
    """Tells the user why nothing happened (a toast for a press, a reply for a message)."""
    if isinstance(target, CallbackQuery):
        await target.answer(text, show_alert=True)
    else:
        await target.answer(text)


async def explain(
    target: Message | CallbackQuery, uow: UnitOfWork, error: Exception, setup: ExceptionSetup
) -> None:
    """Turns a refused use case into a clear reply."""
    match error:
        case NotPermitted():
            await _refused(target, _(T.NOT_ALLOWED))
        case CaseOpenAlready():
            order = await uow.orders.get(error.case.order_id)
            await _refused(target, _(T.OPEN_ALREADY).format(id=order.display_id))
        case CaseNotFound():
            await _refused(target, _(T.CASE_GONE))
        case ConcurrentModification():
            await _refused(target, _(T.RACE))
        case _:
            await _refused(target, _(T.CASE_GONE) if not str(error) else str(error))


def timezone_of(setup: ExceptionSetup) -> str:
    """The company's time zone, for times staff type and read."""
    return setup.settings.timezone


async def typed_text(
    message: Message,
    uow: UnitOfWork,
    state: FSMContext,
    setup: ExceptionSetup,
    roles: frozenset[Role],
    *,
    limit: int | None = None,
    empty: str | None = None,
) -> DialogStep | None:
    """A case dialog's message, the staff name kept first (the note's limit and blank check if given)."""
    return await dialog_step(
        message,
        state,
        remember=lambda user: remember(uow, user, roles, setup),
        empty=empty,
        limit=limit,
        too_long=T.NOTE_TOO_LONG,
    )
