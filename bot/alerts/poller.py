"""The status poller: every due order and refill, checked in batches of 100 ids per key.

A cycle loads every due order (and refill) once, groups them by the key that placed them, and asks
the panel about at most 100 ids per request, so a cycle sends exactly the sum over keys of
ceil(due ids / 100) requests. Each answer is compared with what is stored; a change of status or of
`remains` is written together with its alert in one transaction (see
`storage.order_polling.record_polled_orders`), so a crash at any point neither loses nor repeats
an alert.
Orders that stay the same are checked less and less often (`schedule.check_interval`); final ones
are never checked again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol, TypeVar

import aiosqlite

from bot.alerts.hosts import PanelJob, host_of
from bot.alerts.keys import KeyRing
from bot.alerts.messages import order_alert, refill_alert, reply_to_payload
from bot.alerts.schedule import next_check_at
from bot.alerts.status_reader import StatusReader
from bot.panel.client import MAX_IDS_PER_REQUEST, PanelClient
from bot.panel.errors import InvalidApiKey, PanelRefused, mask_key
from bot.panel.models import ItemError, OrderState, OrderStatus, RefillState, RefillStatus
from bot.panel.parsing import NO_ANSWER
from storage import order_polling, refills
from storage.credentials import PollCredential
from storage.order_polling import PolledOrder, PollTarget
from storage.orders import OrderStatusUpdate
from storage.outbox import NewMessage
from storage.refills import PolledRefill, RefillRow, RefillStatusUpdate

log = logging.getLogger(__name__)

T = TypeVar("T")
Polled = TypeVar("Polled", PollTarget, RefillRow)
Answer = TypeVar("Answer", OrderState | ItemError, RefillState)


class _Owned(Protocol):
    @property
    def user_id(self) -> int: ...


OwnedRow = TypeVar("OwnedRow", bound=_Owned)
# A batched read: (panel URL, key, ids) -> the answer per id.
Fetch = Callable[[str, str, list[str]], Awaitable[Mapping[str, Answer]]]

# Results are written every this many rows: alerts flow during a long cycle, memory stays flat,
# and no single transaction holds the shared connection's write lock for long.
FLUSH_EVERY = 2000


@dataclass(slots=True)
class PollTally:
    """Counts of one poll cycle."""

    orders_checked: int = 0
    orders_changed: int = 0
    refills_checked: int = 0
    refills_changed: int = 0
    alerts_queued: int = 0
    keys_rejected: int = 0


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), MAX_IDS_PER_REQUEST):
        yield items[start : start + MAX_IDS_PER_REQUEST]


class StatusPoller:
    """Turns due orders and refills into batched panel jobs and stores what they bring back."""

    def __init__(
        self,
        db: aiosqlite.Connection,
        panel: PanelClient,
        reader: StatusReader,
        keys: KeyRing,
        *,
        poll_seconds: float,
        on_alerts: Callable[[], None],
    ) -> None:
        self._db = db
        self._panel = panel
        self._reader = reader
        self._keys = keys
        self._poll = poll_seconds
        self._on_alerts = on_alerts
        self._flush_lock = asyncio.Lock()
        self._now = 0.0
        self._rejected: set[int] = set()
        self._polled_orders: list[PolledOrder] = []
        self._polled_refills: list[PolledRefill] = []
        self.tally = PollTally()

    async def prepare(self, now: float, creds: Mapping[int, PollCredential]) -> list[PanelJob]:
        """Load what is due at `now` and return one job per key and batch of at most 100 ids."""
        self._now = now
        self._rejected = set()
        self.tally = PollTally()
        # Anything left by a cycle that was cut short is dropped: those rows are simply still due.
        self._polled_orders, self._polled_refills = [], []
        order_groups: dict[int, list[PollTarget]] = {}
        for target in await order_polling.due_poll_targets(self._db, now):
            order_groups.setdefault(target.credential_id, []).append(target)
        refill_groups: dict[int, list[RefillRow]] = {}
        for row in await refills.due_refills(self._db, now):
            if row.credential_id is not None:
                refill_groups.setdefault(row.credential_id, []).append(row)
        read_orders, read_refills = self._reader.statuses, self._panel.refill_statuses
        jobs: list[PanelJob] = []
        for credential_id in order_groups.keys() | refill_groups.keys():
            cred = creds.get(credential_id)
            if cred is None:
                continue  # rejected or alerts switched off since the rows were read
            key = self._keys.key_for(cred)
            if key is None:
                continue
            own_orders = self._owned(cred, order_groups.get(credential_id, []))
            for chunk in _chunks(own_orders):
                ids = [target.panel_order_id for target in chunk]
                check = partial(
                    self._check_batch, cred, key, chunk, ids, read_orders, self._absorb_order
                )
                jobs.append(PanelJob(cred.panel_url, check))
            own_refills = self._owned(cred, refill_groups.get(credential_id, []))
            for batch in _chunks(own_refills):
                ids = [row.panel_refill_id for row in batch]
                check = partial(
                    self._check_batch, cred, key, batch, ids, read_refills, self._absorb_refill
                )
                jobs.append(PanelJob(cred.panel_url, check))
        # HostPool runs them in random order, so no key is always last when a host pauses.
        return jobs

    @staticmethod
    def _owned(cred: PollCredential, rows: list[OwnedRow]) -> list[OwnedRow]:
        # A key is only ever used for its owner's rows, and alerts go to that owner only.
        owned = [row for row in rows if row.user_id == cred.user_id]
        if len(owned) != len(rows):
            log.warning(
                "Skipping %d rows of credential %d that belong to another user",
                len(rows) - len(owned),
                cred.id,
            )
        return owned

    async def finish(self) -> PollTally:
        """Write whatever the cycle has not written yet; the cycle's counts."""
        await self._flush(force=True)
        return self.tally

    # --- one batch ---------------------------------------------------------------------------

    async def _check_batch(
        self,
        cred: PollCredential,
        key: str,
        rows: Sequence[Polled],
        ids: list[str],
        fetch: Fetch[Answer],
        absorb: Callable[[PollCredential, Polled, Answer | None], None],
    ) -> bool:
        """Ask the panel about one batch (orders or refills) and absorb each row's answer."""
        if cred.id in self._rejected:
            return False
        try:
            results = await fetch(cred.panel_url, key, ids)
        except InvalidApiKey:
            await self._reject(cred)
            return True
        except PanelRefused as error:
            # The whole batch refused ("Incorrect request"): count it as a quiet check, so these
            # rows slow down instead of hammering a panel that will not answer for them. The
            # text is the panel's own: masked again, in case it echoes the key some other way.
            log.warning(
                "Panel %s refused a %s batch of credential %d: %s",
                host_of(cred.panel_url),
                error.action,
                cred.id,
                mask_key(error.panel_text, key),
            )
            results = {}
        for row, row_id in zip(rows, ids, strict=True):
            absorb(cred, row, results.get(row_id))
        await self._flush()
        return True

    def _next_check(self, quiet_checks: int, *, final: bool = False) -> float | None:
        return None if final else next_check_at(self._now, self._poll, quiet_checks)

    # --- orders ----------------------------------------------------------------------------

    def _absorb_order(
        self, cred: PollCredential, target: PollTarget, result: OrderState | ItemError | None
    ) -> None:
        now = self._now
        self.tally.orders_checked += 1
        if not isinstance(result, OrderState):
            # "Incorrect order ID" or no entry: keep what we know and look again later, slower.
            update = OrderStatusUpdate(
                order_row_id=target.id,
                status=target.status,
                raw_status=target.raw_status,
                charge=None,
                remains=target.remains,
                start_count=target.start_count,
                currency=None,
                is_final=False,
                checked_at=now,
                next_check_at=self._next_check(target.unchanged_checks + 1),
                changed=False,
            )
            self._polled_orders.append(PolledOrder(update, target.raw_status, target.remains))
            return
        state = result
        # A fresh Pending order may report remains 0 instead of its quantity (a panel quirk), so
        # remains only counts as news once the order has started.
        changed = target.status != state.status.value or (
            target.remains != state.remains and state.status is not OrderStatus.PENDING
        )
        quiet = 0 if changed else target.unchanged_checks + 1
        final = state.status.is_final
        update = OrderStatusUpdate(
            order_row_id=target.id,
            status=state.status.value,
            raw_status=state.raw_status,
            charge=state.charge,
            remains=state.remains,
            start_count=state.start_count,
            currency=state.currency or None,
            is_final=final,
            checked_at=now,
            next_check_at=self._next_check(quiet, final=final),
            changed=changed,
        )
        if not changed:
            self._polled_orders.append(PolledOrder(update, target.raw_status, target.remains))
            return
        self.tally.orders_changed += 1
        message = None
        # The first look at a just-placed order finding it Pending is no news: the user was told
        # it was placed. Any other first finding (already running or done) is.
        if target.status or state.status is not OrderStatus.PENDING:
            reply = order_alert(target, state, cred.platform_user_id)
            message = NewMessage(
                user_id=target.user_id,
                platform=cred.platform,
                chat_id=cred.chat_id,
                payload=reply_to_payload(reply),
                # Names the stored version it replaces (updated_at moves on every change), so a
                # status that comes back later is announced again, but one change never twice.
                dedupe_key=(
                    f"order:{target.id}:{target.updated_at!r}:{state.status.value}:{state.remains}"
                ),
            )
        self._polled_orders.append(PolledOrder(update, target.raw_status, target.remains, message))

    # --- refills ---------------------------------------------------------------------------

    def _absorb_refill(
        self, cred: PollCredential, row: RefillRow, state: RefillState | None
    ) -> None:
        now = self._now
        self.tally.refills_checked += 1
        if state is None or (state.status is RefillStatus.UNKNOWN and state.error == NO_ANSWER):
            update = RefillStatusUpdate(
                refill_row_id=row.id,
                status=row.status,
                raw_status=row.raw_status,
                is_final=False,
                error=row.error,
                checked_at=now,
                next_check_at=self._next_check(row.unchanged_checks + 1),
                changed=False,
            )
            self._polled_refills.append(PolledRefill(update, row.raw_status))
            return
        changed = row.status != state.status.value
        quiet = 0 if changed else row.unchanged_checks + 1
        final = state.status.is_final
        update = RefillStatusUpdate(
            refill_row_id=row.id,
            status=state.status.value,
            raw_status=state.raw_status,
            is_final=final,
            error=state.error,
            checked_at=now,
            next_check_at=self._next_check(quiet, final=final),
            changed=changed,
        )
        if not changed:
            self._polled_refills.append(PolledRefill(update, row.raw_status))
            return
        self.tally.refills_changed += 1
        message = None
        # A new refill found Pending is what the user was told when it was requested.
        if row.status or state.status is not RefillStatus.PENDING:
            message = NewMessage(
                user_id=row.user_id,
                platform=cred.platform,
                chat_id=cred.chat_id,
                payload=reply_to_payload(refill_alert(row, state, cred.platform_user_id)),
                dedupe_key=f"refill:{row.id}:{row.updated_at!r}:{state.status.value}",
            )
        self._polled_refills.append(PolledRefill(update, row.raw_status, message))

    # --- shared ----------------------------------------------------------------------------

    async def _reject(self, cred: PollCredential) -> None:
        if cred.id in self._rejected:
            return
        self._rejected.add(cred.id)
        if await self._keys.reject(cred):
            self.tally.keys_rejected += 1
            self.tally.alerts_queued += 1
            self._on_alerts()

    async def _flush(self, *, force: bool = False) -> None:
        pending = len(self._polled_orders) + len(self._polled_refills)
        if not pending or (not force and pending < FLUSH_EVERY):
            return
        async with self._flush_lock:
            polled_orders, self._polled_orders = self._polled_orders, []
            polled_refills, self._polled_refills = self._polled_refills, []
            queued = await order_polling.record_polled_orders(self._db, polled_orders, self._now)
            queued += await refills.record_polled_refills(self._db, polled_refills, self._now)
        self.tally.alerts_queued += queued
        if queued:
            self._on_alerts()
