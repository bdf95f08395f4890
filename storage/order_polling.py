"""Order rows as the status poller reads and writes them, 100,000 a cycle.

It selects only the columns it uses (no JSON fields) and writes a cycle's checks and changes in a
few transactions of many rows each; each status change and its alert go into one transaction.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import aiosqlite

from storage.database import transaction
from storage.orders import DUE_ORDERS_TEMPLATE, UPDATE_STATUS_SQL, OrderStatusUpdate, status_params
from storage.outbox import INSERT_MESSAGE_IF, NewMessage, message_params


@dataclass(frozen=True, slots=True)
class PollTarget:
    """What the status poller needs of one due order (a narrow slice of OrderRow)."""

    id: int
    user_id: int
    credential_id: int
    panel_order_id: str
    status: str
    raw_status: str
    remains: int | None
    start_count: int | None
    unchanged_checks: int
    updated_at: float
    last_checked_at: float | None
    service_name: str
    quantity: int | None
    charge: Decimal | None
    currency: str
    can_refill: bool


_POLL_COLUMNS = (
    "o.id, o.user_id, o.credential_id, o.panel_order_id, o.status, o.raw_status, o.remains, "
    "o.start_count, o.unchanged_checks, o.updated_at, o.last_checked_at, o.service_name, "
    "o.quantity, o.charge, o.currency, o.can_refill"
)
_DUE_TARGETS_SQL = (
    DUE_ORDERS_TEMPLATE.format(cols=_POLL_COLUMNS, when="o.next_check_at IS NULL")
    + " AND o.panel_order_id IS NOT NULL UNION ALL "
    + DUE_ORDERS_TEMPLATE.format(cols=_POLL_COLUMNS, when="o.next_check_at <= ?")
    + " AND o.panel_order_id IS NOT NULL"
)


def _target(row: Any) -> PollTarget:
    (
        id_, user_id, credential_id, panel_order_id, status, raw_status, remains, start_count,
        unchanged, updated_at, last_checked_at, service_name, quantity, charge, currency,
        can_refill,
    ) = row  # fmt: skip
    return PollTarget(
        id_, user_id, credential_id, panel_order_id, status, raw_status, remains, start_count,
        unchanged, updated_at, last_checked_at, service_name, quantity,
        None if charge is None else Decimal(charge), currency, bool(can_refill),
    )  # fmt: skip


async def due_poll_targets(db: aiosqlite.Connection, now: float) -> list[PollTarget]:
    """The same orders as `due_orders` (alerts on, a valid key, due), as narrow poll targets."""
    async with db.execute(_DUE_TARGETS_SQL, (now,)) as cursor:
        rows = await cursor.fetchall()
    return [_target(row) for row in rows]


@dataclass(frozen=True, slots=True)
class PolledOrder:
    """One polled status to store, with the alert announcing it if it is news.

    `seen_raw_status` / `seen_remains` are what the poller read before asking the panel: the
    status (and its alert) is written only if the row still holds them, so a /status look-up that
    stored newer news meanwhile is neither overwritten nor announced a second time.
    """

    update: OrderStatusUpdate
    seen_raw_status: str
    seen_remains: int | None
    message: NewMessage | None = None


_STILL_AS_SEEN = " AND raw_status = ? AND remains IS ?"
_ORDER_STILL_AS_SEEN = (
    "EXISTS (SELECT 1 FROM orders WHERE id = ? AND raw_status = ? AND remains IS ?)"
)


async def record_polled_orders(
    db: aiosqlite.Connection, polled: Sequence[PolledOrder], now: float
) -> int:
    """Store polled statuses and queue their alerts in ONE transaction; returns alerts queued.

    Writing the alert with the change is what makes alerts crash-safe: either both are stored
    (and the next poll sees nothing new) or neither (and the next poll sees the change again).
    """
    if not polled:
        return 0
    queued = 0
    async with transaction(db):
        alerts = [
            (
                *message_params(item.message, now),
                item.update.order_row_id,
                item.seen_raw_status,
                item.seen_remains,
            )
            for item in polled
            if item.message is not None
        ]
        if alerts:
            # Before the updates: the condition looks at the row as the poller saw it.
            sql = INSERT_MESSAGE_IF.format(condition=_ORDER_STILL_AS_SEEN)
            async with db.executemany(sql, alerts) as cursor:
                queued = max(cursor.rowcount, 0)
        await db.executemany(
            UPDATE_STATUS_SQL + _STILL_AS_SEEN,
            [
                (*status_params(item.update), item.seen_raw_status, item.seen_remains)
                for item in polled
            ],
        )
    return queued


@dataclass(frozen=True, slots=True)
class NewTrackedOrder:
    """An order id to track in bulk (benchmarks, imports)."""

    user_id: int
    credential_id: int
    panel_url: str
    panel_order_id: str
    service_name: str = ""
    quantity: int | None = None


async def bulk_track(db: aiosqlite.Connection, rows: Sequence[NewTrackedOrder]) -> int:
    """Track many order ids in one transaction (known ones are left alone); returns how many new."""
    if not rows:
        return 0
    now = time.time()
    params = [
        (row.user_id, row.credential_id, row.panel_url, row.panel_order_id, row.service_name,
         row.quantity, now, now)
        for row in rows
    ]  # fmt: skip
    async with (
        transaction(db),
        db.executemany(
            "INSERT INTO orders (user_id, credential_id, panel_url, panel_order_id, state, "
            "service_name, quantity, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, 'tracked', ?, ?, ?, ?) "
            "ON CONFLICT (panel_url, panel_order_id, user_id) DO NOTHING",
            params,
        ) as cursor,
    ):
        return max(cursor.rowcount, 0)
