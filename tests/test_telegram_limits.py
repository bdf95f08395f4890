"""Telegram's limits and failures: flood waits, unchanged edits, blocked users, HTML, 4096, logs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from bot.core.seam import Button, DeliveryError, Recipient, RecipientUnreachable, Reply
from bot.log_safety import install_redaction
from bot.panel.simulator.catalogue import SPECIAL_NAMES
from tests.support.corebot import DEMO_KEY, OTHER_KEY
from tests.test_telegram_harness import ALICE, TOKEN, set_key, telegram_world

BAD_KEY = "wrong-key-7f3a9c"
# PTB 22 warns about the int form of retry_after inside RetryAfter itself.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


async def test_flood_wait_is_honoured_and_the_message_arrives(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        world.tg.fail_next("sendMessage", "retry_after", retry_after=1)
        reply = await world.say("/help")
        assert "Commands:" in reply["text"]
        sends = world.tg.calls_to("sendMessage")
        assert [c.status for c in sends] == [429, 200]
        assert sends[0].params["text"] == sends[1].params["text"]


async def test_unchanged_edit_is_not_an_error(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with telegram_world(tmp_path) as world:
        await set_key(world)
        categories = await world.say("/services")
        world.tg.fail_next("editMessageText", "not_modified")
        start = world.mark()
        answer = await world.press(categories, "Next ▶", expect="answer")
        assert answer.get("show_alert") is not True
        # Served the next update without a fallback message or a logged error.
        assert "Commands:" in (await world.say("/help"))["text"]
        sends = [c for c in world.tg.calls[start:] if c.method == "sendMessage"]
        assert len(sends) == 1
        assert [c.status for c in world.tg.calls[start:] if c.method == "editMessageText"] == [400]
        assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


async def test_sender_pushes_alerts_and_reports_unreachable_users(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        tg, adapter = world.tg, world.adapter
        alert = Reply(
            "🔔 Order #7 — Likes <Real> & Fast: Completed",
            buttons=((Button("↻ Refresh", "sr:1001:7"),),),
        )
        await adapter.send(Recipient("telegram", str(ALICE)), alert)
        pushed = tg.last_bot_message(ALICE)
        assert pushed is not None and pushed["text"] == alert.text
        assert tg.find_button(pushed, "Refresh")["callback_data"] == "sr:1001:7"
        await adapter.send(Recipient("telegram", "999", chat_id=str(ALICE)), Reply("to chat"))
        assert tg.last_bot_message(ALICE)["text"] == "to chat"  # type: ignore[index]
        await adapter.send(Recipient("telegram", str(ALICE)), Reply(""))  # nothing to send

        tg.block_user(3003)
        with pytest.raises(RecipientUnreachable):
            await adapter.send(Recipient("telegram", "3003"), Reply("news"))
        tg.fail_next("sendMessage", "chat_not_found")
        with pytest.raises(RecipientUnreachable):
            await adapter.send(Recipient("telegram", "4004"), Reply("news"))
        with pytest.raises(RecipientUnreachable):
            await adapter.send(Recipient("telegram", "not-a-number"), Reply("news"))
        tg.fail_next("sendMessage", "bad_request")
        with pytest.raises(DeliveryError) as caught:
            await adapter.send(Recipient("telegram", str(ALICE)), Reply("news"))
        assert not isinstance(caught.value, RecipientUnreachable)
        # A flood wait is handed to the outbox at once, not slept through inside the send.
        tg.fail_next("sendMessage", "retry_after", retry_after=7)
        mark = world.mark()
        with pytest.raises(DeliveryError) as flooded:
            async with asyncio.timeout(3):
                await adapter.send(Recipient("telegram", str(ALICE)), Reply("news"))
        assert flooded.value.retry_after == 7
        assert not isinstance(flooded.value, RecipientUnreachable)
        assert [c.status for c in tg.calls[mark:] if c.method == "sendMessage"] == [429]
        await adapter.send(Recipient("telegram", str(ALICE)), Reply("after the wait"))
        assert tg.last_bot_message(ALICE)["text"] == "after the wait"  # type: ignore[index]
        await adapter.stop()
        with pytest.raises(DeliveryError):
            await adapter.send(Recipient("telegram", str(ALICE)), Reply("stopped"))


async def test_service_names_render_exactly(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        await set_key(world)
        by_name = {service.name: service for service in world.sim.catalogue}
        for name in SPECIAL_NAMES.values():
            service = by_name[name]
            found = await world.say(f"/services {service.id}")
            assert f"#{service.id} {name}\n" in found["text"]
            step = await world.say(f"/order {service.id}")
            assert f"#{service.id} {name}\n" in step["text"]
        sent = [c for c in world.tg.calls if c.method == "sendMessage"]
        assert all(c.status == 200 and c.params["parse_mode"] == "HTML" for c in sent)
        assert any("&lt;Royalty&gt; &amp; Chart" in c.params["text"] for c in sent)


async def test_long_replies_are_split_and_long_alerts_cut(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        await set_key(world)
        service = world.sim.catalogue.first_of_type("Default")
        ids = [
            world.sim.make_order(DEMO_KEY, service.id, service.min, link=f"https://x.test/{n}")
            for n in range(60)
        ]
        start = world.mark()
        first = await world.say("/status " + ",".join(map(str, ids)))
        first_call = await world.call("sendMessage", start)
        await world.call("sendMessage", world.tg.calls.index(first_call) + 1)
        parts = [c for c in world.tg.calls[start:] if c.method == "sendMessage"]
        assert len(parts) >= 2 and all(c.status == 200 for c in parts)
        shown = sorted(world.tg.messages[ALICE].items())
        texts = [message["text"] for key, message in shown if key >= first["message_id"]]
        assert all(len(text) <= 4096 for text in texts)
        joined = "\n\n".join(texts)
        assert [f"Order #{i}\n" in joined for i in ids] == [True] * 60
        assert joined.count("Order #") == 60

        # A pushed alert is never split (the outbox would resend part 1 if part 2 failed): too
        # long a text is cut with an ellipsis, and the buttons stay.
        reply = Reply("line\n" * 1500, buttons=((Button("OK", "fn:1001"),),))
        mark = world.mark()
        await world.adapter.send(Recipient("telegram", str(ALICE)), reply)
        [pushed] = [c for c in world.tg.calls[mark:] if c.method == "sendMessage"]
        assert pushed.status == 200
        assert pushed.params["reply_markup"]["inline_keyboard"][0][0]["text"] == "OK"
        shown = world.tg.last_bot_message(ALICE)
        assert shown is not None and shown["text"].startswith("line\nline\n")
        assert shown["text"].endswith("line…") and len(shown["text"]) <= 4096


async def test_no_token_or_key_in_any_log_record(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    raw: list[str] = []

    class RawRecords(logging.Handler):
        """Keeps every record as it reaches the root logger, before any handler's filter."""

        def emit(self, record: logging.LogRecord) -> None:
            text = record.getMessage()
            if record.exc_info:
                text += logging.Formatter().formatException(record.exc_info)
            raw.append(text)

    caplog.set_level(logging.DEBUG)
    # As if someone turned the chatty libraries up: the adapter must clamp them back itself.
    for name in ("httpx", "httpcore", "telegram", "telegram.ext", "aiosqlite"):
        caplog.set_level(logging.DEBUG, logger=name)
    install_redaction(caplog.handler)
    root = logging.getLogger()
    tap = RawRecords(logging.DEBUG)
    # First in line: a filter on a later handler rewrites the shared record in place.
    root.handlers.insert(0, tap)
    try:
        async with telegram_world(tmp_path) as world:
            await set_key(world)
            assert "invalid" in (await world.say(f"/setkey {BAD_KEY}"))["text"]
            await world.say("/setkey")
            await world.say(OTHER_KEY)
            await world.say(f"/setkey {DEMO_KEY}", chat_type="group", chat_id=-77)
            world.tg.fail_next("sendMessage", "retry_after", retry_after=1)
            await world.say("/balance")
            world.tg.fail_next("sendMessage", "bad_request")
            start = world.mark()
            world.tg.send_message(f"/setkey {DEMO_KEY}")
            await world.call("sendMessage", start, status=400)
            await world.say("/help")
    finally:
        root.removeHandler(tap)
    assert any("Telegram update" in line and "failed" in line for line in raw)
    assert len(raw) > 10
    for secret in (TOKEN, TOKEN.split(":")[1], DEMO_KEY, OTHER_KEY, BAD_KEY):
        assert not [line for line in raw if secret in line], secret
        assert secret not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("httpx") and r.levelno < 30]
    assert not [r for r in caplog.records if r.name.startswith("telegram") and r.levelno < 20]
