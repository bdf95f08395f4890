"""The fake Discord's shared state (users, guilds, channels, messages, interactions) and the
builders of the JSON objects Discord sends for them.

Shapes follow Discord API v10 as read by discord.py 2.7.1: ids are strings, timestamps ISO 8601,
and every key discord.py indexes without ``.get`` is present.
"""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1_420_070_400_000
# Permission bits a freshly invited bot typically holds (view, send, embed, read history, ...).
BOT_PERMISSIONS = "2248473465835073"
# What Discord reports for an interaction's invoking member in a guild where they are no admin.
MEMBER_PERMISSIONS = "2222085186636353"
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
# ApplicationFlags.APPLICATION_COMMAND_BADGE: the app has at least one global command.
APPLICATION_FLAGS = 1 << 23
MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7


def iso_now() -> str:
    """The current UTC time in the ISO 8601 form Discord uses."""
    return datetime.now(UTC).isoformat()


class SnowflakeFactory:
    """Discord-style snowflakes: the creation time is in the top bits, so discord.py's
    ``created_at`` is right and ids sort by creation."""

    def __init__(self) -> None:
        self._increment = itertools.count()

    def next(self) -> int:
        """A new unique snowflake."""
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (1 << 17) | (next(self._increment) & 0xFFF)


@dataclass
class GuildSpec:
    """A guild the fake knows: announced in READY and, with the GUILDS intent, by GUILD_CREATE."""

    id: int
    name: str
    channel_ids: list[int]
    owner_id: int


@dataclass
class InteractionRecord:
    """One injected interaction and what the bot did with it so far."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    channel_id: int
    user_id: int
    sent_at: float
    ack_type: int | None = None
    original_message_id: int | None = None
    message_id: int | None = None  # the message a pressed component sits on
    modal: dict[str, Any] | None = None  # the modal the bot opened in answer (type 9)
    message_ids: list[int] = field(default_factory=list)  # original + follow-ups


@dataclass
class World:
    """Everything the gateway and REST halves of the fake share."""

    token: str
    application_id: int
    bot_user_id: int
    gateway_url: str = ""
    callback_deadline: float | None = 3.0
    snowflakes: SnowflakeFactory = field(default_factory=SnowflakeFactory)
    usernames: dict[int, str] = field(default_factory=dict)
    guilds: dict[int, GuildSpec] = field(default_factory=dict)
    channels: dict[int, dict[str, Any]] = field(default_factory=dict)
    dm_channel_by_user: dict[int, int] = field(default_factory=dict)
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    interactions: dict[int, InteractionRecord] = field(default_factory=dict)
    dms: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    dm_closed: set[int] = field(default_factory=set)
    commands: list[dict[str, Any]] = field(default_factory=list)
    guild_commands: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    command_syncs: list[list[dict[str, Any]]] = field(default_factory=list)
    guild_command_syncs: dict[int, list[list[dict[str, Any]]]] = field(default_factory=dict)

    # ----- users -------------------------------------------------------------------------------
    def user_object(self, user_id: int) -> dict[str, Any]:
        """A user object as Discord sends it (any id is a user; names are made up)."""
        if user_id == self.bot_user_id:
            return self.bot_user_object()
        name = self.usernames.get(user_id, f"user{user_id}")
        return {
            "id": str(user_id),
            "username": name,
            "global_name": name.title(),
            "discriminator": "0",
            "avatar": None,
            "public_flags": 0,
            "flags": 0,
            "banner": None,
            "accent_color": None,
            "avatar_decoration_data": None,
            "collectibles": None,
            "primary_guild": None,
        }

    def bot_user_object(self) -> dict[str, Any]:
        """The bot's own user, as in ``GET /users/@me`` and READY."""
        return {
            "id": str(self.bot_user_id),
            "username": "SMM Test Bot",
            "global_name": None,
            "discriminator": "0",
            "avatar": None,
            "bot": True,
            "verified": True,
            "mfa_enabled": False,
            "email": None,
            "flags": 0,
            "public_flags": 0,
            "locale": "en-US",
            "banner": None,
            "accent_color": None,
        }

    def member_object(self, user_id: int, permissions: str = MEMBER_PERMISSIONS) -> dict[str, Any]:
        """A guild member with its user, as in an interaction's ``member``."""
        return {
            "user": self.user_object(user_id),
            "roles": [],
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "nick": None,
            "avatar": None,
            "banner": None,
            "communication_disabled_until": None,
            "unusual_dm_activity_until": None,
            "permissions": permissions,
        }

    # ----- guilds and channels -----------------------------------------------------------------
    def add_guild(self, guild_id: int, name: str, channel_names: dict[int, str]) -> GuildSpec:
        """Register a guild with text channels (id -> name)."""
        spec = GuildSpec(guild_id, name, list(channel_names), owner_id=1)
        self.guilds[guild_id] = spec
        for position, (channel_id, channel_name) in enumerate(channel_names.items()):
            self.channels[channel_id] = {
                "id": str(channel_id),
                "type": 0,
                "guild_id": str(guild_id),
                "name": channel_name,
                "position": position,
                "permission_overwrites": [],
                "parent_id": None,
                "nsfw": False,
                "topic": None,
                "last_message_id": None,
                "rate_limit_per_user": 0,
                "flags": 0,
            }
        return spec

    def dm_channel(self, user_id: int, channel_id: int | None = None) -> dict[str, Any]:
        """The bot's DM channel with a user; Discord hands back the same one every time."""
        known = self.dm_channel_by_user.get(user_id)
        if known is not None and channel_id in (None, known):
            return self.channels[known]
        new_id = channel_id if channel_id is not None else self.snowflakes.next()
        channel = {
            "id": str(new_id),
            "type": 1,
            "last_message_id": None,
            "flags": 0,
            "recipients": [self.user_object(user_id)],
        }
        self.channels[new_id] = channel
        self.dm_channel_by_user.setdefault(user_id, new_id)
        return channel

    def dm_recipient(self, channel_id: int) -> int | None:
        """The user at the other end of a DM channel, or None for a guild channel."""
        channel = self.channels.get(channel_id)
        if channel is None or channel["type"] != 1:
            return None
        return int(channel["recipients"][0]["id"])

    def guild_create_object(self, guild_id: int) -> dict[str, Any]:
        """A GUILD_CREATE payload: the guild with its channels, @everyone role and the bot."""
        spec = self.guilds[guild_id]
        bot_member = self.member_object(self.bot_user_id, BOT_PERMISSIONS)
        bot_member.pop("permissions")
        return {
            "id": str(guild_id),
            "name": spec.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "owner_id": str(spec.owner_id),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 0,
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "color": 0,
                    "hoist": False,
                    "icon": None,
                    "unicode_emoji": None,
                    "position": 0,
                    "permissions": "1071698660929",
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": str(spec.channel_ids[0]) if spec.channel_ids else None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "description": None,
            "banner": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2024-01-01T00:00:00.000000+00:00",
            "large": False,
            "unavailable": False,
            "member_count": 2,
            "voice_states": [],
            "members": [bot_member],
            "channels": [
                {k: v for k, v in self.channels[c].items() if k != "guild_id"}
                for c in spec.channel_ids
            ],
            "threads": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # ----- messages ----------------------------------------------------------------------------
    def new_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        *,
        author_id: int | None = None,
        interaction: InteractionRecord | None = None,
        extra_flags: int = 0,
    ) -> dict[str, Any]:
        """Store and return a message the bot (or ``author_id``) posted, echoing the body."""
        message_id = self.snowflakes.next()
        author = self.user_object(self.bot_user_id if author_id is None else author_id)
        message: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "type": 0,
            "content": body.get("content") or "",
            "author": author,
            "attachments": [],
            "embeds": list(body.get("embeds") or []),
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(body.get("tts", False)),
            "timestamp": iso_now(),
            "edited_timestamp": None,
            "flags": int(body.get("flags") or 0) | extra_flags,
            "components": number_components(list(body.get("components") or [])),
        }
        channel = self.channels.get(channel_id)
        if channel is not None and "guild_id" in channel:
            message["guild_id"] = channel["guild_id"]
        if interaction is not None:
            # Interaction replies are webhook messages of the application.
            message["webhook_id"] = str(self.application_id)
            message["application_id"] = str(self.application_id)
            message["type"] = 20 if interaction.type == 2 else 0
            message["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.user_object(interaction.user_id),
                "authorizing_integration_owners": interaction.payload.get(
                    "authorizing_integration_owners", {}
                ),
            }
        self.messages[message_id] = message
        if channel is not None:
            channel["last_message_id"] = str(message_id)
        return message

    def edit_message(self, message_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """Apply an edit body to a stored message; a deferred reply stops 'thinking' on edit."""
        message = self.messages[message_id]
        was_loading = bool(message["flags"] & MESSAGE_FLAG_LOADING)
        for key in ("content", "embeds", "components"):
            if key in body:
                value = body[key]
                if key == "components":
                    value = number_components(list(value or []))
                message[key] = value if value is not None else ("" if key == "content" else [])
        message["flags"] &= ~MESSAGE_FLAG_LOADING
        if not was_loading:
            message["edited_timestamp"] = iso_now()
        return message


def number_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every component a numeric ``id`` as Discord does, walking depth-first."""
    counter = itertools.count(1)

    def walk(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for item in items:
            copy = dict(item)
            copy.setdefault("id", next(counter))
            if isinstance(copy.get("components"), list):
                copy["components"] = walk(copy["components"])
            if isinstance(copy.get("component"), dict):
                copy["component"] = walk([copy["component"]])[0]
            out.append(copy)
        return out

    return walk(components)


def new_interaction_token() -> str:
    """An opaque interaction token, unique per interaction like Discord's."""
    return "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
