"""Status alerts reach Telegram users through the adapter's Sender; blocking the bot ends them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.alerts.service import AlertService
from storage import users
from tests.support.corebot import DEMO_KEY
from tests.test_telegram_harness import ALICE, TelegramWorld, set_key, telegram_world


async def track_order(world: TelegramWorld) -> int:
    """An order made on the panel and looked up here, so the bot follows it."""
    service = world.sim.catalogue.first_matching(type="Default", refill=True)
    order_id = world.sim.make_order(
        DEMO_KEY, service.id, service.min, link=f"https://x.test/{time.monotonic_ns()}"
    )
    status = await world.say(f"/status {order_id}")
    assert f"Order #{order_id}" in status["text"]
    return order_id


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_alerts_arrive_and_stop_when_the_user_blocks_the_bot(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        tg = world.tg
        now = [time.time()]
        world.runtime.core.res.clock = lambda: now[0]
        async with AlertService(world.runtime, {"telegram": world.adapter}) as service:
            await set_key(world)

            first = await track_order(world)
            world.sim.set_order(first, status="Completed")
            now[0] += world.runtime.settings.status_poll_seconds + 1
            assert (await service.poll_once()).alerts_queued == 1
            assert await service.deliver_once() == 1
            alert = tg.last_bot_message(ALICE)
            assert alert is not None
            assert alert["text"].startswith(f"🔔 Order #{first}") and "Completed" in alert["text"]
            # The alert's own buttons work: Status refreshes it in place.
            status = await world.press(alert, "Status")
            assert status["message_id"] == alert["message_id"]
            assert status["text"].startswith(f"Order #{first}")

            second = await track_order(world)
            tg.block_user(ALICE)
            world.sim.set_order(second, status="Completed")
            now[0] += world.runtime.settings.status_poll_seconds + 1
            assert (await service.poll_once()).alerts_queued == 1
            assert await service.deliver_once() == 0
            assert tg.calls_to("sendMessage")[-1].status == 403
            user = await users.get_user(world.runtime.db, "telegram", str(ALICE))
            assert user is not None and not user.alerts_enabled

            tg.unblock_user(ALICE)
            settings = await world.say("/alerts")
            assert "Status alerts: off" in settings["text"]
