"""A panel that echoes the API key inside per-id errors: the key never reaches a result."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from bot.panel.client import PanelClient
from bot.panel.models import ItemError
from tests.support.loopback import serve

KEY = "echoed-secret-key-123456"


@pytest.fixture
async def echo_panel() -> AsyncIterator[str]:
    async def api(request: web.Request) -> web.Response:
        form = await request.post()
        key, action = str(form["key"]), str(form["action"])
        bad = f"Incorrect order ID for key {key}"
        if action == "status":
            return web.json_response({"1": {"error": bad}})
        if action == "refill":
            return web.json_response([{"order": 1, "refill": {"error": bad}}])
        if action == "refill_status":
            return web.json_response([{"refill": 1, "status": {"error": bad}}])
        return web.json_response([{"order": 1, "cancel": {"error": bad}}])

    app = web.Application()
    app.router.add_post("/api/v2", api)
    async with serve(app) as base:
        yield f"{base}/api/v2"


async def test_per_id_errors_are_masked(echo_panel: str) -> None:
    async with PanelClient(timeout=5) as client:
        statuses = await client.statuses(echo_panel, KEY, ["1", "2"])
        refills = await client.refills(echo_panel, KEY, ["1", "2"])
        refill_states = await client.refill_statuses(echo_panel, KEY, ["1", "2"])
        cancels = await client.cancel(echo_panel, KEY, ["1", "2"])
    texts = [str(statuses), str(refills), str(refill_states), str(cancels)]
    assert isinstance(statuses["1"], ItemError) and "Incorrect order ID" in statuses["1"].message
    for text in texts:
        assert KEY not in text
