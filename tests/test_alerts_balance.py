"""Low-balance alerts: once below the threshold, re-armed when the balance recovers, read after a
placement (through the core's hook) and at most hourly otherwise; and orders placed through the
bot followed by the poller."""

from __future__ import annotations

from bot.alerts.service import AlertService
from bot.core.seam import Recipient
from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from storage import outbox
from tests.support.alert_fixtures import (  # noqa: F401  (fixtures, by name)
    clock_fixture,
    runtime_fixture,
    sender_fixture,
    service_fixture,
    settings_fixture,
)
from tests.support.alerts import POLL, FakeClock, RecordingSender, user_id_of
from tests.support.corebot import DEMO_KEY, ChatUser
from tests.support.fixtures import alice_fixture, sim_fixture  # noqa: F401  (fixtures, by name)


async def queued(runtime: Runtime) -> int:
    """How many alerts wait in the outbox."""
    return await outbox.count_messages(runtime.db)


async def test_low_balance_alerts_once_until_the_balance_recovers(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    service: AlertService,
    sender: RecordingSender,
) -> None:
    await alice.say("/alerts balance 4000")
    uid = await user_id_of(runtime)

    await service.check_balance(uid)  # 5,000 is above the threshold
    assert await queued(runtime) == 0

    sim.add_key(DEMO_KEY, balance="100")
    await service.check_balance(uid)
    assert await queued(runtime) == 1
    await service.check_balance(uid)
    clock.advance(3601)
    assert (await service.poll_once()).balances_checked == 1
    assert await queued(runtime) == 1  # still below: no second alert

    assert await service.deliver_once() == 1
    [(recipient, reply)] = sender.sent
    assert recipient == Recipient("telegram", "1001", "1001")
    assert "100.00 USD" in reply.text and "4,000.00 USD" in reply.text

    sim.add_key(DEMO_KEY, balance="5000")
    await service.check_balance(uid)  # recovered: re-armed, no message
    assert await queued(runtime) == 1
    sim.add_key(DEMO_KEY, balance="50")
    await service.check_balance(uid)
    assert await queued(runtime) == 2


async def test_balances_are_read_at_most_hourly_by_the_poller(
    sim: PanelSimulator, runtime: Runtime, alice: ChatUser, clock: FakeClock, service: AlertService
) -> None:
    await alice.say("/alerts balance 1")
    sim.reset_counters()
    assert (await service.poll_once()).balances_checked == 1
    for _ in range(5):
        clock.advance(POLL)
        assert (await service.poll_once()).balances_checked == 0
    clock.advance(3600)
    assert (await service.poll_once()).balances_checked == 1
    assert sim.action_counts["balance"] == 2


async def test_no_threshold_or_alerts_off_means_no_balance_reading(
    sim: PanelSimulator, runtime: Runtime, alice: ChatUser, service: AlertService
) -> None:
    sim.reset_counters()
    await service.check_balance(await user_id_of(runtime))
    assert (await service.poll_once()).balances_checked == 0
    await alice.say("/alerts balance 9000")
    await alice.say("/alerts off")
    await service.check_balance(await user_id_of(runtime))
    assert (await service.poll_once()).balances_checked == 0
    assert sim.action_counts["balance"] == 0


async def test_a_placement_reads_the_balance_through_the_hook(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    service: AlertService,
    sender: RecordingSender,
) -> None:
    order_service = sim.catalogue.first_matching(type="Default", dripfeed=False, refill=True)
    cost = order_service.rate * order_service.min / 1000
    # Above the threshold now, below it once the order is paid.
    sim.add_key(DEMO_KEY, balance=str(cost + 1))
    await alice.say(f"/alerts balance {1 + cost / 2}")
    assert (await service.poll_once()).balances_checked == 1
    assert await queued(runtime) == 0
    async with service.running():
        confirm = await alice.say(f"/order {order_service.id} https://t.me/x {order_service.min}")
        done = await alice.press("Confirm", confirm)
        assert "Order placed" in done.text
        await service.idle()
        assert await queued(runtime) == 1
    [message] = await outbox.user_messages(runtime.db, await user_id_of(runtime))
    assert "balance is low" in str(message.payload["text"])


async def test_the_placement_hook_never_raises_into_the_order(
    sim: PanelSimulator, runtime: Runtime, alice: ChatUser, service: AlertService
) -> None:
    await alice.say("/alerts balance 10")
    sim.quirks.html_page = 403  # the panel is behind a WAF page now
    await service.on_placed(await user_id_of(runtime))
    await service.idle()
    assert await queued(runtime) == 0
    # A user without a threshold, or an unknown user id, is no error either.
    await service.on_placed(987654)
    await service.idle()


async def test_an_order_placed_through_the_bot_is_followed_with_its_service_name(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    service: AlertService,
    sender: RecordingSender,
) -> None:
    order_service = sim.catalogue.first_matching(type="Default", dripfeed=False, refill=True)
    confirm = await alice.say(f"/order {order_service.id} https://t.me/x {order_service.min}")
    done = await alice.press("Confirm", confirm)
    order_id = done.text.split("#", 1)[1].split(" ", 1)[0]
    sim.set_order(order_id, status="Pending")
    assert (await service.poll_once()).alerts_queued == 0  # found Pending, as announced
    sim.set_order(order_id, status="Completed")
    clock.advance(POLL)
    assert (await service.poll_once()).alerts_queued == 1
    assert await service.deliver_once() == 1
    [(_, reply)] = sender.sent
    assert order_service.name[:40] in reply.text
    assert "Pending → Completed" in reply.text
    assert "[██████████] 100%" in reply.text
    assert [button.label for row in reply.buttons for button in row] == ["Status", "Refill"]
