"""A terminal chat over the same core: buttons are numbered, the slash is optional.

Typing a button's number presses it. While the bot waits for a value (a quantity, say), a bare
number is that value and `#N` presses button N. A list answer (comments, usernames…) is typed
one item per line and ended with an empty line.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TextIO

from bot.core.app import BotCore
from bot.core.seam import Button, Invocation, Platform, Prompt, Recipient, Reply

CONSOLE_USER = "console-user"


class ConsoleAdapter:
    """Reads lines from a stream, hands them to the core, prints replies; also a Sender."""

    platform: Platform = "console"

    def __init__(
        self,
        core: BotCore,
        *,
        user_id: str = CONSOLE_USER,
        stdin: TextIO | None = None,
        stdout: TextIO | None = None,
        interactive: bool | None = None,
    ) -> None:
        self.core = core
        self.user_id = user_id
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.interactive = self.stdin.isatty() if interactive is None else interactive
        self._buttons: list[Button] = []
        self._prompt: Prompt | None = None
        self._commands = {spec.name for spec in core.commands}

    def _print(self, text: str) -> None:
        self.stdout.write(text + "\n")
        self.stdout.flush()

    def render(self, reply: Reply, *, heading: str = "") -> None:
        """Print a reply with its buttons numbered from 1."""
        if not reply.text and not reply.buttons:
            return
        if heading:
            self._print(heading)
        if reply.notice and reply.notice != reply.text:
            self._print(f"({reply.notice})")
        if reply.delete_user_message:
            self._print("(your message held a secret: it was not kept)")
        if reply.text:
            self._print(reply.text)
        buttons = [button for row in reply.buttons for button in row]
        if buttons:
            number = 0
            for row in reply.buttons:
                cells = []
                for button in row:
                    number += 1
                    cells.append(f"[{number}] {button.label}")
                self._print("  " + "   ".join(cells))
            self._buttons = buttons
        elif not reply.edit or reply.text:
            self._buttons = []
        self._prompt = reply.prompt
        self._print("")

    def invocation_for(self, line: str) -> Invocation | None:
        """Turn one typed line into what the core understands (None for a blank line)."""
        text = line.strip()
        if not text:
            return None
        press = text[1:] if text.startswith("#") else (text if self._prompt is None else "")
        if press.isascii() and press.isdigit() and 1 <= int(press) <= len(self._buttons):
            button = self._buttons[int(press) - 1]
            if button.url:
                self._print(f"(link: {button.url})")
                return None
            return self._make("action", button.action)
        word, _, rest = text.partition(" ")
        name = word.lstrip("/").lower()
        # While the bot waits for a value, a bare word is that value ("help" may be a hashtag);
        # only a slash command, or "abort", leaves the question.
        bare_command = name in self._commands and (self._prompt is None or name == "abort")
        if word.startswith("/") or bare_command:
            return self._make("command", name, rest.strip())
        return self._make("text", "", text)

    def _make(self, kind: str, name: str, text: str = "") -> Invocation:
        return Invocation(
            platform="console",
            user_id=self.user_id,
            chat_id=self.user_id,
            is_private=True,
            kind=kind,  # type: ignore[arg-type]
            name=name,
            text=text,
            display_name="you",
        )

    async def _read_line(self) -> str | None:
        if self.interactive:
            self.stdout.write("> ")
            self.stdout.flush()
        line = await asyncio.to_thread(self.stdin.readline)
        return line if line else None

    async def _read_list(self, first: str) -> str:
        """Collect a multi-line answer until an empty line (or the end of input)."""
        lines = [first.rstrip("\n")]
        while True:
            line = await self._read_line()
            if line is None or not line.strip():
                return "\n".join(lines)
            lines.append(line.rstrip("\n"))

    async def run(self, *, on_line: Callable[[], object] | None = None) -> None:
        """Chat until the end of input."""
        self._print("SMM panel bot console. Type help for the commands; Ctrl-D to leave.\n")
        while True:
            line = await self._read_line()
            if line is None:
                return
            inv = self.invocation_for(line)
            if inv is None:
                continue
            if inv.kind == "text" and self._prompt is not None and self._prompt.multiline:
                inv = self._make("text", "", await self._read_list(inv.text))
            reply = await self.core.handle(inv)
            if not self.interactive:
                # Echo piped input so a transcript reads like a chat, but never a secret.
                shown = "(a message holding a key)" if reply.delete_user_message else inv.text
                if inv.kind == "command":
                    shown = inv.name if reply.delete_user_message else f"{inv.name} {inv.text}"
                elif inv.kind == "action":
                    shown = line.strip()
                self._print(f"> {shown.strip()}")
            self.render(reply)
            if on_line is not None:
                on_line()

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        """Print a pushed alert (the console's Sender), keeping the pending question's buttons."""
        buttons, prompt = self._buttons, self._prompt
        self.render(reply, heading="── alert ──")
        if prompt is not None:
            # A question is open: its buttons and prompt stay the ones numbers refer to.
            self._buttons, self._prompt = buttons, prompt
