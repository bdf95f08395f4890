"""A whole private-chat journey through the real PTB stack, FakeTelegram and the panel simulator."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.support.corebot import DEMO_KEY
from tests.test_telegram_harness import ALICE, TelegramWorld, set_key, telegram_world


def labels(world: TelegramWorld, message: dict[str, Any]) -> list[str]:
    """The button labels of a message's current keyboard."""
    return [button["text"] for row in world.tg.keyboard(message) for button in row]


async def place_default_order(
    world: TelegramWorld, service_id: int, link: str
) -> tuple[int, dict[str, Any], str]:
    """The wizard for a Default service answered by typed messages, then Confirm.

    Returns the order id, the confirmation message (now edited) and its Confirm button's data.
    """
    service = world.sim.catalogue[service_id]
    step = await world.say(f"/order {service_id}")
    assert service.name in step["text"] and "Step 1/2: send the link" in step["text"]
    assert "✖ Abort" in labels(world, step)
    step = await world.say(link)
    assert "Step 2/2: send the quantity" in step["text"]
    confirm = await world.say(str(service.min))
    assert "Please check your order" in confirm["text"]
    assert f"Quantity: {service.min}" in confirm["text"]
    data = world.tg.find_button(confirm, "Confirm")["callback_data"]
    placed = await world.press(confirm, "Confirm")
    assert placed["message_id"] == confirm["message_id"]  # edited in place
    match = re.search(r"Order placed: #(\d+)", placed["text"])
    assert match, placed["text"]
    return int(match.group(1)), placed, data


async def test_private_chat_journey(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        tg, sim = world.tg, world.sim

        welcome = await world.say("/start")
        assert "/setkey YOUR_API_KEY" in welcome["text"]

        # The key: the message is deleted, the hint (last 4 characters) shown, the key never.
        start = world.mark()
        sent = tg.send_message(f"/setkey {DEMO_KEY}")
        await world.call("deleteMessage", start)
        assert (ALICE, sent["message_id"]) in tg.deleted
        await world.call("sendMessage", start)
        saved = world.first_bot_message_after(ALICE, sent["message_id"])
        assert f"Key …{DEMO_KEY[-4:]} saved" in saved["text"]
        assert "Balance: 5,000.00 USD" in saved["text"]

        balance = await world.say("/balance")
        assert balance["text"].startswith("Balance: 5,000.00 USD")

        # Browsing: paging edits the same message.
        categories = await world.say("/services")
        assert "Categories (page 1/" in categories["text"]
        shown = set(tg.messages[ALICE])
        page2 = await world.press(categories, "Next ▶")
        assert "Categories (page 2/" in page2["text"]
        page1 = await world.press(page2, "◀ Prev")
        assert "Categories (page 1/" in page1["text"]
        assert set(tg.messages[ALICE]) == shown  # the same message, edited twice
        first_category = tg.keyboard(page1)[0][0]["text"]
        in_category = await world.press(page1, first_category)
        assert "Order #" in " ".join(labels(world, in_category))
        found = await world.say("/services instagram likes")
        assert "services match “instagram likes”" in found["text"]

        # The wizard for a Default service (typed answers), Confirm, and a second Confirm.
        service = sim.catalogue.first_matching(
            type="Default", refill=True, cancel=True, dripfeed=False
        )
        order_id, placed, confirm_data = await place_default_order(
            world, service.id, "https://instagram.com/p/abc"
        )
        assert sim.order(order_id).service_id == service.id
        # A second press of Confirm (a double tap from a client that had not seen the edit).
        again = await world.press_data(placed, confirm_data, check_exists=False)
        assert f"Already placed as order #{order_id}" in again["text"]
        assert sim.action_counts["add"] == 1
        answer = list(tg.answered_callbacks.values())[-1]
        assert answer["text"] == "Already handled"

        # Custom Comments: the list is typed as one message, one comment per line.
        comments_service = sim.catalogue.first_of_type("Custom Comments")
        await world.say(f"/order {comments_service.id}")
        step = await world.say("https://instagram.com/p/xyz")
        assert "comments" in step["text"].lower()
        count = max(comments_service.min, 3)
        confirm = await world.say("\n".join(f"Nice post {n}!" for n in range(count)))
        assert f"Quantity: {count}" in confirm["text"]
        placed = await world.press(confirm, "Confirm")
        comments_order = int(re.search(r"#(\d+)", placed["text"]).group(1))  # type: ignore[union-attr]
        assert sim.order(comments_order).service_id == comments_service.id

        # Status with Refresh (edited in place; an unchanged Refresh is harmless), then Refill.
        status = await world.say(f"/status {order_id}")
        assert f"Order #{order_id}" in status["text"] and "Pending" in status["text"]
        assert "↻ Refresh" in labels(world, status) and "Cancel" in labels(world, status)
        sim.set_order(order_id, status="In progress", remains=service.min // 2)
        refreshed = await world.press(status, "Refresh")
        assert "In progress" in refreshed["text"] and "50%" in refreshed["text"]
        before = world.mark()
        unchanged = await world.press(refreshed, "Refresh")
        assert unchanged["text"] == refreshed["text"]
        edits = [c for c in tg.calls[before:] if c.method == "editMessageText"]
        assert [c.status for c in edits] == [400]  # "message is not modified", swallowed
        assert not [c for c in tg.calls[before:] if c.method == "sendMessage"]
        sim.set_order(order_id, status="Completed", remains=0)
        completed = await world.press(unchanged, "Refresh")
        assert "100%" in completed["text"] and "Refill" in labels(world, completed)
        refill = await world.press(completed, "Refill", expect="send")
        assert re.search(rf"Order #{order_id}: refill #\d+ requested", refill["text"])

        # Cancel an order that has not started.
        second = sim.make_order(DEMO_KEY, service.id, service.min, link="https://x.test/2")
        ask = await world.say(f"/cancel {second}")
        assert f"#{second}?" in ask["text"]
        cancelled = await world.press(ask, "Yes, cancel")
        assert f"Order #{second}: cancel requested." in cancelled["text"]
        assert sim.order(second).status.lower().startswith("cancel")

        listing = await world.say("/orders")
        assert "Your orders (page 1/1" in listing["text"]
        assert f"#{order_id}" in listing["text"] and f"#{comments_order}" in listing["text"]

        # Forget: asked first, then everything is gone.
        ask = await world.say("/forget")
        assert labels(world, ask) == ["Yes, delete everything", "No, keep it"]
        done = await world.press(ask, "Yes, delete everything")
        assert done["text"] == "Done: I no longer hold anything about you."
        assert world.tg.keyboard(done) == []
        after = await world.say("/balance")
        assert "no panel API key" in after["text"]

        # Every button press was answered, and the key never appeared in anything the bot sent.
        presses = [c for c in tg.calls if c.method == "answerCallbackQuery"]
        assert presses and all(c.status == 200 for c in presses)
        assert not any(DEMO_KEY in text for text in world.bot_texts())
        assert tg.unknown_calls == []


async def test_key_sent_after_the_prompt_is_deleted_first(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        prompt = await world.say("/setkey")
        assert "Send me your API key" in prompt["text"]
        world.sim.quirks.slow_seconds = 2.0  # the panel takes 2 s to check the key
        start = world.mark()
        sent = world.tg.send_message(DEMO_KEY)
        # Deleted as soon as it was read, long before the panel's answer came back.
        await world.tg.wait_for_call("deleteMessage", timeout=1.0, after=start)
        assert (ALICE, sent["message_id"]) in world.tg.deleted
        assert not [c for c in world.tg.calls[start:] if c.method == "sendMessage"]
        reply_call = await world.call("sendMessage", start)
        assert "saved" in reply_call.params["text"]
        assert len(world.tg.calls_to("deleteMessage")) == 1
        world.sim.quirks.slow_seconds = 0
        # Afterwards ordinary text is not deleted any more.
        start = world.mark()
        chatter = await world.say("hello")
        assert "not waiting for anything" in chatter["text"]
        assert not world.tg.calls_to("deleteMessage")[1:]
        await set_key(world)  # a key as a command argument works too
