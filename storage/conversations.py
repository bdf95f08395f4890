"""The `conversations` table: each user's pending wizard / question state, expiring when idle."""

from __future__ import annotations

import json
import logging
import time

import aiosqlite

from storage.database import execute_write

log = logging.getLogger(__name__)


async def load_conversation(
    db: aiosqlite.Connection, user_id: int, *, max_age: float, now: float | None = None
) -> dict[str, object] | None:
    """The user's state if saved less than `max_age` seconds ago; an expired one is deleted."""
    async with db.execute(
        "SELECT state, updated_at FROM conversations WHERE user_id = ?", (user_id,)
    ) as cursor:
        row = await cursor.fetchone()
    if row is None:
        return None
    state_text, updated_at = row
    current = time.time() if now is None else now
    if current - updated_at > max_age:
        # Only delete the row that expired, not one another task saved meanwhile.
        await execute_write(
            db,
            "DELETE FROM conversations WHERE user_id = ? AND updated_at = ?",
            (user_id, updated_at),
        )
        return None
    try:
        state = json.loads(state_text)
    except ValueError:
        log.warning("Dropping unreadable conversation state of user %d", user_id)
        await clear_conversation(db, user_id)
        return None
    return state if isinstance(state, dict) else None


async def save_conversation(
    db: aiosqlite.Connection, user_id: int, state: dict[str, object]
) -> None:
    """Store the user's state (JSON) and restart its expiry clock."""
    await execute_write(
        db,
        "INSERT INTO conversations (user_id, state, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT (user_id) DO UPDATE SET state = excluded.state, "
        "updated_at = excluded.updated_at",
        (user_id, json.dumps(state), time.time()),
    )


async def clear_conversation(db: aiosqlite.Connection, user_id: int) -> None:
    """Forget the user's state (the wizard finished or was cancelled)."""
    await execute_write(db, "DELETE FROM conversations WHERE user_id = ?", (user_id,))
