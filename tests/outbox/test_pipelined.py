"""The sender keeps several requests in flight within the limits (issue 17), one chat's in order."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from aiogram import Bot
from aiogram.methods import TelegramMethod

from domain.clock import FixedClock
from tests.outbox.fake_telegram import FakeTelegram
from tests.outbox.test_sender import NewUow, SessionFactory, by_chat, drain, enqueue, make_sender, stored


class SlowTelegram(FakeTelegram):
    """Takes a little while for each answer and counts how many requests it has open at once."""

    def __init__(self, clock: FixedClock, seed: int = 17) -> None:
        super().__init__(clock)
        self.open = 0
        self.most_open = 0
        self._rng = random.Random(seed)

    async def answer(self, bot: Bot, method: TelegramMethod[Any]) -> Any:
        """Answers after a short, varying pause, so later requests may finish first."""
        self.open += 1
        self.most_open = max(self.most_open, self.open)
        try:
            await asyncio.sleep(self._rng.uniform(0.001, 0.01))
            return await super().answer(bot, method)
        finally:
            self.open -= 1


async def test_requests_to_different_chats_are_in_flight_together_up_to_the_bound(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    await enqueue(new_uow, [(chat, f"notice for {chat}") for chat in range(500, 512)])
    telegram = SlowTelegram(clock)
    sender, queue = make_sender(session_factory, telegram, clock, in_flight=4)

    await drain(sender, queue, clock)

    assert telegram.most_open == 4
    assert len(telegram.delivered()) == 12
    assert {row.state for row in (await stored(session_factory)).values()} == {"sent"}


async def test_one_chats_messages_arrive_in_order_while_others_are_in_flight(
    new_uow: NewUow, session_factory: SessionFactory, clock: FixedClock
) -> None:
    targets = [
        (chat, f"message {number} to {chat}") for number in range(4) for chat in (-1001, 701, 702, 703)
    ]
    await enqueue(new_uow, targets)
    telegram = SlowTelegram(clock)
    sender, queue = make_sender(session_factory, telegram, clock, in_flight=8)

    await drain(sender, queue, clock)

    assert telegram.most_open > 1
    for chat, requests in by_chat(telegram.delivered()).items():
        assert [request.text for request in requests] == [text for target, text in targets if target == chat]
