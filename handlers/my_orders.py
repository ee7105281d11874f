"""/myorders and /track for customers: their own orders only, the timeline in customer words (R-1, R-5).

Someone else's reference is answered exactly like one that does not exist, so references cannot
be probed. tracking_text() is the one place the customer's view of an order is worded.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.enums import ParseMode
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from application.ports import UnitOfWork
from domain.aftersales.retention import is_erased
from domain.orders.model import Order
from domain.orders.status import Action, OrderStatus
from handlers.archive import NO_LONGER_KEPT
from handlers.common import CommandSpec
from handlers.intake import DEFAULT_TIMEZONE
from presentation.cancellation_texts import request_buttons
from presentation.keyboards import MY_ORDERS, N_, MenuButton, MyOrdersPage
from presentation.render import esc
from presentation.tracking import progress_lines

router = Router(name="my_orders")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("myorders", N_("List your orders")),
    CommandSpec("track", N_("Follow an order: /track and its reference or number")),
)
# Orders listed by /myorders per page, newest first, and the pages one can go back.
MY_ORDERS_LIMIT = 10
MY_ORDERS_PAGES = 50
OLDER_ORDERS = N_("Older orders ▶")
# Longest reference or number looked up (longer text cannot be one).
REFERENCE_MAX = 40
TIME_FORMAT = "%Y-%m-%d %H:%M"

# What the customer is told about the order now; internal status names never reach them.
STATUS_WORDS: dict[OrderStatus, str] = {
    OrderStatus.SUBMITTED: N_("received"),
    OrderStatus.VALIDATION_FAILED: N_("needs a correction from you"),
    OrderStatus.PENDING_REVIEW: N_("being checked by our order desk"),
    OrderStatus.PENDING_SECOND_REVIEW: N_("being checked by our order desk"),
    OrderStatus.REJECTED: N_("not accepted; see our message"),
    OrderStatus.AWAITING_CONFIRMATION: N_("accepted, being confirmed"),
    OrderStatus.CONFIRMED: N_("confirmed, being prepared"),
    OrderStatus.PICKED: N_("packed at our warehouse"),
    OrderStatus.OUTBOUND: N_("has left our warehouse"),
    OrderStatus.BOOKED: N_("booked with the shipping carrier"),
    OrderStatus.IN_TRANSIT: N_("on its way"),
    OrderStatus.ARRIVED: N_("arrived in the destination country"),
    OrderStatus.CLEARED: N_("through customs"),
    OrderStatus.OUT_FOR_DELIVERY: N_("out for delivery to the address"),
    OrderStatus.DELIVERED: N_("delivered to the address"),
    OrderStatus.COMPLETED: N_("finished"),
    OrderStatus.ARCHIVED: N_("finished"),
    OrderStatus.CANCELLATION_REQUESTED: N_("you asked to cancel it"),
    OrderStatus.RECALL_IN_PROGRESS: N_("being brought back"),
    OrderStatus.CANCELLED: N_("cancelled; nothing more happens"),
    OrderStatus.EXCEPTION: N_("delayed by a problem we are working on"),
}
# Audit actions the customer is told about, in their words; staff-internal lines are left out.
EVENT_WORDS: dict[str, str] = {
    "submit": N_("Order received"),
    Action.PASS_VALIDATION.value: N_("Details checked"),
    Action.FAIL_VALIDATION.value: N_("Some details need a correction"),
    Action.RESUBMIT.value: N_("Corrected order received"),
    Action.APPROVE.value: N_("Accepted by our order desk"),
    Action.APPROVE_SECOND.value: N_("Accepted by our order desk"),
    Action.REJECT.value: N_("Not accepted"),
    Action.CONFIRM.value: N_("Confirmed"),
    "assign_number": N_("Order number given"),
    "ask_customer": N_("We asked you a question"),
    "customer_answer": N_("Your answer received"),
    "payment_receipt": N_("Payment received"),
    Action.PICK.value: N_("Packed at our warehouse"),
    Action.OUTBOUND_SCAN.value: N_("Left our warehouse"),
    Action.BOOK.value: N_("Booked with the carrier"),
    Action.DEPART.value: N_("On its way"),
    Action.ARRIVE.value: N_("Arrived in the destination country"),
    Action.CLEAR_CUSTOMS.value: N_("Cleared customs"),
    Action.START_LAST_MILE.value: N_("Out for delivery"),
    Action.DELIVER.value: N_("Delivered"),
    Action.CONFIRM_RECEIPT.value: N_("You confirmed receipt"),
    Action.COMPLETE.value: N_("Completed"),
    Action.CANCEL.value: N_("Cancelled"),
    Action.REQUEST_CANCELLATION.value: N_("Cancellation requested"),
    Action.DECLINE_CANCELLATION.value: N_("Cancellation not possible; the order goes on"),
    Action.START_RECALL.value: N_("Being brought back"),
    Action.CONFIRM_CANCELLATION.value: N_("Cancelled"),
    Action.RAISE_EXCEPTION.value: N_("A problem was reported; we are working on it"),
    Action.RESOLVE_EXCEPTION.value: N_("The problem is solved; the order goes on"),
    # Changes to the placed order (issue 13, R-6.2).
    "change_address_applied": N_("Delivery address changed"),
    "change_contact_applied": N_("Contact details changed"),
    "change_service_applied": N_("Service changed"),
    Action.REQUOTE.value: N_("Back to our order desk’s review after the change"),
}


def status_words(order: Order) -> str:
    """Where the order stands, in customer words; a completed cancellation still reads as cancelled."""
    closed = order.status in (OrderStatus.COMPLETED, OrderStatus.ARCHIVED) and any(
        event.to_status is OrderStatus.CANCELLED for event in order.audit
    )
    return _(STATUS_WORDS[OrderStatus.CANCELLED if closed else order.status])


def tracking_text(order: Order, timezone: str) -> str:
    """The customer's view of one order: where it stands and what happened, in their words."""
    zone = ZoneInfo(timezone)
    title = esc(order.number) if order.number else esc(order.reference)
    lines = [
        _("<b>Order {id}</b>").format(id=title),
        _("Now: {status}").format(status=status_words(order)),
        "",
    ]
    told = [event for event in order.audit if event.action in EVENT_WORDS]
    for event in sorted(told, key=lambda event: event.at):
        what = _(EVENT_WORDS[event.action])
        if event.action == "assign_number" and order.number:
            what = f"{what}: {esc(order.number)}"
        lines.append(f"• {event.at.astimezone(zone).strftime(TIME_FORMAT)} — {what}")
    # Shipment details and what happens next, worded once for /track and the customer's updates.
    progress = progress_lines(order, _, timezone)
    if progress:
        lines += ["", *progress]
    return "\n".join(lines)


def summary_line(order: Order, timezone: str) -> str:
    """One line of /myorders: id, date, what the customer is told, amount."""
    created = order.created_at.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d")
    ids = esc(order.reference) + (f" / {esc(order.number)}" if order.number else "")
    amount = f"{order.amount:.2f} {esc(order.currency)}"
    return f"• <b>{ids}</b> — {created} — {status_words(order)} — {amount}"


@router.message(Command("myorders"))
@router.message(MenuButton(MY_ORDERS))
async def my_orders(message: Message, uow: UnitOfWork, timezone: str = DEFAULT_TIMEZONE) -> None:
    """Lists the user's own orders, newest first, a page at a time."""
    if message.from_user is None:
        return
    await _send_page(message, uow, message.from_user.id, 0, timezone)


@router.callback_query(MyOrdersPage.filter())
async def my_orders_page(
    query: CallbackQuery, callback_data: MyOrdersPage, uow: UnitOfWork, timezone: str = DEFAULT_TIMEZONE
) -> None:
    """The next page of the user's orders (issue 18: /myorders no longer stops at 10)."""
    await query.answer()
    if isinstance(query.message, Message):
        await _send_page(query.message, uow, query.from_user.id, max(callback_data.page, 0), timezone)


async def _send_page(message: Message, uow: UnitOfWork, user_id: int, page: int, timezone: str) -> None:
    """Sends one page of the customer's orders, with a button to the older ones if there are more."""
    start = min(page, MY_ORDERS_PAGES) * MY_ORDERS_LIMIT
    found = await uow.orders.list_for_customer(user_id, limit=start + MY_ORDERS_LIMIT + 1)
    orders = found[start : start + MY_ORDERS_LIMIT]
    if not orders:
        await message.answer(_("You have no orders yet. Place one with /neworder."))
        return
    lines = [_("<b>Your orders</b>"), *(summary_line(order, timezone) for order in orders), ""]
    lines.append(
        _("Send /track and a reference for the details, e.g. /track {reference}.").format(
            reference=esc(orders[0].reference)
        )
    )
    # Each order's requests its stage allows now (cancel, change, issue 13).
    rows = [row for order in orders for row in request_buttons(order, _, with_id=True)]
    if len(found) > start + MY_ORDERS_LIMIT and page < MY_ORDERS_PAGES:
        older = InlineKeyboardButton(text=_(OLDER_ORDERS), callback_data=MyOrdersPage(page=page + 1).pack())
        rows.append([older])
    markup = InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
    await message.answer("\n".join(lines), parse_mode=ParseMode.HTML, reply_markup=markup)


@router.message(Command("track"))
async def track(
    message: Message, command: CommandObject, uow: UnitOfWork, timezone: str = DEFAULT_TIMEZONE
) -> None:
    """Shows one of the user's own orders by reference or number; any other is 'not found'."""
    wanted = (command.args or "").strip()
    if not wanted:
        await message.answer(_("Send /track and the order’s reference or number, e.g. /track R-7K3F9P2Q."))
        return
    order = await uow.orders.find(wanted) if len(wanted) <= REFERENCE_MAX else None
    if order is not None and is_erased(order):
        # Told to anyone: nothing of the order is left to show.
        await message.answer(_(NO_LONGER_KEPT).format(id=esc(order.display_id)), parse_mode=ParseMode.HTML)
        return
    user_id = message.from_user.id if message.from_user else None
    if order is None or user_id is None or order.customer.telegram_user_id != user_id:
        await message.answer(
            _("I found no order {reference} of yours. Check the reference, or see /myorders.").format(
                reference=esc(wanted[:REFERENCE_MAX])
            ),
            parse_mode=ParseMode.HTML,
        )
        return
    rows = request_buttons(order, _)
    markup = InlineKeyboardMarkup(inline_keyboard=rows) if rows else None
    await message.answer(tracking_text(order, timezone), parse_mode=ParseMode.HTML, reply_markup=markup)
