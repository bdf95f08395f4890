"""The `users` table: one row per (platform, platform user id), with alert preferences."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiosqlite

from storage.credentials import PollCredential, poll_credential
from storage.database import (
    decimal_to_text,
    execute_returning,
    execute_write,
    fetch_all,
    fetch_one,
    text_to_decimal,
    transaction,
)

_COLUMNS = (
    "id, platform, platform_user_id, chat_id, display_name, alerts_enabled, "
    "low_balance_threshold, low_balance_alerted, last_balance_check_at, created_at"
)


@dataclass(frozen=True, slots=True)
class UserRow:
    """A bot user on one platform."""

    id: int
    platform: str
    platform_user_id: str
    # Where pushed alerts go (the private chat / DM channel), "" until known.
    chat_id: str
    display_name: str
    alerts_enabled: bool
    low_balance_threshold: Decimal | None
    low_balance_alerted: bool
    last_balance_check_at: float | None
    created_at: float


def _user(row: Any) -> UserRow:
    (id_, platform, puid, chat, name, alerts, threshold, alerted, checked, created) = row
    return UserRow(
        id_,
        platform,
        puid,
        chat,
        name,
        bool(alerts),
        text_to_decimal(threshold),
        bool(alerted),
        checked,
        created,
    )


async def get_user(
    db: aiosqlite.Connection, platform: str, platform_user_id: str
) -> UserRow | None:
    """The user with this platform identity, or None."""
    row = await fetch_one(
        db,
        f"SELECT {_COLUMNS} FROM users WHERE platform = ? AND platform_user_id = ?",
        (platform, platform_user_id),
    )
    return None if row is None else _user(row)


async def get_user_by_id(db: aiosqlite.Connection, user_id: int) -> UserRow | None:
    """The user with this row id, or None."""
    row = await fetch_one(db, f"SELECT {_COLUMNS} FROM users WHERE id = ?", (user_id,))
    return None if row is None else _user(row)


async def get_or_create_user(
    db: aiosqlite.Connection,
    platform: str,
    platform_user_id: str,
    *,
    chat_id: str = "",
    display_name: str = "",
) -> UserRow:
    """Find or create the user; a non-empty chat_id / display_name given replaces the stored one."""
    existing = await get_user(db, platform, platform_user_id)
    if existing is not None and (
        (not chat_id or chat_id == existing.chat_id)
        and (not display_name or display_name == existing.display_name)
    ):
        # The common case (every message) reads only.
        return existing
    row = await execute_returning(
        db,
        "INSERT INTO users (platform, platform_user_id, chat_id, display_name, created_at) "
        "VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT (platform, platform_user_id) DO UPDATE SET "
        "chat_id = CASE WHEN excluded.chat_id != '' THEN excluded.chat_id ELSE chat_id END, "
        "display_name = CASE WHEN excluded.display_name != '' "
        "THEN excluded.display_name ELSE display_name END "
        f"RETURNING {_COLUMNS}",
        (platform, platform_user_id, chat_id, display_name, time.time()),
    )
    assert row is not None
    return _user(row)


async def set_alerts_enabled(db: aiosqlite.Connection, user_id: int, enabled: bool) -> None:
    """Switch status alerts (and the polling behind them) on or off."""
    await execute_write(
        db, "UPDATE users SET alerts_enabled = ? WHERE id = ?", (int(enabled), user_id)
    )


async def set_low_balance_threshold(
    db: aiosqlite.Connection, user_id: int, threshold: Decimal | None
) -> None:
    """Set (or clear with None) the low-balance alert threshold; re-arms the alert."""
    await execute_write(
        db,
        "UPDATE users SET low_balance_threshold = ?, low_balance_alerted = 0 WHERE id = ?",
        (decimal_to_text(threshold), user_id),
    )


async def set_low_balance_alerted(
    db: aiosqlite.Connection, user_id: int, alerted: bool, *, checked_at: float | None = None
) -> None:
    """Record whether the low-balance alert was sent (and, if given, when the balance was read)."""
    await execute_write(
        db,
        "UPDATE users SET low_balance_alerted = ?, "
        "last_balance_check_at = COALESCE(?, last_balance_check_at) WHERE id = ?",
        (int(alerted), checked_at, user_id),
    )


async def delete_user(db: aiosqlite.Connection, user_id: int) -> None:
    """Forget the user: keys, orders, refills, conversations, actions and queued alerts cascade."""
    await execute_write(db, "DELETE FROM users WHERE id = ?", (user_id,))


# --- low-balance alerts -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BalanceWatch:
    """A user with a low-balance threshold, alerts on, and an active key the panel accepts."""

    credential: PollCredential
    threshold: Decimal
    alerted: bool
    last_balance_check_at: float | None


_WATCH_SQL = (
    "SELECT c.id, c.user_id, c.panel_url, c.ciphertext, c.hint, c.updated_at, u.platform, "
    "u.platform_user_id, u.chat_id, u.low_balance_threshold, u.low_balance_alerted, "
    "u.last_balance_check_at "
    "FROM users u JOIN credentials c ON c.user_id = u.id AND c.is_active = 1 "
    "WHERE u.low_balance_threshold IS NOT NULL AND u.alerts_enabled = 1 AND c.invalid = 0"
)


def _watch(row: Any) -> BalanceWatch:
    threshold = text_to_decimal(row[9])
    assert threshold is not None
    return BalanceWatch(poll_credential(row), threshold, bool(row[10]), row[11])


async def due_balance_watches(
    db: aiosqlite.Connection, checked_before: float, *, limit: int = -1
) -> list[BalanceWatch]:
    """Watched users whose balance was last read before `checked_before`, never-read first.

    `limit` caps how many (-1: all), so many watchers spread over several poll cycles.
    """
    rows = await fetch_all(
        db,
        _WATCH_SQL
        + " AND (u.last_balance_check_at IS NULL OR u.last_balance_check_at < ?)"
        # NULLs sort first in SQLite: never-read users come before the most overdue.
        + " ORDER BY u.last_balance_check_at, u.id LIMIT ?",
        (checked_before, limit),
    )
    return [_watch(row) for row in rows]


async def balance_watch(db: aiosqlite.Connection, user_id: int) -> BalanceWatch | None:
    """The user's watch if they have a threshold, alerts on and a usable active key; else None."""
    row = await fetch_one(db, _WATCH_SQL + " AND u.id = ?", (user_id,))
    return None if row is None else _watch(row)


async def record_balance_check(
    db: aiosqlite.Connection,
    user_id: int,
    *,
    threshold: Decimal,
    was_alerted: bool,
    alerted: bool,
    checked_at: float,
) -> bool:
    """Store a balance reading's outcome; True if stored.

    Nothing is stored (False) if the threshold or the alerted flag changed since the caller read
    them (`threshold`, `was_alerted`): a concurrent check already acted, or the user re-armed it.
    """
    changed = await execute_write(
        db,
        "UPDATE users SET low_balance_alerted = ?, last_balance_check_at = ? "
        "WHERE id = ? AND low_balance_threshold = ? AND low_balance_alerted = ?",
        (int(alerted), checked_at, user_id, decimal_to_text(threshold), int(was_alerted)),
    )
    return changed == 1


async def bulk_add_users(
    db: aiosqlite.Connection, platform: str, platform_user_ids: Sequence[str]
) -> dict[str, int]:
    """Create many users of one platform (chat id = user id) at once; returns row id by user id."""
    now = time.time()
    async with transaction(db):
        await db.executemany(
            "INSERT INTO users (platform, platform_user_id, chat_id, created_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (platform, platform_user_id) DO NOTHING",
            [(platform, puid, puid, now) for puid in platform_user_ids],
        )
        rows = await fetch_all(
            db, "SELECT platform_user_id, id FROM users WHERE platform = ?", (platform,)
        )
    wanted = set(platform_user_ids)
    return {puid: user_id for puid, user_id in rows if puid in wanted}
