"""Typed values a panel answers with: services, balance, order and refill states, per-id results."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


def _status_words(raw: object) -> str:
    if not isinstance(raw, str):
        return ""
    return re.sub(r"[\s_\-]+", " ", raw.strip().lower())


class OrderStatus(StrEnum):
    """An order's state, normalised from the many spellings panels use."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    PROCESSING = "processing"
    COMPLETED = "completed"
    PARTIAL = "partial"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """True when the order will not change any more (no need to poll it again)."""
        return self in _FINAL_ORDER

    @classmethod
    def parse(cls, raw: object) -> OrderStatus:
        """Map a panel's status text (any case; Cancelled, Fail, Error…) to a status."""
        return _ORDER_WORDS.get(_status_words(raw), cls.UNKNOWN)


_FINAL_ORDER = frozenset(
    {
        OrderStatus.COMPLETED,
        OrderStatus.PARTIAL,
        OrderStatus.CANCELED,
        OrderStatus.REFUNDED,
        OrderStatus.FAILED,
    }
)
_ORDER_WORDS = {
    "pending": OrderStatus.PENDING,
    "in progress": OrderStatus.IN_PROGRESS,
    "inprogress": OrderStatus.IN_PROGRESS,
    "processing": OrderStatus.PROCESSING,
    "completed": OrderStatus.COMPLETED,
    "complete": OrderStatus.COMPLETED,
    "partial": OrderStatus.PARTIAL,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "refunded": OrderStatus.REFUNDED,
    "fail": OrderStatus.FAILED,
    "failed": OrderStatus.FAILED,
    "error": OrderStatus.FAILED,
}


class RefillStatus(StrEnum):
    """A refill's state, normalised from the panel's text."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    REJECTED = "rejected"
    ERROR = "error"
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        """True when the refill will not change any more."""
        return self in (RefillStatus.COMPLETED, RefillStatus.REJECTED, RefillStatus.ERROR)

    @classmethod
    def parse(cls, raw: object) -> RefillStatus:
        """Map a panel's refill status text (any case) to a status."""
        return _REFILL_WORDS.get(_status_words(raw), cls.UNKNOWN)


_REFILL_WORDS = {
    "pending": RefillStatus.PENDING,
    "in progress": RefillStatus.IN_PROGRESS,
    "inprogress": RefillStatus.IN_PROGRESS,
    "processing": RefillStatus.IN_PROGRESS,
    "completed": RefillStatus.COMPLETED,
    "complete": RefillStatus.COMPLETED,
    "rejected": RefillStatus.REJECTED,
    "error": RefillStatus.ERROR,
    "fail": RefillStatus.ERROR,
    "failed": RefillStatus.ERROR,
}


@dataclass(frozen=True, slots=True)
class Service:
    """One entry of the panel's service list; `rate` is the price per 1000 in its currency."""

    service_id: str
    name: str
    type: str
    category: str
    rate: Decimal
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool
    description: str


@dataclass(frozen=True, slots=True)
class Balance:
    """The account's balance; `currency` is "" when the panel does not say."""

    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class OrderState:
    """What the panel reports about one order; `raw_status` is its own text."""

    order_id: str
    status: OrderStatus
    raw_status: str
    charge: Decimal | None
    start_count: int | None
    remains: int | None
    currency: str


@dataclass(frozen=True, slots=True)
class ItemError:
    """A per-id error inside a many-id answer (e.g. "Incorrect order ID")."""

    message: str


@dataclass(frozen=True, slots=True)
class RefillCreated:
    """The answer for one order of a many-order refill: a refill id or the panel's error."""

    order_id: str
    refill_id: str | None
    error: str | None


@dataclass(frozen=True, slots=True)
class RefillState:
    """A refill's state; `error` holds the panel's text when it answered `{"error": …}`."""

    refill_id: str
    status: RefillStatus
    raw_status: str
    error: str | None


@dataclass(frozen=True, slots=True)
class CancelResult:
    """The answer for one order of a cancel request."""

    order_id: str
    cancelled: bool
    error: str | None
