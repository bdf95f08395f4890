"""`python -m bot` with both tokens: Telegram and Discord served from one process and event loop,
both answering, and a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.crypto import generate_master_key
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram
from tests.support.corebot import new_simulator

ROOT = Path(__file__).resolve().parents[1]


async def test_one_process_serves_telegram_and_discord(tmp_path: Path) -> None:
    async with new_simulator() as sim, FakeTelegram() as tg, FakeDiscord() as dc:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(ROOT),
            "NO_PROXY": "127.0.0.1,localhost",
            "TELEGRAM_BOT_TOKEN": tg.token,
            "TELEGRAM_API_BASE_URL": f"{tg.url}/bot",
            "DISCORD_BOT_TOKEN": dc.token,
            "DISCORD_API_BASE_URL": dc.api_base,
            "DISCORD_GATEWAY_URL": dc.gateway_url,
            "PANEL_API_URL": sim.url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
            "ENCRYPTION_KEY": generate_master_key(),
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stderr is not None
        reading = asyncio.create_task(process.stderr.read())
        try:
            await dc.wait_ready(timeout=30)
            await tg.wait_for_call("setMyCommands", timeout=30)
            tg.send_message("/help")
            telegram_reply = await tg.wait_for_call("sendMessage", timeout=15)
            assert "/setkey" in telegram_reply.params["text"]
            ref = dc.slash_command("help")
            await dc.wait_for_response(ref, timeout=15)
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
            stderr = (await reading).decode(errors="replace")
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            reading.cancel()
        assert process.returncode == 0, stderr[-2000:]
    assert "telegram adapter started" in stderr and "discord adapter started" in stderr
    assert tg.token not in stderr and dc.token not in stderr
