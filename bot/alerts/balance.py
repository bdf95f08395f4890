"""Low-balance alerts: read a watched user's balance after each placement and at most hourly.

A user who set `/alerts balance <amount>` gets one alert when the balance is below it, and no more
until a reading finds it back at or above the threshold (which re-arms the alert).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import aiosqlite

from bot.alerts.hosts import HostPool, PanelJob
from bot.alerts.keys import KeyRing
from bot.alerts.messages import low_balance_alert, reply_to_payload
from bot.panel.client import PanelClient
from bot.panel.errors import InvalidApiKey, PanelError, PanelUnavailable, mask_key
from storage import outbox, users
from storage.database import transaction
from storage.outbox import NewMessage
from storage.users import BalanceWatch

log = logging.getLogger(__name__)

BALANCE_EVERY = 3600.0
# At most this many readings per poll cycle: 10,000 watchers spread over many cycles of the hour
# instead of 10,000 extra requests in one.
MAX_READINGS_PER_CYCLE = 500


class LowBalanceWatcher:
    """Reads balances of users with a threshold and queues the low-balance alert."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        panel: PanelClient,
        keys: KeyRing,
        hosts: HostPool,
        *,
        clock: Callable[[], float],
        on_alerts: Callable[[], None],
    ) -> None:
        self._db = db
        self._panel = panel
        self._keys = keys
        self._hosts = hosts
        self._clock = clock
        self._on_alerts = on_alerts
        self.checked = 0
        self.alerts_queued = 0

    async def due_jobs(self, now: float) -> list[PanelJob]:
        """One balance request per watched user not read in the last hour."""
        watches = await users.due_balance_watches(
            self._db, now - BALANCE_EVERY, limit=MAX_READINGS_PER_CYCLE
        )
        return [job for watch in watches if (job := self._job(watch)) is not None]

    async def check_user(self, user_row_id: int) -> None:
        """Read this user's balance now (after a placement), if they watch it; never raises."""
        try:
            watch = await users.balance_watch(self._db, user_row_id)
            job = None if watch is None else self._job(watch)
            if job is not None:
                await self._hosts.run([job])
        except Exception:
            log.exception("low-balance check of user %d failed", user_row_id)

    def _job(self, watch: BalanceWatch) -> PanelJob | None:
        key = self._keys.key_for(watch.credential)
        if key is None:
            return None
        return PanelJob(watch.credential.panel_url, partial(self._check, watch, key))

    async def _check(self, watch: BalanceWatch, key: str) -> bool:
        # A placement hook and the hourly check may read the same balance at once: harmless, as
        # `record_balance_check` lets only the first of them act on a crossing.
        try:
            await self._read_and_record(watch, key)
        except PanelUnavailable:
            raise  # the host pool backs off the host
        except InvalidApiKey:
            if await self._keys.reject(watch.credential):
                self.alerts_queued += 1
                self._on_alerts()
        except PanelError as error:
            # A panel refusing `balance` is asked again in an hour, not every cycle. Its text is
            # masked again before logging, in case the panel echoes the key some other way.
            log.warning(
                "Balance of user %d could not be read: %s",
                watch.credential.user_id,
                mask_key(str(error), key),
            )
            await users.record_balance_check(
                self._db,
                watch.credential.user_id,
                threshold=watch.threshold,
                was_alerted=watch.alerted,
                alerted=watch.alerted,
                checked_at=self._clock(),
            )
        return True

    async def _read_and_record(self, watch: BalanceWatch, key: str) -> None:
        cred = watch.credential
        balance = await self._panel.balance(cred.panel_url, key)
        self.checked += 1
        now = self._clock()
        # Below: alerted (now or before). At or above: re-armed for the next fall.
        below = balance.amount < watch.threshold
        async with transaction(self._db):
            stored = await users.record_balance_check(
                self._db,
                cred.user_id,
                threshold=watch.threshold,
                was_alerted=watch.alerted,
                alerted=below,
                checked_at=now,
            )
            # Alert on the crossing only: `stored` means no other check or threshold change got
            # there first, and the flag written with the alert keeps every later reading quiet.
            queue = stored and below and not watch.alerted
            if queue:
                message = NewMessage(
                    user_id=cred.user_id,
                    platform=cred.platform,
                    chat_id=cred.chat_id,
                    payload=reply_to_payload(low_balance_alert(balance, watch.threshold)),
                    dedupe_key=f"low-balance:{cred.user_id}:{now!r}",
                )
                await outbox.enqueue_at(self._db, message, now)
        if queue:
            self.alerts_queued += 1
            self._on_alerts()
