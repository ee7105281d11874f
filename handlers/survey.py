"""The follow-up survey in the customer's chat (R-7.2): the deep link, the one-tap rating, the comment.

`/start survey-<token>` opens a survey (how customers reached by email answer); the rating buttons
record or change the rating; then the customer may write a comment and say whether it is a
complaint. The token in the buttons is the survey's authority; a locked answer is said so.

Handler data: `aftersales_setup` (application.aftersales_ports.AftersalesSetup).
"""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime

from aiogram import F, Router
from aiogram.filters import CommandObject, CommandStart
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from application.aftersales_ports import AftersalesSetup, AftersalesUnitOfWork
from application.ports import UnitOfWork
from application.survey import OpenSurvey, SurveyLocked, SurveyNotFound, comment, open_survey, rate
from domain.aftersales.retention import is_erased
from domain.aftersales.survey import DEEP_LINK_PREFIX
from domain.errors import DomainError
from presentation.render import esc, local_time
from presentation.survey_texts import (
    ASK_COMPLAINT,
    COMMENT_EMPTY,
    LOCKED,
    RATE_FIRST,
    SURVEY_UNKNOWN,
    THANKS_COMPLAINT,
    THANKS_DONE,
    THANKS_RATING,
    SurveyMark,
    SurveyNoComment,
    SurveyRate,
    comment_keyboard,
    complaint_keyboard,
    rating_keyboard,
    survey_question,
)

router = Router(name="survey")


class SurveyDialog(StatesGroup):
    """The comment after a rating."""

    comment = State()
    complaint = State()


def aftersales_of(uow: UnitOfWork) -> AftersalesUnitOfWork:
    """The unit of work as the after-sales use cases need it (the SQL one has the records)."""
    if not hasattr(uow, "aftersales"):
        raise TypeError("the after-sales records live in the SQL database")
    return uow  # type: ignore[return-value]


def _thanks(setup: AftersalesSetup, display_id: str, answered_at: datetime) -> str:
    """The thanks with the time until which the answer may change."""
    until = local_time(answered_at + setup.settings.editable_for, setup.settings.timezone)
    return _(THANKS_DONE).format(id=esc(display_id), until=until)


async def _answered(query: CallbackQuery, answering: Awaitable[OpenSurvey]) -> OpenSurvey | None:
    """Runs an answer's use case; tells the customer (and returns None) when it cannot be recorded."""
    try:
        return await answering
    except SurveyNotFound:
        await query.answer(_(SURVEY_UNKNOWN), show_alert=True)
    except SurveyLocked as locked:
        await query.answer(_(LOCKED).format(id=str(locked)), show_alert=True)
    except DomainError:
        # A comment before any rating (the rating's own input is checked by its buttons).
        await query.answer(_(RATE_FIRST), show_alert=True)
    return None


@router.message(CommandStart(deep_link=True, magic=F.args.startswith(DEEP_LINK_PREFIX)))
async def open_by_link(
    message: Message, command: CommandObject, uow: UnitOfWork, aftersales_setup: AftersalesSetup
) -> None:
    """Opens the survey a deep link names."""
    token = (command.args or "").removeprefix(DEEP_LINK_PREFIX)
    try:
        survey = await open_survey(aftersales_of(uow), token, aftersales_setup)
    except SurveyNotFound:
        await message.answer(_(SURVEY_UNKNOWN))
        return
    if is_erased(survey.order):
        await message.answer(_(SURVEY_UNKNOWN))
        return
    if survey.locked:
        await message.answer(_(LOCKED).format(id=esc(survey.order.display_id)), parse_mode="HTML")
        return
    await message.answer(
        survey_question(survey.order, _),
        parse_mode="HTML",
        reply_markup=rating_keyboard(token, _),
    )


@router.callback_query(SurveyRate.filter())
async def on_rating(
    query: CallbackQuery,
    callback_data: SurveyRate,
    uow: UnitOfWork,
    state: FSMContext,
    aftersales_setup: AftersalesSetup,
) -> None:
    """Records the tapped rating and offers the comment."""
    token = callback_data.token
    survey = await _answered(query, rate(aftersales_of(uow), token, callback_data.rating, aftersales_setup))
    if survey is None or survey.answer is None:
        return
    answer = survey.answer
    await state.set_state(SurveyDialog.comment)
    await state.update_data(survey_token=token)
    await query.answer()
    text = _(THANKS_RATING).format(id=esc(survey.order.display_id), rating=answer.rating)
    if isinstance(query.message, Message):
        await query.message.answer(text, parse_mode="HTML", reply_markup=comment_keyboard(token, _))


@router.callback_query(SurveyNoComment.filter())
async def on_no_comment(
    query: CallbackQuery,
    callback_data: SurveyNoComment,
    uow: UnitOfWork,
    state: FSMContext,
    aftersales_setup: AftersalesSetup,
) -> None:
    """Ends the survey without a comment."""
    await state.clear()
    try:
        survey = await open_survey(aftersales_of(uow), callback_data.token, aftersales_setup)
    except SurveyNotFound:
        await query.answer(_(SURVEY_UNKNOWN), show_alert=True)
        return
    await query.answer()
    if survey.answer is None:
        await query.answer(_(RATE_FIRST), show_alert=True)
        return
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _thanks(aftersales_setup, survey.order.display_id, survey.answer.answered_at), parse_mode="HTML"
        )


@router.message(SurveyDialog.comment, F.text)
async def on_comment(message: Message, state: FSMContext) -> None:
    """Keeps the comment and asks whether it is a complaint."""
    text = (message.text or "").strip()
    if not text or text.startswith("/"):
        await message.answer(_(COMMENT_EMPTY))
        return
    data = await state.get_data()
    await state.update_data(survey_comment=text)
    await state.set_state(SurveyDialog.complaint)
    await message.answer(
        _(ASK_COMPLAINT), reply_markup=complaint_keyboard(str(data.get("survey_token", "")), _)
    )


@router.message(SurveyDialog.comment)
async def on_not_text(message: Message) -> None:
    """A comment is text."""
    await message.answer(_(COMMENT_EMPTY))


@router.callback_query(SurveyMark.filter())
async def on_mark(
    query: CallbackQuery,
    callback_data: SurveyMark,
    uow: UnitOfWork,
    state: FSMContext,
    aftersales_setup: AftersalesSetup,
) -> None:
    """Records the comment, marked as a complaint or not."""
    data = await state.get_data()
    text = data.get("survey_comment")
    if not isinstance(text, str) or data.get("survey_token") != callback_data.token:
        await query.answer(_(COMMENT_EMPTY), show_alert=True)
        return
    survey = await _answered(
        query,
        comment(aftersales_of(uow), callback_data.token, text, callback_data.complaint, aftersales_setup),
    )
    if survey is None or survey.answer is None:
        return
    answer = survey.answer
    await state.clear()
    await query.answer()
    if answer.complaint:
        reply = _(THANKS_COMPLAINT).format(id=esc(survey.order.display_id))
    else:
        reply = _thanks(aftersales_setup, survey.order.display_id, answer.answered_at)
    if isinstance(query.message, Message):
        await query.message.edit_text(reply, parse_mode="HTML")
