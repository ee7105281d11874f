"""Runs the real bot process (`python -m bot`) against the loopback fake Bot API."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from sandbox.server import FakeBotApi

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"


class BotProcess:
    """A running `python -m bot`; its log is read as it comes so a chatty bot never blocks on a full pipe."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self._lines: list[str] = []
        self._reader = asyncio.create_task(self._read_log())

    @property
    def log(self) -> str:
        """Everything the bot logged so far."""
        return "".join(self._lines)

    async def _read_log(self) -> None:
        """Collects stderr line by line until the process closes it."""
        assert self.process.stderr is not None
        async for line in self.process.stderr:
            self._lines.append(line.decode(errors="replace"))

    async def stop(self) -> None:
        """Stops the bot with SIGTERM, as a service manager would, and keeps its log."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), timeout=60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()
        await self._reader


@pytest.fixture
async def start_bot(
    telegram: FakeBotApi, tmp_path: Path
) -> AsyncIterator[Callable[..., Coroutine[Any, Any, BotProcess]]]:
    """Starts the bot process with a temporary database; extra settings come as keyword arguments."""
    started: list[BotProcess] = []

    async def start(**settings: str) -> BotProcess:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(tmp_path),
            "PYTHONPATH": str(ROOT),
            "BOT_TOKEN": TOKEN,
            "TELEGRAM_API_BASE": telegram.base_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
            "LOG_LEVEL": "DEBUG",
            **settings,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
        )
        bot = BotProcess(process)
        started.append(bot)
        return bot

    yield start
    for bot in started:
        await bot.stop()
        assert TOKEN not in bot.log
        assert "Traceback" not in bot.log, bot.log


def free_port() -> int:
    """Returns a loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def post_order(port: int, api_key: str, body: dict[str, Any]) -> dict[str, Any]:
    """Submits an order through the bot's platform API; asserts it is accepted and returns the answer."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"http://127.0.0.1:{port}/api/v1/orders",
            json=body,
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=aiohttp.ClientTimeout(total=20),
        ) as response,
    ):
        document: dict[str, Any] = await response.json()
        assert response.status == 201, document
        return document
