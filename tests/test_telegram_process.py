"""`python -m bot` with TELEGRAM_BOT_TOKEN set: a real process serving the fake Telegram."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from bot.crypto import generate_master_key
from tests.fakes.telegram_server import FakeTelegram
from tests.support.corebot import DEMO_KEY, new_simulator
from tests.test_telegram_harness import ALICE, BOT_USERNAME, TOKEN

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 30.0


async def test_python_m_bot_serves_telegram_and_stops_on_sigterm(tmp_path: Path) -> None:
    sim = new_simulator()
    await sim.start()
    try:
        async with FakeTelegram(TOKEN, BOT_USERNAME) as tg:
            env = {
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(ROOT),
                "NO_PROXY": "127.0.0.1,localhost",
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_BASE_URL": f"{tg.url}/bot",
                "PANEL_API_URL": sim.url,
                "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
                "ENCRYPTION_KEY": generate_master_key(),
                "LOG_LEVEL": "DEBUG",
            }
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                env=env,
                cwd=tmp_path,  # no stray .env is read
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                commands = await tg.wait_for_call("setMyCommands", timeout=START_TIMEOUT)
                names = [command["command"] for command in commands.params["commands"]]
                assert "start" in names and "refill_status" in names
                await tg.wait_for_call(
                    "getUpdates", lambda c: c.params.get("timeout", 0) > 0, timeout=START_TIMEOUT
                )
                start = len(tg.calls)
                tg.send_message("/start")
                reply = await tg.wait_for_call("sendMessage", timeout=10, after=start)
                assert reply.status == 200 and "/setkey YOUR_API_KEY" in reply.params["text"]
                start = len(tg.calls)
                sent = tg.send_message(f"/setkey {DEMO_KEY}")
                saved = await tg.wait_for_call("sendMessage", timeout=10, after=start)
                assert "saved" in saved.params["text"]
                assert (ALICE, sent["message_id"]) in tg.deleted
            finally:
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
                stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
            log = stderr.decode(errors="replace") + stdout.decode(errors="replace")
            assert process.returncode == 0, log
            assert "telegram adapter started" in log
            # Stopping confirmed the fetched updates, so a restart would not answer them again.
            assert tg.calls_to("getUpdates")[-1].params.get("timeout") == 0
    finally:
        await sim.stop()
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    assert DEMO_KEY not in log
