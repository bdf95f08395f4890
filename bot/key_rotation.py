"""`python -m bot rotate-keys`: re-encrypt every stored API key under the current master key."""

from __future__ import annotations

import logging

import aiosqlite

from bot.crypto import DecryptionError, KeyCipher, KeyOwner
from storage.credentials import all_credentials, replace_ciphertext
from storage.database import transaction
from storage.users import UserRow, get_user_by_id

log = logging.getLogger(__name__)


async def rotate_keys(db: aiosqlite.Connection, cipher: KeyCipher) -> int:
    """Re-encrypt every credential not under the current key, in one transaction; returns the count.

    A value no configured key can read (its key is not in ENCRYPTION_OLD_KEYS, or it was tampered
    with) is left as it is and logged, so adding the missing key and re-running still works.
    """
    changed = 0
    unreadable = 0
    users: dict[int, UserRow | None] = {}
    async with transaction(db):
        for credential in await all_credentials(db):
            if not cipher.needs_rotation(credential.ciphertext):
                continue
            if credential.user_id not in users:
                users[credential.user_id] = await get_user_by_id(db, credential.user_id)
            user = users[credential.user_id]
            if user is None:
                continue
            owner = KeyOwner(user.platform, user.platform_user_id, credential.panel_url)
            try:
                plaintext = cipher.decrypt(credential.ciphertext, owner)
            except DecryptionError as error:
                unreadable += 1
                log.warning("Credential %d cannot be re-encrypted: %s", credential.id, error)
                continue
            await replace_ciphertext(db, credential.id, cipher.encrypt(plaintext, owner))
            changed += 1
    if unreadable:
        log.warning("%d credential(s) stay under keys that could not be read", unreadable)
    log.info("Re-encrypted %d credential(s) under key %s", changed, cipher.current_key_id)
    return changed
