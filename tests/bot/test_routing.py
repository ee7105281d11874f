"""The indexed root router: updates skip routers that cannot take them, never one that could (issue 17)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from aiogram import Dispatcher, F, Router
from aiogram.dispatcher.event.bases import UNHANDLED, SkipHandler
from aiogram.dispatcher.event.handler import FilterObject
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackData, CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Document, Message, PhotoSize

from bot.i18n import PoI18n
from handlers import build_root_router
from handlers.routing import DataStartNeed, IndexedRouter, Route, need_of, needs_of
from presentation.keyboards import MenuButton
from tests.bot.conftest import callback_update, message_update
from tests.mocked_bot import MockedBot


class Picking(StatesGroup):
    """A sample dialog."""

    quantity = State()


class Scan(CallbackData, prefix="scan"):
    """A sample button."""

    order_id: str


def _tree(offered: Counter[str]) -> tuple[IndexedRouter, list[str]]:
    """A root over four routers, each counting the updates it is offered, and the handlers that ran."""
    answered: list[str] = []

    def counting(name: str) -> Router:
        router = Router(name=name)

        def offered_to(_: Any) -> bool:
            offered[name] += 1
            return True

        router.message.filter(offered_to)
        router.callback_query.filter(offered_to)
        return router

    dialog, buttons, commands, magic = (counting(name) for name in ("dialog", "buttons", "commands", "magic"))

    @dialog.message(Picking.quantity)
    async def on_quantity(message: Message) -> None:
        answered.append("quantity")

    @buttons.callback_query(Scan.filter())
    async def on_scan(query: CallbackQuery) -> None:
        answered.append("scan")

    @commands.message(Command("pick"))
    async def on_pick(message: Message) -> None:
        answered.append("pick")

    @magic.message(F.text == "hello")
    @magic.callback_query(F.data == "other")
    async def on_magic(event: Message | CallbackQuery) -> None:
        answered.append("magic")

    root = IndexedRouter(name="root")
    for router in (dialog, buttons, commands, magic):
        root.include_router(router)
    root.index()
    return root, answered


async def test_an_update_is_offered_only_to_the_routers_that_could_take_it(bot: MockedBot) -> None:
    offered: Counter[str] = Counter()
    root, answered = _tree(offered)
    dispatcher = Dispatcher()
    dispatcher.include_router(root)

    await dispatcher.feed_update(bot, message_update(1, "/pick"))
    assert answered == ["pick"]
    # Not the dialog (no dialog state), not the buttons (a message): only the command's router.
    assert offered == Counter({"commands": 1})

    await dispatcher.feed_update(bot, message_update(2, "hello"))
    assert answered == ["pick", "magic"]
    # A magic filter's needs cannot be read: its router is offered everything that gets that far.
    assert offered == Counter({"commands": 1, "magic": 1})

    await dispatcher.feed_update(bot, callback_update(3, Scan(order_id="o-1").pack()))
    await dispatcher.feed_update(bot, callback_update(4, "other"))
    assert answered == ["pick", "magic", "scan", "magic"]
    assert offered == Counter({"commands": 1, "magic": 2, "buttons": 1})


async def test_a_dialog_router_is_offered_the_messages_of_its_state(bot: MockedBot) -> None:
    offered: Counter[str] = Counter()
    root, answered = _tree(offered)
    dispatcher = Dispatcher()
    dispatcher.include_router(root)
    update = message_update(1, "12")
    assert update.message is not None and update.message.from_user is not None
    context = dispatcher.fsm.get_context(bot, update.message.chat.id, update.message.from_user.id)
    await context.set_state(Picking.quantity)

    await dispatcher.feed_update(bot, update)

    assert answered == ["quantity"]
    assert offered == Counter({"dialog": 1})


def _corpus(root: Router, i18n: PoI18n) -> list[tuple[Message | CallbackQuery, str | None]]:
    """Messages and presses that exercise every command, state, button prefix and menu label of the tree."""
    commands: set[str] = set()
    states: set[str | None] = {None, "Elsewhere:step"}
    prefixes: set[str] = set()
    starts: set[str] = set()
    labels: set[str] = set()
    for router in root.chain_tail:
        for handler in (*router.message.handlers, *router.callback_query.handlers):
            for each in handler.filters or ():
                check = _unwrapped(each.callback)
                if isinstance(check, Command):
                    commands.update(str(name) for name in check.commands)
                elif isinstance(check, StateFilter):
                    for state in check.states:
                        if isinstance(state, type) and issubclass(state, StatesGroup):
                            states.update(state.__all_states_names__)
                        elif isinstance(state, State):
                            states.add(state.state)
                        elif isinstance(state, str) or state is None:
                            states.add(state)
                elif isinstance(check, State):
                    states.add(check.state)
                elif isinstance(check, CallbackQueryFilter):
                    prefixes.add(check.callback_data.__prefix__)
                elif isinstance(check, MenuButton):
                    labels |= check.labels(i18n)
                elif isinstance(need := need_of(each.magic), DataStartNeed):
                    starts.add(need.start)
    texts = [
        *(f"/{name}" for name in commands),
        *(f"/{name.upper()} R-1" for name in commands),
        *(f"/{name}@orderdesk_bot R-1" for name in commands),
        *labels,
        "Li Wei",
        "/unknown",
        "",
    ]
    events: list[tuple[Message | CallbackQuery, str | None]] = []
    for state in sorted(states, key=str):
        for index, text in enumerate(texts):
            message = message_update(index, text or "x").message
            assert message is not None
            events.append((message, state))
        for index, prefix in enumerate(sorted(prefixes)):
            query = callback_update(index, f"{prefix}:o-1:1").callback_query
            assert query is not None
            events.append((query, state))
        for index, start in enumerate(sorted(starts)):
            query = callback_update(index, f"{start}o-1:ack").callback_query
            assert query is not None
            events.append((query, state))
        events.extend((message, state) for message in _carrying_messages())
    return events


def _carrying_messages() -> list[Message]:
    """Messages that carry what attribute filters (F.photo, F.reply_to_message...) look for."""
    private = message_update(1, "x").message
    group = message_update(2, "Thanks, noted", chat_id=-500, chat_type="group").message
    assert private is not None and group is not None
    photo = [PhotoSize(file_id="f1", file_unique_id="u1", width=10, height=10)]
    document = Document(file_id="d1", file_unique_id="v1", file_name="receipt.pdf")
    return [
        private.model_copy(update={"text": None, "photo": photo}),
        private.model_copy(update={"text": None, "document": document, "caption": "receipt"}),
        group.model_copy(update={"reply_to_message": private}),
        private.model_copy(update={"reply_to_message": private}),
    ]


async def _aiogram_passes(
    event_filter: FilterObject, event: Message | CallbackQuery, raw_state: str | None, i18n: PoI18n
) -> bool:
    """Whether aiogram's own filter object passes the event (the oracle); True for filters of our own."""
    if event_filter.magic is not None:
        return bool(event_filter.magic.resolve(event))
    check = _unwrapped(event_filter.callback)
    if isinstance(check, Command):
        if not isinstance(event, Message):
            return False
        text = event.text or event.caption or ""
        if text and "@" in text.split(maxsplit=1)[0]:
            # Mention checks need the bot's username; the name alone decides the index.
            text = text.replace("@orderdesk_bot", "", 1)
        return bool(await check(event.model_copy(update={"text": text}), bot=None))  # type: ignore[arg-type]
    if isinstance(check, State | StateFilter):
        return bool(await _maybe(check(event, raw_state)))
    if isinstance(check, CallbackQueryFilter):
        return isinstance(event, CallbackQuery) and bool(await check(event))
    if isinstance(check, MenuButton):
        return isinstance(event, Message) and await check(event, i18n)
    return True


def _unwrapped(check: Any) -> Any:
    """The filter itself, where the production dispatcher made it run on the event loop."""
    return getattr(check, "__wrapped__", check)


async def _maybe(result: Any) -> Any:
    """Awaits a filter's result if it is awaitable."""
    return await result if hasattr(result, "__await__") else result


@pytest.mark.parametrize("event_kind", ["message", "callback_query"])
async def test_the_production_index_never_skips_a_router_whose_handler_would_pass(
    event_kind: str, i18n: PoI18n
) -> None:
    """Every handler whose readable filters aiogram passes for an update sits in a router the index admits."""
    root = build_root_router()
    assert isinstance(root, IndexedRouter)
    routes = dict(root._reach[event_kind] if root._reach is not None else [])
    checked = 0
    for event, raw_state in _corpus(root, i18n):
        if (event_kind == "message") != isinstance(event, Message):
            continue
        for module_router, reach in routes.items():
            for router in module_router.chain_tail:
                for handler in router.observers[event_kind].handlers:
                    passes = [
                        await _aiogram_passes(each, event, raw_state, i18n) for each in handler.filters or ()
                    ]
                    if all(passes):
                        checked += 1
                        shown = getattr(event, "text", None) or getattr(event, "data", None)
                        where = f"{handler.callback.__name__} in {module_router.name} would take {shown!r}"
                        assert reach.admits(event, raw_state, i18n), f"{where} in state {raw_state!r}"
                        needs = needs_of(handler)
                        assert all(need.admits(event, raw_state, i18n) for need in needs), (
                            f"{where} in state {raw_state!r}, but its needs {needs} skip it"
                        )
    assert checked > 100


def _checked(root: IndexedRouter, event_kind: str, event: Message | CallbackQuery, i18n: PoI18n) -> list[str]:
    """The handlers whose filters the root checks for the event, in order (their needs met)."""
    names: list[str] = []

    def walk(route: Route) -> None:
        for handler, needs in route.handlers:
            if all(need.admits(event, None, i18n) for need in needs):
                names.append(handler.callback.__name__)
        for sub_route in route.sub_routes:
            walk(sub_route)

    for route, reach in root._routes[event_kind]:
        if reach.admits(event, None, i18n):
            walk(route)
    return names


def test_most_routers_and_handlers_are_skipped_for_a_start_and_for_a_press(i18n: PoI18n) -> None:
    """What the index buys: /start and a card button reach a handful of the thirty routers' handlers."""
    root = build_root_router()
    assert isinstance(root, IndexedRouter) and root._reach is not None
    start = message_update(1, "/start").message
    press = callback_update(2, "ex:o-1:open").callback_query
    assert start is not None and press is not None
    for_start = [router.name for router, reach in root._reach["message"] if reach.admits(start, None, i18n)]
    for_press = [
        router.name for router, reach in root._reach["callback_query"] if reach.admits(press, None, i18n)
    ]
    assert len(root.sub_routers) > 25
    # The conversation router's handler needs a reply (F.reply_to_message): a /start is not one.
    assert for_start == ["binding", "survey", "payment", "common"]
    # The SLA router's button handler needs data starting "sla:" (F.data.startswith).
    assert for_press == ["execution", "fallback"]
    # Within them, only the handlers whose needs the update meets have their filters checked.
    assert _checked(root, "message", start, i18n) == [
        "start_with_link",
        "open_by_link",
        "on_unasked_receipt",
        "start",
    ]
    assert _checked(root, "callback_query", press, i18n) == [
        "on_open",
        "on_step",
        "on_button_answer",
        "stale_button",
    ]


def _traced_tree(root: Router, trace: list[str]) -> Router:
    """A tree that exercises aiogram's propagation rules, every step written to the trace."""

    async def tag_middleware(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        trace.append(f"inner middleware of {data['event_router'].name}")
        data["tag"] = "tagged"
        return await handler(event, data)

    async def outer_middleware(handler: Any, event: Any, data: dict[str, Any]) -> Any:
        trace.append("outer middleware of guarded")
        return await handler(event, data)

    def with_data(message: Message) -> dict[str, str]:
        return {"found": (message.text or "").upper()}

    def never(message: Message) -> bool:
        return False

    skipping, unhandling, guarded, parent, child, nested = (
        Router(name=name) for name in ("skipping", "unhandling", "guarded", "parent", "child", "nested")
    )

    @skipping.message(Command("skip"), with_data)
    async def skips(message: Message, found: str) -> None:
        trace.append(f"skips sees {found}")
        raise SkipHandler

    @skipping.message(Command("skip", "leak"), with_data, never)
    async def never_runs(message: Message) -> None:
        trace.append("never runs")

    @skipping.message(Command("skip", "leak"))
    async def after_skip(message: Message, **data: Any) -> None:
        trace.append(f"after skip sees found={data.get('found')} tag={data.get('tag')}")

    skipping.message.middleware(tag_middleware)

    @unhandling.message(Command("pass"))
    async def declines(message: Message) -> Any:
        trace.append("declines")
        return UNHANDLED

    @guarded.message(F.text == "guarded")
    async def behind_outer(message: Message) -> None:
        trace.append("behind the outer middleware")

    guarded.message.outer_middleware(outer_middleware)

    @child.message(Command("pass"))
    async def in_child(message: Message, event_router: Router) -> None:
        trace.append(f"child handler, router {event_router.name}")

    @nested.message(Command("pass", "deep"))
    async def in_nested(message: Message, event_router: Router) -> None:
        trace.append(f"nested handler, router {event_router.name}")

    @parent.message(F.photo)
    async def photo(message: Message) -> None:
        trace.append("photo")

    # A handler that returns UNHANDLED hands the update on to its router's sub-routers.
    unhandling.include_router(child)
    parent.include_router(nested)
    for router in (skipping, unhandling, guarded, parent):
        root.include_router(router)
    return root


@pytest.mark.parametrize("text", ["/skip", "/leak", "/pass", "/deep", "guarded", "nobody"])
async def test_the_indexed_root_runs_a_tree_exactly_as_aiogram_does(bot: MockedBot, text: str) -> None:
    """Skipped handlers, filter data, inner and outer middlewares, UNHANDLED and sub-routers: as aiogram."""
    traces: list[list[str]] = []
    for root in (Router(name="root"), IndexedRouter(name="root")):
        trace: list[str] = []
        dispatcher = Dispatcher()

        async def dispatcher_inner(
            handler: Any, event: Any, data: dict[str, Any], trace: list[str] = trace
        ) -> Any:
            trace.append("dispatcher inner middleware")
            return await handler(event, data)

        dispatcher.message.middleware(dispatcher_inner)
        dispatcher.include_router(_traced_tree(root, trace))
        if isinstance(root, IndexedRouter):
            root.index()
        result = await dispatcher.feed_update(bot, message_update(1, text))
        trace.append(f"result {'unhandled' if result is UNHANDLED else result}")
        traces.append(trace)
    aiogram_trace, indexed_trace = traces
    assert indexed_trace == aiogram_trace
    assert len(aiogram_trace) > 1
