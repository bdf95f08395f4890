"""Outbox delivery: once per change, retries with backoff, blocked users switched off, and the
service's own loops delivering alerts end to end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from bot.alerts.messages import reply_from_payload, reply_to_payload
from bot.alerts.service import AlertService
from bot.core.seam import Button, DeliveryError, Platform, Recipient, RecipientUnreachable, Reply
from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from storage import outbox
from tests.support.alert_fixtures import (  # noqa: F401  (fixtures, by name)
    clock_fixture,
    new_service_fixture,
    runtime_fixture,
    settings_fixture,
)
from tests.support.alerts import POLL, FakeClock, ServiceFactory, user_row
from tests.support.corebot import DEMO_KEY, ChatUser, make_settings, running_core
from tests.support.fixtures import alice_fixture, sim_fixture  # noqa: F401  (fixtures, by name)


class ScriptedSender:
    """The platform edge: fails as scripted (one exception per call), then records messages."""

    platform: Platform = "telegram"

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0
        self.sent: list[tuple[Recipient, Reply]] = []
        self.delivered = asyncio.Event()

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append((recipient, reply))
        self.delivered.set()


def new_order(sim: PanelSimulator, status: str = "In progress") -> str:
    """An order of Alice's on the panel; its id."""
    service = sim.catalogue.first_matching(type="Default")
    return str(sim.make_order(DEMO_KEY, service.id, service.min, status=status))


async def queue_one_alert(
    sim: PanelSimulator, alice: ChatUser, clock: FakeClock, service: AlertService
) -> str:
    """Track an order, complete it on the panel, and poll: one alert waits in the outbox."""
    order_id = new_order(sim)
    await alice.say(f"/status {order_id}")
    sim.set_order(order_id, status="Completed")
    clock.advance(POLL)
    assert (await service.poll_once()).alerts_queued == 1
    return order_id


def test_the_outbox_payload_is_json_and_comes_back_as_a_private_reply() -> None:
    reply = Reply(
        "Order #5 done",
        buttons=((Button("Status", "sr:1:5"), Button("Refill", "rf:1:5", "primary")),),
    )
    payload = json.loads(json.dumps(reply_to_payload(reply)))
    assert payload == {
        "text": "Order #5 done",
        "buttons": [
            [
                {"label": "Status", "action": "sr:1:5", "style": "secondary"},
                {"label": "Refill", "action": "rf:1:5", "style": "primary"},
            ]
        ],
    }
    assert reply_from_payload(payload) == Reply(reply.text, buttons=reply.buttons, private=True)
    broken = reply_from_payload(
        {
            "text": "x",
            "buttons": [
                [{"label": "L"}, 3, {"label": "A", "action": "sr:1:5", "style": "weird"}],
                "row",
            ],
        }
    )
    assert broken.buttons == ((Button("A", "sr:1:5", "secondary"),),)


async def test_a_blocked_user_is_not_sent_to_again_and_has_alerts_off(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    new_service: ServiceFactory,
) -> None:
    sender = ScriptedSender(RecipientUnreachable("Forbidden: bot was blocked by the user"))
    service = new_service({"telegram": sender})
    await queue_one_alert(sim, alice, clock, service)
    other = new_order(sim)
    await alice.say(f"/status {other}")

    assert await service.deliver_once() == 0
    assert sender.calls == 1
    user = await user_row(runtime)
    assert not user.alerts_enabled
    [message] = await outbox.user_messages(runtime.db, user.id)
    assert message.failed_at is not None and message.delivered_at is None

    # Nothing more is sent, and the orders behind the alerts are no longer polled.
    sim.set_order(other, status="Completed")
    sim.reset_counters()
    clock.advance(10 * POLL)
    assert (await service.poll_once()).requests == 0
    assert await service.deliver_once() == 0
    assert sender.calls == 1
    assert sim.request_count == 0


async def test_a_transient_failure_is_retried_later_with_backoff(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    new_service: ServiceFactory,
) -> None:
    sender = ScriptedSender(
        DeliveryError("Too Many Requests", retry_after=30), DeliveryError("network down")
    )
    service = new_service({"telegram": sender})
    order_id = await queue_one_alert(sim, alice, clock, service)

    assert await service.deliver_once() == 0
    assert sender.calls == 1
    # Not before the platform's retry_after.
    clock.advance(29)
    assert await service.deliver_once() == 0
    assert sender.calls == 1
    clock.advance(2)
    assert await service.deliver_once() == 0
    assert sender.calls == 2
    # The second failure waits a few seconds more (backoff with jitter), then it goes out once.
    clock.advance(60)
    assert await service.deliver_once() == 1
    assert await service.deliver_once() == 0
    assert sender.calls == 3
    [(recipient, reply)] = sender.sent
    assert recipient == Recipient("telegram", "1001", "1001")
    assert f"#{order_id}" in reply.text
    [message] = await outbox.user_messages(runtime.db, (await user_row(runtime)).id)
    assert message.delivered_at is not None and message.attempts == 3
    assert (await user_row(runtime)).alerts_enabled


async def test_a_failure_holds_back_the_users_later_alerts_so_they_keep_their_order(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    new_service: ServiceFactory,
) -> None:
    sender = ScriptedSender(DeliveryError("flood", retry_after=10))
    service = new_service({"telegram": sender})
    first = await queue_one_alert(sim, alice, clock, service)
    second = await queue_one_alert(sim, alice, clock, service)
    assert await service.deliver_once() == 0
    clock.advance(11)
    assert await service.deliver_once() == 2
    assert [f"#{first}" in reply.text for _, reply in sender.sent] == [True, False]
    assert f"#{second}" in sender.sent[1][1].text


async def test_alerts_for_a_platform_not_running_here_wait_for_it(
    sim: PanelSimulator,
    runtime: Runtime,
    alice: ChatUser,
    clock: FakeClock,
    new_service: ServiceFactory,
) -> None:
    service = new_service({})
    await queue_one_alert(sim, alice, clock, service)
    assert await service.deliver_once() == 0
    telegram = ScriptedSender()
    later = new_service({"telegram": telegram})
    assert await later.deliver_once() == 0
    clock.advance(3601)
    assert await later.deliver_once() == 1
    assert len(telegram.sent) == 1


async def test_running_polls_and_delivers_on_its_own_and_stops_cleanly(
    sim: PanelSimulator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, sim.url, status_poll_seconds=0.2)
    async with running_core(settings) as runtime:
        alice = ChatUser(runtime, "1001")
        await alice.say(f"/setkey {DEMO_KEY}")
        order_id = new_order(sim)
        await alice.say(f"/status {order_id}")
        sender = ScriptedSender()
        service = AlertService(runtime, {"telegram": sender})
        hooks = runtime.core.res.placed_hooks
        async with service.running():
            assert len(hooks) == 1
            sim.set_order(order_id, status="Completed")
            await asyncio.wait_for(sender.delivered.wait(), timeout=10)
            assert "In progress → Completed" in sender.sent[0][1].text
            # Commands keep working while the loops run.
            assert "Completed" in (await alice.say(f"/status {order_id}")).text
        assert hooks == []
        # Stopped: the loops are over, so nothing more is polled or sent.
        assert not [task for task in asyncio.all_tasks() if task.get_name().startswith("alerts-")]
    assert len(sender.sent) == 1
