"""The words and buttons of the after-sales flows (R-7): the survey, its complaint card, the problem card.

AftersalesNotices renders the notification policy's survey, complaint and problem notices and
hands every other notice to the renderer it wraps (presentation/notifications.py). The survey
message carries the one-tap rating buttons and the deep link `/start survey-<token>` (as a
t.me link when BOT_USERNAME is set), so a customer reached by email can answer it too.
"""

from __future__ import annotations

from typing import Any

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from application.notifications import Audience, Notice, NoticeKind, NoticeRenderer, Rendered
from application.ports import Outgoing
from domain.aftersales.events import ComplaintRaised, SurveySent
from domain.aftersales.survey import DEEP_LINK_PREFIX, RATINGS
from domain.orders.events import Event
from domain.orders.model import Order
from presentation.keyboards import N_
from presentation.render import Translate, esc, keyboard_json, translator_or_default


class SurveyRate(CallbackData, prefix="svr"):
    """A rating button of the survey: the survey's token (the authority) and the rating."""

    token: str
    rating: int


class SurveyMark(CallbackData, prefix="svm"):
    """Whether the comment just written is a complaint."""

    token: str
    complaint: bool


class SurveyNoComment(CallbackData, prefix="svn"):
    """The customer leaves no comment."""

    token: str


class ProblemAction(CallbackData, prefix="prob"):
    """The delivered message's Report a problem button."""

    order_id: str


SURVEY = N_("🙏 How satisfied are you with order {id}? Tap a rating from 1 (poor) to 5 (excellent).")
SURVEY_REMINDER = N_("⏰ A reminder: how satisfied are you with order {id}? One tap is enough.")
SURVEY_LINK = N_("You can also answer in Telegram: {link}")
STAR = N_("{rating} ★")
THANKS_RATING = N_(
    "Thank you! You rated order {id} {rating} of 5. Write a comment if you like, or tap No comment."
)
NO_COMMENT = N_("No comment")
ASK_COMPLAINT = N_("Is this a complaint?")
YES_COMPLAINT = N_("Yes, a complaint")
NOT_COMPLAINT = N_("No, just a comment")
THANKS_DONE = N_("Thank you for your answer on order {id}. You can change it until {until}.")
THANKS_COMPLAINT = N_("Thank you. Customer service has your complaint about order {id} and will contact you.")
LOCKED = N_("Your answer on order {id} is locked now; thank you.")
SURVEY_UNKNOWN = N_("This survey link is not valid (any more).")
RATE_FIRST = N_("Please tap a rating first.")
COMMENT_EMPTY = N_("Please write a few words, or tap No comment.")
COMPLAINT_CARD = N_("😟 Complaint on order {id} ({reference}): rating {rating} of 5.")
COMPLAINT_MARKED = N_("The customer marked the comment as a complaint.")
COMPLAINT_COMMENT = N_("Comment: {comment}")
PROBLEM_CARD = N_(
    "⚠️ The customer reports a problem with delivered order {id} ({reference}). "
    "Please contact them; the order will not complete by itself."
)
PROBLEM = N_("Report a problem")
PROBLEM_THANKS = N_("Thank you. Customer service has your report about order {id} and will contact you.")
PROBLEM_AGAIN = N_("You already reported a problem with order {id}; customer service will contact you.")
PROBLEM_LATE = N_("Order {id} is no longer waiting for your receipt.")


def survey_link(token: str, bot_username: str | None) -> str:
    """The deep link that opens the survey in the bot."""
    if bot_username:
        return f"https://t.me/{bot_username}?start={DEEP_LINK_PREFIX}{token}"
    return f"/start {DEEP_LINK_PREFIX}{token}"


def rating_keyboard(token: str, t: Translate) -> InlineKeyboardMarkup:
    """The one-tap 1-5 rating row."""
    row = [
        InlineKeyboardButton(
            text=t(STAR).format(rating=rating), callback_data=SurveyRate(token=token, rating=rating).pack()
        )
        for rating in RATINGS
    ]
    return InlineKeyboardMarkup(inline_keyboard=[row])


def survey_question(order: Order, t: Translate, *, reminder: bool = False) -> str:
    """The survey's question."""
    return t(SURVEY_REMINDER if reminder else SURVEY).format(id=esc(order.display_id))


def survey_text(
    order: Order, token: str, t: Translate, bot_username: str | None, *, reminder: bool = False
) -> str:
    """The survey message: the question and the link to answer it in Telegram."""
    head = survey_question(order, t, reminder=reminder)
    return "\n\n".join([head, t(SURVEY_LINK).format(link=esc(survey_link(token, bot_username)))])


def comment_keyboard(token: str, t: Translate) -> InlineKeyboardMarkup:
    """The No comment button under the thanks for a rating."""
    button = InlineKeyboardButton(text=t(NO_COMMENT), callback_data=SurveyNoComment(token=token).pack())
    return InlineKeyboardMarkup(inline_keyboard=[[button]])


def complaint_keyboard(token: str, t: Translate) -> InlineKeyboardMarkup:
    """Asks whether the comment is a complaint."""
    return InlineKeyboardMarkup(
        inline_keyboard=[
            [
                InlineKeyboardButton(
                    text=t(YES_COMPLAINT), callback_data=SurveyMark(token=token, complaint=True).pack()
                ),
                InlineKeyboardButton(
                    text=t(NOT_COMPLAINT), callback_data=SurveyMark(token=token, complaint=False).pack()
                ),
            ]
        ]
    )


def problem_button(order: Order, t: Translate) -> InlineKeyboardButton:
    """The Report a problem button of the delivered message."""
    return InlineKeyboardButton(text=t(PROBLEM), callback_data=ProblemAction(order_id=order.id).pack())


def complaint_card(order: Order, event: ComplaintRaised, t: Translate) -> str:
    """The complaint card in customer service's chat."""
    lines = [
        t(COMPLAINT_CARD).format(
            id=esc(order.display_id), reference=esc(order.reference), rating=event.rating
        )
    ]
    if event.marked:
        lines.append(t(COMPLAINT_MARKED))
    if event.comment:
        lines.append(t(COMPLAINT_COMMENT).format(comment=esc(event.comment)))
    return "\n".join(lines)


class AftersalesNotices:
    """Renders the after-sales notices; every other one goes to the wrapped renderer."""

    KINDS = frozenset({NoticeKind.SURVEY, NoticeKind.COMPLAINT_CARD, NoticeKind.PROBLEM_CARD})

    def __init__(self, base: NoticeRenderer, i18n: I18n, bot_username: str | None = None) -> None:
        self.base = base
        self.i18n = i18n
        self.bot_username = bot_username

    def render(self, notice: Notice, event: Event, order: Order, audience: Audience) -> Rendered | None:
        """Renders one notice."""
        if notice.kind not in self.KINDS:
            return self.base.render(notice, event, order, audience)
        t = translator_or_default(self.i18n, audience.language)
        params: dict[str, Any] = {"parse_mode": "HTML"}
        match notice.kind, event:
            case NoticeKind.SURVEY, SurveySent():
                params["text"] = survey_text(
                    order, event.token, t, self.bot_username, reminder=event.reminder
                )
                params["reply_markup"] = keyboard_json(rating_keyboard(event.token, t))
            case NoticeKind.COMPLAINT_CARD, ComplaintRaised():
                params["text"] = complaint_card(order, event, t)
            case NoticeKind.PROBLEM_CARD, _:
                params["text"] = t(PROBLEM_CARD).format(
                    id=esc(order.display_id), reference=esc(order.reference)
                )
            case _:
                return None
        return Rendered(Outgoing("sendMessage", params))
