"""Cancellation in the chat (issue 13, R-6.1): the Cancel request button, /cancel, and every step's button.

A customer cancels their own order from the Cancel button under it (/myorders, /track, the free
text "I want to cancel") or with /cancel <reference or number>; someone else's order is answered
like one that does not exist. Customer service files one for a customer who called, with their
consent (the staff /order card or /cancel <reference>). Customer service checks, proposes recall
terms and offers the alternatives; the order desk cancels and marks "service cannot be provided";
logistics records recalled goods back; the customer accepts, declines or chooses with buttons.
Every press is checked against the roles loaded from the database and the cancellation reloaded:
a stale button or a second press is told who took the step and when.

Handler data: `uow` (a CancellationUnitOfWork), `roles`, `clock`, `event_handlers`, `sla`, `timezone`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from application.cancellation import (
    FILERS,
    CancellationSetup,
    CancellationUnitOfWork,
    Outcome,
    StepTaken,
    answer_recall,
    cancel_by_company,
    cancel_held,
    check_cancellation,
    choose_alternative,
    goods_back,
    offer_alternatives,
    propose_recall,
    request_cancellation,
)
from application.conversation import open_orders
from application.services import Actor, EventHandlers
from domain.cancellation import Alternative, CancellationError, CancellationState, parse_share, path_for
from domain.clock import Clock
from domain.errors import ConcurrentModification, IllegalTransition, NotPermitted, OrderNotFound
from domain.orders.model import Order
from domain.orders.requests import OrderRequestKind
from domain.orders.responsibilities import DESK
from domain.orders.status import OrderStatus, Role
from domain.sla.clocks import SlaContext
from handlers.common import CommandSpec, order_or_none, staff_roles
from handlers.dialogs import dialog_step, move_dialog
from presentation.callbacks import OrderRequest
from presentation.cancellation_texts import (
    ALREADY_ASKED,
    CANCEL_USAGE,
    CANCELLED_AT_ONCE,
    CHOSEN_CANCEL,
    CHOSEN_OTHER,
    COMPANY_DONE,
    DONE,
    FILE_PROMPT,
    FILED_FOR,
    HELD,
    KEPT,
    NO_OPEN_ORDERS,
    NO_ORDER,
    NOT_CANCELLABLE,
    NOT_YOURS,
    RACED,
    REASON_PROMPT,
    REASON_WRONG,
    ROLE_ONLY,
    SHARE_PROMPT,
    SHARE_WRONG,
    STEP_LABELS,
    TAKEN,
    TAKEN_NOW,
    CancelButton,
    CxStep,
    button,
    confirm_prompt,
    keyboard,
    other_service_keyboard,
    request_buttons,
    shown,
)
from presentation.keyboards import N_
from presentation.render import STATUS_NAMES, esc, local_time

router = Router(name="cancellation")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("cancel", N_("Cancel an order: /cancel <reference or number>")),
)
REFERENCE_MAX = 40
CONSENT_BY_PHONE = "customer agreed by phone"
STATE_NAMES = {
    CancellationState.REQUESTED: N_("waiting for customer service"),
    CancellationState.CHECKED: N_("with the order desk"),
    CancellationState.TERMS_PROPOSED: N_("waiting for the customer’s answer"),
    CancellationState.RECALLING: N_("being recalled"),
    CancellationState.OFFERED: N_("waiting for the customer’s choice"),
    CancellationState.CANCELLED: N_("done"),
    CancellationState.DECLINED: N_("declined"),
    CancellationState.OTHER_SERVICE: N_("closed: another service chosen"),
}
# Who may take each staff step (checked again by the use case).
STAFF_STEPS = {
    CxStep.FILE: FILERS,
    CxStep.CHECK: frozenset({Role.CUSTOMER_SERVICE, *DESK}),
    CxStep.TERMS: frozenset({Role.CUSTOMER_SERVICE, *DESK}),
    CxStep.OTHER_SHARE: frozenset({Role.CUSTOMER_SERVICE, *DESK}),
    CxStep.OFFER: frozenset({Role.CUSTOMER_SERVICE, *DESK}),
    CxStep.CANCEL: DESK,
    CxStep.CANNOT: DESK,
    CxStep.BACK: frozenset({Role.LOGISTICS, *DESK}),
}


class CancellationDialog(StatesGroup):
    """Staff typing a recall share or the reason the service cannot be provided."""

    share = State()
    reason = State()


# The steps that ask for a typed value first: the dialog's state and its question.
ASKS = {
    CxStep.OTHER_SHARE: (CancellationDialog.share, SHARE_PROMPT),
    CxStep.CANNOT: (CancellationDialog.reason, REASON_PROMPT),
}


def _setup(clock: Clock, event_handlers: EventHandlers, sla: SlaContext) -> CancellationSetup:
    """The use cases' setup from the handler data."""
    return CancellationSetup(clock, event_handlers, sla)


async def _taken(uow: CancellationUnitOfWork, error: StepTaken, order: Order, timezone: str) -> str:
    """Says who took the step, and when (a toast)."""
    c = error.cancellation
    if c is None or c.decided_at is None:
        state = _(STATE_NAMES[c.state]) if c is not None else _(STATUS_NAMES[order.status])
        return _(TAKEN_NOW).format(id=order.display_id, state=state)
    name: str | None = None
    if c.decided_by == order.customer.telegram_user_id:
        name = _("the customer")
    elif c.decided_by is not None:
        name = await uow.reviews.name_of(c.decided_by)
    name = name or _("the system")
    return _(TAKEN).format(name=name, time=local_time(c.decided_at, timezone))


async def _own(uow: CancellationUnitOfWork, key: str, user_id: int) -> Order | None:
    """The customer's own order by reference, number or id; anyone else's is None."""
    order = await uow.orders.find(key) if len(key) <= REFERENCE_MAX else None
    if order is None:
        order = await order_or_none(uow, key)
    return order if order is not None and order.customer.telegram_user_id == user_id else None


async def _ask_customer(message: Message, order: Order) -> None:
    """Shows the customer what cancelling does now, with Yes / No."""
    if order.status in (OrderStatus.CANCELLATION_REQUESTED, OrderStatus.RECALL_IN_PROGRESS):
        await message.answer(_(ALREADY_ASKED).format(id=shown(order)))
        return
    try:
        text, markup = confirm_prompt(order, _)
    except CancellationError:
        await message.answer(_(NOT_CANCELLABLE).format(id=shown(order), status=_(STATUS_NAMES[order.status])))
        return
    await message.answer(text, reply_markup=markup)


@router.callback_query(OrderRequest.filter(F.kind == OrderRequestKind.CANCEL))
async def on_cancel_request(
    query: CallbackQuery, callback_data: OrderRequest, uow: CancellationUnitOfWork
) -> None:
    """The Cancel button under an order: the customer's own, in their chat; staff file it for them."""
    message = query.message
    if not isinstance(message, Message):
        await query.answer()
        return
    if message.chat.type != ChatType.PRIVATE:
        await query.answer(_(NOT_YOURS), show_alert=True)
        return
    order = await _own(uow, callback_data.order_id, query.from_user.id)
    if order is None:
        await query.answer(_(NOT_YOURS), show_alert=True)
        return
    await query.answer()
    await _ask_customer(message, order)


# A bare /cancel outside any dialog is the conversation router's (it offers the open orders' buttons).
@router.message(Command("cancel", magic=F.args), StateFilter(None))
async def cancel_command(
    message: Message, command: CommandObject, uow: CancellationUnitOfWork, roles: frozenset[Role]
) -> None:
    """/cancel <reference or number>: the customer's own order; staff file one for a customer."""
    user = message.from_user
    wanted = (command.args or "").strip()
    if user is None:
        return
    if staff_roles(roles):
        if not roles & FILERS or not wanted:
            await message.answer(
                _("Send /cancel and the order’s reference or number, e.g. /cancel R-7K3F9P2Q.")
            )
            return
        order = await uow.orders.find(wanted[:REFERENCE_MAX])
        if order is None:
            await message.answer(_("No order with that reference."))
            return
        await message.answer(
            _(FILE_PROMPT).format(id=shown(order)), reply_markup=keyboard([button(order, CxStep.FILE, _)])
        )
        return
    if message.chat.type != ChatType.PRIVATE:
        await message.answer(_("Write to me in a private chat to see your orders."))
        return
    if not wanted:
        orders = [o for o in open_orders(await uow.orders.list_for_customer(user.id)) if _cancellable(o)]
        if not orders:
            await message.answer(_(NO_OPEN_ORDERS))
            return
        rows = [row for order in orders for row in request_buttons(order, _, with_id=True)[:1]]
        await message.answer(_(CANCEL_USAGE), reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))
        return
    order = await _own(uow, wanted, user.id)
    if order is None:
        await message.answer(_(NO_ORDER).format(reference=esc(wanted[:REFERENCE_MAX])))
        return
    await _ask_customer(message, order)


def _cancellable(order: Order) -> bool:
    """Whether a customer's cancellation has a path from the order's status."""
    try:
        path_for(order.status)
    except CancellationError:
        return False
    return True


Step = Callable[[], Awaitable[Outcome]]


@router.callback_query(CancelButton.filter())
async def on_step(
    query: CallbackQuery,
    callback_data: CancelButton,
    uow: CancellationUnitOfWork,
    roles: frozenset[Role],
    state: FSMContext,
    clock: Clock,
    event_handlers: EventHandlers,
    sla: SlaContext,
    timezone: str,
) -> None:
    """Any button of the cancellation flow: who may press it is checked, then the use case runs once."""
    message, user, step = query.message, query.from_user, callback_data.step
    setup = _setup(clock, event_handlers, sla)
    try:
        order = await uow.orders.get(callback_data.order_id)
    except OrderNotFound:
        await query.answer(_("This button does not belong to an order."), show_alert=True)
        return
    if not isinstance(message, Message):
        await query.answer()
        return
    if step in STAFF_STEPS:
        if not roles & STAFF_STEPS[step]:
            await query.answer(_(ROLE_ONLY), show_alert=True)
            return
    elif message.chat.id != user.id or order.customer.telegram_user_id != user.id:
        await query.answer(_(NOT_YOURS), show_alert=True)
        return
    if step is CxStep.KEEP:
        await query.answer()
        await message.edit_reply_markup(reply_markup=None)
        await message.answer(_(KEPT).format(id=shown(order)))
        return
    if step in ASKS:
        asked, prompt = ASKS[step]
        await move_dialog(state, asked, {"order_id": order.id})
        await query.answer()
        await message.answer(_(prompt).format(id=shown(order)))
        return
    actor = Actor(user.id, roles)
    customer = Actor(user.id, frozenset({Role.CUSTOMER}))

    def choose(choice: Alternative) -> Awaitable[Outcome]:
        """The customer's choice after the company cannot serve."""
        return choose_alternative(uow, order.id, user.id, choice, setup)

    steps: dict[CxStep, Step] = {
        CxStep.CONFIRM: lambda: request_cancellation(uow, order.id, customer, setup),
        CxStep.FILE: lambda: request_cancellation(uow, order.id, actor, setup, consent=CONSENT_BY_PHONE),
        CxStep.CHECK: lambda: check_cancellation(uow, order.id, actor, setup),
        CxStep.CANCEL: lambda: cancel_held(uow, order.id, actor, setup),
        CxStep.TERMS: lambda: propose_recall(uow, order.id, actor, setup),
        CxStep.ACCEPT: lambda: answer_recall(uow, order.id, user.id, True, setup),
        CxStep.DECLINE: lambda: answer_recall(uow, order.id, user.id, False, setup),
        CxStep.BACK: lambda: goods_back(uow, order.id, actor, setup),
        CxStep.OFFER: lambda: offer_alternatives(uow, order.id, actor, setup),
        CxStep.ALT_CANCEL: lambda: choose_alternative(uow, order.id, user.id, Alternative.CANCEL, setup),
        CxStep.ALT_OTHER: lambda: choose_alternative(
            uow, order.id, user.id, Alternative.OTHER_SERVICE, setup
        ),
    }
    await uow.reviews.remember_name(user.id, user.full_name, clock.now())
    try:
        outcome = await steps[step]()
    except StepTaken as taken:
        await uow.rollback()
        await query.answer(await _taken(uow, taken, order, timezone), show_alert=True)
        return
    except (ConcurrentModification, IllegalTransition):
        await uow.rollback()
        fresh = await uow.orders.get(order.id)
        await query.answer(
            _(RACED).format(id=fresh.display_id, status=_(STATUS_NAMES[fresh.status])), show_alert=True
        )
        return
    except NotPermitted:
        await query.answer(_(ROLE_ONLY), show_alert=True)
        return
    except CancellationError as error:
        await query.answer(_refusal(error, order), show_alert=True)
        return
    await query.answer()
    await message.edit_reply_markup(reply_markup=None)
    # Another service: the change flow takes it from its Change service button (issue 13, R-6.2).
    markup = other_service_keyboard(outcome.order, _) if step is CxStep.ALT_OTHER else None
    await message.answer(_reply(step, outcome, user.full_name), reply_markup=markup)


def _refusal(error: CancellationError, order: Order) -> str:
    """Words a refused step."""
    if error.code == "not_cancellable":
        return _(NOT_CANCELLABLE).format(id=order.display_id, status=_(STATUS_NAMES[order.status]))
    if error.code == "open":
        return _(ALREADY_ASKED).format(id=order.display_id)
    return _("Not possible now: the order is {status}.").format(status=_(STATUS_NAMES[order.status]))


def _reply(step: CxStep, outcome: Outcome, name: str) -> str:
    """What the presser is told once the step is done."""
    order = outcome.order
    if step is CxStep.CONFIRM:
        done = outcome.cancellation.state is CancellationState.CANCELLED
        return _(CANCELLED_AT_ONCE if done else HELD).format(id=shown(order))
    if step is CxStep.FILE:
        return _(FILED_FOR).format(id=shown(order))
    if step is CxStep.ALT_CANCEL or (step is CxStep.ACCEPT and order.status is OrderStatus.CANCELLED):
        return _(CHOSEN_CANCEL).format(id=shown(order))
    if step is CxStep.ALT_OTHER:
        return _(CHOSEN_OTHER).format(id=shown(order))
    if step is CxStep.DECLINE:
        return _(KEPT).format(id=shown(order))
    what = _(STEP_LABELS[step]).format(share=outcome.cancellation.share_percent or "")
    return _(DONE).format(what=f"{what} — {shown(order)}, {esc(name)}")


@router.message(StateFilter(CancellationDialog.share, CancellationDialog.reason), F.text)
async def on_typed(
    message: Message,
    state: FSMContext,
    uow: CancellationUnitOfWork,
    roles: frozenset[Role],
    clock: Clock,
    event_handlers: EventHandlers,
    sla: SlaContext,
    timezone: str,
    raw_state: str | None,
) -> None:
    """A typed share of the freight (the terms go to the customer) or the order desk's reason the
    service cannot be provided (customer service is told); a wrong value is asked again, /cancel stops."""
    share = raw_state == CancellationDialog.share.state
    typed = await dialog_step(
        message,
        state,
        stop=N_("Stopped; nothing was changed."),
        stop_on="/cancel",
        remember=lambda user: uow.reviews.remember_name(user.id, user.full_name, clock.now()),
        strip=True,
    )
    if typed is None:
        return
    text, order_id = typed.text, str(typed.data.get("order_id", ""))
    setup = _setup(clock, event_handlers, sla)
    actor = Actor(typed.user.id, roles)
    try:
        if share:
            value: Decimal = parse_share(text)
            outcome = await propose_recall(uow, order_id, actor, setup, share_percent=value)
            reply = _(DONE).format(
                what=_(STEP_LABELS[CxStep.TERMS]).format(share=value) + f" — {shown(outcome.order)}"
            )
        else:
            await cancel_by_company(uow, order_id, actor, text, setup)
            reply = _(COMPANY_DONE).format(id=esc((await uow.orders.get(order_id)).display_id))
    except CancellationError as error:
        if error.code in ("share.invalid", "reason.short"):
            await message.answer(_(SHARE_WRONG if share else REASON_WRONG))
            return
        await state.clear()
        order = await uow.orders.get(order_id)
        await message.answer(_refusal(error, order))
        return
    except StepTaken as taken:
        await state.clear()
        await uow.rollback()
        order = await uow.orders.get(order_id)
        await message.answer(esc(await _taken(uow, taken, order, timezone)))
        return
    except (ConcurrentModification, IllegalTransition):
        await state.clear()
        await uow.rollback()
        await message.answer(_("Someone changed the order at the same moment; press the button again."))
        return
    except NotPermitted:
        await state.clear()
        await message.answer(_(ROLE_ONLY))
        return
    await state.clear()
    await message.answer(reply)
