"""Arbitrary text and callback data to every handler, as customers and staff (issue 11 acceptance).

The production dispatcher with the composition root's wiring (bot.app.build_workflow) on SQLite and
PostgreSQL, a recording bot that checks every request against the Bot API spec, and an order in
every stage a button can name. For any input: no unhandled exception (nothing reaches the error
handler), no Bot API violation, every callback query answered, nothing posted into a group chat
that was not asked for.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiogram import Dispatcher
from aiogram.types import Update
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import build_workflow
from bot.config import load_settings
from bot.dispatcher import build_dispatcher
from bot.i18n import create_i18n
from domain.clock import FixedClock
from domain.orders.status import Role
from storage.fsm import SqlFsmStorage
from storage.outbox_queue import SqlTeamChats
from storage.uow import SqlUnitOfWork
from tests.mocked_bot import MockedBot
from tests.review.conftest import make_order
from tests.storage.conftest import database_url, engine, new_uow, pg_url, session_factory

__all__ = ["database_url", "engine", "new_uow", "pg_url", "session_factory"]

NOW = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)
CUSTOMER, DESK, HEAD, WAREHOUSE, LOGISTICS, ADMIN = 100, 201, 202, 203, 204, 900
DESK_CHAT, WAREHOUSE_CHAT, LOGISTICS_CHAT = -1001, -1002, -1003
STAFF = {
    DESK: Role.ORDER_DESK,
    HEAD: Role.ORDER_DESK_HEAD,
    WAREHOUSE: Role.WAREHOUSE,
    LOGISTICS: Role.LOGISTICS,
}
USERS = (CUSTOMER, DESK, HEAD, WAREHOUSE, LOGISTICS, ADMIN, 555)
CHATS = {DESK: DESK_CHAT, HEAD: DESK_CHAT, WAREHOUSE: WAREHOUSE_CHAT, LOGISTICS: LOGISTICS_CHAT}
SPECIALS = "<>&\"'\u200b\u202e\u0000\x01 \n:/@²０١"
PREFIXES = ("rv", "co", "fix", "ex", "exc", "rcpt", "sa", "wz", "lang", "zz", "exm", "xc")


@pytest.fixture
async def world(
    session_factory: async_sessionmaker[AsyncSession],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Dispatcher, list[str]]:
    """The production dispatcher with staff, team chats and one order waiting for review."""
    for name, setting in {
        "ORDER_DESK_CHAT_ID": DESK_CHAT,
        "WAREHOUSE_CHAT_ID": WAREHOUSE_CHAT,
        "LOGISTICS_CHAT_ID": LOGISTICS_CHAT,
        "ADMIN_IDS": ADMIN,
    }.items():
        monkeypatch.setenv(name, str(setting))
    settings_ = load_settings(env_file=None)
    clock = FixedClock(NOW)
    i18n = create_i18n("en")
    workflow = build_workflow(settings_, clock, i18n)
    dispatcher = build_dispatcher(
        uow_factory=lambda: SqlUnitOfWork(session_factory),
        i18n=i18n,
        admin_ids=[ADMIN],
        storage=SqlFsmStorage(session_factory),
    )
    for key, value in workflow.handler_data().items():
        dispatcher[key] = value
    order = make_order(customer_id=CUSTOMER)
    async with SqlUnitOfWork(session_factory) as uow:
        for user_id, role in STAFF.items():
            await uow.staff.grant(user_id, role, by=None, at=NOW)
        teams = (("order_desk", DESK_CHAT), ("warehouse", WAREHOUSE_CHAT), ("logistics", LOGISTICS_CHAT))
        for team, chat_id in teams:
            await SqlTeamChats(uow.session).seed(team, chat_id, NOW)
        await uow.orders.add(order)
        await uow.commit()
    return dispatcher, [order.id, order.reference]


def _chat(user_id: int, in_group: bool) -> dict[str, Any]:
    chat_id = CHATS.get(user_id) if in_group else None
    if chat_id is None:
        return {"id": user_id, "type": "private", "first_name": "User"}
    return {"id": chat_id, "type": "supergroup", "title": "Team"}


def message_update(update_id: int, user_id: int, in_group: bool, text: str) -> Update:
    """A text message (a leading /word gets its bot_command entity)."""
    message: dict[str, Any] = {
        "message_id": update_id,
        "date": int(NOW.timestamp()),
        "chat": _chat(user_id, in_group),
        "from": {"id": user_id, "is_bot": False, "first_name": "Fuzz <&>"},
        "text": text,
    }
    if text.startswith("/") and len(text.split()[0]) > 1:
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    return Update.model_validate({"update_id": update_id, "message": message})


def press_update(update_id: int, user_id: int, in_group: bool, data: str, card_text: str) -> Update:
    """A button press with the given data on a card that shows card_text."""
    card = {
        "message_id": 7,
        "date": int(NOW.timestamp()),
        "chat": _chat(user_id, in_group),
        "from": {"id": 42, "is_bot": True, "first_name": "OrderDesk"},
        "text": card_text,
    }
    query = {
        "id": f"cb{update_id}",
        "from": {"id": user_id, "is_bot": False, "first_name": "Fuzz"},
        "chat_instance": "fuzz",
        "message": card,
        "data": data,
    }
    return Update.model_validate({"update_id": update_id, "callback_query": query})


texts = st.one_of(
    st.text(min_size=1, max_size=120),
    st.text(alphabet=SPECIALS + "abc/", min_size=1, max_size=40),
    st.builds(
        lambda command, rest: f"/{command} {rest}",
        st.sampled_from(
            [
                "start",
                "help",
                "lang",
                "neworder",
                "cancel",
                "myorders",
                "track",
                "order",
                "queue",
                "receipt",
                "staff",
                "sla",
                "todo",
                "offline",
                "failed",
                "xyz",
            ]
        ),
        st.text(alphabet=SPECIALS + "abc0123456789R-", max_size=40),
    ),
)
callback_data = st.one_of(
    st.text(min_size=1, max_size=64),
    st.builds(
        lambda prefix, parts: ":".join([prefix, *parts]).encode()[:64].decode(errors="ignore") or prefix,
        st.sampled_from(PREFIXES),
        st.lists(st.text(alphabet=SPECIALS + "0123456789abcdef-", max_size=24), max_size=4),
    ),
)
UPDATE_IDS: Iterator[int] = itertools.count(1)


def _spy(records: list[logging.LogRecord]) -> Callable[[], None]:
    """Collects ERROR records of every logger; returns the function that stops collecting."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Collect(level=logging.ERROR)
    logging.getLogger().addHandler(handler)
    return lambda: logging.getLogger().removeHandler(handler)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    user=st.sampled_from(USERS),
    in_group=st.booleans(),
    text=texts,
    data=callback_data,
    on_order=st.booleans(),
)
# A customer's free text with a NUL reaches customer service as a conversation: PostgreSQL refuses
# a NUL in text, so it must be left out before it is stored (found by this test on PostgreSQL).
@example(user=CUSTOMER, in_group=False, text="a guitar\x00 to Canada?", data="x", on_order=False)
async def test_any_text_or_button_data_from_anyone_is_handled(
    world: tuple[Dispatcher, list[str]],
    mocked_bot: MockedBot,
    user: int,
    in_group: bool,
    text: str,
    data: str,
    on_order: bool,
) -> None:
    dispatcher, (order_id, reference) = world
    if on_order:
        # Valid-looking data about a real order, with a tail that may or may not parse.
        data = f"{data.split(':')[0] or 'rv'}:{order_id}:{data[-8:]}"[:64]
    errors: list[logging.LogRecord] = []
    stop = _spy(errors)
    seen = len(mocked_bot.requests)
    mocked_bot.violations.clear()
    try:
        await dispatcher.feed_update(mocked_bot, message_update(next(UPDATE_IDS), user, in_group, text))
        await dispatcher.feed_update(
            mocked_bot, press_update(next(UPDATE_IDS), user, in_group, data, f"Review: {reference}")
        )
    finally:
        stop()

    requests = mocked_bot.requests[seen:]
    assert not mocked_bot.violations, mocked_bot.violations
    assert not errors, [record.getMessage() for record in errors]
    assert len([r for r in requests if r.name == "answerCallbackQuery"]) == 1
    apologies = [
        request
        for request in requests
        if request.name == "sendMessage"
        and int(request.params.get("chat_id", 0)) < 0
        and "went wrong" in request.params.get("text", "")
    ]
    assert not apologies
