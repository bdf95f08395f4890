"""The retry policy for panel reads: capped, jittered backoff that prefers the panel's Retry-After.

Only reads (`services`, `status`, `refill_status`, `balance`) go through it. Writes are never
retried: panels have no idempotency key, so a second `add` can place and charge a second order.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from tenacity import AsyncRetrying, RetryCallState
from tenacity.retry import retry_base
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from bot.panel.errors import PanelUnavailable

log = logging.getLogger(__name__)

Sleep = Callable[[float], Awaitable[None]]

# The first backoff window; it doubles per attempt up to max_backoff (full jitter inside it).
BASE_BACKOFF = 0.5


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return None
    return max(0.0, seconds)


def is_retryable(error: BaseException) -> bool:
    """True for failures a later identical read may not hit (network, 5xx, 429, truncated JSON)."""
    # Not "html" (a WAF/captcha page a retry will not pass: 5xx pages count as server_error) and
    # not "unexpected" (a redirect, a 404, a shape we cannot read: the same again next time).
    return isinstance(error, PanelUnavailable) and error.reason in (
        "timeout",
        "connection",
        "server_error",
        "rate_limited",
        "invalid_json",
    )


class WaitRetryAfterOrJitter(wait_base):
    """Wait what the panel asked for (Retry-After), else exponential full jitter; both capped."""

    def __init__(self, max_backoff: float, rng: random.Random | None = None) -> None:
        self.max_backoff = max_backoff
        self.rng = rng or random.Random()

    def __call__(self, retry_state: RetryCallState) -> float:
        """The seconds to sleep before the next attempt."""
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, PanelUnavailable) and error.retry_after is not None:
            return min(error.retry_after, self.max_backoff)
        window = min(self.max_backoff, BASE_BACKOFF * 2 ** (retry_state.attempt_number - 1))
        return self.rng.uniform(0, window)


class StopRetryAfterTooLong(stop_base):
    """Give up at once when the panel asks for a longer pause than we are willing to wait."""

    def __init__(self, max_backoff: float) -> None:
        self.max_backoff = max_backoff

    def __call__(self, retry_state: RetryCallState) -> bool:
        """True when the last error carries a Retry-After above the cap."""
        error = retry_state.outcome.exception() if retry_state.outcome else None
        return (
            isinstance(error, PanelUnavailable)
            and error.retry_after is not None
            and error.retry_after > self.max_backoff
        )


class _RetryIfRetryable(retry_base):
    def __call__(self, retry_state: RetryCallState) -> bool:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        return error is not None and is_retryable(error)


class _StopAfterAttempts(stop_base):
    def __init__(self, attempts: int) -> None:
        self.attempts = attempts

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.attempt_number >= self.attempts


def _log_before_sleep(retry_state: RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    log.debug(
        "panel read failed (%s), attempt %d, retrying in %.2f s",
        getattr(error, "reason", type(error).__name__),
        retry_state.attempt_number,
        retry_state.upcoming_sleep,
    )


def read_retrying(
    *,
    max_attempts: int,
    max_backoff: float,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
) -> AsyncRetrying:
    """A tenacity policy for one read; the last error is re-raised as is when it gives up."""
    return AsyncRetrying(
        sleep=sleep,
        stop=_StopAfterAttempts(max(1, max_attempts)) | StopRetryAfterTooLong(max_backoff),
        wait=WaitRetryAfterOrJitter(max_backoff, rng),
        retry=_RetryIfRetryable(),
        before_sleep=_log_before_sleep,
        reraise=True,
    )
