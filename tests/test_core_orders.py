"""The order wizard for every service type, placing at most once, and order follow-up commands."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.panel.simulator import SERVICE_TYPES, PanelSimulator
from bot.runtime import Runtime
from tests.support.corebot import (
    DEMO_KEY,
    OTHER_KEY,
    ChatUser,
    buttons_of,
    find_button,
    make_settings,
    running_core,
)
from tests.support.fixtures import (  # noqa: F401  (fixtures, by name)
    alice_fixture,
    runtime_fixture,
    sim_fixture,
)


def answers_for(service) -> dict[str, str]:
    count = (
        max(service.min, 2)
        if service.type in ("Custom Comments", "Mentions Custom List", "Comment Replies")
        else 2
    )
    future = (date.today() + timedelta(days=30)).strftime("%d/%m/%Y")
    return {
        "link": "https://instagram.com/p/abc123",
        "quantity": str(service.min),
        "keywords": "smm panel\nbuy likes",
        "comments": "\n".join(f"Great post {i}!" for i in range(count)),
        "usernames": "\n".join(f"@user{i}" for i in range(count)),
        "hashtags": "#smm\n#growth",
        "hashtag": "#smm",
        "username": "someone",
        "media": "https://instagram.com/p/media1",
        "answer_number": "2",
        "groups": "https://t.me/group1\nhttps://t.me/group2",
        "min": str(service.min),
        "max": str(service.min),
        "posts": "3",
        "delay": "30",
        "expiry": future,
        "country": "US",
        "device": "4",
        "type_of_traffic": "1",
        "google_keyword": "buy followers",
    }


async def fill_wizard(user: ChatUser, reply, answers: dict[str, str]):
    """Answer every step: typed values, Skip for optional fields without an answer."""
    for _ in range(20):
        if any("Confirm" in b.label for b in buttons_of(reply)):
            return reply
        assert reply.prompt is not None, reply.text
        field = reply.prompt.field
        if field in answers:
            reply = await user.say(answers[field])
        else:
            reply = await user.press("Skip", reply)
    raise AssertionError("wizard did not end")


def placed_id(reply) -> int:
    match = re.search(r"Order placed: #(\d+)", reply.text)
    assert match, reply.text
    return int(match.group(1))


@pytest.mark.parametrize("service_type", SERVICE_TYPES)
async def test_wizard_places_every_type(
    service_type: str, alice: ChatUser, sim: PanelSimulator
) -> None:
    service = sim.catalogue.first_of_type(service_type)
    before = sim.balance_of(DEMO_KEY)
    reply = await alice.say(f"/order {service.id}")
    assert service.name in reply.text
    assert reply.prompt is not None
    assert find_button(reply, "Abort")
    confirm = await fill_wizard(alice, reply, answers_for(service))
    cost = re.search(r"Cost: ([\d,.]+)", confirm.text)
    assert cost, confirm.text
    assert "Balance: 5,000.00" in confirm.text
    done = await alice.press("Confirm", confirm)
    order_id = placed_id(done)
    charged = before - sim.balance_of(DEMO_KEY)
    assert charged == Decimal(cost.group(1).replace(",", ""))
    assert sim.order(order_id).service_id == service.id


async def test_custom_comments_quantity_is_number_of_lines(
    alice: ChatUser, sim: PanelSimulator
) -> None:
    service = sim.catalogue.first_of_type("Custom Comments")
    reply = await alice.say(f"/order {service.id}")
    reply = await alice.say("https://instagram.com/p/xyz")
    assert reply.prompt is not None and reply.prompt.multiline
    too_many = "\n".join(f"c{i}" for i in range(service.max + 1))
    again = await alice.say(too_many)
    assert "between" in again.text and again.prompt and again.prompt.field == "comments"
    lines = "\n".join(f"comment {i}" for i in range(max(service.min, 3)))
    confirm = await alice.say(lines)
    assert f"Quantity: {max(service.min, 3)}" in confirm.text


async def test_validation_errors_ask_again_and_change_nothing(
    alice: ChatUser, sim: PanelSimulator
) -> None:
    service = sim.catalogue.first_matching(type="Default", dripfeed=False)
    await alice.say(f"/order {service.id}")
    bad_link = await alice.say("not a link at all")
    assert "does not look like a link" in bad_link.text and bad_link.prompt.field == "link"
    ok = await alice.say("https://t.me/channel")
    assert ok.prompt.field == "quantity"
    for wrong, message in (
        ("lots", "whole number"),
        (str(service.min - 1), "between"),
        (str(service.max + 1), "between"),
    ):
        again = await alice.say(wrong)
        assert message in again.text and again.prompt.field == "quantity"
    assert sim.action_counts["add"] == 0


async def test_subscriptions_validation(alice: ChatUser, sim: PanelSimulator) -> None:
    service = sim.catalogue.first_of_type("Subscriptions")
    reply = await alice.say(f"/order {service.id}")
    assert reply.prompt.field == "username"
    await alice.say("someone")
    await alice.say(str(service.min))
    await alice.say(str(service.min))
    reply = await alice.press("Skip")  # posts
    assert reply.prompt.field == "old_posts"
    reply = await alice.press("Skip")
    assert reply.prompt.field == "delay"
    wrong = await alice.say("7")
    assert "must be one of" in wrong.text
    reply = await alice.press("30", wrong)
    assert reply.prompt.field == "expiry"
    past = await alice.say("01/01/2020")
    assert "future" in past.text
    bad = await alice.say("31/02/2030")
    assert "real date" in bad.text
    confirm = await alice.say((date.today() + timedelta(days=3)).strftime("%d/%m/%Y"))
    assert "Confirm" in buttons_of(confirm)[0].label


async def test_dripfeed_runs_multiply_cost(alice: ChatUser, sim: PanelSimulator) -> None:
    service = sim.catalogue.first_matching(type="Default", dripfeed=True)
    await alice.say(f"/order {service.id}")
    await alice.say("https://t.me/channel")
    reply = await alice.say(str(service.min))
    assert reply.prompt.field == "runs"
    assert "positive" in (await alice.say("0")).text
    reply = await alice.say("3")
    assert reply.prompt.field == "interval"
    confirm = await alice.say("15")
    expected = service.rate * service.min * 3 / 1000
    cost = Decimal(re.search(r"Cost: ([\d,.]+)", confirm.text).group(1).replace(",", ""))
    assert cost == expected.quantize(Decimal("0.00001")).normalize() or cost == expected


async def test_one_line_order_and_double_confirm(alice: ChatUser, sim: PanelSimulator) -> None:
    service = sim.catalogue.first_matching(type="Default", dripfeed=False)
    confirm = await alice.say(f"/order {service.id} https://t.me/x {service.min}")
    assert "Please check your order" in confirm.text
    done = await alice.press("Confirm", confirm)
    order_id = placed_id(done)
    again = await alice.press("Confirm", confirm)
    assert f"Already placed as order #{order_id}" in again.text
    assert sim.action_counts["add"] == 1


async def test_one_line_refused_for_other_types(alice: ChatUser, sim: PanelSimulator) -> None:
    service = sim.catalogue.first_of_type("Custom Comments")
    reply = await alice.say(f"/order {service.id} https://t.me/x 10")
    assert "needs more than a link" in reply.text


async def test_restart_mid_wizard_and_after_confirm(sim: PanelSimulator, tmp_path: Path) -> None:
    settings = make_settings(tmp_path, sim.url)
    service = sim.catalogue.first_matching(type="Default", dripfeed=False)
    async with running_core(settings) as runtime:
        alice = ChatUser(runtime, "1001")
        await alice.say(f"/setkey {DEMO_KEY}")
        await alice.say(f"/order {service.id}")
        await alice.say("https://t.me/channel")
    async with running_core(settings) as runtime:
        alice = ChatUser(runtime, "1001")
        confirm = await alice.say(str(service.min))
        assert "Please check your order" in confirm.text
        done = await alice.press("Confirm", confirm)
        order_id = placed_id(done)
    async with running_core(settings) as runtime:
        alice = ChatUser(runtime, "1001")
        again = await alice.press("Confirm", confirm)
        assert f"#{order_id}" in again.text
    assert sim.action_counts["add"] == 1


async def test_wizard_expires_after_30_minutes(
    alice: ChatUser, runtime: Runtime, sim: PanelSimulator
) -> None:
    service = sim.catalogue.first_matching(type="Default", dripfeed=False)
    await alice.say(f"/order {service.id}")
    real_clock = runtime.core.res.clock
    runtime.core.res.clock = lambda: real_clock() + 31 * 60
    try:
        reply = await alice.say("https://t.me/channel")
    finally:
        runtime.core.res.clock = real_clock
    assert "not waiting" in reply.text


async def test_abort_leaves_wizard(alice: ChatUser, sim: PanelSimulator) -> None:
    service = sim.catalogue.first_of_type("Default")
    reply = await alice.say(f"/order {service.id}")
    closed = await alice.press("Abort", reply)
    assert "Nothing was ordered" in closed.text
    assert "not waiting" in (await alice.say("https://t.me/x")).text
    await alice.say(f"/order {service.id}")
    assert "Aborted" in (await alice.say("/abort")).text


async def test_unknown_outcome_is_not_retried(
    alice: ChatUser, sim: PanelSimulator, runtime: Runtime
) -> None:
    service = sim.catalogue.first_matching(type="Default", dripfeed=False)
    confirm = await alice.say(f"/order {service.id} https://t.me/slow {service.min}")
    sim.quirks.add_answer_delay = 8.0  # longer than the 5 s client timeout of the tests
    done = await alice.press("Confirm", confirm)
    sim.quirks.add_answer_delay = 0
    assert "could not tell whether the panel placed" in done.text
    again = await alice.press("Confirm", confirm)
    assert "unknown" in again.text
    assert sim.action_counts["add"] == 1
    orders = await alice.say("/orders")
    assert "outcome unknown" in orders.text


async def test_refusal_shows_panel_text_and_allows_retry(
    alice: ChatUser, sim: PanelSimulator
) -> None:
    service = sim.catalogue.first_matching(
        type="Default", dripfeed=False, predicate=lambda s: s.rate * s.max / 1000 > 5000
    )
    confirm = await alice.say(f"/order {service.id} https://t.me/big {service.max}")
    assert "lower than the cost" in confirm.text
    refused = await alice.press("Confirm", confirm)
    assert "Not enough funds" in refused.text
    assert find_button(refused, "Confirm")
    stale = await alice.press("Confirm", confirm)
    assert "not placed" in stale.text


async def test_status_refresh_refill_cancel(alice: ChatUser, sim: PanelSimulator) -> None:
    service = sim.catalogue.first_matching(type="Default", refill=True, cancel=True, dripfeed=False)
    done = await alice.press(
        "Confirm", await alice.say(f"/order {service.id} https://t.me/s {service.min}")
    )
    order_id = placed_id(done)
    status = await alice.say(f"/status {order_id}")
    assert "Pending" in status.text and "[░░░░░░░░░░] 0%" in status.text
    labels = [b.label for b in buttons_of(status)]
    assert any("Refresh" in x for x in labels) and "Cancel" in labels and "Refill" not in labels
    sim.set_order(order_id, status="In progress", remains=service.min // 2)
    refreshed = await alice.press("Refresh", status)
    assert refreshed.edit and "In progress" in refreshed.text and "50%" in refreshed.text
    sim.set_order(order_id, status="Completed", remains=0)
    completed = await alice.press("Refresh", refreshed)
    assert "100%" in completed.text
    assert "Refill" in [b.label for b in buttons_of(completed)]
    refill = await alice.press("Refill", completed)
    refill_id = re.search(r"refill #(\d+)", refill.text).group(1)
    rs = await alice.say(f"/refill_status {refill_id}")
    assert f"Refill #{refill_id}" in rs.text


async def test_cancel_many_with_confirm(alice: ChatUser, sim: PanelSimulator) -> None:
    service = sim.catalogue.first_matching(type="Default", cancel=True)
    first = sim.make_order(DEMO_KEY, service.id, service.min)
    second = sim.make_order(DEMO_KEY, service.id, service.min, link="https://x.test/2")
    ask = await alice.say(f"/cancel {first}, {second} 999999")
    assert sim.action_counts["cancel"] == 0
    result = await alice.press("Yes", ask)
    assert f"Order #{first}: cancel requested" in result.text
    assert "Order #999999: not cancelled" in result.text
    assert sim.order(first).status.lower().startswith("cancel")
    again = await alice.press("Yes", ask)
    assert "already sent" in again.text
    assert sim.action_counts["cancel"] == 1


async def test_status_many_in_batches_and_orders_list(alice: ChatUser, sim: PanelSimulator) -> None:
    service = sim.catalogue.first_of_type("Default")
    ids = [
        sim.make_order(DEMO_KEY, service.id, service.min, link=f"https://x.test/{i}")
        for i in range(250)
    ]
    before = sim.action_counts["status"]
    reply = await alice.say("/status " + ",".join(str(i) for i in ids))
    assert sim.action_counts["status"] - before == 3
    assert reply.text.count("Order #") == 250
    listing = await alice.say("/orders")
    assert "page 1/" in listing.text
    nxt = await alice.press("Next", listing)
    assert "page 2/" in nxt.text and nxt.edit
    active = await alice.press("Active only", nxt)
    assert "active orders" in active.text


async def test_another_users_order_and_refill_refused(
    alice: ChatUser, runtime: Runtime, sim: PanelSimulator
) -> None:
    service = sim.catalogue.first_matching(type="Default", refill=True)
    bobs_order = sim.make_order(OTHER_KEY, service.id, service.min, status="Completed")
    reply = await alice.say(f"/status {bobs_order}")
    assert "Incorrect order ID" in reply.text
    reply = await alice.say(f"/refill {bobs_order}")
    assert "Incorrect order ID" in reply.text or "refused" in reply.text
    bob = ChatUser(runtime, "3003")
    await bob.say(f"/setkey {OTHER_KEY}")
    status = await bob.say(f"/status {bobs_order}")
    refused = await alice.press("Refresh", status)
    assert refused.alert and "someone else" in refused.text


async def test_services_browse_and_search(alice: ChatUser, sim: PanelSimulator) -> None:
    cats = await alice.say("/services")
    assert "Categories (page 1/" in cats.text
    nxt = await alice.press("Next", cats)
    assert "page 2/" in nxt.text and nxt.edit
    first_cat = buttons_of(cats)[0]
    page = await alice.press_data(first_cat.action)
    assert "Order #" in " ".join(b.label for b in buttons_of(page))
    service = sim.catalogue.first_of_type("Default")
    found = await alice.say(f"/services {service.id}")
    assert service.name in found.text
    words = await alice.say("/services INSTAGRAM likes")
    assert "services match" in words.text
    none = await alice.say("/services zzzqqq")
    assert "No service matches" in none.text
    wizard = await alice.press(f"Order #{service.id}", found)
    assert wizard.prompt is not None


async def test_panel_faults_give_clear_messages(alice: ChatUser, sim: PanelSimulator) -> None:
    sim.quirks.html_page = 503
    reply = await alice.say("/balance")
    assert "not available" in reply.text
    sim.quirks.html_page = None
    sim.quirks.malformed_json = True
    assert "not available" in (await alice.say("/balance")).text
    sim.quirks.malformed_json = False
    assert "Balance" in (await alice.say("/balance")).text
