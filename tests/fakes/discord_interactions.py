"""Builders of the INTERACTION_CREATE payloads Discord sends for slash commands and autocomplete,
shaped as discord.py 2.7.1 parses them (component presses and modal submits: discord_components).

Option values get the type of the option as the bot registered it (``tree.sync()``), so an
integer option arrives as a JSON integer and a number as a JSON double; without a registered
command the type is inferred from the Python value.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from tests.fakes.discord_world import (
    ATTACHMENT_SIZE_LIMIT,
    BOT_PERMISSIONS,
    MEMBER_PERMISSIONS,
    InteractionRecord,
    World,
    new_interaction_token,
)

PING, APPLICATION_COMMAND, MESSAGE_COMPONENT, AUTOCOMPLETE, MODAL_SUBMIT = 1, 2, 3, 4, 5
OPTION_SUB_COMMAND, OPTION_SUB_COMMAND_GROUP = 1, 2
OPTION_STRING, OPTION_INTEGER, OPTION_BOOLEAN, OPTION_USER, OPTION_NUMBER = 3, 4, 5, 6, 10


def new_record(
    world: World,
    itype: int,
    data: dict[str, Any],
    *,
    user_id: int,
    guild_id: int | None,
    channel_id: int | None,
    locale: str,
) -> InteractionRecord:
    """The fields every interaction carries, for a guild channel or the bot's DM with the user."""
    interaction_id = world.snowflakes.next()
    token = new_interaction_token()
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(world.application_id),
        "type": itype,
        "data": data,
        "token": token,
        "version": 1,
        "locale": locale,
        "app_permissions": BOT_PERMISSIONS,
        "entitlements": [],
        "entitlement_sku_ids": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if guild_id is not None:
        channel = guild_channel(world, guild_id, channel_id)
        payload.update(
            guild_id=str(guild_id),
            guild={"id": str(guild_id), "locale": "en-US", "features": []},
            guild_locale="en-US",
            member=world.member_object(user_id),
            channel_id=channel["id"],
            channel={**channel, "permissions": MEMBER_PERMISSIONS},
            context=0,
            authorizing_integration_owners={"0": str(guild_id)},
        )
    else:
        channel = world.dm_channel(user_id, channel_id)
        # In the bot's DM Discord sends ``user`` instead of ``member``; context 1 = BOT_DM.
        payload.update(
            user=world.user_object(user_id),
            channel_id=channel["id"],
            channel=dict(channel),
            context=1,
            authorizing_integration_owners={"0": "0"},
        )
    record = InteractionRecord(
        id=interaction_id,
        token=token,
        type=itype,
        payload=payload,
        channel_id=int(channel["id"]),
        user_id=user_id,
        sent_at=time.monotonic(),
    )
    world.interactions[interaction_id] = record
    return record


def guild_channel(world: World, guild_id: int, channel_id: int | None) -> dict[str, Any]:
    """A text channel of the guild, registering the guild or channel if the test invents them."""
    spec = world.guilds.get(guild_id)
    if spec is None:
        new_id = channel_id if channel_id is not None else world.snowflakes.next()
        spec = world.add_guild(guild_id, f"Guild {guild_id}", {new_id: "general"})
    if channel_id is None:
        channel_id = spec.channel_ids[0]
    if channel_id not in world.channels:
        world.add_guild(
            guild_id,
            spec.name,
            {**{c: world.channels[c]["name"] for c in spec.channel_ids}, channel_id: "chat"},
        )
    return world.channels[channel_id]


def _registered_command(world: World, name: str, guild_id: int | None) -> dict[str, Any] | None:
    """The synced chat-input command with that name: guild commands win, as in Discord."""
    pools = [world.guild_commands.get(guild_id, [])] if guild_id is not None else []
    pools.append(world.commands)
    for pool in pools:
        for command in pool:
            if command["name"] == name and command.get("type", 1) == 1:
                return command
    return None


def _infer_type(value: Any) -> int:
    if isinstance(value, bool):
        return OPTION_BOOLEAN
    if isinstance(value, int):
        return OPTION_INTEGER
    if isinstance(value, float):
        return OPTION_NUMBER
    return OPTION_STRING


def _typed_value(
    world: World, otype: int, value: Any, resolved: dict[str, Any], guild: bool
) -> Any:
    if otype == OPTION_STRING:
        return str(value)
    if otype == OPTION_INTEGER:
        return int(value)
    if otype == OPTION_NUMBER:
        return float(value) if not isinstance(value, int) else value
    if otype == OPTION_BOOLEAN:
        return bool(value)
    if otype == OPTION_USER:
        user_id = int(value)
        resolved.setdefault("users", {})[str(user_id)] = world.user_object(user_id)
        if guild:
            member = world.member_object(user_id)
            member.pop("user")
            resolved.setdefault("members", {})[str(user_id)] = member
        return str(user_id)
    raise NotImplementedError(f"the fake cannot build option type {otype} yet")


def _leaf_options(
    world: World,
    schema: list[dict[str, Any]] | None,
    values: Mapping[str, Any],
    *,
    focused: str | None,
    resolved: dict[str, Any],
    guild: bool,
) -> list[dict[str, Any]]:
    by_name = {o["name"]: o for o in schema} if schema is not None else {}
    if schema is not None:
        unknown = sorted(set(values) - set(by_name))
        if unknown:
            raise ValueError(f"options {unknown} are not in the registered command")
        if focused is None:
            missing = [o["name"] for o in schema if o.get("required") and o["name"] not in values]
            if missing:
                raise ValueError(f"required options {missing} are missing")
    options = []
    for name, value in values.items():
        if isinstance(value, dict) and "type" in value:
            options.append({"name": name, **value})
            continue
        otype = int(by_name[name]["type"]) if name in by_name else _infer_type(value)
        if name == focused:
            # Discord sends what the user has typed so far, always as a string.
            options.append({"name": name, "type": otype, "value": str(value), "focused": True})
        else:
            typed = _typed_value(world, otype, value, resolved, guild)
            options.append({"name": name, "type": otype, "value": typed})
    return options


def _command_data(
    world: World,
    name: str,
    values: Mapping[str, Any] | None,
    *,
    guild_id: int | None,
    focused: str | None,
) -> dict[str, Any]:
    """``data`` of an application command: "cmd", "cmd sub" or "cmd group sub" names."""
    root, *path = name.split()
    command = _registered_command(world, root, guild_id)
    schema: list[dict[str, Any]] | None = command.get("options", []) if command else None
    kinds: list[int] = []
    for part in path:
        sub = next((o for o in schema or [] if o["name"] == part), None)
        if schema is not None and (sub is None or sub["type"] not in (1, 2)):
            raise ValueError(f"{part!r} is not a subcommand of the registered {root!r}")
        kinds.append(int(sub["type"]) if sub else 0)
        schema = sub.get("options", []) if sub else None
    if command is None:
        kinds = [OPTION_SUB_COMMAND_GROUP, OPTION_SUB_COMMAND][-len(path) :] if path else []
    if focused is not None and focused not in (values or {}):
        raise ValueError(f"focused option {focused!r} has no value")
    resolved: dict[str, Any] = {}
    options = _leaf_options(
        world, schema, values or {}, focused=focused, resolved=resolved, guild=guild_id is not None
    )
    for part, kind in zip(reversed(path), reversed(kinds), strict=True):
        options = [{"name": part, "type": kind, "options": options}]
    data: dict[str, Any] = {
        "id": command["id"] if command else str(world.snowflakes.next()),
        "name": root,
        "type": 1,
    }
    if options:
        data["options"] = options
    if resolved:
        data["resolved"] = resolved
    if command and command.get("guild_id"):
        data["guild_id"] = command["guild_id"]
    return data


def slash_command_record(
    world: World,
    name: str,
    options: Mapping[str, Any] | None,
    *,
    user_id: int,
    guild_id: int | None,
    channel_id: int | None,
    locale: str,
) -> InteractionRecord:
    """An APPLICATION_COMMAND (type 2) interaction."""
    data = _command_data(world, name, options, guild_id=guild_id, focused=None)
    return new_record(
        world,
        APPLICATION_COMMAND,
        data,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id,
        locale=locale,
    )


def autocomplete_record(
    world: World,
    name: str,
    options: Mapping[str, Any],
    focused: str,
    *,
    user_id: int,
    guild_id: int | None,
    channel_id: int | None,
    locale: str,
) -> InteractionRecord:
    """An APPLICATION_COMMAND_AUTOCOMPLETE (type 4) interaction."""
    data = _command_data(world, name, options, guild_id=guild_id, focused=focused)
    return new_record(
        world,
        AUTOCOMPLETE,
        data,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id,
        locale=locale,
    )
