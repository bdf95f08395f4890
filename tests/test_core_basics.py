"""The core's commands driven through a test user against the simulator over loopback."""

from __future__ import annotations

import sys

from bot.panel.simulator import PanelSimulator
from bot.runtime import Runtime
from tests.support.corebot import DEMO_KEY, OTHER_KEY, ChatUser, find_button
from tests.support.fixtures import (  # noqa: F401  (fixtures, by name)
    alice_fixture,
    runtime_fixture,
    sim_fixture,
)


def test_core_does_not_import_platform_libraries() -> None:
    import subprocess

    code = (
        "import sys, bot.core.app, bot.runtime, bot.alerts.service, bot.launch;"
        "bad=[m for m in ('telegram','discord','adapters') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


async def test_help_lists_every_command(runtime: Runtime) -> None:
    reply = await ChatUser(runtime).say("/help")
    for spec in runtime.core.commands:
        if spec.name not in ("start", "help"):
            assert f"/{spec.name}" in reply.text
    assert "setkey" in reply.text


async def test_setkey_checks_key_stores_hint_and_flags_delete(
    runtime: Runtime, sim: PanelSimulator
) -> None:
    user = ChatUser(runtime, "2002")
    reply = await user.say(f"/setkey {DEMO_KEY}")
    assert reply.delete_user_message
    assert DEMO_KEY not in reply.text
    assert DEMO_KEY[-4:] in reply.text
    assert "5,000.00" in reply.text
    assert sim.action_counts["balance"] >= 1


async def test_setkey_invalid_key_stores_nothing(runtime: Runtime) -> None:
    user = ChatUser(runtime, "2003")
    reply = await user.say("/setkey not-a-real-key-123")
    assert "invalid" in reply.text
    assert reply.delete_user_message
    assert "not-a-real-key-123" not in reply.text
    assert "no panel API key" in (await user.say("/balance")).text


async def test_setkey_without_key_asks_then_takes_next_message(runtime: Runtime) -> None:
    user = ChatUser(runtime, "2004")
    ask = await user.say("/setkey")
    assert ask.prompt is not None and ask.prompt.secret
    reply = await user.say(DEMO_KEY)
    assert reply.delete_user_message and "saved" in reply.text
    balance = await user.say("/balance")
    assert "5,000.00" in balance.text


async def test_setkey_in_group_refused_and_key_message_deleted(runtime: Runtime) -> None:
    user = ChatUser(runtime, "2005", chat_id="-100", private=False)
    reply = await user.say(f"/setkey {DEMO_KEY}")
    assert reply.open_private and reply.delete_user_message
    assert "private" in reply.text
    private = ChatUser(runtime, "2005")
    assert "no panel API key" in (await private.say("/balance")).text


async def test_balance_keys_switch_and_remove(alice: ChatUser, runtime: Runtime) -> None:
    reply = await alice.say("/keys")
    assert DEMO_KEY[-4:] in reply.text and "active" in reply.text
    removed = await alice.press("Remove")
    assert removed.edit and "no keys" in removed.text
    assert "no panel API key" in (await alice.say("/balance")).text


async def test_forget_deletes_everything_after_confirm(alice: ChatUser) -> None:
    ask = await alice.say("/forget")
    kept = await alice.press("No", ask)
    assert "nothing was deleted" in kept.text
    assert "Balance" in (await alice.say("/balance")).text
    ask = await alice.say("/forget")
    done = await alice.press("Yes", ask)
    assert "no longer hold" in done.text
    assert "no panel API key" in (await alice.say("/balance")).text


async def test_unknown_command_and_garbage(alice: ChatUser) -> None:
    assert "do not know" in (await alice.say("/frobnicate")).text
    bad = await alice.say("/status abc,12x")
    assert "digits only" in bad.text
    long_id = "1" * 101
    assert "digits only" in (await alice.say(f"/status {long_id}")).text
    assert (
        "Use /status" in (await alice.say("/status")).text
        or "Which order" in (await alice.say("/status")).text
    )
    assert "not waiting" in (await alice.say("hello there")).text


async def test_foreign_button_refused(alice: ChatUser, runtime: Runtime) -> None:
    keys = await alice.say("/keys")
    bob = ChatUser(runtime, "3003")
    await bob.say(f"/setkey {OTHER_KEY}")
    remove = find_button(keys, "Remove")
    refused = await bob.press_data(remove.action)
    assert refused.alert and "someone else" in refused.text
    assert DEMO_KEY[-4:] in (await alice.say("/keys")).text


async def test_alerts_settings(alice: ChatUser) -> None:
    assert "Status alerts: on" in (await alice.say("/alerts")).text
    assert "Status alerts: off" in (await alice.say("/alerts off")).text
    assert "below 5.00" in (await alice.say("/alerts balance 5")).text
    assert "not an amount" in (await alice.say("/alerts balance lots")).text
    assert "Low-balance alert: off" in (await alice.say("/alerts balance off")).text
