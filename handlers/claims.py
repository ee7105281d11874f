"""Claims in the chats (R-6.4): the customer's report, evidence, contact, offers, answers and reship.

The delivered message's *Report a problem* asks what is wrong (handlers/archive.py): damaged or
wrong goods open a claim here, and the customer gets the evidence card. On an evidence card (the
customer's, or logistics' when logistics marked the exception) a goods line's button asks for the
affected quantity, *Add photos* takes the photos sent next in that chat, *Evidence complete* closes
the evidence. Customer service's card carries *Customer contacted* and then the resolutions; the
customer's offer *Accept* / *Decline*; the warehouse's task *Reshipped*. Roles come from the
database with every press (`roles`); a step done already is answered with who did it and when.

Handler data: `claims_setup` (application.claims.ClaimsSetup).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import gettext as _

from application import claims
from application.claims import ClaimsSetup, ClaimsUnitOfWork, Person
from application.completion import NotDelivered, NotYourOrder
from application.ports import UnitOfWork
from domain.claims.claim import Claim, ClaimError, ClaimProblem, ClaimStep, Resolution, claim_of
from domain.errors import ConcurrentModification, DomainError, NotPermitted, OrderNotFound
from domain.orders.model import Order
from domain.orders.responsibilities import Duty, may
from domain.orders.status import ExceptionType, OrderStatus, Role
from handlers.common import own_chat_presser
from handlers.dialogs import dialog_step
from presentation.claims_texts import (
    ACCEPT,
    ADD_PHOTOS,
    CLOSE,
    CLOSED_TEXT,
    CONTACTED,
    DECLINE,
    EVIDENCE,
    OTHER_PROBLEM,
    PHOTO_KEPT,
    RESHIPPED,
    RESULT_NAMES,
    SEND_PHOTOS,
    SHOW_PHOTOS,
    ClaimAction,
    ClaimItem,
    ClaimReport,
    ask_quantity,
    evidence_keyboard,
    evidence_text,
    problem_text,
    quantity_keyboard,
)
from presentation.execution_texts import handled_by, staff_name
from presentation.keyboards import N_
from presentation.labels import NOT_YOUR_ORDER
from presentation.render import HtmlTemplate
from presentation.survey_texts import PROBLEM_LATE

logger = logging.getLogger(__name__)
router = Router(name="claims")

NOT_ALLOWED = N_("Your role does not allow this.")
RACE = N_("Someone changed the order at the same moment; press the button again.")
CLAIM_OPENED = N_("We are sorry. Please attach the evidence on the message that follows.")
NOT_A_PHOTO = N_("Please send a photo (or press Evidence complete on the card when you are done).")
SHOWN = N_("The photos of order {id} follow.")
DONE = N_("Done.")
# Which trail step answers "who did it already" for each refusal of a repeated press.
DONE_BY: dict[ClaimProblem, tuple[str, ...]] = {
    ClaimProblem.EVIDENCE_CLOSED: (ClaimStep.EVIDENCE.value,),
    ClaimProblem.CONTACTED_ALREADY: (ClaimStep.CONTACTED.value,),
    ClaimProblem.OFFER_OPEN: (ClaimStep.OFFERED.value, ClaimStep.ACCEPTED.value),
    ClaimProblem.ANSWERED: (ClaimStep.ACCEPTED.value, ClaimStep.DECLINED.value),
    ClaimProblem.RESHIPPED_ALREADY: (ClaimStep.RESHIPPED.value,),
}


class ClaimPhotos(StatesGroup):
    """Photos sent in this chat go to the evidence of one order's claim."""

    photos = State()


def t(message: str) -> str:
    """The current user's translation as a template that escapes what it is filled with."""
    return HtmlTemplate(_(message))


def finance_of(uow: UnitOfWork) -> ClaimsUnitOfWork:
    """The unit of work as the claim use cases need it (finance's records and exception cases included)."""
    if not hasattr(uow, "finance") or not hasattr(uow, "exceptions"):
        raise TypeError("claims need finance's records and the exception cases in the unit of work")
    return uow  # type: ignore[return-value]


def person_of(user_id: int, roles: frozenset[Role]) -> Person:
    """Who presses, with the roles the database gave them for this update."""
    return Person(user_id, roles)


def may_attach(order: Order, user_id: int, roles: frozenset[Role]) -> bool:
    """Whether the user may attach evidence: the order's customer, or staff who record evidence."""
    return order.customer.telegram_user_id == user_id or may(roles, Duty.RECORD_CLAIM_EVIDENCE)


async def _refusal(uow: UnitOfWork, order_id: str, error: ClaimError, setup: ClaimsSetup) -> str:
    """A refused step in words: who did it already and when, or what is missing."""
    steps = DONE_BY.get(error.problem)
    if steps:
        await uow.rollback()
        order = await uow.orders.get(order_id)
        line = next((line for line in reversed(order.audit) if line.action in steps), None)
        if line is not None:
            return await handled_by(uow, line, setup.timezone)
    return problem_text(error.problem, error.detail, t)


def _no_card(order: Order, claim: Claim) -> tuple[str | None, InlineKeyboardMarkup | None]:
    """The pressed message keeps its text and loses its buttons."""
    return None, None


def _evidence_card(order: Order, claim: Claim) -> tuple[str | None, InlineKeyboardMarkup | None]:
    """The evidence card anew, with its buttons."""
    return evidence_text(order, claim, t), evidence_keyboard(order, claim, t)


def _evidence_closed(order: Order, claim: Claim) -> tuple[str | None, InlineKeyboardMarkup | None]:
    """The evidence card anew, without buttons (the evidence is complete)."""
    return evidence_text(order, claim, t), None


async def _run(
    query: CallbackQuery,
    uow: UnitOfWork,
    setup: ClaimsSetup,
    order_id: str,
    step: Callable[[], Awaitable[tuple[Order, Claim]]],
    *,
    toast: str | None = DONE,
    card: Callable[[Order, Claim], tuple[str | None, InlineKeyboardMarkup | None]] = _no_card,
) -> tuple[Order, Claim] | None:
    """Runs a claim step for a press and answers it: the toast and the card anew, or why not."""
    try:
        await uow.reviews.remember_name(query.from_user.id, staff_name(query.from_user), setup.clock.now())
        order, claim = await step()
    except NotPermitted:
        await query.answer(_(NOT_ALLOWED), show_alert=True)
    except ClaimError as error:
        await query.answer(await _refusal(uow, order_id, error, setup), show_alert=True)
    except (OrderNotFound, NotYourOrder):
        await query.answer(_(NOT_YOUR_ORDER), show_alert=True)
    except ConcurrentModification:
        await uow.rollback()
        await query.answer(_(RACE), show_alert=True)
    else:
        await query.answer(_(toast) if toast is not None else None)
        await _edit(query, *card(order, claim))
        return order, claim
    return None


async def _edit(query: CallbackQuery, text: str | None, keyboard: InlineKeyboardMarkup | None) -> None:
    """Shows the pressed message anew (its text, if given, and its buttons)."""
    if not isinstance(query.message, Message):
        return
    try:
        if text is None:
            await query.message.edit_reply_markup(reply_markup=keyboard)
        else:
            await query.message.edit_text(text, parse_mode="HTML", reply_markup=keyboard)
    except TelegramBadRequest as error:
        logger.info("Claim message unchanged: %s", error.message)


async def _attachable(
    query: CallbackQuery, uow: UnitOfWork, order_id: str, roles: frozenset[Role]
) -> Order | None:
    """The order whose evidence the presser may attach to; otherwise the press is told why not."""
    try:
        order = await uow.orders.get(order_id)
    except OrderNotFound:
        await query.answer(_(NOT_YOUR_ORDER), show_alert=True)
        return None
    if not may_attach(order, query.from_user.id, roles):
        await query.answer(_(NOT_ALLOWED), show_alert=True)
        return None
    return order


@router.callback_query(ClaimReport.filter(F.kind != OTHER_PROBLEM))
async def on_report(
    query: CallbackQuery, callback_data: ClaimReport, uow: UnitOfWork, claims_setup: ClaimsSetup
) -> None:
    """The customer reports damaged or wrong goods: the claim opens and the evidence card follows."""
    user = await own_chat_presser(query)
    if user is None:
        return
    try:
        kind = ExceptionType(callback_data.kind)
        await claims.report_claim(finance_of(uow), callback_data.order_id, user.id, kind, claims_setup)
    except (NotYourOrder, OrderNotFound, ValueError):
        await query.answer(_(NOT_YOUR_ORDER), show_alert=True)
        return
    except (NotDelivered, ConcurrentModification, DomainError):
        await uow.rollback()
        await query.answer(_(PROBLEM_LATE).format(id=""), show_alert=True)
        return
    await query.answer(_(CLAIM_OPENED), show_alert=True)
    await _edit(query, None, None)


@router.callback_query(ClaimItem.filter(F.quantity < 0))
async def on_line(
    query: CallbackQuery,
    callback_data: ClaimItem,
    uow: UnitOfWork,
    roles: frozenset[Role],
) -> None:
    """A goods line of the evidence card: asks for its affected quantity (checked before it is shown)."""
    order = await _attachable(query, uow, callback_data.order_id, roles)
    if order is None:
        return
    if not 0 <= callback_data.line < len(order.items):
        await query.answer(
            problem_text(ClaimProblem.NO_SUCH_LINE, str(callback_data.line + 1), t), show_alert=True
        )
        return
    await query.answer(ask_quantity(order, callback_data.line, t))
    await _edit(query, None, quantity_keyboard(order, callback_data.line))


@router.callback_query(ClaimItem.filter(F.quantity >= 0))
async def on_quantity(
    query: CallbackQuery,
    callback_data: ClaimItem,
    uow: UnitOfWork,
    roles: frozenset[Role],
    claims_setup: ClaimsSetup,
) -> None:
    """Sets a goods line's affected quantity and shows the evidence card again."""
    who = person_of(query.from_user.id, roles)
    await _run(
        query,
        uow,
        claims_setup,
        callback_data.order_id,
        lambda: claims.set_item(
            finance_of(uow),
            callback_data.order_id,
            callback_data.line,
            callback_data.quantity,
            who,
            claims_setup,
        ),
        toast=None,
        card=_evidence_card,
    )


@router.callback_query(ClaimAction.filter(F.what == ADD_PHOTOS))
async def on_add_photos(
    query: CallbackQuery,
    callback_data: ClaimAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    state: FSMContext,
) -> None:
    """Takes the photos sent next in this chat for the claim's evidence."""
    order = await _attachable(query, uow, callback_data.order_id, roles)
    if order is None:
        return
    await state.set_state(ClaimPhotos.photos)
    await state.update_data(claim_order_id=order.id)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.answer(t(SEND_PHOTOS).format(id=order.display_id), parse_mode="HTML")


@router.message(ClaimPhotos.photos, F.photo)
async def on_photo(
    message: Message, uow: UnitOfWork, roles: frozenset[Role], state: FSMContext, claims_setup: ClaimsSetup
) -> None:
    """Keeps a photo (its largest size's file id) for the claim's evidence."""
    typed = await dialog_step(message, state)
    if typed is None or not message.photo:
        return
    order_id = str(typed.data.get("claim_order_id", ""))
    who = person_of(typed.user.id, roles)
    try:
        order, claim = await claims.add_photo(
            finance_of(uow), order_id, message.photo[-1].file_id, who, claims_setup
        )
    except ClaimError as error:
        if error.problem in (ClaimProblem.EVIDENCE_CLOSED, ClaimProblem.NO_CLAIM):
            await state.clear()
        await message.reply(problem_text(error.problem, error.detail, t), parse_mode="HTML")
        return
    except (NotPermitted, OrderNotFound):
        await state.clear()
        await message.reply(_(NOT_ALLOWED))
        return
    except ConcurrentModification:
        await uow.rollback()
        await message.reply(_(RACE))
        return
    await message.reply(t(PHOTO_KEPT).format(count=len(claim.photos), id=order.display_id), parse_mode="HTML")


@router.message(ClaimPhotos.photos, ~F.text.startswith("/"))
async def on_not_photo(message: Message) -> None:
    """Anything but a photo while photos are awaited."""
    await message.reply(_(NOT_A_PHOTO))


@router.callback_query(ClaimAction.filter(F.what == EVIDENCE))
async def on_evidence(
    query: CallbackQuery,
    callback_data: ClaimAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    state: FSMContext,
    claims_setup: ClaimsSetup,
) -> None:
    """Evidence complete: the evidence clock ends and customer service gets the claim."""
    who = person_of(query.from_user.id, roles)
    order_id = callback_data.order_id
    done = await _run(
        query,
        uow,
        claims_setup,
        order_id,
        lambda: claims.record_evidence(finance_of(uow), order_id, who, claims_setup),
        card=_evidence_closed,
    )
    if done is not None:
        await state.clear()


@router.callback_query(ClaimAction.filter(F.what == SHOW_PHOTOS))
async def on_show_photos(
    query: CallbackQuery, callback_data: ClaimAction, uow: UnitOfWork, roles: frozenset[Role]
) -> None:
    """Sends the claim's photos into this chat (to staff who handle claims)."""
    if not may(roles, Duty.RECORD_CLAIM_EVIDENCE):
        await query.answer(_(NOT_ALLOWED), show_alert=True)
        return
    try:
        order = await uow.orders.get(callback_data.order_id)
    except OrderNotFound:
        await query.answer(_(NOT_YOUR_ORDER), show_alert=True)
        return
    claim = claim_of(order)
    if claim is None or not claim.photos or not isinstance(query.message, Message):
        await query.answer(problem_text(ClaimProblem.NO_PHOTO, "", t), show_alert=True)
        return
    await query.answer(t(SHOWN).format(id=order.display_id))
    for number, photo in enumerate(claim.photos, start=1):
        await query.message.answer_photo(photo, caption=f"{order.display_id} · {number}/{len(claim.photos)}")


# The staff's steps of a claim after its evidence, each a press that runs one use case.
STAFF_STEPS = frozenset({CONTACTED, RESHIPPED} | {resolution.value for resolution in Resolution})


@router.callback_query(ClaimAction.filter(F.what.in_(STAFF_STEPS)))
async def on_staff_step(
    query: CallbackQuery,
    callback_data: ClaimAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    claims_setup: ClaimsSetup,
) -> None:
    """Runs the claim step the button names, for the staff member who pressed it.

    Customer contacted: claim_contact ends, the card with the resolutions follows. A resolution:
    the customer gets the offer with Accept and Decline. Reshipped: the warehouse shipped the
    replacement goods, the reship clock ends and the customer is told.
    """
    who = person_of(query.from_user.id, roles)
    order_id, what = callback_data.order_id, callback_data.what

    def step() -> Awaitable[tuple[Order, Claim]]:
        """The use case of the pressed button."""
        if what == CONTACTED:
            return claims.record_contact(finance_of(uow), order_id, who, claims_setup)
        if what == RESHIPPED:
            return claims.record_reshipped(finance_of(uow), order_id, who, claims_setup)
        percent = callback_data.percent or None
        return claims.offer(finance_of(uow), order_id, Resolution(what), who, claims_setup, percent=percent)

    await _run(query, uow, claims_setup, order_id, step)


@router.callback_query(ClaimAction.filter(F.what.in_({ACCEPT, DECLINE})))
async def on_answer(
    query: CallbackQuery, callback_data: ClaimAction, uow: UnitOfWork, claims_setup: ClaimsSetup
) -> None:
    """The customer accepts or declines the offer (only their own order's, in their own chat)."""
    user, order_id = await own_chat_presser(query), callback_data.order_id
    if user is None:
        return
    accepted = callback_data.what == ACCEPT
    await _run(
        query,
        uow,
        claims_setup,
        order_id,
        lambda: claims.answer(finance_of(uow), order_id, user.id, accepted, claims_setup),
    )


@router.callback_query(ClaimAction.filter(F.what == CLOSE))
async def on_close(
    query: CallbackQuery,
    callback_data: ClaimAction,
    uow: UnitOfWork,
    roles: frozenset[Role],
    claims_setup: ClaimsSetup,
) -> None:
    """Closes the settled claim's case through the exception flow (the record and satisfaction follow)."""
    who = person_of(query.from_user.id, roles)
    order_id = callback_data.order_id
    try:
        await uow.reviews.remember_name(
            query.from_user.id, staff_name(query.from_user), claims_setup.clock.now()
        )
        case = await claims.close_claim(finance_of(uow), order_id, who, claims_setup)
    except NotPermitted:
        await query.answer(_(NOT_ALLOWED), show_alert=True)
        return
    except ClaimError as error:
        await uow.rollback()
        order = await uow.orders.get(order_id)
        closing = next(
            (line for line in reversed(order.audit) if line.from_status is OrderStatus.EXCEPTION), None
        )
        if error.problem is ClaimProblem.NO_CLAIM and closing is not None:
            await query.answer(await handled_by(uow, closing, claims_setup.timezone), show_alert=True)
        else:
            await query.answer(problem_text(error.problem, error.detail, t), show_alert=True)
        return
    except (ConcurrentModification, DomainError):
        await uow.rollback()
        await query.answer(_(RACE), show_alert=True)
        return
    await query.answer(_(DONE))
    result = case.result.value if case.result is not None else ""
    await _edit(query, None, None)
    if isinstance(query.message, Message):
        await query.message.answer(
            t(CLOSED_TEXT).format(result=_(RESULT_NAMES.get(result, RESULT_NAMES["resumed"])))
        )
