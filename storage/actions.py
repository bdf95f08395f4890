"""The `actions` table: button state too big for a platform's button data, behind a short id."""

from __future__ import annotations

import json
import secrets
import sqlite3
import time

import aiosqlite

from storage.database import execute_returning, execute_write

ACTION_ID_LENGTH = 10


async def put_action(db: aiosqlite.Connection, user_id: int, payload: dict[str, object]) -> str:
    """Store the payload for this user's button and return its short random id."""
    text = json.dumps(payload)
    now = time.time()
    for _ in range(5):
        # 10 URL-safe characters are 60 random bits: unguessable, and a clash is only a retry.
        action_id = secrets.token_urlsafe(8)[:ACTION_ID_LENGTH]
        try:
            await execute_write(
                db,
                "INSERT INTO actions (id, user_id, payload, created_at) VALUES (?, ?, ?, ?)",
                (action_id, user_id, text, now),
            )
        except sqlite3.IntegrityError:
            if await _exists(db, action_id):
                continue
            raise
        return action_id
    raise RuntimeError("could not find a free action id")


async def _exists(db: aiosqlite.Connection, action_id: str) -> bool:
    async with db.execute("SELECT 1 FROM actions WHERE id = ?", (action_id,)) as cursor:
        return await cursor.fetchone() is not None


async def get_action(
    db: aiosqlite.Connection, action_id: str
) -> tuple[int, dict[str, object]] | None:
    """(owner user id, payload) for this id, or None if unknown or pruned."""
    async with db.execute(
        "SELECT user_id, payload FROM actions WHERE id = ?", (action_id,)
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    payload = json.loads(row[1])
    return int(row[0]), payload if isinstance(payload, dict) else {}


async def prune_actions(db: aiosqlite.Connection, older_than: float) -> int:
    """Delete button state created before `older_than`; returns how many rows went."""
    return await execute_write(db, "DELETE FROM actions WHERE created_at < ?", (older_than,))


async def take_action(
    db: aiosqlite.Connection, action_id: str, user_id: int
) -> dict[str, object] | None:
    """Claim one-shot button state: delete it and return its payload, once, for its owner only."""
    row = await execute_returning(
        db,
        "DELETE FROM actions WHERE id = ? AND user_id = ? RETURNING payload",
        (action_id, user_id),
    )
    if row is None:
        return None
    payload = json.loads(row[0])
    return payload if isinstance(payload, dict) else {}
