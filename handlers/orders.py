"""/order <reference or number>: the order card, its timeline and the actions the user may take now."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from aiogram import Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject
from aiogram.types import InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from application.notifier import staff_names
from application.ports import UnitOfWork
from application.review import ReviewSetup
from domain.orders.model import Order
from domain.orders.responsibilities import DESK, HEAD, may
from domain.orders.status import Action, OrderStatus, Role, allowed_actions
from domain.sla.clocks import clock_left
from handlers.common import CommandSpec, staff_roles
from handlers.review import in_desk_place
from presentation.cancellation_texts import staff_buttons
from presentation.execution_cards import STEP_ACTIONS
from presentation.keyboards import N_
from presentation.labels import STAGE_LABELS, field, labelled, time_left, with_colon
from presentation.render import (
    ACTION_NAMES,
    STATUS_NAMES,
    Translate,
    esc,
    fit,
    local_time,
    order_summary,
    review_keyboard,
    timeline,
)

router = Router(name="orders")

COMMANDS: tuple[CommandSpec, ...] = (CommandSpec("order", N_("Show an order: /order <reference or number>")),)
# What a customer sees of the trail: status changes, not who or internal notes.
CUSTOMER_VISIBLE = frozenset({"assign_number"})
# Actions someone can take through a button or command today (review and execution cards); the rest
# (complete, cancellation, exceptions) wait for their flows and are not offered as actions yet.
OFFERED = frozenset(
    {
        Action.APPROVE,
        Action.REFER_SECOND_REVIEW,
        Action.APPROVE_SECOND,
        Action.REJECT,
        *STEP_ACTIONS.values(),
    }
)
# The staff card shows the latest lines of the trail; the whole trail is in the archive.
TIMELINE_SHOWN = 40


def latest_lines(lines: list[str], shown: int, t: Translate) -> list[str]:
    """The last lines of a trail, and how many earlier ones there are."""
    if len(lines) <= shown:
        return lines
    earlier = t(N_("… {count} earlier lines")).format(count=len(lines) - shown)
    return [earlier, *lines[-shown:]]


def running_steps(order: Order, now: datetime, t: Translate) -> list[str]:
    """The steps whose SLA clock runs, each with the time left or how late it is, read as alerts read it."""
    return [
        f"• {with_colon(t, labelled(STAGE_LABELS, clock.stage, t))}{time_left(clock_left(clock, now), t)}"
        for clock in order.clocks
        if clock.running
    ]


def staff_card(
    order: Order,
    roles: frozenset[Role],
    t: Translate,
    timezone: str,
    names: Mapping[int, str] | None = None,
    now: datetime | None = None,
) -> str:
    """The staff view: summary, status, full timeline and the actions their roles allow now."""
    actions = [
        action
        for action in allowed_actions(order.status, order.service)
        if may(roles, action) and action in OFFERED
    ]
    offered = [t(ACTION_NAMES[action.value]) for action in actions]
    steps = running_steps(order, now, t) if now is not None else []
    lines = [
        f"<b>{t(N_('Order'))} {esc(order.display_id)}</b> ({esc(order.reference)})",
        f"{field(t, N_('Status'))}{t(STATUS_NAMES[order.status])}",
        *order_summary(order, t),
        *([f"<b>{t(N_('Steps under way'))}</b>", *steps] if steps else []),
        "",
        f"<b>{t(N_('Timeline'))}</b>",
        *latest_lines(timeline(order, t, timezone, names), TIMELINE_SHOWN, t),
        "",
        f"{field(t, N_('You can now'))}" + (", ".join(offered) if offered else t(N_("nothing"))),
    ]
    return fit(lines, t)


def customer_card(order: Order, t: Translate, timezone: str) -> str:
    """The customer's view: their order, its status and when it changed."""
    lines = [
        f"<b>{t(N_('Order'))} {esc(order.display_id)}</b>",
        f"{field(t, N_('Status'))}{t(STATUS_NAMES[order.status])}",
        "",
        f"<b>{t(N_('Timeline'))}</b>",
    ]
    for event in order.audit:
        if event.to_status is not None and (event.from_status is not event.to_status):
            lines.append(f"• {local_time(event.at, timezone)} {t(STATUS_NAMES[event.to_status])}")
        elif event.action in CUSTOMER_VISIBLE:
            lines.append(f"• {local_time(event.at, timezone)} {t(N_('order number'))} {esc(event.note)}")
    return fit(lines, t)


def card_keyboard(order: Order, roles: frozenset[Role], t: Translate) -> InlineKeyboardMarkup | None:
    """The review buttons, when the order waits for a review the user may do."""
    if order.status is OrderStatus.PENDING_REVIEW and roles & DESK:
        return review_keyboard(order.id, 1, t)
    if order.status is OrderStatus.PENDING_SECOND_REVIEW and roles & HEAD:
        return review_keyboard(order.id, 2, t)
    return None


@router.message(Command("order"))
async def show_order(
    message: Message,
    command: CommandObject,
    uow: UnitOfWork,
    roles: frozenset[Role],
    review_setup: ReviewSetup,
) -> None:
    """Shows one order: staff see any, customers only their own (others get the same 'not found')."""
    user = message.from_user
    key = (command.args or "").strip()
    if user is None or not key:
        await message.answer(_("Usage: /order <reference or number>"))
        return
    order = await uow.orders.find(key)
    staff = bool(staff_roles(roles))
    if order is None or (not staff and order.customer.telegram_user_id != user.id):
        await message.answer(_("No order with that reference."))
        return
    timezone = review_setup.timezone
    if not staff:
        if message.chat.type != ChatType.PRIVATE:
            await message.answer(_("Write to me in a private chat to see your orders."))
            return
        await message.answer(customer_card(order, _, timezone))
        return
    markup = None
    if in_desk_place(message.chat.id, message.chat.type, user.id, review_setup):
        markup = card_keyboard(order, roles, _)
    # Customer service files a cancellation for a customer who called; the desk's company cancellation.
    cancelling = staff_buttons(
        order,
        may_file=bool(roles & {Role.CUSTOMER_SERVICE, *DESK}),
        may_cannot=bool(roles & DESK),
        t=_,
    )
    if cancelling:
        rows = [*(markup.inline_keyboard if markup else []), *cancelling]
        markup = InlineKeyboardMarkup(inline_keyboard=rows)
    names = await staff_names(uow, order)
    await message.answer(
        staff_card(order, roles, _, timezone, names, review_setup.clock.now()), reply_markup=markup
    )
