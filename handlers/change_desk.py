"""The order desk's Apply under a change card (issue 13, R-6.2): one effect, and who did it when.

A change is applied once; a second press, or a press after the order moved on, is told who
handled it and when, and the card says so.
"""

from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from application.changes import apply_requested_change
from application.finance import FinanceUnitOfWork
from application.review import ReviewSetup
from application.services import Actor
from domain.errors import DomainError, OrderNotFound
from domain.orders.changes import ChangeAlreadyDecided, ChangeRefused, change_of
from domain.orders.requests import OrderRequestKind
from domain.orders.responsibilities import Duty, may
from domain.orders.status import Role
from presentation import change_texts as texts
from presentation.change_texts import ChangeApply
from presentation.execution_texts import staff_name

router = Router(name="change_desk")


@router.callback_query(ChangeApply.filter())
async def on_apply(
    query: CallbackQuery,
    callback_data: ChangeApply,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    review_setup: ReviewSetup,
) -> None:
    """The order desk's Apply: one effect; a second press or a stale card is told who did it and when."""
    message = query.message
    timezone = review_setup.timezone
    if not may(roles, Duty.APPLY_CHANGE):
        await query.answer(_("Only the order desk applies changes."), show_alert=True)
        return
    actor = Actor(query.from_user.id, roles)
    try:
        outcome = await apply_requested_change(
            uow, callback_data.order_id, callback_data.number, actor=actor, setup=review_setup
        )
    except ChangeAlreadyDecided as decided:
        name = await _name(uow, decided.record.decided_by)
        await query.answer(texts.already_text(decided.record, name, _, timezone), show_alert=True)
        return
    except ChangeRefused as refused:
        since = refused.since
        names = {since.actor_id: await _name(uow, since.actor_id)} if since and since.actor_id else {}
        when = texts.since_text(since, names, timezone, _)
        kind = OrderRequestKind(change_of(refused.order, callback_data.number).kind)
        text = texts.refusal_text(refused.order, kind, refused.reason, _, when)
        await query.answer(text[:190], show_alert=True)
        if isinstance(message, Message) and message.html_text:
            late = _(texts.REFUSED_BY).format(reason=_(texts.REASONS[refused.reason]) + when)
            await message.edit_text(f"{message.html_text}\n\n{late}", reply_markup=None)
        return
    except (DomainError, OrderNotFound):
        await query.answer(_(texts.STALE), show_alert=True)
        return
    await query.answer()
    if isinstance(message, Message) and message.html_text:
        line = texts.decided_line(outcome.record, staff_name(query.from_user), _, timezone)
        await message.edit_text(f"{message.html_text}\n\n{line}", reply_markup=None)


async def _name(uow: FinanceUnitOfWork, user_id: int | None) -> str:
    """A staff member's name as they last wrote it, or "a staff member"."""
    name = await uow.reviews.name_of(user_id) if user_id is not None else None
    return name or _("a staff member")
