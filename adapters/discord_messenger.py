"""The Discord adapter's entry point (named so it never shadows the `discord` library)."""

from __future__ import annotations

from adapters.discord_app.adapter import DiscordAdapter

__all__ = ["DiscordAdapter"]
