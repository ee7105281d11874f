"""The root router: an update is offered only to the module routers that have a handler it could match.

aiogram offers every update to every router in turn and checks each handler's filters until one
matches: a /start walked past some hundred handlers in thirty routers, each check a call through
aiogram's filter machinery (issue 17). Most handlers name what they need before anything else: a
command, a dialog state, the prefix of a button's callback data, a menu button's label. The root
router reads those needs once, when the tree is built, and skips a module router none of whose
handlers (nor its sub-routers') could take the update; the routers it does offer the update check
their filters as before, in the same order, so the handler that answers is the one aiogram would have chosen.

A handler whose needs cannot be read (a magic filter, a filter of our own) may match anything: its
router is always offered the update. Only messages and button presses are indexed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from re import Pattern
from typing import Any

from aiogram import Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.filters import Command, StateFilter
from aiogram.filters.callback_data import CallbackQueryFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message, TelegramObject
from aiogram.utils.i18n import I18n

from presentation.keyboards import MenuButton

INDEXED_EVENTS = ("message", "callback_query")
# raw_state when the dispatcher keeps no dialog state (no FSM): a state-bound handler may match.
_UNKNOWN = object()


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
    # Menu buttons a handler answers (their labels depend on the translator the update brings).
    buttons: list[MenuButton] = field(default_factory=list)

    def add(self, handler: HandlerObject) -> None:
        """Widens the reach by what the handler can match."""
        if self.anything:
            return
        # A filter made to run on the event loop (bot.dispatcher) keeps the original as __wrapped__.
        filters = [getattr(each.callback, "__wrapped__", each.callback) for each in handler.filters or ()]
        commands = [each for each in filters if isinstance(each, Command)]
        if commands:
            # Every filter must pass: the first command filter alone bounds what the handler takes.
            if not self._add_command(commands[0]):
                self.anything = True
            return
        buttons = [each for each in filters if isinstance(each, MenuButton)]
        if buttons:
            self.buttons.append(buttons[0])
            return
        prefixes = [each for each in filters if isinstance(each, CallbackQueryFilter)]
        if prefixes:
            data = prefixes[0].callback_data
            self.prefixes.add((data.__prefix__, data.__separator__))
            return
        states = [each for each in filters if isinstance(each, State | StateFilter) or _is_group(each)]
        names = _state_names(states[0]) if states else None
        if names is None:
            self.anything = True
            return
        self.states |= names

    def admits(self, event: TelegramObject, raw_state: Any, i18n: I18n | None) -> bool:
        """Whether some handler could match the update: False only when none can."""
        if self.anything:
            return True
        if self.states and (raw_state is _UNKNOWN or raw_state in self.states):
            return True
        if isinstance(event, Message):
            if self.buttons and event.text is not None:
                if i18n is None or any(event.text in button.labels(i18n) for button in self.buttons):
                    return True
            name = _command_name(event.text or event.caption)
            return name is not None and (name in self.commands or name.casefold() in self.folded_commands)
        if isinstance(event, CallbackQuery):
            data = event.data or ""
            return any(data.partition(separator)[0] == prefix for prefix, separator in self.prefixes)
        return True

    def _add_command(self, command: Command) -> bool:
        """Adds the command's names; False if they cannot be listed (a pattern, another prefix)."""
        if command.prefix != "/":
            return False
        for name in command.commands:
            if isinstance(name, Pattern):
                return False
            if command.ignore_case:
                self.folded_commands.add(str(name).casefold())
            else:
                self.commands.add(str(name))
        return True


class IndexedRouter(Router):
    """A root router that offers each message or press only to the sub-routers that could take it."""

    def __init__(self, *, name: str | None = None) -> None:
        super().__init__(name=name)
        self._reach: dict[str, list[tuple[Router, Reach]]] | None = None

    def index(self) -> None:
        """Reads what every sub-router's handlers can match; call once the tree is complete."""
        self._reach = {
            event: [(router, reach_of(router.chain_tail, event)) for router in self.sub_routers]
            for event in INDEXED_EVENTS
        }

    async def _propagate_event(
        self,
        observer: TelegramEventObserver | None,
        update_type: str,
        event: TelegramObject,
        **kwargs: Any,
    ) -> Any:
        """Propagates to the sub-routers whose reach admits the update, in order (aiogram's otherwise)."""
        routes = self._reach.get(update_type) if self._reach is not None else None
        if routes is None or (observer is not None and (observer.handlers or observer._handler.filters)):
            # Not indexed, or the root has handlers or filters of its own: aiogram's walk.
            return await super()._propagate_event(observer, update_type, event, **kwargs)
        raw_state = kwargs.get("raw_state", _UNKNOWN)
        i18n = kwargs.get("i18n")
        for router, reach in routes:
            if not reach.admits(event, raw_state, i18n if isinstance(i18n, I18n) else None):
                continue
            response = await router.propagate_event(update_type=update_type, event=event, **kwargs)
            if response is not UNHANDLED:
                return response
        return UNHANDLED


def reach_of(routers: Iterable[Router], event: str) -> Reach:
    """What the handlers of these routers can match for one kind of update."""
    reach = Reach()
    for router in routers:
        for handler in router.observers[event].handlers:
            reach.add(handler)
    return reach


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
