"""The Discord adapter's life and death: interactions cancelled when the stop grace runs out, a
gateway Discord closes for good ending `python -m bot` with a failure, and alert DMs that hand a
long rate limit back to the outbox and are never split."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.core.seam import Button, DeliveryError, Recipient, RecipientUnreachable, Reply
from tests.fakes.discord_server import FakeDiscord
from tests.support.corebot import DEMO_KEY, new_simulator
from tests.support.process import discord_variables, running_bot, serving_env
from tests.test_discord_journey import set_key
from tests.test_discord_support import (
    USER,
    Rig,
    assert_no_secrets,
    discord_rig,
    production_logging,
)

STOP_GRACE = 0.2
SLOW = 2.0


@pytest.fixture
def secret_free_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with production_logging(caplog):
        yield
    assert_no_secrets(caplog)


@pytest.fixture
async def rig(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, secret_free_logs: None
) -> AsyncIterator[Rig]:
    async with discord_rig(tmp_path, monkeypatch, stop_grace=STOP_GRACE) as started:
        yield started


async def test_stop_cancels_interactions_that_outlast_the_grace(rig: Rig) -> None:
    await set_key(rig)
    rig.sim.quirks.slow_seconds = SLOW
    ref = rig.fake.slash_command("balance")
    await rig.fake.wait_for_response(ref)  # deferred; the panel is still working on it
    assert not await rig.adapter.drain(0)

    loop = asyncio.get_running_loop()
    started = loop.time()
    await rig.adapter.stop()
    assert loop.time() - started < SLOW
    # Nothing of that interaction runs on after stop(): the runtime may close the database now.
    assert await rig.adapter.drain(0)
    assert rig.adapter.in_flight == 0
    answered = len(rig.fake.responses_for(ref))
    async with asyncio.timeout(SLOW + 5):
        # The simulator has no event for this counter; polling it under a timeout is the wait.
        while rig.sim.abandoned_count == 0:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    # The panel saw the bot leave its request (it was cancelled), and no answer came later.
    assert len(rig.fake.responses_for(ref)) == answered
    assert rig.sim.action_counts["balance"] == 2  # the key check, then the cancelled balance


async def test_alert_dm_hands_a_long_rate_limit_back_to_the_outbox(rig: Rig) -> None:
    rig.fake.fail_next("POST", r"/channels/\d+/messages", 429, retry_after=60)
    with pytest.raises(DeliveryError) as caught:
        # discord.py would otherwise sleep the whole minute inside the send.
        async with asyncio.timeout(5):
            await rig.adapter.send(Recipient("discord", str(USER)), Reply("Order #7 completed"))
    assert caught.value.retry_after == 60
    assert not isinstance(caught.value, RecipientUnreachable)
    assert USER not in rig.fake.dms or rig.fake.dms[USER] == []
    await rig.adapter.send(Recipient("discord", str(USER)), Reply("Order #7 completed"))
    assert [dm["content"] for dm in rig.fake.dms[USER]] == ["Order #7 completed"]


async def test_a_long_alert_is_one_dm_cut_with_an_ellipsis(rig: Rig) -> None:
    alert = Reply(
        "Order #7 is *Completed*\n" + "details " * 400,
        buttons=((Button("↻ Refresh", "sr:5001:7"), Button("Panel", url="https://x.test/")),),
    )
    await rig.adapter.send(Recipient("discord", str(USER)), alert)
    [dm] = rig.fake.dms[USER]
    assert dm["content"].startswith("Order #7 is \\*Completed\\*\ndetails details")
    assert dm["content"].endswith("details…") and len(dm["content"]) <= 2000
    assert len(dm["components"]) == 1 and len(dm["components"][0]["components"]) == 2


async def test_gateway_closed_for_good_ends_python_m_bot_with_a_failure(tmp_path: Path) -> None:
    async with new_simulator() as sim, FakeDiscord() as fake:
        env = serving_env(tmp_path, sim.url, **discord_variables(fake), LOG_LEVEL="INFO")
        async with running_bot(env, tmp_path) as bot:  # cwd tmp_path: no stray .env is read
            await bot.stderr.wait_for_line("discord adapter started", timeout=30)
            # The bot's token was reset in the developer portal: Discord closes with 4004,
            # after which discord.py never reconnects.
            await fake.force_disconnect(4004)
            returncode = await bot.wait_exit(timeout=20)
        stderr = bot.stderr_text()
        assert returncode == 1, stderr[-2000:]
    [line] = [line for line in stderr.splitlines() if "stopped serving for good" in line]
    assert "ERROR bot.launch: discord stopped serving for good" in line
    assert "code 4004 (authentication failed" in line and "status 1" in line
    assert "Discord adapter stopped" in stderr  # stopped cleanly on the way out
    assert "Traceback" not in stderr
    assert fake.token not in stderr and DEMO_KEY not in stderr
