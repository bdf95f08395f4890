"""Users' keys for background checks: decrypting them, and retiring one the panel now rejects."""

from __future__ import annotations

import logging
from collections.abc import Callable

import aiosqlite

from bot.alerts.messages import invalid_key_alert, reply_to_payload
from bot.crypto import DecryptionError, KeyCipher, KeyOwner
from storage import credentials, outbox
from storage.credentials import PollCredential
from storage.database import transaction
from storage.outbox import NewMessage

log = logging.getLogger(__name__)


class KeyRing:
    """Decrypts the keys the poller uses and handles keys a panel rejects."""

    def __init__(
        self, db: aiosqlite.Connection, cipher: KeyCipher, clock: Callable[[], float]
    ) -> None:
        self._db = db
        self._cipher = cipher
        self._clock = clock
        self._unreadable: set[tuple[int, float]] = set()

    def key_for(self, credential: PollCredential) -> str | None:
        """The plain key of a credential, or None if it cannot be decrypted (warned once)."""
        owner = KeyOwner(credential.platform, credential.platform_user_id, credential.panel_url)
        try:
            # The key is not added to the log redaction registry: that registry recompiles one
            # regex per new secret (quadratic for 10,000 keys), and these keys only ever travel
            # in the client's POST body, which nothing logs.
            return self._cipher.decrypt(credential.ciphertext, owner)
        except DecryptionError:
            marker = (credential.id, credential.updated_at)
            if marker not in self._unreadable:
                self._unreadable.add(marker)
                log.warning(
                    "Cannot decrypt the key of credential %d (lost or retired master key?); "
                    "its orders are not checked",
                    credential.id,
                )
            return None

    async def reject(self, credential: PollCredential) -> bool:
        """Mark the key invalid and queue one alert asking for a new key (one transaction).

        Returns False when the user replaced the key meanwhile (then nothing changes) or it was
        already marked. The alert's dedupe key names this version of the key, so a later key that
        is rejected too gets its own alert, and this one never gets two.
        """
        now = self._clock()
        message = NewMessage(
            user_id=credential.user_id,
            platform=credential.platform,
            chat_id=credential.chat_id,
            payload=reply_to_payload(invalid_key_alert(credential.panel_url, credential.hint)),
            dedupe_key=f"invalid-key:{credential.id}:{credential.updated_at!r}",
        )
        async with transaction(self._db):
            flagged = await credentials.mark_invalid_if_unchanged(
                self._db, credential.id, credential.updated_at
            )
            if flagged:
                await outbox.enqueue_at(self._db, message, now)
        if flagged:
            log.info(
                "Panel rejected the key of credential %d; asked the user for a new one",
                credential.id,
            )
        return flagged
