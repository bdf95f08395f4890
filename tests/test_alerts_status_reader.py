"""The poller's lean batch read: the same answers and errors as PanelClient.statuses, one request
for a clean answer or a failing panel, PanelClient's judgement for a 200 it cannot read."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.alerts.status_reader import StatusReader
from bot.panel.client import PanelClient
from bot.panel.errors import InvalidApiKey, PanelError, PanelUnavailable
from bot.panel.simulator import PanelSimulator
from tests.support.corebot import DEMO_KEY
from tests.support.fixtures import sim_fixture  # noqa: F401  (fixtures, by name)


@pytest.fixture
async def panel() -> AsyncIterator[PanelClient]:
    # One attempt: the tests look at how an answer is judged, not at the retry policy.
    async with PanelClient(timeout=5, max_attempts=1) as client:
        yield client


@pytest.fixture
async def reader(panel: PanelClient) -> AsyncIterator[StatusReader]:
    status_reader = StatusReader(panel, timeout=5)
    yield status_reader
    await status_reader.aclose()


def some_orders(sim: PanelSimulator) -> list[str]:
    service = sim.catalogue.first_matching(type="Default")
    ids = [str(sim.make_order(DEMO_KEY, service.id, service.min)) for _ in range(3)]
    sim.set_order(ids[1], status="In progress", remains=7)
    sim.set_order(ids[2], status="Completed")
    return [*ids, "999999"]  # and one the panel does not know


def outcome(result: Any) -> Any:
    if isinstance(result, PanelError):
        return (type(result).__name__, getattr(result, "reason", None), result.message)
    return result


async def read(client: PanelClient | StatusReader, url: str, key: str, ids: list[str]) -> Any:
    try:
        return outcome(await client.statuses(url, key, ids))
    except PanelError as error:
        return outcome(error)


QUIRKS: list[dict[str, Any]] = [
    {},
    {"numbers_as_strings": True},
    {"money_as_numbers": True, "lowercase_statuses": True},
    {"cancelled_spelling": True, "pending_remains_zero": True},
    {"errors_http_status": 401},
    {"html_page": 403},
    {"html_page": 200},
    {"malformed_json": True},
    {"rate_limit_next": 5, "retry_after": 120},
    {"server_error_next": 5},
    {"errors_http_status": 403},
    {"errors_http_status": 503},
    {"html_page": 503},
]


@pytest.mark.parametrize("quirks", QUIRKS, ids=lambda quirks: ",".join(quirks) or "plain")
@pytest.mark.parametrize("key", [DEMO_KEY, "sim-key-unknown-77"], ids=["known-key", "unknown-key"])
async def test_same_result_or_error_as_panel_client(
    sim: PanelSimulator,
    panel: PanelClient,
    reader: StatusReader,
    quirks: dict[str, Any],
    key: str,
) -> None:
    ids = some_orders(sim)
    sim.quirks.update(quirks)
    expected = await read(panel, sim.url, key, ids)
    sim.quirks.reset()
    sim.quirks.update(quirks)
    assert await read(reader, sim.url, key, ids) == expected


async def test_a_clean_answer_takes_one_request(sim: PanelSimulator, reader: StatusReader) -> None:
    ids = some_orders(sim)
    sim.reset_counters()
    result = await reader.statuses(sim.url, DEMO_KEY, ids)
    assert sim.request_count == 1
    assert reader.fallbacks == 0
    assert [fields for _, fields in sim.request_log] == [
        {"action": "status", "orders": ",".join(ids)}
    ]
    assert result[ids[1]].remains == 7  # type: ignore[union-attr]


async def test_an_unreadable_200_is_asked_again_through_panel_client(
    sim: PanelSimulator, reader: StatusReader
) -> None:
    ids = some_orders(sim)
    sim.reset_counters()
    with pytest.raises(InvalidApiKey):
        await reader.statuses(sim.url, "sim-key-unknown-77", ids)
    assert sim.request_count == 2
    assert reader.fallbacks == 1


@pytest.mark.parametrize(
    ("quirks", "reason", "status_code", "retry_after"),
    [
        ({"rate_limit_next": 5, "retry_after": 1}, "rate_limited", 429, 1.0),
        ({"rate_limit_next": 5}, "rate_limited", 429, None),
        ({"server_error_next": 5}, "server_error", 500, None),
        ({"html_page": 403}, "html", 403, None),
    ],
)
async def test_a_failing_panel_is_asked_once_and_its_retry_after_reported(
    sim: PanelSimulator,
    reader: StatusReader,
    quirks: dict[str, Any],
    reason: str,
    status_code: int,
    retry_after: float | None,
) -> None:
    ids = some_orders(sim)
    sim.quirks.update(quirks)
    sim.reset_counters()
    with pytest.raises(PanelUnavailable) as caught:
        await reader.statuses(sim.url, DEMO_KEY, ids)
    assert (caught.value.reason, caught.value.status_code) == (reason, status_code)
    assert caught.value.retry_after == retry_after
    assert sim.request_count == 1
    assert reader.fallbacks == 0


async def test_a_panel_that_does_not_answer_in_time_is_not_asked_twice(
    sim: PanelSimulator, panel: PanelClient
) -> None:
    ids = some_orders(sim)
    sim.quirks.update({"slow_seconds": 3})
    reader = StatusReader(panel, timeout=0.3)
    try:
        with pytest.raises(PanelUnavailable) as caught:
            await reader.statuses(sim.url, DEMO_KEY, ids)
    finally:
        await reader.aclose()
    assert caught.value.reason == "timeout"
    assert reader.fallbacks == 0


async def test_a_closed_port_is_a_connection_failure(reader: StatusReader) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(PanelUnavailable) as caught:
        await reader.statuses(f"http://127.0.0.1:{port}/api/v2", DEMO_KEY, ["1", "2"])
    assert caught.value.reason == "connection"
    assert DEMO_KEY not in repr(caught.value) and DEMO_KEY not in str(caught.value)
