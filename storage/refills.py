"""The `refills` table: refill requests the bot sent, polled until their status is final."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiosqlite

from storage.database import execute_returning, execute_write, transaction
from storage.outbox import INSERT_MESSAGE_IF, NewMessage, message_params

_COLUMNS = (
    "id, user_id, order_id, panel_url, credential_id, panel_order_id, panel_refill_id, status, "
    "raw_status, is_final, error, created_at, updated_at, last_checked_at, next_check_at, "
    "unchanged_checks"
)
_R_COLUMNS = ", ".join(f"r.{name.strip()}" for name in _COLUMNS.split(","))


@dataclass(frozen=True, slots=True)
class RefillRow:
    """One refill request of one user for one panel order."""

    id: int
    user_id: int
    # The bot's order row, when the order is known to the bot.
    order_id: int | None
    panel_url: str
    credential_id: int | None
    panel_order_id: str
    panel_refill_id: str
    status: str
    raw_status: str
    is_final: bool
    error: str | None
    created_at: float
    updated_at: float
    last_checked_at: float | None
    next_check_at: float | None
    unchanged_checks: int


def _refill(row: Any) -> RefillRow:
    (
        id_, user_id, order_id, panel_url, credential_id, panel_order_id, panel_refill_id,
        status, raw_status, is_final, error, created_at, updated_at, last_checked_at,
        next_check_at, unchanged_checks,
    ) = row  # fmt: skip
    return RefillRow(
        id_, user_id, order_id, panel_url, credential_id, panel_order_id, panel_refill_id,
        status, raw_status, bool(is_final), error, created_at, updated_at, last_checked_at,
        next_check_at, unchanged_checks,
    )  # fmt: skip


async def add_refill(
    db: aiosqlite.Connection,
    *,
    user_id: int,
    order_row_id: int | None,
    panel_url: str,
    credential_id: int | None,
    panel_order_id: str,
    panel_refill_id: str,
) -> RefillRow:
    """Record a refill the panel accepted; returns the existing row if this refill id is known."""
    now = time.time()
    params = (
        user_id, order_row_id, panel_url, credential_id, panel_order_id, panel_refill_id, now, now,
    )  # fmt: skip
    row = await execute_returning(
        db,
        "INSERT INTO refills (user_id, order_id, panel_url, credential_id, panel_order_id, "
        "panel_refill_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (panel_url, panel_refill_id, user_id) DO UPDATE SET "
        "order_id = COALESCE(order_id, excluded.order_id), "
        "credential_id = COALESCE(credential_id, excluded.credential_id) "
        f"RETURNING {_COLUMNS}",
        params,
    )
    assert row is not None
    return _refill(row)


async def get_user_refill(
    db: aiosqlite.Connection, user_id: int, panel_url: str, panel_refill_id: str
) -> RefillRow | None:
    """This user's row for a panel refill id, or None."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM refills "
        "WHERE panel_url = ? AND panel_refill_id = ? AND user_id = ?",
        (panel_url, panel_refill_id, user_id),
    ) as cursor:
        row = await cursor.fetchone()
    return None if row is None else _refill(row)


async def update_refill_status(
    db: aiosqlite.Connection,
    refill_row_id: int,
    *,
    status: str,
    raw_status: str,
    is_final: bool,
    error: str | None,
    checked_at: float,
    next_check_at: float | None,
    changed: bool,
) -> None:
    """Store one polled refill status; `changed` resets the unchanged-checks counter."""
    params = (
        status, raw_status, int(is_final), error, checked_at, next_check_at, int(changed),
        checked_at, int(changed), refill_row_id,
    )  # fmt: skip
    await execute_write(
        db,
        "UPDATE refills SET status = ?, raw_status = ?, is_final = ?, error = ?, "
        "last_checked_at = ?, next_check_at = ?, "
        "updated_at = CASE WHEN ? THEN ? ELSE updated_at END, "
        "unchanged_checks = CASE WHEN ? THEN 0 ELSE unchanged_checks + 1 END WHERE id = ?",
        params,
    )


# Same rules as due orders: alerts on and a key the panel still accepts.
_DUE = (
    "SELECT {cols} FROM refills r "
    "JOIN users u ON u.id = r.user_id "
    "JOIN credentials c ON c.id = r.credential_id "
    "WHERE r.is_final = 0 AND {when} AND u.alerts_enabled = 1 AND c.invalid = 0"
)
_DUE_SQL = (
    _DUE.format(cols=_R_COLUMNS, when="r.next_check_at IS NULL")
    + " UNION ALL "
    + _DUE.format(cols=_R_COLUMNS, when="r.next_check_at <= ?")
    + " ORDER BY next_check_at"
)


async def due_refills(db: aiosqlite.Connection, now: float) -> list[RefillRow]:
    """Refills to poll now: non-final, alerts on, a valid key, due (or never checked) first."""
    async with db.execute(_DUE_SQL, (now,)) as cursor:
        rows = await cursor.fetchall()
    return [_refill(row) for row in rows]


async def list_user_refills(
    db: aiosqlite.Connection, user_id: int, limit: int = 20
) -> list[RefillRow]:
    """The user's refills, newest first."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM refills WHERE user_id = ? "
        "ORDER BY created_at DESC, id DESC LIMIT ?",
        (user_id, limit),
    ) as cursor:
        rows = await cursor.fetchall()
    return [_refill(row) for row in rows]


# --- the status poller --------------------------------------------------------------------------

_UPDATE_REFILL = (
    "UPDATE refills SET status = ?, raw_status = ?, is_final = ?, error = ?, "
    "last_checked_at = ?, next_check_at = ?, "
    "updated_at = CASE WHEN ? THEN ? ELSE updated_at END, "
    "unchanged_checks = CASE WHEN ? THEN 0 ELSE unchanged_checks + 1 END WHERE id = ?"
)
_REFILL_STILL_AS_SEEN = "EXISTS (SELECT 1 FROM refills WHERE id = ? AND raw_status = ?)"


@dataclass(frozen=True, slots=True)
class RefillStatusUpdate:
    """One polled refill status (same meaning as the arguments of `update_refill_status`)."""

    refill_row_id: int
    status: str
    raw_status: str
    is_final: bool
    error: str | None
    checked_at: float
    next_check_at: float | None
    changed: bool


def _refill_params(update: RefillStatusUpdate) -> tuple[object, ...]:
    return (
        update.status, update.raw_status, int(update.is_final), update.error, update.checked_at,
        update.next_check_at, int(update.changed), update.checked_at, int(update.changed),
        update.refill_row_id,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class PolledRefill:
    """One polled refill status to store, with its alert if it is news.

    Written only if the row still holds `seen_raw_status` (see storage.order_polling.PolledOrder).
    """

    update: RefillStatusUpdate
    seen_raw_status: str
    message: NewMessage | None = None


async def record_polled_refills(
    db: aiosqlite.Connection, polled: Sequence[PolledRefill], now: float
) -> int:
    """Store polled refill statuses and queue their alerts in ONE transaction; alerts queued."""
    if not polled:
        return 0
    queued = 0
    async with transaction(db):
        alerts = [
            (*message_params(item.message, now), item.update.refill_row_id, item.seen_raw_status)
            for item in polled
            if item.message is not None
        ]
        if alerts:
            sql = INSERT_MESSAGE_IF.format(condition=_REFILL_STILL_AS_SEEN)
            async with db.executemany(sql, alerts) as cursor:
                queued = max(cursor.rowcount, 0)
        await db.executemany(
            _UPDATE_REFILL + " AND raw_status = ?",
            [(*_refill_params(item.update), item.seen_raw_status) for item in polled],
        )
    return queued
