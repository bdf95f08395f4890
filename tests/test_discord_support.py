"""Shared by the Discord adapter tests (no tests here): the real adapter and core against
FakeDiscord, with the panel simulator as the panel, and the log-safety check every test runs."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import discord
import pytest
from discord.gateway import DiscordWebSocket

from adapters.discord_messenger import DiscordAdapter
from bot.log_safety import clamp_library_loggers
from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from bot.settings import Settings
from tests.fakes.discord_server import FakeDiscord, InteractionRef, RestCall
from tests.support.corebot import (
    DEMO_KEY,
    OTHER_KEY,
    make_settings,
    new_simulator,
    running_core,
)

USER = 5001
OTHER_USER = 5002
EPHEMERAL = 64
WAIT = 10.0

Message = dict[str, Any]


def buttons_of(message: Message) -> dict[str, dict[str, Any]]:
    """Every button of a message by label."""
    found: dict[str, dict[str, Any]] = {}
    for row in message.get("components") or []:
        for component in row.get("components") or []:
            if component.get("type") == 2:
                found[component.get("label", "")] = component
    return found


def custom_id(message: Message, label: str) -> str:
    """The custom_id of the button whose label contains `label` (fails listing the labels)."""
    for text, component in buttons_of(message).items():
        if label in text:
            return str(component["custom_id"])
    raise AssertionError(f"no button {label!r} in {list(buttons_of(message))}")


def order_id_in(text: str) -> int:
    """The order number in "Order placed: #123"."""
    match = re.search(r"Order placed: #(\d+)", text)
    assert match is not None, text
    return int(match.group(1))


@dataclass
class Rig:
    """The adapter serving FakeDiscord, and helpers to act as a Discord user."""

    fake: FakeDiscord
    sim: PanelSimulator
    settings: Settings
    runtime: Runtime
    adapter: DiscordAdapter
    adapters: list[DiscordAdapter] = field(default_factory=list)

    async def run(self, ref: InteractionRef) -> list[RestCall]:
        """Wait for the interaction's acknowledgement and for its handling to finish."""
        await self.fake.wait_for_response(ref, timeout=WAIT)
        assert await self.adapter.drain(WAIT), "the adapter is still busy"
        return self.fake.responses_for(ref)

    async def command(
        self, name: str, options: dict[str, Any] | None = None, **where: Any
    ) -> tuple[InteractionRef, Message]:
        """Run a slash command; returns it and the message that answered it."""
        ref = self.fake.slash_command(name, options, **where)
        await self.run(ref)
        message = self.fake.original_message(ref)
        assert message is not None, f"/{name} got no answer: {self.fake.responses_for(ref)}"
        return ref, message

    async def press(
        self, message: Message, label: str, *, user_id: int = USER
    ) -> tuple[InteractionRef, list[RestCall]]:
        """Press a button on a message (a snapshot works too: Discord keeps old buttons)."""
        ref = self.fake.press_component(custom_id(message, label), message=message, user_id=user_id)
        return ref, await self.run(ref)

    def current(self, message: Message) -> Message:
        """The message as it stands now (after edits)."""
        return self.fake.messages[int(message["id"])]

    def sent_by(self, ref: InteractionRef) -> list[Message]:
        """Messages created in answer to this interaction (follow-ups), oldest first."""
        return [
            message
            for message in self.fake.messages.values()
            if (message.get("interaction_metadata") or {}).get("id") == str(ref.id)
        ]

    async def open_form(self, message: Message, label: str) -> Message:
        """Press a "✏ …" button; returns the modal it opened (as the first response)."""
        ref, calls = await self.press(message, label)
        assert calls[0].json["type"] == 9, calls[0].json
        modal = self.fake.modal_opened(ref)
        assert modal is not None
        return modal

    async def submit(self, modal: Message, value: str, *, user_id: int = USER) -> Message:
        """Fill the modal's one text input and submit it; returns the answer message."""
        text_input = modal["components"][0]["components"][0]
        ref = self.fake.submit_modal(
            modal["custom_id"], {text_input["custom_id"]: value}, user_id=user_id
        )
        await self.run(ref)
        message = self.fake.original_message(ref)
        assert message is not None
        return message

    async def restart(self) -> None:
        """Stop the adapter and start a new one on the same database."""
        await self.adapter.stop()
        self.adapter = DiscordAdapter(self.runtime.core, self.settings)
        self.adapters.append(self.adapter)
        await self.adapter.start()


@asynccontextmanager
async def discord_rig(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    two_panels: bool = False,
    **adapter_options: Any,
) -> AsyncIterator[Rig]:
    """A started simulator, FakeDiscord, core and adapter; all stopped afterwards. With
    `two_panels`, the simulator is also allowed under a second address (localhost);
    `adapter_options` go to DiscordAdapter (e.g. a shorter `stop_grace`)."""
    # The adapter points discord.py's process-wide addresses at the fake: restore them after.
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY)
    sim = new_simulator()
    await sim.start()
    try:
        async with FakeDiscord() as fake:
            second = [sim.url.replace("127.0.0.1", "localhost")] if two_panels else []
            settings = make_settings(
                tmp_path,
                sim.url,
                discord_bot_token=fake.token,
                discord_api_base_url=fake.api_base,
                discord_gateway_url=fake.gateway_url,
                panel_allowed_urls=second,
            )
            async with running_core(settings) as runtime:
                adapter = DiscordAdapter(runtime.core, settings, **adapter_options)
                await adapter.start()
                rig = Rig(fake, sim, settings, runtime, adapter, [adapter])
                try:
                    yield rig
                finally:
                    await rig.adapter.stop()
            assert fake.unmatched == [], "the adapter called routes Discord does not have"
    finally:
        await sim.stop()


SECRETS = (DEMO_KEY, OTHER_KEY, "TEST.discord.token")


@contextmanager
def production_logging(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Everything at DEBUG with the library clamps production installs; logger levels restored."""
    loggers = logging.root.manager.loggerDict
    before = {name: lg.level for name, lg in loggers.items() if isinstance(lg, logging.Logger)}
    caplog.set_level(logging.DEBUG)
    clamp_library_loggers()
    try:
        yield
    finally:
        for name, lg in list(loggers.items()):
            if isinstance(lg, logging.Logger):
                lg.setLevel(before.get(name, logging.NOTSET))


def assert_no_secrets(caplog: pytest.LogCaptureFixture, *extra: str) -> None:
    """No record (message or traceback) holds the bot token or an API key, unredacted."""
    formatter = logging.Formatter()
    records = [r for when in ("setup", "call", "teardown") for r in caplog.get_records(when)]
    assert any(r.name.startswith(("adapters.", "discord.")) for r in records), "nothing to check"
    for record in records:
        text = record.getMessage()
        if record.exc_info:
            text += formatter.formatException(record.exc_info)
        for secret in (*SECRETS, *extra):
            assert secret not in text, f"{record.name} logged a secret: {text[:200]}"
