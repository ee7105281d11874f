"""Customers write to a person: the customer-service conversation and its answer clock (R-5.2, R-X.3).

A customer's free text that names no intent (or an intent the bot cannot serve yet) becomes a
conversation card in the customer-service chat, naming the customer and their open orders. A
customer-service member answers by replying to that card; the answer reaches the customer, and the
thread goes on both ways. Each customer message opens the 3-minute "customer asking gets an
answer" clock (stage customer_reply of the SLA policy); the first staff answer after it closes it.
Both the card and the answer are outbox rows committed with the message they carry.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Protocol

from application.notifier import ChatLanguageLookup, TeamChatLookup
from application.ports import OutboxMessage, UnitOfWork
from domain.clock import Clock
from domain.orders.model import Order
from domain.orders.status import OrderStatus, Role
from domain.sla.clocks import SlaContext, due_at
from domain.sla.policy import Stage
from domain.text import without_controls


class Intent(StrEnum):
    """What a customer's free text asks for, when the bot recognises it."""

    CANCEL = "cancel"
    CHANGE = "change"
    PROBLEM = "problem"
    WHERE = "where"


# Words that name an intent, English (whole words) and Chinese (anywhere); the first intent found wins.
INTENT_WORDS: Mapping[Intent, tuple[str, ...]] = MappingProxyType(
    {
        Intent.CANCEL: ("cancel", "cancellation", "refund", "取消", "退单", "退款", "不要了"),
        Intent.CHANGE: (
            "change",
            "modify",
            "update",
            "edit",
            "修改",
            "更改",
            "改地址",
            "换地址",
            "改电话",
            # "我想改收货地址", "改联系方式" (issue 13): the change flow takes them.
            "改收货",
            "改联系",
        ),
        Intent.PROBLEM: (
            "broken",
            "damaged",
            "damage",
            "problem",
            "missing",
            "lost",
            "wrong",
            "complaint",
            "坏",
            "破损",
            "损坏",
            "问题",
            "丢",
            "少了",
            "错",
            "投诉",
        ),
        Intent.WHERE: (
            "where",
            "track",
            "tracking",
            "status",
            "when",
            "arrive",
            "parcel",
            "package",
            "在哪",
            "到哪",
            "物流",
            "查询",
            "什么时候",
            "进度",
            "到了吗",
        ),
    }
)
_ASCII_WORD = re.compile(r"[a-z]+")


def recognise(text: str) -> Intent | None:
    """Returns the intent a customer's free text names, or None."""
    lowered = text.casefold()
    words = set(_ASCII_WORD.findall(lowered))
    for intent, keys in INTENT_WORDS.items():
        for key in keys:
            if (key in words) if key.isascii() else (key in lowered):
                return intent
    return None


# Orders a customer may still ask about: not finished, cancelled or refused.
_CLOSED = frozenset(
    {OrderStatus.COMPLETED, OrderStatus.ARCHIVED, OrderStatus.CANCELLED, OrderStatus.REJECTED}
)
# Orders listed on a card or offered as buttons.
OPEN_ORDERS_SHOWN = 5


def open_orders(orders: Sequence[Order]) -> list[Order]:
    """The customer's orders still under way, newest first, at most OPEN_ORDERS_SHOWN."""
    return [order for order in orders if order.status not in _CLOSED][:OPEN_ORDERS_SHOWN]


@dataclass(frozen=True)
class Person:
    """Who writes: Telegram user id, display name and the language they read."""

    user_id: int
    name: str
    language: str = "en"


@dataclass(frozen=True)
class Conversation:
    """A customer's thread with customer service."""

    id: int
    customer_id: int
    customer_name: str
    language: str
    opened_at: datetime


@dataclass(frozen=True)
class ConversationMessage:
    """One message of a conversation; a customer's carries its answer clock."""

    id: int
    conversation_id: int
    at: datetime
    from_customer: bool
    author_id: int
    author_name: str
    text: str
    intent: str | None = None
    order_id: str | None = None
    due_at: datetime | None = None
    answered_at: datetime | None = None
    met: bool | None = None


class ConversationStore(Protocol):
    """Conversations and their messages, in the caller's transaction."""

    async def conversation_of(self, customer: Person, at: datetime) -> Conversation: ...

    async def get(self, conversation_id: int) -> Conversation | None: ...

    async def add(self, message: ConversationMessage) -> int: ...

    async def message_for_card(
        self, chat_id: int, telegram_message_id: int
    ) -> ConversationMessage | None: ...

    async def answer_waiting(self, conversation_id: int, at: datetime) -> list[ConversationMessage]: ...

    async def unanswered(self, limit: int) -> list[ConversationMessage]: ...

    async def overdue(self, now: datetime, limit: int) -> list[ConversationMessage]: ...


class ConversationTexts(Protocol):
    """The words of the card and of the answer, in the reader's language (presentation/)."""

    def card(
        self,
        conversation: Conversation,
        message: ConversationMessage,
        orders: Sequence[Order],
        language: str,
    ) -> dict[str, Any]: ...

    def answer(self, staff_name: str, text: str, language: str) -> dict[str, Any]: ...

    def overdue(self, message: ConversationMessage, now: datetime, language: str) -> dict[str, Any]: ...


CARD_KEY = "conversation:"
ANSWER_KEY = "conversation-answer:"


@dataclass(frozen=True)
class ConversationSetup:
    """What the conversation use cases need: time, the answer limit, chats and words."""

    clock: Clock
    sla: SlaContext
    team_chat: TeamChatLookup
    chat_language: ChatLanguageLookup
    store_of: Callable[[UnitOfWork], ConversationStore]
    texts: ConversationTexts
    default_language: str = "en"


async def service_chat(uow: UnitOfWork, setup: ConversationSetup) -> int | None:
    """The customer-service chat, else the order desk's, which watches everything (R-5.1)."""
    chat_id = await setup.team_chat(uow, Role.CUSTOMER_SERVICE.value)
    if chat_id is None:
        chat_id = await setup.team_chat(uow, Role.ORDER_DESK.value)
    return chat_id


async def customer_writes(
    uow: UnitOfWork,
    setup: ConversationSetup,
    customer: Person,
    text: str,
    *,
    intent: Intent | None = None,
    order_id: str | None = None,
) -> bool:
    """Records the customer's message, opens its answer clock and queues its card; False: no staff chat."""
    # A NUL or other control character cannot be stored (PostgreSQL refuses it) or relayed.
    text = without_controls(text)
    store = setup.store_of(uow)
    now = setup.clock.now()
    conversation = await store.conversation_of(customer, now)
    due = due_at(setup.sla.policy, setup.sla.calendar, Stage.CUSTOMER_REPLY.value, now)
    message = ConversationMessage(
        0,
        conversation.id,
        now,
        True,
        customer.user_id,
        customer.name,
        text,
        intent.value if intent is not None else None,
        order_id,
        due,
    )
    message_id = await store.add(message)
    chat_id = await service_chat(uow, setup)
    if chat_id is None:
        return False
    language = await setup.chat_language(uow, chat_id) or setup.default_language
    orders = open_orders(await uow.orders.list_for_customer(customer.user_id))
    stored = ConversationMessage(**{**message.__dict__, "id": message_id})
    params = setup.texts.card(conversation, stored, orders, language)
    await uow.outbox.enqueue(
        OutboxMessage(
            chat_id, "sendMessage", {**params, "chat_id": chat_id}, now, order_id, f"{CARD_KEY}{message_id}"
        )
    )
    return True


class AnswerOutcome(StrEnum):
    """What became of a staff member's reply to a bot message."""

    SENT = "sent"
    NOT_A_CARD = "not-a-card"
    NOT_ALLOWED = "not-allowed"


@dataclass(frozen=True)
class Answered:
    """The outcome of a staff reply, and the customer it went to."""

    outcome: AnswerOutcome
    customer_name: str = ""
    late: bool = False


# Who answers customers: customer service, and the admins.
ANSWERING_ROLES = frozenset({Role.CUSTOMER_SERVICE, Role.ADMIN})


async def staff_answers(
    uow: UnitOfWork,
    setup: ConversationSetup,
    staff: Person,
    roles: frozenset[Role],
    chat_id: int,
    card_message_id: int,
    text: str,
) -> Answered:
    """Sends a staff member's reply to a conversation card to the customer and closes the open clocks."""
    text = without_controls(text)
    store = setup.store_of(uow)
    asked = await store.message_for_card(chat_id, card_message_id)
    if asked is None:
        return Answered(AnswerOutcome.NOT_A_CARD)
    conversation = await store.get(asked.conversation_id)
    if conversation is None:
        return Answered(AnswerOutcome.NOT_A_CARD)
    if not roles & ANSWERING_ROLES:
        return Answered(AnswerOutcome.NOT_ALLOWED, conversation.customer_name)
    now = setup.clock.now()
    answer = ConversationMessage(0, conversation.id, now, False, staff.user_id, staff.name, text)
    answer_id = await store.add(answer)
    closed = await store.answer_waiting(conversation.id, now)
    customer_id = conversation.customer_id
    params = setup.texts.answer(staff.name, text, conversation.language)
    await uow.outbox.enqueue(
        OutboxMessage(
            customer_id,
            "sendMessage",
            {**params, "chat_id": customer_id},
            now,
            None,
            f"{ANSWER_KEY}{answer_id}",
        )
    )
    late = any(message.met is False for message in closed)
    return Answered(AnswerOutcome.SENT, conversation.customer_name, late)


# Sets a team chat's language for every department using the chat; returns how many do.
ChatLanguageSetter = Callable[[UnitOfWork, int, str], Awaitable[int]]


@dataclass(frozen=True)
class ChatLanguages:
    """Reads and sets the language of team chats (/lang in a group)."""

    language_of: ChatLanguageLookup
    set_language: ChatLanguageSetter


def may_set_chat_language(roles: frozenset[Role], departments: frozenset[Role]) -> bool:
    """Admins set any team chat's language; the order desk head sets the order desk's."""
    if Role.ADMIN in roles:
        return True
    return Role.ORDER_DESK in departments and Role.ORDER_DESK_HEAD in roles


LATE_KEY = "conversation-late:"
# Overdue customer messages reminded of per sweep at most.
OVERDUE_BATCH = 50


async def remind_overdue(uow: UnitOfWork, setup: ConversationSetup) -> int:
    """Tells customer service once of every customer message past its answer time; returns how many."""
    now = setup.clock.now()
    late = await setup.store_of(uow).overdue(now, OVERDUE_BATCH)
    chat_id = await service_chat(uow, setup) if late else None
    if chat_id is None:
        return 0
    language = await setup.chat_language(uow, chat_id) or setup.default_language
    told = 0
    for message in late:
        params = {**setup.texts.overdue(message, now, language), "chat_id": chat_id}
        queued = OutboxMessage(
            chat_id, "sendMessage", params, now, message.order_id, f"{LATE_KEY}{message.id}"
        )
        told += int(await uow.outbox.enqueue(queued))
    return told
