"""The Discord adapter end to end: the real discord.py stack against FakeDiscord, the real core
against the panel simulator. A user's whole journey, someone else's button, and restarts."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.discord_app.commands import SYNC_HASH_KEY
from storage.meta import set_meta
from tests.fakes.discord_server import TEST_GUILD_ID
from tests.support.corebot import DEMO_KEY
from tests.test_discord_support import (
    EPHEMERAL,
    OTHER_USER,
    WAIT,
    Rig,
    assert_no_secrets,
    buttons_of,
    custom_id,
    discord_rig,
    order_id_in,
    production_logging,
)


@pytest.fixture(autouse=True)
def secret_free_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    with production_logging(caplog):
        yield
    assert_no_secrets(caplog)


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    async with discord_rig(tmp_path, monkeypatch) as started:
        yield started


async def set_key(rig: Rig, key: str = DEMO_KEY) -> dict:
    ref = rig.fake.slash_command("setkey")
    calls = await rig.run(ref)
    assert calls[0].json["type"] == 9, "/setkey must open the modal as its first response"
    modal = rig.fake.modal_opened(ref)
    assert modal is not None
    return await rig.submit(modal, key)


async def warm_choices(rig: Rig, typed: str) -> list[dict]:
    """Type into /order's service option until the warmed catalogue answers."""
    async with asyncio.timeout(WAIT):
        while True:
            ref = rig.fake.autocomplete("order", {"service": typed}, focused="service")
            call = await rig.fake.wait_for_response(ref)
            assert call.time - ref.sent_at < 3.0
            choices: list[dict] = call.json["data"]["choices"]
            if not choices[0]["name"].startswith("Search:"):
                return choices


async def test_full_journey(rig: Rig) -> None:
    fake, sim = rig.fake, rig.sim
    service = sim.catalogue.first_matching(type="Custom Comments", refill=True, cancel=True)
    # No privileged intent, and the key is never a slash option.
    assert fake.identify_payloads[0]["intents"] == 0
    registered = {command["name"]: command for command in fake.commands}
    assert "options" not in registered["setkey"]

    saved = await set_key(rig)
    assert "saved" in saved["content"] and "…0001" in saved["content"]
    assert saved["flags"] & EPHEMERAL

    ref, balance = await rig.command("balance")
    assert fake.responses_for(ref)[0].json == {"type": 5, "data": {"flags": EPHEMERAL}}
    assert "Balance: 5,000.00 USD" in balance["content"] and balance["flags"] & EPHEMERAL

    # With a cold catalogue, autocomplete offers the typed words and warms the cache in the
    # background; a later keystroke finds the services (no /services call in between).
    cold = fake.autocomplete("order", {"service": "custom comments"}, focused="service")
    first = await fake.wait_for_response(cold)
    assert first.json["data"]["choices"] == [
        {"name": "Search: custom comments", "value": "custom comments"}
    ]
    choices = await warm_choices(rig, "custom comments")
    assert 1 <= len(choices) <= 25
    assert str(service.id) in [choice["value"] for choice in choices]
    assert sim.action_counts["services"] == 1

    _, found = await rig.command("services", {"search": "custom comments"})
    assert "services match" in found["content"] and "Order #" in str(buttons_of(found))

    # The wizard: each step's "✏" button opens a modal; the comments get a paragraph input.
    _, step = await rig.command("order", {"service": str(service.id)})
    assert "send the link" in step["content"]
    modal = await rig.open_form(step, "✏ Link")
    assert modal["components"][0]["components"][0]["style"] == 1
    step = await rig.submit(modal, "https://instagram.com/p/abc_123")
    assert "send the comments" in step["content"]
    modal = await rig.open_form(step, "✏ Comments")
    assert modal["components"][0]["components"][0]["style"] == 2
    confirm = await rig.submit(modal, "Great *post*!\nLove it <3\nNice_one")
    assert "Please check your order" in confirm["content"] and "Quantity: 3" in confirm["content"]
    snapshot = copy.deepcopy(confirm)

    ref, calls = await rig.press(confirm, "Confirm")
    assert calls[0].json == {"type": 6}
    assert [call.method for call in calls[1:]] == ["PATCH"]
    placed = rig.current(confirm)
    order_id = order_id_in(placed["content"])
    assert sim.action_counts["add"] == 1

    # The old Confirm button once more: nothing is placed twice.
    await rig.press(snapshot, "Confirm")
    assert "Already placed" in rig.current(confirm)["content"]
    assert sim.action_counts["add"] == 1

    _, status = await rig.command("status", {"orders": str(order_id)})
    assert f"Order #{order_id}" in status["content"] and "Refill" not in buttons_of(status)
    sim.set_order(order_id, status="Completed")
    _, calls = await rig.press(status, "Refresh")
    refreshed = rig.current(status)
    assert "Status: Completed" in refreshed["content"] and calls[-1].method == "PATCH"
    ref, _ = await rig.press(refreshed, "Refill")
    [refill] = rig.sent_by(ref)
    assert "refill #" in refill["content"] and refill["flags"] & EPHEMERAL

    _, ask = await rig.command("cancel", {"orders": str(order_id)})
    assert f"#{order_id}" in ask["content"]
    await rig.press(ask, "Yes, cancel")
    assert f"Order #{order_id}" in rig.current(ask)["content"]
    assert sim.action_counts["cancel"] == 1

    _, listing = await rig.command("orders")
    assert f"#{order_id}" in listing["content"]

    _, forget = await rig.command("forget")
    await rig.press(forget, "Yes, delete everything")
    assert "no longer hold anything" in rig.current(forget)["content"]
    _, after = await rig.command("balance")
    assert "no panel API key" in after["content"]

    # The key travelled only inside the modal submission, never in anything the bot sent.
    assert DEMO_KEY not in json.dumps([call.json for call in fake.calls])


async def test_markdown_is_escaped_and_personal_answers_are_ephemeral(rig: Rig) -> None:
    await set_key(rig)
    service = rig.sim.catalogue.first_of_type("Custom Comments")
    _, step = await rig.command("order", {"service": str(service.id)})
    modal = await rig.open_form(step, "✏ Link")
    step = await rig.submit(modal, "https://x.test/p")
    modal = await rig.open_form(step, "✏ Comments")
    confirm = await rig.submit(modal, "\n".join(["*bold* _it_ <@1> & me"] * max(service.min, 1)))
    assert "\\*bold\\* \\_it\\_ \\<@1> & me" in confirm["content"]
    assert confirm["flags"] & EPHEMERAL
    _, helped = await rig.command("help", guild_id=TEST_GUILD_ID)
    assert not helped["flags"] & EPHEMERAL and "/setkey" in helped["content"]
    _, balance = await rig.command("balance", guild_id=TEST_GUILD_ID)
    assert balance["flags"] & EPHEMERAL and "5,000.00 USD" in balance["content"]


async def test_setkey_with_two_panels_asks_which_then_opens_the_key_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with discord_rig(tmp_path, monkeypatch, two_panels=True) as rig:
        ref, which = await rig.command("setkey")
        assert rig.fake.responses_for(ref)[0].json["type"] == 5  # no modal yet: a choice first
        assert "Which panel" in which["content"]
        await rig.press(which, "127.0.0.1")
        asking = rig.current(which)
        assert "Send me your API key" in asking["content"]
        modal = await rig.open_form(asking, "✏ API key")
        assert modal["components"][0]["components"][0]["style"] == 1
        saved = await rig.submit(modal, DEMO_KEY)
        assert "saved for 127.0.0.1" in saved["content"]
        _, balance = await rig.command("balance")
        assert "5,000.00 USD" in balance["content"]


async def test_someone_elses_button_is_refused_privately(rig: Rig) -> None:
    await set_key(rig)
    order_id = rig.sim.make_order(DEMO_KEY, rig.sim.catalogue.first_of_type("Default").id, 1000)
    _, status = await rig.command("status", {"orders": str(order_id)})
    before = copy.deepcopy(rig.current(status))
    checks = rig.sim.action_counts["status"]

    ref, calls = await rig.press(status, "Refresh", user_id=OTHER_USER)

    assert calls[0].json == {"type": 6}
    [refusal] = rig.sent_by(ref)
    assert "belongs to someone else" in refusal["content"]
    assert refusal["flags"] & EPHEMERAL
    assert rig.current(status)["content"] == before["content"]
    assert rig.sim.action_counts["status"] == checks


async def test_commands_are_synced_only_when_they_change(rig: Rig) -> None:
    fake = rig.fake
    assert len(fake.command_syncs) == 1
    order = next(command for command in fake.commands if command["name"] == "order")
    assert [(o["name"], o["type"], o.get("autocomplete", False)) for o in order["options"]] == [
        ("service", 3, True),
        ("link", 3, False),
        ("quantity", 4, False),
    ]
    orders = next(command for command in fake.commands if command["name"] == "orders")
    assert [c["value"] for c in orders["options"][0]["choices"]] == ["all", "active"]
    status = next(command for command in fake.commands if command["name"] == "status")
    assert status["options"][0]["required"] is True
    assert {c["name"] for c in fake.commands} == {spec.name for spec in rig.runtime.core.commands}

    await rig.restart()
    assert len(fake.command_syncs) == 1, "an unchanged command set was synced again"
    assert fake.identify_count == 2
    _, helped = await rig.command("help")
    assert "/setkey" in helped["content"]

    await set_meta(rig.runtime.db, SYNC_HASH_KEY, "an older definition")
    await rig.restart()
    assert len(fake.command_syncs) == 2
    assert fake.calls_matching("PUT", r"/applications/\d+/commands")[-1].status == 200


async def test_buttons_survive_a_restart(rig: Rig) -> None:
    await set_key(rig)
    order_id = rig.sim.make_order(DEMO_KEY, rig.sim.catalogue.first_of_type("Default").id, 1000)
    _, status = await rig.command("status", {"orders": str(order_id)})
    rig.sim.set_order(order_id, status="In progress")

    await rig.restart()
    ref = rig.fake.press_component(custom_id(status, "Refresh"), message=status)
    await rig.run(ref)

    assert "Status: In progress" in rig.current(status)["content"]
