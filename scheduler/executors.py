"""The scheduler's executor and scheduler: jobs running at shutdown finish instead of being cut off."""

from __future__ import annotations

import asyncio
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.schedulers.asyncio import AsyncIOScheduler

# How long a stopping bot lets a sweep it is running end (a sweep is one short transaction). With
# the inbox's 10 s for updates under way it fits the 20-30 s that deploy/'s compose file and
# systemd unit give a stop before SIGKILL.
FINISH_SECONDS = 8.0


class FinishingExecutor(AsyncIOExecutor):
    """The asyncio executor, which can wait for the jobs it is running."""

    def running(self) -> list[asyncio.Future[Any]]:
        """The jobs running now."""
        return [future for future in self._pending_futures if not future.done()]

    async def finish(self, within: float) -> None:
        """Waits up to `within` seconds for the running jobs to end."""
        if running := self.running():
            await asyncio.wait(running, timeout=within)


class FinishingScheduler(AsyncIOScheduler):
    """The asyncio scheduler, whose stop lets the running jobs finish before it shuts down."""

    def __init__(self, executor: FinishingExecutor, **options: Any) -> None:
        super().__init__(executors={"default": executor}, **options)
        self._finishing = executor

    async def stop(self, within: float = FINISH_SECONDS) -> None:
        """Starts no job any more, waits up to `within` s for those running, then shuts down.

        APScheduler's own shutdown cancels a running coroutine job: its transaction rolls back
        (nothing is lost) but it logs a traceback and the work is done again by the next sweep.
        A job still running after `within` is cancelled that way.
        """
        if not self.running:
            return
        self.pause()
        await self._finishing.finish(within)
        cut_off = self._finishing.running()
        self.shutdown(wait=False)
        # AsyncIOScheduler shuts down on the loop's next turn, cancelling what still runs.
        await asyncio.sleep(0)
        if cut_off:
            await asyncio.wait(cut_off, timeout=1.0)
