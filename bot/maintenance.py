"""Maintenance subcommands that work on the stored data."""

from __future__ import annotations

from bot.crypto import cipher_from_settings
from bot.key_rotation import rotate_keys
from bot.settings import Settings
from storage.database import open_database


async def rotate_stored_keys(settings: Settings) -> int:
    """Re-encrypt every stored API key under the current master key; returns how many changed."""
    db = await open_database(settings.database_path)
    try:
        return await rotate_keys(db, cipher_from_settings(settings))
    finally:
        await db.close()
