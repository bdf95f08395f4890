"""The `orders` table: orders placed through the bot (from intent to final status) or tracked by id.

Life of a placed order: the wizard's confirm creates an `intent` row (its token is unique, so a
second confirm finds the row instead of placing twice), then `add` either returns an id (`placed`),
fails cleanly (`failed`), or times out / breaks mid-way (`unknown`: it may or may not exist on the
panel, since `add` is not idempotent and must never be retried blindly). Orders looked up by id with
/status are `tracked`. The poller checks non-final `placed` / `tracked` orders.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

import aiosqlite

from storage.database import (
    decimal_to_text,
    execute_returning,
    execute_write,
    fetch_all,
    fetch_one,
    transaction,
)

OrderState = Literal["intent", "placed", "unknown", "failed", "tracked"]

_COLUMNS = (
    "id, user_id, credential_id, panel_url, panel_order_id, intent_token, state, service_id, "
    "service_name, service_type, link, quantity, fields, cost, charge, currency, status, "
    "raw_status, remains, start_count, is_final, can_refill, can_cancel, error, created_at, "
    "updated_at, last_checked_at, next_check_at, unchanged_checks"
)
_O_COLUMNS = ", ".join(f"o.{name.strip()}" for name in _COLUMNS.split(","))


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One order of one user on one panel."""

    id: int
    user_id: int
    # NULL once the key it was placed with is deleted; such orders are no longer polled.
    credential_id: int | None
    panel_url: str
    panel_order_id: str | None
    intent_token: str | None
    state: OrderState
    service_id: str
    service_name: str
    service_type: str
    link: str
    quantity: int | None
    # Every field sent with `add` (link, quantity, comments, usernames, ...).
    fields: dict[str, object]
    cost: Decimal | None
    charge: Decimal | None
    currency: str
    status: str
    raw_status: str
    remains: int | None
    start_count: int | None
    is_final: bool
    can_refill: bool
    can_cancel: bool
    error: str | None
    created_at: float
    updated_at: float
    last_checked_at: float | None
    next_check_at: float | None
    unchanged_checks: int


@dataclass(frozen=True, slots=True)
class OrderStatusUpdate:
    """One polled status for `update_order_statuses` (same meaning as `update_order_status`)."""

    order_row_id: int
    status: str
    raw_status: str
    charge: Decimal | None
    remains: int | None
    start_count: int | None
    currency: str | None
    is_final: bool
    checked_at: float
    next_check_at: float | None
    changed: bool


def _order(row: Any) -> OrderRow:
    (
        id_, user_id, credential_id, panel_url, panel_order_id, intent_token, state,
        service_id, service_name, service_type, link, quantity, fields, cost, charge, currency,
        status, raw_status, remains, start_count, is_final, can_refill, can_cancel, error,
        created_at, updated_at, last_checked_at, next_check_at, unchanged_checks,
    ) = row  # fmt: skip
    return OrderRow(
        id_, user_id, credential_id, panel_url, panel_order_id, intent_token, state,
        service_id, service_name, service_type, link, quantity, json.loads(fields),
        None if cost is None else Decimal(cost), None if charge is None else Decimal(charge),
        currency, status, raw_status, remains, start_count, bool(is_final), bool(can_refill),
        bool(can_cancel), error, created_at, updated_at, last_checked_at, next_check_at,
        unchanged_checks,
    )  # fmt: skip


async def _one(db: aiosqlite.Connection, where: str, params: tuple[object, ...]) -> OrderRow | None:
    row = await fetch_one(db, f"SELECT {_COLUMNS} FROM orders WHERE {where}", params)
    return None if row is None else _order(row)


async def get_order(db: aiosqlite.Connection, order_row_id: int) -> OrderRow | None:
    """The order with this row id, or None (callers check `user_id` for ownership)."""
    return await _one(db, "id = ?", (order_row_id,))


async def create_intent(
    db: aiosqlite.Connection,
    *,
    user_id: int,
    credential_id: int | None,
    panel_url: str,
    intent_token: str,
    service_id: str,
    service_name: str,
    service_type: str,
    link: str,
    quantity: int | None,
    fields: dict[str, object],
    cost: Decimal | None,
    currency: str,
    can_refill: bool,
    can_cancel: bool,
) -> OrderRow | None:
    """Record a confirmed order before `add` is sent; None if this token was confirmed already."""
    now = time.time()
    params = (
        user_id, credential_id, panel_url, intent_token, service_id, service_name, service_type,
        link, quantity, json.dumps(fields), decimal_to_text(cost), currency, int(can_refill),
        int(can_cancel), now, now,
    )  # fmt: skip
    row = await execute_returning(
        db,
        "INSERT INTO orders (user_id, credential_id, panel_url, intent_token, state, "
        "service_id, service_name, service_type, link, quantity, fields, cost, currency, "
        "can_refill, can_cancel, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, 'intent', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
        f"ON CONFLICT (intent_token) DO NOTHING RETURNING {_COLUMNS}",
        params,
    )
    return None if row is None else _order(row)


async def get_order_by_token(
    db: aiosqlite.Connection, intent_token: str, *, user_id: int
) -> OrderRow | None:
    """This user's order created by this confirm token, or None (another user's is None too)."""
    return await _one(db, "intent_token = ? AND user_id = ?", (intent_token, user_id))


async def mark_placed(db: aiosqlite.Connection, order_row_id: int, panel_order_id: str) -> None:
    """The panel accepted the order and returned its id; the poller checks it from now on."""
    async with transaction(db):
        # If the user had tracked this very id by hand meanwhile, the placed row wins.
        await db.execute(
            "DELETE FROM orders WHERE state = 'tracked' AND id != ? AND panel_order_id = ? "
            "AND (user_id, panel_url) = (SELECT user_id, panel_url FROM orders WHERE id = ?)",
            (order_row_id, panel_order_id, order_row_id),
        )
        await db.execute(
            "UPDATE orders SET state = 'placed', panel_order_id = ?, error = NULL, "
            "updated_at = ?, next_check_at = NULL WHERE id = ?",
            (panel_order_id, time.time(), order_row_id),
        )


async def mark_unknown(db: aiosqlite.Connection, order_row_id: int, error: str) -> None:
    """`add` broke mid-way: the order may exist on the panel; never re-send it automatically.

    The row is final for the bot (it has no panel id to poll); the user checks the panel.
    """
    await execute_write(
        db,
        "UPDATE orders SET state = 'unknown', error = ?, is_final = 1, updated_at = ? WHERE id = ?",
        (error, time.time(), order_row_id),
    )


async def mark_failed(db: aiosqlite.Connection, order_row_id: int, error: str) -> None:
    """The panel refused the order (its error text kept); the row is final."""
    await execute_write(
        db,
        "UPDATE orders SET state = 'failed', error = ?, is_final = 1, updated_at = ? WHERE id = ?",
        (error, time.time(), order_row_id),
    )


async def track_order(
    db: aiosqlite.Connection,
    *,
    user_id: int,
    credential_id: int | None,
    panel_url: str,
    panel_order_id: str,
) -> OrderRow:
    """Start tracking an order id the user looked up; returns the existing row if known.

    A known row whose key was deleted (credential NULL) adopts the given credential.
    """
    now = time.time()
    row = await execute_returning(
        db,
        "INSERT INTO orders (user_id, credential_id, panel_url, panel_order_id, state, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, 'tracked', ?, ?) "
        "ON CONFLICT (panel_url, panel_order_id, user_id) DO UPDATE SET "
        "credential_id = COALESCE(credential_id, excluded.credential_id) "
        f"RETURNING {_COLUMNS}",
        (user_id, credential_id, panel_url, panel_order_id, now, now),
    )
    assert row is not None
    return _order(row)


async def get_user_order(
    db: aiosqlite.Connection, user_id: int, panel_url: str, panel_order_id: str
) -> OrderRow | None:
    """This user's row for a panel order id, or None."""
    return await _one(
        db,
        "panel_url = ? AND panel_order_id = ? AND user_id = ?",
        (panel_url, panel_order_id, user_id),
    )


async def find_order_owner(
    db: aiosqlite.Connection, panel_url: str, panel_order_id: str
) -> list[int]:
    """The ids of every user holding this panel order id."""
    rows = await fetch_all(
        db,
        "SELECT user_id FROM orders WHERE panel_url = ? AND panel_order_id = ? ORDER BY user_id",
        (panel_url, panel_order_id),
    )
    return [row[0] for row in rows]


# COALESCE keeps a known charge / currency when a later answer omits it (some panels do).
UPDATE_STATUS_SQL = (
    "UPDATE orders SET status = ?, raw_status = ?, charge = COALESCE(?, charge), remains = ?, "
    "start_count = ?, currency = COALESCE(?, currency), is_final = ?, last_checked_at = ?, "
    "next_check_at = ?, "
    "updated_at = CASE WHEN ? THEN ? ELSE updated_at END, "
    "unchanged_checks = CASE WHEN ? THEN 0 ELSE unchanged_checks + 1 END "
    "WHERE id = ?"
)


def status_params(update: OrderStatusUpdate) -> tuple[object, ...]:
    return (
        update.status, update.raw_status, decimal_to_text(update.charge), update.remains,
        update.start_count, update.currency, int(update.is_final), update.checked_at,
        update.next_check_at, int(update.changed), update.checked_at, int(update.changed),
        update.order_row_id,
    )  # fmt: skip


async def update_order_status(
    db: aiosqlite.Connection,
    order_row_id: int,
    *,
    status: str,
    raw_status: str,
    charge: Decimal | None,
    remains: int | None,
    start_count: int | None,
    currency: str | None,
    is_final: bool,
    checked_at: float,
    next_check_at: float | None,
    changed: bool,
) -> None:
    """Store one polled status; `changed` resets the unchanged-checks counter (else it grows)."""
    update = OrderStatusUpdate(
        order_row_id, status, raw_status, charge, remains, start_count, currency, is_final,
        checked_at, next_check_at, changed,
    )  # fmt: skip
    await execute_write(db, UPDATE_STATUS_SQL, status_params(update))


async def update_order_statuses(
    db: aiosqlite.Connection, updates: Sequence[OrderStatusUpdate]
) -> None:
    """Store a poll cycle's statuses in one transaction (executemany)."""
    if not updates:
        return
    params = [status_params(update) for update in updates]
    async with transaction(db):
        await db.executemany(UPDATE_STATUS_SQL, params)


async def set_order_service(
    db: aiosqlite.Connection,
    order_row_id: int,
    *,
    service_id: str,
    service_name: str,
    service_type: str,
    can_refill: bool,
    can_cancel: bool,
) -> None:
    """Fill in the service of a tracked order once it is known."""
    await execute_write(
        db,
        "UPDATE orders SET service_id = ?, service_name = ?, service_type = ?, can_refill = ?, "
        "can_cancel = ? WHERE id = ?",
        (service_id, service_name, service_type, int(can_refill), int(can_cancel), order_row_id),
    )


async def list_user_orders(
    db: aiosqlite.Connection,
    user_id: int,
    *,
    active_only: bool = False,
    limit: int = 10,
    offset: int = 0,
) -> list[OrderRow]:
    """The user's orders, newest first; `active_only` keeps the non-final ones."""
    where = "user_id = ? AND is_final = 0" if active_only else "user_id = ?"
    rows = await fetch_all(
        db,
        f"SELECT {_COLUMNS} FROM orders WHERE {where} "
        "ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
        (user_id, limit, offset),
    )
    return [_order(row) for row in rows]


async def count_user_orders(
    db: aiosqlite.Connection, user_id: int, *, active_only: bool = False
) -> int:
    """How many orders `list_user_orders` pages through."""
    where = "user_id = ? AND is_final = 0" if active_only else "user_id = ?"
    row = await fetch_one(db, f"SELECT COUNT(*) FROM orders WHERE {where}", (user_id,))
    return int(row[0]) if row else 0


# The two halves use the (is_final, next_check_at) index each: an OR with IS NULL would not.
DUE_ORDERS_TEMPLATE = (
    "SELECT {cols} FROM orders o "
    "JOIN users u ON u.id = o.user_id "
    "JOIN credentials c ON c.id = o.credential_id "
    "WHERE o.is_final = 0 AND {when} AND o.state IN ('placed', 'tracked') "
    "AND u.alerts_enabled = 1 AND c.invalid = 0"
)
_DUE_ORDERS_SQL = (
    DUE_ORDERS_TEMPLATE.format(cols=_O_COLUMNS, when="o.next_check_at IS NULL")
    + " UNION ALL "
    + DUE_ORDERS_TEMPLATE.format(cols=_O_COLUMNS, when="o.next_check_at <= ?")
    # Merges the two index scans in order; no sort of the whole set.
    + " ORDER BY next_check_at"
)


async def due_orders(
    db: aiosqlite.Connection, now: float, *, limit: int | None = None
) -> list[OrderRow]:
    """Orders to poll now: non-final placed/tracked, alerts on, a valid key, due (or never checked).

    Never-checked orders come first, then the most overdue.
    """
    sql = _DUE_ORDERS_SQL
    params: tuple[object, ...] = (now,)
    if limit is not None:
        sql += " LIMIT ?"
        params = (now, limit)
    return [_order(row) for row in await fetch_all(db, sql, params)]


async def mark_stale_intents_unknown(db: aiosqlite.Connection, older_than: float) -> int:
    """Intents left by a process that died while placing: their outcome is unknown, say so."""
    return await execute_write(
        db,
        "UPDATE orders SET state = 'unknown', error = 'the bot stopped while placing this order', "
        "is_final = 1, updated_at = ? WHERE state = 'intent' AND created_at < ?",
        (time.time(), older_than),
    )
