"""The real `python -m bot` process against the loopback fake Bot API: polling, replies, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from sandbox.server import FakeBotApi

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq"

pytestmark = pytest.mark.e2e


def free_port() -> int:
    """Returns a TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
async def telegram() -> AsyncIterator[FakeBotApi]:
    """Serves the fake Bot API on a local port."""
    api = FakeBotApi()
    runner = web.AppRunner(api.make_app())
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    api.base_url = f"http://127.0.0.1:{port}"
    yield api
    api.close()
    await runner.cleanup()


async def test_bot_process_answers_and_stops_cleanly_on_sigterm(telegram: FakeBotApi, tmp_path: Path) -> None:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": telegram.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'bot.sqlite3'}",
        "LOG_LEVEL": "DEBUG",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        user = telegram.create_user("Li", language_code="zh-hans")
        telegram.send_text(user, None, "/start")
        greeting = await telegram.wait_for_bot_message(user.id, timeout=20)
        assert "欢迎使用 OrderDesk" in greeting["text"]
        assert telegram.commands, "the command menus were not published"

        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), timeout=20)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    log = stderr.decode()
    assert process.returncode == 0, log
    assert "Traceback" not in log
    assert TOKEN not in log
    assert telegram.violations == []
