"""AlertService: the status poller and the outbox delivery, run beside the chat adapters.

`running()` starts two loops: one polls every STATUS_POLL_SECONDS (orders, refills, hourly balance
readings), the other delivers the outbox whenever a cycle queued alerts (and every few seconds for
retries). It also hooks into order placement for the low-balance check. Tests and the benchmark
drive one cycle at a time with `poll_once()` and `deliver_once()` (then `aclose()`, or use the
service as `async with`).

Order statuses are read through `StatusReader` (a lean request per batch of 100, its own
connection pool, PanelClient only for a 200 answer it cannot read); refills, balances and those
fallbacks use the service's own single-attempt PanelClient: the host pool's backoff is the only
retry policy of background requests, so a failing panel is asked once per probe and never holds
a concurrency slot while sleeping through a Retry-After.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from types import TracebackType

from bot.alerts.balance import LowBalanceWatcher
from bot.alerts.delivery import OutboxDelivery
from bot.alerts.hosts import HostPool
from bot.alerts.keys import KeyRing
from bot.alerts.poller import StatusPoller
from bot.alerts.status_reader import StatusReader
from bot.core.seam import Sender
from bot.panel.client import PanelClient
from bot.runtime import Runtime
from storage import credentials, outbox

log = logging.getLogger(__name__)

# The delivery loop looks for due retries at least this often.
DELIVERY_IDLE_SECONDS = 5.0
# Delivered and abandoned alerts are kept this long (their dedupe keys with them), pruned hourly.
OUTBOX_KEEP_SECONDS = 30 * 24 * 3600.0
PRUNE_EVERY_SECONDS = 3600.0
# How long a stopping service lets a cycle or delivery in progress finish before cancelling it.
STOP_GRACE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class CycleStats:
    """What one poll cycle did."""

    started_at: float
    seconds: float
    # Panel requests sent: one per key and batch of at most 100 ids, one per balance reading.
    requests: int
    # Requests not sent because their host was backing off (their rows stay due).
    skipped_requests: int
    failed_requests: int
    orders_checked: int
    orders_changed: int
    refills_checked: int
    refills_changed: int
    balances_checked: int
    alerts_queued: int
    keys_rejected: int


class AlertService:
    """Polls order/refill statuses and balances, and delivers the resulting alerts."""

    def __init__(
        self,
        runtime: Runtime,
        senders: Mapping[str, Sender],
        *,
        poll_seconds: float | None = None,
    ) -> None:
        self._runtime = runtime
        res = runtime.core.res
        self._clock: Callable[[], float] = lambda: res.clock()
        self.poll_seconds = (
            poll_seconds if poll_seconds is not None else runtime.settings.status_poll_seconds
        )
        self._wake = asyncio.Event()
        self.hosts = HostPool(self._clock)
        timeout = runtime.settings.panel_timeout_seconds
        # Its own small pool, one attempt per call: retries are the host pool's business here.
        self._panel = PanelClient(timeout=timeout, max_attempts=1)
        self.reader = StatusReader(self._panel, timeout=timeout)
        self._keys = KeyRing(runtime.db, runtime.cipher, self._clock)
        self._poller = StatusPoller(
            runtime.db,
            self._panel,
            self.reader,
            self._keys,
            poll_seconds=self.poll_seconds,
            on_alerts=self._wake.set,
        )
        self._balance = LowBalanceWatcher(
            runtime.db,
            self._panel,
            self._keys,
            self.hosts,
            clock=self._clock,
            on_alerts=self._wake.set,
        )
        self._delivery = OutboxDelivery(runtime.db, senders, self._clock)
        self._cycle_lock = asyncio.Lock()
        self._background: set[asyncio.Task[None]] = set()
        self.last_cycle: CycleStats | None = None

    async def aclose(self) -> None:
        """Close the service's panel connections (`running()` does this on exit)."""
        await self.reader.aclose()
        await self._panel.aclose()

    async def __aenter__(self) -> AlertService:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def poll_once(self) -> CycleStats:
        """Run one full cycle: due orders and refills in batches, and due balance readings."""
        async with self._cycle_lock:
            started = time.monotonic()
            now = self._clock()
            balance_before = (self._balance.checked, self._balance.alerts_queued)
            creds = await credentials.pollable_credentials(self._runtime.db)
            jobs = await self._poller.prepare(now, creds)
            jobs += await self._balance.due_jobs(now)
            try:
                run = await self.hosts.run(jobs)
            finally:
                tally = await self._poller.finish()
            stats = CycleStats(
                started_at=now,
                seconds=time.monotonic() - started,
                requests=run.attempted,
                skipped_requests=run.skipped,
                failed_requests=run.failed,
                orders_checked=tally.orders_checked,
                orders_changed=tally.orders_changed,
                refills_checked=tally.refills_checked,
                refills_changed=tally.refills_changed,
                balances_checked=self._balance.checked - balance_before[0],
                alerts_queued=tally.alerts_queued + self._balance.alerts_queued - balance_before[1],
                keys_rejected=tally.keys_rejected,
            )
        self.last_cycle = stats
        log.debug("poll cycle: %s", stats)
        return stats

    async def deliver_once(self) -> int:
        """Deliver the outbox messages due now; returns how many the platforms accepted."""
        return await self._delivery.deliver_once()

    async def check_balance(self, user_row_id: int) -> None:
        """Read one user's balance now and alert if it fell below their threshold; never raises."""
        await self._balance.check_user(user_row_id)

    async def on_placed(self, user_row_id: int) -> None:
        """The placement hook: start a balance check in the background and return at once."""
        # The order reply must not wait for another panel round trip, and must never fail
        # because of it: the check runs as its own task and logs its own errors.
        task = asyncio.create_task(self.check_balance(user_row_id), name="low-balance-check")
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def idle(self) -> None:
        """Wait for background balance checks started by placements (tests use this)."""
        while self._background:
            await asyncio.gather(*list(self._background), return_exceptions=True)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[AlertService]:
        """Run the poll and delivery loops and the placement hook until the block exits."""
        hooks = self._runtime.core.res.placed_hooks
        hook: Callable[[int], Awaitable[None]] = self.on_placed
        hooks.append(hook)
        stop = asyncio.Event()
        delivery = asyncio.create_task(self._delivery_loop(stop), name="alerts-delivery")
        polling = asyncio.create_task(self._poll_loop(stop), name="alerts-poll")
        try:
            yield self
        finally:
            with contextlib.suppress(ValueError):
                hooks.remove(hook)
            stop.set()
            self._delivery.stop()
            self._wake.set()
            await self._wind_down(delivery, [polling, *self._background])
            await self.aclose()

    async def _wind_down(
        self, delivery: asyncio.Task[None], others: list[asyncio.Task[None]]
    ) -> None:
        """Let the loops finish within the grace period, then cancel them, delivery first."""
        _, pending = await asyncio.wait([delivery, *others], timeout=STOP_GRACE_SECONDS)
        # Delivery first: its send in flight is cut (the duplicate window of bot.alerts.delivery)
        # but a send already accepted is still recorded (`settle`), before any poll transaction
        # is rolled back. Cancelled polling is safe: every write is one transaction.
        if delivery in pending:
            delivery.cancel()
        await asyncio.gather(delivery, return_exceptions=True)
        await self._delivery.settle()
        for task in others:
            if task in pending:
                task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    async def _poll_loop(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            started = loop.time()
            try:
                stats = await self.poll_once()
                if stats.requests or stats.alerts_queued:
                    log.info(
                        "Status poll: %d requests, %d orders and %d refills checked, %d alerts "
                        "queued, %.1f s",
                        stats.requests,
                        stats.orders_checked,
                        stats.refills_checked,
                        stats.alerts_queued,
                        stats.seconds,
                    )
            except Exception:
                log.exception("status poll cycle failed; trying again next interval")
            # A fixed cadence: a slow cycle shortens the pause instead of drifting the schedule.
            pause = max(0.0, self.poll_seconds - (loop.time() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=pause)

    async def _delivery_loop(self, stop: asyncio.Event) -> None:
        pruned_at = float("-inf")
        while not stop.is_set():
            self._wake.clear()
            try:
                await self.deliver_once()
                now = self._clock()
                if now - pruned_at >= PRUNE_EVERY_SECONDS:
                    pruned_at = now
                    await outbox.prune_outbox(self._runtime.db, now - OUTBOX_KEEP_SECONDS)
            except Exception:
                log.exception("alert delivery failed; trying again shortly")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=DELIVERY_IDLE_SECONDS)
