"""`python -m bot` with both tokens: Telegram and Discord served from one process and event loop,
both answering, and a clean stop on SIGTERM."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.discord_server import FakeDiscord
from tests.fakes.telegram_server import FakeTelegram
from tests.support.corebot import new_simulator
from tests.support.process import (
    discord_variables,
    running_bot,
    serving_env,
    telegram_variables,
)


async def test_one_process_serves_telegram_and_discord(tmp_path: Path) -> None:
    async with new_simulator() as sim, FakeTelegram() as tg, FakeDiscord() as dc:
        env = serving_env(tmp_path, sim.url, **telegram_variables(tg), **discord_variables(dc))
        async with running_bot(env, tmp_path) as bot:
            await dc.wait_ready(timeout=30)
            await tg.wait_for_call("setMyCommands", timeout=30)
            tg.send_message("/help")
            telegram_reply = await tg.wait_for_call("sendMessage", timeout=15)
            assert "/setkey" in telegram_reply.params["text"]
            ref = dc.slash_command("help")
            await dc.wait_for_response(ref, timeout=15)
            returncode = await bot.stop(timeout=30)
        stderr = bot.stderr_text()
        assert returncode == 0, stderr[-2000:]
    assert "telegram adapter started" in stderr and "discord adapter started" in stderr
    assert tg.token not in stderr and dc.token not in stderr
