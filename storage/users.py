"""The `users` table: one row per (platform, platform user id), with alert preferences."""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiosqlite

from storage.database import (
    decimal_to_text,
    execute_returning,
    execute_write,
    fetch_one,
    text_to_decimal,
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
