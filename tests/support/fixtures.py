"""Pytest fixtures for tests of the core against the simulator over loopback.

A test module imports the ones it needs (`from tests.support.fixtures import sim_fixture  # noqa:
F401`); each is registered under the name after `_fixture` (`sim`, `runtime`, `alice`), so test
parameters do not shadow the imported names. A module may define its own fixture of the same
name (a simulator with an extra key, a runtime with other settings): pytest uses the module's, for
its tests and for the fixtures here that depend on it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from tests.support.corebot import DEMO_KEY, ChatUser, make_settings, new_simulator, running_core


@pytest.fixture(name="sim")
async def sim_fixture() -> AsyncIterator[PanelSimulator]:
    """A running simulator with two funded keys (DEMO_KEY and OTHER_KEY)."""
    async with new_simulator() as simulator:
        yield simulator


@pytest.fixture(name="runtime")
async def runtime_fixture(sim: PanelSimulator, tmp_path: Path) -> AsyncIterator[Runtime]:
    """The core with default test settings, talking to `sim`."""
    async with running_core(make_settings(tmp_path, sim.url)) as rt:
        yield rt


@pytest.fixture(name="alice")
async def alice_fixture(runtime: Runtime) -> ChatUser:
    """Telegram user 1001 with DEMO_KEY saved."""
    user = ChatUser(runtime, "1001")
    assert "saved" in (await user.say(f"/setkey {DEMO_KEY}")).text
    return user
