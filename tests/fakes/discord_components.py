"""Builders of the INTERACTION_CREATE payloads for component presses (buttons, selects) and modal
submits, on the messages and modals the bot really sent through the fake."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.discord_interactions import (
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
    guild_channel,
    new_record,
)
from tests.fakes.discord_world import InteractionRecord, World

_SELECT_TYPES = (3, 5, 6, 7, 8)


def _find_component(components: Sequence[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    for component in components:
        if component.get("custom_id") == custom_id:
            return component
        nested = list(component.get("components") or [])
        if isinstance(component.get("component"), dict):
            nested.append(component["component"])
        if isinstance(component.get("accessory"), dict):
            nested.append(component["accessory"])
        found = _find_component(nested, custom_id)
        if found is not None:
            return found
    return None


def component_record(
    world: World,
    custom_id: str,
    *,
    message: dict[str, Any] | None,
    values: list[str] | None,
    user_id: int,
    guild_id: int | None,
    channel_id: int | None,
    locale: str,
) -> InteractionRecord:
    """A MESSAGE_COMPONENT (type 3) interaction on the newest bot message carrying ``custom_id``
    (or the given message; or, if none carries it, a bot message made up for the press)."""
    if message is None:
        message = next(
            (
                m
                for m in reversed(world.messages.values())
                if _find_component(m["components"], custom_id)
            ),
            None,
        )
    if message is None:
        component_type = 3 if values is not None else 2
        component: dict[str, Any] = {"type": component_type, "custom_id": custom_id}
        if component_type == 2:
            component.update(style=1, label="Button")
        else:
            component["options"] = [{"label": v, "value": v} for v in values or []]
        if guild_id is not None:
            host = guild_channel(world, guild_id, channel_id)
        else:
            host = world.dm_channel(user_id, channel_id)
        message = world.new_message(
            int(host["id"]), {"content": "", "components": [{"type": 1, "components": [component]}]}
        )
    found = _find_component(message.get("components") or [], custom_id)
    guessed = 3 if values is not None else 2
    component_type = int(found["type"]) if found is not None else guessed
    if channel_id is None and "channel_id" in message:
        channel_id = int(message["channel_id"])
    if guild_id is None and message.get("guild_id"):
        guild_id = int(message["guild_id"])
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
    if component_type in _SELECT_TYPES:
        data["values"] = list(values or [])
    record = new_record(
        world,
        MESSAGE_COMPONENT,
        data,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id,
        locale=locale,
    )
    record.payload["message"] = message
    record.message_id = int(message["id"])
    return record


def _modal_submit_components(
    modal: dict[str, Any] | None, fields: Mapping[str, str | list[str]]
) -> list[dict[str, Any]]:
    """Mirror the opened modal: type 4 inputs inside type 1 rows, or inside type 18 labels."""

    def leaf(component: dict[str, Any], value: str | list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": component["type"], "custom_id": component["custom_id"]}
        if "id" in component:
            out["id"] = component["id"]
        if component["type"] == 4:
            out["value"] = value if isinstance(value, str) else ",".join(value)
        else:
            out["values"] = [value] if isinstance(value, str) else list(value)
        return out

    if modal is None:
        return [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in fields.items()
        ]
    known: set[str] = set()
    rows: list[dict[str, Any]] = []
    for top in modal.get("components", []):
        if top.get("type") == 1:
            inner = [
                leaf(c, fields.get(c["custom_id"], "" if c["type"] == 4 else []))
                for c in top.get("components", [])
                if "custom_id" in c
            ]
            known.update(c["custom_id"] for c in inner)
            row: dict[str, Any] = {"type": 1, "components": inner}
            if "id" in top:
                row["id"] = top["id"]
            rows.append(row)
        elif top.get("type") == 18 and "custom_id" in top.get("component", {}):
            child = top["component"]
            known.add(child["custom_id"])
            default: str | list[str] = "" if child["type"] == 4 else []
            label: dict[str, Any] = {
                "type": 18,
                "component": leaf(child, fields.get(child["custom_id"], default)),
            }
            if "id" in top:
                label["id"] = top["id"]
            rows.append(label)
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"fields {unknown} are not inputs of the opened modal")
    return rows


def modal_submit_record(
    world: World,
    custom_id: str,
    fields: Mapping[str, str | list[str]],
    *,
    user_id: int,
    guild_id: int | None,
    channel_id: int | None,
    locale: str,
) -> InteractionRecord:
    """A MODAL_SUBMIT (type 5) interaction answering the newest modal opened with ``custom_id``."""
    opener = next(
        (
            r
            for r in sorted(world.interactions.values(), key=lambda r: r.id, reverse=True)
            if r.modal is not None and r.modal.get("custom_id") == custom_id
        ),
        None,
    )
    if opener is not None:
        if channel_id is None:
            channel_id = opener.channel_id
        if guild_id is None and opener.payload.get("guild_id"):
            guild_id = int(opener.payload["guild_id"])
    data = {
        "custom_id": custom_id,
        "components": _modal_submit_components(opener.modal if opener else None, fields),
    }
    record = new_record(
        world,
        MODAL_SUBMIT,
        data,
        user_id=user_id,
        guild_id=guild_id,
        channel_id=channel_id,
        locale=locale,
    )
    # A modal opened from a button carries that button's message along.
    if opener is not None and opener.message_id is not None:
        message = world.messages.get(opener.message_id)
        if message is not None:
            record.payload["message"] = message
            record.message_id = opener.message_id
    return record
