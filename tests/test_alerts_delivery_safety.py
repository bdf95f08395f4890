"""Outbox delivery under concurrency and shutdown: never an alert whose transaction may still roll
back, never a late mark on another alert, one user's failure does not make the others go twice,
and a stop lets the send in flight finish and record itself but starts no new one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from bot.alerts.messages import MAX_TEXT, reply_from_payload, reply_to_payload
from bot.alerts.service import AlertService
from bot.core.seam import Platform, Recipient, Reply
from bot.runtime import Runtime
from storage import outbox
from storage.database import fetch_one, transaction
from storage.outbox import NewMessage
from tests.support.alert_fixtures import (  # noqa: F401  (fixtures, by name)
    clock_fixture,
    new_service_fixture,
    runtime_fixture,
    settings_fixture,
)
from tests.support.alerts import FakeClock, RecordingSender, ServiceFactory, store_key, user_id_of
from tests.support.corebot import OTHER_KEY, ChatUser
from tests.support.fixtures import alice_fixture, sim_fixture  # noqa: F401  (fixtures, by name)


async def queue(runtime: Runtime, user_id: int, chat_id: str, text: str, now: float) -> int:
    """Queue a plain alert for a telegram user (as the poller would); its outbox id."""
    message = NewMessage(user_id, "telegram", chat_id, {"text": text}, f"test:{text}")
    assert await outbox.enqueue_at(runtime.db, message, now)
    row = await fetch_one(
        runtime.db, "SELECT id FROM outbox WHERE dedupe_key = ?", (f"test:{text}",)
    )
    assert row is not None
    return int(row[0])


async def round_trips(runtime: Runtime, count: int) -> None:
    """Statements through the shared connection: those queued before them have run when this
    returns (aiosqlite runs one connection's statements in order)."""
    for _ in range(count):
        await fetch_one(runtime.db, "SELECT 1")


async def test_an_alert_whose_transaction_is_still_open_is_never_sent(
    runtime: Runtime, alice: ChatUser, clock: FakeClock, new_service: ServiceFactory
) -> None:
    sender = RecordingSender()
    service = new_service({"telegram": sender})
    user_id = await user_id_of(runtime)
    inserted, release = asyncio.Event(), asyncio.Event()

    async def a_poll_write_that_rolls_back() -> None:
        async with transaction(runtime.db):
            message = NewMessage(user_id, "telegram", "1001", {"text": "never"}, "test:never")
            await outbox.enqueue_at(runtime.db, message, clock())
            inserted.set()
            await release.wait()
            # What SQLITE_BUSY at COMMIT, or a cancel on SIGTERM between the statements, does.
            raise RuntimeError("the transaction is rolled back")

    writer = asyncio.create_task(a_poll_write_that_rolls_back())
    await asyncio.wait_for(inserted.wait(), timeout=5)
    delivering = asyncio.create_task(service.deliver_once())
    # Delivery starts (and queues its read of the outbox) while the transaction is open; the
    # ROLLBACK is queued on the shared connection only after that.
    for _ in range(3):
        await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError):
        await writer
    assert await asyncio.wait_for(delivering, timeout=5) == 0
    assert sender.sent == []
    assert await outbox.count_messages(runtime.db) == 0


class HookedSender(RecordingSender):
    """Records messages; runs `hook` (once) while the next one is on its way."""

    def __init__(self) -> None:
        super().__init__()
        self.hook: Callable[[], Awaitable[None]] | None = None

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        hook, self.hook = self.hook, None
        if hook is not None:
            await hook()
        await super().send(recipient, reply)


async def test_a_late_mark_never_marks_a_newer_alert_that_reused_the_id(
    runtime: Runtime, alice: ChatUser, clock: FakeClock, new_service: ServiceFactory
) -> None:
    sender = HookedSender()
    service = new_service({"telegram": sender})
    alice_id = await user_id_of(runtime)
    bob_id, _ = await store_key(runtime, "1002", OTHER_KEY)
    first = await queue(runtime, alice_id, "1001", "for alice", clock())
    reused: list[int] = []

    async def meanwhile() -> None:
        # While Alice's alert is on its way she turns alerts off (her queue is dropped), and an
        # alert for Bob is queued: SQLite gives it the id just freed.
        await alice.say("/alerts off")
        reused.append(await queue(runtime, bob_id, "1002", "for bob", clock()))

    sender.hook = meanwhile
    assert await service.deliver_once() == 1
    assert reused == [first]
    [bob_row] = await outbox.user_messages(runtime.db, bob_id)
    assert bob_row.delivered_at is None
    assert await service.deliver_once() == 1
    assert [(recipient.user_id, reply.text) for recipient, reply in sender.sent] == [
        ("1001", "for alice"),
        ("1002", "for bob"),
    ]


class GatedSender:
    """Alice's messages go at once; Bob's first one is held until Alice's failing mark has run."""

    platform: Platform = "telegram"

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sent: list[tuple[str, str]] = []
        self.alice_sent = asyncio.Event()

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        if recipient.user_id == "1002" and not any(who == "1002" for who, _ in self.sent):
            await self.alice_sent.wait()
            await round_trips(self.runtime, 3)
        self.sent.append((recipient.user_id, reply.text))
        if recipient.user_id == "1001":
            self.alice_sent.set()


async def test_one_users_failure_neither_cuts_the_others_short_nor_sends_anything_twice(
    runtime: Runtime, alice: ChatUser, clock: FakeClock, new_service: ServiceFactory
) -> None:
    sender = GatedSender(runtime)
    service = new_service({"telegram": sender})
    alice_id = await user_id_of(runtime)
    bob_id, _ = await store_key(runtime, "1002", OTHER_KEY)
    await queue(runtime, alice_id, "1001", "for alice", clock())
    await queue(runtime, bob_id, "1002", "for bob", clock())
    # The platform accepts Alice's alert, then recording it fails (a disk or lock error).
    await runtime.db.execute(
        "CREATE TEMP TRIGGER fail_alice BEFORE UPDATE OF delivered_at ON outbox "
        f"WHEN NEW.user_id = {alice_id:d} AND NEW.delivered_at IS NOT NULL "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )

    # Bob's send is still in flight when Alice's mark fails: the round waits for it.
    assert await service.deliver_once() == 2
    assert sorted(sender.sent) == [("1001", "for alice"), ("1002", "for bob")]
    [bob_row] = await outbox.user_messages(runtime.db, bob_id)
    assert bob_row.delivered_at is not None
    # Alice's alert was accepted: it is not sent again while its record is retried.
    for _ in range(2):
        assert await service.deliver_once() == 0
    assert len(sender.sent) == 2
    [alice_row] = await outbox.user_messages(runtime.db, alice_id)
    assert alice_row.delivered_at is None

    await runtime.db.execute("DROP TRIGGER fail_alice")
    assert await service.deliver_once() == 0
    assert len(sender.sent) == 2
    [alice_row] = await outbox.user_messages(runtime.db, alice_id)
    assert alice_row.delivered_at is not None


class HeldSender(RecordingSender):
    """Holds the first message until `gate` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = asyncio.Event()
        self.gate = asyncio.Event()

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        if not self.entered.is_set():
            self.entered.set()
            await self.gate.wait()
        await super().send(recipient, reply)


async def test_stopping_lets_the_send_in_flight_finish_and_starts_no_new_one(
    runtime: Runtime, alice: ChatUser, clock: FakeClock
) -> None:
    alice_id = await user_id_of(runtime)
    await queue(runtime, alice_id, "1001", "first", clock())
    await queue(runtime, alice_id, "1001", "second", clock())
    sender = HeldSender()
    async with AlertService(runtime, {"telegram": sender}) as service:
        async with service.running():
            await asyncio.wait_for(sender.entered.wait(), timeout=5)
            # The platform answers only once the bot has been told to stop (right below).
            sender.gate.set()
        assert [reply.text for _, reply in sender.sent] == ["first"]
        first, second = await outbox.user_messages(runtime.db, alice_id)
        assert first.delivered_at is not None
        assert second.delivered_at is None and second.attempts == 0
    assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("alerts-")]


@pytest.mark.parametrize("text", ["*_`|~>" * 1000, "word " * 2000, "🔔" * 5000])
def test_an_alert_always_fits_one_message_on_every_platform(text: str) -> None:
    # Imported here: the renderers belong to the adapters; the core must not import them.
    from adapters.discord_app import render as discord_render
    from adapters.telegram_app import render as telegram_render

    stored = reply_to_payload(Reply(text))
    for payload in (stored, {"text": text}):  # also a row queued before the cap existed
        shown = reply_from_payload(payload).text
        assert shown.endswith("…") and len(shown) <= MAX_TEXT
        assert len(discord_render.split_text(discord_render.escape(shown))) == 1
        assert len(telegram_render.split_text(shown)) == 1
