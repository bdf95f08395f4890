"""Builds the shared resources once (database, cipher, panel client, core) and closes them."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiosqlite

from bot.core.app import BotCore
from bot.core.catalog import CatalogCache
from bot.core.context import Resources
from bot.crypto import KeyCipher, KeyOwner, cipher_from_settings, hint_for, key_file_path
from bot.log_safety import secrets
from bot.panel.client import PanelClient
from bot.settings import Settings
from storage import actions as stored_actions
from storage import credentials, orders, users
from storage.database import open_database

log = logging.getLogger(__name__)

# Button state older than this is pruned at start-up (its buttons then answer "expired").
ACTION_MAX_AGE_SECONDS = 30 * 24 * 3600.0


class StartupError(Exception):
    """The bot cannot start safely; the text says why and what to do (no secrets in it)."""


@dataclass
class Runtime:
    """The process's shared resources and the core built on them."""

    settings: Settings
    db: aiosqlite.Connection
    cipher: KeyCipher
    panel: PanelClient
    core: BotCore


@asynccontextmanager
async def build_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Open the database, load the master key, start one panel connection pool; close on exit."""
    for token in (settings.telegram_bot_token, settings.discord_bot_token):
        if token is not None:
            secrets.add(token.get_secret_value(), pinned=True)
    db = await open_database(settings.database_path)
    try:
        # An intent still open at start-up belongs to a process that died mid-placement (one
        # process places orders): the panel may or may not have the order, so it must never be
        # placed again automatically, and the user is told to check.
        stale = await orders.mark_stale_intents_unknown(db, time.time())
        if stale:
            log.warning("%d order(s) were being placed when the bot stopped: marked unknown", stale)
        await stored_actions.prune_actions(db, time.time() - ACTION_MAX_AGE_SECONDS)
        key_file = key_file_path(settings)
        lost_key = settings.encryption_key is None and not key_file.exists()
        if lost_key and await credentials.all_credentials(db):
            # A new master key would leave every stored key unreadable, silently.
            raise StartupError(
                f"The key file {key_file} is missing but the database holds encrypted API keys. "
                "Restore the file, or set ENCRYPTION_KEY to the key they were stored under."
            )
        cipher = cipher_from_settings(settings)
        async with PanelClient(timeout=settings.panel_timeout_seconds) as panel:
            resources = Resources(
                settings=settings,
                db=db,
                panel=panel,
                cipher=cipher,
                catalog=CatalogCache(panel),
            )
            yield Runtime(settings, db, cipher, panel, BotCore(resources))
    finally:
        await db.close()


async def register_key(
    runtime: Runtime, platform: str, user_id: str, panel_url: str, key: str
) -> None:
    """Store a key for a user directly, without the panel check (the demo's pre-registered key)."""
    user = await users.get_or_create_user(runtime.db, platform, user_id, chat_id=user_id)
    ciphertext = runtime.cipher.encrypt(key, KeyOwner(platform, user_id, panel_url))
    await credentials.upsert_credential(runtime.db, user.id, panel_url, ciphertext, hint_for(key))
    secrets.add(key)
