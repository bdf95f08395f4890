"""`python -m bot` with DISCORD_BOT_TOKEN set: the real entry point serves FakeDiscord, answers a
command, and stops cleanly on SIGTERM; its DEBUG log on stderr holds no token and no key."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.crypto import generate_master_key
from tests.fakes.discord_server import FakeDiscord
from tests.support.corebot import DEMO_KEY, new_simulator

ROOT = Path(__file__).resolve().parents[1]


async def test_python_m_bot_runs_discord_and_stops_on_sigterm(tmp_path: Path) -> None:
    sim = new_simulator()
    await sim.start()
    try:
        async with FakeDiscord() as fake:
            env = {
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(ROOT),
                "NO_PROXY": "127.0.0.1,localhost",
                "DISCORD_BOT_TOKEN": fake.token,
                "DISCORD_API_BASE_URL": fake.api_base,
                "DISCORD_GATEWAY_URL": fake.gateway_url,
                "PANEL_API_URL": sim.url,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
                "ENCRYPTION_KEY": generate_master_key(),
                "LOG_LEVEL": "DEBUG",
            }
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                cwd=tmp_path,  # no stray .env is read
                env=env,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            assert process.stderr is not None
            # Read stderr all along: a full pipe would block the bot's logging.
            reading = asyncio.create_task(process.stderr.read())
            try:
                ready = asyncio.create_task(fake.wait_ready(timeout=20))
                exited = asyncio.create_task(process.wait())
                await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
                if exited.done():
                    ready.cancel()
                    output = (await reading).decode(errors="replace")
                    raise AssertionError(f"python -m bot exited early:\n{output[-3000:]}")
                exited.cancel()
                await ready
                await fake.wait_until(lambda: len(fake.command_syncs) == 1, timeout=5)
                opened = fake.slash_command("setkey")
                await fake.wait_for_response(opened, timeout=10)
                saved = fake.submit_modal("~key", {"answer": DEMO_KEY})
                await fake.wait_for_call("POST", rf"/webhooks/\d+/{saved.token}", timeout=10)
                answer = fake.original_message(saved)
                assert answer is not None and "saved" in answer["content"]
                process.send_signal(signal.SIGTERM)
                await asyncio.wait_for(process.wait(), 20)
                stderr = await reading
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                reading.cancel()
            assert process.returncode == 0, stderr.decode(errors="replace")[-2000:]
            await fake.wait_until(lambda: fake.connection_count == 0, timeout=5)
    finally:
        await sim.stop()
    log = stderr.decode(errors="replace")
    assert "Discord: serving as" in log and "Discord adapter stopped" in log
    assert fake.token not in log and DEMO_KEY not in log
    assert "[redacted]" not in log  # not even a redacted secret: none was handed to logging
