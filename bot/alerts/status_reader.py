"""Batched order-status reads for the poller: a lean request for the common case, and PanelClient
for a 200 answer that needs its judgement.

A poll cycle of 100,000 orders is 10,000 `status` requests. Through PanelClient (httpx, tenacity)
each costs about 1.2 ms of CPU here, which alone makes a cycle miss its 10 s budget; a plain aiohttp
request costs about 0.2 ms. So the poller sends the batch itself and accepts a clean answer: HTTP
200 with a JSON object or list and no top-level error, parsed by the same `parse_statuses`
PanelClient uses. Any other status (429, 5xx, 401, a WAF page, a redirect) is judged here, from
that one answer, into the very error PanelClient would raise for it (`_refusal`; the tests compare
the two on every quirk of the simulator): a panel that is failing or rate-limiting is asked once,
and its Retry-After reaches the host pool. A timeout or refused connection is reported here too.
Only a 200 answer that is not clean (an error text, broken JSON, a page) is asked again through
`PanelClient.statuses` (one attempt, see AlertService), which classifies it like everywhere else in
the bot; the price is one extra request in those rare cases.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import certifi

from bot.panel.client import DEFAULT_USER_AGENT, MAX_IDS_PER_REQUEST, PanelClient
from bot.panel.errors import (
    InvalidApiKey,
    PanelError,
    PanelUnavailable,
    UnavailableReason,
    error_from_text,
    mask_key,
)
from bot.panel.models import ItemError, OrderState
from bot.panel.parsing import UnexpectedAnswer, error_text, loads, parse_statuses
from bot.panel.retry import parse_retry_after

_NOT_JSON = object()
_HEADERS = {"User-Agent": DEFAULT_USER_AGENT, "Accept": "application/json, text/plain, */*"}


class StatusReader:
    """Reads up to 100 order statuses per request; see the module docstring for the contract."""

    def __init__(self, panel: PanelClient, *, timeout: float) -> None:
        self._panel = panel
        self._timeout = aiohttp.ClientTimeout(
            total=timeout * 2, sock_connect=timeout, sock_read=timeout
        )
        self._session: aiohttp.ClientSession | None = None
        self._proxies: dict[str, str | None] = {}
        # Batches re-asked through PanelClient because the lean read got a 200 it could not read.
        self.fallbacks = 0

    def __repr__(self) -> str:
        return f"StatusReader(fallbacks={self.fallbacks})"

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                # The CA bundle httpx uses, so both clients trust the same panels.
                connector=aiohttp.TCPConnector(
                    limit=100, ssl=ssl.create_default_context(cafile=certifi.where())
                ),
                headers=_HEADERS,
                timeout=self._timeout,
                # aiohttp's trust_env re-reads the proxy environment on every request (0.4 ms of
                # CPU each); `_proxy` reads it once per panel instead.
                trust_env=False,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _proxy(self, url: str) -> str | None:
        """The HTTP(S)_PROXY for this panel unless NO_PROXY exempts it, as httpx would use."""
        if url not in self._proxies:
            parts = urlsplit(url)
            bypass = bool(proxy_bypass(parts.hostname or ""))
            self._proxies[url] = None if bypass else getproxies().get(parts.scheme)
        return self._proxies[url]

    async def statuses(
        self, url: str, key: str, order_ids: Sequence[str]
    ) -> dict[str, OrderState | ItemError]:
        """The states of up to 100 orders (same result and errors as `PanelClient.statuses`)."""
        ids = list(order_ids)
        answer = await self._clean_answer(url, key, ids)
        if answer is not None:
            try:
                parsed = parse_statuses(answer, ids)
            except UnexpectedAnswer:
                pass
            else:
                # Per-order error texts with the key masked, as PanelClient gives them.
                return {
                    order_id: ItemError(mask_key(item.message, key))
                    if isinstance(item, ItemError)
                    else item
                    for order_id, item in parsed.items()
                }
        self.fallbacks += 1
        return await self._panel.statuses(url, key, ids)

    async def _clean_answer(self, url: str, key: str, ids: list[str]) -> object | None:
        if not ids or len(ids) > MAX_IDS_PER_REQUEST or len(set(ids)) != len(ids):
            return None
        if any("," in order_id or not order_id.strip() for order_id in ids):
            return None  # PanelClient refuses these ids with its own error
        # A form, never JSON: some panels refuse JSON bodies. The key travels only in the body.
        form = {"key": key, "action": "status", "orders": ",".join(ids)}
        try:
            async with self._open().post(
                url, data=form, allow_redirects=False, proxy=self._proxy(url)
            ) as response:
                body = await response.read()
                if not 200 <= response.status < 300:
                    raise _refusal(response.status, response.headers, body, url, key)
        except aiohttp.ConnectionTimeoutError as error:
            message = "The panel did not accept a connection in time."
            raise PanelUnavailable(
                message, panel_url=url, action="status", reason="timeout"
            ) from error
        except TimeoutError as error:
            message = "The panel did not answer in time."
            raise PanelUnavailable(
                message, panel_url=url, action="status", reason="timeout"
            ) from error
        except aiohttp.ClientConnectorError as error:
            message = "The panel could not be reached."
            raise PanelUnavailable(
                message, panel_url=url, action="status", reason="connection"
            ) from error
        except aiohttp.ClientError:
            # A connection that broke mid-answer (often a keep-alive the panel had closed): one
            # more try through PanelClient, which reports it if it breaks again.
            return None
        try:
            answer = loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None
        if not isinstance(answer, Mapping | list) or error_text(answer) is not None:
            return None
        return answer

    async def aclose(self) -> None:
        """Close the connections."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def _refusal(
    status: int, headers: Mapping[str, str], body: bytes, url: str, key: str
) -> PanelError:
    """The error PanelClient would raise for this non-2xx answer to `status` (no second request)."""
    retry_after = parse_retry_after(headers.get("Retry-After"))

    def unavailable(message: str, reason: UnavailableReason) -> PanelUnavailable:
        return PanelUnavailable(
            message,
            panel_url=url,
            action="status",
            reason=reason,
            status_code=status,
            retry_after=retry_after,
        )

    if status == 429:
        return unavailable("The panel asks to slow down (rate limited).", "rate_limited")
    if 300 <= status < 400:
        target = mask_key(headers.get("Location", "?"), key)
        return unavailable(f"The panel redirects to {target}.", "unexpected")
    text = body.decode("utf-8", "replace").strip()
    try:
        answer: object = loads(text)
    except ValueError:
        answer = _NOT_JSON
    panel_text = error_text(answer)
    if panel_text is not None:
        # `{"error": …}` with 4xx/5xx: the same text-based judgement as with 200.
        return error_from_text(
            panel_text, key=key, panel_url=url, action="status", status_code=status, write=False
        )
    if status == 401:
        message = "The panel did not accept the API key (HTTP 401)."
        return InvalidApiKey(message, panel_url=url, action="status")
    if status >= 500:
        return unavailable(f"The panel failed (HTTP {status}).", "server_error")
    is_html = text.startswith("<") or "html" in headers.get("Content-Type", "").lower()
    if answer is _NOT_JSON and is_html:
        # A CDN/WAF page (captcha, block) instead of the API's JSON.
        return unavailable(f"The panel sent a web page (HTTP {status}).", "html")
    return unavailable(f"The panel refused (HTTP {status}).", "unexpected")
