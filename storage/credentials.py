"""The `credentials` table: users' encrypted panel API keys, one per (user, panel), one active."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiosqlite

from storage.database import execute_write, fetch_all, fetch_one, transaction

_COLUMNS = "id, user_id, panel_url, ciphertext, hint, is_active, invalid, created_at, updated_at"


@dataclass(frozen=True, slots=True)
class CredentialRow:
    """One stored API key (encrypted) for one panel."""

    id: int
    user_id: int
    panel_url: str
    # AES-GCM value from bot.crypto; kept out of repr so logs stay short and clean.
    ciphertext: bytes = field(repr=False)
    # The last 4 characters of the key, to tell keys apart in menus.
    hint: str
    is_active: bool
    # The panel rejected this key; not polled until the user replaces it.
    invalid: bool
    created_at: float
    updated_at: float


def _credential(row: Any) -> CredentialRow:
    (id_, user_id, panel_url, ciphertext, hint, active, invalid, created, updated) = row
    return CredentialRow(
        id_,
        user_id,
        panel_url,
        bytes(ciphertext),
        hint,
        bool(active),
        bool(invalid),
        created,
        updated,
    )


async def upsert_credential(
    db: aiosqlite.Connection, user_id: int, panel_url: str, ciphertext: bytes, hint: str
) -> CredentialRow:
    """Store the key for this panel (replacing the old one, same row id) and make it active."""
    now = time.time()
    async with transaction(db):
        # Deactivate first: the partial unique index allows one active key per user at any moment.
        await db.execute(
            "UPDATE credentials SET is_active = 0 WHERE user_id = ? AND panel_url != ? "
            "AND is_active = 1",
            (user_id, panel_url),
        )
        row = await fetch_one(
            db,
            "INSERT INTO credentials "
            "(user_id, panel_url, ciphertext, hint, is_active, invalid, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 1, 0, ?, ?) "
            "ON CONFLICT (user_id, panel_url) DO UPDATE SET ciphertext = excluded.ciphertext, "
            "hint = excluded.hint, is_active = 1, invalid = 0, updated_at = excluded.updated_at "
            f"RETURNING {_COLUMNS}",
            (user_id, panel_url, ciphertext, hint, now, now),
        )
    return _credential(row)


async def list_credentials(db: aiosqlite.Connection, user_id: int) -> list[CredentialRow]:
    """Every key of the user, oldest first."""
    rows = await fetch_all(
        db,
        f"SELECT {_COLUMNS} FROM credentials WHERE user_id = ? ORDER BY created_at, id",
        (user_id,),
    )
    return [_credential(row) for row in rows]


async def get_active_credential(db: aiosqlite.Connection, user_id: int) -> CredentialRow | None:
    """The user's active key, or None if the user has none."""
    row = await fetch_one(
        db, f"SELECT {_COLUMNS} FROM credentials WHERE user_id = ? AND is_active = 1", (user_id,)
    )
    return None if row is None else _credential(row)


async def get_credential(db: aiosqlite.Connection, credential_id: int) -> CredentialRow | None:
    """The key with this row id, or None (callers check `user_id` for ownership)."""
    row = await fetch_one(db, f"SELECT {_COLUMNS} FROM credentials WHERE id = ?", (credential_id,))
    return None if row is None else _credential(row)


async def activate_credential(db: aiosqlite.Connection, user_id: int, credential_id: int) -> bool:
    """Make this key the active one; False (and nothing changes) if it is not this user's."""
    async with transaction(db):
        owned = await fetch_one(
            db, "SELECT 1 FROM credentials WHERE id = ? AND user_id = ?", (credential_id, user_id)
        )
        if owned is None:
            return False
        await db.execute(
            "UPDATE credentials SET is_active = 0 WHERE user_id = ? AND id != ? AND is_active = 1",
            (user_id, credential_id),
        )
        await db.execute("UPDATE credentials SET is_active = 1 WHERE id = ?", (credential_id,))
    return True


async def delete_credential(db: aiosqlite.Connection, user_id: int, credential_id: int) -> bool:
    """Delete this user's key (False if not theirs); if it was active, the newest other one is."""
    async with transaction(db):
        row = await fetch_one(
            db,
            "SELECT is_active FROM credentials WHERE id = ? AND user_id = ?",
            (credential_id, user_id),
        )
        if row is None:
            return False
        await db.execute("DELETE FROM credentials WHERE id = ?", (credential_id,))
        if row[0]:
            await db.execute(
                "UPDATE credentials SET is_active = 1 WHERE id = ("
                "SELECT id FROM credentials WHERE user_id = ? "
                "ORDER BY updated_at DESC, id DESC LIMIT 1)",
                (user_id,),
            )
    return True


async def mark_credential_invalid(
    db: aiosqlite.Connection, credential_id: int, invalid: bool
) -> None:
    """Flag the key as rejected by its panel (or clear the flag)."""
    await execute_write(
        db, "UPDATE credentials SET invalid = ? WHERE id = ?", (int(invalid), credential_id)
    )


async def all_credentials(db: aiosqlite.Connection) -> list[CredentialRow]:
    """Every stored key of every user (for key rotation)."""
    rows = await fetch_all(db, f"SELECT {_COLUMNS} FROM credentials ORDER BY id")
    return [_credential(row) for row in rows]


async def replace_ciphertext(
    db: aiosqlite.Connection, credential_id: int, ciphertext: bytes
) -> None:
    """Store a re-encrypted value for the same key; `updated_at` stays (the key did not change)."""
    await execute_write(
        db, "UPDATE credentials SET ciphertext = ? WHERE id = ?", (ciphertext, credential_id)
    )


# --- the status poller --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PollCredential:
    """A key the poller may use, with its owner's identity (needed to decrypt it and to alert)."""

    id: int
    user_id: int
    panel_url: str
    ciphertext: bytes = field(repr=False)
    hint: str
    # Changes whenever the user sets a new key for this panel (the row id stays).
    updated_at: float
    platform: str
    platform_user_id: str
    chat_id: str


_POLL_CREDENTIAL_COLUMNS = (
    "c.id, c.user_id, c.panel_url, c.ciphertext, c.hint, c.updated_at, u.platform, "
    "u.platform_user_id, u.chat_id"
)


def poll_credential(row: Any) -> PollCredential:
    """Build a PollCredential from the nine `_POLL_CREDENTIAL_COLUMNS` at the start of `row`."""
    (id_, user_id, panel_url, ciphertext, hint, updated_at, platform, puid, chat_id) = row[:9]
    return PollCredential(
        id_, user_id, panel_url, bytes(ciphertext), hint, updated_at, platform, puid, chat_id
    )


async def pollable_credentials(db: aiosqlite.Connection) -> dict[int, PollCredential]:
    """Every key the panel has not rejected, of users with alerts on, by credential id."""
    rows = await fetch_all(
        db,
        f"SELECT {_POLL_CREDENTIAL_COLUMNS} FROM credentials c JOIN users u ON u.id = c.user_id "
        "WHERE c.invalid = 0 AND u.alerts_enabled = 1",
    )
    return {row[0]: poll_credential(row) for row in rows}


async def mark_invalid_if_unchanged(
    db: aiosqlite.Connection, credential_id: int, updated_at: float
) -> bool:
    """Flag the key as rejected unless the user replaced it since `updated_at`; True if flagged."""
    changed = await execute_write(
        db,
        "UPDATE credentials SET invalid = 1 WHERE id = ? AND updated_at = ? AND invalid = 0",
        (credential_id, updated_at),
    )
    return changed == 1


@dataclass(frozen=True, slots=True)
class NewCredential:
    """A key to store in bulk (benchmarks, imports); it becomes the user's active key."""

    user_id: int
    panel_url: str
    ciphertext: bytes = field(repr=False)
    hint: str


async def bulk_add_credentials(
    db: aiosqlite.Connection, rows: Sequence[NewCredential]
) -> dict[int, int]:
    """Store one active key each for users who have none yet; returns credential id by user id."""
    now = time.time()
    params = [(row.user_id, row.panel_url, row.ciphertext, row.hint, now, now) for row in rows]
    async with transaction(db):
        await db.executemany(
            "INSERT INTO credentials "
            "(user_id, panel_url, ciphertext, hint, is_active, invalid, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 1, 0, ?, ?) ON CONFLICT (user_id, panel_url) DO NOTHING",
            params,
        )
        found = await fetch_all(db, "SELECT user_id, id FROM credentials WHERE is_active = 1")
    wanted = {row.user_id for row in rows}
    return {user_id: credential_id for user_id, credential_id in found if user_id in wanted}
