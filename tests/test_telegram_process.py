"""`python -m bot` with TELEGRAM_BOT_TOKEN set: a real process serving the fake Telegram."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.telegram_server import FakeTelegram
from tests.support.corebot import DEMO_KEY, new_simulator
from tests.support.process import running_bot, serving_env, telegram_variables
from tests.test_telegram_harness import ALICE, BOT_USERNAME, TOKEN

START_TIMEOUT = 30.0


async def test_python_m_bot_serves_telegram_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with new_simulator() as sim, FakeTelegram(TOKEN, BOT_USERNAME) as tg:
        env = serving_env(tmp_path, sim.url, **telegram_variables(tg), LOG_LEVEL="DEBUG")
        async with running_bot(env, tmp_path) as bot:  # cwd tmp_path: no stray .env is read
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
            returncode = await bot.stop(timeout=30)
        log = bot.stderr_text() + bot.stdout_text()
        assert returncode == 0, log
        assert "telegram adapter started" in log
        # Stopping confirmed the fetched updates, so a restart would not answer them again.
        assert tg.calls_to("getUpdates")[-1].params.get("timeout") == 0
    assert TOKEN not in log and TOKEN.split(":")[1] not in log
    assert DEMO_KEY not in log
