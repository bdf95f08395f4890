"""Fakes and helpers shared by the status-alert tests: a hand-moved clock, a recording sender,
and stored keys as /setkey would store them."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from bot.alerts.service import AlertService
from bot.core.seam import Platform, Recipient, Reply, Sender
from bot.crypto import KeyOwner, hint_for
from bot.runtime import Runtime
from storage import credentials, users

# The poll interval of the alert tests' settings; the clock is moved by multiples of it.
POLL = 120.0

ServiceFactory = Callable[[Mapping[str, Sender]], AlertService]


class FakeClock:
    """The bot's wall clock, moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        """Move the clock forward by `seconds`."""
        self.now += seconds


class RecordingSender:
    """The platform edge: records what would be pushed to users."""

    platform: Platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[tuple[Recipient, Reply]] = []

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        """Record the message instead of sending it."""
        self.sent.append((recipient, reply))


async def user_row(runtime: Runtime, platform_user_id: str = "1001") -> users.UserRow:
    """The stored row of a telegram user (Alice by default); fails the test if there is none."""
    row = await users.get_user(runtime.db, "telegram", platform_user_id)
    assert row is not None
    return row


async def user_id_of(runtime: Runtime, platform_user_id: str = "1001") -> int:
    """The row id of a stored telegram user (Alice by default)."""
    return (await user_row(runtime, platform_user_id)).id


async def store_key(
    runtime: Runtime, platform_user_id: str, key: str, panel_url: str | None = None
) -> tuple[int, int]:
    """A telegram user with a stored key (as /setkey would store it) for `panel_url` (default:
    the configured panel): (user row id, credential id)."""
    url = runtime.settings.panel_api_url if panel_url is None else panel_url
    user = await users.get_or_create_user(
        runtime.db, "telegram", platform_user_id, chat_id=platform_user_id
    )
    sealed = runtime.cipher.encrypt(key, KeyOwner("telegram", platform_user_id, url))
    credential = await credentials.upsert_credential(
        runtime.db, user.id, url, sealed, hint_for(key)
    )
    return user.id, credential.id
