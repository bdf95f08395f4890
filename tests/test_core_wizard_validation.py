"""Each kind of wizard answer is checked with a clear message, asked again, and changes nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from tests.support.corebot import DEMO_KEY, ChatUser, make_settings, new_simulator, running_core

# (service type, answers that reach the field, field, bad answer, words of the message)
CASES = [
    ("Default", ["https://t.me/x"], "quantity", "12abc", "whole number"),
    ("Default", [], "link", "two words", "does not look like a link"),
    ("Mentions Media Likers", ["https://t.me/x", "{min}"], "media", "not a url", "URL"),
    ("Mentions User Followers", ["https://t.me/x", "{min}"], "username", "bad name!", "username"),
    ("Poll", ["https://t.me/x", "{min}"], "answer_number", "0", "positive whole number"),
    ("Poll", ["https://t.me/x", "{min}"], "answer_number", "-3", "whole number"),
    ("SEO", ["https://t.me/x", "{min}"], "keywords", "   \n  ", "send the keywords"),
    ("Web Traffic", ["https://t.me/x", "{min}", "US"], "device", "9", "must be one of"),
    ("Subscriptions", ["someone", "{min}", "{min}", "", "", ""], "expiry", "2030-01-01", "d/m/Y"),
    ("Subscriptions", ["someone"], "min", "{below}", "between"),
]


@pytest.fixture
async def sim() -> AsyncIterator[PanelSimulator]:
    simulator = new_simulator()
    await simulator.start()
    yield simulator
    await simulator.stop()


@pytest.fixture
async def runtime(sim: PanelSimulator, tmp_path: Path) -> AsyncIterator[Runtime]:
    async with running_core(make_settings(tmp_path, sim.url)) as rt:
        yield rt


@pytest.mark.parametrize(("service_type", "before", "field", "bad", "message"), CASES)
async def test_bad_answer_is_explained_and_asked_again(
    runtime: Runtime,
    sim: PanelSimulator,
    service_type: str,
    before: list[str],
    field: str,
    bad: str,
    message: str,
) -> None:
    service = sim.catalogue.first_matching(type=service_type, dripfeed=False)
    user = ChatUser(runtime)
    await user.say(f"/setkey {DEMO_KEY}")
    reply = await user.say(f"/order {service.id}")
    for answer in before:
        if answer == "":
            reply = await user.press("Skip", reply)
        else:
            reply = await user.say(answer.format(min=service.min))
    assert reply.prompt is not None and reply.prompt.field == field, reply.text
    again = await user.say(bad.format(below=max(service.min - 1, 0)))
    assert message in again.text, again.text
    assert again.prompt is not None and again.prompt.field == field
    assert sim.action_counts["add"] == 0


async def test_switching_to_another_service_mid_wizard_starts_afresh(
    runtime: Runtime, sim: PanelSimulator
) -> None:
    first = sim.catalogue.first_matching(type="Default", dripfeed=False)
    second = sim.catalogue.first_of_type("Poll")
    user = ChatUser(runtime)
    await user.say(f"/setkey {DEMO_KEY}")
    await user.say(f"/order {first.id}")
    await user.say("https://t.me/first")
    reply = await user.say(f"/order {second.id}")
    assert second.name in reply.text and reply.prompt is not None
    assert reply.prompt.field == "link"


async def test_text_in_a_group_is_not_taken_as_a_wizard_answer(
    runtime: Runtime, sim: PanelSimulator
) -> None:
    service = sim.catalogue.first_matching(type="Default", dripfeed=False)
    private = ChatUser(runtime, "777")
    await private.say(f"/setkey {DEMO_KEY}")
    await private.say(f"/order {service.id}")
    in_group = ChatUser(runtime, "777", chat_id="-500", private=False)
    ignored = await in_group.say("https://t.me/from-the-group")
    assert ignored.text == "" and not ignored.buttons
    still = await private.say("https://t.me/private")
    assert still.prompt is not None and still.prompt.field == "quantity"
