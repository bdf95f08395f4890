"""When to look again: the capped backoff of quiet orders and of failed deliveries."""

from __future__ import annotations

import random

# An order is checked every poll interval until it has been quiet for this many checks; then the
# interval doubles after every further run of this many quiet checks, up to the caps below.
QUIET_CHECKS_PER_STEP = 3
MAX_DOUBLINGS = 4  # at most 16 times the poll interval
MAX_CHECK_INTERVAL = 6 * 3600.0
# The loop wakes every poll interval; a due time a hair after the next wake-up would skip a cycle.
_EARLY = 0.05

# Delivery retries: 5 s, 10 s, 20 s ... capped at 15 minutes, with jitter; given up after a day.
DELIVERY_BASE = 5.0
DELIVERY_MAX = 15 * 60.0
DELIVERY_MAX_ATTEMPTS = 100
DELIVERY_MAX_AGE = 24 * 3600.0


def check_interval(poll_seconds: float, quiet_checks: int) -> float:
    """Seconds until the next check of an order (or refill) unchanged for `quiet_checks` checks."""
    doublings = min(max(0, quiet_checks) // QUIET_CHECKS_PER_STEP, MAX_DOUBLINGS)
    return max(poll_seconds, min(poll_seconds * (1 << doublings), MAX_CHECK_INTERVAL))


def next_check_at(now: float, poll_seconds: float, quiet_checks: int) -> float:
    """The due time of the next check, a little early so the matching loop wake-up finds it due."""
    interval = check_interval(poll_seconds, quiet_checks)
    return now + interval - min(1.0, poll_seconds * _EARLY)


def delivery_delay(attempts: int, hint: float | None, rng: random.Random) -> float:
    """Seconds before the next delivery attempt after `attempts` failed ones (>= any hint)."""
    window = min(DELIVERY_MAX, DELIVERY_BASE * 2 ** max(0, attempts - 1))
    delay = rng.uniform(window / 2, window)
    if hint is not None and hint > 0:
        # The platform said how long to wait (Telegram's retry_after): never retry sooner.
        delay = max(delay, min(hint, DELIVERY_MAX * 4))
    return delay
