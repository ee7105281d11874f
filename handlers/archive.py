"""Completion by hand, Report a problem, /archive and the /track of an erased order (R-7.1, R-7.3).

`/complete <number> <reason>` lets the order desk complete an order by hand; the delivered
message's *Report a problem* records the problem (the order then waits instead of completing by
itself) and puts a card in customer service's chat; `/archive <number>` sends staff the order's
archive ZIP; `/track` of an order whose personal data was erased says it is no longer kept.

Handler data: `aftersales_setup` (application.aftersales_ports.AftersalesSetup).
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from application.aftersales_ports import AftersalesSetup
from application.archive import fetch_archive
from application.completion import (
    NotDelivered,
    NotYourOrder,
    ProblemAlreadyReported,
    complete_by_hand,
    report_problem,
)
from application.ports import UnitOfWork
from application.services import Actor
from domain.aftersales.retention import is_erased
from domain.errors import ConcurrentModification, DomainError, NotPermitted, OrderNotFound
from domain.orders.responsibilities import DESK, STAFF
from domain.orders.status import Role
from handlers.common import CommandSpec, own_chat_presser, pressed_own_order
from handlers.survey import aftersales_of
from presentation.claims_texts import OTHER_PROBLEM, WHAT_WRONG, ClaimReport, report_keyboard
from presentation.keyboards import N_
from presentation.labels import NOT_YOUR_ORDER
from presentation.render import HtmlTemplate, esc
from presentation.survey_texts import PROBLEM_AGAIN, PROBLEM_LATE, PROBLEM_THANKS, ProblemAction

router = Router(name="archive")
# An order reference or number is short; anything longer is not one.
REFERENCE_MAX = 32
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("complete", N_("Complete an order by hand: /complete <number> <reason>"), DESK),
    CommandSpec("archive", N_("Get an order's archive: /archive <number>"), STAFF),
)
NO_LONGER_KEPT = N_("Order {id} is no longer kept: its data was deleted when the retention period ended.")


@router.message(Command("complete"))
async def complete(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    aftersales_setup: AftersalesSetup,
) -> None:
    """The order desk completes an order by hand, with a reason."""
    if not roles & DESK:
        await message.answer(_("/complete is for the order desk."))
        return
    parts = (command.args or "").split(maxsplit=1)
    if len(parts) < 2 or len(parts[0]) > REFERENCE_MAX:
        await message.answer(
            _(
                "Send /complete, the order number and the reason, "
                "e.g. /complete 20260315001 customer confirmed by phone."
            )
        )
        return
    number, reason = parts
    user_id = message.from_user.id if message.from_user else None
    try:
        order = await complete_by_hand(
            aftersales_of(uow), number, Actor(user_id, roles), reason, aftersales_setup
        )
    except LookupError:
        await message.answer(_("I found no order {number}.").format(number=esc(number)), parse_mode="HTML")
        return
    except NotDelivered:
        await message.answer(
            _(
                "Order {number} cannot be completed now: only delivered, cancelled or exception orders can."
            ).format(number=esc(number)),
            parse_mode="HTML",
        )
        return
    except NotPermitted:
        await message.answer(_("/complete is for the order desk."))
        return
    except ConcurrentModification:
        await uow.rollback()
        await message.answer(
            _("Someone changed order {number} at the same time; please try again.").format(
                number=esc(number)
            ),
            parse_mode="HTML",
        )
        return
    await message.answer(_("Order {id} is completed.").format(id=esc(order.display_id)), parse_mode="HTML")


@router.message(Command("archive"))
async def archive(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    aftersales_setup: AftersalesSetup,
) -> None:
    """Sends staff the archive ZIP of an order."""
    if not roles & STAFF:
        await message.answer(_("/archive is for staff."))
        return
    number = (command.args or "").strip()
    if not number or len(number) > REFERENCE_MAX:
        await message.answer(_("Send /archive and the order number, e.g. /archive 20260315001."))
        return
    order = await uow.orders.find(number)
    if order is None:
        await message.answer(_("I found no order {number}.").format(number=esc(number)), parse_mode="HTML")
        return
    if is_erased(order):
        await message.answer(_(NO_LONGER_KEPT).format(id=esc(order.display_id)), parse_mode="HTML")
        return
    stored = await fetch_archive(aftersales_of(uow), order.id, aftersales_setup)
    if stored is None:
        await message.answer(
            _("Order {id} is not archived yet (it is archived within a week of completion).").format(
                id=esc(order.display_id)
            ),
            parse_mode="HTML",
        )
        return
    await message.answer_document(
        BufferedInputFile(stored.content, filename=stored.filename),
        caption=_("Archive of order {id}, SHA-256 {sha}").format(id=esc(order.display_id), sha=stored.sha256),
        parse_mode="HTML",
    )


@router.callback_query(ProblemAction.filter())
async def on_problem(query: CallbackQuery, callback_data: ProblemAction, uow: UnitOfWork) -> None:
    """The delivered message's Report a problem: asks what is wrong (damaged or wrong goods, other; R-6.4)."""
    message = query.message
    order = await pressed_own_order(query, uow, callback_data.order_id)
    if order is None:
        return
    await query.answer()
    if isinstance(message, Message):
        await message.answer(
            _(WHAT_WRONG).format(id=esc(order.display_id)),
            parse_mode="HTML",
            reply_markup=report_keyboard(order, lambda text: HtmlTemplate(_(text))),
        )


@router.callback_query(ClaimReport.filter(F.kind == OTHER_PROBLEM))
async def on_other_problem(
    query: CallbackQuery, callback_data: ClaimReport, uow: UnitOfWork, aftersales_setup: AftersalesSetup
) -> None:
    """The customer reports a problem that is not damaged or wrong goods (R-7.1)."""
    user, message = await own_chat_presser(query), query.message
    if user is None:
        return
    try:
        order = await report_problem(aftersales_of(uow), callback_data.order_id, user.id, aftersales_setup)
    except (NotYourOrder, OrderNotFound):
        await query.answer(_(NOT_YOUR_ORDER), show_alert=True)
        return
    except ProblemAlreadyReported as again:
        await query.answer(_(PROBLEM_AGAIN).format(id=str(again)), show_alert=True)
        return
    except NotDelivered as late:
        await query.answer(_(PROBLEM_LATE).format(id=str(late)), show_alert=True)
        return
    except (ConcurrentModification, DomainError):
        await uow.rollback()
        await query.answer(_(PROBLEM_LATE).format(id=""), show_alert=True)
        return
    await query.answer(_(PROBLEM_THANKS).format(id=order.display_id), show_alert=True)
    if isinstance(message, Message):
        await message.edit_reply_markup(reply_markup=None)
