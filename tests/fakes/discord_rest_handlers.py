"""Handlers of the fake Discord REST routes: users, application, gateway, application commands,
interaction callbacks, interaction webhooks (follow-ups, @original), DM channels and messages.

Each handler takes the shared World and a parsed request and returns ``(status, json body)``;
a body of None means 204 No Content. Error bodies are Discord's ``{"message", "code"}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.discord_checks import (
    FormErrors,
    check_autocomplete,
    check_commands,
    check_message,
    check_modal,
)
from tests.fakes.discord_world import (
    APPLICATION_FLAGS,
    MESSAGE_FLAG_EPHEMERAL,
    MESSAGE_FLAG_LOADING,
    InteractionRecord,
    World,
    number_components,
)

Reply = tuple[int, Any]

# Callback types Discord accepts per interaction type (2 command, 3 component, 4 autocomplete,
# 5 modal submit): https://discord.com/developers/docs/interactions/receiving-and-responding
_ALLOWED_CALLBACKS = {1: {1}, 2: {4, 5, 9, 12}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}


@dataclass(frozen=True)
class Req:
    """A parsed REST request: route parameters, JSON body (or ``payload_json``), query."""

    method: str
    path: str
    params: dict[str, str]
    json: Any
    query: dict[str, str]
    files: tuple[str, ...] = field(default=())
    received: float = 0.0  # time.monotonic() on arrival


def error(status: int, message: str, code: int = 0) -> Reply:
    """A Discord error reply."""
    return status, {"message": message, "code": code}


def _truthy(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true")


# ----- users, application, gateway --------------------------------------------------------------
def get_me(world: World, req: Req) -> Reply:
    """``GET /users/@me``."""
    return 200, world.bot_user_object()


def get_user(world: World, req: Req) -> Reply:
    """``GET /users/{id}``: every id is a user in the fake."""
    return 200, world.user_object(int(req.params["user_id"]))


def get_application(world: World, req: Req) -> Reply:
    """``GET /oauth2/applications/@me``: the fields discord.py's AppInfo indexes directly."""
    return 200, {
        "id": str(world.application_id),
        "name": "SMM Test Bot",
        "icon": None,
        "description": "",
        "summary": "",
        "type": None,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": APPLICATION_FLAGS,
        "owner": world.user_object(1),
        "team": None,
        "rpc_origins": [],
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "integration_types_config": {"0": {}},
        "approximate_guild_count": len(world.guilds),
        "bot": world.bot_user_object(),
    }


def get_gateway(world: World, req: Req) -> Reply:
    """``GET /gateway``."""
    return 200, {"url": world.gateway_url}


def get_gateway_bot(world: World, req: Req) -> Reply:
    """``GET /gateway/bot`` (what AutoShardedClient asks for)."""
    limit = {"total": 1000, "remaining": 999, "reset_after": 14_400_000, "max_concurrency": 1}
    return 200, {"url": world.gateway_url, "shards": 1, "session_start_limit": limit}


# ----- application commands ----------------------------------------------------------------------
def _check_app(world: World, req: Req) -> Reply | None:
    if int(req.params["app"]) != world.application_id:
        return error(403, "Missing Access", 50001)
    guild = req.params.get("guild")
    if guild is not None and int(guild) not in world.guilds:
        return error(403, "Missing Access", 50001)
    return None


def list_commands(world: World, req: Req) -> Reply:
    """``GET /applications/{app}[/guilds/{guild}]/commands``."""
    refused = _check_app(world, req)
    if refused:
        return refused
    guild = req.params.get("guild")
    return 200, world.commands if guild is None else world.guild_commands.get(int(guild), [])


def put_commands(world: World, req: Req) -> Reply:
    """Bulk overwrite: the stored set becomes exactly the body; ids survive for same name+type."""
    refused = _check_app(world, req)
    if refused:
        return refused
    body = req.json
    if not isinstance(body, list):
        errors = FormErrors()
        errors.add((), "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType")
        return 400, errors.body()
    invalid = check_commands(body)
    if invalid:
        return 400, invalid
    guild = req.params.get("guild")
    old = world.commands if guild is None else world.guild_commands.get(int(guild), [])
    old_ids = {(c["name"], c.get("type", 1)): c["id"] for c in old}
    stored = []
    for command in body:
        ctype = int(command.get("type", 1))
        full: dict[str, Any] = {
            "id": old_ids.get((command["name"], ctype)) or str(world.snowflakes.next()),
            "application_id": str(world.application_id),
            "version": str(world.snowflakes.next()),
            "type": ctype,
            "name": command["name"],
            "name_localizations": command.get("name_localizations"),
            "description": command.get("description", ""),
            "description_localizations": command.get("description_localizations"),
            "default_member_permissions": command.get("default_member_permissions"),
            "dm_permission": command.get("dm_permission", True),
            "contexts": command.get("contexts"),
            "integration_types": command.get("integration_types") or [0],
            "nsfw": bool(command.get("nsfw", False)),
        }
        if command.get("options"):
            full["options"] = command["options"]
        if guild is not None:
            full["guild_id"] = guild
        stored.append(full)
    if guild is None:
        world.commands = stored
        world.command_syncs.append(body)
    else:
        world.guild_commands[int(guild)] = stored
        world.guild_command_syncs.setdefault(int(guild), []).append(body)
    return 200, stored


# ----- interaction callback ----------------------------------------------------------------------
def interaction_callback(world: World, req: Req) -> Reply:
    """``POST /interactions/{id}/{token}/callback``: the one initial response per interaction."""
    record = world.interactions.get(int(req.params["iid"]))
    if record is None or record.token != req.params["itoken"]:
        return error(404, "Unknown interaction", 10062)
    late = (
        world.callback_deadline is not None
        and req.received - record.sent_at > world.callback_deadline
    )
    if late and record.ack_type is None:
        # Discord forgets an interaction not answered within 3 seconds.
        return error(404, "Unknown interaction", 10062)
    if record.ack_type is not None:
        return error(400, "Interaction has already been acknowledged.", 40060)
    body = req.json if isinstance(req.json, dict) else {}
    rtype = body.get("type")
    data = body.get("data") or {}
    if rtype not in _ALLOWED_CALLBACKS.get(record.type, set()) or (
        rtype == 7 and record.message_id is None
    ):
        errors = FormErrors()
        errors.add(("type",), "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid response type")
        return 400, errors.body()
    checks: dict[int, Callable[[], dict[str, Any] | None]] = {
        4: lambda: check_message(data, creating=True),
        7: lambda: check_message(data, creating=False),
        8: lambda: check_autocomplete(data),
        9: lambda: check_modal(data),
    }
    invalid = checks[rtype]() if rtype in checks else None
    if invalid:
        return 400, invalid
    record.ack_type = rtype
    summary: dict[str, Any] = {"id": str(record.id), "type": record.type}
    resource: dict[str, Any] | None = None
    if rtype in (4, 5):
        flags = int(data.get("flags") or 0)
        message = world.new_message(
            record.channel_id,
            data if rtype == 4 else {"flags": flags & MESSAGE_FLAG_EPHEMERAL},
            interaction=record,
            extra_flags=MESSAGE_FLAG_LOADING if rtype == 5 else 0,
        )
        record.original_message_id = int(message["id"])
        record.message_ids.append(record.original_message_id)
        summary.update(
            response_message_id=message["id"],
            response_message_loading=rtype == 5,
            response_message_ephemeral=bool(flags & MESSAGE_FLAG_EPHEMERAL),
        )
        if rtype == 4:
            resource = {"type": rtype, "message": message}
    elif rtype in (6, 7) and record.message_id is not None:
        record.original_message_id = record.message_id
        record.message_ids.append(record.message_id)
        message = world.messages.get(record.message_id) or {}
        if rtype == 7 and message:
            message = world.edit_message(record.message_id, data)
            resource = {"type": rtype, "message": message}
        summary.update(
            response_message_id=str(record.message_id),
            response_message_loading=False,
            response_message_ephemeral=bool(int(message.get("flags", 0)) & MESSAGE_FLAG_EPHEMERAL),
        )
    elif rtype == 9:
        # Discord numbers every component it stores; the submission echoes those ids.
        record.modal = {**data, "components": number_components(list(data.get("components", [])))}
    if not _truthy(req.query.get("with_response")):
        return 204, None
    answer: dict[str, Any] = {"interaction": summary}
    if resource is not None:
        answer["resource"] = resource
    return 200, answer


# ----- interaction webhook: follow-ups and @original ---------------------------------------------
def _webhook_record(world: World, req: Req) -> InteractionRecord | None:
    if int(req.params["app"]) != world.application_id:
        return None
    token = req.params["wtoken"]
    record = next((r for r in world.interactions.values() if r.token == token), None)
    # The interaction webhook exists only once the interaction has been acknowledged.
    return record if record is not None and record.ack_type is not None else None


def followup_create(world: World, req: Req) -> Reply:
    """``POST /webhooks/{app}/{token}``: a follow-up message (``?wait=1`` returns it)."""
    record = _webhook_record(world, req)
    if record is None:
        return error(404, "Unknown Webhook", 10015)
    body = req.json if isinstance(req.json, dict) else {}
    invalid = check_message(body, creating=True)
    if invalid:
        return 400, invalid
    original = world.messages.get(record.original_message_id or 0)
    if record.ack_type == 5 and original and original["flags"] & MESSAGE_FLAG_LOADING:
        # After a deferred reply, the first follow-up replaces the "thinking..." message.
        message = world.edit_message(int(original["id"]), body)
    else:
        message = world.new_message(record.channel_id, body, interaction=record)
        record.message_ids.append(int(message["id"]))
    return (200, message) if _truthy(req.query.get("wait")) else (204, None)


def webhook_message(world: World, req: Req) -> Reply:
    """``GET/PATCH/DELETE /webhooks/{app}/{token}/messages/{@original|id}``."""
    record = _webhook_record(world, req)
    if record is None:
        return error(404, "Unknown Webhook", 10015)
    mid = req.params["mid"]
    message_id = record.original_message_id if mid == "@original" else int(mid)
    if message_id is None or message_id not in record.message_ids:
        return error(404, "Unknown Message", 10008)
    if message_id not in world.messages:
        return error(404, "Unknown Message", 10008)
    if req.method == "GET":
        return 200, world.messages[message_id]
    if req.method == "DELETE":
        del world.messages[message_id]
        return 204, None
    body = req.json if isinstance(req.json, dict) else {}
    invalid = check_message(body, creating=False)
    if invalid:
        return 400, invalid
    return 200, world.edit_message(message_id, body)


# ----- channels and DMs --------------------------------------------------------------------------
def create_dm(world: World, req: Req) -> Reply:
    """``POST /users/@me/channels`` with ``recipient_id``: the (one) DM channel with that user."""
    body = req.json if isinstance(req.json, dict) else {}
    try:
        user_id = int(body["recipient_id"])
    except (KeyError, TypeError, ValueError):
        errors = FormErrors()
        errors.add(("recipient_id",), "BASE_TYPE_REQUIRED", "This field is required")
        return 400, errors.body()
    return 200, world.dm_channel(user_id)


def get_channel(world: World, req: Req) -> Reply:
    """``GET /channels/{id}``."""
    channel = world.channels.get(int(req.params["cid"]))
    return (200, channel) if channel is not None else error(404, "Unknown Channel", 10003)


def create_message(world: World, req: Req) -> Reply:
    """``POST /channels/{id}/messages``; a DM to a user who closed DMs is refused with 50007."""
    channel_id = int(req.params["cid"])
    if channel_id not in world.channels:
        return error(404, "Unknown Channel", 10003)
    recipient = world.dm_recipient(channel_id)
    if recipient is not None and recipient in world.dm_closed:
        return error(403, "Cannot send messages to this user", 50007)
    body = req.json if isinstance(req.json, dict) else {}
    invalid = check_message(body, creating=True)
    if invalid:
        return 400, invalid
    message = world.new_message(channel_id, body)
    if recipient is not None:
        world.dms.setdefault(recipient, []).append(message)
    return 200, message


def channel_message(world: World, req: Req) -> Reply:
    """``GET/PATCH/DELETE /channels/{id}/messages/{mid}``: only the bot's own can be edited."""
    channel_id, message_id = int(req.params["cid"]), int(req.params["mid"])
    if channel_id not in world.channels:
        return error(404, "Unknown Channel", 10003)
    message = world.messages.get(message_id)
    if message is None or int(message["channel_id"]) != channel_id:
        return error(404, "Unknown Message", 10008)
    if req.method == "GET":
        return 200, message
    own = int(message["author"]["id"]) == world.bot_user_id
    if req.method == "DELETE":
        if not own:
            return error(403, "Missing Permissions", 50013)
        del world.messages[message_id]
        return 204, None
    if not own:
        return error(403, "Cannot edit a message authored by another user", 50005)
    body = req.json if isinstance(req.json, dict) else {}
    invalid = check_message(body, creating=False)
    if invalid:
        return 400, invalid
    return 200, world.edit_message(message_id, body)
