"""Batched order-status reads for the poller: a lean request for the common case, and PanelClient
for everything else.

A poll cycle of 100,000 orders is 10,000 `status` requests. Through PanelClient (httpx, tenacity)
each costs about 1.2 ms of CPU here, which alone makes a cycle miss its 10 s budget; a plain aiohttp
request costs about 0.2 ms. So the poller sends the batch itself and accepts only a clean answer:
HTTP 200 with a JSON object or list and no top-level error, parsed by the same
`parse_statuses` PanelClient uses. Any other answer (an error text, a bad key, 429, 5xx, a WAF page,
a redirect, broken JSON) is asked again through `PanelClient.statuses`, so it is classified, retried
and reported exactly as everywhere else in the bot; the price is one extra request in those (rare)
cases. Only a timeout or a refused connection is reported here directly, as the same
PanelUnavailable PanelClient would raise, so a dead panel is not waited on twice.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit
from urllib.request import getproxies, proxy_bypass

import aiohttp
import certifi

from bot.panel.client import DEFAULT_USER_AGENT, MAX_IDS_PER_REQUEST, PanelClient
from bot.panel.errors import PanelUnavailable
from bot.panel.models import ItemError, OrderState
from bot.panel.parsing import UnexpectedAnswer, error_text, loads, parse_statuses

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
        # Batches re-asked through PanelClient because the lean read did not get a clean answer.
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
                return parse_statuses(answer, ids)
            except UnexpectedAnswer:
                pass
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
                if response.status != 200:
                    return None
                body = await response.read()
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
            return None  # a broken answer: let PanelClient look at it
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
