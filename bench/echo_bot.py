"""The bare aiogram 3 echo bot the benchmarks compare OrderDesk with: it imports nothing of OrderDesk."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery, Message


def echo_router() -> Router:
    """One message per text, an answer and a message per press."""
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(message.text or "")

    @router.callback_query()
    async def press(query: CallbackQuery) -> None:
        await query.answer()
        if isinstance(query.message, Message):
            await query.message.answer("pressed")

    return router
