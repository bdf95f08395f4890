"""Telegram flood limits: PTB's AIORateLimiter, plus sends that report a 429 instead of waiting."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram.error import RetryAfter
from telegram.ext import AIORateLimiter

# A call's `rate_limit_args`: send once; a 429 is raised to the caller at once. Not 0: ExtBot drops
# a falsy value before it reaches the limiter, and AIORateLimiter reads `rate_limit_args or
# max_retries`. Only FloodLimiter knows this value (AIORateLimiter would make no attempt at all).
NO_RETRY = -1

ApiResult = bool | dict[str, Any] | list[dict[str, Any]]


class _FloodWait(Exception):
    """Carries a RetryAfter past AIORateLimiter's retry loop, which only catches RetryAfter."""

    def __init__(self, error: RetryAfter) -> None:
        super().__init__(error.message)
        self.error = error


class FloodLimiter(AIORateLimiter):
    """AIORateLimiter in which a call's `rate_limit_args=NO_RETRY` means "no retry".

    Alerts need the 429 at once: a retry sleeps `retry_after` inside the send and holds up every
    alert queued behind it, while the outbox can put this one aside and go on. Such calls are still
    throttled like any other.
    """

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, ApiResult]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> ApiResult:
        """Throttle and send; retry a 429 unless the call asked for NO_RETRY."""
        if rate_limit_args != NO_RETRY:
            return await super().process_request(
                callback, args, kwargs, endpoint, data, rate_limit_args
            )

        async def once(*call_args: Any, **call_kwargs: Any) -> ApiResult:
            try:
                return await callback(*call_args, **call_kwargs)
            except RetryAfter as error:
                raise _FloodWait(error) from None

        try:
            return await super().process_request(once, args, kwargs, endpoint, data, None)
        except _FloodWait as wait:
            raise wait.error from None
