"""/failed: the messages the outbox gave up on, for the order desk to follow up (issue 11, finding 1)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from application.ports import UnitOfWork
from domain.errors import OrderNotFound
from domain.orders.responsibilities import Duty, may, roles_for
from domain.orders.status import Role
from handlers.common import CommandSpec
from presentation.keyboards import N_
from presentation.render import esc, fit, local_time, one_line

router = Router(name="outbox")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "failed",
        N_("Messages that could not be delivered"),
        roles_for(Duty.SEE_FAILED_MESSAGES) - {Role.ADMIN},
    ),
)
FAILED_SHOWN = 20
CHANNEL_NAMES = {"email": N_("email to the customer"), "webhook": N_("webhook to the platform")}


@router.message(Command("failed"))
async def show_failed(message: Message, uow: UnitOfWork, roles: frozenset[Role], timezone: str) -> None:
    """Lists the latest undelivered messages: when, to which chat, about which order, and why."""
    if not may(roles, Duty.SEE_FAILED_MESSAGES):
        await message.answer(_("Only the order desk can see undelivered messages."))
        return
    failed = await uow.outbox.failed(FAILED_SHOWN)
    if not failed:
        await message.answer(_("Every message was delivered."))
        return
    lines = [_("<b>Messages not delivered ({count}), newest first</b>").format(count=len(failed))]
    for dead in failed:
        about = ""
        if dead.order_id is not None:
            try:
                about = " · " + esc((await uow.orders.get(dead.order_id)).display_id)
            except OrderNotFound:
                about = ""
        # Email and webhook rows have no chat to name (issue 12): their channel is shown instead.
        where = CHANNEL_NAMES.get(dead.method)
        recipient = _(where) if where else f"{_('chat')} {dead.chat_id}"
        error = esc(one_line(dead.error, 160))
        lines.append(f"• {local_time(dead.created_at, timezone)}{about} · {recipient}: {error}")
    await message.answer(fit(lines, _))
