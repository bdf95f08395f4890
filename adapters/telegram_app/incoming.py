"""Reading Telegram messages: which command (for which bot), and one user's updates in order."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from telegram import Message

# https://core.telegram.org/bots/features#commands: `/name` or `/name@botusername`, then arguments.
_COMMAND = re.compile(r"/([A-Za-z0-9_]{1,64})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+|$)(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class CommandText:
    """A command at the start of a message: its lower-case name, arguments and addressee."""

    name: str
    args: str
    # Written as /name@bot: None when no bot was named, else whether it named this bot.
    addressed_to_us: bool | None


def parse_command(text: str, bot_username: str) -> CommandText | None:
    """The command a message starts with, or None when it is not a command."""
    match = _COMMAND.fullmatch(text.lstrip())
    if match is None:
        return None
    name, target, args = match.groups()
    addressed = None if target is None else target.lower() == bot_username.lower()
    return CommandText(name.lower(), args.strip(), addressed)


def replies_to(message: Message, bot_id: int) -> bool:
    """Whether a group message answers one of the bot's messages (how groups answer prompts)."""
    original = message.reply_to_message
    author = original.from_user if original is not None else None
    return author is not None and author.id == bot_id


class UserQueue:
    """Serialises the updates of each user while different users are served concurrently.

    Updates are processed concurrently so one slow panel does not stall everyone, but a user's
    own messages (wizard answers typed in a row) must reach the core in the order they were sent.
    The application starts one task per update in arrival order and each handler asks for its
    user's turn before its first suspension point; asyncio locks are FIFO, so order is kept.
    """

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._holders: dict[str, int] = {}

    @asynccontextmanager
    async def turn(self, user_id: str) -> AsyncIterator[None]:
        """Wait until every earlier update of this user is done."""
        lock = self._locks.setdefault(user_id, asyncio.Lock())
        self._holders[user_id] = self._holders.get(user_id, 0) + 1
        try:
            async with lock:
                yield
        finally:
            self._holders[user_id] -= 1
            if not self._holders[user_id]:
                # Forget idle users so the table does not grow with every user ever seen.
                del self._holders[user_id]
                del self._locks[user_id]

    def __len__(self) -> int:
        return len(self._locks)
