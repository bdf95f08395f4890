"""The SQLite storage layer, against real database files in tmp_path."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import aiosqlite
import pytest

from storage import actions, conversations, credentials, meta, orders, outbox, refills, users
from storage import database as database_module
from storage.database import SCHEMA_VERSION, SchemaTooNewError, open_database, transaction
from storage.migrations import MIGRATIONS
from storage.orders import OrderStatusUpdate

PANEL = "https://panel.example/api/v2"
OTHER_PANEL = "https://other.example/api/v2"
TABLES = {"users", "credentials", "orders", "refills", "conversations", "actions", "outbox", "meta"}


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A fresh database file."""
    connection = await open_database(tmp_path / "data" / "bot.sqlite3")
    yield connection
    await connection.close()


async def _scalar(db: aiosqlite.Connection, sql: str, params: tuple[object, ...] = ()) -> object:
    async with db.execute(sql, params) as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return row[0]


async def _tables(db: aiosqlite.Connection) -> set[str]:
    async with db.execute("SELECT name FROM sqlite_master WHERE type = 'table'") as cursor:
        return {row[0] for row in await cursor.fetchall()}


async def _user(db: aiosqlite.Connection, name: str = "1") -> users.UserRow:
    return await users.get_or_create_user(db, "telegram", name, chat_id=f"chat-{name}")


async def _credential(
    db: aiosqlite.Connection, user_id: int, panel: str = PANEL
) -> credentials.CredentialRow:
    return await credentials.upsert_credential(
        db, user_id, panel, b"secret:" + panel.encode(), "a1b2"
    )


async def _intent(
    db: aiosqlite.Connection, user_id: int, credential_id: int | None, token: str
) -> orders.OrderRow:
    row = await orders.create_intent(
        db,
        user_id=user_id,
        credential_id=credential_id,
        panel_url=PANEL,
        intent_token=token,
        service_id="12",
        service_name="Likes",
        service_type="Default",
        link="https://example.com/p/1",
        quantity=1000,
        fields={"link": "https://example.com/p/1", "quantity": 1000},
        cost=Decimal("1.2500"),
        currency="USD",
        can_refill=True,
        can_cancel=False,
    )
    assert row is not None
    return row


async def _placed(
    db: aiosqlite.Connection, user_id: int, credential_id: int | None, panel_id: str
) -> orders.OrderRow:
    row = await _intent(db, user_id, credential_id, f"token-{user_id}-{panel_id}")
    await orders.mark_placed(db, row.id, panel_id)
    placed = await orders.get_user_order(db, user_id, PANEL, panel_id)
    assert placed is not None
    return placed


# --- database file, pragmas, migrations --------------------------------------------------------


async def test_open_creates_directory_and_private_file(tmp_path: Path) -> None:
    """The parent dir and file appear, 0600 (WAL sidecars too), with WAL and foreign keys on."""
    path = tmp_path / "deep" / "er" / "bot.sqlite3"
    db = await open_database(path)
    try:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert await _scalar(db, "PRAGMA journal_mode") == "wal"
        assert await _scalar(db, "PRAGMA foreign_keys") == 1
        assert await _scalar(db, "PRAGMA busy_timeout") == database_module.BUSY_TIMEOUT_MS
        assert await _scalar(db, "PRAGMA user_version") == SCHEMA_VERSION
        assert await _tables(db) >= TABLES
        await meta.set_meta(db, "k", "v")
    finally:
        await db.close()
    reopened = await open_database(path)
    try:
        for suffix in ("-wal", "-shm"):
            sidecar = path.with_name(path.name + suffix)
            if sidecar.exists():
                assert stat.S_IMODE(sidecar.stat().st_mode) == 0o600
    finally:
        await reopened.close()


async def test_open_tightens_existing_file_mode(tmp_path: Path) -> None:
    """A database file left world-readable is made private on start-up."""
    path = tmp_path / "bot.sqlite3"
    path.touch(mode=0o644)
    path.chmod(0o644)
    db = await open_database(path)
    await db.close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_empty_file_gets_every_migration_and_rerun_is_a_no_op(tmp_path: Path) -> None:
    """user_version tracks migrations; reopening keeps data and applies nothing twice."""
    path = tmp_path / "bot.sqlite3"
    path.write_bytes(b"")
    db = await open_database(path)
    try:
        user = await _user(db)
        schema = await _scalar(db, "SELECT group_concat(sql, ';') FROM sqlite_master")
    finally:
        await db.close()
    again = await open_database(path)
    try:
        assert await _scalar(again, "PRAGMA user_version") == SCHEMA_VERSION
        assert await _scalar(again, "SELECT group_concat(sql, ';') FROM sqlite_master") == schema
        assert await users.get_user_by_id(again, user.id) == user
    finally:
        await again.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    """A database migrated by a newer bot is not touched."""
    path = tmp_path / "bot.sqlite3"
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(SchemaTooNewError):
        await open_database(path)


async def test_failed_migration_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A migration is all or nothing: its tables and the version bump roll back together."""
    path = tmp_path / "bot.sqlite3"
    await (await open_database(path)).close()
    broken = "CREATE TABLE half_done (x);\nINSERT INTO no_such_table VALUES (1);\n"
    monkeypatch.setattr(database_module, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(database_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(sqlite3.OperationalError, match="no_such_table"):
        await open_database(path)
    raw = sqlite3.connect(path)
    try:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        names = {row[0] for row in raw.execute("SELECT name FROM sqlite_master")}
        assert "half_done" not in names
    finally:
        raw.close()


def test_split_script_keeps_triggers_whole() -> None:
    """Statements split on complete `;`, not on the ones inside a trigger body."""
    script = (
        "-- a comment\nCREATE TABLE a (x);\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = 1;\n  SELECT 1;\nEND;\n"
        "\n-- trailing comment\n"
    )
    statements = database_module.split_script(script)
    assert len(statements) == 2
    assert statements[1].startswith("CREATE TRIGGER") and statements[1].endswith("END;")
    with pytest.raises(ValueError, match="incomplete"):
        database_module.split_script("CREATE TABLE b (x)")


async def test_foreign_keys_cascade_on_user_delete(db: aiosqlite.Connection) -> None:
    """Forgetting a user removes everything that belongs to them, and nothing else."""
    user, other = await _user(db, "1"), await _user(db, "2")
    for owner in (user, other):
        credential = await _credential(db, owner.id)
        order = await _placed(db, owner.id, credential.id, f"9{owner.id}")
        await refills.add_refill(
            db,
            user_id=owner.id,
            order_row_id=order.id,
            panel_url=PANEL,
            credential_id=credential.id,
            panel_order_id=order.panel_order_id or "",
            panel_refill_id=f"r{owner.id}",
        )
        await conversations.save_conversation(db, owner.id, {"step": "link"})
        await actions.put_action(db, owner.id, {"x": 1})
        await outbox.enqueue(
            db,
            user_id=owner.id,
            platform="telegram",
            chat_id="c",
            payload={},
            dedupe_key=str(owner.id),
        )
    await users.delete_user(db, user.id)
    assert await users.get_user_by_id(db, user.id) is None
    for table in ("credentials", "orders", "refills", "conversations", "actions", "outbox"):
        count = f"SELECT COUNT(*) FROM {table} WHERE user_id = ?"
        assert await _scalar(db, count, (user.id,)) == 0
        assert await _scalar(db, count, (other.id,)) == 1


async def test_foreign_keys_refuse_orphans(db: aiosqlite.Connection) -> None:
    """Rows for a user that does not exist are refused (foreign_keys is on for this connection)."""
    with pytest.raises(sqlite3.IntegrityError):
        await conversations.save_conversation(db, 999, {})


# --- transactions --------------------------------------------------------------------------------


async def test_transaction_commits_rolls_back_and_nests(db: aiosqlite.Connection) -> None:
    """COMMIT on success, ROLLBACK on error; an inner transaction is part of the outer one."""
    async with transaction(db):
        await meta.set_meta(db, "a", "1")
        async with transaction(db):
            await meta.set_meta(db, "b", "2")
    assert await meta.get_meta(db, "a") == "1"
    assert await meta.get_meta(db, "b") == "2"
    with pytest.raises(LookupError):
        async with transaction(db):
            await meta.set_meta(db, "c", "3")
            async with transaction(db):
                await meta.set_meta(db, "d", "4")
            raise LookupError
    assert await meta.get_meta(db, "c") is None
    assert await meta.get_meta(db, "d") is None
    assert not db.in_transaction


async def test_other_tasks_do_not_join_an_open_transaction(db: aiosqlite.Connection) -> None:
    """A write from another task waits for the transaction instead of being rolled back with it."""
    started, release = asyncio.Event(), asyncio.Event()

    async def failing_transaction() -> None:
        async with transaction(db):
            await meta.set_meta(db, "inside", "1")
            started.set()
            await release.wait()
            raise LookupError

    holder = asyncio.create_task(failing_transaction())
    await asyncio.wait_for(started.wait(), 5)
    writer = asyncio.create_task(meta.set_meta(db, "outside", "1"))
    # The writer must still be blocked behind the open transaction.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(writer), 0.2)
    release.set()
    with pytest.raises(LookupError):
        await holder
    await asyncio.wait_for(writer, 5)
    assert await meta.get_meta(db, "inside") is None
    assert await meta.get_meta(db, "outside") == "1"


@pytest.mark.parametrize("yields_before_cancel", [1, 2, 3, 10])
async def test_cancelled_transaction_leaves_the_connection_clean(
    tmp_path: Path, yields_before_cancel: int
) -> None:
    """Cancelled at BEGIN or mid-body, nothing stays open and later writes really commit."""
    path = tmp_path / "bot.sqlite3"
    db = await open_database(path)
    try:
        never = asyncio.Event()

        async def doomed() -> None:
            async with transaction(db):
                await meta.set_meta(db, "doomed", "1")
                await never.wait()

        task = asyncio.create_task(doomed())
        for _ in range(yields_before_cancel):
            await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await meta.set_meta(db, "after", "1")
        assert await meta.get_meta(db, "doomed") is None
        assert not db.in_transaction
        raw = sqlite3.connect(path)
        try:
            assert raw.execute("SELECT value FROM meta WHERE key = 'after'").fetchall() == [("1",)]
        finally:
            raw.close()
    finally:
        await db.close()


async def test_tasks_spawned_inside_a_transaction_join_it(db: aiosqlite.Connection) -> None:
    """gather() inside a transaction does not deadlock on the lock its parent holds."""

    async def body() -> None:
        async with transaction(db):
            await asyncio.gather(meta.set_meta(db, "x", "1"), meta.set_meta(db, "y", "2"))

    await asyncio.wait_for(body(), 5)
    assert await meta.get_meta(db, "x") == "1"
    assert await meta.get_meta(db, "y") == "2"


# --- users ---------------------------------------------------------------------------------------


async def test_users(db: aiosqlite.Connection) -> None:
    """Create once, update chat / name only when given, preferences round-trip."""
    assert await users.get_user(db, "telegram", "42") is None
    created = await users.get_or_create_user(db, "telegram", "42", chat_id="42", display_name="Ann")
    assert (created.platform, created.platform_user_id, created.chat_id) == ("telegram", "42", "42")
    assert created.alerts_enabled and not created.low_balance_alerted
    assert created.low_balance_threshold is None and created.last_balance_check_at is None
    same = await users.get_or_create_user(db, "telegram", "42")
    assert same == created
    renamed = await users.get_or_create_user(db, "telegram", "42", display_name="Anna")
    assert (renamed.id, renamed.chat_id, renamed.display_name) == (created.id, "42", "Anna")
    other_platform = await users.get_or_create_user(db, "discord", "42")
    assert other_platform.id != created.id
    assert await users.get_user(db, "telegram", "42") == renamed

    await users.set_alerts_enabled(db, created.id, False)
    await users.set_low_balance_alerted(db, created.id, True, checked_at=123.5)
    row = await users.get_user_by_id(db, created.id)
    assert row is not None
    assert not row.alerts_enabled and row.low_balance_alerted and row.last_balance_check_at == 123.5
    await users.set_low_balance_alerted(db, created.id, True)
    row = await users.get_user_by_id(db, created.id)
    assert row is not None and row.last_balance_check_at == 123.5

    await users.set_low_balance_threshold(db, created.id, Decimal("10.50"))
    row = await users.get_user_by_id(db, created.id)
    assert row is not None
    assert row.low_balance_threshold == Decimal("10.50")
    assert str(row.low_balance_threshold) == "10.50"
    assert not row.low_balance_alerted, "a new threshold re-arms the alert"
    await users.set_low_balance_threshold(db, created.id, None)
    row = await users.get_user_by_id(db, created.id)
    assert row is not None and row.low_balance_threshold is None
    with pytest.raises(ValueError, match="finite"):
        await users.set_low_balance_threshold(db, created.id, Decimal("NaN"))
    assert await users.get_user_by_id(db, 9999) is None


# --- credentials ---------------------------------------------------------------------------------


async def _active_ids(db: aiosqlite.Connection, user_id: int) -> list[int]:
    return [row.id for row in await credentials.list_credentials(db, user_id) if row.is_active]


async def test_credentials_one_active_and_replacement(db: aiosqlite.Connection) -> None:
    """A new key is active; replacing a panel's key keeps the row and clears `invalid`."""
    user = await _user(db)
    assert await credentials.get_active_credential(db, user.id) is None
    first = await _credential(db, user.id, PANEL)
    assert first.is_active and not first.invalid and first.hint == "a1b2"
    second = await _credential(db, user.id, OTHER_PANEL)
    assert await _active_ids(db, user.id) == [second.id]
    await credentials.mark_credential_invalid(db, first.id, True)
    replaced = await credentials.upsert_credential(db, user.id, PANEL, b"new", "zz99")
    assert replaced.id == first.id
    assert (replaced.ciphertext, replaced.hint, replaced.is_active, replaced.invalid) == (
        b"new",
        "zz99",
        True,
        False,
    )
    assert await _active_ids(db, user.id) == [first.id]
    assert len(await credentials.list_credentials(db, user.id)) == 2
    assert "new" not in repr(replaced), "ciphertext stays out of repr"


async def test_the_database_refuses_two_active_keys(db: aiosqlite.Connection) -> None:
    """The partial unique index guards the one-active rule even against stray SQL."""
    user = await _user(db)
    await _credential(db, user.id, PANEL)
    await _credential(db, user.id, OTHER_PANEL)
    with pytest.raises(sqlite3.IntegrityError):
        await db.execute("UPDATE credentials SET is_active = 1 WHERE user_id = ?", (user.id,))


async def test_activate_and_delete_check_ownership(db: aiosqlite.Connection) -> None:
    """Another user's key can be neither activated nor deleted; deleting the active one moves on."""
    user, intruder = await _user(db, "1"), await _user(db, "2")
    first = await _credential(db, user.id, PANEL)
    second = await _credential(db, user.id, OTHER_PANEL)
    third = await _credential(db, user.id, "https://third.example/api/v2")
    intruder_key = await _credential(db, intruder.id, PANEL)

    assert not await credentials.activate_credential(db, intruder.id, first.id)
    assert not await credentials.delete_credential(db, intruder.id, first.id)
    assert not await credentials.activate_credential(db, user.id, 99999)
    assert await _active_ids(db, user.id) == [third.id]
    assert await _active_ids(db, intruder.id) == [intruder_key.id]

    assert await credentials.activate_credential(db, user.id, first.id)
    assert await _active_ids(db, user.id) == [first.id]
    assert await credentials.activate_credential(db, user.id, first.id), "idempotent"

    assert await credentials.delete_credential(db, user.id, second.id)
    assert await _active_ids(db, user.id) == [first.id], "deleting an inactive key moves nothing"
    assert await credentials.delete_credential(db, user.id, first.id)
    assert await _active_ids(db, user.id) == [third.id]
    assert await credentials.delete_credential(db, user.id, third.id)
    assert await credentials.list_credentials(db, user.id) == []
    assert await credentials.get_active_credential(db, user.id) is None
    assert await credentials.get_credential(db, intruder_key.id) == intruder_key


async def test_credentials_for_rotation(db: aiosqlite.Connection) -> None:
    """all_credentials lists every user's keys; replace_ciphertext swaps only the value."""
    one, two = await _user(db, "1"), await _user(db, "2")
    a, b = await _credential(db, one.id), await _credential(db, two.id)
    assert [row.id for row in await credentials.all_credentials(db)] == [a.id, b.id]
    await credentials.replace_ciphertext(db, a.id, b"rotated")
    after = await credentials.get_credential(db, a.id)
    assert after is not None
    assert after.ciphertext == b"rotated"
    assert (after.hint, after.updated_at, after.is_active) == (a.hint, a.updated_at, a.is_active)
    await credentials.mark_credential_invalid(db, b.id, True)
    flagged = await credentials.get_credential(db, b.id)
    assert flagged is not None and flagged.invalid


# --- orders --------------------------------------------------------------------------------------


async def test_intent_lifecycle(db: aiosqlite.Connection) -> None:
    """A confirm token makes one row; placed / unknown / failed move it along."""
    user = await _user(db)
    key = await _credential(db, user.id)
    intent = await _intent(db, user.id, key.id, "tok-1")
    assert intent.state == "intent" and intent.panel_order_id is None
    assert intent.fields == {"link": "https://example.com/p/1", "quantity": 1000}
    assert intent.cost == Decimal("1.2500") and str(intent.cost) == "1.2500"
    assert intent.can_refill and not intent.can_cancel and not intent.is_final
    again = await orders.create_intent(
        db, user_id=user.id, credential_id=key.id, panel_url=PANEL, intent_token="tok-1",
        service_id="99", service_name="Other", service_type="Default", link="x", quantity=1,
        fields={}, cost=None, currency="USD", can_refill=False, can_cancel=False,
    )  # fmt: skip
    assert again is None, "a second confirm must not create a second order"
    assert await orders.get_order_by_token(db, "tok-1", user_id=user.id) == intent
    assert await orders.get_order_by_token(db, "nope", user_id=user.id) is None
    assert await orders.get_order_by_token(db, "tok-1", user_id=user.id + 1) is None

    await orders.mark_placed(db, intent.id, "5001")
    placed = await orders.get_order_by_token(db, "tok-1", user_id=user.id)
    assert placed is not None
    assert (placed.state, placed.panel_order_id, placed.next_check_at) == ("placed", "5001", None)

    unknown = await _intent(db, user.id, key.id, "tok-2")
    await orders.mark_unknown(db, unknown.id, "timeout")
    row = await orders.get_order(db, unknown.id)
    assert row is not None and (row.state, row.error, row.is_final) == ("unknown", "timeout", True)

    failed = await _intent(db, user.id, key.id, "tok-3")
    await orders.mark_failed(db, failed.id, "Not enough funds on balance")
    row = await orders.get_order(db, failed.id)
    assert row is not None and (row.state, row.is_final) == ("failed", True)
    assert row.error == "Not enough funds on balance"


async def test_track_order_and_owners(db: aiosqlite.Connection) -> None:
    """Tracking is idempotent per user; the same panel id can belong to several users."""
    one, two = await _user(db, "1"), await _user(db, "2")
    key_one, key_two = await _credential(db, one.id), await _credential(db, two.id)
    tracked = await orders.track_order(
        db, user_id=one.id, credential_id=key_one.id, panel_url=PANEL, panel_order_id="777"
    )
    assert tracked.state == "tracked" and tracked.fields == {} and tracked.cost is None
    again = await orders.track_order(
        db, user_id=one.id, credential_id=key_one.id, panel_url=PANEL, panel_order_id="777"
    )
    assert again == tracked
    await orders.track_order(
        db, user_id=two.id, credential_id=key_two.id, panel_url=PANEL, panel_order_id="777"
    )
    assert await orders.find_order_owner(db, PANEL, "777") == [one.id, two.id]
    assert await orders.find_order_owner(db, OTHER_PANEL, "777") == []
    assert await orders.get_user_order(db, one.id, PANEL, "777") == tracked
    assert await orders.get_user_order(db, one.id, OTHER_PANEL, "777") is None

    await orders.set_order_service(
        db, tracked.id, service_id="3", service_name="Views", service_type="Default",
        can_refill=False, can_cancel=True,
    )  # fmt: skip
    row = await orders.get_order(db, tracked.id)
    assert row is not None
    assert (row.service_id, row.service_name, row.can_refill, row.can_cancel) == (
        "3", "Views", False, True,
    )  # fmt: skip

    # Deleting the key leaves the order without one; tracking it again with a new key adopts it.
    await credentials.delete_credential(db, one.id, key_one.id)
    orphan = await orders.get_order(db, tracked.id)
    assert orphan is not None and orphan.credential_id is None
    new_key = await _credential(db, one.id, OTHER_PANEL)
    adopted = await orders.track_order(
        db, user_id=one.id, credential_id=new_key.id, panel_url=PANEL, panel_order_id="777"
    )
    assert (adopted.id, adopted.credential_id) == (tracked.id, new_key.id)


async def test_placing_an_id_already_tracked_keeps_one_row(db: aiosqlite.Connection) -> None:
    """If the user tracked the new id by hand first, the placed row replaces the tracked one."""
    user = await _user(db)
    key = await _credential(db, user.id)
    await orders.track_order(
        db, user_id=user.id, credential_id=key.id, panel_url=PANEL, panel_order_id="8080"
    )
    intent = await _intent(db, user.id, key.id, "tok")
    await orders.mark_placed(db, intent.id, "8080")
    assert await orders.find_order_owner(db, PANEL, "8080") == [user.id]
    row = await orders.get_user_order(db, user.id, PANEL, "8080")
    assert row is not None and row.id == intent.id and row.state == "placed"


async def test_status_updates(db: aiosqlite.Connection) -> None:
    """One update and a batch: counters, final flag, and a known charge kept when omitted."""
    user = await _user(db)
    key = await _credential(db, user.id)
    first, second = await _placed(db, user.id, key.id, "1"), await _placed(db, user.id, key.id, "2")
    await orders.update_order_status(
        db, first.id, status="in_progress", raw_status="In progress", charge=Decimal("0.90"),
        remains=500, start_count=None, currency="USD", is_final=False, checked_at=1000.0,
        next_check_at=1120.0, changed=True,
    )  # fmt: skip
    row = await orders.get_order(db, first.id)
    assert row is not None
    assert (row.status, row.raw_status, row.charge, row.remains, row.start_count) == (
        "in_progress", "In progress", Decimal("0.90"), 500, None,
    )  # fmt: skip
    assert (row.updated_at, row.last_checked_at, row.next_check_at) == (1000.0, 1000.0, 1120.0)
    assert row.unchanged_checks == 0

    await orders.update_order_statuses(
        db,
        [
            OrderStatusUpdate(first.id, "in_progress", "In progress", None, 500, 7, None, False,
                              1200.0, 1500.0, False),
            OrderStatusUpdate(second.id, "completed", "Completed", Decimal("2"), 0, 10, "EUR", True,
                              1200.0, None, True),
        ],
    )  # fmt: skip
    row = await orders.get_order(db, first.id)
    assert row is not None
    assert row.charge == Decimal("0.90") and row.currency == "USD", "omitted values are kept"
    assert (row.start_count, row.unchanged_checks, row.updated_at) == (7, 1, 1000.0)
    assert row.last_checked_at == 1200.0
    done = await orders.get_order(db, second.id)
    assert done is not None
    assert (done.status, done.is_final, done.charge, done.currency) == (
        "completed", True, Decimal("2"), "EUR",
    )  # fmt: skip
    await orders.update_order_statuses(db, [])


async def test_batch_update_is_atomic(db: aiosqlite.Connection) -> None:
    """Inside a failing transaction the whole batch rolls back."""
    user = await _user(db)
    key = await _credential(db, user.id)
    row = await _placed(db, user.id, key.id, "1")
    update = OrderStatusUpdate(row.id, "x", "X", None, 1, 1, None, True, 5.0, None, True)
    with pytest.raises(LookupError):
        async with transaction(db):
            await orders.update_order_statuses(db, [update])
            raise LookupError
    assert await orders.get_order(db, row.id) == row


async def test_listing_and_counting_orders(db: aiosqlite.Connection) -> None:
    """Newest first, pages, active filter, per user."""
    user, other = await _user(db, "1"), await _user(db, "2")
    key = await _credential(db, user.id)
    made = [await _placed(db, user.id, key.id, str(n)) for n in range(5)]
    await _placed(db, other.id, None, "100")
    await orders.update_order_status(
        db, made[1].id, status="completed", raw_status="Completed", charge=None, remains=0,
        start_count=0, currency=None, is_final=True, checked_at=1.0, next_check_at=None,
        changed=True,
    )  # fmt: skip
    newest_first = [row.id for row in reversed(made)]
    assert [r.id for r in await orders.list_user_orders(db, user.id)] == newest_first
    page = await orders.list_user_orders(db, user.id, limit=2, offset=2)
    assert [r.id for r in page] == newest_first[2:4]
    active = await orders.list_user_orders(db, user.id, active_only=True)
    assert made[1].id not in [r.id for r in active] and len(active) == 4
    assert await orders.count_user_orders(db, user.id) == 5
    assert await orders.count_user_orders(db, user.id, active_only=True) == 4
    assert await orders.count_user_orders(db, 12345) == 0


async def test_due_orders_filters(db: aiosqlite.Connection) -> None:
    """Only non-final placed/tracked orders of users with alerts on and a valid key, when due."""
    now = 10_000.0
    user, muted, rejected = await _user(db, "1"), await _user(db, "2"), await _user(db, "3")
    key = await _credential(db, user.id)
    spare = await _credential(db, user.id, OTHER_PANEL)
    muted_key, bad_key = await _credential(db, muted.id), await _credential(db, rejected.id)
    await users.set_alerts_enabled(db, muted.id, False)
    await credentials.mark_credential_invalid(db, bad_key.id, True)

    async def check(row: orders.OrderRow, next_check_at: float | None, final: bool = False) -> None:
        await orders.update_order_status(
            db, row.id, status="pending", raw_status="Pending", charge=None, remains=None,
            start_count=None, currency=None, is_final=final, checked_at=1.0,
            next_check_at=next_check_at, changed=False,
        )  # fmt: skip

    never_checked = await _placed(db, user.id, key.id, "1")
    overdue = await _placed(db, user.id, key.id, "2")
    await check(overdue, now - 50)
    exactly_due = await orders.track_order(
        db, user_id=user.id, credential_id=key.id, panel_url=PANEL, panel_order_id="3"
    )
    await check(exactly_due, now)
    later = await _placed(db, user.id, key.id, "4")
    await check(later, now + 1)
    final = await _placed(db, user.id, key.id, "5")
    await check(final, None, final=True)
    await _intent(db, user.id, key.id, "still-intent")
    unknown = await _intent(db, user.id, key.id, "unknown")
    await orders.mark_unknown(db, unknown.id, "timeout")
    await _placed(db, muted.id, muted_key.id, "6")
    await _placed(db, rejected.id, bad_key.id, "7")
    keyless = await _placed(db, user.id, spare.id, "8")
    await credentials.delete_credential(db, user.id, spare.id)

    due = await orders.due_orders(db, now)
    assert [row.id for row in due] == [never_checked.id, overdue.id, exactly_due.id]
    assert keyless.id not in [row.id for row in due]
    assert [row.id for row in await orders.due_orders(db, now, limit=2)] == [
        never_checked.id, overdue.id,
    ]  # fmt: skip
    await credentials.mark_credential_invalid(db, bad_key.id, False)
    assert len(await orders.due_orders(db, now)) == 4, "a replaced / revalidated key polls again"


async def test_due_orders_uses_the_poller_index(db: aiosqlite.Connection) -> None:
    """The poller's query searches (is_final, next_check_at) instead of scanning every order."""
    async with db.execute("EXPLAIN QUERY PLAN " + orders._DUE_ORDERS_SQL, (1.0,)) as cursor:
        plan = " | ".join(row[3] for row in await cursor.fetchall())
    assert plan.count("USING INDEX orders_due") == 2, plan
    assert "SCAN o" not in plan and "TEMP B-TREE" not in plan, plan


# --- refills -------------------------------------------------------------------------------------


async def test_refills(db: aiosqlite.Connection) -> None:
    """Add (idempotent), look up per user, update, list newest first, and poll when due."""
    user, muted = await _user(db, "1"), await _user(db, "2")
    key, muted_key = await _credential(db, user.id), await _credential(db, muted.id)
    await users.set_alerts_enabled(db, muted.id, False)
    order = await _placed(db, user.id, key.id, "50")

    async def add(owner: int, credential: int | None, refill_id: str) -> refills.RefillRow:
        return await refills.add_refill(
            db, user_id=owner, order_row_id=order.id if owner == user.id else None,
            panel_url=PANEL, credential_id=credential, panel_order_id="50",
            panel_refill_id=refill_id,
        )  # fmt: skip

    first = await add(user.id, key.id, "r1")
    assert (first.order_id, first.panel_order_id, first.status, first.is_final) == (
        order.id, "50", "", False,
    )  # fmt: skip
    assert await add(user.id, key.id, "r1") == first
    second = await add(user.id, key.id, "r2")
    await add(muted.id, muted_key.id, "r1")
    assert await refills.get_user_refill(db, user.id, PANEL, "r1") == first
    assert await refills.get_user_refill(db, user.id, OTHER_PANEL, "r1") is None

    await refills.update_refill_status(
        db, second.id, status="completed", raw_status="Completed", is_final=True, error=None,
        checked_at=50.0, next_check_at=None, changed=True,
    )  # fmt: skip
    await refills.update_refill_status(
        db, first.id, status="pending", raw_status="Pending", is_final=False, error=None,
        checked_at=60.0, next_check_at=200.0, changed=False,
    )  # fmt: skip
    row = await refills.get_user_refill(db, user.id, PANEL, "r1")
    assert row is not None
    assert (row.unchanged_checks, row.last_checked_at, row.next_check_at) == (1, 60.0, 200.0)
    assert row.updated_at == first.updated_at

    assert await refills.due_refills(db, 199.0) == []
    assert [r.id for r in await refills.due_refills(db, 200.0)] == [first.id]
    assert [r.id for r in await refills.list_user_refills(db, user.id)] == [second.id, first.id]
    assert [r.id for r in await refills.list_user_refills(db, user.id, limit=1)] == [second.id]
    await credentials.mark_credential_invalid(db, key.id, True)
    assert await refills.due_refills(db, 200.0) == []


# --- conversations, actions, outbox, meta --------------------------------------------------------


async def test_conversations_expire(db: aiosqlite.Connection) -> None:
    """A saved state comes back until it is older than max_age; then it is gone for good."""
    user = await _user(db)
    assert await conversations.load_conversation(db, user.id, max_age=60) is None
    await conversations.save_conversation(db, user.id, {"step": "quantity", "service": "12"})
    await conversations.save_conversation(db, user.id, {"step": "link", "n": [1, 2]})
    assert await conversations.load_conversation(db, user.id, max_age=60) == {
        "step": "link", "n": [1, 2],
    }  # fmt: skip
    later = time.time() + 61
    assert await conversations.load_conversation(db, user.id, max_age=60, now=later) is None
    assert await conversations.load_conversation(db, user.id, max_age=60) is None, "deleted"
    await conversations.save_conversation(db, user.id, {"step": "x"})
    await conversations.clear_conversation(db, user.id)
    assert await conversations.load_conversation(db, user.id, max_age=60) is None


async def test_actions(db: aiosqlite.Connection) -> None:
    """Short unguessable ids map to (owner, payload) until pruned."""
    user = await _user(db)
    first = await actions.put_action(db, user.id, {"order": 5, "ids": ["a", "b"]})
    second = await actions.put_action(db, user.id, {"order": 6})
    assert len(first) == 10 and first != second
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert await actions.get_action(db, first) == (user.id, {"order": 5, "ids": ["a", "b"]})
    assert await actions.get_action(db, "missing") is None
    assert await actions.prune_actions(db, time.time() - 3600) == 0
    assert await actions.prune_actions(db, time.time() + 1) == 2
    assert await actions.get_action(db, first) is None


async def test_take_action_is_one_shot_and_owner_only(db: aiosqlite.Connection) -> None:
    """A claimed action is gone; another user cannot claim (or destroy) it."""
    owner, other = await _user(db, "1"), await _user(db, "2")
    ref = await actions.put_action(db, owner.id, {"confirm": "tok"})
    assert await actions.take_action(db, ref, other.id) is None
    assert await actions.get_action(db, ref) == (owner.id, {"confirm": "tok"})
    assert await actions.take_action(db, ref, owner.id) == {"confirm": "tok"}
    assert await actions.take_action(db, ref, owner.id) is None
    assert await actions.get_action(db, ref) is None


async def test_outbox(db: aiosqlite.Connection) -> None:
    """Dedupe, due order, retry, delivery, giving up, and dropping a user's queue."""
    user, other = await _user(db, "1"), await _user(db, "2")

    async def put(owner: int, key: str) -> bool:
        return await outbox.enqueue(
            db, user_id=owner, platform="telegram", chat_id=f"c{owner}",
            payload={"text": key, "buttons": []}, dedupe_key=key,
        )  # fmt: skip

    assert await put(user.id, "order:1:completed:0")
    assert not await put(user.id, "order:1:completed:0"), "the same change is queued once"
    assert await put(user.id, "order:2:partial:5")
    assert await put(user.id, "order:3:canceled:0")
    assert await put(other.id, "order:9:completed:0")
    now = time.time() + 1
    due = await outbox.due_messages(db, now)
    assert [m.dedupe_key for m in due] == [
        "order:1:completed:0", "order:2:partial:5", "order:3:canceled:0", "order:9:completed:0",
    ]  # fmt: skip
    first, second, third, _ = due
    assert first.payload == {"text": "order:1:completed:0", "buttons": []}
    assert (first.platform, first.chat_id, first.attempts) == ("telegram", f"c{user.id}", 0)
    assert len(await outbox.due_messages(db, now, limit=2)) == 2
    assert await outbox.due_messages(db, first.created_at - 1) == []

    await outbox.mark_delivered(db, first.id, now)
    await outbox.mark_retry(db, second.id, error="429 retry_after", next_attempt_at=now + 30)
    await outbox.mark_failed(db, third.id, "Forbidden: bot was blocked by the user")
    assert [m.dedupe_key for m in await outbox.due_messages(db, now)] == ["order:9:completed:0"]
    retried = [m for m in await outbox.due_messages(db, now + 30) if m.id == second.id]
    assert len(retried) == 1
    assert (retried[0].attempts, retried[0].last_error) == (1, "429 retry_after")
    assert not await put(user.id, "order:1:completed:0"), "delivered keys still dedupe"

    assert await put(user.id, "order:4:pending:10")
    assert await outbox.drop_user_messages(db, user.id) == 2  # the retried one and the new one
    assert [m.user_id for m in await outbox.due_messages(db, now + 60)] == [other.id]
    assert await outbox.prune_outbox(db, time.time() + 1) == 2  # delivered and failed
    assert await put(user.id, "order:1:completed:0"), "pruned keys are free again"


async def test_meta(db: aiosqlite.Connection) -> None:
    """A small key-value store."""
    assert await meta.get_meta(db, "discord_sync") is None
    await meta.set_meta(db, "discord_sync", "abc")
    await meta.set_meta(db, "discord_sync", "def")
    assert await meta.get_meta(db, "discord_sync") == "def"
