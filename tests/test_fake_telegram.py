"""The fake Bot API server, exercised by the real python-telegram-bot stack and by raw HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound, Forbidden, InvalidToken, RetryAfter
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from tests.fakes.telegram_server import FakeTelegram

Context = ContextTypes.DEFAULT_TYPE
MENU = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("💰 Balance", callback_data="bal")],
        [InlineKeyboardButton("Docs", url="https://example.com/docs")],
    ]
)


@pytest.fixture
async def tg() -> AsyncIterator[FakeTelegram]:
    """A running fake server."""
    async with FakeTelegram() as fake:
        yield fake


@pytest.fixture
async def bot(tg: FakeTelegram) -> AsyncIterator[Bot]:
    """A bare PTB Bot pointed at the fake."""
    async with Bot(tg.token, base_url=f"{tg.url}/bot") as ptb_bot:
        yield ptb_bot


class PollingBot:
    """A tiny PTB application defined here only to drive the fake end to end."""

    def __init__(self, tg: FakeTelegram) -> None:
        """Build the Application with a command and a callback handler."""
        self.seen_update_ids: list[int] = []
        self.app = Application.builder().token(tg.token).base_url(f"{tg.url}/bot").build()
        self.app.add_handler(CommandHandler("start", self.start))
        self.app.add_handler(CommandHandler("echo", self.echo))
        self.app.add_handler(CallbackQueryHandler(self.button))

    async def start(self, update: Update, context: Context) -> None:
        """Greet with a menu."""
        assert update.effective_message is not None
        self.seen_update_ids.append(update.update_id)
        await update.effective_message.reply_text(
            "Welcome, <b>Alice</b> &amp; co", parse_mode=ParseMode.HTML, reply_markup=MENU
        )

    async def echo(self, update: Update, context: Context) -> None:
        """Repeat the arguments."""
        assert update.effective_message is not None
        self.seen_update_ids.append(update.update_id)
        await update.effective_message.reply_text(" ".join(context.args or []) or "-")

    async def button(self, update: Update, context: Context) -> None:
        """Answer the press, then replace the menu by a result (the edit drops the keyboard)."""
        query = update.callback_query
        assert query is not None
        self.seen_update_ids.append(update.update_id)
        await query.answer("Checking…")
        await query.edit_message_text(f"You pressed {query.data}")

    async def __aenter__(self) -> PollingBot:
        """Start by hand, as the real entry point does when several frameworks share a loop."""
        await self.app.initialize()
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling()
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop in the reverse order."""
        assert self.app.updater is not None
        await self.app.updater.stop()
        await self.app.stop()
        await self.app.shutdown()


async def _raw(tg: FakeTelegram, method: str, **params: Any) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10) as client:
        return await client.post(f"{tg.url}/bot{tg.token}/{method}", json=params)


async def test_start_command_reply_is_recorded(tg: FakeTelegram) -> None:
    async with PollingBot(tg):
        sent = tg.send_message("/start")
        call = await tg.wait_for_call("sendMessage")
    assert call.status == 200
    assert call.params["chat_id"] == 1001
    assert call.params["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "bal"
    reply = tg.last_bot_message(1001)
    assert reply is not None
    assert reply["text"] == "Welcome, Alice & co"
    assert reply["entities"] == [{"type": "bold", "offset": 9, "length": 5}]
    assert reply["from"]["username"] == "smm_test_bot"
    assert reply["message_id"] == sent["message_id"] + 1
    assert [b["text"] for row in tg.keyboard(reply) for b in row] == ["💰 Balance", "Docs"]
    assert tg.unknown_calls == []


async def test_command_addressed_to_this_bot_only(tg: FakeTelegram) -> None:
    async with PollingBot(tg):
        other = tg.send_message("/echo@someone_else_bot hi")
        ours = tg.send_message("/echo@smm_test_bot hello there")
        # PTB handles updates in order: when the second is answered, the first was dropped.
        call = await tg.wait_for_call("sendMessage")
    assert other["entities"] == [{"type": "bot_command", "offset": 0, "length": 22}]
    assert ours["entities"] == [{"type": "bot_command", "offset": 0, "length": 18}]
    assert call.params["text"] == "hello there"
    assert len(tg.calls_to("sendMessage")) == 1


async def test_button_press_answers_and_edits(tg: FakeTelegram) -> None:
    async with PollingBot(tg):
        tg.send_message("/start")
        await tg.wait_for_call("sendMessage")
        menu = tg.last_bot_message(1001)
        assert menu is not None
        query_id = tg.press_button(menu, tg.find_button(menu, "Balance")["callback_data"])
        edit = await tg.wait_for_call("editMessageText")
        answer = await tg.wait_for_call("answerCallbackQuery")
    assert answer.params["callback_query_id"] == query_id
    assert tg.answered_callbacks[query_id]["text"] == "Checking…"
    assert edit.params["message_id"] == menu["message_id"]
    assert menu["text"] == "You pressed bal"
    assert tg.keyboard(menu) == []  # an edit without reply_markup removes the keyboard
    with pytest.raises(LookupError):
        tg.press_button(menu, "bal")  # the button is gone now


async def test_each_update_is_delivered_once_across_polls(tg: FakeTelegram) -> None:
    polling = PollingBot(tg)
    async with polling:
        for n in range(3):
            tg.send_message(f"/echo first {n}")
        await tg.wait_for_call("sendMessage", lambda c: c.params["text"] == "first 2")
        for n in range(3):
            tg.send_message(f"/echo second {n}")
        await tg.wait_for_call("sendMessage", lambda c: c.params["text"] == "second 2")
    assert len(polling.seen_update_ids) == 6
    assert len(set(polling.seen_update_ids)) == 6
    offsets = [c.params.get("offset", 0) for c in tg.calls_to("getUpdates")]
    assert offsets == sorted(offsets)
    # The updater's last poll on stop confirmed everything: nothing is pending any more.
    body = (await _raw(tg, "getUpdates", timeout=0)).json()
    assert body == {"ok": True, "result": []}


async def test_get_updates_offset_limit_and_allowed_updates(tg: FakeTelegram) -> None:
    for n in range(3):
        tg.send_message(f"m{n}")
    first = (await _raw(tg, "getUpdates")).json()["result"]
    again = (await _raw(tg, "getUpdates", offset=0, limit=2)).json()["result"]
    assert [u["message"]["text"] for u in first] == ["m0", "m1", "m2"]
    assert again == first[:2]  # nothing is confirmed before a higher offset is asked for
    last_id = first[-1]["update_id"]
    assert (await _raw(tg, "getUpdates", offset=last_id + 1)).json()["result"] == []
    tg.send_message("only a message")
    assert (await _raw(tg, "getUpdates", allowed_updates=["callback_query"])).json()["result"] == []
    assert (await _raw(tg, "getUpdates", offset=-1)).json()["result"] == []


async def test_drop_pending_updates_and_injected_message_shape(tg: FakeTelegram) -> None:
    tg.send_message("stale")
    assert (await _raw(tg, "deleteWebhook", drop_pending_updates=True)).json()["result"] is True
    assert (await _raw(tg, "getUpdates")).json()["result"] == []
    first = tg.send_message("hello", chat_type="supergroup", user_id=7, username=None)
    group = first["chat"]["id"]
    reply = tg.send_message("👍 /echo x", chat_type="supergroup", chat_id=group, reply_to=1)
    assert (first["chat"]["type"], reply["chat"]["id"]) == ("supergroup", group)
    assert group < 0
    assert reply["reply_to_message"]["text"] == "hello"
    assert reply["entities"] == [{"type": "bot_command", "offset": 3, "length": 5}]
    assert "username" not in first["from"]
    updates = (await _raw(tg, "getUpdates")).json()["result"]
    assert [u["message"]["message_id"] for u in updates] == [1, 2]
    with pytest.raises(ValueError, match="failure kind"):
        tg.fail_next("sendMessage", "flood")  # type: ignore[arg-type]


async def test_long_poll_waits_for_an_update_and_is_capped(tg: FakeTelegram) -> None:
    started = time.monotonic()
    empty = (await _raw(tg, "getUpdates", timeout=30)).json()
    assert empty["result"] == []
    assert 0.8 < time.monotonic() - started < 2.5  # held, but capped at 1 s instead of 30 s
    before = len(tg.calls)
    poll = asyncio.create_task(_raw(tg, "getUpdates", timeout=30))
    await tg.wait_for_call("getUpdates", after=before)
    tg.send_message("wake up")
    result = (await asyncio.wait_for(poll, 2)).json()["result"]
    assert [u["message"]["text"] for u in result] == ["wake up"]


# PTB 22 warns about the int form of retry_after inside RetryAfter itself.
@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")
async def test_retry_after_surfaces_as_retry_after(tg: FakeTelegram, bot: Bot) -> None:
    tg.fail_next("sendMessage", "retry_after", retry_after=3)
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(1001, "hello")
    assert caught.value.retry_after in (3, dtm.timedelta(seconds=3))
    assert tg.calls_to("sendMessage")[0].status == 429
    assert tg.messages == {}
    await bot.send_message(1001, "hello")  # only the next call failed
    assert tg.calls_to("sendMessage")[1].status == 200


async def test_blocked_user_is_forbidden(tg: FakeTelegram, bot: Bot) -> None:
    tg.block_user(2002)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(2002, "news")
    await bot.send_message(2003, "news")
    tg.fail_next("sendMessage", "blocked")
    with pytest.raises(Forbidden):
        await bot.send_message(2003, "more news")


async def test_edit_with_same_content_is_not_modified(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(1001, "Balance: 1.00", reply_markup=MENU)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("Balance: 1.00", 1001, sent.message_id, reply_markup=MENU)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(1001, sent.message_id, reply_markup=MENU)
    edited = await bot.edit_message_text("Balance: 2.00", 1001, sent.message_id)
    assert isinstance(edited, Message)
    assert edited.text == "Balance: 2.00"
    assert edited.reply_markup is None
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", 1001, 999)
    tg.fail_next("editMessageText", "not_modified")
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("Balance: 3.00", 1001, sent.message_id)


async def test_telegram_limits_are_enforced(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(1001, "x" * 4097)
    await bot.send_message(1001, "x" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(1001, " \n ")
    too_big = InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="é" * 33)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(1001, "menu", reply_markup=too_big)
    fits = InlineKeyboardMarkup([[InlineKeyboardButton("b", callback_data="é" * 32)]])
    await bot.send_message(1001, "menu", reply_markup=fits)
    assert [c.status for c in tg.calls_to("sendMessage")] == [400, 200, 400, 400, 200]


@pytest.mark.parametrize(
    "text",
    ["1 < 2", "AT&T", "<b>bold", "<b><i>x</b></i>", "x</b>", "a<br>b", '<span class="x">s</span>'],
)
async def test_malformed_html_is_rejected(bot: Bot, text: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(1001, text, parse_mode=ParseMode.HTML)


async def test_html_and_markdown_are_stored_as_shown(tg: FakeTelegram, bot: Bot) -> None:
    html = (
        '😀 1 &lt; 2 &#38; <a href="https://x.y/?a=1&amp;b=2">link</a> '
        '<pre><code class="language-py">x</code></pre>'
    )
    sent = await bot.send_message(1001, html, parse_mode=ParseMode.HTML)
    stored = tg.messages[1001][sent.message_id]
    assert stored["text"] == "😀 1 < 2 & link x"
    assert stored["entities"] == [
        {"type": "text_link", "offset": 11, "length": 4, "url": "https://x.y/?a=1&b=2"},
        {"type": "pre", "offset": 16, "length": 1, "language": "py"},
    ]
    with pytest.raises(BadRequest, match=r"(?i)Character '.' is reserved"):
        await bot.send_message(1001, "Price 1.50", parse_mode=ParseMode.MARKDOWN_V2)
    sent = await bot.send_message(1001, r"*Price* 1\.50 \- _ok_", parse_mode=ParseMode.MARKDOWN_V2)
    assert sent.text == "Price 1.50 - ok"
    assert [e.type for e in sent.entities] == ["bold", "italic"]


async def test_callback_answered_once(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(1001, "menu", reply_markup=MENU)
    query_id = tg.press_button(sent.message_id, "bal")
    assert await bot.answer_callback_query(query_id) is True
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query_id)
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query("12345")
    with pytest.raises(LookupError):
        tg.press_button(sent.message_id, "not-on-the-keyboard")


async def test_delete_commands_and_chat(tg: FakeTelegram, bot: Bot) -> None:
    sent = await bot.send_message(1001, "bye")
    assert await bot.delete_message(1001, sent.message_id) is True
    assert (1001, sent.message_id) in tg.deleted
    assert tg.last_bot_message(1001) is None
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(1001, sent.message_id)
    tg.fail_next("deleteMessage", "bad_request")
    kept = await bot.send_message(1001, "stay")
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted"):
        await bot.delete_message(1001, kept.message_id)
    await bot.set_my_commands([("start", "Start the bot"), ("balance", "Show the balance")])
    assert tg.commands == [
        {"command": "start", "description": "Start the bot"},
        {"command": "balance", "description": "Show the balance"},
    ]
    assert [c.command for c in await bot.get_my_commands()] == ["start", "balance"]
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Start-Now", "bad name")])
    assert await bot.send_chat_action(1001, "typing") is True
    tg.send_message("hi", user_id=3003, first_name="Bob", username=None)
    chat = await bot.get_chat(3003)
    assert (chat.id, chat.type, chat.first_name) == (3003, "private", "Bob")
    tg.fail_next("getChat", "chat_not_found")
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.get_chat(3003)


async def test_unknown_method_is_404_and_recorded(tg: FakeTelegram, bot: Bot) -> None:
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("sendHologram", api_kwargs={"chat_id": 1001})
    assert [c.method for c in tg.unknown_calls] == ["sendHologram"]
    assert tg.unknown_calls[0].params == {"chat_id": 1001}


async def test_wrong_token_is_unauthorized(tg: FakeTelegram) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("999:wrong", base_url=f"{tg.url}/bot"):
            pass
    assert tg.unauthorized_requests == 1
    assert tg.calls == []


async def test_token_never_logged_by_the_fake(caplog: pytest.LogCaptureFixture) -> None:
    # Levels first: aiohttp decides per connection whether its access log is on.
    caplog.set_level(logging.DEBUG, logger="tests.fakes")
    caplog.set_level(logging.DEBUG, logger="aiohttp")
    async with FakeTelegram() as tg, Bot(tg.token, base_url=f"{tg.url}/bot") as bot:
        tg.fail_next("sendMessage", "bad_request")
        with pytest.raises(BadRequest):
            await bot.send_message(1001, "x")
        await bot.send_message(1001, "y")
    ours = [r for r in caplog.records if r.name.startswith(("tests.fakes", "aiohttp"))]
    assert ours  # the failure was logged, so the check below looks at something
    assert all(tg.token not in r.getMessage() for r in ours)
    assert tg.token not in repr(tg)
    assert all(tg.token not in repr(call) for call in tg.calls)


async def test_application_starts_and_stops_fast(tg: FakeTelegram) -> None:
    started = time.monotonic()
    async with PollingBot(tg):
        await tg.wait_for_call("getUpdates", lambda c: c.params.get("timeout", 0) > 0)
    assert time.monotonic() - started < 3.0
    assert [c.method for c in tg.calls[:2]] == ["getMe", "deleteWebhook"]
    assert tg.unknown_calls == []
