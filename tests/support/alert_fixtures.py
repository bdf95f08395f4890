"""Pytest fixtures for the status-alert tests: a runtime polling every POLL seconds on a clock
moved by hand, and alert services on it.

Import them like those of `tests.support.fixtures` (registered under the name after `_fixture`),
together with `sim` and `alice` from there. `runtime` here is built from `settings`, which a
module can override (a second panel allowed, say).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from bot.alerts.service import AlertService
from bot.core.seam import Sender
from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from bot.settings import Settings
from tests.support.alerts import POLL, FakeClock, RecordingSender, ServiceFactory
from tests.support.corebot import make_settings, running_core


@pytest.fixture(name="clock")
def clock_fixture() -> FakeClock:
    """The bot's clock for the test."""
    return FakeClock()


@pytest.fixture(name="settings")
def settings_fixture(sim: PanelSimulator, tmp_path: Path) -> Settings:
    """Test settings for `sim`, polling every POLL seconds."""
    return make_settings(tmp_path, sim.url, status_poll_seconds=POLL)


@pytest.fixture(name="runtime")
async def runtime_fixture(settings: Settings, clock: FakeClock) -> AsyncIterator[Runtime]:
    """The core for `settings`, reading the time from `clock`."""
    async with running_core(settings) as rt:
        rt.core.res.clock = clock
        yield rt


@pytest.fixture(name="sender")
def sender_fixture() -> RecordingSender:
    """The telegram edge of `service`."""
    return RecordingSender()


@pytest.fixture(name="service")
async def service_fixture(runtime: Runtime, sender: RecordingSender) -> AsyncIterator[AlertService]:
    """An AlertService on the test's runtime, delivering to `sender`."""
    async with AlertService(runtime, {"telegram": sender}) as alert_service:
        yield alert_service


@pytest.fixture(name="new_service")
async def new_service_fixture(runtime: Runtime) -> AsyncIterator[ServiceFactory]:
    """AlertServices on the test's runtime, closed at the end of the test."""
    made: list[AlertService] = []

    def make(senders: Mapping[str, Sender]) -> AlertService:
        made.append(AlertService(runtime, senders))
        return made[-1]

    yield make
    for service in made:
        await service.aclose()
