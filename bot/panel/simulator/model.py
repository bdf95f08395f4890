"""The simulator's records: accounts (API keys), orders and refills, and their timelines."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

CENT5 = Decimal("0.00001")
ZERO = Decimal("0.00000")

PENDING = "Pending"
IN_PROGRESS = "In progress"
COMPLETED = "Completed"
PARTIAL = "Partial"
CANCELED = "Canceled"
REJECTED = "Rejected"

# Lower-cased, because a test may force any spelling a wild panel uses (see set_order).
FINAL_ORDER_STATUSES = frozenset(
    {"completed", "partial", "canceled", "cancelled", "refunded", "fail", "failed", "error"}
)
FINAL_REFILL_STATUSES = frozenset({"completed", "rejected", "error"})


class Refused(Exception):
    """The panel refused a request; the message is the panel's own error text."""


def money(value: Decimal) -> Decimal:
    """Round to the panel's 5 decimals."""
    return value.quantize(CENT5, rounding=ROUND_HALF_UP)


def spread(number: int, salt: int) -> float:
    """A deterministic pseudo-random fraction in [0, 1) for an id, so runs are reproducible."""
    return ((number * 2654435761 + salt * 97531) % 100003) / 100003


def is_final_order(status: str) -> bool:
    """Whether an order in this status will not change any more."""
    return status.lower() in FINAL_ORDER_STATUSES


@dataclass(slots=True, eq=False)
class Account:
    """One API key of the panel: its balance and currency."""

    key: str = field(repr=False)
    balance: Decimal
    currency: str = "USD"


@dataclass(slots=True, eq=False)
class SimOrder:
    """One order; while `auto`, its status follows the clock, else it stays as set."""

    id: int
    key: str = field(repr=False)
    service_id: int
    quantity: int
    link: str
    charge: Decimal
    currency: str
    status: str = PENDING
    remains: int = 0
    start_count: int | None = None
    placed_at: float = 0.0
    start_at: float = 0.0
    done_at: float = 0.0
    auto: bool = True
    # What remains when it ends: 0 ends Completed, more ends Partial (with a partial refund).
    final_remains: int = 0
    runs: int | None = None
    interval: int | None = None
    extras: dict[str, str] | None = None
    refill_id: int | None = None

    def natural_start_count(self) -> int:
        """The counter the panel saw when delivery started (deterministic per order)."""
        return 100 + (self.id * 7919) % 50_000

    def progress(self, now: float) -> Decimal:
        """Move an `auto` order to its state at `now`; return the refund it earns by ending."""
        if not self.auto:
            return ZERO
        if now < self.start_at:
            self.status, self.remains, self.start_count = PENDING, self.quantity, None
            return ZERO
        if self.start_count is None:
            self.start_count = self.natural_start_count()
        if now < self.done_at:
            left = (self.done_at - now) / (self.done_at - self.start_at)
            undelivered = self.quantity - self.final_remains
            self.status = IN_PROGRESS
            self.remains = self.final_remains + math.ceil(undelivered * left)
            return ZERO
        self.auto = False
        self.remains = self.final_remains
        if self.final_remains == 0:
            self.status = COMPLETED
            return ZERO
        self.status = PARTIAL
        refund = money(self.charge * self.final_remains / self.quantity)
        self.charge -= refund
        return refund


@dataclass(slots=True, eq=False)
class SimRefill:
    """One refill request; while `auto`, Pending -> In progress -> Completed or Rejected."""

    id: int
    key: str = field(repr=False)
    order_id: int
    start_at: float
    done_at: float
    rejected: bool
    status: str = PENDING
    auto: bool = True

    def progress(self, now: float) -> None:
        """Move an `auto` refill to its state at `now`."""
        if not self.auto:
            return
        if now < self.start_at:
            self.status = PENDING
        elif now < self.done_at:
            self.status = IN_PROGRESS
        else:
            self.status = REJECTED if self.rejected else COMPLETED
            self.auto = False
