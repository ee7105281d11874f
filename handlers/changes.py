"""Changes to a placed order (issue 13, R-6.2): /change, the Change buttons, the address/contact dialog.

The customer (private chat) or customer service for a hotline caller (`/change` in any chat,
R-1.4: the caller's consent is recorded with the change) picks what to change; the stage decides
what is offered (domain/data/order_requests.toml). An address or contact change is entered step by
step and checked with the intake rules at every step (which field, what is wrong, how to fix);
once sent it waits for the order desk's Apply (within the hour, handlers/change_desk.py). A new
service is shown with its new price and applied once the customer agrees
(handlers/service_changes.py). The Cancel button of the same keyboards is
handlers/cancellation.py's (OrderRequest kind cancel is not taken here).
"""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.enums import ChatType
from aiogram.filters import Command, CommandObject, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from application.changes import ask_for_change
from application.finance import FinanceUnitOfWork
from application.review import ReviewSetup
from domain.errors import NotPermitted, OrderNotFound
from domain.intake.address import (
    normalize_city,
    normalize_postcode,
    normalize_street,
    parse_country,
    postcode_used,
)
from domain.intake.contact import normalize_email, normalize_phone, phone_example
from domain.intake.errors import InvalidInput
from domain.orders.changes import ChangeRefused, NothingChanged, address_price, refusal_for
from domain.orders.model import Order
from domain.orders.requests import CHANGE_KINDS, ChangeRefusal, OrderRequestKind
from domain.orders.responsibilities import Duty, may
from domain.orders.status import Role
from handlers.change_access import change_actor, consent_note, order_for_change
from handlers.common import CommandSpec, staff_roles
from handlers.dialogs import DialogStep, dialog_step
from handlers.service_changes import show_services
from presentation import change_texts as texts
from presentation.callbacks import OrderRequest
from presentation.change_texts import ChangeOffer, ChangeStep
from presentation.field_errors import describe_all
from presentation.labels import N_
from presentation.render import esc

router = Router(name="changes")

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec("change", N_("Change an order's address, contact or service: /change and its number")),
)
# Longest reference or number looked up.
KEY_MAX = 40
ORDERS_SHOWN = 10


class ChangeForm(StatesGroup):
    """The steps of entering a new address or contact."""

    country = State()
    city = State()
    street = State()
    postcode = State()
    phone = State()
    email = State()
    confirm = State()


def _refusals(order: Order) -> dict[OrderRequestKind, ChangeRefusal | None]:
    """What each change kind says for the order now."""
    return {kind: refusal_for(order, kind) for kind in CHANGE_KINDS}


async def _show_offer(message: Message, order: Order) -> None:
    """The changes the order's stage allows, as buttons."""
    text, markup = texts.offer(order, _refusals(order), _)
    await message.answer(text, reply_markup=markup)


@router.message(Command("change"))
async def change_command(
    message: Message, command: CommandObject, uow: FinanceUnitOfWork, roles: frozenset[Role]
) -> None:
    """/change <reference or number>: what this order can change now, or why not."""
    user = message.from_user
    if user is None:
        return
    staff = may(roles, Duty.FILE_CHANGE)
    if not staff and (staff_roles(roles) or message.chat.type != ChatType.PRIVATE):
        await message.answer(_("Write to me in a private chat to see your orders."))
        return
    key = (command.args or "").strip()[:KEY_MAX]
    if not key:
        orders = [] if staff else await uow.orders.list_for_customer(user.id, limit=ORDERS_SHOWN)
        changeable = [order for order in orders if any(v is None for v in _refusals(order).values())]
        if changeable:
            await message.answer(_(texts.PICK_ORDER), reply_markup=texts.orders_keyboard(changeable, _))
        else:
            await message.answer(_(texts.USAGE))
        return
    order = await uow.orders.find(key)
    if order is None or not (staff or order.customer.telegram_user_id == user.id):
        await message.answer(_(texts.NOT_FOUND))
        return
    await _show_offer(message, order)


async def offer_changes(message: Message, orders: list[Order]) -> None:
    """The free-text Change intent ("我想改收货地址"): the order's changes, or which order first."""
    changeable = [order for order in orders if any(v is None for v in _refusals(order).values())]
    if len(orders) == 1:
        await _show_offer(message, orders[0])
    elif changeable:
        await message.reply(_(texts.PICK_ORDER), reply_markup=texts.orders_keyboard(changeable, _))
    else:
        await message.reply(_(texts.NO_ORDERS))


@router.callback_query(ChangeOffer.filter())
async def on_offer(
    query: CallbackQuery, callback_data: ChangeOffer, uow: FinanceUnitOfWork, roles: frozenset[Role]
) -> None:
    """An order button: its changes."""
    await query.answer()
    order = await order_for_change(uow, callback_data.order_id, query.from_user.id, roles)
    if order is None or not isinstance(query.message, Message):
        if isinstance(query.message, Message):
            await query.message.answer(_(texts.STALE))
        return
    await _show_offer(query.message, order)


@router.callback_query(OrderRequest.filter(F.kind != OrderRequestKind.CANCEL))
async def on_request(
    query: CallbackQuery,
    callback_data: OrderRequest,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    state: FSMContext,
) -> None:
    """Change address / contact / service under an order: starts entering it, or says why not now."""
    message = query.message
    order = await order_for_change(uow, callback_data.order_id, query.from_user.id, roles)
    if order is None or not isinstance(message, Message):
        await query.answer(_(texts.STALE), show_alert=True)
        return
    kind = OrderRequestKind(callback_data.kind)
    reason = refusal_for(order, kind)
    if reason is not None:
        await query.answer()
        await message.answer(texts.refusal_text(order, kind, reason, _))
        return
    await query.answer()
    await state.set_data({"order_id": order.id, "kind": kind.value})
    shown = esc(order.display_id)
    if kind is OrderRequestKind.ADDRESS:
        old = texts.shown_values(kind.value, texts_address(order), _)
        await state.set_state(ChangeForm.country)
        await message.answer(_(texts.ASK_COUNTRY).format(id=shown, old=old))
    elif kind is OrderRequestKind.CONTACT:
        await state.set_state(ChangeForm.phone)
        example = phone_example(order.address.country)
        await message.answer(
            _(texts.ASK_PHONE).format(
                id=shown,
                example=example,
                old=esc(order.customer.phone or _(texts.NONE_GIVEN)),
                keep=texts.KEEP,
            )
        )
    else:
        await show_services(message, uow, order, query.from_user.id, roles)


def texts_address(order: Order) -> dict[str, str]:
    """The order's address as a change shows it."""
    address = order.address
    return {
        "country": address.country,
        "city": address.city,
        "street": address.street,
        "postcode": address.postcode or "",
        "area": address.area or "",
    }


@router.message(Command("cancel"), StateFilter(*ChangeForm.__all_states__))
async def drop_change(message: Message, state: FSMContext) -> None:
    """/cancel while entering a change: nothing is changed."""
    await state.clear()
    await message.answer(_(texts.DROPPED))


async def _reply_invalid(message: Message, error: InvalidInput, locale: str) -> None:
    """Which field, what is wrong and how to fix it (the intake's sentences)."""
    await message.answer(esc(describe_all(error.errors, locale)))


@router.message(ChangeForm.country, F.text)
async def on_country(message: Message, state: FSMContext, locale: str) -> None:
    """The new destination country."""
    try:
        country = parse_country(message.text)
    except InvalidInput as error:
        await _reply_invalid(message, error, locale)
        return
    await state.update_data(country=country.code)
    await state.set_state(ChangeForm.city)
    await message.answer(_(texts.ASK_CITY))


@router.message(ChangeForm.city, F.text)
async def on_city(message: Message, state: FSMContext, locale: str) -> None:
    """The new city."""
    try:
        city = normalize_city(message.text)
    except InvalidInput as error:
        await _reply_invalid(message, error, locale)
        return
    await state.update_data(city=city)
    await state.set_state(ChangeForm.street)
    await message.answer(_(texts.ASK_STREET))


@router.message(ChangeForm.street, F.text)
async def on_street(
    message: Message, state: FSMContext, uow: FinanceUnitOfWork, roles: frozenset[Role], locale: str
) -> None:
    """The new street; then the postcode where the country has them."""
    try:
        street = normalize_street(message.text)
    except InvalidInput as error:
        await _reply_invalid(message, error, locale)
        return
    await state.update_data(street=street)
    data = await state.get_data()
    if postcode_used(data["country"]):
        await state.set_state(ChangeForm.postcode)
        await message.answer(_(texts.ASK_POSTCODE).format(example=esc(_postcode_example(data["country"]))))
        return
    await state.update_data(postcode="")
    await _confirm(message, state, uow, roles)


def _postcode_example(country: str) -> str:
    """An example postcode of the country (from the address rules)."""
    try:
        normalize_postcode(country, "")
    except InvalidInput as error:
        return error.errors[0].params.get("example", "")
    return ""


@router.message(ChangeForm.postcode, F.text)
async def on_postcode(
    message: Message, state: FSMContext, uow: FinanceUnitOfWork, roles: frozenset[Role], locale: str
) -> None:
    """The new postcode, checked by the country's rules."""
    data = await state.get_data()
    try:
        postcode = normalize_postcode(data["country"], message.text) or ""
    except InvalidInput as error:
        await _reply_invalid(message, error, locale)
        return
    await state.update_data(postcode=postcode)
    await _confirm(message, state, uow, roles)


async def _order_in_form(
    message: Message, state: FSMContext, uow: FinanceUnitOfWork, roles: frozenset[Role], typed: DialogStep
) -> Order | None:
    """The order the change being entered is for; gone or not the sender's: the form ends, as stale."""
    order = await order_for_change(uow, typed.data["order_id"], typed.user.id, roles)
    if order is None:
        await state.clear()
        await message.answer(_(texts.STALE))
    return order


@router.message(StateFilter(ChangeForm.phone, ChangeForm.email), F.text)
async def on_contact(
    message: Message,
    state: FSMContext,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    locale: str,
    raw_state: str | None,
) -> None:
    """The new phone number, then the new email address ("-" keeps the order's)."""
    typed = await dialog_step(message, state, strip=True)
    if typed is None:
        return
    order = await _order_in_form(message, state, uow, roles, typed)
    if order is None:
        return
    text = typed.text
    phone = raw_state == ChangeForm.phone.state
    value = (order.customer.phone if phone else order.customer.email) or ""
    if text != texts.KEEP:
        try:
            value = normalize_phone(text, order.address.country) if phone else normalize_email(text)
        except InvalidInput as error:
            await _reply_invalid(message, error, locale)
            return
    if not phone:
        await state.update_data(email=value)
        await _confirm(message, state, uow, roles)
        return
    await state.update_data(phone=value)
    await state.set_state(ChangeForm.email)
    await message.answer(
        _(texts.ASK_EMAIL).format(old=esc(order.customer.email or _(texts.NONE_GIVEN)), keep=texts.KEEP)
    )


def _new_values(data: dict[str, Any], kind: OrderRequestKind) -> dict[str, str]:
    """The values entered, by the fields of the change."""
    names = (
        ("country", "city", "street", "postcode", "area")
        if kind is OrderRequestKind.ADDRESS
        else ("phone", "email")
    )
    return {name: str(data.get(name) or "") for name in names}


async def _confirm(
    message: Message, state: FSMContext, uow: FinanceUnitOfWork, roles: frozenset[Role]
) -> None:
    """Shows the change as entered, with Send (the caller agreed, for staff) or Drop."""
    typed = await dialog_step(message, state)
    if typed is None:
        return
    order = await _order_in_form(message, state, uow, roles, typed)
    if order is None:
        return
    data = typed.data
    kind = OrderRequestKind(data["kind"])
    new = _new_values(data, kind)
    price = None
    if kind is OrderRequestKind.ADDRESS:
        try:
            price = address_price(order, new["country"])
        except ChangeRefused as refused:
            await state.clear()
            await message.answer(texts.refusal_text(order, kind, refused.reason, _))
            return
    await state.set_state(ChangeForm.confirm)
    staff = may(roles, Duty.FILE_CHANGE)
    await message.answer(
        texts.confirm_text(order, kind, new, price, _), reply_markup=texts.send_keyboard(staff, _)
    )


@router.callback_query(ChangeStep.filter())
async def on_send(
    query: CallbackQuery,
    callback_data: ChangeStep,
    uow: FinanceUnitOfWork,
    roles: frozenset[Role],
    state: FSMContext,
    review_setup: ReviewSetup,
) -> None:
    """Send the change entered to the order desk, or drop it."""
    message = query.message
    data = await state.get_data()
    in_form = await state.get_state() == ChangeForm.confirm.state
    if isinstance(message, Message):
        await message.edit_reply_markup(reply_markup=None)
    if not callback_data.send:
        await state.clear()
        await query.answer(_(texts.DROPPED))
        return
    if not in_form or "order_id" not in data or not isinstance(message, Message):
        await query.answer(_(texts.STALE), show_alert=True)
        return
    kind = OrderRequestKind(data["kind"])
    staff = may(roles, Duty.FILE_CHANGE)
    note = consent_note(query.from_user, roles)
    await state.clear()
    try:
        record = await ask_for_change(
            uow,
            data["order_id"],
            kind,
            _new_values(data, kind),
            actor=change_actor(query.from_user.id, roles),
            setup=review_setup,
            consent_note=note,
        )
    except ChangeRefused as refused:
        await query.answer()
        since = texts.since_text(refused.since, {}, review_setup.timezone, _)
        await message.answer(texts.refusal_text(refused.order, kind, refused.reason, _, since))
        return
    except NothingChanged:
        await query.answer()
        await message.answer(_(texts.SAME_AS_NOW))
        return
    except (NotPermitted, OrderNotFound):
        await query.answer(_(texts.STALE), show_alert=True)
        return
    await query.answer()
    due = texts.due_text(record.requested_at, review_setup.timezone)
    if staff:
        order = await uow.orders.get(data["order_id"])
        await message.answer(_(texts.SENT_FOR_CALLER).format(customer=esc(order.customer.name), due=due))
    else:
        await message.answer(_(texts.SENT).format(due=due))
