"""The Discord adapter when things go wrong: a slow panel, a panel that is down, a wrong key,
garbage options, Discord refusing a request, expired interactions, closed DMs; and the alerts it
delivers by DM through the AlertService."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import discord
import pytest
from discord.gateway import DiscordWebSocket
from pydantic import SecretStr

from adapters.discord_messenger import DiscordAdapter
from bot.core.seam import Button, DeliveryError, Recipient, RecipientUnreachable, Reply
from storage import users
from tests.fakes.discord_server import FakeDiscord
from tests.support.corebot import DEMO_KEY, make_settings, running_core
from tests.test_discord_journey import set_key
from tests.test_discord_support import (
    EPHEMERAL,
    USER,
    Rig,
    assert_no_secrets,
    custom_id,
    discord_rig,
    production_logging,
)

WRONG_KEY = "wrong-key-000000"
LOADING = 128


@pytest.fixture(autouse=True)
def secret_free_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with production_logging(caplog):
        yield
    assert_no_secrets(caplog, WRONG_KEY)


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    async with discord_rig(tmp_path, monkeypatch) as started:
        yield started


async def track_order(rig: Rig) -> tuple[int, dict]:
    """An order placed on the panel and looked up with /status (so the bot follows it)."""
    service = rig.sim.catalogue.first_matching(type="Default", dripfeed=False)
    order_id = rig.sim.make_order(DEMO_KEY, service.id, service.min)
    _, status = await rig.command("status", {"orders": str(order_id)})
    assert f"Order #{order_id}" in status["content"]
    return order_id, status


async def test_slow_panel_is_still_deferred_within_three_seconds(rig: Rig) -> None:
    await set_key(rig)
    order_id, status = await track_order(rig)
    rig.sim.quirks.slow_seconds = 4

    balance = rig.fake.slash_command("balance")
    press = rig.fake.press_component(custom_id(status, "Refresh"), message=status)
    for ref in (balance, press):
        call = await rig.fake.wait_for_response(ref, timeout=3.0)
        assert call.time - ref.sent_at < 3.0
    answer = rig.fake.original_message(balance)
    assert answer is not None and answer["flags"] & LOADING  # "thinking…" while the panel works

    assert await rig.adapter.drain(15)
    answer = rig.fake.original_message(balance)
    assert answer is not None and "Balance:" in answer["content"]
    assert not answer["flags"] & LOADING and answer["flags"] & EPHEMERAL
    assert f"Order #{order_id}" in rig.current(status)["content"]


async def test_errors_are_answered_clearly_and_the_bot_keeps_serving(rig: Rig) -> None:
    refused = await set_key(rig, WRONG_KEY)
    assert "invalid" in refused["content"] and "Nothing was stored" in refused["content"]
    await set_key(rig)

    rig.sim.quirks.html_page = 503
    _, down = await rig.command("balance")
    assert "panel is not available" in down["content"] and down["flags"] & EPHEMERAL
    rig.sim.quirks.html_page = None

    garbage = [
        ("status", {"orders": "12; DROP TABLE orders"}, "ids are digits only"),
        ("orders", {"filter": {"type": 3, "value": "everything"}}, "/orders active"),
        ("alerts", {"setting": "balance lots"}, "is not an amount"),
        ("refill_status", {"refills": "x" * 300}, "ids are digits only"),
    ]
    for name, options, expected in garbage:
        _, answer = await rig.command(name, options)
        assert expected in answer["content"], (name, answer["content"])
    default = rig.sim.catalogue.first_matching(type="Default", dripfeed=False)
    options = {"service": str(default.id), "link": "https://x.test/a", "quantity": -5}
    _, answer = await rig.command("order", options)
    assert "quantity" in answer["content"].lower()
    _, answer = await rig.command("order", {"service": "999999", "link": "l", "quantity": 1})
    assert "no service #999999" in answer["content"].lower()
    assert rig.sim.action_counts["add"] == 0

    # A command Discord still lists from an older version, a stale button and a stale form.
    _, answer = await rig.command("prices")
    assert "do not know the command" in answer["content"]
    ref = rig.fake.press_component("zz:1:2")
    await rig.run(ref)
    [stale] = rig.sent_by(ref)
    assert "no longer valid" in stale["content"] and stale["flags"] & EPHEMERAL
    form = rig.fake.submit_modal("~old-form", {"answer": "x"})
    await rig.run(form)
    assert "expired" in rig.fake.responses_for(form)[0].json["data"]["content"]

    _, balance = await rig.command("balance")
    assert "Balance: 5,000.00 USD" in balance["content"]


async def test_discord_refusals_and_expired_interactions(rig: Rig) -> None:
    await set_key(rig)
    rig.fake.fail_next("POST", r"/webhooks/\d+/[^/]+", 400)
    refused = rig.fake.slash_command("balance")
    await rig.run(refused)
    assert [call.status for call in rig.fake.responses_for(refused)] == [200, 400]
    # Refused with buttons: the text still arrives, without them.
    rig.fake.fail_next("POST", r"/webhooks/\d+/[^/]+", 400)
    listed = rig.fake.slash_command("orders")
    await rig.run(listed)
    assert [call.status for call in rig.fake.responses_for(listed)] == [200, 400, 200]
    shown = rig.fake.original_message(listed)
    assert shown is not None and "no orders" in shown["content"] and shown["components"] == []

    service = rig.sim.catalogue.first_matching(type="Default", dripfeed=False)
    options = {"service": str(service.id), "link": "https://x.test/b", "quantity": service.min}
    _, confirm = await rig.command("order", options)
    # The Confirm press reaches the bot too late: Discord refuses the acknowledgement, so the
    # bot must not place an order the user would never hear about.
    rig.fake.fail_next(
        "POST",
        r"/interactions/\d+/[^/]+/callback",
        404,
        {"message": "Unknown interaction", "code": 10062},
    )
    _, calls = await rig.press(confirm, "Confirm")
    assert [call.status for call in calls] == [404]
    assert rig.sim.action_counts["add"] == 0

    await rig.press(confirm, "Confirm")
    assert "Order placed" in rig.current(confirm)["content"]
    assert rig.sim.action_counts["add"] == 1


async def test_dm_alerts_and_closed_dms(rig: Rig) -> None:
    adapter = rig.adapter
    alert = Reply(
        "Order #7 is *Completed* <@1>\n" + "details " * 400,
        buttons=((Button("↻ Refresh", "sr:5001:7"), Button("Panel", url="https://x.test/")),),
    )
    await adapter.send(Recipient("discord", str(USER)), alert)
    [sent] = rig.fake.dms[USER]
    # An alert is one DM (never split): the long text is cut with an ellipsis, buttons under it.
    assert sent["content"].startswith("Order #7 is \\*Completed\\* \\<@1>\ndetails details")
    assert sent["content"].endswith("details…") and len(sent["content"]) <= 2000
    assert len(sent["components"]) == 1 and len(sent["components"][0]["components"]) == 2
    assert not sent["flags"] & EPHEMERAL

    rig.fake.dm_closed.add(USER)
    with pytest.raises(RecipientUnreachable):
        await adapter.send(Recipient("discord", str(USER)), Reply("hello"))
    with pytest.raises(RecipientUnreachable):
        await adapter.send(Recipient("discord", "not-a-user"), Reply("hello"))
    rig.fake.fail_next("POST", r"/users/@me/channels", 400)
    with pytest.raises(DeliveryError) as failed:
        await adapter.send(Recipient("discord", "5003"), Reply("hello"))
    assert not isinstance(failed.value, RecipientUnreachable)
    before = len(rig.fake.calls)
    await adapter.send(Recipient("discord", "5003"), Reply(""))  # nothing to send: no request
    assert len(rig.fake.calls) == before
    await adapter.stop()
    with pytest.raises(DeliveryError):
        await adapter.send(Recipient("discord", "5003"), Reply("hello"))


async def test_alert_service_delivers_by_dm_and_stops_when_dms_close(rig: Rig) -> None:
    # Imported here: the alert service is another module's work; the rest of this file must
    # not depend on it importing.
    from bot.alerts.service import AlertService

    now = [time.time()]
    rig.runtime.core.res.clock = lambda: now[0]
    async with AlertService(rig.runtime, {"discord": rig.adapter}) as service:
        await set_key(rig)
        first, _ = await track_order(rig)

        rig.sim.set_order(first, status="Completed")
        now[0] += rig.settings.status_poll_seconds + 1
        assert (await service.poll_once()).alerts_queued == 1
        assert await service.deliver_once() == 1
        [dm] = rig.fake.dms[USER]
        assert f"#{first}" in dm["content"] and "Completed" in dm["content"]

        second, _ = await track_order(rig)
        rig.fake.dm_closed.add(USER)
        rig.sim.set_order(second, status="Completed")
        now[0] += rig.settings.status_poll_seconds + 1
        assert (await service.poll_once()).alerts_queued == 1
        assert await service.deliver_once() == 0
        user = await users.get_user(rig.runtime.db, "discord", str(USER))
        assert user is not None and not user.alerts_enabled
        assert len(rig.fake.dms[USER]) == 1


async def test_start_fails_clearly_on_a_bad_token_or_no_gateway(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(discord.http.Route, "BASE", discord.http.Route.BASE)
    monkeypatch.setattr(DiscordWebSocket, "DEFAULT_GATEWAY", DiscordWebSocket.DEFAULT_GATEWAY)
    async with FakeDiscord() as fake:
        where = {"discord_api_base_url": fake.api_base, "discord_gateway_url": fake.gateway_url}
        settings = make_settings(tmp_path, "http://127.0.0.1:9/api/v2", **where)
        async with running_core(settings) as runtime:
            wrong = settings.model_copy(update={"discord_bot_token": SecretStr("not.the.token")})
            with pytest.raises(discord.LoginFailure):
                await DiscordAdapter(runtime.core, wrong).start()
            assert fake.command_syncs == [] and fake.identify_count == 0

            closed = settings.model_copy(
                update={
                    "discord_bot_token": SecretStr(fake.token),
                    "discord_gateway_url": "ws://127.0.0.1:9/gateway",
                }
            )
            adapter = DiscordAdapter(runtime.core, closed, ready_timeout=1.0)
            # Either discord.py's retry gives up first or the adapter stops waiting for READY.
            with pytest.raises((ConnectionError, TimeoutError)):
                await adapter.start()
            with pytest.raises(DeliveryError):
                await adapter.send(Recipient("discord", str(USER)), Reply("hello"))
            await adapter.stop()  # harmless after a failed start
