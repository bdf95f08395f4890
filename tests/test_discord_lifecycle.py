"""The Discord adapter's life and death: interactions cancelled when the stop grace runs out, a
gateway Discord closes for good ending `python -m bot` with a failure, and alert DMs that hand a
long rate limit back to the outbox and are never split."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.core.seam import Button, DeliveryError, Recipient, RecipientUnreachable, Reply
from bot.crypto import generate_master_key
from tests.fakes.discord_server import FakeDiscord
from tests.support.corebot import DEMO_KEY, new_simulator
from tests.test_discord_journey import set_key
from tests.test_discord_support import (
    USER,
    Rig,
    assert_no_secrets,
    discord_rig,
    production_logging,
)

ROOT = Path(__file__).resolve().parents[1]
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
                "LOG_LEVEL": "INFO",
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
            lines: list[str] = []
            started = asyncio.Event()

            async def read_stderr() -> None:
                # Read all along: a full pipe would block the bot's logging.
                assert process.stderr is not None
                async for raw in process.stderr:
                    lines.append(raw.decode(errors="replace"))
                    if "discord adapter started" in lines[-1]:
                        started.set()

            reading = asyncio.create_task(read_stderr())
            try:
                await asyncio.wait_for(started.wait(), 30)
                # The bot's token was reset in the developer portal: Discord closes with 4004,
                # after which discord.py never reconnects.
                await fake.force_disconnect(4004)
                await asyncio.wait_for(process.wait(), 20)
                await asyncio.wait_for(reading, 5)
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                reading.cancel()
            stderr = "".join(lines)
            assert process.returncode == 1, stderr[-2000:]
    finally:
        await sim.stop()
    [line] = [line for line in stderr.splitlines() if "stopped serving for good" in line]
    assert "ERROR bot.launch: discord stopped serving for good" in line
    assert "code 4004 (authentication failed" in line and "status 1" in line
    assert "Discord adapter stopped" in stderr  # stopped cleanly on the way out
    assert "Traceback" not in stderr
    assert fake.token not in stderr and DEMO_KEY not in stderr
