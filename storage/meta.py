"""The `meta` table: small named values the bot keeps between runs (e.g. a command-sync hash)."""

from __future__ import annotations

import aiosqlite

from storage.database import execute_write


async def get_meta(db: aiosqlite.Connection, key: str) -> str | None:
    """The value stored under `key`, or None."""
    async with db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cursor:
        row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def set_meta(db: aiosqlite.Connection, key: str, value: str) -> None:
    """Store `value` under `key`, replacing any previous value."""
    await execute_write(
        db,
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, value),
    )
