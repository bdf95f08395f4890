"""Benchmark of the status poller at scale (prints figures; not a test).

    python bench/poller.py            # 10,000 users x 10 active orders = 100,000 orders,
                                      # plus 20 users x 250 orders (batches of 100, 100, 50)
    python bench/poller.py --small    # 500 users x 10 orders (+ the same 20 big users)

The simulated panel runs in its own process (`python -m bot.panel.simulator --large`). The bot
side is the real AlertService with real SQLite storage in a temporary directory and one encrypted
key per user. Cycle 1 is the first look at every order; between cycles the panel moves a share of
the active orders (`POST /_sim/advance`), and cycle 2 is the measured steady-state cycle. Then a
naive poller (one `status` request per order, same concurrency) runs on a SAMPLE of the orders
and its time is extrapolated to the whole workload (it is not run on all of them).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

# `python bench/poller.py` puts bench/ first on sys.path; the project root must come before any
# stale install of the packages.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.alerts.hosts import OVERALL
from bot.alerts.service import AlertService, CycleStats
from bot.crypto import KeyOwner, generate_master_key, hint_for
from bot.panel.client import PanelClient
from bot.panel.simulator import large_scale_key, large_scale_orders
from bot.runtime import Runtime, build_runtime
from bot.settings import load_settings
from storage import credentials, order_polling, outbox, users
from storage.credentials import NewCredential
from storage.order_polling import NewTrackedOrder

POLL_SECONDS = 120.0
PLATFORM = "telegram"
# Users with more than 100 active orders, so "requests == lower bound" covers split batches.
BIG_USERS = 20  # --big-users
BIG_USER_ORDERS = 250
BIG_BALANCE = "100000000"


class BenchClock:
    """The bot's wall clock, moved one poll interval per cycle (no real waiting)."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@contextmanager
def simulator_process(keys: int, per_key: int, share: float) -> Iterator[str]:
    """Start the large simulator in its own process; yield its API URL; stop it."""
    command = [
        sys.executable,
        "-m",
        "bot.panel.simulator",
        "--large",
        "--port",
        "0",
        "--keys",
        str(keys),
        "--orders-per-key",
        str(per_key),
        "--change-share",
        str(share),
        "--services",
        "2000",
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        url = ""
        for line in process.stdout:
            if line.startswith("SIMULATOR_URL="):
                url = line.strip().split("=", 1)[1]
                break
        if not url:
            raise RuntimeError("the simulator did not start")
        # Keep reading (and dropping) what it prints: a full pipe would block the simulator.
        stdout = process.stdout
        threading.Thread(target=lambda: all(True for _ in stdout), daemon=True).start()
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def control(url: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """Call a simulator control route (`/_sim/...`)."""
    base = url.removesuffix("/api/v2")
    with httpx.Client(timeout=120) as client:
        if body is None and path.endswith("stats"):
            response = client.get(base + path)
        else:
            response = client.post(base + path, json=body or {})
    response.raise_for_status()
    return response.json()


def cpu_seconds() -> float:
    """CPU time (user + system) of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def big_user_key(index: int) -> str:
    """The key of big user number `index`."""
    return f"bench-big-key-{index:03d}"


async def place_big_users_orders(url: str, count: int) -> dict[str, list[str]]:
    """`count` keys on the panel with BIG_USER_ORDERS orders each (placed through `add`)."""
    if not count:
        return {}
    for index in range(count):
        control(url, "/_sim/keys", {"key": big_user_key(index), "balance": BIG_BALANCE})
    placed: dict[str, list[str]] = {big_user_key(index): [] for index in range(count)}
    slots = asyncio.Semaphore(OVERALL)
    async with PanelClient(timeout=30) as panel:
        services = await panel.services(url, big_user_key(0))
        service = next(item for item in services if item.type == "Default")

        async def place(key: str, number: int) -> None:
            async with slots:
                link = f"https://bench.test/big/{key}/{number}"
                fields: dict[str, str | int] = {"link": link, "quantity": service.min}
                placed[key].append(await panel.add(url, key, service.service_id, fields))

        await asyncio.gather(
            *(place(key, number) for key in placed for number in range(BIG_USER_ORDERS))
        )
    return placed


async def seed(
    runtime: Runtime, url: str, keys: int, per_key: int, big: dict[str, list[str]]
) -> list[tuple[str, str]]:
    """Users, encrypted keys and tracked orders, in bulk; returns (key, order id) per order."""
    db = runtime.db
    user_keys = {str(500_000 + index): large_scale_key(index) for index in range(keys)}
    user_orders = {
        puid: [str(order_id) for order_id in large_scale_orders(index, per_key)]
        for index, puid in enumerate(user_keys)
    }
    for index, (key, order_ids) in enumerate(big.items()):
        user_keys[str(900_000 + index)] = key
        user_orders[str(900_000 + index)] = order_ids
    rows = await users.bulk_add_users(db, PLATFORM, list(user_keys))
    sealed = []
    for puid, key in user_keys.items():
        ciphertext = runtime.cipher.encrypt(key, KeyOwner(PLATFORM, puid, url))
        sealed.append(NewCredential(rows[puid], url, ciphertext, hint_for(key)))
    creds = await credentials.bulk_add_credentials(db, sealed)
    tracked: list[NewTrackedOrder] = []
    pairs: list[tuple[str, str]] = []
    for puid, order_ids in user_orders.items():
        for order_id in order_ids:
            tracked.append(NewTrackedOrder(rows[puid], creds[rows[puid]], url, order_id))
            pairs.append((user_keys[puid], order_id))
    await order_polling.bulk_track(db, tracked)
    return pairs


async def lower_bound(runtime: Runtime, now: float) -> dict[str, float]:
    """Due orders, the sum over keys of ceil(due orders of the key / 100), and the share of that
    sum from keys with more than 100 due orders (split into several batches)."""
    per_key = Counter(
        target.credential_id for target in await order_polling.due_poll_targets(runtime.db, now)
    )
    big = [count for count in per_key.values() if count > 100]
    return {
        "due": sum(per_key.values()),
        "bound": sum(math.ceil(count / 100) for count in per_key.values()),
        "big_keys": len(big),
        "big_bound": sum(math.ceil(count / 100) for count in big),
    }


async def measured_cycle(
    service: AlertService, runtime: Runtime, url: str, clock: BenchClock
) -> tuple[CycleStats, dict[str, float]]:
    """One poll cycle with its panel requests, lower bound, wall time and CPU time."""
    figures = await lower_bound(runtime, clock.now)
    control(url, "/_sim/stats/reset")
    cpu_before, wall_before = cpu_seconds(), time.perf_counter()
    stats = await service.poll_once()
    wall = time.perf_counter() - wall_before
    cpu = cpu_seconds() - cpu_before
    figures["requests"] = control(url, "/_sim/stats")["actions"].get("status", 0)
    return stats, {**figures, "wall": wall, "cpu": cpu}


def report(title: str, stats: CycleStats, figures: dict[str, float]) -> None:
    """Print one cycle's figures."""
    checked = max(stats.orders_checked, 1)
    print(f"\n{title}")
    print(
        f"  orders due / checked / changed:   {figures['due']:,.0f} / {stats.orders_checked:,}"
        f" / {stats.orders_changed:,}"
    )
    print(
        f"  panel requests made:              {figures['requests']:,.0f}"
        f"  (lower bound sum ceil(n/100): {figures['bound']:,.0f}; requests == lower bound: "
        f"{'yes' if figures['requests'] == figures['bound'] else 'NO'})"
    )
    print(
        f"  of which keys with > 100 due:     {figures['big_keys']:,.0f} keys, "
        f"{figures['big_bound']:,.0f} requests in the lower bound"
    )
    print(f"  cycle wall time:                  {figures['wall']:.2f} s")
    print(
        f"  CPU seconds per 1,000 orders:     {figures['cpu'] / checked * 1000:.3f}"
        f"  ({figures['cpu']:.2f} s CPU in all)"
    )
    print(f"  alerts written (outbox):          {stats.alerts_queued:,}")


async def naive_cycle(url: str, pairs: list[tuple[str, str]]) -> float:
    """A naive poller: one `status` request per order, same overall concurrency; wall time."""
    slots = asyncio.Semaphore(OVERALL)
    async with PanelClient(timeout=30) as panel:

        async def one(key: str, order_id: str) -> None:
            async with slots:
                await panel.status(url, key, order_id)

        started = time.perf_counter()
        await asyncio.gather(*(one(key, order_id) for key, order_id in pairs))
        return time.perf_counter() - started


async def main_async(keys: int, per_key: int, share: float, sample: int, big_users: int) -> None:
    """Run the benchmark and print its figures."""
    total = keys * per_key + big_users * BIG_USER_ORDERS
    print(
        f"Workload: {keys:,} users x {per_key} active orders + {big_users} users x "
        f"{BIG_USER_ORDERS} = {total:,} orders, {share:.0%} of the large-mode ones changing per "
        f"cycle; {os.cpu_count()} CPUs"
    )
    started = time.perf_counter()
    with simulator_process(keys, per_key, share) as url, tempfile.TemporaryDirectory() as tmp:
        print(f"Simulator (own process) ready at {url} in {time.perf_counter() - started:.1f} s")
        placing = time.perf_counter()
        big = await place_big_users_orders(url, big_users)
        print(
            f"Placed {big_users * BIG_USER_ORDERS:,} orders of the {big_users} big users through "
            f"`add` in {time.perf_counter() - placing:.1f} s"
        )
        settings = load_settings(
            database_url=f"sqlite:///{Path(tmp) / 'bench.sqlite3'}",
            panel_api_url=url,
            encryption_key=generate_master_key(),
            status_poll_seconds=POLL_SECONDS,
            _env_file=None,
        )
        async with build_runtime(settings) as runtime:
            clock = BenchClock()
            runtime.core.res.clock = clock
            seeded = time.perf_counter()
            pairs = await seed(runtime, url, keys, per_key, big)
            print(
                f"Seeded SQLite with {keys + big_users:,} users, encrypted keys and {total:,} "
                f"orders in {time.perf_counter() - seeded:.1f} s"
            )
            service = AlertService(runtime, {}, poll_seconds=POLL_SECONDS)

            first, figures = await measured_cycle(service, runtime, url, clock)
            report("Cycle 1 (first look at every order):", first, figures)

            moved = control(url, "/_sim/advance", {"seconds": 60})["changed"]
            clock.now += POLL_SECONDS
            steady, figures = await measured_cycle(service, runtime, url, clock)
            report(f"Cycle 2 (steady state; the panel moved {moved:,} orders):", steady, figures)
            await service.aclose()
            waiting = await outbox.count_messages(runtime.db, delivered=False)
            print(f"  outbox rows waiting for delivery: {waiting:,}")
            print(f"\nPeak memory of the bot process (ru_maxrss): {peak_rss_mb():.0f} MB")

            sampled = pairs[:sample]
            naive_wall = await naive_cycle(url, sampled)
            naive_total = naive_wall * total / len(sampled)
            print(
                f"\nNaive poller (one request per order, {OVERALL} at a time), SAMPLED: run on "
                f"{len(sampled):,} of the {total:,} orders ({naive_wall:.2f} s) and EXTRAPOLATED "
                f"to all of them: ~{naive_total:.1f} s, {total:,} requests (not measured whole)"
            )
            print(
                f"Batched cycle (measured) vs naive (extrapolated): {figures['wall']:.2f} s vs "
                f"~{naive_total:.1f} s (naive takes ~{naive_total / figures['wall']:.1f}x as long)"
            )
            print(
                "  (the batched cycle sends one request per key and 100 ids through the poller's "
                "lean read, and writes SQLite; the naive one calls PanelClient.status per order "
                "and writes nothing)"
            )
            targets = [
                ("requests == lower bound", figures["requests"] == figures["bound"]),
                ("cycle under 10 s", figures["wall"] < 10),
                ("peak memory under 300 MB", peak_rss_mb() < 300),
            ]
            print(
                "Targets: " + ", ".join(f"{name}: {'yes' if ok else 'NO'}" for name, ok in targets)
            )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="500 users, a quick sanity run")
    parser.add_argument("--users", type=int, default=None)
    parser.add_argument("--orders-per-user", type=int, default=10)
    parser.add_argument("--change-share", type=float, default=0.1)
    parser.add_argument("--naive-sample", type=int, default=5000)
    parser.add_argument(
        "--big-users", type=int, default=BIG_USERS, help=f"users with {BIG_USER_ORDERS} orders"
    )
    args = parser.parse_args()
    keys = args.users or (500 if args.small else 10_000)
    sample = min(args.naive_sample, 1000 if args.small else args.naive_sample)
    asyncio.run(main_async(keys, args.orders_per_user, args.change_share, sample, args.big_users))


if __name__ == "__main__":
    main()
