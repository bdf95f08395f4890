"""The Telegram adapter's test harness (real PTB against FakeTelegram, the simulator as panel).

Other `test_telegram_*` files import `telegram_world` and `TelegramWorld` from here; the tests in
this file cover the adapter's life cycle: start-up, the command menu, polling, a clean stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.telegram_messenger import TelegramAdapter, TelegramStartError
from bot.core.app import BotCore
from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from tests.fakes.telegram_server import ApiCall, FakeTelegram
from tests.fakes.telegram_state import CALLBACK_EXPIRY_SECONDS
from tests.support.corebot import DEMO_KEY, make_settings, new_simulator, running_core

# Shaped like a real token, so the log redaction's token pattern is exercised too.
TOKEN = "7101234567:AAHk3vQx9L2mZp8RtYw4NcB6sDfGjHe1KoU"
BOT_USERNAME = "smm_test_bot"
ALICE = 1001
BOB = 2002
WAIT = 8.0


@dataclass
class TelegramWorld:
    """A running adapter with its fake Telegram, its panel and its core, plus user helpers."""

    tg: FakeTelegram
    sim: PanelSimulator
    runtime: Runtime
    adapter: TelegramAdapter
    seen: dict[int, int] = field(default_factory=dict)

    @property
    def core(self) -> BotCore:
        """The core the adapter serves."""
        return self.runtime.core

    def mark(self) -> int:
        """The index of the next API call, for waiting on what happens after this point."""
        return len(self.tg.calls)

    async def call(
        self,
        method: str,
        after: int,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        status: int | None = 200,
    ) -> ApiCall:
        """The first `method` call since `after` (with this HTTP status) matching `predicate`."""

        def matches(call: ApiCall) -> bool:
            return (status is None or call.status == status) and (
                predicate is None or predicate(call)
            )

        return await self.tg.wait_for_call(method, matches, timeout=WAIT, after=after)

    def bot_message(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """The current version of one of the bot's messages."""
        return self.tg.messages[chat_id][message_id]

    async def say(
        self,
        text: str,
        *,
        user_id: int = ALICE,
        chat_type: str = "private",
        chat_id: int | None = None,
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A user writes; returns the first message the bot sends back to that chat."""
        start = self.mark()
        sent = self.tg.send_message(
            text, user_id=user_id, chat_type=chat_type, chat_id=chat_id, reply_to=reply_to
        )
        chat = sent["chat"]["id"]
        self.seen[chat] = sent["message_id"]
        await self.call("sendMessage", start, lambda c: c.params["chat_id"] == chat)
        return self.first_bot_message_after(chat, sent["message_id"])

    def first_bot_message_after(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """The bot's first message in the chat sent after `message_id`."""
        newer = sorted(m for m in self.tg.messages.get(chat_id, {}) if m > message_id)
        assert newer, f"no bot message after {message_id} in chat {chat_id}"
        return self.tg.messages[chat_id][newer[0]]

    async def press(
        self, message: dict[str, Any], label: str, *, user_id: int = ALICE, expect: str = "edit"
    ) -> dict[str, Any]:
        """Press a button; waits for its answer and for the edit or new message it causes.

        Returns the edited message (expect="edit"), the new message (expect="send"), or the
        callback answer's parameters (expect="answer").
        """
        data = self.tg.find_button(message, label)["callback_data"]
        return await self.press_data(message, data, user_id=user_id, expect=expect)

    async def press_data(
        self,
        message: dict[str, Any],
        data: str,
        *,
        user_id: int = ALICE,
        expect: str = "edit",
        check_exists: bool = True,
    ) -> dict[str, Any]:
        """Press a button by its callback data (check_exists=False forges a stale press)."""
        chat = message["chat"]["id"]
        start = self.mark()
        query_id = self.tg.press_button(
            message, data, user_id=user_id, chat_id=chat, check_exists=check_exists
        )
        answer = await self.call(
            "answerCallbackQuery", start, lambda c: c.params["callback_query_id"] == query_id
        )
        if expect == "answer":
            return answer.params
        if expect == "edit":
            await self.call(
                "editMessageText",
                start,
                lambda c: c.params["message_id"] == message["message_id"],
                status=None,
            )
            return self.bot_message(chat, message["message_id"])
        newest = max(self.tg.messages[chat])
        await self.call("sendMessage", start, lambda c: c.params["chat_id"] == chat)
        return self.first_bot_message_after(chat, newest)

    def bot_texts(self) -> list[str]:
        """Every text the bot sent or edited in, as the fake received it (raw HTML)."""
        return [
            str(call.params.get("text", ""))
            for call in self.tg.calls
            if call.method in ("sendMessage", "editMessageText", "answerCallbackQuery")
        ]


@asynccontextmanager
async def telegram_world(
    tmp_path: Path,
    *,
    adapter_options: dict[str, Any] | None = None,
    callback_expiry: float = CALLBACK_EXPIRY_SECONDS,
    **overrides: object,
) -> AsyncIterator[TelegramWorld]:
    """Simulator, fake Telegram, core and adapter, started the way `bot.launch` starts them.

    `adapter_options` go to TelegramAdapter (e.g. a shorter `answer_within`); `callback_expiry` is
    how long the fake lets a callback query wait for its answer.
    """
    sim = new_simulator()
    await sim.start()
    try:
        async with FakeTelegram(TOKEN, BOT_USERNAME, callback_expiry=callback_expiry) as tg:
            settings = make_settings(
                tmp_path,
                sim.url,
                telegram_bot_token=TOKEN,
                telegram_api_base_url=f"{tg.url}/bot",
                **overrides,
            )
            async with running_core(settings) as runtime:
                adapter = TelegramAdapter(runtime.core, settings, **(adapter_options or {}))
                await adapter.start()
                try:
                    yield TelegramWorld(tg, sim, runtime, adapter)
                finally:
                    await adapter.stop()
    finally:
        await sim.stop()


async def raw_call(tg: FakeTelegram, method: str, **params: Any) -> Any:
    """Call the fake's Bot API directly (as a second client would) and return the result."""
    async with httpx.AsyncClient(timeout=WAIT) as client:
        body = (await client.post(f"{tg.url}/bot{tg.token}/{method}", json=params)).json()
    assert body["ok"], body
    return body["result"]


async def set_key(world: TelegramWorld, key: str = DEMO_KEY, user_id: int = ALICE) -> None:
    """Register a key through the private chat, as a user would."""
    reply = await world.say(f"/setkey {key}", user_id=user_id)
    assert "saved" in reply["text"], reply["text"]


# ---- life cycle -------------------------------------------------------------------------------


async def test_start_registers_commands_and_polls(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        tg, core = world.tg, world.core
        polls = await world.call("getUpdates", 0, lambda c: c.params.get("timeout", 0) > 0)
        assert set(polls.params["allowed_updates"]) == {"message", "callback_query"}
        assert world.adapter.username == BOT_USERNAME
        registered = {c["command"]: c["description"] for c in tg.commands or []}
        assert registered == {spec.name: spec.description for spec in core.commands}
        assert "refill_status" in registered
        groups = await raw_call(tg, "getMyCommands", scope={"type": "all_group_chats"})
        private_only = {spec.name for spec in core.commands if spec.private_only}
        assert {c["command"] for c in groups} == set(registered) - private_only
        assert {"setkey", "keys", "balance", "forget"} <= private_only
        reply = await world.say("/start")
        assert "Commands:" in reply["text"] and "/refill_status" in reply["text"]
        assert tg.unknown_calls == []
        await world.adapter.stop()
        # The updater's last poll on stop confirmed every update it fetched.
        assert await raw_call(tg, "getUpdates", timeout=0) == []


async def test_stop_is_quick_and_start_again_works(tmp_path: Path) -> None:
    async with telegram_world(tmp_path) as world:
        adapter = world.adapter
        loop = asyncio.get_running_loop()
        started = loop.time()
        await adapter.stop()
        assert loop.time() - started < 3.0
        await adapter.stop()  # idempotent
        await adapter.start()
        reply = await world.say("/help")
        assert "Commands:" in reply["text"]


async def test_rejected_token_fails_start_without_showing_it(tmp_path: Path) -> None:
    sim = new_simulator()
    await sim.start()
    try:
        async with FakeTelegram("7109999999:AAHwrongwrongwrongwrongwrongwrongwr") as tg:
            settings = make_settings(
                tmp_path, sim.url, telegram_bot_token=TOKEN, telegram_api_base_url=f"{tg.url}/bot"
            )
            async with running_core(settings) as runtime:
                adapter = TelegramAdapter(runtime.core, settings)
                with pytest.raises(TelegramStartError) as caught:
                    await adapter.start()
    finally:
        await sim.stop()
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert TOKEN not in repr(adapter)
    assert tg.unauthorized_requests >= 1
