"""The SMM panel API v2 client: one pooled httpx.AsyncClient, typed answers, one error root.

Every call takes the panel URL and the user's key, so one PanelClient (one connection pool per
process) serves every panel and every user. The key travels only in the form-encoded POST body,
never in the URL: httpx logs request URLs, and our own log lines and exceptions never hold it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from bot.panel.errors import (
    InvalidApiKey,
    PanelError,
    PanelUnavailable,
    RefusalReason,
    UnavailableReason,
    error_from_text,
    mask_key,
)
from bot.panel.models import (
    Balance,
    CancelResult,
    ItemError,
    OrderState,
    RefillCreated,
    RefillState,
    Service,
)
from bot.panel.parsing import (
    UnexpectedAnswer,
    error_text,
    form_value,
    loads,
    parse_balance,
    parse_cancels,
    parse_created_id,
    parse_order_state,
    parse_refill_state,
    parse_refill_statuses,
    parse_refills,
    parse_services,
    parse_statuses,
    request_ids,
)
from bot.panel.retry import Sleep, parse_retry_after, read_retrying

log = logging.getLogger(__name__)

T = TypeVar("T")
W = TypeVar("W", RefillCreated, CancelResult)

# Some panels sit behind a WAF that blocks clients without a browser-like User-Agent.
DEFAULT_USER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)
# The protocol's limit for the many-id forms (`orders`, `refills`).
MAX_IDS_PER_REQUEST = 100
_RESERVED_FIELDS = frozenset({"key", "action", "service"})
_NOT_JSON = object()


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), MAX_IDS_PER_REQUEST):
        yield ids[start : start + MAX_IDS_PER_REQUEST]


class PanelClient:
    """Speaks API v2 to any panel; reads are retried with backoff, writes never are."""

    def __init__(
        self,
        *,
        timeout: float = 30.0,
        max_attempts: int = 4,
        max_backoff: float = 20.0,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._max_backoff = max_backoff
        self._sleep = sleep
        self._rng = rng
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent, "Accept": "application/json, text/plain, */*"},
            transport=transport,
            # A redirected POST may turn into a GET and lose the form; report it instead.
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"PanelClient(timeout={self._timeout}, max_attempts={self._max_attempts})"

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._http.aclose()

    async def __aenter__(self) -> PanelClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # ---- reads (retried) -------------------------------------------------------------------

    async def services(self, url: str, key: str) -> list[Service]:
        """The panel's service list."""
        answer = await self._read(url, key, "services", {})
        return self._parse(url, "services", False, lambda: parse_services(answer))

    async def balance(self, url: str, key: str) -> Balance:
        """The account balance and its currency."""
        answer = await self._read(url, key, "balance", {})
        return self._parse(url, "balance", False, lambda: parse_balance(answer))

    async def status(self, url: str, key: str, order_id: str) -> OrderState:
        """One order's state; an `{"error": …}` answer raises PanelRefused(incorrect_order)."""
        order_id = request_ids([order_id])[0]
        answer = await self._read(
            url, key, "status", {"order": order_id}, force_reason="incorrect_order"
        )
        return self._parse(url, "status", False, lambda: parse_order_state(order_id, answer))

    async def statuses(
        self, url: str, key: str, order_ids: Sequence[str]
    ) -> dict[str, OrderState | ItemError]:
        """Many orders' states, 100 ids per request; a chunk that fails as a whole raises."""
        result: dict[str, OrderState | ItemError] = {}
        for chunk in _chunks(request_ids(order_ids)):
            answer = await self._read(url, key, "status", {"orders": ",".join(chunk)}, len(chunk))
            parsed = self._parse(url, "status", False, partial(parse_statuses, answer, chunk))
            result.update(_scrubbed(parsed, key))
        return result

    async def refill_status(self, url: str, key: str, refill_id: str) -> RefillState:
        """One refill's state; `{"status": {"error": …}}` gives status ERROR with the text."""
        refill_id = request_ids([refill_id])[0]
        answer = await self._read(url, key, "refill_status", {"refill": refill_id})

        def parse() -> RefillState:
            if not isinstance(answer, Mapping) or "status" not in answer:
                raise UnexpectedAnswer("the refill status answer has no status")
            return parse_refill_state(refill_id, answer["status"])

        return _scrubbed(self._parse(url, "refill_status", False, parse), key)

    async def refill_statuses(
        self, url: str, key: str, refill_ids: Sequence[str]
    ) -> dict[str, RefillState]:
        """Many refills' states, 100 ids per request; a chunk that fails as a whole raises."""
        result: dict[str, RefillState] = {}
        for chunk in _chunks(request_ids(refill_ids)):
            answer = await self._read(
                url, key, "refill_status", {"refills": ",".join(chunk)}, len(chunk)
            )
            parsed = self._parse(
                url, "refill_status", False, partial(parse_refill_statuses, answer, chunk)
            )
            result.update(_scrubbed(parsed, key))
        return result

    # ---- writes (never retried) ------------------------------------------------------------
    # Panels have no idempotency key: if a first attempt reached the panel but its answer was lost,
    # a second attempt would place (and charge) a second order. So writes are sent exactly once and
    # a lost answer surfaces as PanelUnavailable(outcome_unknown=True) for the user to check.

    async def add(
        self, url: str, key: str, service_id: str, fields: Mapping[str, str | int | Sequence[str]]
    ) -> str:
        """Place an order and return its id; list values are sent one item per line."""
        bad = _RESERVED_FIELDS.intersection(fields)
        if bad:
            raise ValueError(f"fields may not set {sorted(bad)}")
        form = {"service": str(service_id).strip()}
        form.update({name: form_value(value) for name, value in fields.items()})
        answer = await self._send(url, key, "add", form)
        return self._parse(url, "add", True, lambda: parse_created_id(answer, "order"))

    async def refill(self, url: str, key: str, order_id: str) -> str:
        """Ask for a refill of one order and return the refill id."""
        order_id = request_ids([order_id])[0]
        try:
            answer = await self._send(url, key, "refill", {"order": order_id})
            value = answer.get("refill") if isinstance(answer, Mapping) else None
            text = error_text(value)
            if text is not None:
                # Some panels nest the refusal: {"refill": {"error": "…"}}.
                raise error_from_text(
                    text, key=key, panel_url=url, action="refill", status_code=None, write=True
                )
            return self._parse(url, "refill", True, lambda: parse_created_id(answer, "refill"))
        except PanelError as error:
            error.failed_ids = (order_id,)
            raise

    async def refills(self, url: str, key: str, order_ids: Sequence[str]) -> list[RefillCreated]:
        """Ask for refills of many orders; on failure the error tells how far it got."""
        return await self._chunked_write(url, key, "refill", order_ids, parse_refills)

    async def cancel(self, url: str, key: str, order_ids: Sequence[str]) -> list[CancelResult]:
        """Ask to cancel orders (the protocol has only the many-id form)."""
        return await self._chunked_write(url, key, "cancel", order_ids, parse_cancels)

    async def _chunked_write(
        self,
        url: str,
        key: str,
        action: str,
        order_ids: Sequence[str],
        parse: Callable[[object, Sequence[str]], list[W]],
    ) -> list[W]:
        chunks = list(_chunks(request_ids(order_ids)))
        done: list[W] = []
        # Chunks go one after another so a failure can say exactly which ids were already sent.
        for index, chunk in enumerate(chunks):
            try:
                answer = await self._send(url, key, action, {"orders": ",".join(chunk)}, len(chunk))
                parsed = self._parse(url, action, True, partial(parse, answer, chunk))
                done.extend(_scrubbed(parsed, key))
            except PanelError as error:
                completed: list[RefillCreated | CancelResult] = list(done)
                error.completed = completed
                error.failed_ids = tuple(chunk)
                error.unsent_ids = tuple(i for later in chunks[index + 1 :] for i in later)
                raise
        return done

    # ---- transport -------------------------------------------------------------------------

    async def _read(
        self,
        url: str,
        key: str,
        action: str,
        form: dict[str, str],
        id_count: int = 0,
        *,
        force_reason: RefusalReason | None = None,
    ) -> Any:
        retrying = read_retrying(
            max_attempts=self._max_attempts,
            max_backoff=self._max_backoff,
            sleep=self._sleep,
            rng=self._rng,
        )
        call = _Call(url, key, action, write=False, force_reason=force_reason)
        return await retrying(self._exchange, call, form, id_count)

    async def _send(
        self, url: str, key: str, action: str, form: dict[str, str], id_count: int = 0
    ) -> Any:
        return await self._exchange(_Call(url, key, action, write=True), form, id_count)

    async def _exchange(self, call: _Call, form: dict[str, str], id_count: int) -> Any:
        """One POST and its answer as JSON; every failure becomes a PanelError."""
        started = time.monotonic()
        outcome = "no answer"
        try:
            response = await self._post(call, form)
            outcome = f"http {response.status_code}"
            return _answer_of(response, call)
        except PanelError as error:
            outcome = f"{outcome}, {type(error).__name__} {getattr(error, 'reason', '')}".strip()
            raise
        finally:
            log.debug(
                "panel %s at %s: %d ids, %d ms, %s",
                call.action,
                urlsplit(call.url).hostname or "?",
                id_count,
                (time.monotonic() - started) * 1000,
                outcome,
            )

    async def _post(self, call: _Call, form: dict[str, str]) -> httpx.Response:
        try:
            # httpx bounds each phase by `timeout`; this bounds a panel that trickles bytes.
            async with asyncio.timeout(self._timeout * 2):
                # `data=` sends a form: some panels refuse JSON bodies.
                data = {"key": call.key, "action": call.action, **form}
                return await self._http.post(call.url, data=data)
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            message = "The panel did not accept a connection in time."
            raise call.unavailable(message, "timeout", maybe_sent=False) from exc
        except (httpx.TimeoutException, TimeoutError) as exc:
            message = "The panel did not answer in time."
            raise call.unavailable(message, "timeout", maybe_sent=True) from exc
        except httpx.ConnectError as exc:
            message = "The panel could not be reached."
            raise call.unavailable(message, "connection", maybe_sent=False) from exc
        except (httpx.UnsupportedProtocol, httpx.InvalidURL) as exc:
            message = "The panel address is not a valid http(s) URL."
            raise call.unavailable(message, "unexpected", maybe_sent=False) from exc
        except httpx.HTTPError as exc:
            message = f"The connection to the panel broke ({type(exc).__name__})."
            raise call.unavailable(message, "connection", maybe_sent=True) from exc

    @staticmethod
    def _parse(url: str, action: str, write: bool, parse: Callable[[], T]) -> T:
        try:
            return parse()
        except UnexpectedAnswer as error:
            raise PanelUnavailable(
                f"The panel's answer was not understood: {error}",
                panel_url=url,
                action=action,
                reason="unexpected",
                # The panel answered 200: a write was most likely done even if we cannot read it.
                outcome_unknown=write,
            ) from None


def _scrubbed(value: T, key: str) -> T:
    """Per-id error texts with the key masked (a panel may echo the key in them)."""
    if isinstance(value, dict):
        return {name: _scrubbed(item, key) for name, item in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [_scrubbed(item, key) for item in value]  # type: ignore[return-value]
    for name in ("message", "error"):
        text = getattr(value, name, None)
        if isinstance(text, str) and key and key in text:
            return dataclasses.replace(value, **{name: mask_key(text, key)})  # type: ignore[type-var]
    return value


@dataclass(frozen=True, slots=True)
class _Call:
    url: str
    key: str = field(repr=False)
    action: str
    write: bool
    force_reason: RefusalReason | None = None

    def unavailable(
        self,
        message: str,
        reason: UnavailableReason,
        *,
        maybe_sent: bool,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> PanelUnavailable:
        return PanelUnavailable(
            message,
            panel_url=self.url,
            action=self.action,
            reason=reason,
            status_code=status_code,
            retry_after=retry_after,
            outcome_unknown=self.write and maybe_sent,
        )


def _answer_of(response: httpx.Response, call: _Call) -> Any:
    """The decoded JSON of a usable answer; raise the PanelError that fits anything else."""
    status = response.status_code

    def unavailable(message: str, reason: UnavailableReason, maybe_sent: bool) -> PanelUnavailable:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        return call.unavailable(
            message, reason, maybe_sent=maybe_sent, status_code=status, retry_after=retry_after
        )

    if status == 429:
        raise unavailable("The panel asks to slow down (rate limited).", "rate_limited", False)
    if 300 <= status < 400:
        target = mask_key(response.headers.get("Location", "?"), call.key)
        raise unavailable(f"The panel redirects to {target}.", "unexpected", False)
    body = response.text.strip()
    try:
        answer = loads(body)
    except ValueError:
        answer = _NOT_JSON
    text = error_text(answer)
    if text is not None:
        raise error_from_text(
            text,
            key=call.key,
            panel_url=call.url,
            action=call.action,
            status_code=status,
            write=call.write,
            force_reason=call.force_reason,
        )
    if status == 401:
        message = "The panel did not accept the API key (HTTP 401)."
        raise InvalidApiKey(message, panel_url=call.url, action=call.action)
    if status >= 500:
        raise unavailable(f"The panel failed (HTTP {status}).", "server_error", True)
    is_html = body.startswith("<") or "html" in response.headers.get("Content-Type", "").lower()
    if answer is _NOT_JSON and is_html:
        # A CDN/WAF page (captcha, block) instead of the API's JSON; a retry will not pass it.
        raise unavailable(f"The panel sent a web page (HTTP {status}).", "html", True)
    if status >= 400:
        raise unavailable(f"The panel refused (HTTP {status}).", "unexpected", False)
    if answer is _NOT_JSON:
        message = "The panel's answer is not valid JSON." if body else "The panel sent no answer."
        raise unavailable(message, "invalid_json", True)
    return answer
