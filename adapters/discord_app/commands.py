"""The core's commands as Discord slash commands: their JSON definitions, a hash-gated sync, and
the argument text the core expects, rebuilt from the typed options of an invocation."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import aiosqlite
import discord

from bot.core.seam import CommandOption, CommandSpec
from storage.meta import get_meta, set_meta

log = logging.getLogger(__name__)

# The key is asked in a modal, never as a slash option: options show in the channel's
# "used /setkey" line and in the client's command history.
MODAL_COMMANDS = frozenset({"setkey"})
# Answered in the open; every other command answers ephemerally (personal data, errors).
PUBLIC_COMMANDS = frozenset({"help", "start"})
SYNC_HASH_KEY = "discord.commands.sha256"

# https://discord.com/developers/docs/interactions/application-commands#application-command-object
CHAT_INPUT = 1
STRING, INTEGER, NUMBER = 3, 4, 10
CONTEXT_GUILD, CONTEXT_BOT_DM = 0, 1
GUILD_INSTALL = 0
MAX_DESCRIPTION = 100
MAX_CHOICES = 25
_OPTION_TYPES = {
    "text": STRING,
    "service": STRING,
    "choice": STRING,
    "integer": INTEGER,
    "number": NUMBER,
}


def _description(text: str) -> str:
    text = text.strip() or "-"
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"


def option_payload(option: CommandOption) -> dict[str, Any]:
    """One typed, described option."""
    payload: dict[str, Any] = {
        "type": _OPTION_TYPES.get(option.kind, STRING),
        "name": option.name.lower(),
        "description": _description(option.description),
        "required": option.required,
    }
    if option.kind == "service":
        payload["autocomplete"] = True
    if option.kind == "choice" and option.choices:
        payload["choices"] = [
            {"name": choice[:100], "value": choice[:100]} for choice in option.choices[:MAX_CHOICES]
        ]
    return payload


def command_payload(specs: Iterable[CommandSpec]) -> list[dict[str, Any]]:
    """The bulk-overwrite body for every command (usable in servers and in the bot's DM)."""
    commands = []
    for spec in specs:
        options = [] if spec.name in MODAL_COMMANDS else [option_payload(o) for o in spec.options]
        # Discord wants required options first; the argument text keeps the spec's order.
        options.sort(key=lambda option: not option["required"])
        command: dict[str, Any] = {
            "type": CHAT_INPUT,
            "name": spec.name.lower(),
            "description": _description(spec.description),
            "contexts": [CONTEXT_GUILD, CONTEXT_BOT_DM],
            "integration_types": [GUILD_INSTALL],
        }
        if options:
            command["options"] = options
        commands.append(command)
    return commands


def payload_digest(application_id: int, payload: Sequence[Mapping[str, Any]]) -> str:
    """A stable hash of what would be synced, and to which application."""
    canonical = json.dumps(
        {"application": application_id, "commands": payload},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


async def sync_commands(
    http: discord.http.HTTPClient,
    db: aiosqlite.Connection,
    application_id: int,
    specs: Iterable[CommandSpec],
) -> bool:
    """Overwrite the global commands only if their definition changed since the last sync.

    Returns whether a sync was sent. A refused sync is logged and retried at the next start; the
    bot keeps serving with the commands Discord already has.
    """
    payload = command_payload(specs)
    digest = payload_digest(application_id, payload)
    if await get_meta(db, SYNC_HASH_KEY) == digest:
        log.info("Discord commands unchanged since the last sync; not syncing")
        return False
    try:
        await http.bulk_upsert_global_commands(application_id, payload)
    except discord.HTTPException as error:
        log.error(
            "Discord refused the command set (HTTP %s, code %s): %s",
            error.status,
            error.code,
            error.text,
        )
        return False
    await set_meta(db, SYNC_HASH_KEY, digest)
    log.info("synced %d Discord commands", len(payload))
    return True


def _as_text(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        # A number option arrives as a JSON double; show 5.0 as 5 and never as 5e-07.
        try:
            return format(Decimal(repr(value)).normalize(), "f")
        except InvalidOperation:
            return ""
    return str(value).strip()


def option_values(data: Mapping[str, Any]) -> dict[str, object]:
    """The options of an application command interaction, by name (the focused one included)."""
    values: dict[str, object] = {}
    for option in data.get("options") or []:
        if isinstance(option, Mapping) and "name" in option and "value" in option:
            values[str(option["name"])] = option["value"]
    return values


def arguments_text(spec: CommandSpec | None, values: Mapping[str, object]) -> str:
    """The argument text the core parses, from typed options in the spec's order.

    The core reads the words positionally, so a value with spaces (search words typed into
    /order's service option instead of picking a suggestion) must come last: the options after
    it are left out and the core asks for them again (the order wizard does).
    """
    order = [option.name for option in spec.options] if spec is not None else []
    order += [name for name in values if name not in order]
    parts: list[str] = []
    for name in order:
        text = _as_text(values[name]) if name in values else ""
        if not text:
            continue
        parts.append(text)
        if len(text.split()) > 1:
            break
    return " ".join(parts)


def focused_option(data: Mapping[str, Any]) -> tuple[str, str]:
    """The option being typed in an autocomplete interaction and its text so far."""
    for option in data.get("options") or []:
        if isinstance(option, Mapping) and option.get("focused"):
            return str(option.get("name", "")), str(option.get("value", ""))
    return "", ""
