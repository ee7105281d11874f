"""The root router: an update is offered only to the handlers whose filters it could pass.

aiogram offers every update to every router in turn and checks each handler's filters until one
matches: a /start walked past some hundred handlers in thirty routers, each check a call through
aiogram's filter machinery, and each router a round of middleware wrapping (issue 17). Most
filters name what they need before anything else: a command, a dialog state, the prefix of a
button's callback data, a menu button's label, an attribute a message must carry (`F.photo`).
The root router reads those needs once, when the tree is built. It skips a module router none of
whose handlers could take the update, and within the routers it offers the update to, it checks
only the handlers whose needs the update meets, in aiogram's order, with aiogram's filters, so the
handler that answers is the one aiogram would have chosen.

Where a router has outer middlewares or filters of its own, aiogram walks it as before. A filter
whose needs cannot be read (a magic filter beyond `F.x`, a filter of our own) may match anything.
Only messages and button presses are indexed.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field
from re import Pattern
from typing import Any, Protocol

from aiogram import Router
from aiogram.dispatcher.event.bases import REJECTED, UNHANDLED, NextMiddlewareType, SkipHandler
from aiogram.dispatcher.event.handler import FilterObject, HandlerObject
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.dispatcher.middlewares.manager import MiddlewareManager
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18n
from magic_filter import MagicFilter
from magic_filter.operations import CallOperation, GetAttributeOperation

from presentation.keyboards import MenuButton

INDEXED_EVENTS = ("message", "callback_query")
# raw_state when the dispatcher keeps no dialog state (no FSM): a state-bound handler may match.
_UNKNOWN = object()


class Need(Protocol):
    """Something an update must carry for one of a handler's filters to pass."""

    def admits(self, event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
        """Whether the update carries it (True where it cannot tell)."""
        ...


@dataclass(frozen=True)
class CommandNeed:
    """A command filter: the text starts with one of these commands."""

    names: frozenset[str]
    ignore_case: bool

    def admits(self, event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
        """Whether the message starts with one of the commands."""
        if not isinstance(event, Message):
            return False
        name = _command_name(event.text or event.caption)
        if name is None:
            return False
        return (name.casefold() if self.ignore_case else name) in self.names


@dataclass(frozen=True)
class StateNeed:
    """A dialog-state filter: the sender's dialog is in one of these states."""

    states: frozenset[str | None]

    def admits(self, event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
        """Whether the dialog state is one of them (or unknown)."""
        return raw_state is _UNKNOWN or raw_state in self.states


@dataclass(frozen=True)
class ButtonNeed:
    """A menu-button filter: the text is the button's label in some language."""

    button: MenuButton

    def admits(self, event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
        """Whether the message's text is the label."""
        if not isinstance(event, Message) or event.text is None:
            return False
        return i18n is None or event.text in self.button.labels(i18n)


@dataclass(frozen=True)
class PrefixNeed:
    """A callback-data filter: the press's data starts with the prefix and its separator."""

    prefix: str
    separator: str

    def admits(self, event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
        """Whether the press carries data of this prefix."""
        return (
            isinstance(event, CallbackQuery)
            and (event.data or "").partition(self.separator)[0] == self.prefix
        )


@dataclass(frozen=True)
class DataStartNeed:
    """`F.data.startswith(start)`: the press's data starts so."""

    start: str

    def admits(self, event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
        """Whether the press's data starts so."""
        return isinstance(event, CallbackQuery) and (event.data or "").startswith(self.start)


@dataclass(frozen=True)
class AttributeNeed:
    """`F.photo` and the like: the update carries the attribute (truthy)."""

    name: str

    def admits(self, event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
        """Whether the attribute is there."""
        return bool(getattr(event, self.name, None))


def need_of(event_filter: Any) -> Need | None:
    """What an update needs to pass the filter; None where that cannot be read."""
    if isinstance(event_filter, Command):
        return _command_need(event_filter)
    if isinstance(event_filter, MenuButton):
        return ButtonNeed(event_filter)
    if isinstance(event_filter, CallbackQueryFilter):
        data = event_filter.callback_data
        return PrefixNeed(data.__prefix__, data.__separator__)
    if isinstance(event_filter, State | StateFilter) or _is_group(event_filter):
        names = _state_names(event_filter)
        return None if names is None else StateNeed(frozenset(names))
    if isinstance(event_filter, MagicFilter):
        return _magic_need(event_filter)
    return None


def needs_of(handler: HandlerObject) -> tuple[Need, ...]:
    """Every readable need of the handler's filters (all must be met, as all its filters must pass)."""
    needs = (need_of(_original(each)) for each in handler.filters or ())
    return tuple(need for need in needs if need is not None)


@dataclass
class Reach:
    """What the handlers of a router (and its sub-routers) can match, for one kind of update."""

    anything: bool = False
    commands: set[str] = field(default_factory=set)
    # Commands of handlers that ignore case, casefolded.
    folded_commands: set[str] = field(default_factory=set)
    states: set[str | None] = field(default_factory=set)
    # (prefix, separator) of the callback data a handler unpacks.
    prefixes: set[tuple[str, str]] = field(default_factory=set)
    # What `F.data.startswith(...)` filters ask for.
    data_starts: set[str] = field(default_factory=set)
    # Menu buttons a handler answers (their labels depend on the translator the update brings).
    buttons: list[MenuButton] = field(default_factory=list)
    # Attributes a handler needs the update to carry (F.photo...).
    attributes: set[str] = field(default_factory=set)

    def add(self, handler: HandlerObject) -> None:
        """Widens the reach by what the handler can match: by its most telling need."""
        if self.anything:
            return
        needs = needs_of(handler)
        for kind in _BY_SELECTIVITY:
            chosen = next((need for need in needs if isinstance(need, kind)), None)
            if chosen is not None:
                self._add_need(chosen)
                return
        self.anything = True

    def _add_need(self, need: Need) -> None:
        """Widens the reach by one need."""
        match need:
            case CommandNeed(names=names, ignore_case=True):
                self.folded_commands |= names
            case CommandNeed(names=names):
                self.commands |= names
            case ButtonNeed(button=button):
                self.buttons.append(button)
            case PrefixNeed(prefix=prefix, separator=separator):
                self.prefixes.add((prefix, separator))
            case DataStartNeed(start=start):
                self.data_starts.add(start)
            case StateNeed(states=states):
                self.states |= states
            case AttributeNeed(name=name):
                self.attributes.add(name)

    def admits(self, event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
        """Whether some handler could match the update: False only when none can."""
        if self.anything:
            return True
        if self.states and (raw_state is _UNKNOWN or raw_state in self.states):
            return True
        if self.attributes and any(getattr(event, name, None) for name in self.attributes):
            return True
        if isinstance(event, Message):
            if self.buttons and event.text is not None:
                if i18n is None or any(event.text in button.labels(i18n) for button in self.buttons):
                    return True
            name = _command_name(event.text or event.caption)
            return name is not None and (name in self.commands or name.casefold() in self.folded_commands)
        if isinstance(event, CallbackQuery):
            data = event.data or ""
            if any(data.partition(separator)[0] == prefix for prefix, separator in self.prefixes):
                return True
            return bool(self.data_starts) and any(data.startswith(start) for start in self.data_starts)
        return True


_BY_SELECTIVITY: tuple[type, ...] = (
    CommandNeed,
    ButtonNeed,
    PrefixNeed,
    DataStartNeed,
    StateNeed,
    AttributeNeed,
)


@dataclass(frozen=True)
class Route:
    """One router of the tree as the root runs it for one kind of update."""

    router: Router
    observer: TelegramEventObserver
    # Its handlers, in order, each with its needs.
    handlers: tuple[tuple[HandlerObject, tuple[Need, ...]], ...]
    sub_routes: tuple[Route, ...]


def route_of(router: Router, event: str) -> Route:
    """The router's route (and its sub-routers') for one kind of update."""
    observer = router.observers[event]
    return Route(
        router,
        observer,
        tuple((handler, needs_of(handler)) for handler in observer.handlers),
        tuple(route_of(sub, event) for sub in router.sub_routers),
    )


class IndexedRouter(Router):
    """A root router that offers each message or press only to the handlers that could take it."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._reach: dict[str, list[tuple[Router, Reach]]] | None = None
        self._routes: dict[str, list[tuple[Route, Reach]]] = {}
        # Each handler's inner-middleware chain, built once for the middlewares it was built with.
        self._chains: dict[int, tuple[tuple[Any, ...], NextMiddlewareType[TelegramObject]]] = {}

    def index(self) -> None:
        """Reads what every sub-router's handlers can match; call once the tree is complete."""
        self._reach = {
            event: [(router, reach_of(router.chain_tail, event)) for router in self.sub_routers]
            for event in INDEXED_EVENTS
        }
        self._routes = {
            event: [(route_of(router, event), reach) for router, reach in routes]
            for event, routes in self._reach.items()
        }
        self._chains.clear()

    async def _propagate_event(
        self,
        observer: TelegramEventObserver | None,
        update_type: str,
        event: TelegramObject,
        **kwargs: Any,
    ) -> Any:
        """Propagates to the handlers whose needs the update meets, in order (aiogram's walk otherwise)."""
        routes = self._routes.get(update_type)
        if routes is None or (observer is not None and (observer.handlers or observer._handler.filters)):
            # Not indexed, or the root has handlers or filters of its own: aiogram's walk.
            return await super()._propagate_event(observer, update_type, event, **kwargs)
        raw_state = kwargs.get("raw_state", _UNKNOWN)
        given = kwargs.get("i18n")
        i18n = given if isinstance(given, I18n) else None
        for route, reach in routes:
            if not reach.admits(event, raw_state, i18n):
                continue
            response = await self._run(route, update_type, event, raw_state, i18n, kwargs)
            if response is not UNHANDLED:
                return response
        return UNHANDLED

    async def _run(
        self,
        route: Route,
        update_type: str,
        event: TelegramObject,
        raw_state: Any,
        i18n: I18n | None,
        kwargs: dict[str, Any],
    ) -> Any:
        """Offers the update to one router as aiogram would, past the handlers it cannot pass."""
        observer = route.observer
        if len(observer.outer_middleware) or observer._handler.filters:
            # The router's own middlewares or filters decide first: aiogram walks it.
            return await route.router.propagate_event(update_type=update_type, event=event, **kwargs)
        data = dict(kwargs)
        data["event_router"] = route.router
        for handler, needs in route.handlers:
            if not _meets(needs, event, raw_state, i18n):
                continue
            data["handler"] = handler
            if not await _passes(handler, event, data):
                continue
            try:
                response = await self._chain(observer, handler)(event, data)
            except SkipHandler:
                continue
            if response is REJECTED:
                return UNHANDLED
            if response is not UNHANDLED:
                return response
            break
        for sub_route in route.sub_routes:
            response = await self._run(sub_route, update_type, event, raw_state, i18n, data)
            if response is not UNHANDLED:
                return response
        return UNHANDLED

    def _chain(
        self, observer: TelegramEventObserver, handler: HandlerObject
    ) -> NextMiddlewareType[TelegramObject]:
        """The handler behind its inner middlewares (the dispatcher's and every router's above it)."""
        middlewares = tuple(observer._resolve_middlewares())
        kept = self._chains.get(id(handler))
        if kept is not None and kept[0] == middlewares:
            return kept[1]
        chain = MiddlewareManager.wrap_middlewares(middlewares, handler.call)
        self._chains[id(handler)] = (middlewares, chain)
        return chain


def _meets(needs: tuple[Need, ...], event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
    """Whether the update meets every need."""
    for need in needs:
        if not need.admits(event, raw_state, i18n):
            return False
    return True


async def _passes(handler: HandlerObject, event: TelegramObject, data: dict[str, Any]) -> bool:
    """Whether every filter of the handler passes; their data joins the handler data (HandlerObject.check)."""
    passed = data
    for event_filter in handler.filters or ():
        arguments = passed if event_filter.varkw else _arguments(event_filter, passed)
        if event_filter.awaitable:
            result = await event_filter.callback(event, **arguments)
        else:
            result = await asyncio.to_thread(functools.partial(event_filter.callback, event, **arguments))
        if not result:
            return False
        if isinstance(result, dict):
            # A filter's data counts only if the handler's every filter passes: kept aside until then.
            passed = {**passed, **result}
    if passed is not data:
        data.update(passed)
    return True


def _arguments(event_filter: FilterObject, data: dict[str, Any]) -> dict[str, Any]:
    """The handler data a filter asks for by name."""
    return {name: data[name] for name in event_filter.params if name in data}


def reach_of(routers: Iterable[Router], event: str) -> Reach:
    """What the handlers of these routers can match for one kind of update."""
    reach = Reach()
    for router in routers:
        for handler in router.observers[event].handlers:
            reach.add(handler)
    return reach


def _original(event_filter: FilterObject) -> Any:
    """The filter object itself (a magic filter, or the check a coroutine made run on the loop wraps)."""
    if event_filter.magic is not None:
        return event_filter.magic
    # A filter made to run on the event loop (bot.dispatcher) keeps the original as __wrapped__.
    return getattr(event_filter.callback, "__wrapped__", event_filter.callback)


def _command_need(command: Command) -> CommandNeed | None:
    """The command names a filter admits; None if they cannot be listed (a pattern, another prefix)."""
    if command.prefix != "/":
        return None
    names: set[str] = set()
    for name in command.commands:
        if isinstance(name, Pattern):
            return None
        names.add(str(name).casefold() if command.ignore_case else str(name))
    return CommandNeed(frozenset(names), command.ignore_case)


def _magic_need(magic: MagicFilter) -> Need | None:
    """`F.x` needs the attribute x; `F.data.startswith("p")` needs data starting so; else unreadable."""
    match magic._operations:
        case (GetAttributeOperation(name=str() as name),):
            return AttributeNeed(name)
        case (
            GetAttributeOperation(name="data"),
            GetAttributeOperation(name="startswith"),
            CallOperation(args=(str() as start,), kwargs=dict() as keywords),
        ) if not keywords:
            return DataStartNeed(start)
    return None


def _state_names(state_filter: Any) -> set[str | None] | None:
    """The raw states a state filter (State, StateFilter, StatesGroup) admits; None if any state."""
    if isinstance(state_filter, StateFilter):
        names: set[str | None] = set()
        for each in state_filter.states:
            admitted = _state_names(each) if isinstance(each, State) or _is_group(each) else _raw(each)
            if admitted is None:
                return None
            names |= admitted
        return names
    if isinstance(state_filter, State):
        return _raw(state_filter.state)
    group: type[StatesGroup] = state_filter if isinstance(state_filter, type) else type(state_filter)
    return set(group.__all_states_names__)


def _is_group(candidate: Any) -> bool:
    """Whether it is a StatesGroup (the class, as filters name it, or an instance)."""
    return isinstance(candidate, StatesGroup) or (
        isinstance(candidate, type) and issubclass(candidate, StatesGroup)
    )


def _raw(state: Any) -> set[str | None] | None:
    """The one raw state named (a string or None); None for '*' or anything unknown."""
    if state is None or (isinstance(state, str) and state != "*"):
        return {state}
    return None


def _command_name(text: str | None) -> str | None:
    """The command a text starts with, as aiogram's Command filter reads it ('/track@bot R-1' -> 'track')."""
    if not text or text[0] != "/":
        return None
    full_command = text.split(maxsplit=1)[0]
    return full_command[1:].partition("@")[0]
