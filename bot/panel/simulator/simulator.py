"""`PanelSimulator`: the state of a simulated SMM panel and the operations its actions perform."""

from __future__ import annotations

import heapq
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING

from aiohttp import web

from bot.panel.simulator.addorder import OrderRequest, charge_for
from bot.panel.simulator.catalogue import Catalogue, SimService, build_catalogue
from bot.panel.simulator.model import (
    CANCELED,
    FINAL_REFILL_STATUSES,
    PENDING,
    ZERO,
    Account,
    Refused,
    SimOrder,
    SimRefill,
    is_final_order,
    money,
    spread,
)
from bot.panel.simulator.quirks import Quirks

if TYPE_CHECKING:
    from bot.panel.simulator.large import LargeMode

log = logging.getLogger(__name__)


def _parse_id(raw: int | str) -> int | None:
    if isinstance(raw, int):
        return raw
    text = raw.strip()
    return int(text) if text.isdigit() and len(text) < 19 else None


class PanelSimulator:
    """An SMM panel speaking API v2 on loopback; its clock, keys, orders and quirks are settable."""

    def __init__(
        self, *, seed: int = 1, services: int = 300, clock: Callable[[], float] | None = None
    ) -> None:
        self.seed = seed
        self.catalogue: Catalogue = build_catalogue(seed, services)
        self.quirks = Quirks()
        self._clock: Callable[[], float] = clock or time.monotonic
        self._offset = 0.0
        # Timeline of new orders and refills, in simulated seconds: each starts after at most
        # `pending_s` and ends after at most `complete_s` (at least half of each).
        self.pending_s = 10.0
        self.complete_s = 120.0
        self.refill_pending_s = 10.0
        self.refill_complete_s = 120.0
        # Share (in %) of orders that end Partial, and of refills that end Rejected; by id.
        self.partial_percent = 10
        self.rejected_percent = 15
        self.request_count = 0
        # Requests dropped because the client left during `slow_seconds` (never acted on).
        self.abandoned_count = 0
        self.action_counts: Counter[str] = Counter()
        self.request_log: list[tuple[str, dict[str, str]]] = []
        # The log is for tests; a benchmark's millions of requests must not grow it forever.
        self.request_log_limit = 10_000
        self.last_advance_changed = 0
        self.url = ""
        self._accounts: dict[str, Account] = {}
        self._orders: dict[int, SimOrder] = {}
        self._refills: dict[int, SimRefill] = {}
        self._next_order_id = 1
        self._next_refill_id = 1
        self._due: list[tuple[float, int]] = []
        self._active_links: dict[tuple[str, int, str], int] = {}
        self._large: LargeMode | None = None
        self._runner: web.AppRunner | None = None
        self.services_cache: dict[tuple[object, ...], bytes] = {}

    def __repr__(self) -> str:
        return (
            f"PanelSimulator(services={len(self.catalogue)}, keys={len(self._accounts)}, "
            f"orders={len(self._orders)}, url={self.url!r})"
        )

    # --- clock -------------------------------------------------------------------------------

    def now(self) -> float:
        """Simulated time: the injected clock plus every `advance`."""
        return self._clock() + self._offset

    def advance(self, seconds: float) -> None:
        """Move simulated time on; in large mode also move a share of the active orders."""
        if seconds < 0:
            raise ValueError("time only moves forward")
        self._offset += seconds
        self.last_advance_changed = self._large.advance(self) if self._large else 0
        self.tick()

    def tick(self) -> None:
        """Settle every automatic order whose end time has passed (refunds of Partial ones)."""
        now = self.now()
        due = self._due
        while due and due[0][0] <= now:
            _, order_id = heapq.heappop(due)
            order = self._orders.get(order_id)
            if order is not None and order.auto:
                self._progress(order, now)

    def _progress(self, order: SimOrder, now: float) -> None:
        refund = order.progress(now)
        if refund:
            self._accounts[order.key].balance += refund

    # --- keys --------------------------------------------------------------------------------

    def add_key(self, key: str, balance: Decimal | str = "100", currency: str = "USD") -> None:
        """Add an API key (or reset the balance and currency of an existing one)."""
        if not key:
            raise ValueError("an API key cannot be empty")
        amount = money(Decimal(balance))
        account = self._accounts.get(key)
        if account is None:
            self._accounts[key] = Account(key=key, balance=amount, currency=currency)
        else:
            account.balance, account.currency = amount, currency

    def account(self, key: str) -> Account | None:
        """The account of this key, or None."""
        return self._accounts.get(key)

    def balance_of(self, key: str) -> Decimal:
        """The current balance of a key; KeyError when the key is unknown."""
        self.tick()
        account = self._accounts.get(key)
        if account is None:
            raise KeyError("unknown API key")  # never the key itself: it is a secret
        return account.balance

    @property
    def key_count(self) -> int:
        """How many API keys exist."""
        return len(self._accounts)

    # --- orders ------------------------------------------------------------------------------

    @property
    def order_count(self) -> int:
        """How many orders exist."""
        return len(self._orders)

    def order(self, order_id: int | str) -> SimOrder:
        """The order with this id, settled to the current time; KeyError when unknown."""
        number = _parse_id(order_id)
        order = self._orders.get(number) if number is not None else None
        if order is None:
            raise KeyError(f"no order {order_id}")
        self.tick()
        self._progress(order, self.now())
        return order

    def owned_order(self, account: Account, raw_id: int | str) -> SimOrder | None:
        """The order with this id if it belongs to this key, settled to now; else None."""
        number = _parse_id(raw_id)
        order = self._orders.get(number) if number is not None else None
        if order is None or order.key != account.key:
            return None
        if order.auto:
            self._progress(order, self.now())
        return order

    def set_order(
        self, order_id: int | str, *, status: str | None = None, remains: int | None = None
    ) -> None:
        """Force an order's status and/or remains; it then stays so (money is left untouched)."""
        order = self.order(order_id)
        order.auto = False
        if status is not None:
            lowered = status.lower()
            order.status = status
            if lowered == "pending":
                order.start_count = None
            elif order.start_count is None and lowered in ("in progress", "processing"):
                order.start_count = order.natural_start_count()
            if remains is None:
                order.remains = self._implied_remains(order, lowered)
        if remains is not None:
            if remains < 0:
                raise ValueError("remains cannot be negative")
            order.remains = remains

    @staticmethod
    def _implied_remains(order: SimOrder, status: str) -> int:
        if status == "completed":
            return 0
        if status in ("pending", "canceled", "cancelled", "refunded"):
            return order.quantity
        if status == "partial" and not 0 < order.remains < order.quantity:
            return max(1, order.quantity // 2)
        return order.remains

    def make_order(
        self,
        key: str,
        service_id: int,
        quantity: int,
        link: str = "https://x.test/p",
        status: str = "Pending",
    ) -> int:
        """Place an order directly (test setup), charged; any status but Pending is pinned."""
        account = self._accounts.get(key)
        if account is None:
            raise KeyError("unknown API key")
        service = self.catalogue[service_id]
        if quantity < 1:
            raise ValueError("quantity must be positive")
        request = OrderRequest(quantity=quantity, charge=charge_for(service, quantity), link=link)
        if request.charge > account.balance:
            raise ValueError("not enough funds on the key's balance")
        order = self._new_order(account, service, request)
        if status != PENDING:
            self.set_order(order.id, status=status)
        return order.id

    def place(self, account: Account, service: SimService, request: OrderRequest) -> SimOrder:
        """Place a validated `add`, refusing a duplicate link or a short balance like a panel."""
        if self.quirks.duplicate_link_check:
            previous = self.owned_order(
                account, self._active_links.get((account.key, service.id, request.link), 0)
            )
            if previous is not None and not is_final_order(previous.status):
                raise Refused(
                    "You have active order with this link. Please wait until order being completed."
                )
        if request.charge > account.balance:
            raise Refused("Not enough funds on balance")
        return self._new_order(account, service, request)

    def _new_order(self, account: Account, service: SimService, request: OrderRequest) -> SimOrder:
        order_id = self._next_order_id
        self._next_order_id += 1
        now = self.now()
        start_at = now + self.pending_s * (0.5 + 0.5 * spread(order_id, 1))
        done_at = max(now + self.complete_s * (0.5 + 0.5 * spread(order_id, 2)), start_at + 0.001)
        final_remains = 0
        if request.quantity >= 2 and spread(order_id, 3) * 100 < self.partial_percent:
            share = 0.1 + 0.4 * spread(order_id, 4)
            final_remains = min(request.quantity - 1, max(1, int(request.quantity * share)))
        order = SimOrder(
            id=order_id,
            key=account.key,
            service_id=service.id,
            quantity=request.quantity,
            link=request.link,
            charge=request.charge,
            currency=account.currency,
            status=PENDING,
            remains=request.quantity,
            placed_at=now,
            start_at=start_at,
            done_at=done_at,
            final_remains=final_remains,
            runs=request.runs,
            interval=request.interval,
            extras=request.extras or None,
        )
        account.balance -= request.charge
        self._orders[order_id] = order
        heapq.heappush(self._due, (done_at, order_id))
        self._active_links[(account.key, service.id, request.link)] = order_id
        log.debug("order %d placed: service %d, quantity %d", order_id, service.id, order.quantity)
        return order

    def cancel(self, account: Account, order: SimOrder) -> None:
        """Cancel a Pending order of a service with the cancel flag, refunding its charge."""
        service = self.catalogue.get(order.service_id)
        if service is None or not service.cancel:
            raise Refused("Cancel is disabled for this service")
        if order.status.lower() != "pending":
            raise Refused("The order cannot be canceled")
        account.balance += order.charge
        order.charge = ZERO
        order.status, order.remains, order.auto = CANCELED, order.quantity, False

    # --- refills -----------------------------------------------------------------------------

    def refill(self, refill_id: int | str) -> SimRefill:
        """The refill with this id, settled to the current time; KeyError when unknown."""
        number = _parse_id(refill_id)
        refill = self._refills.get(number) if number is not None else None
        if refill is None:
            raise KeyError(f"no refill {refill_id}")
        refill.progress(self.now())
        return refill

    def set_refill(self, refill_id: int | str, *, status: str) -> None:
        """Force a refill's status; it then stays so."""
        refill = self.refill(refill_id)
        refill.status, refill.auto = status, False

    def owned_refill(self, account: Account, raw_id: int | str) -> SimRefill | None:
        """The refill with this id if it belongs to this key, settled to now; else None."""
        number = _parse_id(raw_id)
        refill = self._refills.get(number) if number is not None else None
        if refill is None or refill.key != account.key:
            return None
        refill.progress(self.now())
        return refill

    def request_refill(self, account: Account, order: SimOrder) -> SimRefill:
        """Create a refill for a Completed/Partial order of a service with the refill flag."""
        service = self.catalogue.get(order.service_id)
        if service is None or not service.refill:
            raise Refused("Refill is disabled for this service")
        if order.status.lower() not in ("completed", "partial"):
            raise Refused("The order is not completed")
        if order.refill_id is not None:
            previous = self.refill(order.refill_id)
            if previous.status.lower() not in FINAL_REFILL_STATUSES:
                raise Refused("The refill task is not completed for this order")
        refill_id = self._next_refill_id
        self._next_refill_id += 1
        now = self.now()
        start_at = now + self.refill_pending_s * (0.5 + 0.5 * spread(refill_id, 5))
        done_at = now + self.refill_complete_s * (0.5 + 0.5 * spread(refill_id, 6))
        refill = SimRefill(
            id=refill_id,
            key=account.key,
            order_id=order.id,
            start_at=start_at,
            done_at=max(done_at, start_at + 0.001),
            rejected=spread(refill_id, 7) * 100 < self.rejected_percent,
        )
        self._refills[refill_id] = refill
        order.refill_id = refill_id
        return refill

    # --- requests and HTTP -------------------------------------------------------------------

    def note_request(self, action: str, fields: Mapping[str, str]) -> None:
        """Count one API request and log its fields (never the key)."""
        self.request_count += 1
        self.action_counts[action] += 1
        if len(self.request_log) >= self.request_log_limit:
            del self.request_log[: self.request_log_limit // 2]
        self.request_log.append((action, {k: v for k, v in fields.items() if k != "key"}))

    def reset_counters(self) -> None:
        """Forget the request counters and log."""
        self.request_count = 0
        self.abandoned_count = 0
        self.action_counts.clear()
        self.request_log.clear()

    def app(self) -> web.Application:
        """The aiohttp application serving `/api/v2` and the `/_sim/...` control routes."""
        from bot.panel.simulator.app import build_app

        return build_app(self)

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = a free port); return the API URL."""
        from bot.panel.simulator.app import serve_app

        if self._runner is not None:
            raise RuntimeError("the simulator is already running")
        self._runner, self.url = await serve_app(self.app(), host, port)
        log.info("panel simulator serving on %s", self.url)
        return self.url

    async def stop(self) -> None:
        """Stop serving (waits at most about a second for answers still being delayed)."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> PanelSimulator:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # --- large scale -------------------------------------------------------------------------

    @classmethod
    def large(
        cls,
        *,
        services: int = 10_000,
        keys: int = 10_000,
        orders_per_key: int = 10,
        change_share: float = 0.1,
        seed: int = 1,
    ) -> PanelSimulator:
        """A big panel for benchmarks; keys and order ids follow `large_scale_key/_orders`."""
        from bot.panel.simulator.large import LargeMode

        sim = cls(seed=seed, services=services)
        sim._large = LargeMode.build(sim, keys, orders_per_key, change_share)
        return sim

    def install_orders(self, orders: list[SimOrder], next_order_id: int) -> None:
        """Bulk-load pinned orders (large mode); accounts must exist."""
        self._orders.update((order.id, order) for order in orders)
        self._next_order_id = max(self._next_order_id, next_order_id)

    def orders_by_id(self) -> Mapping[int, SimOrder]:
        """Every order by id (read-only view for large mode and inspection)."""
        return self._orders

    def credit(self, key: str, amount: Decimal) -> None:
        """Add money to a key's balance (a refund)."""
        self._accounts[key].balance += amount
