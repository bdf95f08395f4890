"""Delivering the outbox: each queued alert to the platform its user came from, at most once.

A message is marked delivered only after the platform accepted it. The one window in which an
alert can go out twice: the Sender returned (the platform has the message) and the process died
before `mark_delivered` committed; the next run sends that message again. (A send cancelled after
the stop grace period falls in the same window: the platform may have the message or not.) Every
other crash point leaves the message either undelivered (sent later) or delivered (never sent
again). Only committed rows are read (`outbox.due_messages`), so a change whose transaction rolls
back is never announced. A record that fails to write after the platform accepted the message is
kept in memory and written later; this process never sends that message again.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from typing import cast

import aiosqlite

from bot.alerts.messages import reply_from_payload
from bot.alerts.schedule import DELIVERY_MAX_AGE, DELIVERY_MAX_ATTEMPTS, delivery_delay
from bot.core.seam import DeliveryError, Platform, Recipient, RecipientUnreachable, Sender
from storage import outbox, users
from storage.database import transaction
from storage.outbox import OutboxRow

log = logging.getLogger(__name__)

BATCH = 200
CONCURRENT_RECIPIENTS = 8
# Messages for a platform this process does not serve wait for a process that does.
NO_SENDER_DELAY = 3600.0


class OutboxDelivery:
    """Sends due outbox messages through the adapters' Senders, retrying with backoff."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        senders: Mapping[str, Sender],
        clock: Callable[[], float],
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._db = db
        self._senders = dict(senders)
        self._clock = clock
        self._rng = rng or random.Random()
        self._slots = asyncio.Semaphore(CONCURRENT_RECIPIENTS)
        self._lock = asyncio.Lock()
        self._warned_platforms: set[str] = set()
        self._stopping = False
        # Accepted by the platform, not yet recorded (the write failed), by dedupe_key.
        self._unrecorded: dict[str, OutboxRow] = {}
        self._recording: set[asyncio.Task[bool]] = set()

    def stop(self) -> None:
        """Start no new send: those in flight finish and are recorded, the rest wait queued."""
        self._stopping = True

    async def settle(self) -> None:
        """Wait for the records of accepted messages still being written (after a cancel)."""
        while self._recording:
            await asyncio.gather(*list(self._recording), return_exceptions=True)
        await self._record_unrecorded()

    async def deliver_once(self) -> int:
        """Send every message due now; returns how many the platforms accepted."""
        async with self._lock:
            await self._record_unrecorded()
            now = self._clock()
            accepted = 0
            seen: set[str] = set()
            while not self._stopping:
                due = await outbox.due_messages(self._db, now, limit=BATCH)
                fresh = [
                    message
                    for message in due
                    if message.dedupe_key not in seen and message.dedupe_key not in self._unrecorded
                ]
                if not fresh:
                    break
                seen.update(message.dedupe_key for message in fresh)
                accepted += await self._deliver_batch(fresh, now)
                if len(due) < BATCH:
                    break
            return accepted

    async def _deliver_batch(self, messages: Sequence[OutboxRow], now: float) -> int:
        by_user: dict[int, list[OutboxRow]] = {}
        for message in messages:
            by_user.setdefault(message.user_id, []).append(message)
        # Every user's sends end before this round does (and before its lock is released): a
        # round that ended early would let the next one send the messages still in flight again.
        results = await asyncio.gather(
            *(self._deliver_user(user_id, rows, now) for user_id, rows in by_user.items()),
            return_exceptions=True,
        )
        accepted = 0
        for user_id, result in zip(by_user, results, strict=True):
            if isinstance(result, int):
                accepted += result
            elif isinstance(result, Exception):
                log.error(
                    "Delivering the alerts of user %d failed; trying again later",
                    user_id,
                    exc_info=result,
                )
            else:
                raise result  # cancelled, or an interpreter exit
        return accepted

    async def _deliver_user(self, user_id: int, rows: list[OutboxRow], now: float) -> int:
        # One user's messages go in order, one at a time: a failure holds back the later ones.
        async with self._slots:
            user = await users.get_user_by_id(self._db, user_id)
            if user is None:
                return 0  # the user was forgotten; their messages went with them
            accepted = 0
            for message in rows:
                if self._stopping:
                    return accepted
                sender = self._senders.get(message.platform)
                if sender is None:
                    self._warn_no_sender(message.platform)
                    await outbox.postpone_user_messages(self._db, user_id, now + NO_SENDER_DELAY)
                    return accepted
                recipient = Recipient(
                    cast(Platform, message.platform),
                    user.platform_user_id,
                    message.chat_id or user.chat_id,
                )
                if not await self._send(sender, recipient, message, now):
                    return accepted
                accepted += 1
                # The duplicate window (module docstring): accepted above, recorded only here.
                if not await self._record(message):
                    return accepted  # the database is in trouble: the rest wait for the next round
            return accepted

    async def _send(
        self, sender: Sender, recipient: Recipient, message: OutboxRow, now: float
    ) -> bool:
        """Send one message; True when the platform accepted it."""
        try:
            await sender.send(recipient, reply_from_payload(message.payload))
        except RecipientUnreachable as error:
            await self._unreachable(message, error)
            return False
        except DeliveryError as error:
            await self._retry_later(message, now, str(error), error.retry_after)
            return False
        except Exception as error:
            # An adapter bug must not lose the alert or stop the others: retry it like a failure.
            log.exception("sending alert %d through %s failed", message.id, message.platform)
            await self._retry_later(message, now, f"{type(error).__name__}", None)
            return False
        return True

    async def _record(self, message: OutboxRow) -> bool:
        """Mark an accepted message delivered; False (and kept for later) if the write failed."""
        task = asyncio.create_task(self._mark_delivered(message))
        self._recording.add(task)
        task.add_done_callback(self._recording.discard)
        # Shielded: a stop that cancels this round now must not lose the record of a message
        # the platform already has (`settle` waits for it).
        return await asyncio.shield(task)

    async def _mark_delivered(self, message: OutboxRow) -> bool:
        try:
            await outbox.mark_delivered(
                self._db, message.id, self._clock(), dedupe_key=message.dedupe_key
            )
        except Exception:
            # Not sent again by this process; written by a later round (or the duplicate window).
            self._unrecorded[message.dedupe_key] = message
            log.exception("Alert %d was delivered but could not be recorded", message.id)
            return False
        return True

    async def _record_unrecorded(self) -> None:
        for dedupe_key, message in list(self._unrecorded.items()):
            try:
                await outbox.mark_delivered(
                    self._db, message.id, self._clock(), dedupe_key=dedupe_key
                )
            except Exception as error:
                log.warning(
                    "Alert %d still cannot be recorded as delivered (%s); not sending it again",
                    message.id,
                    type(error).__name__,
                )
                return
            del self._unrecorded[dedupe_key]

    async def _unreachable(self, message: OutboxRow, error: RecipientUnreachable) -> None:
        # The user blocked the bot or closed DMs: stop the alerts and the polling behind them.
        async with transaction(self._db):
            await outbox.mark_failed(
                self._db,
                message.id,
                f"unreachable: {error}"[:500],
                dedupe_key=message.dedupe_key,
            )
            await users.set_alerts_enabled(self._db, message.user_id, False)
            await outbox.drop_user_messages(self._db, message.user_id)
        log.info(
            "User %d cannot be reached on %s (%s); their alerts are now off",
            message.user_id,
            message.platform,
            error,
        )

    async def _retry_later(
        self, message: OutboxRow, now: float, error: str, hint: float | None
    ) -> None:
        attempts = message.attempts + 1
        if attempts >= DELIVERY_MAX_ATTEMPTS or now - message.created_at > DELIVERY_MAX_AGE:
            await outbox.mark_failed(
                self._db, message.id, error[:500], dedupe_key=message.dedupe_key
            )
            log.warning(
                "Giving up on alert %d for user %d after %d attempts: %s",
                message.id,
                message.user_id,
                attempts,
                error,
            )
            return
        next_at = now + delivery_delay(attempts, hint, self._rng)
        async with transaction(self._db):
            await outbox.mark_retry(
                self._db,
                message.id,
                error=error[:500],
                next_attempt_at=next_at,
                dedupe_key=message.dedupe_key,
            )
            await outbox.postpone_user_messages(self._db, message.user_id, next_at)
        log.info(
            "Alert %d for user %d not delivered (%s); retrying in %.0f s",
            message.id,
            message.user_id,
            error,
            next_at - now,
        )

    def _warn_no_sender(self, platform: str) -> None:
        if platform not in self._warned_platforms:
            self._warned_platforms.add(platform)
            log.warning(
                "Alerts for %s users wait: that platform is not running in this process", platform
            )
