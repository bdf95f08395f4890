"""`python -m bot`: run the bot, the console, the demo, or a maintenance subcommand."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bot.settings import Settings, SettingsError, load_settings

log = logging.getLogger("bot")

SUBCOMMANDS = {
    "run": "start the chat adapters whose tokens are set (the console demo when none is)",
    "console": "chat with the bot in this terminal, against the configured panel",
    "demo": "start the built-in panel simulator and chat with it in this terminal",
    "keygen": "print a fresh ENCRYPTION_KEY",
    "rotate-keys": "re-encrypt every stored API key under the current ENCRYPTION_KEY",
    "simulate-panel": "serve the built-in panel simulator (API v2) until stopped",
}


def build_parser() -> argparse.ArgumentParser:
    """The command line: one subcommand per task (these names are a contract)."""
    parser = argparse.ArgumentParser(
        prog="python -m bot",
        description="SMM panel bot for Telegram and Discord. Without a subcommand it runs `run`.",
    )
    sub = parser.add_subparsers(dest="command", metavar="SUBCOMMAND")
    for name, text in SUBCOMMANDS.items():
        command = sub.add_parser(name, help=text, description=text)
        if name == "simulate-panel":
            command.add_argument("--port", type=int, default=8099, help="port (0 picks a free one)")
            command.add_argument("--host", default="127.0.0.1", help="address to listen on")
            command.add_argument(
                "--large", action="store_true", help="benchmark scale: 10,000 services and keys"
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line and run the chosen subcommand; returns the exit status."""
    args = build_parser().parse_args(argv)
    command = args.command or "run"
    if command == "keygen":
        from bot.crypto import generate_master_key

        print(generate_master_key())
        return 0
    if command == "simulate-panel":
        from bot.panel.simulator import run_standalone

        run_standalone(args.port, args.host, large=args.large)
        return 0
    try:
        settings = load_settings()
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    from bot.log_safety import configure_logging

    configure_logging(settings.log_level)
    from bot.launch import PlatformFailed
    from bot.runtime import StartupError

    try:
        return asyncio.run(_run(command, settings))
    except StartupError as error:
        print(error, file=sys.stderr)
        return 2
    except PlatformFailed:
        # run_platforms has logged the one line that says why.
        return 1
    except KeyboardInterrupt:
        return 130


async def _run(command: str, settings: Settings) -> int:
    if command == "rotate-keys":
        from bot.maintenance import rotate_stored_keys

        changed = await rotate_stored_keys(settings)
        print(f"Re-encrypted {changed} stored API key(s) under the current key.")
        return 0
    if command == "console":
        from bot.launch import run_console

        await run_console(settings)
        return 0
    if command == "demo" or (
        settings.telegram_bot_token is None and settings.discord_bot_token is None
    ):
        from bot.launch import run_demo

        if command == "run":
            log.info("No TELEGRAM_BOT_TOKEN or DISCORD_BOT_TOKEN set: starting the console demo")
        await run_demo(settings)
        return 0
    from bot.launch import run_platforms

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await run_platforms(settings, stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
