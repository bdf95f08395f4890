"""A test bot over the real core: one line per command, like errbot's testbot."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bot.core.seam import Button, Invocation, Platform, Reply
from bot.crypto import generate_master_key
from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime, build_runtime
from bot.settings import Settings, load_settings

DEMO_KEY = "sim-key-alice-0001"
OTHER_KEY = "sim-key-bob-0002"


def make_settings(tmp_path: Path, panel_url: str, **overrides: object) -> Settings:
    """Settings for a test: a fresh database in tmp_path and a fresh master key."""
    values: dict[str, object] = {
        "database_url": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "panel_api_url": panel_url,
        "encryption_key": generate_master_key(),
        "panel_timeout_seconds": 5,
        "_env_file": None,
    }
    values.update(overrides)
    return load_settings(**values)


@asynccontextmanager
async def running_core(settings: Settings) -> AsyncIterator[Runtime]:
    """A runtime (db, cipher, panel client, core) for the test's settings."""
    async with build_runtime(settings) as runtime:
        yield runtime


class ChatUser:
    """One chat user talking to the core: `await alice.say("/balance")` returns the Reply."""

    def __init__(
        self,
        runtime: Runtime,
        user_id: str = "1001",
        *,
        platform: Platform = "telegram",
        chat_id: str | None = None,
        private: bool = True,
    ) -> None:
        self.runtime = runtime
        self.user_id = user_id
        self.platform = platform
        self.chat_id = chat_id or user_id
        self.private = private
        self.last: Reply | None = None

    def _inv(self, kind: str, name: str, text: str = "") -> Invocation:
        return Invocation(
            platform=self.platform,
            user_id=self.user_id,
            chat_id=self.chat_id,
            is_private=self.private,
            kind=kind,  # type: ignore[arg-type]
            name=name,
            text=text,
            display_name=f"user {self.user_id}",
        )

    async def say(self, line: str) -> Reply:
        """A command (`/name args`) or, without a slash, a free-text message."""
        if line.startswith("/"):
            name, _, args = line[1:].partition(" ")
            reply = await self.runtime.core.handle(self._inv("command", name, args.strip()))
        else:
            reply = await self.runtime.core.handle(self._inv("text", "", line))
        self.last = reply
        return reply

    async def press_data(self, data: str) -> Reply:
        """Press a button by its packed action."""
        reply = await self.runtime.core.handle(self._inv("action", data))
        self.last = reply
        return reply

    async def press(self, label: str, reply: Reply | None = None) -> Reply:
        """Press the button whose label contains `label` on `reply` (default: the last reply)."""
        return await self.press_data(find_button(reply or self.last, label).action)


def buttons_of(reply: Reply | None) -> list[Button]:
    """Every button of a reply, row by row."""
    return [button for row in (reply.buttons if reply else ()) for button in row]


def find_button(reply: Reply | None, label: str) -> Button:
    """The button whose label contains `label`; fails the test with the labels seen otherwise."""
    for button in buttons_of(reply):
        if label in button.label:
            return button
    labels = [button.label for button in buttons_of(reply)]
    raise AssertionError(f"no button {label!r} in {labels}")


def new_simulator() -> PanelSimulator:
    """A simulator with two funded keys."""
    simulator = PanelSimulator(seed=1)
    simulator.add_key(DEMO_KEY, balance="5000")
    simulator.add_key(OTHER_KEY, balance="50")
    return simulator
