"""Large-scale mode for benchmarks: many keys and orders with ids another process can compute."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import TYPE_CHECKING

from bot.panel.simulator.addorder import charge_for
from bot.panel.simulator.model import (
    COMPLETED,
    IN_PROGRESS,
    PARTIAL,
    SimOrder,
    is_final_order,
    money,
)

if TYPE_CHECKING:
    from bot.panel.simulator.simulator import PanelSimulator

LARGE_BALANCE = Decimal("1000.00000")
# One shared link object keeps 100,000 orders small; the benchmark never looks at links.
_LINK = "https://bench.test/p"
_QUANTITIES = (100, 250, 500, 1000, 2500, 5000, 10_000)
# Share of the initial orders that are Pending; the rest are In progress. None is final yet.
_PENDING_SHARE = 0.25


def large_scale_key(key_index: int) -> str:
    """The API key number `key_index` (from 0) of a large simulator: `bench-key-00042`."""
    return f"bench-key-{key_index:05d}"


def large_scale_orders(key_index: int, orders_per_key: int = 10) -> list[int]:
    """The order ids of key `key_index`: key_index * orders_per_key + 1 ... + orders_per_key."""
    first = key_index * orders_per_key + 1
    return list(range(first, first + orders_per_key))


class LargeMode:
    """The orders of a large simulator; `advance` moves `change_share` of the active ones."""

    __slots__ = ("active", "change_share", "keys", "orders_per_key", "rng")

    def __init__(
        self, rng: random.Random, active: list[int], keys: int, orders_per_key: int, share: float
    ) -> None:
        self.rng = rng
        self.active = active
        self.keys = keys
        self.orders_per_key = orders_per_key
        self.change_share = share

    @classmethod
    def build(
        cls, sim: PanelSimulator, keys: int, orders_per_key: int, change_share: float
    ) -> LargeMode:
        """Create `keys` keys with `orders_per_key` pinned orders each, Pending or In progress."""
        if keys < 0 or orders_per_key < 0 or not 0 <= change_share <= 1:
            raise ValueError("keys and orders_per_key must be >= 0, change_share in [0, 1]")
        rng = random.Random(sim.seed)
        pool = sim.catalogue.all_matching(type="Default") or list(sim.catalogue)
        charges: dict[tuple[int, int], Decimal] = {}
        orders: list[SimOrder] = []
        order_id = 0
        # rng.random() alone: randrange/choice cost several times more per call at this scale.
        draw = rng.random
        pool_size, choices = len(pool), len(_QUANTITIES)
        for key_index in range(keys):
            key = large_scale_key(key_index)
            sim.add_key(key, LARGE_BALANCE)
            for _ in range(orders_per_key):
                order_id += 1
                service = pool[int(draw() * pool_size)]
                wanted = _QUANTITIES[int(draw() * choices)]
                quantity = min(max(wanted, service.min), service.max)
                charge = charges.get((service.id, quantity))
                if charge is None:
                    charge = charges[(service.id, quantity)] = charge_for(service, quantity)
                order = SimOrder(
                    id=order_id,
                    key=key,
                    service_id=service.id,
                    quantity=quantity,
                    link=_LINK,
                    charge=charge,
                    currency="USD",
                    remains=quantity,
                    auto=False,
                )
                if draw() >= _PENDING_SHARE:
                    order.status = IN_PROGRESS
                    order.remains = 1 + int(draw() * quantity)
                    order.start_count = order.natural_start_count()
                orders.append(order)
        sim.install_orders(orders, order_id + 1)
        return cls(rng, [order.id for order in orders], keys, orders_per_key, change_share)

    def advance(self, sim: PanelSimulator) -> int:
        """Give `change_share` of the active orders a new status or remains; return how many."""
        orders = sim.orders_by_id()
        # Orders a test cancelled or forced meanwhile are no longer ours to move.
        self.active = [oid for oid in self.active if not is_final_order(orders[oid].status)]
        count = round(len(self.active) * self.change_share)
        for order_id in self.rng.sample(self.active, count):
            self._step(sim, orders[order_id])
        self.active = [oid for oid in self.active if not is_final_order(orders[oid].status)]
        return count

    def _step(self, sim: PanelSimulator, order: SimOrder) -> None:
        rng = self.rng
        if order.status.lower() == "pending":
            order.status = IN_PROGRESS
            order.start_count = order.natural_start_count()
            order.remains = max(1, order.quantity - rng.randint(0, order.quantity // 4))
        elif order.remains > 1 and rng.random() < 0.5:
            order.remains //= 2
        elif rng.random() < 0.1:
            order.status = PARTIAL
            order.remains = max(order.remains, 1)
            refund = money(order.charge * order.remains / order.quantity)
            order.charge -= refund
            sim.credit(order.key, refund)
        else:
            order.status, order.remains = COMPLETED, 0
