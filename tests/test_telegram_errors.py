"""Failures get clear replies and the bot keeps serving: panel faults, bad input, bad updates."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.support.corebot import OTHER_KEY
from tests.test_telegram_harness import ALICE, set_key, telegram_world


async def test_panel_and_user_errors_get_clear_replies(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        sim = world.sim
        no_key = await world.say("/balance")
        assert "no panel API key set yet" in no_key["text"]

        invalid = await world.say("/setkey not-a-real-key-123")
        assert "says this API key is invalid" in invalid["text"]
        assert len(world.tg.deleted) == 1

        await set_key(world, OTHER_KEY)  # 50 USD
        sim.quirks.html_page = 503
        down = await world.say("/balance")
        assert (
            "The panel is not available" in down["text"] and "Nothing was changed" in down["text"]
        )
        sim.quirks.html_page = None
        assert "Balance: 50.00 USD" in (await world.say("/balance"))["text"]

        for garbage, expected in (
            ("/status abc", "these are not: 'abc'. Nothing was sent"),
            ("/status", "Which order?"),
            ("/order 99999999 https://t.me/x 10", "There is no service #99999999"),
            ("/refill_status ;;;", "Which refill?"),
            ("/orders sideways", "Use /orders"),
        ):
            reply = await world.say(garbage)
            assert expected in reply["text"], (garbage, reply["text"])

        unknown = await world.say("/frobnicate now")
        assert "I do not know the command /frobnicate" in unknown["text"]

        # Not enough funds: the panel's refusal is shown and Confirm stays for another try.
        pricey = sim.catalogue.first_matching(
            type="Default", dripfeed=False, predicate=lambda s: s.rate * s.max / 1000 > 50
        )
        confirm = await world.say(f"/order {pricey.id} https://t.me/big {pricey.max}")
        assert "lower than the cost" in confirm["text"]
        refused = await world.press(confirm, "Confirm", expect="send")
        assert "Not enough funds" in refused["text"]
        assert world.tg.find_button(refused, "Confirm")
        assert sim.action_counts["add"] == 1

        assert "Commands:" in (await world.say("/help"))["text"]


async def test_a_failing_update_is_logged_and_the_next_is_served(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="adapters")
    async with telegram_world(tmp_path) as world:
        world.tg.fail_next("sendMessage", "bad_request", description="injected failure")
        start = world.mark()
        world.tg.send_message("/help")
        await world.call("sendMessage", start, status=400)
        reply = await world.say("/help")
        assert "Commands:" in reply["text"]
        failures = [r for r in caplog.records if "failed" in r.getMessage()]
        assert failures and failures[0].name == "adapters.telegram_messenger"
        assert "BadRequest: Injected failure" in failures[0].getMessage()

        # A button press whose reply cannot be sent is still answered.
        listing = await world.say("/orders")
        world.tg.fail_next("editMessageText", "bad_request", description="boom")
        world.tg.fail_next("sendMessage", "bad_request", description="boom")
        answer = await world.press(listing, "Active only", expect="answer")
        assert answer["callback_query_id"]
        assert "You have no orders" in (await world.say("/orders"))["text"]
        assert any("BadRequest: Boom" in r.getMessage() for r in caplog.records)


async def test_button_with_forged_data_is_refused(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        await set_key(world)
        listing = await world.say("/orders")
        for forged in ("zz:1001:1", "op:1001:x:1", f"op:{ALICE + 1}:0:1"):
            answer = await world.press_data(listing, forged, expect="answer", check_exists=False)
            assert answer["show_alert"] is True, forged
            assert answer["text"], forged
        assert (await world.say("/help"))["text"].startswith("I place and track orders")
