"""Buttons and order forms act through the key they were made with, whichever key is active now."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from storage import credentials, users
from tests.support.corebot import (
    DEMO_KEY,
    ChatUser,
    make_settings,
    new_simulator,
    running_core,
)
from tests.support.loopback import serve

SECOND_KEY = "sim-key-second-panel-0009"


@pytest.fixture
async def panels() -> AsyncIterator[tuple[PanelSimulator, PanelSimulator]]:
    first, second = new_simulator(), PanelSimulator(seed=1)
    second.add_key(SECOND_KEY, balance="5000")
    async with first, second:
        yield first, second


@pytest.fixture
async def runtime(
    panels: tuple[PanelSimulator, PanelSimulator], tmp_path: Path
) -> AsyncIterator[Runtime]:
    first, second = panels
    settings = make_settings(tmp_path, first.url, panel_allowed_urls=[second.url])
    async with running_core(settings) as rt:
        yield rt


async def add_second_key(user: ChatUser) -> None:
    ask = await user.say("/setkey")
    second_panel = [b for row in ask.buttons for b in row][1]  # buttons follow the panel list
    await user.press_data(second_panel.action)
    assert "saved" in (await user.say(SECOND_KEY)).text


async def test_old_cancel_button_acts_on_its_own_panel(
    runtime: Runtime, panels: tuple[PanelSimulator, PanelSimulator]
) -> None:
    first, second = panels
    service = first.catalogue.first_matching(type="Default", cancel=True, dripfeed=False)
    mine = first.make_order(DEMO_KEY, service.id, service.min)
    other = second.make_order(SECOND_KEY, service.id, service.min)
    assert mine == other  # the same order number on two panels: the trap
    user = ChatUser(runtime)
    await user.say(f"/setkey {DEMO_KEY}")
    status = await user.say(f"/status {mine}")
    await add_second_key(user)  # the second panel's key is now the active one
    ask = await user.press("Cancel", status)
    done = await user.press("Yes", ask)
    assert f"Order #{mine}: cancel requested" in done.text
    assert first.order(mine).status.lower().startswith("cancel")
    assert second.order(other).status == "Pending"
    refreshed = await user.press("Refresh", status)
    assert "Cancel" in refreshed.text or "cancel" in refreshed.text.lower()


async def test_rejected_form_key_is_the_one_marked_invalid(
    runtime: Runtime, panels: tuple[PanelSimulator, PanelSimulator]
) -> None:
    _, second = panels
    user = ChatUser(runtime)
    await user.say(f"/setkey {DEMO_KEY}")
    await add_second_key(user)  # the form below uses the second key
    service = second.catalogue.first_matching(type="Default", dripfeed=False)
    confirm = await user.say(f"/order {service.id} https://t.me/x {service.min}")
    keys = await user.say("/keys")
    await user.press(f"Use …{DEMO_KEY[-4:]}", keys)  # switch back to the first key
    second._accounts.pop(SECOND_KEY)  # the second panel revokes its key
    refused = await user.press("Confirm", confirm)
    assert SECOND_KEY[-4:] in refused.text and DEMO_KEY[-4:] not in refused.text
    row = await users.get_user(runtime.db, "telegram", user.user_id)
    assert row is not None
    flags = {c.hint: c.invalid for c in await credentials.list_credentials(runtime.db, row.id)}
    assert flags == {SECOND_KEY[-4:]: True, DEMO_KEY[-4:]: False}


async def test_refill_of_many_reports_what_was_done_when_a_batch_fails(tmp_path: Path) -> None:
    """A panel that answers the first batch of 100 and fails the second with a 500."""
    calls: list[str] = []

    async def api(request: web.Request) -> web.Response:
        form = await request.post()
        action = str(form["action"])
        calls.append(action)
        if action == "balance":
            return web.json_response({"balance": "10.00", "currency": "USD"})
        if action == "refill" and calls.count("refill") == 1:
            ids = str(form["orders"]).split(",")
            return web.json_response(
                [{"order": int(i), "refill": 9000 + n} for n, i in enumerate(ids)]
            )
        return web.Response(status=500, text="<html>500</html>", content_type="text/html")

    app = web.Application()
    app.router.add_post("/api/v2", api)
    async with serve(app) as base, running_core(make_settings(tmp_path, f"{base}/api/v2")) as rt:
        user = ChatUser(rt)
        assert "saved" in (await user.say("/setkey any-key-1234567")).text
        ids = ",".join(str(1000 + i) for i in range(150))
        reply = await user.say(f"/refill {ids}")
    assert calls.count("refill") == 2  # never retried
    assert len(re.findall(r"refill #\d+ requested", reply.text)) == 100
    assert "may or may not have been refilled" in reply.text
    assert "Nothing was changed" not in reply.text
