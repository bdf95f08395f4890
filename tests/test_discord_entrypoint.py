"""`python -m bot` with DISCORD_BOT_TOKEN set: the real entry point serves FakeDiscord, answers a
command, and stops cleanly on SIGTERM; its DEBUG log on stderr holds no token and no key."""

from __future__ import annotations

from pathlib import Path

from tests.fakes.discord_server import FakeDiscord
from tests.support.corebot import DEMO_KEY, new_simulator
from tests.support.process import discord_variables, running_bot, serving_env


async def test_python_m_bot_runs_discord_and_stops_on_sigterm(tmp_path: Path) -> None:
    async with new_simulator() as sim, FakeDiscord() as fake:
        env = serving_env(tmp_path, sim.url, **discord_variables(fake), LOG_LEVEL="DEBUG")
        async with running_bot(env, tmp_path) as bot:  # cwd tmp_path: no stray .env is read
            await bot.while_running(fake.wait_ready(timeout=20))
            await fake.wait_until(lambda: len(fake.command_syncs) == 1, timeout=5)
            opened = fake.slash_command("setkey")
            await fake.wait_for_response(opened, timeout=10)
            saved = fake.submit_modal("~key", {"answer": DEMO_KEY})
            await fake.wait_for_call("POST", rf"/webhooks/\d+/{saved.token}", timeout=10)
            answer = fake.original_message(saved)
            assert answer is not None and "saved" in answer["content"]
            returncode = await bot.stop(timeout=20)
        log = bot.stderr_text()
        assert returncode == 0, log[-2000:]
        await fake.wait_until(lambda: fake.connection_count == 0, timeout=5)
    assert "Discord: serving as" in log and "Discord adapter stopped" in log
    assert fake.token not in log and DEMO_KEY not in log
    assert "[redacted]" not in log  # not even a redacted secret: none was handed to logging
