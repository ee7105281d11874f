"""Every message template, rendered with every status, action, role and reason in both languages (issue 18).

People read a product, not a program: no raw enum value (pending_review, wechat_pay,
order_desk_head...), no internal id (staff user ids, order uuids), no negative time span, and in
Chinese no English word that is not the customer's own data (names, goods, address) or a proper name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import pytest

from application.conversation import Conversation, ConversationMessage, Intent
from bot.i18n import PoI18n, create_i18n
from domain.orders.events import OrderStatusChanged
from domain.orders.model import AuditEvent, Order
from domain.orders.status import Action, Channel, ExceptionType, OrderStatus, Role, Service
from domain.review import RejectReason, SecondReviewCause, SecondReviewReason
from domain.sla.alerts import AlertKind, DueClock, EscalationLevel, LastAction, SlaAlert
from domain.sla.policy import Stage
from handlers.orders import customer_card, staff_card
from presentation.conversation_texts import TelegramConversationTexts
from presentation.execution_cards import card_text
from presentation.labels import PAYMENT_METHOD_LABELS
from presentation.notifications import customer_update
from presentation.render import confirmation_text, rejection_text, review_card_text, translator
from presentation.sla_alerts import SlaAlertTexts, render_with
from tests.storage.factories import make_order

TIMEZONE = "Asia/Shanghai"
T0 = datetime(2026, 3, 16, 2, tzinfo=UTC)
STAFF = {7002: "Li Wei", 7004: "王伟", 7010: "Olivia Desk"}
ENUMS: tuple[type[StrEnum], ...] = (
    OrderStatus,
    Action,
    Role,
    RejectReason,
    Channel,
    ExceptionType,
    Service,
    Stage,
    SecondReviewCause,
    AlertKind,
)
# Values a person might mistake for words are only raw when they carry an underscore.
RAW_VALUES = sorted(
    {member.value for enum in ENUMS for member in enum if "_" in member.value}
    | {
        "wechat_pay",
        "bank_transfer",
        "needs_second_review",
        "late_entry",
        "assign_number",
        "customer_answer",
    },
    key=len,
    reverse=True,
)
# Latin words a Chinese text may carry: the factory order's customer data, the bot's proper names.
# The customer's data (name, email, goods, address, remarks) and the free texts the test writes.
CUSTOMER_DATA = set("Tea set Silk scarf Berlin Unter den Linden ring twice Li Wei li wei example com".split())
CUSTOMER_DATA |= set("please pay first Where On its way".split())
PROPER_NAMES = {
    "Telegram",
    "API",
    "PDF",
    "DHL",
    "Express",
    "Olivia",
    "Desk",
    "Emma",
    "Brown",
    "EUR",
    "CNY",
    "kg",
}
TAG = re.compile(r"<[^>]+>")
LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


@pytest.fixture(scope="module")
def i18n() -> PoI18n:
    """Every catalog."""
    return create_i18n("en")


def every_order() -> Iterator[Order]:
    """One order per status, each payment method and channel in turn, with a trail of every action."""
    methods = list(PAYMENT_METHOD_LABELS)
    channels = list(Channel)
    for index, status in enumerate(OrderStatus):
        order = make_order(status=status, created_at=T0)
        order.payment_method = methods[index % len(methods)]
        order.channel = channels[index % len(channels)]
        order.number = "20260316007" if index % 2 else None
        if status is OrderStatus.EXCEPTION:
            order.exception_type = list(ExceptionType)[index % len(ExceptionType)]
        actors = list(STAFF)
        audit_actions = [*(action.value for action in Action), "submit", "needs_second_review", "late_entry"]
        for step, action in enumerate(audit_actions):
            order.audit.append(
                AuditEvent(
                    T0 + timedelta(minutes=step),
                    actors[step % len(actors)] if step % 4 else None,
                    Role.ORDER_DESK,
                    action,
                    None,
                    status,
                    "items[0].name 'lithium battery' (lithium_batteries)" if step % 4 == 0 else "",
                )
            )
        yield order


def rendered(i18n: PoI18n, language: str) -> Iterator[tuple[str, str]]:
    """Every template's text for every order, status change, role, reason and stage: (what, text)."""
    t = translator(i18n, language)
    every_role = frozenset(Role)
    for order in every_order():
        status = order.status.value
        yield f"/order {status}", staff_card(order, every_role, t, TIMEZONE, STAFF)
        yield f"/order (customer) {status}", customer_card(order, t, TIMEZONE)
        yield f"confirmation {status}", confirmation_text(order, t)
        reasons = [SecondReviewReason(cause, "12000 CNY") for cause in SecondReviewCause]
        with_reviewer = replace(order)
        with_reviewer.audit = [
            *order.audit,
            AuditEvent(T0, 7002, Role.ORDER_DESK, Action.REFER_SECOND_REVIEW.value, None, None, ""),
        ]
        for second in (False, True):
            yield (
                f"review card {status}",
                review_card_text(with_reviewer, reasons, second=second, t=t, names=STAFF),
            )
        for team in (Role.WAREHOUSE, Role.LOGISTICS, Role.ORDER_DESK):
            yield f"{team.value} card {status}", card_text(order, team, t, TIMEZONE)
        for before in OrderStatus:
            event = OrderStatusChanged("e1", order.id, T0, Action.CONFIRM, before, order.status, 7002)
            update = customer_update(order, event, t, TIMEZONE)
            if update is not None:
                yield f"update {before.value}->{status}", update["text"]
    order = make_order(created_at=T0)
    for reason in RejectReason:
        yield f"rejection {reason.value}", rejection_text(order, reason, "please pay first", t)
    texts = SlaAlertTexts(
        render_with(lambda msgid, locale: i18n.gettext(msgid, locale=locale)), locale=language
    )
    for stage in Stage:
        for late in (timedelta(hours=-36), timedelta(hours=2)):
            due = DueClock(
                1,
                order.id,
                order.reference,
                stage.value,
                T0,
                T0 + timedelta(hours=1),
                last_action=LastAction(7004, Role.WAREHOUSE.value, Action.PICK.value, T0, "王伟"),
            )
            now = due.due_at + late
            for kind in AlertKind:
                yield (
                    f"alert {stage.value} {kind.value}",
                    texts.alert(kind, due, Role.WAREHOUSE, 5, now).params["text"],
                )
                yield f"alert line {stage.value}", texts.alert_line(kind, due, now)
            alert = SlaAlert(
                id=5,
                order_id=order.id,
                order_ref=order.reference,
                clock_id=1,
                stage=stage.value,
                kind=AlertKind.BREACH,
                department=Role.WAREHOUSE,
                due_at=T0,
                created_at=T0,
            )
            for level in (EscalationLevel.ORDER_DESK_HEAD, EscalationLevel.MANAGEMENT):
                yield f"escalation {stage.value}", texts.escalation(alert, level, [7010], now).params["text"]
    conversation = Conversation(1, 100, "Emma Brown", language, T0)
    cards = TelegramConversationTexts(i18n, TIMEZONE)
    for intent in (*Intent, None):
        message = ConversationMessage(
            3, 1, T0, True, 100, "Emma Brown", "Where?", intent.value if intent else None, order.id, T0
        )
        yield f"conversation card {intent}", cards.card(conversation, message, [order], language)["text"]
    yield "conversation answer", cards.answer("Olivia Desk", "On its way", language)["text"]


def problems(text: str, language: str) -> list[str]:
    """What a person should not read in the text."""
    plain = TAG.sub("", text)
    found = [f"raw value {value!r}" for value in RAW_VALUES if value in plain]
    found += [f"staff id {user_id}" for user_id in STAFF if str(user_id) in plain]
    if re.search(r"-\d+h|-\d+m\b|left -", plain):
        found.append("negative time")
    if re.search(r"[0-9a-f]{8}-[0-9a-f]{4}-", plain):
        found.append("internal order id")
    if language == "zh":
        # Commands (/track ...) are typed as they are, in every language.
        english = set(LATIN_WORD.findall(re.sub(r"/[a-z]+", "", plain))) - CUSTOMER_DATA - PROPER_NAMES
        english = {word for word in english if not re.fullmatch(r"R|[A-Z0-9]+", word)}
        if english:
            found.append(f"English in Chinese: {sorted(english)}")
        if re.search(r"[\u4e00-\u9fff]\s?:", plain):
            found.append("ASCII colon in Chinese (locales/GLOSSARY.md: full-width ：)")
    return found


@pytest.mark.parametrize("language", ["en", "zh"])
def test_no_template_shows_a_raw_value_an_id_or_untranslated_english(i18n: PoI18n, language: str) -> None:
    seen = 0
    bad: dict[str, list[str]] = {}
    for what, text in rendered(i18n, language):
        seen += 1
        found = problems(text, language)
        if found:
            bad.setdefault(what.split()[0] + " " + "; ".join(found), []).append(what)
    assert seen > 500
    assert bad == {}, "\n".join(f"{key} ({len(whats)}x, e.g. {whats[0]})" for key, whats in bad.items())


def test_the_check_finds_what_it_looks_for() -> None:
    assert problems("Status: pending_review, paid by wechat_pay, passed by 7002", "en") == [
        "raw value 'pending_review'",
        "raw value 'wechat_pay'",
        "staff id 7002",
    ]
    assert problems("剩余 -36h 03m", "zh") == ["negative time"]
    assert problems("状态: 已确认", "zh") == ["ASCII colon in Chinese (locales/GLOSSARY.md: full-width ：)"]
    assert problems("状态：waiting for review", "zh") == ["English in Chinese: ['for', 'review', 'waiting']"]


def test_the_confirmation_tells_the_customer_to_use_track(i18n: PoI18n) -> None:
    order = make_order(status=OrderStatus.CONFIRMED)
    order.number = "20260316007"

    for language in ("en", "zh"):
        text = confirmation_text(order, translator(i18n, language))
        assert "/track 20260316007" in text and "/order" not in text
