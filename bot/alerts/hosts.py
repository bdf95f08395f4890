"""Panel requests of a poll cycle, run with bounded concurrency per host and overall, and the
backoff of a host that is down or rate-limiting.

Panels publish no rate limits and many share hosting, so one host never gets more than a few
requests at a time. When a host as a whole fails, the poller stops sending it anything for a while
(at least its Retry-After), logs one warning for the whole outage, and lets one request probe it
when the pause is over; other hosts are not held up meanwhile. One host often serves every user of
the bot (the default panel), so one failed request (one user's batch) does not pause it: only a
host-wide signal does (429 or a rate-limit text, 503, connection failures or timeouts of two
requests in a row, or three failed requests in a row). Each cycle starts a host's jobs at a random
place, so a pause that cuts a cycle short does not leave the same users unchecked every time.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from bot.panel.errors import PanelUnavailable

log = logging.getLogger(__name__)

PER_HOST = 4
OVERALL = 16
# A failing host is left alone for 30 s, doubling per failed probe up to 15 minutes.
HOST_BACKOFF_BASE = 30.0
HOST_BACKOFF_MAX = 15 * 60.0
# A Retry-After is honoured up to this long; a panel asking for more gets this.
MAX_RETRY_AFTER = 3600.0
# Statuses by which a panel says it is overloaded as a whole: its host pauses at once.
HOST_WIDE_STATUS = frozenset({429, 503})
# Otherwise a host pauses after this many requests in a row could not connect or timed out (one is
# a hiccup), or after this many failed in a row for any reason (one can be one user's batch).
CONNECT_FAILURES_TO_PAUSE = 2
FAILURES_TO_PAUSE = 3


def host_of(panel_url: str) -> str:
    """The host (and port) a panel URL points at: the unit of concurrency and backoff."""
    parts = urlsplit(panel_url)
    return (parts.netloc or panel_url).lower()


@dataclass(frozen=True, slots=True)
class PanelJob:
    """One panel request of a cycle.

    `run` returns False when it decided not to send after all (its key was rejected meanwhile),
    and raises PanelUnavailable when the host failed.
    """

    panel_url: str
    run: Callable[[], Awaitable[bool]]


@dataclass(slots=True)
class RunTally:
    """What became of a batch of jobs."""

    done: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def attempted(self) -> int:
        """Jobs whose request was sent (successfully or not)."""
        return self.done + self.failed


@dataclass(slots=True, eq=False)
class HostState:
    """Backoff state of one host."""

    host: str
    semaphore: asyncio.Semaphore
    probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    down_until: float = 0.0
    failures: int = 0
    outage_since: float | None = None
    # Bumped on every trip: a request that started before the latest trip says nothing new.
    generation: int = 0
    # Failed requests in a row since the last success or trip: all of them, and those that
    # could not connect or timed out.
    failed_in_row: int = 0
    unreachable_in_row: int = 0


class HostPool:
    """Runs panel jobs with per-host and overall limits, backing off hosts that fail."""

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        per_host: int = PER_HOST,
        overall: int = OVERALL,
        base_backoff: float = HOST_BACKOFF_BASE,
        max_backoff: float = HOST_BACKOFF_MAX,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._rng = rng or random.Random()
        self._per_host = max(1, per_host)
        self._overall = asyncio.Semaphore(max(1, overall))
        self._base = base_backoff
        self._max = max_backoff
        self._hosts: dict[str, HostState] = {}

    def state(self, panel_url: str) -> HostState:
        """The backoff state of the host of `panel_url`."""
        host = host_of(panel_url)
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = HostState(host, asyncio.Semaphore(self._per_host))
        return state

    def is_down(self, panel_url: str) -> bool:
        """True while the host of `panel_url` is being left alone."""
        return self._clock() < self.state(panel_url).down_until

    async def run(self, jobs: Sequence[PanelJob]) -> RunTally:
        """Run every job (at most `per_host` at once per host, `overall` in all), each host's
        queue started at a random place."""
        queues: dict[str, deque[PanelJob]] = {}
        for job in jobs:
            queues.setdefault(self.state(job.panel_url).host, deque()).append(job)
        for queue in queues.values():
            # Rotated, not shuffled: neighbouring jobs hold neighbouring rows, and writing them
            # together keeps SQLite's page cache warm.
            queue.rotate(self._rng.randrange(len(queue)))
        tally = RunTally()
        workers = [
            self._worker(self._hosts[host], queue, tally)
            for host, queue in queues.items()
            for _ in range(min(self._per_host, len(queue)))
        ]
        await asyncio.gather(*workers)
        return tally

    async def _worker(self, state: HostState, queue: deque[PanelJob], tally: RunTally) -> None:
        while queue:
            if self._clock() < state.down_until:
                # The rest stay due in storage and go out once the host is back.
                tally.skipped += len(queue)
                queue.clear()
                return
            job = queue.popleft()
            async with state.semaphore, self._overall:
                if state.outage_since is None:
                    await self._attempt(state, job, tally)
                    continue
                # After an outage one request probes the host; the others wait for its verdict.
                async with state.probe_lock:
                    if self._clock() < state.down_until:
                        tally.skipped += 1
                        continue
                    await self._attempt(state, job, tally)

    async def _attempt(self, state: HostState, job: PanelJob, tally: RunTally) -> None:
        generation = state.generation
        try:
            sent = await job.run()
        except PanelUnavailable as error:
            tally.failed += 1
            if generation == state.generation:
                self._failed(state, error)
        except Exception:
            # Jobs handle their own errors; this is a bug, and it must not stop the cycle.
            tally.failed += 1
            log.exception("a panel job for %s failed unexpectedly", state.host)
        else:
            if not sent:
                tally.skipped += 1
                return
            tally.done += 1
            state.failed_in_row = state.unreachable_in_row = 0
            if state.outage_since is not None and generation == state.generation:
                self._recover(state)

    def _failed(self, state: HostState, error: PanelUnavailable) -> None:
        state.failed_in_row += 1
        unreachable = error.reason in ("timeout", "connection")
        state.unreachable_in_row = state.unreachable_in_row + 1 if unreachable else 0
        host_wide = (
            state.outage_since is not None  # a probe failed: the outage goes on
            or error.reason == "rate_limited"
            or error.status_code in HOST_WIDE_STATUS
            or state.unreachable_in_row >= CONNECT_FAILURES_TO_PAUSE
            or state.failed_in_row >= FAILURES_TO_PAUSE
        )
        if host_wide:
            self._trip(state, error)
            return
        # Its rows stay due and are asked again next cycle; the host goes on serving the others.
        log.info(
            "A request to panel %s failed (%s, HTTP %s); not pausing the host for it",
            state.host,
            error.reason,
            error.status_code if error.status_code is not None else "-",
        )

    def _trip(self, state: HostState, error: PanelUnavailable) -> None:
        now = self._clock()
        state.failures += 1
        state.generation += 1
        state.failed_in_row = state.unreachable_in_row = 0
        delay = min(self._max, self._base * 2 ** (state.failures - 1))
        if error.retry_after is not None:
            delay = max(delay, min(error.retry_after, MAX_RETRY_AFTER))
        state.down_until = now + delay
        if state.outage_since is None:
            state.outage_since = now
            log.warning(
                "Panel %s is not usable (%s, HTTP %s); pausing its status checks for %.0f s",
                state.host,
                error.reason,
                error.status_code if error.status_code is not None else "-",
                delay,
            )
        else:
            log.info(
                "Panel %s is still not usable (%s); next try in %.0f s",
                state.host,
                error.reason,
                delay,
            )

    def _recover(self, state: HostState) -> None:
        since = state.outage_since if state.outage_since is not None else self._clock()
        log.info(
            "Panel %s answers again after %.0f s; status checks resume",
            state.host,
            self._clock() - since,
        )
        state.outage_since = None
        state.failures = 0
        state.down_until = 0.0
