"""A simulated SMM panel speaking API v2 over HTTP on loopback, for the demo, tests and benchmarks.

`PanelSimulator` holds the state (keys, orders, refills, a clock you can move) and serves it with
aiohttp; `sim.quirks` switches on the ways real panels differ or fail; `PanelSimulator.large(...)`
builds benchmark-scale state whose keys and order ids follow `large_scale_key` and
`large_scale_orders`; `run_standalone` serves one from the command line.
"""

from bot.panel.simulator.addorder import OrderRequest, charge_for
from bot.panel.simulator.catalogue import (
    PACKAGE_TYPES,
    SERVICE_TYPES,
    Catalogue,
    SimService,
    build_catalogue,
)
from bot.panel.simulator.large import large_scale_key, large_scale_orders
from bot.panel.simulator.model import SimOrder, SimRefill
from bot.panel.simulator.quirks import Quirks
from bot.panel.simulator.simulator import PanelSimulator
from bot.panel.simulator.standalone import DEMO_KEY, build_simulator, run_standalone

__all__ = [
    "DEMO_KEY",
    "PACKAGE_TYPES",
    "SERVICE_TYPES",
    "Catalogue",
    "OrderRequest",
    "PanelSimulator",
    "Quirks",
    "SimOrder",
    "SimRefill",
    "SimService",
    "build_catalogue",
    "build_simulator",
    "charge_for",
    "large_scale_key",
    "large_scale_orders",
    "run_standalone",
]
