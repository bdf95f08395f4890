"""Button presses are answered before Telegram expires the query, however slow the panel is."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from adapters.telegram_app.callbacks import WORKING
from tests.fakes.telegram_server import ApiCall, FakeTelegram
from tests.support.corebot import DEMO_KEY
from tests.test_telegram_harness import (
    ALICE,
    BOT_USERNAME,
    TOKEN,
    WAIT,
    TelegramWorld,
    raw_call,
    set_key,
    telegram_world,
)

# The fake refuses answers after EXPIRY s; the panel takes SLOW s; the adapter answers a press
# whose reply is not ready after ANSWER_WITHIN s with a placeholder.
EXPIRY = 1.5
SLOW = 2.5
ANSWER_WITHIN = 0.3


async def bot_api(tg: FakeTelegram, method: str, **params: Any) -> dict[str, Any]:
    """One Bot API call as a second client would make it; returns the whole answer."""
    async with httpx.AsyncClient(timeout=WAIT) as client:
        answer: dict[str, Any] = (
            await client.post(f"{tg.url}/bot{tg.token}/{method}", json=params)
        ).json()
    return answer


async def test_the_fake_expires_unanswered_callback_queries() -> None:
    async with FakeTelegram(TOKEN, BOT_USERNAME, callback_expiry=0.0) as tg:
        keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
        sent = await raw_call(tg, "sendMessage", chat_id=ALICE, text="hi", reply_markup=keyboard)
        late = tg.press_button(sent, "a")
        refused = await bot_api(tg, "answerCallbackQuery", callback_query_id=late)
        assert refused["ok"] is False and refused["error_code"] == 400
        assert "query is too old" in refused["description"]
        # Expired for good: a later answer is refused too, whatever the expiry says now.
        tg.callback_expiry = 60.0
        again = await bot_api(tg, "answerCallbackQuery", callback_query_id=late)
        assert again["ok"] is False
        in_time = tg.press_button(sent, "a")
        assert await raw_call(tg, "answerCallbackQuery", callback_query_id=in_time) is True


def answers_to(world: TelegramWorld, query_id: str) -> list[ApiCall]:
    """Every answerCallbackQuery the bot made for one query."""
    return [
        call
        for call in world.tg.calls_to("answerCallbackQuery")
        if call.params.get("callback_query_id") == query_id
    ]


async def tracked_order(world: TelegramWorld) -> tuple[int, dict[str, Any]]:
    """An order looked up with /status; returns its id and the status message (with Refresh)."""
    service = world.sim.catalogue.first_matching(type="Default", dripfeed=False)
    order_id = world.sim.make_order(DEMO_KEY, service.id, service.min)
    status = await world.say(f"/status {order_id}")
    assert f"Order #{order_id}" in status["text"]
    return order_id, status


async def test_a_slow_panel_gets_the_press_answered_in_time_and_the_reply_still_comes(
    tmp_path: Path,
) -> None:
    options = {"answer_within": ANSWER_WITHIN}
    async with telegram_world(tmp_path, adapter_options=options, callback_expiry=EXPIRY) as world:
        await set_key(world)
        order_id, status = await tracked_order(world)
        world.sim.set_order(order_id, status="Completed")
        world.sim.quirks.slow_seconds = SLOW

        start = world.mark()
        refresh = world.tg.find_button(status, "Refresh")["callback_data"]
        query_id = world.tg.press_button(status, refresh)
        answer = await world.call(
            "answerCallbackQuery",
            start,
            lambda c: c.params["callback_query_id"] == query_id,
            status=None,
        )
        # Answered while the panel is still busy, so Telegram accepted it and the spinner stops.
        assert answer.status == 200, answer
        assert answer.params.get("text") == WORKING
        edit = await world.call(
            "editMessageText", start, lambda c: c.params["message_id"] == status["message_id"]
        )
        assert "Completed" in edit.params["text"]
        assert "Completed" in world.bot_message(ALICE, status["message_id"])["text"]
        assert [call.status for call in answers_to(world, query_id)] == [200]


async def test_a_press_queued_behind_a_slow_command_is_answered_in_time(tmp_path: Path) -> None:
    options = {"answer_within": ANSWER_WITHIN}
    async with telegram_world(tmp_path, adapter_options=options, callback_expiry=EXPIRY) as world:
        await set_key(world)
        _, status = await tracked_order(world)
        world.sim.quirks.slow_seconds = SLOW

        start = world.mark()
        world.tg.send_message("/balance")
        refresh = world.tg.find_button(status, "Refresh")["callback_data"]
        query_id = world.tg.press_button(status, refresh)
        answer = await world.call(
            "answerCallbackQuery",
            start,
            lambda c: c.params["callback_query_id"] == query_id,
            status=None,
        )
        assert answer.status == 200, answer
        # The user's own updates still run in order: the balance first, then the refresh.
        balance = await world.call("sendMessage", start, lambda c: "Balance" in c.params["text"])
        edit = await world.call(
            "editMessageText",
            start,
            lambda c: c.params["message_id"] == status["message_id"],
            status=None,
        )
        assert world.tg.calls.index(balance) < world.tg.calls.index(edit)
        assert len(answers_to(world, query_id)) == 1


async def test_a_quick_press_gets_the_cores_own_answer(tmp_path: Path) -> None:
    async with telegram_world(tmp_path, callback_expiry=EXPIRY) as world:
        await set_key(world)
        listing = await world.say("/orders")
        forged = await world.press_data(listing, "zz:1001:1", expect="answer", check_exists=False)
        # A refusal is instant (checked before any panel call), so it is still a popup.
        assert forged["show_alert"] is True and forged["text"] != WORKING
        categories = await world.say("/services")
        paged = await world.press(categories, "Next ▶", expect="answer")
        assert paged.get("text", "") != WORKING
