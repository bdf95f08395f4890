"""Run the simulator as its own process: print the URL and a demo key, serve until a signal."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from decimal import Decimal

from bot.panel.simulator.large import large_scale_key
from bot.panel.simulator.simulator import PanelSimulator

log = logging.getLogger(__name__)

DEMO_KEY = "demo-key-0001"
DEMO_BALANCE = Decimal("100.00000")
DEMO_CURRENCY = "USD"


def build_simulator(
    *,
    large: bool = False,
    seed: int = 1,
    services: int | None = None,
    keys: int = 10_000,
    orders_per_key: int = 10,
    change_share: float = 0.1,
) -> PanelSimulator:
    """A simulator with the demo key; in large mode also the benchmark keys and orders."""
    if large:
        sim = PanelSimulator.large(
            services=services or 10_000,
            keys=keys,
            orders_per_key=orders_per_key,
            change_share=change_share,
            seed=seed,
        )
    else:
        sim = PanelSimulator(seed=seed, services=services or 300)
    sim.add_key(DEMO_KEY, DEMO_BALANCE, DEMO_CURRENCY)
    return sim


def _announce(sim: PanelSimulator, url: str, large_keys: int | None, orders_per_key: int) -> None:
    base = url.removesuffix("/api/v2")
    lines = [
        f"SMM panel simulator (API v2): {len(sim.catalogue)} services, seed {sim.seed}",
        f"API URL:  {url}",
        f"Demo key: {DEMO_KEY} (balance {DEMO_BALANCE} {DEMO_CURRENCY})",
    ]
    if large_keys is not None:
        last = large_scale_key(max(large_keys - 1, 0))
        lines.append(
            f"Large mode: {large_keys} keys {large_scale_key(0)} .. {last}; the orders of key i"
            f" are ids i*{orders_per_key}+1 .. i*{orders_per_key}+{orders_per_key}"
        )
    lines += [
        f"Controls: POST {base}/_sim/quirks | /_sim/advance | /_sim/keys, GET {base}/_sim/stats",
        "Stop with Ctrl+C.",
        f"SIMULATOR_URL={url}",
        f"SIMULATOR_KEY={DEMO_KEY}",
    ]
    for line in lines:
        print(line, flush=True)


async def serve(
    sim: PanelSimulator,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    large_keys: int | None = None,
    orders_per_key: int = 10,
) -> None:
    """Serve `sim` until SIGINT or SIGTERM, after printing how to reach it."""
    url = await sim.start(host, port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows event loops have no signal handlers; Ctrl+C then ends asyncio.run instead.
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
    try:
        _announce(sim, url, large_keys, orders_per_key)
        await stop.wait()
    finally:
        await sim.stop()
        log.info("panel simulator stopped")


def run_standalone(
    port: int,
    host: str = "127.0.0.1",
    *,
    large: bool = False,
    seed: int = 1,
    services: int | None = None,
    keys: int = 10_000,
    orders_per_key: int = 10,
    change_share: float = 0.1,
) -> None:
    """Build a simulator and serve it on host:port (0 = a free port) until SIGINT/SIGTERM."""
    if large:
        print("Building the large-scale panel...", file=sys.stderr, flush=True)
    sim = build_simulator(
        large=large,
        seed=seed,
        services=services,
        keys=keys,
        orders_per_key=orders_per_key,
        change_share=change_share,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(
            serve(
                sim,
                host,
                port,
                large_keys=keys if large else None,
                orders_per_key=orders_per_key,
            )
        )


def main(argv: list[str] | None = None) -> int:
    """Command line: `python -m bot.panel.simulator --port N [--host H] [--large] ...`."""
    parser = argparse.ArgumentParser(
        prog="python -m bot.panel.simulator", description="Serve a simulated SMM panel (API v2)."
    )
    parser.add_argument("--port", type=int, default=0, help="TCP port; 0 picks a free one")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--large", action="store_true", help="benchmark scale: many keys/orders")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--services", type=int, default=None, help="300, or 10000 with --large")
    parser.add_argument("--keys", type=int, default=10_000, help="--large: number of keys")
    parser.add_argument("--orders-per-key", type=int, default=10, help="--large: orders per key")
    parser.add_argument("--change-share", type=float, default=0.1, help="--large: per advance")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(levelname)s %(name)s: %(message)s")
    run_standalone(
        args.port,
        args.host,
        large=args.large,
        seed=args.seed,
        services=args.services,
        keys=args.keys,
        orders_per_key=args.orders_per_key,
        change_share=args.change_share,
    )
    return 0
