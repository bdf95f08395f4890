"""`python -m bot` as a real subprocess: a clean environment, a start, pipes read, a stop."""

from __future__ import annotations

import asyncio
import codecs
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

from bot.crypto import generate_master_key
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 65536
# After the process is gone its pipes close at once; this only bounds a stuck read.
PIPE_CLOSE_TIMEOUT = 5.0

T = TypeVar("T")


def bot_env(tmp_path: Path, **variables: str) -> dict[str, str]:
    """A clean environment for `python -m bot` (no tokens unless given, a database in tmp_path)."""
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "NO_PROXY": "127.0.0.1,localhost",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
    }
    env.update(variables)
    return env


def serving_env(tmp_path: Path, panel_url: str, **variables: str) -> dict[str, str]:
    """`bot_env` for a bot that serves users: the panel it talks to and a fresh encryption key."""
    return bot_env(
        tmp_path, PANEL_API_URL=panel_url, ENCRYPTION_KEY=generate_master_key(), **variables
    )


def telegram_variables(tg: FakeTelegram) -> dict[str, str]:
    """The variables that point `python -m bot` at a FakeTelegram."""
    return {"TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_API_BASE_URL": f"{tg.url}/bot"}


def discord_variables(fake: FakeDiscord) -> dict[str, str]:
    """The variables that point `python -m bot` at a FakeDiscord."""
    return {
        "DISCORD_BOT_TOKEN": fake.token,
        "DISCORD_API_BASE_URL": fake.api_base,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
    }


def bot_command(*args: str) -> list[str]:
    """The command line of `python -m bot ARGS`, run by this interpreter."""
    return [sys.executable, "-m", "bot", *args]


def run_bot(
    *args: str, env: dict[str, str], cwd: Path, stdin: str = "", timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """`python -m bot ARGS` to completion, its output captured as text."""
    command = bot_command(*args)
    return subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout
    )


class PipeLog:
    """One output pipe of the bot, read all along: a full pipe would block the bot's logging."""

    def __init__(self, name: str, stream: asyncio.StreamReader) -> None:
        self.name = name
        self.closed = False
        self._chunks: list[str] = []
        self._grew = asyncio.Event()
        # Read in chunks, not lines: a DEBUG line can outgrow StreamReader's line limit.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self.task = asyncio.create_task(self._read(stream))

    async def _read(self, stream: asyncio.StreamReader) -> None:
        try:
            while chunk := await stream.read(CHUNK):
                self._append(self._decoder.decode(chunk))
        finally:
            self._append(self._decoder.decode(b"", final=True))
            self.closed = True
            self._grew.set()

    def _append(self, text: str) -> None:
        if text:
            self._chunks.append(text)
            self._grew.set()

    def text(self) -> str:
        """Everything read from the pipe so far."""
        return "".join(self._chunks)

    async def wait_for_line(
        self,
        wanted: str | Callable[[str], bool],
        timeout: float,  # noqa: ASYNC109
    ) -> str:
        """The first whole line that contains `wanted` (or satisfies it); fails if the pipe ends."""
        matches = (lambda line: wanted in line) if isinstance(wanted, str) else wanted
        seen, partial = 0, ""
        async with asyncio.timeout(timeout):
            while True:
                while seen < len(self._chunks):
                    partial += self._chunks[seen]
                    seen += 1
                    *lines, partial = partial.split("\n")
                    for line in lines:
                        if matches(line):
                            return line
                if self.closed:
                    if partial and matches(partial):
                        return partial
                    raise AssertionError(
                        f"python -m bot closed its {self.name} (exited early?):\n"
                        f"{self.text()[-3000:]}"
                    )
                self._grew.clear()
                await self._grew.wait()


class RunningBot:
    """A started `python -m bot`: its process and the text of its stdout and stderr."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None and process.stderr is not None
        self.process = process
        self.stdout = PipeLog("stdout", process.stdout)
        self.stderr = PipeLog("stderr", process.stderr)

    def stdout_text(self) -> str:
        """What the bot wrote to stdout so far (all of it once it has exited)."""
        return self.stdout.text()

    def stderr_text(self) -> str:
        """What the bot wrote to stderr so far (all of it once it has exited)."""
        return self.stderr.text()

    async def wait_exit(self, timeout: float) -> int:  # noqa: ASYNC109
        """Wait for the bot to exit on its own and its pipes to close; its return code."""
        async with asyncio.timeout(timeout):
            code = await self.process.wait()
            await asyncio.gather(self.stdout.task, self.stderr.task)
        return code

    async def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:  # noqa: ASYNC109
        """Send `sig` (unless the bot has exited already) and wait for the exit; its return code."""
        if self.process.returncode is None:
            self.process.send_signal(sig)
        return await self.wait_exit(timeout)

    async def while_running(self, step: Awaitable[T]) -> T:
        """Await `step`, but fail at once, with the log's tail, if the bot exits first."""
        stepping = asyncio.ensure_future(step)
        exited = asyncio.ensure_future(self.process.wait())
        try:
            await asyncio.wait({stepping, exited}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (stepping, exited):
                if not task.done():
                    task.cancel()
        if exited.done() and not exited.cancelled():
            await asyncio.wait({self.stdout.task, self.stderr.task}, timeout=PIPE_CLOSE_TIMEOUT)
            raise AssertionError(f"python -m bot exited early:\n{self.stderr_text()[-3000:]}")
        return stepping.result()

    async def _close(self) -> None:
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        readers = {self.stdout.task, self.stderr.task}
        _, pending = await asyncio.wait(readers, timeout=PIPE_CLOSE_TIMEOUT)
        for task in pending:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)


@asynccontextmanager
async def running_bot(env: dict[str, str], cwd: Path, *args: str) -> AsyncIterator[RunningBot]:
    """Start `python -m bot ARGS` in `cwd`; on the way out kill it if it is still running."""
    pipe = asyncio.subprocess.PIPE
    process = await asyncio.create_subprocess_exec(
        *bot_command(*args), env=env, cwd=cwd, stdout=pipe, stderr=pipe
    )
    bot = RunningBot(process)
    try:
        yield bot
    finally:
        await bot._close()
