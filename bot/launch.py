"""Starting the bot's front ends: the console, the demo, and the chat platforms together."""

from __future__ import annotations

import asyncio
import logging
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Protocol

from bot.alerts.service import AlertService
from bot.core.seam import Platform, Sender
from bot.runtime import Runtime, build_runtime, register_key
from bot.settings import Settings

log = logging.getLogger(__name__)

DEMO_KEY = "demo-key-0001"
DEMO_BALANCE = "100"
# The demo's simulated orders move within a minute, so the demo polls often enough to show it.
DEMO_POLL_SECONDS = 5.0
DEMO_PENDING_SECONDS = 5.0
DEMO_COMPLETE_SECONDS = 40.0


class PlatformAdapter(Sender, Protocol):
    """A chat platform front end: started and stopped by the entry point, also a Sender."""

    platform: Platform
    # Set by the adapter when it can never serve again on its own (a revoked token, a gateway
    # that refuses the bot); `failure` says why, without secrets.
    failed: asyncio.Event
    failure: str

    async def start(self) -> None:
        """Connect and begin serving updates."""
        ...

    async def stop(self) -> None:
        """Stop serving and disconnect."""
        ...


async def run_console(settings: Settings) -> None:
    """Chat with the core in this terminal against the configured panel."""
    from adapters.console import ConsoleAdapter

    async with build_runtime(settings) as runtime:
        console = ConsoleAdapter(runtime.core)
        async with AlertService(runtime, {"console": console}).running():
            await console.run()


def _fresh_demo_database(settings: Settings) -> str:
    path = settings.database_path.with_name("demo.sqlite3")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


async def run_demo(settings: Settings) -> None:
    """Start the panel simulator on a free loopback port and chat with it in the terminal."""
    from adapters.console import CONSOLE_USER, ConsoleAdapter
    from bot.panel.simulator import PanelSimulator

    simulator = PanelSimulator()
    # Quicker than a real panel, so a newcomer sees an order move (and its alert) within a minute.
    simulator.pending_s, simulator.complete_s = DEMO_PENDING_SECONDS, DEMO_COMPLETE_SECONDS
    simulator.add_key(DEMO_KEY, balance=DEMO_BALANCE)
    refillable = simulator.catalogue.first_matching(type="Default", refill=True)
    finished = simulator.make_order(
        DEMO_KEY, refillable.id, refillable.min, link="https://t.me/demo", status="Completed"
    )
    url = await simulator.start()
    demo = settings.model_copy(
        update={
            "panel_api_url": url,
            "panel_allowed_urls": [],
            "database_url": _fresh_demo_database(settings),
            "status_poll_seconds": min(settings.status_poll_seconds, DEMO_POLL_SECONDS),
        }
    )
    try:
        async with build_runtime(demo) as runtime:
            await register_key(runtime, "console", CONSOLE_USER, url, DEMO_KEY)
            console = ConsoleAdapter(runtime.core)
            console.stdout.write(
                f"Demo: a simulated panel runs at {url} with {DEMO_BALANCE} USD on the demo key "
                f"{DEMO_KEY} (already registered for you). Order #{finished} is a completed order "
                "you can refill.\n"
                "Try: balance · services likes · order · status <id> · refill <id> · help\n"
            )
            async with AlertService(runtime, {"console": console}).running():
                await console.run()
    finally:
        await simulator.stop()


def _platform_adapters(runtime: Runtime) -> list[PlatformAdapter]:
    adapters: list[PlatformAdapter] = []
    settings = runtime.settings
    # Imported lazily: the core never imports a chat platform library, and a deployment with one
    # token does not pay for the other library.
    if settings.telegram_bot_token is not None:
        from adapters.telegram_messenger import TelegramAdapter

        adapters.append(TelegramAdapter(runtime.core, settings))
    if settings.discord_bot_token is not None:
        from adapters.discord_messenger import DiscordAdapter

        adapters.append(DiscordAdapter(runtime.core, settings))
    return adapters


class PlatformFailed(Exception):
    """A chat platform stopped serving for good.

    `python -m bot` then exits with status 1, so its supervisor (systemd, Docker, Heroku) restarts
    it, instead of leaving a process that looks alive but serves nothing.
    """

    def __init__(self, platform: Platform, reason: str) -> None:
        super().__init__(f"{platform}: {reason}")
        self.platform = platform
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.platform}: {self.reason}"


async def run_platforms(settings: Settings, stop: asyncio.Event) -> None:
    """Run every configured chat platform in this event loop until `stop` is set.

    When a platform stops serving for good on its own, everything is stopped cleanly and
    PlatformFailed (exit status 1) is raised.
    """
    failed: PlatformAdapter | None = None
    async with build_runtime(settings) as runtime:
        adapters = _platform_adapters(runtime)
        senders: dict[str, Sender] = {adapter.platform: adapter for adapter in adapters}
        async with AsyncExitStack() as stack:
            for adapter in adapters:
                await adapter.start()
                stack.push_async_callback(adapter.stop)
                log.info("%s adapter started", adapter.platform)
            await stack.enter_async_context(AlertService(runtime, senders).running())
            failed = await _stop_or_failure(stop, adapters)
            if failed is None:
                log.info("stopping")
            else:
                log.error(
                    "%s stopped serving for good: %s. Exiting with status 1 so that a supervisor "
                    "restarts the bot.",
                    failed.platform,
                    failed.failure,
                )
    if failed is not None:
        raise PlatformFailed(failed.platform, failed.failure)


async def _stop_or_failure(
    stop: asyncio.Event, adapters: list[PlatformAdapter]
) -> PlatformAdapter | None:
    """Wait for `stop` (then None) or for an adapter failing for good (then that adapter)."""
    waits = [asyncio.ensure_future(stop.wait())]
    waits += [asyncio.ensure_future(adapter.failed.wait()) for adapter in adapters]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    return next((adapter for adapter in adapters if adapter.failed.is_set()), None)
