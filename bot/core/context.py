"""What a handler gets: the invocation, the user it came from, and the shared resources."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiosqlite

from bot.core.actions import Action, ActionTooLong, Ref
from bot.core.catalog import CatalogCache
from bot.core.errors import NoKey, NotYours, UserError
from bot.core.seam import Button, ButtonStyle, Invocation
from bot.crypto import DecryptionError, KeyCipher, KeyOwner
from bot.log_safety import secrets
from bot.panel.client import PanelClient
from bot.settings import Settings
from storage import actions as stored_actions
from storage import conversations, credentials
from storage.credentials import CredentialRow
from storage.users import UserRow

CONVERSATION_MAX_AGE = 30 * 60

# Called after an order is placed (the alerts module checks the balance threshold there).
PlacedHook = Callable[[int], Awaitable[None]]


@dataclass
class Resources:
    """Everything built once per process and shared by all invocations."""

    settings: Settings
    db: aiosqlite.Connection
    panel: PanelClient
    cipher: KeyCipher
    catalog: CatalogCache
    clock: Callable[[], float] = time.time
    placed_hooks: list[PlacedHook] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ActiveKey:
    """The user's active credential with its decrypted key (kept in memory only)."""

    credential: CredentialRow
    key: str

    def __repr__(self) -> str:
        return f"ActiveKey(credential={self.credential.id}, panel={self.credential.panel_url!r})"

    @property
    def panel_url(self) -> str:
        """The panel this key belongs to."""
        return self.credential.panel_url


class Context:
    """One invocation being handled: who, where, and the tools to answer."""

    def __init__(self, inv: Invocation, resources: Resources, user: UserRow) -> None:
        self.inv = inv
        self.res = resources
        self.user = user
        # The credential this invocation talks to the panel with, once decrypted: the one to mark
        # invalid if the panel rejects it.
        self.used_credential: CredentialRow | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        """The database connection."""
        return self.res.db

    @property
    def panel(self) -> PanelClient:
        """The panel API client."""
        return self.res.panel

    def key_owner(self, panel_url: str) -> KeyOwner:
        """The owner of this user's key for `panel_url`."""
        return KeyOwner(self.user.platform, self.user.platform_user_id, panel_url)

    async def active_key(self) -> ActiveKey:
        """The user's active key, decrypted; raises NoKey when there is none usable."""
        credential = await credentials.get_active_credential(self.db, self.user.id)
        if credential is None:
            raise NoKey()
        return self.decrypt(credential)

    async def key_for(self, credential_id: int) -> ActiveKey:
        """The user's key with this id (0: the active key); another user's id is refused."""
        if credential_id == 0:
            return await self.active_key()
        row = await credentials.get_credential(self.db, credential_id)
        if row is None:
            raise UserError("The key this belongs to was removed. Look it up again with /status.")
        if row.user_id != self.user.id:
            raise NotYours()
        return self.decrypt(row)

    def decrypt(self, credential: CredentialRow) -> ActiveKey:
        """Decrypt one of this user's credentials."""
        self.used_credential = credential
        try:
            key = self.res.cipher.decrypt(
                credential.ciphertext, self.key_owner(credential.panel_url)
            )
        except DecryptionError:
            # A key we can no longer read (a lost master key) is as good as no key.
            raise NoKey() from None
        secrets.add(key)
        return ActiveKey(credential, key)

    async def button(self, label: str, action: Action, style: ButtonStyle = "secondary") -> Button:
        """A button for `action`; state too big for 64 bytes goes to SQLite behind a Ref."""
        try:
            packed = action.pack()
        except ActionTooLong:
            ref = await stored_actions.put_action(
                self.db, self.user.id, {"packed": action.encode()}
            )
            packed = Ref(self.inv.user_id, ref).pack()
        return Button(label, packed, style)

    async def stash(self, payload: dict[str, object]) -> str:
        """Store bigger button state (ids, queries) and return its short id."""
        return await stored_actions.put_action(self.db, self.user.id, payload)

    async def unstash(self, ref: str) -> dict[str, object] | None:
        """Load stashed state if it belongs to this user."""
        found = await stored_actions.get_action(self.db, ref)
        if found is None:
            return None
        owner_id, payload = found
        return payload if owner_id == self.user.id else None

    async def take_stash(self, ref: str) -> dict[str, object] | None:
        """Claim one-shot stashed state: only the first press gets it (a double press gets None)."""
        return await stored_actions.take_action(self.db, ref, self.user.id)

    async def conversation(self) -> dict[str, object] | None:
        """The question the bot is waiting on for this user, if any (expires after 30 min)."""
        return await conversations.load_conversation(
            self.db, self.user.id, max_age=CONVERSATION_MAX_AGE, now=self.res.clock()
        )

    async def save_conversation(self, state: dict[str, object]) -> None:
        """Remember what the bot waits for from this user."""
        await conversations.save_conversation(self.db, self.user.id, state)

    async def clear_conversation(self) -> None:
        """Stop waiting for anything from this user."""
        await conversations.clear_conversation(self.db, self.user.id)
