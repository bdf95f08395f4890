"""The getUpdates connection, watching for Bot API answers after which polling can never work."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from telegram.request import BaseRequest, HTTPXRequest, RequestData

log = logging.getLogger(__name__)

# https://core.telegram.org/bots/api#making-requests: PTB turns 401 and 404 into InvalidToken, and
# its polling loop stops for good on InvalidToken (the token was revoked or replaced).
_TOKEN_REJECTED = frozenset({401, 404})
# 409 Conflict: another process polls with the same token, or a webhook was set. PTB retries it
# forever (with back-off), so the bot would look alive while it misses updates.
_CONFLICT = 409
TOKEN_REJECTED = "Telegram rejected the bot token (revoked or replaced?)"
CONFLICTING = "another process keeps polling Telegram with this bot token (or a webhook was set)"


class PollingWatch(HTTPXRequest):
    """PTB's request for getUpdates (the only method that uses it) that reports a dead poll.

    `on_fatal(reason)` is called when the token is rejected, or when getUpdates has answered
    nothing but Conflict for `conflict_grace` seconds (a short overlap, e.g. while an old instance
    shuts down during a deploy, is tolerated).
    """

    def __init__(self, on_fatal: Callable[[str], None], *, conflict_grace: float) -> None:
        # One connection is enough for one long poll at a time (PTB's own default for getUpdates).
        super().__init__(connection_pool_size=1)
        self._on_fatal = on_fatal
        self._conflict_grace = conflict_grace
        self._conflict_since: float | None = None

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        # PTB's ODVInput[float] (a number, None, or its DEFAULT_NONE marker), passed on as is.
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send the request (see HTTPXRequest.do_request) and judge its status code."""
        code, payload = await super().do_request(
            url,
            method,
            request_data,
            read_timeout,
            write_timeout,
            connect_timeout,
            pool_timeout,
        )
        self._observe(code)
        return code, payload

    def _observe(self, code: int) -> None:
        if code in _TOKEN_REJECTED:
            self._on_fatal(TOKEN_REJECTED)
        elif code == _CONFLICT:
            now = time.monotonic()
            if self._conflict_since is None:
                self._conflict_since = now
                log.warning("Telegram: getUpdates answered Conflict: %s", CONFLICTING)
            if now - self._conflict_since >= self._conflict_grace:
                self._on_fatal(CONFLICTING)
        elif 200 <= code < 300:
            self._conflict_since = None
