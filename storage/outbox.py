"""The `outbox` table: pushed messages (status alerts) waiting to be delivered, with retries.

A message is queued once per `dedupe_key` ever, so the same change is never announced twice, even
after a restart between queuing and delivery.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import aiosqlite

from storage.database import execute_write, fetch_all_committed

_COLUMNS = (
    "id, user_id, platform, chat_id, payload, dedupe_key, created_at, attempts, next_attempt_at, "
    "delivered_at, failed_at, last_error"
)


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One queued message for one chat."""

    id: int
    user_id: int
    platform: str
    chat_id: str
    payload: dict[str, object]
    dedupe_key: str
    created_at: float
    attempts: int
    next_attempt_at: float
    delivered_at: float | None
    failed_at: float | None
    last_error: str | None


def _message(row: Any) -> OutboxRow:
    (id_, user_id, platform, chat_id, payload, dedupe_key, created_at, attempts, next_at,
     delivered_at, failed_at, last_error) = row  # fmt: skip
    return OutboxRow(
        id_, user_id, platform, chat_id, json.loads(payload), dedupe_key, created_at, attempts,
        next_at, delivered_at, failed_at, last_error,
    )  # fmt: skip


async def enqueue(
    db: aiosqlite.Connection,
    *,
    user_id: int,
    platform: str,
    chat_id: str,
    payload: dict[str, object],
    dedupe_key: str,
) -> bool:
    """Queue a message for delivery now; False if this dedupe_key was ever queued before."""
    now = time.time()
    changed = await execute_write(
        db,
        "INSERT INTO outbox (user_id, platform, chat_id, payload, dedupe_key, created_at, "
        "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING",
        (user_id, platform, chat_id, json.dumps(payload), dedupe_key, now, now),
    )
    return changed == 1


async def due_messages(db: aiosqlite.Connection, now: float, limit: int = 100) -> list[OutboxRow]:
    """Undelivered, not given-up, committed messages whose next attempt is due, oldest first."""
    # Under the write lock: on the shared connection an unlocked read would also see the rows of
    # another task's open transaction, which may still roll back after the alert went out.
    rows = await fetch_all_committed(
        db,
        f"SELECT {_COLUMNS} FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ? "
        "AND failed_at IS NULL ORDER BY next_attempt_at, id LIMIT ?",
        (now, limit),
    )
    return [_message(row) for row in rows]


# `id` is reused once its row is deleted (a user turning alerts off, a pruned row), so a caller
# holding an OutboxRow passes its dedupe_key too: a late update then never touches a newer message
# that got the same id.
_THIS_ROW = "id = ? AND (? IS NULL OR dedupe_key = ?)"


async def mark_delivered(
    db: aiosqlite.Connection,
    message_id: int,
    delivered_at: float,
    *,
    dedupe_key: str | None = None,
) -> bool:
    """The platform accepted the message; False if no such (undelivered) row exists any more."""
    changed = await execute_write(
        db,
        "UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 "
        f"WHERE {_THIS_ROW} AND delivered_at IS NULL",
        (delivered_at, message_id, dedupe_key, dedupe_key),
    )
    return changed == 1


async def mark_retry(
    db: aiosqlite.Connection,
    message_id: int,
    *,
    error: str,
    next_attempt_at: float,
    dedupe_key: str | None = None,
) -> None:
    """Sending failed for now (rate limit, network); try again at `next_attempt_at`."""
    await execute_write(
        db,
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? "
        f"WHERE {_THIS_ROW}",
        (error, next_attempt_at, message_id, dedupe_key, dedupe_key),
    )


async def mark_failed(
    db: aiosqlite.Connection, message_id: int, error: str, *, dedupe_key: str | None = None
) -> None:
    """Give up on the message (the user blocked the bot, the chat is gone)."""
    await execute_write(
        db,
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?, failed_at = ? "
        f"WHERE {_THIS_ROW}",
        (error, time.time(), message_id, dedupe_key, dedupe_key),
    )


async def drop_user_messages(db: aiosqlite.Connection, user_id: int) -> int:
    """Delete the user's undelivered messages (alerts switched off); returns how many."""
    return await execute_write(
        db,
        "DELETE FROM outbox WHERE user_id = ? AND delivered_at IS NULL AND failed_at IS NULL",
        (user_id,),
    )


async def prune_outbox(db: aiosqlite.Connection, older_than: float) -> int:
    """Delete delivered or given-up messages created before `older_than`; returns how many.

    Their dedupe keys are forgotten too, so keep them longer than a change could recur.
    """
    return await execute_write(
        db,
        "DELETE FROM outbox WHERE created_at < ? "
        "AND (delivered_at IS NOT NULL OR failed_at IS NOT NULL)",
        (older_than,),
    )


# --- queuing with an explicit clock (used by the alert poller, in the same transaction as the
# status change it announces) ---------------------------------------------------------------------

INSERT_MESSAGE = (
    "INSERT INTO outbox (user_id, platform, chat_id, payload, dedupe_key, created_at, "
    "next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dedupe_key) DO NOTHING"
)
# The same insert, made only while a condition (appended by the caller, with its parameters after
# these seven) still holds; `WHERE` before `ON CONFLICT` also keeps SQLite's upsert parser happy.
INSERT_MESSAGE_IF = (
    "INSERT INTO outbox (user_id, platform, chat_id, payload, dedupe_key, created_at, "
    "next_attempt_at) SELECT ?, ?, ?, ?, ?, ?, ? WHERE {condition} "
    "ON CONFLICT (dedupe_key) DO NOTHING"
)


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to queue: whose it is, where it goes, what it says, and its once-only key."""

    user_id: int
    platform: str
    chat_id: str
    payload: dict[str, object]
    dedupe_key: str


def message_params(message: NewMessage, now: float) -> tuple[object, ...]:
    """The seven parameters of INSERT_MESSAGE / INSERT_MESSAGE_IF for `message`, due at `now`."""
    return (
        message.user_id, message.platform, message.chat_id, json.dumps(message.payload),
        message.dedupe_key, now, now,
    )  # fmt: skip


async def enqueue_at(db: aiosqlite.Connection, message: NewMessage, now: float) -> bool:
    """Queue `message` as created and due at `now`; False if its dedupe_key was queued before."""
    return await execute_write(db, INSERT_MESSAGE, message_params(message, now)) == 1


async def user_messages(db: aiosqlite.Connection, user_id: int) -> list[OutboxRow]:
    """Every message of the user in the outbox (delivered, failed or waiting), oldest first."""
    async with db.execute(
        f"SELECT {_COLUMNS} FROM outbox WHERE user_id = ? ORDER BY id", (user_id,)
    ) as cursor:
        rows = await cursor.fetchall()
    return [_message(row) for row in rows]


async def count_messages(db: aiosqlite.Connection, *, delivered: bool | None = None) -> int:
    """How many messages the outbox holds (None: all; True: delivered; False: not yet)."""
    where = {None: "1", True: "delivered_at IS NOT NULL", False: "delivered_at IS NULL"}[delivered]
    async with db.execute(f"SELECT COUNT(*) FROM outbox WHERE {where}") as cursor:
        row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def postpone_user_messages(
    db: aiosqlite.Connection, user_id: int, next_attempt_at: float
) -> int:
    """Hold back the user's waiting messages until at least `next_attempt_at` (attempts unchanged).

    Used when one of them could not be sent, so the later ones do not overtake it.
    """
    return await execute_write(
        db,
        "UPDATE outbox SET next_attempt_at = MAX(next_attempt_at, ?) "
        "WHERE user_id = ? AND delivered_at IS NULL AND failed_at IS NULL",
        (next_attempt_at, user_id),
    )
