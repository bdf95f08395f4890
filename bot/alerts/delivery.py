"""Delivering the outbox: each queued alert to the platform its user came from, at most once.

A message is marked delivered only after the platform accepted it. The one window in which an
alert can go out twice: the Sender returned (the platform has the message) and the process died
before `mark_delivered` committed; the next run sends that message again. Every other crash point
leaves the message either undelivered (sent later) or delivered (never sent again).
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

    async def deliver_once(self) -> int:
        """Send every message due now; returns how many the platforms accepted."""
        async with self._lock:
            now = self._clock()
            accepted = 0
            seen: set[int] = set()
            while True:
                due = await outbox.due_messages(self._db, now, limit=BATCH)
                fresh = [message for message in due if message.id not in seen]
                if not fresh:
                    return accepted
                seen.update(message.id for message in fresh)
                accepted += await self._deliver_batch(fresh, now)
                if len(due) < BATCH:
                    return accepted

    async def _deliver_batch(self, messages: Sequence[OutboxRow], now: float) -> int:
        by_user: dict[int, list[OutboxRow]] = {}
        for message in messages:
            by_user.setdefault(message.user_id, []).append(message)
        counts = await asyncio.gather(
            *(self._deliver_user(user_id, rows, now) for user_id, rows in by_user.items())
        )
        return sum(counts)

    async def _deliver_user(self, user_id: int, rows: list[OutboxRow], now: float) -> int:
        # One user's messages go in order, one at a time: a failure holds back the later ones.
        async with self._slots:
            user = await users.get_user_by_id(self._db, user_id)
            if user is None:
                return 0  # the user was forgotten; their messages went with them
            accepted = 0
            for message in rows:
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
        # The duplicate window (module docstring): accepted above, recorded only below.
        await outbox.mark_delivered(self._db, message.id, self._clock())
        return True

    async def _unreachable(self, message: OutboxRow, error: RecipientUnreachable) -> None:
        # The user blocked the bot or closed DMs: stop the alerts and the polling behind them.
        async with transaction(self._db):
            await outbox.mark_failed(self._db, message.id, f"unreachable: {error}"[:500])
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
            await outbox.mark_failed(self._db, message.id, error[:500])
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
                self._db, message.id, error=error[:500], next_attempt_at=next_at
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
