"""Opening the SQLite database (file mode, pragmas, migrations) and the transaction helper.

Connections run with `isolation_level=None`: every statement outside `transaction(db)` commits on
its own, and `transaction(db)` issues BEGIN IMMEDIATE / COMMIT itself.

One aiosqlite connection is shared by every task of the bot, so a transaction is also guarded by
an asyncio lock: without it, a statement from another task would silently join (and could be
rolled back with) a transaction that is not its own. Writes outside a transaction take the same
lock (`write_lock`). Reads take no lock; a read made while another task's transaction is open on
the same connection sees that transaction's uncommitted rows. A read that must not act on rows
that may still roll back (delivering alerts) uses `fetch_all_committed`, which takes the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import aiosqlite

from storage.migrations import MIGRATIONS

log = logging.getLogger(__name__)

SCHEMA_VERSION: int = len(MIGRATIONS)
BUSY_TIMEOUT_MS = 5000


class SchemaTooNewError(RuntimeError):
    """The database was migrated by a newer version of the bot than this one."""


@dataclass(slots=True, eq=False)
class _TxState:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Identifies the transaction in progress; a task whose context carries it is inside it.
    active: object | None = None


_states: WeakKeyDictionary[aiosqlite.Connection, _TxState] = WeakKeyDictionary()
_in_transaction: ContextVar[object | None] = ContextVar("storage_transaction", default=None)


def _state(db: aiosqlite.Connection) -> _TxState:
    state = _states.get(db)
    if state is None:
        state = _states[db] = _TxState()
    return state


def _inside(state: _TxState) -> bool:
    # Tasks created inside a transaction inherit the context, so they join it instead of
    # deadlocking on the lock their parent holds.
    return state.active is not None and _in_transaction.get() is state.active


@asynccontextmanager
async def transaction(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """Run the block in one BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); nesting is a no-op."""
    state = _state(db)
    if _inside(state):
        yield
        return
    async with state.lock:
        try:
            await db.execute("BEGIN IMMEDIATE")
        except BaseException:
            # Cancelled while queued, BEGIN still runs in aiosqlite's thread: undo it, or the
            # connection stays inside a transaction nobody will ever commit.
            await _rollback(db)
            raise
        marker = object()
        state.active = marker
        reset = _in_transaction.set(marker)
        try:
            try:
                yield
            except BaseException:
                await _rollback(db)
                raise
            try:
                await db.execute("COMMIT")
            except BaseException:
                await _rollback(db)
                raise
        finally:
            state.active = None
            _in_transaction.reset(reset)


async def _rollback(db: aiosqlite.Connection) -> None:
    # Unconditional: statements still queued in aiosqlite's thread run before this one, so
    # `db.in_transaction` read here may be stale. "No transaction is active" is fine.
    try:
        await db.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        if "no transaction is active" not in str(error):
            log.warning("ROLLBACK failed: %s", error)


@asynccontextmanager
async def write_lock(db: aiosqlite.Connection) -> AsyncIterator[None]:
    """Hold the write lock for single autocommit statements (a no-op inside a transaction)."""
    state = _state(db)
    if _inside(state):
        yield
        return
    async with state.lock:
        yield


async def execute_write(db: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()) -> int:
    """Run one writing statement under the write lock; returns the number of rows changed."""
    async with write_lock(db):
        cursor = await db.execute(sql, params)
        count = cursor.rowcount
        await cursor.close()
    return count


async def execute_returning(
    db: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()
) -> Any:
    """Run one writing statement with RETURNING under the write lock; its first row or None."""
    async with write_lock(db), db.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def fetch_one(db: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()) -> Any:
    """The first row of a query, or None."""
    async with db.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def fetch_all(
    db: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()
) -> list[Any]:
    """Every row of a query."""
    async with db.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def fetch_all_committed(
    db: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()
) -> list[Any]:
    """Every row of a query, read under the write lock: no other task's open transaction shows."""
    async with write_lock(db):
        return await fetch_all(db, sql, params)


def split_script(script: str) -> list[str]:
    """Split an SQL script into complete statements (triggers with inner `;` stay whole)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            text = pending.strip()
            if text.strip(";").strip() and not _only_comments(text):
                statements.append(text)
            pending = ""
    if pending.strip() and not _only_comments(pending):
        raise ValueError("SQL script ends with an incomplete statement")
    return statements


def _only_comments(text: str) -> bool:
    lines = (line.strip() for line in text.splitlines())
    return all(not line or line.startswith("--") or line == ";" for line in lines)


def _prepare_file(path: Path) -> None:
    """Create the parent directory and the database file (0600) before SQLite opens it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # The database holds encrypted keys and users' orders: no one else on the host reads it.
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.fchmod(fd, 0o600)
    finally:
        os.close(fd)


def _chmod_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(sidecar, 0o600)


async def _migrate(db: aiosqlite.Connection) -> None:
    async with db.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    version = int(row[0]) if row else 0
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"database schema version {version} is newer than this bot's ({SCHEMA_VERSION})"
        )
    if version == SCHEMA_VERSION:
        return
    async with transaction(db):
        # Re-read under the write lock: another process may have migrated meanwhile.
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        for number in range(version + 1, SCHEMA_VERSION + 1):
            for statement in split_script(MIGRATIONS[number - 1]):
                await db.execute(statement)
            await db.execute(f"PRAGMA user_version = {number:d}")
            log.info("Applied database migration %d", number)


async def open_database(path: Path | str) -> aiosqlite.Connection:
    """Open (creating if missing, mode 0600) the database: WAL, foreign keys, migrations applied."""
    in_memory = str(path) == ":memory:"
    if not in_memory:
        path = Path(path)
        _prepare_file(path)
    db = await aiosqlite.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        await db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
        await db.execute("PRAGMA foreign_keys = ON")
        if not in_memory:
            await db.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL loses at most the last commits on power loss, never consistency.
            await db.execute("PRAGMA synchronous = NORMAL")
        await _migrate(db)
    except BaseException:
        await db.close()
        raise
    if not in_memory:
        _chmod_sidecars(Path(path))
    return db


def decimal_to_text(value: Decimal | None) -> str | None:
    """Store a Decimal as exact text; refuses NaN and infinities."""
    if value is None:
        return None
    if not value.is_finite():
        raise ValueError("money must be a finite Decimal")
    return str(value)


def text_to_decimal(text: str | None) -> Decimal | None:
    """Read a Decimal stored by `decimal_to_text`."""
    return None if text is None else Decimal(text)
