"""Polling that can never work again (a revoked token, another process polling with the same
token) marks the adapter failed, and `run_platforms` then stops everything with exit status 1."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from adapters.telegram_app.polling import CONFLICTING, TOKEN_REJECTED
from bot.launch import PlatformFailed, run_platforms
from bot.log_safety import install_redaction
from tests.fakes.telegram_server import FakeTelegram
from tests.support.corebot import make_settings, new_simulator
from tests.test_telegram_harness import BOT_USERNAME, TOKEN, WAIT, telegram_world

# PTB 22 warns about the int form of retry_after inside RetryAfter itself.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def polling(call: object) -> bool:
    """A long poll (not the start-up or the stop's short one)."""
    params = getattr(call, "params", {})
    return bool(params.get("timeout", 0) > 0)


async def test_a_revoked_token_marks_the_adapter_failed(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        adapter = world.adapter
        await world.call("getUpdates", 0, polling)
        assert not adapter.failed.is_set()
        world.tg.revoke_token()
        async with asyncio.timeout(WAIT):
            await adapter.failed.wait()
        assert adapter.failure == TOKEN_REJECTED
        assert TOKEN not in adapter.failure
        await adapter.stop()  # the polling task ended on InvalidToken; stopping still works


async def test_a_lasting_conflict_marks_the_adapter_failed_and_a_short_one_does_not(
    tmp_path: Path,
) -> None:
    async with telegram_world(tmp_path / "short") as world:
        await world.call("getUpdates", 0, polling)
        start = world.mark()
        world.tg.fail_next("getUpdates", "conflict")
        conflict = await world.call("getUpdates", start, status=409)
        # PTB polls again after its back-off; the other poller is gone, so this one works.
        await world.call("getUpdates", world.tg.calls.index(conflict) + 1, status=200)
        assert not world.adapter.failed.is_set()

    async with telegram_world(tmp_path / "lasting", adapter_options={"conflict_grace": 0}) as world:
        await world.call("getUpdates", 0, polling)
        world.tg.fail_next("getUpdates", "conflict")
        async with asyncio.timeout(WAIT):
            await world.adapter.failed.wait()
        assert world.adapter.failure == CONFLICTING


async def test_run_platforms_stops_with_status_1_when_polling_dies(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    install_redaction(caplog.handler)
    sim = new_simulator()
    await sim.start()
    try:
        async with FakeTelegram(TOKEN, BOT_USERNAME) as tg:
            settings = make_settings(
                tmp_path, sim.url, telegram_bot_token=TOKEN, telegram_api_base_url=f"{tg.url}/bot"
            )

            async def revoke_once_polling() -> None:
                await tg.wait_for_call("getUpdates", polling, timeout=WAIT)
                tg.revoke_token()

            revoking = asyncio.create_task(revoke_once_polling())
            with pytest.raises(PlatformFailed) as failed:
                async with asyncio.timeout(WAIT):
                    await run_platforms(settings, asyncio.Event())
            await revoking
    finally:
        await sim.stop()
    assert failed.value.platform == "telegram"
    assert (failed.value.platform, failed.value.reason) == ("telegram", TOKEN_REJECTED)
    [line] = [r for r in caplog.records if "stopped serving for good" in r.getMessage()]
    assert line.levelno == logging.ERROR and line.name == "bot.launch"
    assert TOKEN_REJECTED in line.getMessage() and "status 1" in line.getMessage()
    # Stopped cleanly on the way out: the application and the alert loop were shut down.
    assert any("Application.stop() complete" in r.getMessage() for r in caplog.records)
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text
