"""Where an order stands in customer words (shipment details, what happens next and when) and /todo.

progress_lines() is the one renderer of "what is known and what comes next": /track (the customer's
timeline in handlers/my_orders.py) and every customer update (handlers/notifications.py) use it.
/todo in a team chat lists that department's open execution work, oldest first, with a button
that puts the order's action card in the chat again.

Handler data /todo needs besides `uow` and `roles`: `team_chats` (department value -> chat id) and
`execution_setup` (domain.execution.ExecutionSetup).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from application.conversation import ConversationSetup
from application.execution import ExecutionSetup
from application.ports import UnitOfWork
from domain.orders.model import Order
from domain.orders.responsibilities import EXECUTION_TEAMS, Duty, may, roles_for, work_of
from domain.orders.status import IN_EXECUTION, OrderStatus, Role
from domain.sla.alerts import departments_of_chat
from domain.sla.clocks import running_clock
from handlers.common import CommandSpec
from presentation.execution_cards import ExecAction, ExecStep, entered_status_at
from presentation.keyboards import N_
from presentation.render import STATUS_NAMES, duration, esc, money, one_line
from presentation.tracking import local

router = Router(name="tracking")

# Staff whose open work is not execution steps: /todo tells each theirs (issue 18).
OTHER_WORK_ROLES = frozenset({Role.CUSTOMER_SERVICE, Role.FINANCE, Role.MANAGEMENT})
# Orders finance looks at for payment: in review or under way, not paid yet.
UNPAID_STATUSES = (OrderStatus.PENDING_REVIEW, OrderStatus.PENDING_SECOND_REVIEW, *IN_EXECUTION)
UNPAID_LISTED = 20

TODO_LIMIT = 30
COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "todo",
        N_("This team's open orders, oldest first"),
        roles_for(Duty.SEE_TEAM_WORK) - {Role.ADMIN} | OTHER_WORK_ROLES,
    ),
)
# The teams with open execution work; the responsibility table says in which statuses.
DEPARTMENT_WORK: Mapping[Role, tuple[OrderStatus, ...]] = {team: work_of(team) for team in EXECUTION_TEAMS}


def todo_line(order: Order, now: datetime, timezone: str) -> str:
    """One line of /todo: the order, its status, how long it has waited and its due time."""
    entered = entered_status_at(order) or order.created_at
    line = f"• <b>{esc(order.display_id)}</b> — {_(STATUS_NAMES[order.status])} — " + _(
        "waiting {waited}"
    ).format(waited=duration(now - entered))
    clock = running_clock(order)
    if clock is not None:
        late = " ⚠️" if (clock.paused_at or now) > clock.due_at else ""
        line += ", " + _("due {time}").format(time=local(clock.due_at, timezone)) + late
    return line


@router.message(Command("todo"))
async def show_todo(
    message: Message,
    uow: UnitOfWork,
    roles: frozenset[Role],
    team_chats: Mapping[str, int],
    execution_setup: ExecutionSetup,
    conversation_setup: ConversationSetup | None = None,
) -> None:
    """Lists the open work of the chat's department(s), oldest first, with a button per order."""
    if not may(roles, Duty.SEE_TEAM_WORK):
        await message.answer(await other_work(uow, roles, execution_setup, conversation_setup))
        return
    departments = [d for d in DEPARTMENT_WORK if d in departments_of_chat(message.chat.id, team_chats)]
    if not departments:
        await message.answer(
            _("Send /todo in the warehouse or logistics chat: it lists that team's open orders.")
        )
        return
    statuses = [status for department in departments for status in DEPARTMENT_WORK[department]]
    orders = await uow.orders.list_by_status(statuses, limit=200)
    if not orders:
        await message.answer(_("Nothing to do: no order is waiting for this team."))
        return
    oldest = sorted(orders, key=lambda order: entered_status_at(order) or order.created_at)[:TODO_LIMIT]
    now = execution_setup.clock.now()
    lines = [_("<b>Open orders ({count}), oldest first</b>").format(count=len(orders))]
    lines += [todo_line(order, now, execution_setup.timezone) for order in oldest]
    buttons = [
        [
            InlineKeyboardButton(
                text=f"▶ {order.display_id}",
                callback_data=ExecAction(order_id=order.id, step=ExecStep.OPEN).pack(),
            )
        ]
        for order in oldest
    ]
    await message.answer("\n".join(lines), reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons))


async def other_work(
    uow: UnitOfWork,
    roles: frozenset[Role],
    setup: ExecutionSetup,
    conversation_setup: ConversationSetup | None,
) -> str:
    """The open work of customer service, finance and management, or who /todo is for."""
    lines: list[str] = []
    zone = setup.timezone
    if Role.CUSTOMER_SERVICE in roles and conversation_setup is not None:
        waiting = await conversation_setup.store_of(uow).unanswered(TODO_LIMIT)
        lines.append(_("<b>Customer messages waiting for an answer ({count})</b>").format(count=len(waiting)))
        lines += [
            "• "
            + _("{customer} at {time}: {text}").format(
                customer=esc(asked.author_name),
                time=local(asked.at, zone),
                text=esc(one_line(asked.text, 80)),
            )
            for asked in waiting
        ]
        if waiting:
            lines.append(_("Answer each by replying to its card in the customer-service chat."))
    if Role.FINANCE in roles:
        unpaid = [
            order for order in await uow.orders.list_by_status(UNPAID_STATUSES, limit=200) if not order.paid
        ][:UNPAID_LISTED]
        lines.append(_("<b>Orders under way not paid yet ({count})</b>").format(count=len(unpaid)))
        lines += [
            f"• <b>{esc(order.display_id)}</b> — {money(order.amount, order.currency)}" for order in unpaid
        ]
        lines.append(_("Record a payment with /receipt."))
    if Role.MANAGEMENT in roles:
        lines.append(_("Management follows every team: /sla (overdue steps) and /kpi (the month's figures)."))
    return "\n".join(lines) if lines else _("/todo is for staff.")
