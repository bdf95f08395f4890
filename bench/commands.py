"""Benchmark of the command core with a 10,000-service catalogue (core time only).

Prints the median and p95 of a search, a category page and one wizard step, each measured through
`BotCore.handle` with the catalogue already cached (so no panel time is included), and the process's
peak memory. Targets: search median under 5 ms, every step under 20 ms at p95.

    .venv/bin/python bench/commands.py [--services 10000] [--rounds 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.core.actions import CategoryServices
from bot.core.seam import Invocation
from bot.crypto import generate_master_key
from bot.panel.simulator import PanelSimulator
from bot.runtime import build_runtime, register_key
from bot.settings import load_settings

KEY = "bench-key-commands-0001"
USER = "4242"
SEARCHES = ("instagram likes", "youtube views hq", "telegram", "tiktok followers real", "1234")


def invocation(kind: str, name: str, text: str = "") -> Invocation:
    """An invocation from the benchmark user in a private chat."""
    return Invocation("telegram", USER, USER, True, kind, name, text)  # type: ignore[arg-type]


def summary(name: str, samples: list[float]) -> str:
    """Median and p95 in milliseconds."""
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{name:<22} median {statistics.median(ordered) * 1000:7.2f} ms   p95 {p95 * 1000:7.2f} ms"
    )


async def main(services: int, rounds: int) -> None:
    """Run the measurements and print them."""
    simulator = PanelSimulator(services=services)
    simulator.add_key(KEY, balance="1000000")
    url = await simulator.start()
    with tempfile.TemporaryDirectory() as folder:
        os.environ.pop("ENCRYPTION_KEY", None)
        settings = load_settings(
            database_url=f"sqlite:///{folder}/bench.sqlite3",
            panel_api_url=url,
            encryption_key=generate_master_key(),
            _env_file=None,
        )
        async with build_runtime(settings) as runtime:
            core = runtime.core
            await register_key(runtime, "telegram", USER, url, KEY)
            started = time.perf_counter()
            await core.handle(invocation("command", "services"))  # fetches and caches the catalogue
            print(
                f"catalogue of {services} services fetched and indexed in "
                f"{time.perf_counter() - started:.2f} s (panel time; not counted below)"
            )
            searches, pages, steps = [], [], []
            default = simulator.catalogue.first_matching(type="Default", dripfeed=False)
            for index in range(rounds):
                query = SEARCHES[index % len(SEARCHES)]
                started = time.perf_counter()
                await core.handle(invocation("command", "services", query))
                searches.append(time.perf_counter() - started)

                action = CategoryServices(USER, index % 20, index % 3).pack()
                started = time.perf_counter()
                await core.handle(invocation("action", action))
                pages.append(time.perf_counter() - started)

                await core.handle(invocation("command", "order", str(default.id)))
                started = time.perf_counter()
                reply = await core.handle(invocation("text", "", "https://t.me/bench"))
                steps.append(time.perf_counter() - started)
                assert reply.prompt is not None and reply.prompt.field == "quantity", reply.text
    await simulator.stop()
    print(f"{rounds} rounds each, core only:")
    print(summary("search", searches))
    print(summary("category page", pages))
    print(summary("wizard step", steps))
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory (whole process, simulator included): {peak_mb:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=200)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.services, arguments.rounds))
