"""Delivers outbox messages to Telegram within its limits and records each outcome.

Each round claims the due messages (at most one per chat: the oldest pending one) under a lease,
takes each one's tokens from the limiter in turn and sends it, up to `in_flight` requests at once
(issue 17: one at a time left the overall limit half used while each request and its commit were
under way), recording each outcome in its own short transaction. A chat's next message is claimed
only in a later round, after the round's sends are over, so one chat's messages keep their order:

- accepted: `sent`, with the Telegram message id ("message is not modified" counts as accepted);
- 429: due again after `retry_after`, and the chat's bucket is held back as long;
- network or server error (also 401 and an unreadable answer, which a fix on our side or
  Telegram's may cure): due again after an exponential backoff with jitter, given up (`failed`)
  after `max_attempts` attempts, 429s included;
- 403 (the user blocked the bot, or the bot left the group): `blocked`, never retried; a private
  chat's user is marked blocked;
- the group became a supergroup: team chats and pending messages move to the new chat id, and the
  message is due again at once, now for the new chat;
- any other refusal (bad request, chat not found, unknown method): `failed` with the description.

A message whose chat has no token yet is not attempted: its lease ends at the moment the chat's
bucket will have one. Waiting for the overall bucket (a few tens of milliseconds) happens in place.

Crash bound: a message counts as delivered once `mark_sent` commits. If the process dies after
Telegram accepted a message but before that commit, the message stays pending and is sent again
when its lease runs out. At most `in_flight` (IN_FLIGHT, 1 by default) messages are under way at
once, so at most that many per sender process (each to a different chat) are duplicated by a
crash; everything committed to the outbox is delivered. Claimed messages not yet
attempted at the crash wait for their lease to run out (`lease`, 3 minutes by default).

The lease must outlast a round: the sender starts no send once half the lease has passed and gives
the rest of the round back. Keep `lease / 2` above the Bot API request timeout.

The rate limits are kept in memory, per sender process: run one sender per bot token, or give
every sender the same `shared_limiter` (scheduler.shared_rate_limit, in Redis; issue 17).

Email and webhook rows (issue 12) are claimed with the rest and handed to scheduler/channels.py,
outside Telegram's limits; every delivery is reported to `on_delivered` (the "customer told" clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

import aiogram.methods
from aiogram import Bot
from aiogram.exceptions import (
    AiogramError,
    ClientDecodeError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.methods import TelegramMethod
from aiogram.types import BufferedInputFile, Message
from pydantic import ValidationError

from application.ports import REFUSAL_KEY_PREFIX, OutboxMessage, OutboxQueue, StoredDocument
from application.reports import REPORT_DOCUMENT_ID
from domain.clock import Clock
from scheduler.backoff import later as _later
from scheduler.channels import ChannelDelivery, Delivered
from scheduler.rate_limit import TelegramRateLimiter
from scheduler.shared_rate_limit import SharedRateLimiter

logger = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"
# Errors worth retrying: the request may succeed later without any change on our side.
_TRANSIENT = (TelegramNetworkError, TelegramServerError, TelegramUnauthorizedError)

Sleep = Callable[[float], Awaitable[None]]


# Requests one sender keeps under way at once (each to another chat): also the crash bound. One by
# default: with several in flight on a loaded machine, two messages to one chat reached Telegram
# within a second although their tokens were a second apart (tests/e2e/test_multi_instance.py).
IN_FLIGHT = 1


class UnknownMethod(LookupError):
    """The outbox names a Bot API method aiogram does not know."""


class Upload(Protocol):
    """A stored file as the sender uploads it."""

    @property
    def filename(self) -> str: ...

    @property
    def content(self) -> bytes: ...


class DocumentSource(Protocol):
    """Where generated documents wait to be uploaded (e.g. the confirmation PDF)."""

    async def get_document(self, document_id: int) -> StoredDocument | None: ...


class ReportSource(Protocol):
    """Where generated reports of no single order wait to be uploaded (the supervision report)."""

    async def get_report(self, report_id: int) -> Upload | None: ...


# An outbox row names a stored document by id; the sender uploads its bytes under this Bot API field.
DOCUMENT_ID = "document_id"
_STORED_FILE_KEYS = (DOCUMENT_ID, REPORT_DOCUMENT_ID)


class RefusalNotices(Protocol):
    """Words the short fallback of a refused message and the order desk's notice of it."""

    def notices(
        self, message: OutboxMessage, message_id: int, error: str, now: datetime
    ) -> list[OutboxMessage]: ...


def build_method(message: OutboxMessage, document: Upload | None = None) -> TelegramMethod[Any]:
    """Builds the aiogram method object of a stored message; its chat id comes from the row."""
    name = message.method
    method_class = getattr(aiogram.methods, name[:1].upper() + name[1:], None)
    if not (isinstance(method_class, type) and issubclass(method_class, TelegramMethod)):
        raise UnknownMethod(f"unknown Bot API method {name!r}")
    params = dict(message.params)
    for key in _STORED_FILE_KEYS:
        if key not in params:
            continue
        if document is None:
            raise UnknownMethod(f"document {params[key]} of {name} is not stored")
        del params[key]
        # A stored chart goes as a photo (the exception report's, issue 14); anything else as a document.
        field = "photo" if name == "sendPhoto" else "document"
        params[field] = BufferedInputFile(document.content, filename=document.filename)
    if "chat_id" in method_class.model_fields:
        params["chat_id"] = message.chat_id
    method: TelegramMethod[Any] = method_class.model_validate(params)
    return method


def _accepted(answer: object) -> bool:
    """Whether an answer aiogram could not read still says Telegram accepted the request."""
    return isinstance(answer, dict) and answer.get("ok") is True


def _raw_message_id(answer: object) -> int | None:
    """The message id in an unreadable but accepted answer, if it has one."""
    result = answer.get("result") if isinstance(answer, dict) else None
    message_id = result.get("message_id") if isinstance(result, dict) else None
    return message_id if isinstance(message_id, int) else None


class OutboxSender:
    """Sends due outbox messages through the bot, respecting Telegram's limits."""

    def __init__(
        self,
        queue: OutboxQueue,
        bot: Bot,
        clock: Clock,
        *,
        overall_per_second: float = 30.0,
        group_per_minute: float = 20.0,
        private_per_second: float = 1.0,
        batch_size: int = 100,
        lease: timedelta = timedelta(minutes=3),
        max_attempts: int = 10,
        backoff_base: float = 2.0,
        backoff_cap: float = 600.0,
        idle_interval: float = 1.0,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        documents: DocumentSource | None = None,
        refusals: RefusalNotices | None = None,
        reports: ReportSource | None = None,
        channels: ChannelDelivery | None = None,
        on_delivered: Delivered | None = None,
        shared_limiter: SharedRateLimiter | None = None,
        in_flight: int = IN_FLIGHT,
    ) -> None:
        self._shared_limiter = shared_limiter
        # Requests under way at once, each to another chat (tokens are taken before each starts).
        self._in_flight = asyncio.Semaphore(max(1, in_flight))
        self._queue = queue
        # Email and webhook rows are delivered there, outside Telegram's limits (issue 12).
        self._channels = channels
        self._on_delivered = on_delivered
        self._refusals = refusals
        self._documents = documents
        self._reports = reports
        self._bot = bot
        self._clock = clock
        self._batch_size = batch_size
        self._lease = lease
        self._max_attempts = max_attempts
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._idle_interval = idle_interval
        self._sleep = sleep
        self._rng = rng or random.Random()
        # One delivery round at a time, so a caller waiting for the queue to drain waits for the round
        # under way too (the demo delivers before it moves its clock on, issue 18).
        self._round = asyncio.Lock()
        epoch = clock.now()
        # Seconds since the sender started: small floats keep the buckets exact to the microsecond.
        self.limiter = TelegramRateLimiter(
            lambda: (self._clock.now() - epoch).total_seconds(),
            overall_per_second=overall_per_second,
            group_per_minute=group_per_minute,
            private_per_second=private_per_second,
        )

    async def run_once(self) -> int:
        """Attempts every message due now whose chat has a token; returns how many were delivered."""
        async with self._round:
            return await self._round_once()

    async def deliver_due(self) -> int:
        """Delivers rounds until one delivers nothing (a chat gets one message a round); returns the total."""
        total = 0
        while delivered := await self.run_once():
            total += delivered
        return total

    async def _round_once(self) -> int:
        """One round: claims the due chat heads and attempts them in order."""
        started = self._clock.now()
        give_back_at = started + self._lease / 2
        batch = await self._queue.claim_due(started, self._batch_size, started + self._lease)
        sending: list[asyncio.Task[int]] = []
        later: dict[int, datetime] = {}
        for index, message in enumerate(batch):
            assert message.id is not None, "claimed messages come from the database"
            now = self._clock.now()
            if any(task.done() and task.exception() is not None for task in sending):
                # A send that failed beyond what _deliver records ends the round, as it did sequentially:
                # the rest stay leased.
                break
            if now >= give_back_at:
                later.update({rest.id: now for rest in batch[index:] if rest.id is not None})
                break
            if self._channels is not None and self._channels.handles(message):
                self._channels.start(message)
                continue
            # A free slot first, then the tokens: Telegram counts a message when it arrives, so a message
            # must never wait for a slot after its tokens were taken (it would arrive late and crowd the
            # chat's next one into the same second).
            await self._in_flight.acquire()
            if self._shared_limiter is not None:
                wait = await self._shared_limiter.acquire(message.chat_id)
                if wait > 0:
                    self._in_flight.release()
                    later[message.id] = _later(now, wait)
                else:
                    sending.append(await self._start(message, message.id))
                continue
            wait = self.limiter.chat_delay(message.chat_id)
            if wait > 0:
                self._in_flight.release()
                later[message.id] = _later(now, wait)
                continue
            if (wait := self.limiter.overall_delay()) > 0:
                await self._sleep(wait)
            self.limiter.acquire(message.chat_id)
            sending.append(await self._start(message, message.id))
        outcomes = await asyncio.gather(*sending, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        await self._queue.postpone(later)
        return sum(outcome for outcome in outcomes if isinstance(outcome, int))

    async def _start(self, message: OutboxMessage, message_id: int) -> asyncio.Task[int]:
        """Starts sending a message in the slot the round took for it; the slot is freed when it is done."""

        async def send() -> int:
            try:
                return await self._deliver(message, message_id)
            finally:
                self._in_flight.release()

        task = asyncio.create_task(send())
        # Let the request start now: Telegram counts it when it arrives, not when its token was taken.
        await asyncio.sleep(0)
        return task

    async def run_forever(self, stop_event: asyncio.Event) -> None:
        """Delivers messages until `stop_event` is set, sleeping until the next one is due."""
        while not stop_event.is_set():
            wait = self._idle_interval
            try:
                await self.run_once()
                due = await self._queue.next_due()
            except Exception:
                # A database or programming error must not stop the delivery of other messages.
                logger.exception("outbox round failed")
            else:
                if due is not None:
                    wait = min(wait, max(0.0, (due - self._clock.now()).total_seconds()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop_event.wait(), timeout=wait)

    async def _deliver(self, message: OutboxMessage, message_id: int) -> int:
        """Sends one message and records the outcome; returns 1 if Telegram accepted it, else 0."""
        try:
            method = build_method(message, await self._document_of(message))
        except (UnknownMethod, ValidationError) as error:
            await self._queue.mark_failed(message_id, f"cannot build {message.method}: {error}")
            return 0
        try:
            result = await self._bot(method)
        except TelegramRetryAfter as error:
            self.limiter.pause(message.chat_id, error.retry_after)
            if self._shared_limiter is not None:
                await self._shared_limiter.pause(error.retry_after)
            retry_at = _later(self._clock.now(), error.retry_after)
            await self._queue.mark_retry(message_id, retry_at, str(error))
        except TelegramMigrateToChat as error:
            new_chat_id = error.migrate_to_chat_id
            moved = await self._queue.move_chat(message.chat_id, new_chat_id, self._clock.now())
            logger.info("chat %s became %s; %d messages follow", message.chat_id, new_chat_id, moved)
            await self._queue.mark_retry(message_id, self._clock.now(), str(error))
        except TelegramForbiddenError as error:
            await self._queue.mark_blocked(message_id, str(error))
        except TelegramBadRequest as error:
            if NOT_MODIFIED in error.message:
                await self._queue.mark_sent(message_id, _edited_message_id(message), self._clock.now())
                return 1
            await self._refused(message, message_id, str(error))
        except TelegramEntityTooLarge as error:
            await self._refused(message, message_id, str(error))
        except ClientDecodeError as error:
            if not _accepted(error.data):
                await self._retry_later(message, message_id, error)
                return 0
            # Telegram took the message but its answer did not parse: sending again would duplicate it.
            logger.warning("%s was accepted but its answer could not be read", message.method)
            await self._queue.mark_sent(message_id, _raw_message_id(error.data), self._clock.now())
            return 1
        except _TRANSIENT as error:
            await self._retry_later(message, message_id, error)
        except TelegramAPIError as error:
            await self._queue.mark_failed(message_id, str(error))
        else:
            await self._queue.mark_sent(message_id, _sent_message_id(result, message), self._clock.now())
            await self._delivered(message)
            return 1
        return 0

    async def _delivered(self, message: OutboxMessage) -> None:
        """Tells on_delivered of a delivery (the "customer told" clock); its failure loses no message."""
        if self._on_delivered is None:
            return
        try:
            await self._on_delivered(message, self._clock.now())
        except Exception:
            logger.exception("recording the delivery of outbox message %s failed", message.id)

    async def _refused(self, message: OutboxMessage, message_id: int, error: str) -> None:
        """Gives up a message Telegram refused for its content; a short fallback and the desk are told."""
        await self._queue.mark_failed(message_id, error)
        logger.warning("%s to chat %s refused by Telegram: %s", message.method, message.chat_id, error[:200])
        if self._refusals is None or (message.dedup_key or "").startswith(REFUSAL_KEY_PREFIX):
            # A fallback that is refused in turn is only logged: it must not start a chain.
            return
        for notice in self._refusals.notices(message, message_id, error, self._clock.now()):
            await self._queue.add(notice)

    async def _document_of(self, message: OutboxMessage) -> Upload | None:
        """Loads the stored document (or report) a sendDocument row refers to, if any."""
        document_id = message.params.get(DOCUMENT_ID)
        if document_id is not None and self._documents is not None:
            return await self._documents.get_document(int(document_id))
        report_id = message.params.get(REPORT_DOCUMENT_ID)
        if report_id is not None and self._reports is not None:
            return await self._reports.get_report(int(report_id))
        return None

    async def _retry_later(self, message: OutboxMessage, message_id: int, error: AiogramError) -> None:
        """Schedules another attempt after a backoff, or gives up after `max_attempts` attempts."""
        attempts = message.attempts + 1
        if attempts >= self._max_attempts:
            await self._queue.mark_failed(message_id, f"gave up after {attempts} attempts: {error}")
            return
        backoff = min(self._backoff_cap, self._backoff_base * 2 ** (attempts - 1))
        # Jitter spreads the retries of many messages that failed together.
        delay = backoff * self._rng.uniform(0.5, 1.0)
        await self._queue.mark_retry(message_id, _later(self._clock.now(), delay), str(error))


def _sent_message_id(result: object, message: OutboxMessage) -> int | None:
    """Returns the id of the message Telegram created or edited, if the method deals with one."""
    if isinstance(result, Message):
        return result.message_id
    return _edited_message_id(message)


def _edited_message_id(message: OutboxMessage) -> int | None:
    """Returns the id of the message an edit refers to, if any."""
    message_id = message.params.get("message_id")
    return int(message_id) if message_id is not None else None
