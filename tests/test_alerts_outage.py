"""A panel that is down or rate-limiting: the poller backs off that host (honouring Retry-After)
with one warning per outage, keeps polling other hosts, and resumes when the panel is back."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.alerts.hosts import HOST_BACKOFF_BASE, PER_HOST, HostPool, PanelJob
from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from bot.settings import Settings
from storage import order_polling
from storage.order_polling import NewTrackedOrder
from tests.support.alert_fixtures import (  # noqa: F401  (fixtures, by name)
    clock_fixture,
    new_service_fixture,
    runtime_fixture,
)
from tests.support.alerts import POLL, FakeClock, RecordingSender, ServiceFactory, store_key
from tests.support.corebot import DEMO_KEY, make_settings
from tests.support.fixtures import sim_fixture  # noqa: F401  (fixtures, by name)

OTHER_PANEL_KEY = "sim-key-carol-0005"


@pytest.fixture
async def other_sim() -> AsyncIterator[PanelSimulator]:
    """A second panel, on another port, with its own key."""
    simulator = PanelSimulator(seed=2)
    simulator.add_key(OTHER_PANEL_KEY, balance="1000")
    async with simulator:
        yield simulator


@pytest.fixture
def settings(sim: PanelSimulator, other_sim: PanelSimulator, tmp_path: Path) -> Settings:
    """The alert tests' settings with `other_sim` allowed too (the shared `runtime` uses these)."""
    return make_settings(
        tmp_path, sim.url, status_poll_seconds=POLL, panel_allowed_urls=other_sim.url
    )


async def follow(
    runtime: Runtime, sim: PanelSimulator, user: str, key: str, count: int
) -> list[str]:
    """A user with a key on `sim` following `count` running orders there; their ids."""
    user_id, credential_id = await store_key(runtime, user, key, sim.url)
    service = sim.catalogue.first_matching(type="Default")
    ids = [
        str(sim.make_order(key, service.id, service.min, status="In progress"))
        for _ in range(count)
    ]
    tracked = [NewTrackedOrder(user_id, credential_id, sim.url, order_id) for order_id in ids]
    await order_polling.bulk_track(runtime.db, tracked)
    return ids


def outage_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "bot.alerts.hosts" and record.levelno == logging.WARNING
    ]


async def test_a_rate_limiting_panel_is_left_alone_for_its_retry_after(
    sim: PanelSimulator,
    other_sim: PanelSimulator,
    runtime: Runtime,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    new_service: ServiceFactory,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.alerts")
    sender = RecordingSender()
    service = new_service({"telegram": sender})
    mine = await follow(runtime, sim, "1001", DEMO_KEY, 3)
    theirs = await follow(runtime, other_sim, "1002", OTHER_PANEL_KEY, 2)
    # The first look finds them already running: that is news (one alert each).
    assert (await service.poll_once()).alerts_queued == 5
    assert await service.deliver_once() == 5
    sender.sent.clear()

    sim.quirks.update({"rate_limit_next": 1000, "retry_after": 300})
    sim.reset_counters()
    other_sim.reset_counters()
    clock.advance(POLL)
    stats = await service.poll_once()
    # The lean batch read gets a 429, which pauses the host at once: one request, then nothing.
    assert sim.request_count == 1
    assert (stats.failed_requests, stats.orders_checked) == (1, 2)
    assert other_sim.action_counts["status"] == 1
    assert len(outage_warnings(caplog)) == 1
    assert "429" in outage_warnings(caplog)[0]

    # Within the Retry-After nothing is sent to it, while the other panel is polled as usual.
    other_sim.set_order(theirs[0], status="Completed")
    for _ in range(2):
        clock.advance(POLL)
        stats = await service.poll_once()
        assert stats.skipped_requests == 1
    assert sim.request_count == 1
    assert other_sim.action_counts["status"] == 3
    assert await service.deliver_once() == 1
    assert sender.sent[0][0].user_id == "1002"

    # After it, polling resumes; the change made meanwhile is announced once.
    sim.quirks.reset()
    sim.set_order(mine[1], status="Partial")
    clock.advance(POLL)
    stats = await service.poll_once()
    assert (stats.skipped_requests, stats.failed_requests, stats.orders_changed) == (0, 0, 1)
    assert await service.deliver_once() == 1
    assert sender.sent[1][0].user_id == "1001"
    assert f"#{mine[1]}" in sender.sent[1][1].text
    assert len(outage_warnings(caplog)) == 1
    assert any("answers again" in record.getMessage() for record in caplog.records)


async def test_a_failing_panel_gets_one_warning_per_outage_and_longer_pauses(
    sim: PanelSimulator,
    other_sim: PanelSimulator,
    runtime: Runtime,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    new_service: ServiceFactory,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.alerts")
    service = new_service({"telegram": RecordingSender()})
    await follow(runtime, sim, "1001", DEMO_KEY, 350)  # four batches on the failing host
    await follow(runtime, other_sim, "1002", OTHER_PANEL_KEY, 1)
    # A WAF answering block pages: no single answer says "the whole host", but the third failure
    # in a row does. Each probe is one request.
    sim.quirks.html_page = 403
    sim.quirks.only_actions = ["status"]
    sim.reset_counters()

    stats = await service.poll_once()
    assert stats.failed_requests == 4
    assert stats.orders_checked == 1  # the other panel's order
    assert len(outage_warnings(caplog)) == 1
    first_requests = sim.request_count

    # Still failing at each probe: one warning for the whole outage, pauses growing.
    pauses = []
    for _ in range(3):
        waited = 0.0
        before = sim.request_count
        while sim.request_count == before:
            clock.advance(10)
            waited += 10
            await service.poll_once()
            assert waited < 3600
        pauses.append(waited)
    assert pauses[0] >= HOST_BACKOFF_BASE
    assert pauses[0] < pauses[1] < pauses[2]
    # One probe per pause, not the backlog.
    assert sim.request_count - first_requests == 3
    assert len(outage_warnings(caplog)) == 1

    sim.quirks.reset()
    clock.advance(3600)
    stats = await service.poll_once()
    assert stats.failed_requests == 0
    assert stats.orders_checked == 351
    assert stats.requests == 5


@pytest.mark.parametrize(
    ("fault", "host_wide"),
    [({"rate_limit_next": 10_000, "retry_after": 1}, True), ({"server_error_next": 10_000}, False)],
    ids=["429 with Retry-After 1", "500"],
)
async def test_a_failing_host_gets_one_request_per_batch_and_probe_and_no_retries(
    sim: PanelSimulator,
    other_sim: PanelSimulator,
    runtime: Runtime,
    clock: FakeClock,
    new_service: ServiceFactory,
    fault: dict[str, object],
    host_wide: bool,
) -> None:
    service = new_service({"telegram": RecordingSender()})
    await follow(runtime, sim, "1001", DEMO_KEY, 450)  # five batches on the failing host
    await follow(runtime, other_sim, "1002", OTHER_PANEL_KEY, 1)
    sim.quirks.update(fault)
    sim.reset_counters()

    stats = await service.poll_once()
    # Every batch sent was asked once: no fallback, no retry, no sleep holding a slot.
    batches = [fields["orders"] for _, fields in sim.request_log]
    assert len(set(batches)) == len(batches)
    assert (stats.failed_requests, stats.skipped_requests) == (len(batches), 5 - len(batches))
    if host_wide:
        # A 429 pauses the host at once: only the batches already in flight went out.
        assert len(batches) == PER_HOST
    assert other_sim.action_counts["status"] == 1

    for cycle in range(3):
        # Each cycle one request probes the host; it fails, and the pause grows (30, 60, 120 s).
        # The other host is polled in every cycle meanwhile.
        before = sim.request_count
        clock.advance(POLL)
        stats = await service.poll_once()
        assert sim.request_count == before + 1
        assert (stats.failed_requests, stats.skipped_requests) == (1, 4)
        assert other_sim.action_counts["status"] == 2 + cycle
    # Now paused for longer than a cycle: nothing at all is sent to it.
    before = sim.request_count
    clock.advance(POLL)
    stats = await service.poll_once()
    assert sim.request_count == before
    assert (stats.failed_requests, stats.skipped_requests) == (0, 5)


async def test_one_failed_batch_does_not_pause_a_host_shared_by_many_users(
    sim: PanelSimulator,
    runtime: Runtime,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    new_service: ServiceFactory,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.alerts")
    service = new_service({"telegram": RecordingSender()})
    # The default panel: one host, one batch for each of six users.
    for index in range(6):
        key = f"sim-key-user-{index:04d}"
        sim.add_key(key, balance="100")
        await follow(runtime, sim, str(2000 + index), key, 2)
    sim.quirks.update({"server_error_next": 1})
    sim.reset_counters()

    stats = await service.poll_once()
    assert sim.request_count == 6
    assert (stats.failed_requests, stats.skipped_requests, stats.orders_checked) == (1, 0, 10)
    assert outage_warnings(caplog) == []
    # The failed batch is simply still due: the next cycle checks it.
    clock.advance(POLL)
    stats = await service.poll_once()
    assert (stats.failed_requests, stats.skipped_requests, stats.orders_checked) == (0, 0, 12)


async def test_each_cycle_starts_a_hosts_jobs_at_another_place(clock: FakeClock) -> None:
    # A host that pauses mid-cycle must not leave the same keys unchecked every cycle.
    pool = HostPool(clock, per_host=1, rng=random.Random(7))
    order: list[int] = []

    def job(index: int) -> PanelJob:
        async def run() -> bool:
            order.append(index)
            return True

        return PanelJob("http://panel.test/api/v2", run)

    firsts = set()
    for _ in range(10):
        order.clear()
        assert (await pool.run([job(index) for index in range(8)])).done == 8
        assert order == [(order[0] + step) % 8 for step in range(8)]
        firsts.add(order[0])
    assert len(firsts) >= 4
