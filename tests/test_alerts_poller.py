"""The status poller against the simulator over loopback, with real SQLite: alerts, batching,
backoff of quiet orders, refills, rejected keys, and crash safety of the outbox."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest

from bot.alerts.schedule import check_interval
from bot.alerts.service import AlertService
from bot.core import actions
from bot.core.actions import RefillOrder, StatusRefresh
from bot.core.seam import Recipient
from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from bot.settings import Settings
from storage import order_polling, orders, outbox
from storage.order_polling import NewTrackedOrder
from tests.support.alert_fixtures import (  # noqa: F401  (fixtures, by name)
    clock_fixture,
    runtime_fixture,
    sender_fixture,
    service_fixture,
    settings_fixture,
)
from tests.support.alerts import (
    POLL,
    FakeClock,
    RecordingSender,
    store_key,
    user_id_of,
)
from tests.support.corebot import DEMO_KEY, ChatUser, new_simulator, running_core
from tests.support.fixtures import alice_fixture  # noqa: F401  (fixtures, by name)

BULK_KEY = "sim-key-bulk-0003"


@pytest.fixture
async def sim() -> AsyncIterator[PanelSimulator]:
    """The shared test simulator plus BULK_KEY, funded for hundreds of orders."""
    simulator = new_simulator()
    simulator.add_key(BULK_KEY, balance="10000000")
    async with simulator:
        yield simulator


def refill_service_id(sim: PanelSimulator) -> int:
    """A Default service that can be refilled."""
    return sim.catalogue.first_matching(type="Default", refill=True).id


def new_order(sim: PanelSimulator, key: str = DEMO_KEY, status: str = "In progress") -> str:
    """An order of the refillable service on the panel; its id."""
    service = sim.catalogue[refill_service_id(sim)]
    return str(sim.make_order(key, service.id, service.min, status=status))


async def test_a_status_change_gives_exactly_one_alert(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    service: AlertService,
    sender: RecordingSender,
) -> None:
    order_id = new_order(sim)
    await alice.say(f"/status {order_id}")
    # As if placed through the bot: the service, and whether it can be refilled, are known.
    row = await orders.get_user_order(
        runtime.db, await user_id_of(runtime), runtime.settings.panel_api_url, order_id
    )
    assert row is not None
    await orders.set_order_service(
        runtime.db, row.id, service_id=str(refill_service_id(sim)), service_name="Likes [HQ]",
        service_type="Default", can_refill=True, can_cancel=False,
    )  # fmt: skip

    clock.advance(POLL)
    quiet = await service.poll_once()
    assert (quiet.orders_checked, quiet.orders_changed, quiet.alerts_queued) == (1, 0, 0)
    assert await service.deliver_once() == 0

    sim.set_order(order_id, status="Completed")
    clock.advance(POLL)
    changed = await service.poll_once()
    assert (changed.orders_checked, changed.orders_changed, changed.alerts_queued) == (1, 1, 1)
    assert await service.deliver_once() == 1
    assert await service.deliver_once() == 0

    [(recipient, reply)] = sender.sent
    assert recipient == Recipient("telegram", "1001", "1001")
    assert reply.private
    assert f"Order #{order_id} — Likes [HQ]" in reply.text
    assert "In progress → Completed" in reply.text
    assert "100%" in reply.text
    assert "Charge:" in reply.text
    labels = {button.label: button.action for row in reply.buttons for button in row}
    # The buttons name the key the order belongs to, so they act on it whichever key is active.
    key_id = row.credential_id
    assert key_id is not None
    assert labels["Status"] == StatusRefresh("1001", order_id, key_id).pack()
    assert labels["Refill"] == RefillOrder("1001", order_id, key_id).pack()
    # The alert's buttons work for their owner like any other button.
    assert "Completed" in (await alice.press_data(labels["Status"])).text


async def test_a_change_of_remains_alone_is_announced(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    service: AlertService,
    sender: RecordingSender,
) -> None:
    order_id = new_order(sim)
    await alice.say(f"/status {order_id}")
    sim.set_order(order_id, remains=1)
    clock.advance(POLL)
    assert (await service.poll_once()).alerts_queued == 1
    await service.deliver_once()
    [(_, reply)] = sender.sent
    assert "remains" in reply.text and "→ 1)" in reply.text
    # A running order cannot be refilled yet: only the Status button.
    assert [button.label for row in reply.buttons for button in row] == ["Status"]


async def test_no_change_gives_no_alert_and_quiet_orders_slow_down(
    sim: PanelSimulator, runtime: Runtime, alice: ChatUser, clock: FakeClock, service: AlertService
) -> None:
    order_id = new_order(sim)
    await alice.say(f"/status {order_id}")
    sim.reset_counters()
    cycles = 24
    for _ in range(cycles):
        clock.advance(POLL)
        stats = await service.poll_once()
        assert stats.alerts_queued == 0
    polls = sim.action_counts["status"]
    # Checked every cycle at first, then less and less often, but never dropped.
    assert 6 <= polls <= cycles // 2
    assert check_interval(POLL, 0) == POLL
    assert check_interval(POLL, 3) == 2 * POLL
    assert check_interval(POLL, 10_000) == 16 * POLL
    assert await outbox.count_messages(runtime.db) == 0


async def test_a_final_order_is_never_polled_again(
    sim: PanelSimulator, runtime: Runtime, alice: ChatUser, clock: FakeClock, service: AlertService
) -> None:
    order_id = new_order(sim)
    await alice.say(f"/status {order_id}")
    sim.set_order(order_id, status="Canceled")
    clock.advance(POLL)
    assert (await service.poll_once()).alerts_queued == 1
    sim.reset_counters()
    for _ in range(3):
        clock.advance(10 * POLL)
        stats = await service.poll_once()
        assert stats.requests == 0
    assert sim.action_counts["status"] == 0


async def test_requests_are_batched_by_key_in_hundreds(
    sim: PanelSimulator, runtime: Runtime, clock: FakeClock, service: AlertService
) -> None:
    url = runtime.settings.panel_api_url
    big_user, big_cred = await store_key(runtime, "2001", BULK_KEY)
    small_user, small_cred = await store_key(runtime, "2002", DEMO_KEY)
    big = [new_order(sim, BULK_KEY, status="Pending") for _ in range(250)]
    small = [new_order(sim, DEMO_KEY, status="Pending") for _ in range(30)]
    rows = [NewTrackedOrder(big_user, big_cred, url, order_id) for order_id in big]
    rows += [NewTrackedOrder(small_user, small_cred, url, order_id) for order_id in small]
    assert await order_polling.bulk_track(runtime.db, rows) == 280
    sim.reset_counters()

    stats = await service.poll_once()
    # ceil(250 / 100) + ceil(30 / 100): the lower bound, not one request per order.
    assert sim.action_counts["status"] == 3 + 1
    assert stats.requests == 4
    assert stats.orders_checked == 280
    # A just-placed order found Pending is no news.
    assert stats.alerts_queued == 0
    batches = [fields["orders"].split(",") for action, fields in sim.request_log]
    assert sorted(len(batch) for batch in batches) == [30, 50, 100, 100]

    for order_id in big[:7]:
        sim.set_order(order_id, status="In progress")
    sim.reset_counters()
    clock.advance(POLL)
    stats = await service.poll_once()
    assert sim.action_counts["status"] == 4
    assert (stats.orders_changed, stats.alerts_queued) == (7, 7)


async def test_a_restart_between_the_status_write_and_delivery_delivers_once(
    sim: PanelSimulator, settings: Settings, clock: FakeClock
) -> None:
    order_id = new_order(sim)
    first_sender = RecordingSender()
    async with running_core(settings) as runtime:
        runtime.core.res.clock = clock
        alice = ChatUser(runtime, "1001")
        await alice.say(f"/setkey {DEMO_KEY}")
        await alice.say(f"/status {order_id}")
        sim.set_order(order_id, status="Partial")
        clock.advance(POLL)
        async with AlertService(runtime, {"telegram": first_sender}) as first:
            assert (await first.poll_once()).alerts_queued == 1
        # The process dies here: the change and its alert are stored, nothing was sent.
    assert first_sender.sent == []

    second_sender = RecordingSender()
    async with running_core(settings) as runtime:
        runtime.core.res.clock = clock
        async with AlertService(runtime, {"telegram": second_sender}) as restarted:
            clock.advance(POLL)
            # The new process sees no change (it was stored), so queues nothing new...
            assert (await restarted.poll_once()).alerts_queued == 0
            # ...and delivers the stored alert exactly once.
            assert await restarted.deliver_once() == 1
            assert await restarted.deliver_once() == 0
    assert len(second_sender.sent) == 1
    assert "Partial" in second_sender.sent[0][1].text


async def test_each_alert_goes_only_to_the_owner_of_the_order(
    sim: PanelSimulator,
    runtime: Runtime,
    clock: FakeClock,
    service: AlertService,
    sender: RecordingSender,
) -> None:
    alice = ChatUser(runtime, "1001")
    bob = ChatUser(runtime, "1002")
    await alice.say(f"/setkey {DEMO_KEY}")
    await bob.say(f"/setkey {BULK_KEY}")
    alice_order, bob_order = new_order(sim, DEMO_KEY), new_order(sim, BULK_KEY)
    await alice.say(f"/status {alice_order}")
    await bob.say(f"/status {bob_order}")
    # Bob cannot follow Alice's order with his key: the panel says it is not his.
    await bob.say(f"/status {alice_order}")
    sim.set_order(alice_order, status="Completed")
    sim.set_order(bob_order, status="Completed")
    clock.advance(POLL)
    assert (await service.poll_once()).alerts_queued == 2
    assert await service.deliver_once() == 2
    got = {recipient.user_id: reply for recipient, reply in sender.sent}
    assert set(got) == {"1001", "1002"}
    assert f"#{alice_order}" in got["1001"].text and f"#{bob_order}" not in got["1001"].text
    assert f"#{bob_order}" in got["1002"].text
    for owner, reply in got.items():
        for row in reply.buttons:
            for button in row:
                assert actions.unpack(button.action).owner == owner


async def test_refills_are_followed_until_final_with_an_alert_per_change(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    service: AlertService,
    sender: RecordingSender,
) -> None:
    order_id = new_order(sim, status="Completed")
    await alice.say(f"/status {order_id}")
    reply = await alice.say(f"/refill {order_id}")
    assert "requested" in reply.text
    refill_id = sim.order(order_id).refill_id
    assert refill_id is not None

    stats = await service.poll_once()
    # Found Pending, as the user was told: no alert yet.
    assert (stats.refills_checked, stats.alerts_queued) == (1, 0)

    sim.set_refill(refill_id, status="In progress")
    clock.advance(POLL)
    assert (await service.poll_once()).alerts_queued == 1
    sim.set_refill(refill_id, status="Completed")
    clock.advance(POLL)
    assert (await service.poll_once()).alerts_queued == 1
    assert await service.deliver_once() == 2
    texts = [reply.text for _, reply in sender.sent]
    assert f"Refill #{refill_id} of order #{order_id}" in texts[0]
    assert "Pending → In progress" in texts[0]
    assert "In progress → Completed" in texts[1]

    sim.reset_counters()
    clock.advance(10 * POLL)
    assert (await service.poll_once()).refills_checked == 0
    assert sim.action_counts["refill_status"] == 0


async def test_a_rejected_key_gives_one_alert_and_is_not_polled_until_replaced(
    sim: PanelSimulator,
    runtime: Runtime,
    clock: FakeClock,
    service: AlertService,
    sender: RecordingSender,
) -> None:
    revoked = "sim-key-revoked-0009"
    order_id = new_order(sim, BULK_KEY)
    user_id, cred_id = await store_key(runtime, "3001", revoked)
    url = runtime.settings.panel_api_url
    await order_polling.bulk_track(runtime.db, [NewTrackedOrder(user_id, cred_id, url, order_id)])

    stats = await service.poll_once()
    assert (stats.keys_rejected, stats.alerts_queued) == (1, 1)
    assert await service.deliver_once() == 1
    [(recipient, reply)] = sender.sent
    assert recipient.user_id == "3001"
    assert "/setkey" in reply.text and "no longer accepts" in reply.text
    assert revoked not in reply.text

    sim.reset_counters()
    for _ in range(3):
        clock.advance(POLL)
        assert (await service.poll_once()).requests == 0
    assert sim.request_count == 0

    # Setting a key (here: the same one, now known to the panel) resumes the checks.
    sim.add_key(revoked, balance="10")
    await store_key(runtime, "3001", revoked)
    sim.set_order(order_id, status="Completed")
    stats = await service.poll_once()
    assert stats.requests == 1
    # The order belongs to another key on the panel: "Incorrect order ID", no alert.
    assert stats.alerts_queued == 0


async def test_keys_never_reach_logs_alerts_or_stats(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    service: AlertService,
    sender: RecordingSender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    revoked = "sim-key-revoked-0042"
    order_id, running = new_order(sim), new_order(sim)
    await alice.say(f"/status {order_id} {running}")
    user_id, cred_id = await store_key(runtime, "3001", revoked)
    url = runtime.settings.panel_api_url
    await order_polling.bulk_track(runtime.db, [NewTrackedOrder(user_id, cred_id, url, "77")])
    sim.set_order(order_id, status="Completed")
    clock.advance(POLL)
    first = await service.poll_once()
    sim.quirks.update({"html_page": 403})
    clock.advance(10 * POLL)
    second = await service.poll_once()
    assert second.failed_requests == 1
    await service.deliver_once()
    texts = [caplog.text, repr(first), repr(second), repr(service.reader)]
    texts += [reply.text + repr(reply.buttons) for _, reply in sender.sent]
    for key in (DEMO_KEY, revoked):
        for text in texts:
            assert key not in text
    assert first.keys_rejected == 1 and len(sender.sent) == 2


async def test_a_status_stored_meanwhile_is_neither_overwritten_nor_announced_again(
    sim: PanelSimulator, runtime: Runtime, alice: ChatUser, clock: FakeClock
) -> None:
    order_id = new_order(sim)
    await alice.say(f"/status {order_id}")
    url = runtime.settings.panel_api_url
    before = await orders.get_user_order(runtime.db, await user_id_of(runtime), url, order_id)
    assert before is not None and before.raw_status == "In progress"
    update = orders.OrderStatusUpdate(
        order_row_id=before.id, status="completed", raw_status="Completed", charge=None,
        remains=0, start_count=None, currency=None, is_final=True, checked_at=clock(),
        next_check_at=None, changed=True,
    )  # fmt: skip
    message = outbox.NewMessage(before.user_id, "telegram", "1001", {"text": "x"}, "k-1")
    # The poller saw "Pending" but a /status look-up stored "In progress" since: nothing happens.
    stale = order_polling.PolledOrder(update, "Pending", before.remains, message)
    assert await order_polling.record_polled_orders(runtime.db, [stale], clock()) == 0
    same = await orders.get_order(runtime.db, before.id)
    assert same is not None and (same.raw_status, same.is_final) == ("In progress", False)
    assert await outbox.count_messages(runtime.db) == 0
    # Seen as stored: the status and its alert are written together.
    fresh = order_polling.PolledOrder(update, "In progress", before.remains, message)
    assert await order_polling.record_polled_orders(runtime.db, [fresh], clock()) == 1
    after = await orders.get_order(runtime.db, before.id)
    assert after is not None and (after.raw_status, after.is_final) == ("Completed", True)
    assert await outbox.count_messages(runtime.db) == 1
