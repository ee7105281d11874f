"""The follow-up survey (R-7.2): sent by customer service through the notification policy, answered by token.

The sweep sends each completed order's survey SURVEY_AFTER its completion, only in working hours,
and one reminder later if it is unanswered; each is an audit line and a SurveySent event, which the
notification policy turns into the customer's message (Telegram, or email for customers without
it, with the deep link `/start survey-<token>`). Sending closes the survey clock. A customer with
neither Telegram nor email cannot be surveyed: that is recorded and closes the clock too.

Answers are found by the survey's token (the deep link or the buttons carry it): a 1-5 rating, then
an optional comment the customer may mark as a complaint. A complaint (rating 2 or less, or a
marked comment) puts a card in customer service's chat. An answer can change for
SURVEY_EDITABLE_FOR after it was first given, then it is locked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from application.aftersales_ports import AftersalesSetup, AftersalesUnitOfWork, SurveyAnswer
from application.services import commit_change
from domain.aftersales.events import ComplaintRaised, SurveySent
from domain.aftersales.retention import is_erased
from domain.aftersales.survey import (
    answer_locked,
    check_rating,
    clean_comment,
    in_working_hours,
    is_complaint,
    new_survey_token,
    reminder_due,
    survey_due,
)
from domain.errors import DomainError
from domain.orders.model import Order
from domain.orders.status import Role
from domain.sla.clocks import apply_clock_events
from domain.sla.policy import ClockEvent

logger = logging.getLogger(__name__)


class SurveyNotFound(DomainError):
    """No survey has this token (never sent, or the order is no longer kept)."""


class SurveyLocked(DomainError):
    """The answer can no longer be changed."""


@dataclass(frozen=True)
class OpenSurvey:
    """A survey as its customer sees it: the order, and the answer given so far."""

    order: Order
    token: str
    answer: SurveyAnswer | None
    locked: bool


async def send_due_surveys(uow_factory: Callable[[], AftersalesUnitOfWork], setup: AftersalesSetup) -> int:
    """Sends the surveys due now (working hours only) and the reminders due; returns how many went out."""
    now = setup.clock.now()
    calendar = setup.sla.calendar
    if not in_working_hours(calendar, now):
        return 0
    settings = setup.settings
    async with uow_factory() as uow:
        first = await uow.aftersales.awaiting_survey(now, settings.batch)
        reminders = await uow.aftersales.awaiting_reminder(now, settings.batch)
    sent = 0
    for record in first:
        if survey_due(record.completed_at, now, settings.survey_after, calendar):
            sent += await _isolated(uow_factory, record.order_id, setup, now, False)
    for record in reminders:
        if record.survey_sent_at and reminder_due(
            record.survey_sent_at, now, settings.reminder_after, calendar
        ):
            sent += await _isolated(uow_factory, record.order_id, setup, now, True)
    return sent


async def _isolated(
    uow_factory: Callable[[], AftersalesUnitOfWork],
    order_id: str,
    setup: AftersalesSetup,
    now: datetime,
    reminder: bool,
) -> int:
    """Sends one order's survey in its own transaction; a failure is logged and left for the next sweep."""
    try:
        await _send(uow_factory(), order_id, setup, now, reminder)
    except Exception:
        logger.exception("After-sales sweep: could not send the survey of order %s", order_id)
        return 0
    return 1


async def _send(
    uow: AftersalesUnitOfWork, order_id: str, setup: AftersalesSetup, now: datetime, reminder: bool
) -> None:
    """Sends one order's survey (or reminder) in one transaction with its audit line and clock."""
    async with uow:
        record = await uow.aftersales.get(order_id)
        order = await uow.orders.get(order_id)
        if record is None or record.erased_at is not None or is_erased(order):
            return
        customer = order.customer
        if customer.telegram_user_id is None and not customer.email:
            await uow.aftersales.mark_unreachable(order_id)
            order.note("", actor_id=None, role=Role.SYSTEM, now=now, action="survey_unreachable")
            apply_clock_events(order, [ClockEvent.SURVEY_UNREACHABLE], now, setup.sla)
            await commit_change(order, uow, now, setup.handlers, None)
            return
        token = record.survey_token or new_survey_token()
        await uow.aftersales.mark_survey(order_id, token=token, at=now, reminder=reminder)
        action = "survey_reminded" if reminder else "survey_sent"
        order.note("", actor_id=None, role=Role.CUSTOMER_SERVICE, now=now, action=action)
        order.record(SurveySent(order.event_id(), order.id, now, token, reminder))
        apply_clock_events(order, [ClockEvent.SURVEY_SENT], now, setup.sla)
        await commit_change(order, uow, now, setup.handlers, None)


async def open_survey(uow: AftersalesUnitOfWork, token: str, setup: AftersalesSetup) -> OpenSurvey:
    """Finds the survey a token opens; raises SurveyNotFound."""
    async with uow:
        record = await uow.aftersales.by_token(token)
        if record is None:
            raise SurveyNotFound(token)
        order = await uow.orders.get(record.order_id)
        answer = await uow.aftersales.answer_of(order.id)
    locked = answer is not None and answer_locked(
        answer.answered_at, setup.clock.now(), setup.settings.editable_for
    )
    return OpenSurvey(order, token, answer, locked)


async def rate(uow: AftersalesUnitOfWork, token: str, rating: int, setup: AftersalesSetup) -> OpenSurvey:
    """Records (or changes, while it may) the survey's rating."""
    rating = check_rating(rating)

    def change(answer: SurveyAnswer | None, now: datetime, order_id: str) -> SurveyAnswer:
        if answer is None:
            return SurveyAnswer(order_id, rating, is_complaint(rating, False), now)
        return replace(
            answer, rating=rating, complaint=is_complaint(rating, answer.marked_complaint), changed_at=now
        )

    return await _answer(uow, token, setup, change, f"rating {rating}")


async def comment(
    uow: AftersalesUnitOfWork, token: str, text: str, marked: bool, setup: AftersalesSetup
) -> OpenSurvey:
    """Records the survey's optional comment, which the customer may mark as a complaint."""
    cleaned = clean_comment(text)

    def change(answer: SurveyAnswer | None, now: datetime, order_id: str) -> SurveyAnswer:
        if answer is None:
            raise DomainError("rate first, then comment")
        return replace(
            answer,
            comment=cleaned,
            marked_complaint=marked,
            complaint=is_complaint(answer.rating, marked),
            changed_at=now,
        )

    return await _answer(uow, token, setup, change, "comment, complaint" if marked else "comment")


async def _answer(
    uow: AftersalesUnitOfWork,
    token: str,
    setup: AftersalesSetup,
    change: Callable[[SurveyAnswer | None, datetime, str], SurveyAnswer],
    note: str,
) -> OpenSurvey:
    """Loads the survey, checks the lock, records the answer and tells customer service of a complaint."""
    async with uow:
        record = await uow.aftersales.by_token(token)
        if record is None:
            raise SurveyNotFound(token)
        order = await uow.orders.get(record.order_id)
        now = setup.clock.now()
        before = await uow.aftersales.answer_of(order.id)
        if before is not None and answer_locked(before.answered_at, now, setup.settings.editable_for):
            raise SurveyLocked(order.display_id)
        after = change(before, now, order.id)
        await uow.aftersales.save_answer(after)
        order.note(
            note,
            actor_id=order.customer.telegram_user_id,
            role=Role.CUSTOMER,
            now=now,
            action="survey_answered",
        )
        apply_clock_events(order, [ClockEvent.FEEDBACK_RECORDED], now, setup.sla)
        newly = after.complaint and (before is None or not before.complaint)
        commented = (
            after.complaint
            and after.comment is not None
            and (before is None or before.comment != after.comment)
        )
        if newly or commented:
            order.record(
                ComplaintRaised(
                    order.event_id(), order.id, now, after.rating, after.comment, after.marked_complaint
                )
            )
        await commit_change(order, uow, now, setup.handlers, None)
    return OpenSurvey(order, token, after, locked=False)
