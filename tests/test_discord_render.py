"""The Discord adapter's pure parts: escaping, splitting, button rows, prompt modals and the
command definitions (checked with the same rules FakeDiscord applies)."""

from __future__ import annotations

from adapters.discord_app.commands import (
    arguments_text,
    command_payload,
    focused_option,
    option_values,
    payload_digest,
)
from adapters.discord_app.forms import (
    ANSWER_INPUT_ID,
    answer_modal,
    decode_prompt,
    encode_prompt,
    prompt_button,
    submitted_answer,
)
from adapters.discord_app.render import escape, fit_rows, plan_messages, plan_reply, split_text
from bot.core.app import BotCore
from bot.core.registry import registry
from bot.core.seam import Button, CommandOption, CommandSpec, Prompt, Reply
from tests.fakes.discord_checks import check_commands, check_message, check_modal

SPECS = tuple(command.spec for command in registry.commands.values())
assert BotCore  # importing the core registers every command


def test_escape_shows_the_text_as_written() -> None:
    text = "*Likes* _fast_ <@123> & `code` \\ ~~x~~ |spoiler|\n# Big\n> quote\n- item\n1. first"
    assert escape(text) == (
        "\\*Likes\\* \\_fast\\_ \\<@123> & \\`code\\` \\\\ \\~\\~x\\~\\~ \\|spoiler\\|\n"
        "\\# Big\n\\> quote\n\\- item\n1\\. first"
    )
    assert escape("see https://x.test/a_b*c") == "see https://x.test/a_b*c"


def test_split_keeps_lines_and_escapes_whole() -> None:
    lines = [f"line {i} " + "x" * 90 for i in range(60)]
    pieces = split_text("\n".join(lines))
    assert len(pieces) > 1 and all(len(piece) <= 2000 for piece in pieces)
    assert "\n".join(pieces).split("\n") == lines

    escaped = escape("*" * 3000)
    pieces = split_text(escaped)
    assert "".join(pieces) == escaped and all(len(piece) <= 2000 for piece in pieces)
    assert all(piece.startswith("\\*") and piece.endswith("\\*") for piece in pieces)


async def test_rows_respect_discords_limits() -> None:
    row = tuple(Button(f"B{i}", f"a:{i}") for i in range(7))
    long = Button("L" * 100, "long")
    fitted = fit_rows((row, (long, Button("again", "a:1"))))
    assert [len(r) for r in fitted] == [5, 2, 1]
    assert len(fitted[2][0].label) == 80

    many = tuple(tuple(Button(f"{r}.{c}", f"b:{r}:{c}") for c in range(5)) for r in range(6))
    messages = plan_messages("pick one", many)
    assert [len(m.rows) for m in messages] == [5, 1] and messages[1].content == "…"
    for message in messages:
        view = message.view()
        # Stopped: discord.py keeps no per-message state; presses are routed by custom_id.
        assert view is not None and view.is_finished()
        body = {"content": message.content, "components": view.to_components()}
        assert check_message(body, creating=True) is None


def test_reply_with_prompt_link_and_nothing() -> None:
    prompt = Prompt("comments", "Comments", multiline=True, placeholder="one per line")
    reply = Reply("Step 2/2", buttons=((Button("✖ Abort", "wa:1", "danger"),),), prompt=prompt)
    [message] = plan_reply(reply, prompt_button(prompt), "https://discord.com/users/1")
    labels = [[button.label for button in row] for row in message.rows]
    assert labels == [["✏ Comments", "✖ Abort"], ["Open a DM with me"]]
    assert message.rows[1][0].url == "https://discord.com/users/1"
    assert plan_reply(Reply(""), None, None) == []


def test_prompt_custom_id_round_trip_and_modal() -> None:
    prompt = Prompt(
        "google_keyword",
        "Google keyword: a|b",
        placeholder="x" * 150,
        secret=True,
        max_length=9000,
    )
    custom_id = encode_prompt(prompt)
    assert len(custom_id) <= 100
    back = decode_prompt(custom_id)
    assert back is not None and back.field == "google_keyword" and back.secret
    assert back.label == "Google keyword; a/b" and back.max_length == 4000
    assert decode_prompt("wk:5001:abc") is None

    modal = answer_modal(back).to_dict()
    assert check_modal(modal) is None
    text_input = modal["components"][0]["components"][0]
    assert text_input["style"] == 1 and text_input["custom_id"] == ANSWER_INPUT_ID
    paragraph = answer_modal(Prompt("usernames", "Usernames", multiline=True)).to_dict()
    assert paragraph["components"][0]["components"][0]["style"] == 2


def test_submitted_answer_in_rows_or_labels() -> None:
    rows = {
        "components": [
            {"type": 1, "components": [{"type": 4, "custom_id": "answer", "value": "a"}]}
        ]
    }
    labels = {
        "components": [{"type": 18, "component": {"type": 4, "custom_id": "answer", "value": "b"}}]
    }
    assert submitted_answer(rows) == "a" and submitted_answer(labels) == "b"
    assert submitted_answer({"components": []}) is None


def test_command_definitions_pass_discords_checks() -> None:
    payload = command_payload(SPECS)
    assert check_commands(payload) is None
    by_name = {command["name"]: command for command in payload}
    assert "options" not in by_name["setkey"]
    assert by_name["order"]["options"][0] == {
        "type": 3,
        "name": "service",
        "description": "service id (or words to search)",
        "required": False,
        "autocomplete": True,
    }
    mixed = CommandSpec("x", "d" * 150, (CommandOption("a", "a"), CommandOption("b", "b", True)))
    [command] = command_payload([mixed])
    assert [o["name"] for o in command["options"]] == ["b", "a"]  # required first for Discord
    assert len(command["description"]) == 100
    assert payload_digest(1, payload) == payload_digest(1, command_payload(SPECS))
    assert payload_digest(1, payload) != payload_digest(2, payload)
    assert payload_digest(1, payload) != payload_digest(1, [*payload, command])


def test_arguments_text_follows_the_spec_order() -> None:
    order = next(spec for spec in SPECS if spec.name == "order")
    data = {
        "options": [
            {"name": "quantity", "type": 4, "value": 100},
            {"name": "service", "type": 3, "value": " 48 "},
            {"name": "link", "type": 3, "value": "https://x.test/p"},
        ]
    }
    assert arguments_text(order, option_values(data)) == "48 https://x.test/p 100"
    assert arguments_text(None, {"amount": 5.0, "tiny": 1e-7}) == "5 0.0000001"
    words = {"service": "instagram likes", "link": "https://x.test/p", "quantity": 100}
    assert arguments_text(order, words) == "instagram likes"  # the wizard asks the rest
    typed = {"options": [{"name": "service", "type": 3, "value": "lik", "focused": True}]}
    assert focused_option(typed) == ("service", "lik")
