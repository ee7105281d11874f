"""/offline: order-desk staff enter hotline, service-point and email orders (R-1.3, R-1.4).

The order wizard (handlers/intake.py) runs with the offline steps in front: the channel, the time
the order was received (typed in the business time zone, not in the future) and the urgent flag;
the preview asks staff to record the customer's confirmation before Submit. place_order records
an entry later than 1 hour after receipt (urgent: 30 minutes) as late.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from domain.orders.responsibilities import Duty, may, roles_for
from domain.orders.status import Role
from handlers.common import CommandSpec
from handlers.intake import DEFAULT_TIMEZONE, start_wizard
from handlers.intake_states import OFFLINE
from presentation.keyboards import N_

router = Router(name="offline")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "offline",
        N_("Enter an order received by phone, at a service point or by email"),
        roles_for(Duty.ENTER_OFFLINE_ORDER),
    ),
)


def may_enter_offline_orders(roles: frozenset[Role]) -> bool:
    """Whether the user works at the order desk (or is an admin)."""
    return may(roles, Duty.ENTER_OFFLINE_ORDER)


@router.message(Command("offline"), F.chat.type == ChatType.PRIVATE)
async def offline_order(
    message: Message, state: FSMContext, roles: frozenset[Role], locale: str, timezone: str = DEFAULT_TIMEZONE
) -> None:
    """Starts the offline order wizard for order-desk staff; refuses everybody else."""
    if not may_enter_offline_orders(roles):
        await message.answer(_("Only order-desk staff can enter offline orders."))
        return
    intro = _(
        "New offline order. Check every field with the customer as you enter it; the order is submitted "
        "only after you record their confirmation."
    )
    await start_wizard(message, state, OFFLINE, locale, timezone, intro)


@router.message(Command("offline"))
async def offline_order_in_group(message: Message) -> None:
    """Keeps customer data out of group chats: offline orders are entered in the private chat."""
    await message.answer(_("Please enter offline orders in your private chat with me."))
