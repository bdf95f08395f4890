"""The Telegram adapter's pure parts: splitting, escaping, keyboards, command parsing, ordering."""

from __future__ import annotations

import asyncio
import datetime as dtm

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter

from adapters.telegram_app.delivery import delivery_error, is_not_modified
from adapters.telegram_app.incoming import CommandText, UserQueue, parse_command
from adapters.telegram_app.render import (
    MESSAGE_LIMIT,
    OPEN_PRIVATE_LABEL,
    callback_notice,
    deep_link,
    escape,
    render_alert,
    render_reply,
    split_text,
    truncate,
    utf16_len,
)
from bot.core.seam import Button, DeliveryError, Prompt, RecipientUnreachable, Reply

pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


def test_short_text_is_one_part() -> None:
    assert split_text("  hello\n") == ["hello"]
    assert split_text("") == []


def test_split_prefers_paragraphs_then_lines_and_keeps_everything() -> None:
    blocks = [f"Order #{n}\nStatus: Pending\nCharge: 0.10 USD" for n in range(300)]
    text = "\n\n".join(blocks)
    parts = split_text(text)
    assert len(parts) > 1
    assert all(utf16_len(part) <= MESSAGE_LIMIT for part in parts)
    assert all(part.startswith("Order #") for part in parts)  # cut between blocks
    assert "\n\n".join(parts) == text


def test_split_counts_utf16_and_cuts_unbroken_text() -> None:
    emoji = "🔥" * 3000  # 6000 UTF-16 units, no break anywhere
    parts = split_text(emoji)
    assert [utf16_len(part) for part in parts] == [4096, 1904]
    assert "".join(parts) == emoji
    words = " ".join(["word"] * 2000)
    parts = split_text(words, limit=100)
    assert all(len(part) <= 100 and not part.endswith(" ") for part in parts)
    assert " ".join(parts) == words


def test_escape_shows_markup_characters_as_written() -> None:
    assert escape("Likes <Real> & Fast *HQ* _no drop_") == (
        "Likes &lt;Real&gt; &amp; Fast *HQ* _no drop_"
    )
    assert escape('"quoted"') == '"quoted"'


def test_render_puts_buttons_on_the_last_part_only() -> None:
    reply = Reply(
        "x\n" * 5000, buttons=((Button("OK", "fn:1"), Button("Site", url="https://x.y")),)
    )
    parts = render_reply(reply)
    assert len(parts) == 3
    assert [part.markup is None for part in parts] == [True, True, False]
    last = parts[-1].markup
    assert last is not None
    (row,) = last.inline_keyboard
    assert (row[0].callback_data, row[1].url) == ("fn:1", "https://x.y")


def test_render_styles_warning_prompt_and_private_link() -> None:
    reply = Reply(
        "Pick",
        buttons=((Button("Go", "a:1", "success"), Button("No", "b:1", "secondary")),),
        prompt=Prompt("link", "Link"),
        open_private=True,
    )
    (part,) = render_reply(
        reply, private_link="https://t.me/bot?start=setkey", group_prompt=True, warning="⚠ w"
    )
    assert part.html == "⚠ w\n\nPick\n\n↩ Reply to this message with your answer."
    assert part.markup is not None
    first, link = part.markup.inline_keyboard
    assert [b.style for b in first] == ["success", None]
    assert (link[0].text, link[0].url) == (OPEN_PRIVATE_LABEL, "https://t.me/bot?start=setkey")


def test_render_empty_and_buttons_only_and_oversized_data() -> None:
    assert render_reply(Reply("")) == []
    assert render_reply(Reply("   ")) == []
    (only,) = render_reply(Reply("", buttons=((Button("A", "a:1"),),)))
    assert only.html == "Choose:"
    (dropped,) = render_reply(Reply("t", buttons=((Button("Big", "x" * 65), Button("ok", "o:1")),)))
    assert dropped.markup is not None
    assert [b.text for b in dropped.markup.inline_keyboard[0]] == ["ok"]


def test_alerts_are_one_message_cut_with_an_ellipsis() -> None:
    assert truncate("  short  ") == "short"
    assert truncate("a" * MESSAGE_LIMIT) == "a" * MESSAGE_LIMIT
    cut = truncate("word " * 1000)
    assert utf16_len(cut) <= MESSAGE_LIMIT and cut.endswith("word…")
    # Counted in UTF-16 units: an emoji takes two, and is never cut in half.
    emoji = truncate("😀" * MESSAGE_LIMIT)
    assert emoji == "😀" * (MESSAGE_LIMIT // 2 - 1) + "…"
    assert utf16_len(emoji) == MESSAGE_LIMIT - 1

    part = render_alert(Reply("<b> & " * 2000, buttons=((Button("OK", "fn:1"),),)))
    assert part is not None and part.markup is not None
    assert part.html.startswith("&lt;b&gt; &amp; ") and part.html.endswith("…")
    assert render_alert(Reply("  ")) is None
    buttons_only = render_alert(Reply("", buttons=((Button("OK", "fn:1"),),)))
    assert buttons_only is not None and buttons_only.html == "Choose:"


def test_deep_link_payload_is_checked() -> None:
    assert deep_link("smm_bot", "setkey") == "https://t.me/smm_bot?start=setkey"
    assert deep_link("smm_bot", "") == "https://t.me/smm_bot"
    assert deep_link("smm_bot", "bad payload!") == "https://t.me/smm_bot"


def test_callback_notice() -> None:
    assert callback_notice(Reply("Order #1", notice="Updated")) == "Updated"
    assert callback_notice(Reply("Not yours", notice="Not yours", alert=True)) == "Not yours"
    assert callback_notice(Reply("Refused", alert=True)) == "Refused"
    assert callback_notice(Reply("Same words", notice="Same words")) == ""
    long = callback_notice(Reply("x", notice="n" * 300, alert=True))
    assert len(long) == 200 and long.endswith("…")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/start", CommandText("start", "", None)),
        ("/Status@SMM_test_bot 1, 2", CommandText("status", "1, 2", True)),
        ("/status@other_bot 1", CommandText("status", "1", False)),
        ("/order 12\nhttps://t.me/x\n100", CommandText("order", "12\nhttps://t.me/x\n100", None)),
        ("/refill_status 45", CommandText("refill_status", "45", None)),
        ("hello /start", None),
        ("/ start", None),
        ("/start-now", None),
        ("https://t.me/x", None),
    ],
)
def test_parse_command(text: str, expected: CommandText | None) -> None:
    assert parse_command(text, "smm_test_bot") == expected


def test_telegram_errors_become_delivery_errors() -> None:
    assert isinstance(
        delivery_error(Forbidden("bot was blocked by the user")), RecipientUnreachable
    )
    assert isinstance(delivery_error(BadRequest("Chat not found")), RecipientUnreachable)
    flood = delivery_error(RetryAfter(dtm.timedelta(seconds=7)))
    assert not isinstance(flood, RecipientUnreachable) and flood.retry_after == 7
    other = delivery_error(NetworkError("connection reset"))
    assert type(other) is DeliveryError and other.retry_after is None
    assert is_not_modified(BadRequest("Message is not modified: specified new message content"))
    assert not is_not_modified(BadRequest("Message to edit not found"))


async def test_user_queue_keeps_each_users_order_and_forgets_idle_users() -> None:
    queue = UserQueue()
    seen: list[str] = []
    release = asyncio.Event()

    async def work(user: str, label: str, wait: bool = False) -> None:
        async with queue.turn(user):
            if wait:
                await release.wait()
            seen.append(label)

    first = asyncio.create_task(work("a", "a1", wait=True))
    await asyncio.sleep(0)
    later = [asyncio.create_task(work("a", f"a{n}")) for n in (2, 3)]
    other = asyncio.create_task(work("b", "b1"))
    await asyncio.wait_for(other, 1)
    assert seen == ["b1"]  # another user is not held up by a's slow update
    release.set()
    await asyncio.wait_for(asyncio.gather(first, *later), 1)
    assert seen == ["b1", "a1", "a2", "a3"]
    assert len(queue) == 0
