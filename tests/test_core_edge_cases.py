"""Edge cases: odd digits, min > max, restarts mid-placement, a lost key file, decimal commas."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.console import ConsoleAdapter
from bot.core.seam import Prompt, Recipient, Reply
from bot.crypto import key_file_path
from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime, StartupError
from storage import orders, users
from tests.support.corebot import (
    DEMO_KEY,
    ChatUser,
    make_settings,
    new_simulator,
    running_core,
)


@pytest.fixture
async def sim() -> AsyncIterator[PanelSimulator]:
    async with new_simulator() as simulator:
        yield simulator


@pytest.fixture
async def runtime(sim: PanelSimulator, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running_core(make_settings(tmp_path, sim.url)) as rt:
        yield rt


@pytest.fixture
async def alice(runtime: Runtime) -> ChatUser:
    user = ChatUser(runtime)
    assert "saved" in (await user.say(f"/setkey {DEMO_KEY}")).text
    return user


async def test_unicode_digits_are_refused_before_the_panel(alice: ChatUser, sim) -> None:
    assert "digits only" in (await alice.say("/status ²")).text
    service = sim.catalogue.first_matching(type="Default", dripfeed=False)
    await alice.say(f"/order {service.id}")
    await alice.say("https://t.me/x")
    again = await alice.say("²")
    assert "whole number" in again.text and again.prompt and again.prompt.field == "quantity"
    assert sim.action_counts["status"] == 0


async def test_subscription_max_below_min_is_asked_again(alice: ChatUser, sim) -> None:
    service = sim.catalogue.first_of_type("Subscriptions")
    await alice.say(f"/order {service.id}")
    await alice.say("someone")
    await alice.say(str(service.min * 2))
    again = await alice.say(str(service.min))
    assert "cannot be less than the minimum" in again.text
    assert again.prompt is not None and again.prompt.field == "max"
    moved_on = await alice.say(str(service.min * 2))
    assert moved_on.prompt is not None and moved_on.prompt.field == "posts"


async def test_intent_left_by_a_dead_process_is_unknown_after_restart(
    sim: PanelSimulator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, sim.url)
    async with running_core(settings) as runtime:
        user = ChatUser(runtime)
        await user.say(f"/setkey {DEMO_KEY}")
        row = await users.get_user(runtime.db, "telegram", user.user_id)
        assert row is not None
        intent = await orders.create_intent(
            runtime.db, user_id=row.id, credential_id=None, panel_url=sim.url,
            intent_token="dead-process", service_id="1", service_name="x",
            service_type="Default", link="https://t.me/x", quantity=100, fields={},
            cost=None, currency="USD", can_refill=False, can_cancel=False,
        )  # fmt: skip
        assert intent is not None
    async with running_core(settings) as runtime:
        after = await orders.get_order_by_token(runtime.db, "dead-process", user_id=row.id)
        assert after is not None and after.state == "unknown" and after.is_final
        listing = await ChatUser(runtime).say("/orders")
        assert "outcome unknown" in listing.text


async def test_missing_key_file_with_stored_keys_refuses_to_start(
    sim: PanelSimulator, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, sim.url, encryption_key=None)
    async with running_core(settings) as runtime:
        assert "saved" in (await ChatUser(runtime).say(f"/setkey {DEMO_KEY}")).text
    key_file_path(settings).unlink()
    with pytest.raises(StartupError) as refused:
        async with running_core(settings):
            pass
    assert "encryption.key" in str(refused.value)
    assert not key_file_path(settings).exists()


async def test_threshold_with_decimal_comma(alice: ChatUser) -> None:
    assert "below 1.50" in (await alice.say("/alerts balance 1,5")).text
    assert "below 1,000.00" in (await alice.say("/alerts balance 1,000")).text


async def test_package_rates_are_per_package(alice: ChatUser, sim) -> None:
    package = sim.catalogue.first_of_type("Package")
    reply = await alice.say(f"/services {package.id}")
    assert "per package" in reply.text and "per 1000" not in reply.text


async def test_cancel_on_confirmation_after_confirm_reports_the_order(alice: ChatUser, sim) -> None:
    service = sim.catalogue.first_matching(type="Default", dripfeed=False)
    confirm = await alice.say(f"/order {service.id} https://t.me/x {service.min}")
    done = await alice.press("Confirm", confirm)
    late_cancel = await alice.press("Cancel", confirm)
    assert "Order placed" in done.text
    assert "Already placed as order" in late_cancel.text
    assert "Cancelled" not in late_cancel.text


async def test_console_alert_keeps_the_open_question(runtime: Runtime) -> None:
    out = io.StringIO()
    console = ConsoleAdapter(runtime.core, stdin=io.StringIO(""), stdout=out, interactive=False)
    question = Reply("Send the quantity", prompt=Prompt("quantity", "Quantity"))
    console.render(question)
    await console.send(Recipient("console", "x"), Reply("Order #1 moved", buttons=()))
    inv = console.invocation_for("help")
    assert inv is not None and inv.kind == "text"  # an answer, not the help command
    inv = console.invocation_for("/help")
    assert inv is not None and inv.kind == "command"


async def test_placed_order_is_reported_even_if_recording_it_fails(tmp_path: Path) -> None:
    """A panel handing back an id the user already has: recording fails, the order still exists."""
    from aiohttp import web

    from tests.support.loopback import serve

    service = {
        "service": 1, "name": "Views", "type": "Default", "category": "Views", "rate": "1.00",
        "min": 10, "max": 1000, "refill": False, "cancel": False,
    }  # fmt: skip
    adds = 0

    async def api(request: web.Request) -> web.Response:
        nonlocal adds
        action = str((await request.post())["action"])
        if action == "balance":
            return web.json_response({"balance": "50.00", "currency": "USD"})
        if action == "services":
            return web.json_response([service])
        adds += 1
        return web.json_response({"order": 1})  # the same id every time

    app = web.Application()
    app.router.add_post("/api/v2", api)
    async with serve(app) as base, running_core(make_settings(tmp_path, f"{base}/api/v2")) as rt:
        user = ChatUser(rt)
        assert "saved" in (await user.say("/setkey some-panel-key-42")).text
        first = await user.press("Confirm", await user.say("/order 1 https://t.me/a 100"))
        assert "Order placed: #1" in first.text
        second = await user.press("Confirm", await user.say("/order 1 https://t.me/b 100"))
        assert "Order placed: #1" in second.text
        assert "Nothing was changed" not in second.text
        assert adds == 2


async def test_one_line_order_while_a_question_is_open(alice: ChatUser, sim) -> None:
    service = sim.catalogue.first_matching(type="Default", dripfeed=False)
    asked = await alice.say("/setkey")
    assert asked.prompt is not None
    confirm = await alice.say(f"/order {service.id} https://t.me/x {service.min}")
    assert "Please check your order" in confirm.text
    assert "Order placed" in (await alice.press("Confirm", confirm)).text
