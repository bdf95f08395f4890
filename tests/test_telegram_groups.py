"""Group chats: private commands point to the private chat, buttons stay with their owner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.corebot import DEMO_KEY
from tests.test_telegram_harness import (
    ALICE,
    BOB,
    BOT_USERNAME,
    TelegramWorld,
    set_key,
    telegram_world,
)

GROUP = -5005


def url_buttons(world: TelegramWorld, message: dict[str, Any]) -> list[str]:
    """The URLs of a message's link buttons."""
    return [b["url"] for row in world.tg.keyboard(message) for b in row if "url" in b]


async def group_say(
    world: TelegramWorld, text: str, user_id: int = ALICE, reply_to: int | None = None
) -> dict[str, Any]:
    """A user writes in the test group; returns the bot's first answer there."""
    return await world.say(
        text, user_id=user_id, chat_type="group", chat_id=GROUP, reply_to=reply_to
    )


async def test_setkey_in_a_group_is_deleted_and_sent_to_the_private_chat(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        tg = world.tg
        start = world.mark()
        reply = await group_say(world, f"/setkey {DEMO_KEY}")
        delete = await world.call("deleteMessage", start)
        assert delete.params == {"chat_id": GROUP, "message_id": world.seen[GROUP]}
        assert "works only in a private chat" in reply["text"]
        assert url_buttons(world, reply) == [f"https://t.me/{BOT_USERNAME}?start=setkey"]
        assert "reply_to_message" not in reply  # the quoted message is gone
        assert world.sim.action_counts["balance"] == 0  # the key was not even tried
        assert not any(DEMO_KEY in text for text in world.bot_texts())

        # Opening the deep link sends "/start setkey" in private: the bot asks for the key.
        prompt = await world.say("/start setkey")
        assert "Send me your API key" in prompt["text"]
        start = world.mark()
        key_message = tg.send_message(DEMO_KEY)
        await world.call("deleteMessage", start)
        saved = await world.call("sendMessage", start)
        assert "saved" in saved.params["text"]
        assert (ALICE, key_message["message_id"]) in tg.deleted

        for command in ("/balance", "/keys", "/forget", f"/balance@{BOT_USERNAME}"):
            answer = await group_say(world, command)
            assert "works only in a private chat" in answer["text"], command
            assert answer["reply_to_message"]["text"] == command  # quotes the asker
            assert url_buttons(world, answer)[0].startswith(f"https://t.me/{BOT_USERNAME}?start=")
            assert "5,000" not in answer["text"]


async def test_key_left_in_a_group_when_deleting_is_not_allowed(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        world.tg.fail_next("deleteMessage", "bad_request", description="message can't be deleted")
        reply = await group_say(world, f"/setkey {DEMO_KEY}")
        assert "could not delete your message with the key" in reply["text"]
        assert "make a new key" in reply["text"]
        assert url_buttons(world, reply) == [f"https://t.me/{BOT_USERNAME}?start=setkey"]
        assert not world.tg.deleted


async def test_status_in_group_and_foreign_press_refused(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        tg, sim = world.tg, world.sim
        await set_key(world)
        service = sim.catalogue.first_matching(type="Default", cancel=True)
        order_id = sim.make_order(DEMO_KEY, service.id, service.min)

        status = await group_say(world, f"/status@{BOT_USERNAME} {order_id}")
        assert f"Order #{order_id}" in status["text"] and "Pending" in status["text"]
        assert status["chat"]["id"] == GROUP
        assert status["reply_to_message"]["message_id"] == world.seen[GROUP]

        # Bob presses Alice's Refresh: a popup refusal, and the message stays as it was.
        before_text, before_markup = status["text"], tg.keyboard(status)
        start = world.mark()
        sim.set_order(order_id, status="In progress", remains=1)
        answer = await world.press(status, "Refresh", user_id=BOB, expect="answer")
        assert answer["show_alert"] is True
        assert "belongs to someone else" in answer["text"]
        # Bob's next update is served only after his press was fully handled.
        await group_say(world, f"/help@{BOT_USERNAME}", user_id=BOB)
        assert not [c for c in tg.calls[start:] if c.method == "editMessageText"]
        sent = [c.params["text"] for c in tg.calls[start:] if c.method == "sendMessage"]
        assert len(sent) == 1 and sent[0].startswith("I place and track orders")  # only /help
        current = world.bot_message(GROUP, status["message_id"])
        assert (current["text"], tg.keyboard(current)) == (before_text, before_markup)
        assert "edit_date" not in current

        # Alice's own press works in the group.
        refreshed = await world.press(status, "Refresh")
        assert "In progress" in refreshed["text"]


async def test_group_commands_for_other_bots_and_chatter_are_ignored(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        tg = world.tg
        start = world.mark()
        tg.send_message("/status@another_bot 1", chat_type="group", chat_id=GROUP)
        tg.send_message("/weather", chat_type="group", chat_id=GROUP)  # a bare unknown command
        tg.send_message("hello everyone", chat_type="group", chat_id=GROUP)
        unknown = await group_say(world, f"/weather@{BOT_USERNAME}")
        assert "I do not know the command /weather" in unknown["text"]
        sent = [c for c in tg.calls[start:] if c.method == "sendMessage"]
        assert len(sent) == 1


async def test_wizard_in_a_group_is_answered_by_replying(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        await set_key(world)
        service = world.sim.catalogue.first_matching(type="Default", dripfeed=False)
        step = await group_say(world, f"/order {service.id}")
        assert "Reply to this message with your answer." in step["text"]
        # A plain message in the group is not an answer (the bot only reads replies to it).
        start = world.mark()
        world.tg.send_message("https://t.me/not-an-answer", chat_type="group", chat_id=GROUP)
        step2 = await group_say(world, "https://t.me/channel", reply_to=step["message_id"])
        assert "Step 2/2: send the quantity" in step2["text"]
        assert len([c for c in world.tg.calls[start:] if c.method == "sendMessage"]) == 1
        confirm = await group_say(world, str(service.min), reply_to=step2["message_id"])
        assert "Please check your order" in confirm["text"]
