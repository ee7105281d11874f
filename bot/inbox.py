"""Processes the updates of the inbox once each: in order per user, several users at a time.

No update is acknowledged before it is safe (issue 11, finding 7). An update counts as received
once its inbox row has committed, and only then is Telegram told: the next getUpdates offset in
polling mode (bot.polling), the 200 in webhook mode (bot.webhook). Its handler marks it processed
in the handler's own transaction (bot.middlewares.UnitOfWorkMiddleware); the inbox row goes once
that run is over, whatever its outcome. A crash in between leaves the row behind, and the next
start runs the update again before anything new: a run whose transaction committed is then
dropped as a duplicate, one that did not commit is done over. Replies a replay repeats are made
harmless by bot.replies.

Fewer round trips (issue 17): storing an update counts its first run (`begin` is for recovered
updates), and its handler's transaction settles its inbox row (bot.middlewares): the row goes at
once when there is no reply, else it keeps the replies until they are sent and `done` removes it.
With several instances sharing the inbox, each holds what it stored under a lease, and
`reclaim_forever` takes over the updates of an instance that died.

An update a crash interrupts again and again (one that kills the process) is given up after
MAX_RUNS runs, with an error in the log, so that it cannot keep the bot from starting.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Protocol

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.exceptions import TelegramRetryAfter
from aiogram.types import Update
from pydantic import ValidationError

from bot.metrics import HANDLER_SECONDS, UPDATES_HANDLED
from bot.middlewares import SETTLEMENT_KEY, Settlement
from bot.replies import load_replies, send_replies
from domain.clock import Clock
from storage.inbox import InboxEntry

logger = logging.getLogger(__name__)

MAX_RUNS = 5
# Updates processed at the same time (each user's updates one after the other).
CONCURRENCY = 16
# How often one update may wait for Telegram's flood control before it is given up.
MAX_FLOOD_WAITS = 10
# Seconds a graceful stop waits for the updates being processed.
STOP_GRACE_SECONDS = 10.0

# Updates without user or chat share one lane.
_NO_SENDER = "-"


Reclaim = Callable[[datetime], Awaitable[list[InboxEntry]]]


class Inbox(Protocol):
    """Where received updates wait until processed (storage.inbox.SqlUpdateInbox)."""

    async def store(self, updates: Sequence[InboxEntry], at: datetime) -> list[InboxEntry]:
        """Stores updates in one transaction; returns those new to the inbox."""
        ...

    async def pending(self) -> list[InboxEntry]:
        """Lists the updates not processed yet, oldest first."""
        ...

    async def begin(self, update_id: int) -> int:
        """Counts a processing run; returns the runs so far (0 if the update is not in the inbox)."""
        ...

    async def done(self, update_id: int) -> None:
        """Removes a processed update."""
        ...


class UpdateProcessor:
    """Stores received updates in the inbox and feeds each to the dispatcher once."""

    def __init__(
        self,
        inbox: Inbox,
        dispatcher: Dispatcher,
        bot: Bot,
        clock: Clock,
        *,
        concurrency: int = CONCURRENCY,
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self._inbox = inbox
        self._dispatcher = dispatcher
        self._bot = bot
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._stop_grace = stop_grace
        # The last task of each user's (or chat's) lane; a new update waits for it.
        self._lanes: dict[int | str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._queued: set[int] = set()
        self._closing = False

    async def receive(self, updates: Iterable[dict[str, Any]]) -> None:
        """Stores updates as Telegram sent them (one transaction), then schedules the new ones.

        Raises if they could not be stored: then Telegram must not be told they arrived.
        """
        entries = []
        for update in updates:
            update_id = update.get("update_id")
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                logger.warning("Received an update without an update_id; ignored")
                continue
            entries.append(
                InboxEntry(update_id, json.dumps(update, ensure_ascii=False, separators=(",", ":")))
            )
        self.submit(await self._inbox.store(entries, self._clock.now()))

    async def recover(self) -> None:
        """Processes what the inbox still holds (a crash interrupted it) and waits until that is done."""
        pending = await self._inbox.pending()
        if pending:
            logger.info("Processing %d update(s) left in the inbox", len(pending))
            self.submit(pending)
            await self.wait_idle()

    async def reclaim_forever(self, reclaim: Reclaim, stop: asyncio.Event, every: float) -> None:
        """Takes over, every `every` seconds until `stop`, the updates another instance left behind.

        reclaim: the shared inbox's SqlUpdateInbox.reclaim (the updates whose lease ran out).
        """
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)
            if stop.is_set() or self._closing:
                return
            try:
                entries = await reclaim(self._clock.now())
            except Exception as error:
                logger.warning("Could not look for abandoned updates: %s", type(error).__name__)
                continue
            if entries:
                logger.info("Taking over %d update(s) another instance left unfinished", len(entries))
                self.submit(entries)

    def submit(self, entries: Iterable[InboxEntry]) -> None:
        """Schedules stored updates, oldest first, each after its user's earlier ones."""
        for entry in sorted(entries, key=lambda e: e.update_id):
            if self._closing or entry.update_id in self._queued:
                continue
            update = self._parse(entry)
            lane = _lane_of(update)
            task = asyncio.create_task(
                self._run(entry, update, self._lanes.get(lane)), name=f"update-{entry.update_id}"
            )
            self._queued.add(entry.update_id)
            self._lanes[lane] = task
            self._tasks.add(task)
            task.add_done_callback(functools.partial(self._forget, lane=lane, update_id=entry.update_id))

    async def wait_idle(self) -> None:
        """Returns once every scheduled update has been processed."""
        while self._tasks:
            await asyncio.wait(set(self._tasks))

    async def close(self, grace: float | None = None) -> None:
        """Takes no more updates, lets those under way finish within `grace` (or stop_grace), stops the rest.

        What is stopped stays in the inbox for the next start.
        """
        self._closing = True
        if self._tasks:
            timeout = self._stop_grace if grace is None else grace
            _, unfinished = await asyncio.wait(set(self._tasks), timeout=timeout)
            if unfinished:
                logger.warning(
                    "Stopping %d update(s) still under way; they run again at the next start", len(unfinished)
                )
            for task in unfinished:
                task.cancel()
            for task in unfinished:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _parse(self, entry: InboxEntry) -> Update | None:
        """Reads a stored update; None if aiogram cannot read it."""
        try:
            return Update.model_validate(json.loads(entry.payload), context={"bot": self._bot})
        except (ValueError, ValidationError) as error:
            logger.warning("Update %s cannot be read (%s); dropped", entry.update_id, type(error).__name__)
            return None

    def _forget(self, task: asyncio.Task[None], lane: int | str, update_id: int) -> None:
        """Bookkeeping once an update's task is over."""
        self._tasks.discard(task)
        self._queued.discard(update_id)
        if self._lanes.get(lane) is task:
            del self._lanes[lane]

    async def _run(
        self, entry: InboxEntry, update: Update | None, previous: asyncio.Task[None] | None
    ) -> None:
        """Waits for the user's earlier update, then processes this one; never raises but when stopped."""
        if previous is not None:
            await asyncio.wait({previous})
        async with self._slots:
            try:
                await self._process(entry, update)
            except Exception as error:
                # The row stays: the update runs again at the next start.
                logger.error("Update %s could not be processed: %s", entry.update_id, type(error).__name__)

    async def _process(self, entry: InboxEntry, update: Update | None) -> None:
        """Runs the update through the dispatcher and removes it from the inbox."""
        if entry.replies is not None:
            # A run committed, and a crash cut its replies off: they are all that is left to do.
            await send_replies(load_replies(entry.replies, self._bot))
            await self._inbox.done(entry.update_id)
            return
        runs = entry.runs or await self._inbox.begin(entry.update_id)
        if runs == 0:
            # Another process took it, or it is gone: nothing to do.
            return
        if update is not None and runs > MAX_RUNS:
            logger.error(
                "Update %s dropped: %d runs were interrupted before it finished", entry.update_id, runs - 1
            )
        elif update is not None:
            settlement = Settlement()
            started = time.perf_counter()
            await self._feed(update, settlement)
            HANDLER_SECONDS.observe(time.perf_counter() - started)
            UPDATES_HANDLED.labels("committed" if settlement.committed else "not committed").inc()
            if settlement.row_removed:
                # The handler's transaction removed the inbox row.
                return
        await self._inbox.done(entry.update_id)

    async def _feed(self, update: Update, settlement: Settlement) -> None:
        """Feeds the update to the dispatcher; again after a flood-control wait too long for bot.replies."""
        for _ in range(MAX_FLOOD_WAITS):
            try:
                await self._dispatcher.feed_update(self._bot, update, **{SETTLEMENT_KEY: settlement})
                return
            except TelegramRetryAfter as error:
                # The update's transaction is rolled back; the whole update runs again after the wait.
                logger.warning(
                    "Update %s waits %s s for Telegram's flood control, then runs again",
                    update.update_id,
                    error.retry_after,
                )
                await asyncio.sleep(error.retry_after)
            except Exception as error:
                # The error handler has told the user; a failed update is not run again.
                logger.error("Update %s failed: %s", update.update_id, type(error).__name__)
                return
        logger.error(
            "Update %s given up: Telegram kept refusing its replies (flood control)", update.update_id
        )


def _lane_of(update: Update | None) -> int | str:
    """The lane of an update: its user, else its chat."""
    if update is None:
        return _NO_SENDER
    context = UserContextMiddleware.resolve_event_context(update)
    if context.user is not None:
        return context.user.id
    if context.chat is not None:
        return context.chat.id
    return _NO_SENDER
