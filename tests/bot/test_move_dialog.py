"""handlers.dialogs.move_dialog: one write on the database storage, aiogram's two elsewhere (issue 17)."""

from __future__ import annotations

from typing import Any

from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.fsm.storage.base import StateType, StorageKey
from aiogram.fsm.storage.memory import MemoryStorage

from handlers.dialogs import move_dialog

KEY = StorageKey(bot_id=1, chat_id=10, user_id=10)


class Wizard(StatesGroup):
    """A sample dialog."""

    weight = State()


class RecordingStorage(MemoryStorage):
    """A memory storage that offers set_dialog and records each call it gets."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    async def set_dialog(self, key: StorageKey, state: StateType, data: dict[str, Any]) -> None:
        """Records the one write, then stores both as aiogram would."""
        self.calls.append("set_dialog")
        await super().set_state(key, state)
        await super().set_data(key, data)

    async def set_state(self, key: StorageKey, state: StateType = None) -> None:
        """Records the call."""
        self.calls.append("set_state")
        await super().set_state(key, state)


async def test_a_storage_with_set_dialog_gets_one_write() -> None:
    storage = RecordingStorage()
    await move_dialog(FSMContext(storage, KEY), Wizard.weight, {"step": "weight"})
    assert storage.calls == ["set_dialog"]
    assert await storage.get_state(KEY) == Wizard.weight.state
    assert await storage.get_data(KEY) == {"step": "weight"}


async def test_a_storage_without_it_gets_state_and_data() -> None:
    storage = MemoryStorage()
    await move_dialog(FSMContext(storage, KEY), Wizard.weight, {"step": "weight"})
    assert await storage.get_state(KEY) == Wizard.weight.state
    assert await storage.get_data(KEY) == {"step": "weight"}
