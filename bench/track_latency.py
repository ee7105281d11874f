"""/track latency (p50, p99) and the bot's memory with many orders, beside a bare aiogram echo bot.

    .venv/bin/python -m bench.track_latency                      # 1,000,000 orders on PostgreSQL
    .venv/bin/python -m bench.track_latency --orders 200000 --sqlite

The orders (of 1,000 customers) are bulk-loaded (COPY on PostgreSQL, executemany on SQLite) at a
tenth of --orders and at --orders, so the memory can be seen to stay flat as orders grow. Each
measurement runs in a fresh child process against the lean fake Bot API: the real bot answers
500 `/track <reference>` one at a time (a customer's own order, picked at random), and the echo
bot answers 500 messages; each child prints its resident memory (VmRSS) at the end.
Targets (issue 17): p99 under 20 ms on PostgreSQL; RSS at most 1.3x the echo bot's, flat as orders grow.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from bench.echo_bot import echo_router
from bench.fake_telegram import LeanBotApi, private_message

CUSTOMERS = 1_000
FIRST_CUSTOMER = 100_000
SAMPLES = 500
P99_TARGET_MS = 20.0
RSS_TARGET = 1.3


def orders(count: int, now: datetime) -> Iterator[dict[str, list[dict[str, object]]]]:
    """`count` orders, the n-th of customer FIRST_CUSTOMER + n % CUSTOMERS, in batches of 50,000."""
    from bench.databases import order_row

    batch: list[dict[str, object]] = []
    for number in range(count):
        batch.append(
            order_row(
                str(uuid.UUID(int=number + 1)),
                number,
                "in_transit",
                now,
                customer_telegram_user_id=FIRST_CUSTOMER + number % CUSTOMERS,
            )
        )
        if len(batch) == 50_000:
            yield {"orders": batch}
            batch = []
    if batch:
        yield {"orders": batch}


def rss_mb() -> float:
    """This process's resident memory in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def child_real(url: str, count: int) -> dict[str, float]:
    """In a child: answers SAMPLES /track one at a time; returns p50, p99 (ms) and RSS."""
    from bench.throughput import real_bot  # the echo child must not load OrderDesk

    api = LeanBotApi()
    await api.start()
    rng = random.Random(17)
    latencies = []
    try:
        async with real_bot(api, url, []):
            for _ in range(SAMPLES):
                number = rng.randrange(count)
                user = FIRST_CUSTOMER + number % CUSTOMERS
                done = api.counts["sendMessage"] + 1
                started = time.perf_counter()
                api.queue([private_message(api.make_update_id(), user, f"/track R-{number:08d}")])
                await api.wait_count("sendMessage", done, within=30)
                latencies.append((time.perf_counter() - started) * 1000)
            answered = [call for call in api.calls if call.method == "sendMessage"]
            assert not any("found no order" in str(call.params.get("text")) for call in answered), "not found"
            return {
                "p50": statistics.median(latencies),
                "p99": statistics.quantiles(latencies, n=100)[98],
                "rss": rss_mb(),
            }
    finally:
        await api.close()


async def child_echo() -> dict[str, float]:
    """In a child: the echo bot answers SAMPLES messages; returns its RSS."""
    from aiogram import Bot, Dispatcher
    from aiogram.client.session.aiohttp import AiohttpSession
    from aiogram.client.telegram import TelegramAPIServer

    api = LeanBotApi()
    await api.start()
    bot = Bot(
        "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsawq",
        session=AiohttpSession(api=TelegramAPIServer.from_base(api.base_url)),
    )
    dispatcher = Dispatcher()
    dispatcher.include_router(echo_router())
    polling = asyncio.create_task(dispatcher.start_polling(bot, handle_signals=False, polling_timeout=1))
    try:
        api.queue(private_message(api.make_update_id(), 1 + i % 50, "hello") for i in range(SAMPLES))
        await api.wait_count("sendMessage", SAMPLES, within=120)
        return {"rss": rss_mb()}
    finally:
        await dispatcher.stop_polling()
        await polling
        await bot.session.close()
        await api.close()


async def in_child(*args: str) -> dict[str, float]:
    """Runs this module in a child process and reads its JSON answer."""
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bench.track_latency", "--child", *args, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the child {args} failed")
    result: dict[str, float] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def measure(database: str, url: str, size: int, echo_rss: float) -> float:
    """Measures one seeded database; prints the figures beside their targets and returns the RSS."""
    result = await in_child("real", url, str(size))
    verdict = "ok" if result["p99"] < P99_TARGET_MS else "ABOVE TARGET"
    ratio = result["rss"] / echo_rss
    print(
        f"{database:10} {size:>9,} orders: /track p50 {result['p50']:.1f} ms, p99 {result['p99']:.1f} ms "
        f"(target < {P99_TARGET_MS:.0f} ms{' on PostgreSQL' if database != 'PostgreSQL' else ''}) {verdict}; "
        f"RSS {result['rss']:.0f} MiB = {ratio:.2f}x the echo bot's (target <= {RSS_TARGET}x) "
        f"{'ok' if ratio <= RSS_TARGET else 'ABOVE TARGET'}"
    )
    return result["rss"]


async def main(args: argparse.Namespace) -> None:
    """Seeds each size, measures it, and compares the memory across sizes."""
    # Imported here: the echo bot's child process must load nothing of OrderDesk.
    from bench.databases import load_postgres, load_sqlite, throwaway_postgres
    from storage.database import migrate

    echo = await in_child("echo")
    print(f"echo bot: RSS {echo['rss']:.0f} MiB")
    now = datetime.now(UTC)
    sizes = [max(1_000, args.orders // 10), args.orders]
    for database in ("SQLite", "PostgreSQL"):
        if (database == "SQLite" and not args.sqlite) or (database == "PostgreSQL" and args.no_postgres):
            continue
        memory = []
        for size in sizes:
            started = time.perf_counter()
            if database == "SQLite":
                with tempfile.TemporaryDirectory() as folder:
                    url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.sqlite3'}"
                    await migrate(url)
                    load_sqlite(Path(folder) / "bench.sqlite3", orders(size, now))
                    print(f"{database}: seeded {size:,} orders in {time.perf_counter() - started:.0f} s")
                    memory.append(await measure(database, url, size, echo["rss"]))
                continue
            async with throwaway_postgres() as postgres_url:
                if postgres_url is None:
                    break
                await migrate(postgres_url)
                await load_postgres(postgres_url, orders(size, now))
                print(f"{database}: seeded {size:,} orders in {time.perf_counter() - started:.0f} s")
                memory.append(await measure(database, postgres_url, size, echo["rss"]))
        if len(memory) == 2:
            growth = memory[1] / memory[0]
            print(
                f"{database:10} RSS at {sizes[1]:,} orders is {growth:.2f}x that at {sizes[0]:,} "
                f"(target: flat) {'ok' if growth <= 1.1 else 'GROWS'}"
            )


def parse_args() -> argparse.Namespace:
    """--orders, --sqlite (also SQLite), --no-postgres; --child is internal."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--child", nargs="+")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.child:
        kind, *rest = arguments.child
        figures = asyncio.run(child_echo() if kind == "echo" else child_real(rest[0], int(rest[1])))
        print(json.dumps(figures))
    else:
        asyncio.run(main(arguments))
