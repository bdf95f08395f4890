"""Modals for the core's prompts: the button that opens one, the modal itself, and its answer.

Everything a modal needs travels in the opening button's custom_id (`~p:` + flags, length, field,
label and placeholder), so a button keeps opening the right form after a restart and nothing is
remembered per user. The modal's custom_id names what the answer is (`~m:<field>` for a wizard
answer, `~key` for /setkey); its one text input is always `answer`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import discord

from bot.core.seam import Button, Prompt

PROMPT_PREFIX = "~p:"
ANSWER_MODAL_PREFIX = "~m:"
KEY_MODAL_ID = "~key"
ANSWER_INPUT_ID = "answer"
# https://discord.com/developers/docs/components/reference#text-input: label and modal title
# 45 characters, placeholder 100, value 4000; custom_id 100.
MAX_TITLE = 45
MAX_PLACEHOLDER = 100
MAX_INPUT_LENGTH = 4000
MAX_CUSTOM_ID = 100
_FIELD_LENGTH = 32


def _clean(text: str) -> str:
    # ':' and '|' separate the parts of the custom_id.
    return text.replace("|", "/").replace(":", ";").strip()


def encode_prompt(prompt: Prompt) -> str:
    """The custom_id of the button that opens the modal for `prompt` (at most 100 characters)."""
    flags = ("m" if prompt.multiline else "s") + ("k" if prompt.secret else "")
    length = max(1, min(prompt.max_length, MAX_INPUT_LENGTH))
    head = f"{PROMPT_PREFIX}{flags}:{length}:{_clean(prompt.field)[:_FIELD_LENGTH]}|"
    label = _clean(prompt.label)[:MAX_TITLE]
    placeholder = _clean(prompt.placeholder)[:MAX_PLACEHOLDER]
    return f"{head}{label}|{placeholder}"[:MAX_CUSTOM_ID]


def decode_prompt(custom_id: str) -> Prompt | None:
    """The prompt a button's custom_id carries, or None if it is not a prompt button."""
    if not custom_id.startswith(PROMPT_PREFIX):
        return None
    flags, _, rest = custom_id[len(PROMPT_PREFIX) :].partition(":")
    length, _, rest = rest.partition(":")
    field, _, rest = rest.partition("|")
    label, _, placeholder = rest.partition("|")
    if not field or not length.isdigit():
        return None
    return Prompt(
        field,
        label or field,
        multiline="m" in flags,
        placeholder=placeholder,
        secret="k" in flags,
        max_length=max(1, min(int(length), MAX_INPUT_LENGTH)),
    )


def prompt_button(prompt: Prompt) -> Button:
    """The "✏ <label>" button that opens the modal answering `prompt`."""
    return Button(f"✏ {prompt.label}", encode_prompt(prompt), "primary")


def answer_modal(
    prompt: Prompt, custom_id: str | None = None, title: str | None = None
) -> discord.ui.Modal:
    """A modal with one text input: paragraph style for lists, short otherwise."""
    label = (prompt.label.strip() or "Answer")[:MAX_TITLE]
    modal = discord.ui.Modal(
        title=(title or label)[:MAX_TITLE],
        custom_id=custom_id or f"{ANSWER_MODAL_PREFIX}{prompt.field}"[:MAX_CUSTOM_ID],
    )
    text_input: discord.ui.TextInput[discord.ui.Modal] = discord.ui.TextInput(
        label=label,
        custom_id=ANSWER_INPUT_ID,
        style=discord.TextStyle.paragraph if prompt.multiline else discord.TextStyle.short,
        placeholder=prompt.placeholder[:MAX_PLACEHOLDER] or None,
        max_length=max(1, min(prompt.max_length, MAX_INPUT_LENGTH)),
        required=True,
    )
    modal.add_item(text_input)
    # Submissions are routed by custom_id in on_interaction; a stopped modal is not kept in
    # discord.py's store (a dismissed modal never answers, so it would stay there for good).
    modal.stop()
    return modal


def answer_field(custom_id: str) -> str | None:
    """The prompt field a submitted answer modal was for, or None for another modal."""
    if custom_id.startswith(ANSWER_MODAL_PREFIX):
        return custom_id[len(ANSWER_MODAL_PREFIX) :]
    return None


def submitted_answer(data: Mapping[str, Any]) -> str | None:
    """The value of the `answer` input in a modal submission (rows or labels), if present."""
    return _find_answer(data.get("components") or [])


def _find_answer(items: Iterable[Any]) -> str | None:
    for item in items:
        if not isinstance(item, Mapping):
            continue
        if item.get("custom_id") == ANSWER_INPUT_ID and isinstance(item.get("value"), str):
            return str(item["value"])
        nested: list[Any] = list(item.get("components") or [])
        if isinstance(item.get("component"), Mapping):
            nested.append(item["component"])
        found = _find_answer(nested)
        if found is not None:
            return found
    return None
