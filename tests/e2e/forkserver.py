"""Starts bot processes fast: imports the bot once, then forks a fresh `python -m bot` for each start.

Importing aiogram, SQLAlchemy and the bot takes seconds of CPU, which would dominate a test that
kills and restarts the bot dozens of times. This server imports everything once; each `start`
forks a child that runs `bot.__main__.main()` exactly as `python -m bot` does - its own event
loop, database connections and Bot API session, settings read from the environment - and that
dies of a real SIGKILL. Nothing of the bot has run in the server before it forks.

Protocol, one line each way on stdin/stdout: `start <log file>` answers the child's pid;
`wait <pid>` answers its wait status once it has ended.
"""

from __future__ import annotations

import logging
import os
import sys

from bot.__main__ import main


def run_child(log_path: str) -> None:
    """Runs the bot in the forked child, its output going to the log file; never returns."""
    code = 1
    try:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        code = main([])
    finally:
        logging.shutdown()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    """Answers start and wait requests until stdin closes."""
    for line in sys.stdin:
        command, _, argument = line.strip().partition(" ")
        if command == "start":
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                run_child(argument)
            print(pid, flush=True)
        elif command == "wait":
            _, status = os.waitpid(int(argument), 0)
            print(status, flush=True)


if __name__ == "__main__":
    serve()
