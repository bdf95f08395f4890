"""The panel client over loopback: against the panel simulator, and against a small scripted
aiohttp panel for the quirks the simulator does not produce (Retry-After dates, bare 401s, echoed
keys, cut connections, redirects, a failing second chunk)."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from typing import Any
from urllib.parse import parse_qsl

import pytest
from aiohttp import web

from bot.panel.client import DEFAULT_USER_AGENT, PanelClient
from bot.panel.errors import InvalidApiKey, PanelError, PanelRefused, PanelUnavailable
from bot.panel.models import (
    CancelResult,
    ItemError,
    OrderState,
    OrderStatus,
    RefillState,
    RefillStatus,
)
from bot.panel.simulator import PanelSimulator, SimService

KEY = "k1-Sup3rSecretPanelKey"

# ---- a scripted panel -------------------------------------------------------------------------

Reply = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Seen:
    """One request as the scripted panel received it."""

    method: str
    path_qs: str
    content_type: str
    user_agent: str
    form: dict[str, str]


def json_reply(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """Answer `payload` as JSON with this status."""

    async def reply(_: web.Request) -> web.StreamResponse:
        return web.Response(
            status=status, text=json.dumps(payload), content_type="application/json",
            headers=headers,
        )  # fmt: skip

    return reply


def text_reply(
    text: str,
    status: int = 200,
    content_type: str = "text/html",
    headers: dict[str, str] | None = None,
) -> Reply:
    """Answer a raw text body."""

    async def reply(_: web.Request) -> web.StreamResponse:
        return web.Response(status=status, text=text, content_type=content_type, headers=headers)

    return reply


async def cut_reply(request: web.Request) -> web.StreamResponse:
    """Start a JSON answer, then drop the connection half-way."""
    response = web.StreamResponse(headers={"Content-Length": "100"})
    response.content_type = "application/json"
    await response.prepare(request)
    await response.write(b'{"order": 23')
    assert request.transport is not None
    request.transport.close()
    return response


def slow_reply(seconds: float, then: Reply) -> Reply:
    """Answer after a pause (longer than the client's timeout in the timeout tests)."""

    async def reply(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(seconds)
        return await then(request)

    return reply


class ScriptedPanel:
    """A panel on 127.0.0.1 that answers each request with the next scripted reply."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    def script(self, *replies: Reply) -> None:
        """Queue replies for the next requests, in order."""
        self.replies.extend(replies)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = (await request.read()).decode()
        self.seen.append(
            Seen(
                method=request.method,
                path_qs=request.path_qs,
                content_type=request.headers.get("Content-Type", ""),
                user_agent=request.headers.get("User-Agent", ""),
                form=dict(parse_qsl(body, keep_blank_values=True)),
            )
        )
        if not self.replies:
            return web.Response(status=599, text="unscripted request")
        return await self.replies.pop(0)(request)

    async def start(self) -> str:
        """Serve on a free loopback port; return the API URL."""
        app = web.Application()
        app.router.add_route("*", "/api/v2", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/api/v2"
        return self.url

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()


class Sleeps:
    """The client's injected sleep: records each backoff instead of waiting it out."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture
async def panel() -> AsyncIterator[ScriptedPanel]:
    """A running scripted panel."""
    scripted = ScriptedPanel()
    await scripted.start()
    yield scripted
    await scripted.stop()


@pytest.fixture
def sleeps() -> Sleeps:
    """The recorded backoff waits."""
    return Sleeps()


@pytest.fixture
async def client(sleeps: Sleeps) -> AsyncIterator[PanelClient]:
    """A client with a short timeout and recorded (instant) backoff sleeps."""
    async with PanelClient(timeout=5.0, sleep=sleeps, rng=random.Random(3)) as panel_client:
        yield panel_client


def assert_secret_free(error: BaseException) -> None:
    """The key appears nowhere in the exception: text, repr, data, or the printed chain."""
    printed = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), printed, repr(vars(error))):
        assert KEY not in text


# ---- the request itself -----------------------------------------------------------------------


async def test_requests_are_form_posts_with_a_browser_user_agent_and_the_key_in_the_body(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(json_reply({"balance": "100.84292", "currency": "USD"}))
    balance = await client.balance(panel.url, KEY)
    assert (balance.amount, balance.currency) == (Decimal("100.84292"), "USD")
    (seen,) = panel.seen
    assert seen.method == "POST"
    assert seen.content_type.startswith("application/x-www-form-urlencoded")
    assert seen.form == {"key": KEY, "action": "balance"}
    assert KEY not in seen.path_qs and seen.path_qs == "/api/v2"
    assert seen.user_agent == DEFAULT_USER_AGENT
    assert seen.user_agent.startswith("Mozilla/5.0") and "httpx" not in seen.user_agent


async def test_add_sends_lists_one_item_per_line_and_numbers_as_text(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(json_reply({"order": 23501}))
    fields: dict[str, str | int | list[str]] = {
        "link": "https://x.test/p",
        "comments": ["nice", "wow", "great"],
        "runs": 3,
    }
    assert await client.add(panel.url, KEY, "12", fields) == "23501"
    assert panel.seen[0].form == {
        "key": KEY,
        "action": "add",
        "service": "12",
        "link": "https://x.test/p",
        "comments": "nice\nwow\ngreat",
        "runs": "3",
    }


async def test_add_refuses_fields_that_would_override_the_protocol(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    with pytest.raises(ValueError, match="action"):
        await client.add(panel.url, KEY, "1", {"action": "balance"})
    assert panel.seen == []


async def test_services_with_non_numeric_ids_and_both_description_names(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(
        text_reply(
            '[{"service": "tg-1", "name": "Members", "type": "Default", "category": "TG",'
            ' "rate": 1.25, "min": "10", "max": "5,000", "refill": "1", "cancel": 0,'
            ' "desc": "d1"},'
            ' {"service": 2, "name": "Views", "type": "Package", "category": "TG",'
            ' "rate": "0.90", "min": 1, "max": 1, "refill": false, "cancel": true,'
            ' "dripfeed": 1, "description": "d2"}]',
            content_type="text/html",  # some panels label their JSON as HTML
        )
    )
    first, second = await client.services(panel.url, KEY)
    assert (first.service_id, first.rate, first.max, first.refill, first.cancel) == (
        "tg-1", Decimal("1.25"), 5000, True, False,
    )  # fmt: skip
    assert (first.description, second.description, second.dripfeed) == ("d1", "d2", True)
    assert second.rate == Decimal("0.90")


# ---- errors: every class ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text", "cls", "reason"),
    [
        (200, "Not enough funds on balance", PanelRefused, "not_enough_funds"),
        (400, "Incorrect service ID", PanelRefused, "incorrect_service"),
        (402, "neworder.error.not_enough_funds", PanelRefused, "not_enough_funds"),
        (403, "Quantity less than minimal 1000", PanelRefused, "min_quantity"),
        (404, "neworder.error.link_duplicate", PanelRefused, "link_duplicate"),
        (503, "Quantity more than maximum 1000", PanelRefused, "max_quantity"),
        (200, "Invalid API key", InvalidApiKey, None),
        (401, "Incorrect API key", InvalidApiKey, None),
        (403, "Invalid API key", InvalidApiKey, None),
    ],
)
async def test_json_errors_with_any_status_map_to_the_right_class(
    panel: ScriptedPanel,
    client: PanelClient,
    status: int,
    text: str,
    cls: type[PanelError],
    reason: str | None,
) -> None:
    panel.script(json_reply({"error": text}, status=status))
    with pytest.raises(cls) as caught:
        await client.add(panel.url, KEY, "1", {"link": "https://x.test/p", "quantity": 100})
    error = caught.value
    assert (error.action, error.panel_url) == ("add", panel.url)
    if isinstance(error, PanelRefused):
        assert (error.reason, error.panel_text, error.message) == (reason, text, text)
        assert error.status_code == status
    assert len(panel.seen) == 1


async def test_a_bare_401_is_an_invalid_key_and_is_not_retried(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(text_reply("", status=401, content_type="text/plain"))
    with pytest.raises(InvalidApiKey):
        await client.balance(panel.url, KEY)
    assert len(panel.seen) == 1


async def test_an_echoed_key_is_masked_everywhere(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(json_reply({"error": f"Incorrect API key: {KEY}"}))
    with pytest.raises(InvalidApiKey) as caught:
        await client.balance(panel.url, KEY)
    assert caught.value.message == "Incorrect API key: ***"
    assert_secret_free(caught.value)
    panel.script(json_reply({"error": f"Not enough funds for key {KEY}"}))
    with pytest.raises(PanelRefused) as refused:
        await client.add(panel.url, KEY, "1", {"link": "l", "quantity": 1})
    assert KEY not in refused.value.panel_text
    assert_secret_free(refused.value)


async def test_a_503_json_outage_text_is_unavailable_not_a_refusal(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(json_reply({"error": "Service temporarily unavailable"}, status=503))
    with pytest.raises(PanelUnavailable) as caught:
        await client.add(panel.url, KEY, "1", {"link": "l", "quantity": 1})
    assert (caught.value.reason, caught.value.status_code) == ("server_error", 503)
    assert caught.value.outcome_unknown is True
    assert len(panel.seen) == 1


@pytest.mark.parametrize(
    ("reply", "reason", "status"),
    [
        (text_reply("<html><body>Checking your browser</body></html>", 200), "html", 200),
        (text_reply("<!DOCTYPE html><title>Forbidden</title>", 403), "html", 403),
        (text_reply('{"order": 1', content_type="application/json"), "invalid_json", 200),
        (text_reply("", content_type="application/json"), "invalid_json", 200),
        (text_reply("oops", 500, "text/plain"), "server_error", 500),
        (json_reply({"ok": True}, status=502), "server_error", 502),
        (json_reply({"order": None}), "unexpected", None),
    ],
)
async def test_unusable_answers_to_add_leave_the_outcome_unknown(
    panel: ScriptedPanel,
    client: PanelClient,
    reply: Reply,
    reason: str,
    status: int | None,
) -> None:
    panel.script(reply)
    with pytest.raises(PanelUnavailable) as caught:
        await client.add(panel.url, KEY, "1", {"link": "l", "quantity": 1})
    assert (caught.value.reason, caught.value.status_code) == (reason, status)
    assert caught.value.outcome_unknown is True
    assert len(panel.seen) == 1  # a write is never retried
    assert_secret_free(caught.value)


async def test_a_redirect_is_reported_with_its_target_not_followed(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    target = "https://panel.example/api/v2"
    panel.script(text_reply("", 301, "text/plain", headers={"Location": target}))
    with pytest.raises(PanelUnavailable) as caught:
        await client.add(panel.url, KEY, "1", {"link": "l", "quantity": 1})
    assert caught.value.reason == "unexpected" and target in caught.value.message
    assert caught.value.outcome_unknown is False
    assert len(panel.seen) == 1


async def test_a_connection_cut_mid_answer_on_add_is_an_unknown_outcome(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(cut_reply)
    with pytest.raises(PanelUnavailable) as caught:
        await client.add(panel.url, KEY, "1", {"link": "l", "quantity": 1})
    assert caught.value.reason == "connection" and caught.value.outcome_unknown is True
    assert len(panel.seen) == 1


async def test_a_refused_connection_is_a_known_non_outcome(client: PanelClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/v2"
    with pytest.raises(PanelUnavailable) as caught:
        await client.add(url, KEY, "1", {"link": "l", "quantity": 1})
    assert caught.value.reason == "connection" and caught.value.outcome_unknown is False
    assert_secret_free(caught.value)


async def test_a_bad_panel_address_is_reported(client: PanelClient) -> None:
    with pytest.raises(PanelUnavailable) as caught:
        await client.balance("ftp://127.0.0.1/api/v2", KEY)
    assert caught.value.reason == "unexpected"


# ---- retries of reads -------------------------------------------------------------------------


async def test_a_read_is_retried_after_a_cut_connection_and_a_500(
    panel: ScriptedPanel, client: PanelClient, sleeps: Sleeps
) -> None:
    panel.script(
        cut_reply,
        text_reply("down", 500, "text/plain"),
        json_reply({"balance": "1", "currency": ""}),
    )
    assert (await client.balance(panel.url, KEY)).amount == Decimal(1)
    assert len(panel.seen) == 3
    assert len(sleeps.waits) == 2
    assert 0 <= sleeps.waits[0] <= 0.5 and 0 <= sleeps.waits[1] <= 1.0  # full jitter windows


async def test_retry_after_as_an_http_date_is_honoured(
    panel: ScriptedPanel, client: PanelClient, sleeps: Sleeps
) -> None:
    async def limited(_: web.Request) -> web.StreamResponse:
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=3), usegmt=True)
        return web.Response(status=429, headers={"Retry-After": when})

    panel.script(limited, json_reply({"balance": "2", "currency": "USD"}))
    assert (await client.balance(panel.url, KEY)).amount == Decimal(2)
    (wait,) = sleeps.waits
    assert 1.0 <= wait <= 3.0  # HTTP dates have one-second resolution


async def test_a_503_with_retry_after_waits_what_it_says(
    panel: ScriptedPanel, client: PanelClient, sleeps: Sleeps
) -> None:
    panel.script(
        text_reply("<html>maintenance</html>", 503, headers={"Retry-After": "7"}),
        json_reply({"balance": "2", "currency": "USD"}),
    )
    await client.balance(panel.url, KEY)
    assert sleeps.waits == [7.0]


async def test_a_retry_after_beyond_the_cap_gives_up_at_once_and_says_when(
    panel: ScriptedPanel, client: PanelClient, sleeps: Sleeps
) -> None:
    panel.script(text_reply("", 429, "text/plain", headers={"Retry-After": "3600"}))
    with pytest.raises(PanelUnavailable) as caught:
        await client.balance(panel.url, KEY)
    assert (caught.value.reason, caught.value.retry_after) == ("rate_limited", 3600.0)
    assert sleeps.waits == [] and len(panel.seen) == 1


async def test_a_rate_limit_text_with_200_is_retried_like_a_429(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(json_reply({"error": "Too many requests"}), json_reply({"balance": "3"}))
    assert (await client.balance(panel.url, KEY)).amount == Decimal(3)
    assert len(panel.seen) == 2


async def test_a_waf_page_with_403_is_not_retried(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(text_reply("<html>Access denied</html>", 403))
    with pytest.raises(PanelUnavailable) as caught:
        await client.services(panel.url, KEY)
    assert (caught.value.reason, caught.value.status_code) == ("html", 403)
    assert caught.value.outcome_unknown is False  # a read has no outcome to doubt
    assert len(panel.seen) == 1


async def test_a_slow_read_times_out_after_every_attempt(
    panel: ScriptedPanel, sleeps: Sleeps
) -> None:
    never = json_reply({"balance": "1"})
    panel.script(slow_reply(1.0, never), slow_reply(1.0, never))
    async with PanelClient(timeout=0.2, max_attempts=2, sleep=sleeps) as quick:
        with pytest.raises(PanelUnavailable) as caught:
            await quick.balance(panel.url, KEY)
    assert caught.value.reason == "timeout"
    assert len(panel.seen) == 2 and len(sleeps.waits) == 1


# ---- many-id forms: chunks that fail ----------------------------------------------------------


async def test_a_failing_second_cancel_chunk_says_which_ids_were_sent(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    ids = [str(n) for n in range(1, 251)]
    panel.script(
        json_reply([{"order": int(i), "cancel": 1} for i in ids[:100]]),
        text_reply("Bad gateway", 502, "text/plain"),
    )
    with pytest.raises(PanelUnavailable) as caught:
        await client.cancel(panel.url, KEY, ids)
    error = caught.value
    assert error.outcome_unknown is True
    assert error.completed == [CancelResult(i, True, None) for i in ids[:100]]
    assert error.failed_ids == tuple(ids[100:200])
    assert error.unsent_ids == tuple(ids[200:])
    assert [s.form["orders"] for s in panel.seen] == [",".join(ids[:100]), ",".join(ids[100:200])]


async def test_a_failing_status_chunk_raises_instead_of_dropping_ids(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    ids = [str(n) for n in range(1, 151)]
    panel.script(
        json_reply({i: {"status": "Completed"} for i in ids[:100]}),
        json_reply({"error": "Incorrect request"}),
    )
    with pytest.raises(PanelRefused) as caught:
        await client.statuses(panel.url, KEY, ids)
    assert caught.value.reason == "incorrect_request"
    assert len(panel.seen) == 2


async def test_one_id_forms_with_nested_or_top_level_errors(
    panel: ScriptedPanel, client: PanelClient
) -> None:
    panel.script(
        json_reply({"refill": {"error": "Incorrect order ID"}}),
        json_reply({"error": "Order not found"}),
        json_reply({"status": {"error": "Refill not found"}}),
        json_reply({"error": "Incorrect refill ID"}),
    )
    with pytest.raises(PanelRefused) as refill:
        await client.refill(panel.url, KEY, "42")
    assert (refill.value.reason, refill.value.failed_ids) == ("incorrect_order", ("42",))
    with pytest.raises(PanelRefused) as status:
        await client.status(panel.url, KEY, "42")
    assert status.value.reason == "incorrect_order"
    state = await client.refill_status(panel.url, KEY, "7")
    assert state == RefillState("7", RefillStatus.ERROR, "", "Refill not found")
    with pytest.raises(PanelRefused) as refill_status:
        await client.refill_status(panel.url, KEY, "8")
    assert refill_status.value.reason == "refill_not_found"


async def test_empty_id_lists_send_nothing(panel: ScriptedPanel, client: PanelClient) -> None:
    assert await client.statuses(panel.url, KEY, []) == {}
    assert await client.refill_statuses(panel.url, KEY, []) == {}
    assert await client.refills(panel.url, KEY, []) == []
    assert await client.cancel(panel.url, KEY, []) == []
    assert panel.seen == []
    with pytest.raises(ValueError):
        await client.statuses(panel.url, KEY, ["1,2"])


# ---- logging ----------------------------------------------------------------------------------


async def test_debug_logs_one_line_per_request_and_never_the_key(
    panel: ScriptedPanel, client: PanelClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "bot"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    panel.script(
        json_reply({"balance": "1", "currency": "USD"}),
        json_reply({"error": f"Invalid API key {KEY}"}),
        text_reply("<html></html>", 503),
        json_reply({"1": {"status": "Pending"}}),
    )
    await client.balance(panel.url, KEY)
    with pytest.raises(InvalidApiKey):
        await client.services(panel.url, KEY)
    with pytest.raises(PanelUnavailable):
        await client.add(panel.url, KEY, "1", {"link": "l", "quantity": 1})
    await client.statuses(panel.url, KEY, ["1"])
    assert caplog.records, "nothing was logged"
    assert any(r.name.startswith("httpx") for r in caplog.records)  # httpx's own lines were caught
    for record in caplog.records:
        assert KEY not in record.getMessage()
    assert KEY not in caplog.text
    ours = [r.getMessage() for r in caplog.records if r.name == "bot.panel.client"]
    assert len(ours) == 4
    assert ours[0].startswith("panel balance at 127.0.0.1: 0 ids, ") and ours[0].endswith(
        "http 200"
    )
    assert "InvalidApiKey" in ours[1]
    assert ours[2].endswith("http 503, PanelUnavailable server_error")
    assert ours[3].startswith("panel status at 127.0.0.1: 1 ids, ")


async def test_the_client_repr_holds_no_secret() -> None:
    async with PanelClient() as panel_client:
        assert "PanelClient(timeout=30.0" in repr(panel_client)


# ---- against the panel simulator --------------------------------------------------------------


@pytest.fixture
async def sim() -> AsyncIterator[PanelSimulator]:
    """A running panel simulator with one key holding plenty of money."""
    simulator = PanelSimulator(seed=1)
    simulator.add_key(KEY, balance="100000")
    await simulator.start()
    yield simulator
    await simulator.stop()


def default_service(
    sim: PanelSimulator, *, refill: bool | None = None, cancel: bool | None = None
) -> SimService:
    """The first Default-type service with these flags."""
    return sim.catalogue.first_matching(type="Default", refill=refill, cancel=cancel)


@pytest.mark.parametrize(
    "quirks",
    [
        {},
        {"numbers_as_strings": True},
        {"money_as_numbers": True},
        {"booleans": "int"},
        {"booleans": "bool"},
    ],
)
async def test_services_read_the_whole_catalogue_in_every_format(
    sim: PanelSimulator, client: PanelClient, quirks: dict[str, Any]
) -> None:
    sim.quirks.update(quirks)
    services = await client.services(sim.url, KEY)
    assert len(services) == len(sim.catalogue) == 300
    for got, want in zip(services, sim.catalogue, strict=True):
        assert got.service_id == str(want.id)
        assert (got.name, got.type, got.category) == (want.name, want.type, want.category)
        assert isinstance(got.rate, Decimal) and got.rate == want.rate
        assert (got.min, got.max) == (want.min, want.max)
        assert (got.refill, got.cancel, got.dripfeed) == (want.refill, want.cancel, want.dripfeed)
        assert got.description == (want.desc or "")
    assert sim.action_counts["services"] == 1


@pytest.mark.parametrize("quirks", [{}, {"numbers_as_strings": True}, {"money_as_numbers": True}])
async def test_balance_in_every_format(
    sim: PanelSimulator, client: PanelClient, quirks: dict[str, Any]
) -> None:
    sim.quirks.update(quirks)
    sim.add_key(KEY, balance="12345.6", currency="EUR")
    balance = await client.balance(sim.url, KEY)
    assert (balance.amount, balance.currency) == (Decimal("12345.60000"), "EUR")


async def test_add_places_and_charges_an_order(sim: PanelSimulator, client: PanelClient) -> None:
    service = default_service(sim)
    before = sim.balance_of(KEY)
    order_id = await client.add(
        sim.url, KEY, str(service.id), {"link": "https://x.test/a", "quantity": service.min}
    )
    placed = sim.order(order_id)
    assert (placed.service_id, placed.quantity, placed.link) == (
        service.id, service.min, "https://x.test/a",
    )  # fmt: skip
    assert sim.balance_of(KEY) == before - placed.charge
    assert sim.request_log[-1] == (
        "add",
        {"action": "add", "service": str(service.id), "link": "https://x.test/a",
         "quantity": str(service.min)},
    )  # fmt: skip


async def test_add_sends_custom_comments_one_per_line(
    sim: PanelSimulator, client: PanelClient
) -> None:
    service = sim.catalogue.first_matching(type="Custom Comments")
    comments = [f"comment {n}" for n in range(service.min)]
    order_id = await client.add(
        sim.url, KEY, str(service.id), {"link": "https://x.test/c", "comments": comments}
    )
    placed = sim.order(order_id)
    assert placed.quantity == service.min
    assert placed.extras == {"comments": "\n".join(comments)}


@pytest.mark.parametrize("errors_http_status", [None, 400, 402])
async def test_add_refusals_keep_the_panel_text(
    sim: PanelSimulator, client: PanelClient, errors_http_status: int | None
) -> None:
    sim.quirks.errors_http_status = errors_http_status
    service = default_service(sim)
    sid = str(service.id)
    cases: list[tuple[str, dict[str, Any], str, str]] = [
        (sid, {"link": "https://x.test/1", "quantity": service.min - 1}, "min_quantity",
         f"Quantity less than minimal {service.min}"),
        (sid, {"link": "https://x.test/1", "quantity": service.max + 1}, "max_quantity",
         f"Quantity more than maximum {service.max}"),
        ("999999", {"link": "https://x.test/1", "quantity": 100}, "incorrect_service",
         "Incorrect service ID"),
        (sid, {"quantity": service.min}, "incorrect_link", "Incorrect link"),
    ]  # fmt: skip
    for service_id, fields, reason, text in cases:
        with pytest.raises(PanelRefused) as caught:
            await client.add(sim.url, KEY, service_id, fields)
        assert (caught.value.reason, caught.value.panel_text) == (reason, text)
        assert caught.value.status_code == (errors_http_status or 200)
    await client.add(sim.url, KEY, sid, {"link": "https://x.test/dup", "quantity": service.min})
    with pytest.raises(PanelRefused) as duplicate:
        await client.add(sim.url, KEY, sid, {"link": "https://x.test/dup", "quantity": service.min})
    assert duplicate.value.reason == "link_duplicate"
    sim.add_key(KEY, balance="0.001")
    with pytest.raises(PanelRefused) as poor:
        await client.add(sim.url, KEY, sid, {"link": "https://x.test/2", "quantity": service.min})
    assert (poor.value.reason, poor.value.panel_text) == (
        "not_enough_funds", "Not enough funds on balance",
    )  # fmt: skip


@pytest.mark.parametrize("errors_http_status", [None, 401, 403])
async def test_an_unknown_key_is_invalid_for_every_action(
    sim: PanelSimulator, client: PanelClient, errors_http_status: int | None
) -> None:
    sim.quirks.errors_http_status = errors_http_status
    wrong = "not-the-right-key-123"
    calls: list[Awaitable[object]] = [
        client.services(sim.url, wrong),
        client.balance(sim.url, wrong),
        client.add(sim.url, wrong, "1", {"link": "l", "quantity": 100}),
        client.status(sim.url, wrong, "1"),
        client.statuses(sim.url, wrong, ["1", "2"]),
        client.refill(sim.url, wrong, "1"),
        client.refills(sim.url, wrong, ["1"]),
        client.refill_status(sim.url, wrong, "1"),
        client.refill_statuses(sim.url, wrong, ["1"]),
        client.cancel(sim.url, wrong, ["1"]),
    ]
    for call in calls:
        with pytest.raises(InvalidApiKey) as caught:
            await call
        assert caught.value.message == "Invalid API key"
        assert wrong not in repr(caught.value) and wrong not in str(caught.value)
    assert sim.request_count == len(calls)  # never retried


async def test_status_follows_an_order_through_its_life(
    sim: PanelSimulator, client: PanelClient
) -> None:
    service = default_service(sim)
    order_id = str(sim.make_order(KEY, service.id, 1000))
    fresh = await client.status(sim.url, KEY, order_id)
    assert (fresh.order_id, fresh.status, fresh.raw_status) == (
        order_id, OrderStatus.PENDING, "Pending",
    )  # fmt: skip
    assert (fresh.start_count, fresh.remains, fresh.currency) == (None, 1000, "USD")
    assert fresh.charge == sim.order(order_id).charge
    sim.quirks.pending_remains_zero = True
    assert (await client.status(sim.url, KEY, order_id)).remains == 0
    sim.advance(1000)
    done = await client.status(sim.url, KEY, order_id)
    assert done.status in (OrderStatus.COMPLETED, OrderStatus.PARTIAL) and done.status.is_final
    assert done.start_count is not None


@pytest.mark.parametrize(
    ("quirks", "forced", "raw", "expected"),
    [
        ({"cancelled_spelling": True}, "Canceled", "Cancelled", OrderStatus.CANCELED),
        ({}, "Canceled", "Canceled", OrderStatus.CANCELED),
        ({"lowercase_statuses": True}, "In progress", "in progress", OrderStatus.IN_PROGRESS),
        ({"numbers_as_strings": True}, "Partial", "Partial", OrderStatus.PARTIAL),
        ({}, "Refunded", "Refunded", OrderStatus.REFUNDED),
        ({}, "Fail", "Fail", OrderStatus.FAILED),
        ({}, "Processing", "Processing", OrderStatus.PROCESSING),
    ],
)
async def test_status_spellings(
    sim: PanelSimulator,
    client: PanelClient,
    quirks: dict[str, Any],
    forced: str,
    raw: str,
    expected: OrderStatus,
) -> None:
    sim.quirks.update(quirks)
    order_id = str(sim.make_order(KEY, default_service(sim).id, 1000, status=forced))
    state = await client.status(sim.url, KEY, order_id)
    assert (state.status, state.raw_status) == (expected, raw)
    many = await client.statuses(sim.url, KEY, [order_id])
    assert many == {order_id: state}


async def test_status_of_an_unknown_order_is_refused(
    sim: PanelSimulator, client: PanelClient
) -> None:
    with pytest.raises(PanelRefused) as caught:
        await client.status(sim.url, KEY, "424242")
    assert (caught.value.reason, caught.value.panel_text) == (
        "incorrect_order",
        "Incorrect order ID",
    )
    assert sim.request_count == 1


async def test_250_statuses_take_exactly_3_requests(
    sim: PanelSimulator, client: PanelClient
) -> None:
    service = default_service(sim)
    real = [str(sim.make_order(KEY, service.id, 100)) for _ in range(200)]
    unknown = [str(900000 + n) for n in range(50)]
    asked = real + unknown + real[:30]  # duplicates are asked once
    result = await client.statuses(sim.url, KEY, asked)
    assert sim.action_counts["status"] == 3
    assert [len(fields["orders"].split(",")) for _, fields in sim.request_log] == [100, 100, 50]
    assert list(result) == real + unknown
    assert all(isinstance(result[i], OrderState) for i in real)
    assert all(result[i] == ItemError("Incorrect order ID") for i in unknown)


async def test_refill_one_and_many_then_their_status(
    sim: PanelSimulator, client: PanelClient
) -> None:
    service = default_service(sim, refill=True)
    done = [str(sim.make_order(KEY, service.id, 100, status="Completed")) for _ in range(151)]
    pending = str(sim.make_order(KEY, service.id, 100))
    refill_id = await client.refill(sim.url, KEY, done[0])
    assert refill_id == str(sim.refill(refill_id).id)
    created = await client.refills(sim.url, KEY, [*done[1:], pending, "777777"])
    assert sim.action_counts["refill"] == 1 + 2
    assert [c.order_id for c in created] == [*done[1:], pending, "777777"]
    assert all(c.refill_id and c.error is None for c in created[:150])
    assert (created[150].refill_id, created[150].error) == (None, "The order is not completed")
    assert (created[151].refill_id, created[151].error) == (None, "Incorrect order ID")
    one = await client.refill_status(sim.url, KEY, refill_id)
    assert one == RefillState(refill_id, RefillStatus.PENDING, "Pending", None)
    refill_ids = [refill_id, *(c.refill_id for c in created[:150] if c.refill_id), "555555"]
    sim.advance(1000)
    states = await client.refill_statuses(sim.url, KEY, refill_ids)
    assert sim.action_counts["refill_status"] == 1 + 2
    assert all(states[r].status.is_final for r in refill_ids[:-1])
    assert {states[r].status for r in refill_ids[:-1]} <= {
        RefillStatus.COMPLETED, RefillStatus.REJECTED,
    }  # fmt: skip
    assert states["555555"] == RefillState("555555", RefillStatus.ERROR, "", "Refill not found")


async def test_cancel_answers_per_order(sim: PanelSimulator, client: PanelClient) -> None:
    service = default_service(sim, cancel=True)
    pending = str(sim.make_order(KEY, service.id, 100))
    finished = str(sim.make_order(KEY, service.id, 100, status="Completed"))
    result = await client.cancel(sim.url, KEY, [pending, finished, "888888"])
    assert result == [
        CancelResult(pending, True, None),
        CancelResult(finished, False, "The order cannot be canceled"),
        CancelResult("888888", False, "Incorrect order ID"),
    ]
    assert sim.order(pending).status == "Canceled"


# ---- quirk switches: transport faults ----------------------------------------------------------


async def test_a_500_then_success_is_two_requests(
    sim: PanelSimulator, client: PanelClient, sleeps: Sleeps
) -> None:
    sim.quirks.server_error_next = 1
    assert (await client.balance(sim.url, KEY)).amount == Decimal("100000")
    assert sim.request_count == 2
    (wait,) = sleeps.waits
    assert 0 <= wait <= 0.5


async def test_a_429_retry_after_is_honoured(
    sim: PanelSimulator, client: PanelClient, sleeps: Sleeps
) -> None:
    sim.quirks.rate_limit_next = 2
    sim.quirks.retry_after = 2.5
    await client.services(sim.url, KEY)
    assert sleeps.waits == [2.5, 2.5]
    assert sim.request_count == 3


async def test_a_429_without_retry_after_backs_off_then_gives_up(
    sim: PanelSimulator, client: PanelClient, sleeps: Sleeps
) -> None:
    sim.quirks.rate_limit_next = 10
    with pytest.raises(PanelUnavailable) as caught:
        await client.status(sim.url, KEY, "1")
    assert (caught.value.reason, caught.value.status_code) == ("rate_limited", 429)
    assert caught.value.retry_after is None
    assert sim.request_count == 4  # max_attempts
    assert len(sleeps.waits) == 3
    for wait, window in zip(sleeps.waits, (0.5, 1.0, 2.0), strict=True):
        assert 0 <= wait <= window


async def test_html_pages_from_a_cdn(sim: PanelSimulator, client: PanelClient) -> None:
    sim.quirks.html_page = 403
    with pytest.raises(PanelUnavailable) as blocked:
        await client.services(sim.url, KEY)
    assert (blocked.value.reason, blocked.value.status_code) == ("html", 403)
    assert sim.request_count == 1
    sim.quirks.html_page = 200
    with pytest.raises(PanelUnavailable) as challenge:
        await client.balance(sim.url, KEY)
    assert (challenge.value.reason, challenge.value.status_code) == ("html", 200)
    sim.quirks.html_page = 503
    with pytest.raises(PanelUnavailable) as down:
        await client.balance(sim.url, KEY)
    assert (down.value.reason, down.value.status_code) == ("server_error", 503)
    assert sim.request_count == 1 + 1 + 4  # the 503 is retried


async def test_malformed_json_on_a_read_is_retried_and_on_add_is_an_unknown_outcome(
    sim: PanelSimulator, client: PanelClient
) -> None:
    sim.quirks.malformed_json = True
    with pytest.raises(PanelUnavailable) as read:
        await client.balance(sim.url, KEY)
    assert read.value.reason == "invalid_json" and read.value.outcome_unknown is False
    assert sim.request_count == 4
    service = default_service(sim)
    with pytest.raises(PanelUnavailable) as write:
        await client.add(sim.url, KEY, str(service.id), {"link": "l", "quantity": service.min})
    assert write.value.reason == "invalid_json" and write.value.outcome_unknown is True
    assert sim.action_counts["add"] == 1
    assert sim.order_count == 1  # the order exists: that is why a write is never retried


@pytest.mark.parametrize("action", ["add", "refill", "cancel"])
async def test_writes_are_never_retried(
    sim: PanelSimulator, client: PanelClient, sleeps: Sleeps, action: str
) -> None:
    sim.quirks.server_error_next = 1
    with pytest.raises(PanelUnavailable) as caught:
        if action == "add":
            await client.add(sim.url, KEY, "1", {"link": "l", "quantity": 100})
        elif action == "refill":
            await client.refill(sim.url, KEY, "1")
        else:
            await client.cancel(sim.url, KEY, ["1"])
    assert (caught.value.reason, caught.value.status_code) == ("server_error", 500)
    assert caught.value.outcome_unknown is True
    assert sim.request_count == 1 and sleeps.waits == []
    sim.quirks.rate_limit_next = 1
    with pytest.raises(PanelUnavailable) as limited:
        await client.cancel(sim.url, KEY, ["1"])
    assert limited.value.reason == "rate_limited" and limited.value.outcome_unknown is False
    assert sim.request_count == 2


async def test_a_timeout_on_add_is_an_unknown_outcome(sim: PanelSimulator, sleeps: Sleeps) -> None:
    sim.quirks.add_answer_delay = 0.6
    service = default_service(sim)
    before = sim.balance_of(KEY)
    async with PanelClient(timeout=0.2, sleep=sleeps) as quick:
        with pytest.raises(PanelUnavailable) as caught:
            await quick.add(sim.url, KEY, str(service.id), {"link": "l", "quantity": service.min})
    assert caught.value.reason == "timeout" and caught.value.outcome_unknown is True
    assert sim.action_counts["add"] == 1
    # The panel did place and charge it: only the answer was lost.
    assert sim.order_count == 1 and sim.balance_of(KEY) < before
    assert_secret_free(caught.value)


async def test_a_slow_panel_times_out_reads_after_every_attempt(
    sim: PanelSimulator, sleeps: Sleeps
) -> None:
    sim.quirks.slow_seconds = 0.5
    sim.quirks.only_actions = {"status"}
    async with PanelClient(timeout=0.15, max_attempts=2, sleep=sleeps) as quick:
        assert (await quick.balance(sim.url, KEY)).amount == Decimal("100000")  # not slowed
        with pytest.raises(PanelUnavailable) as caught:
            await quick.status(sim.url, KEY, "1")
    assert caught.value.reason == "timeout"
    assert sim.action_counts["status"] == 2


async def test_only_actions_limits_the_faults(sim: PanelSimulator, client: PanelClient) -> None:
    sim.quirks.html_page = 403
    sim.quirks.only_actions = {"balance"}
    assert len(await client.services(sim.url, KEY)) == 300
    with pytest.raises(PanelUnavailable):
        await client.balance(sim.url, KEY)


async def test_a_panel_that_blocks_non_browsers(sim: PanelSimulator, sleeps: Sleeps) -> None:
    sim.quirks.require_browser_user_agent = True
    async with PanelClient(sleep=sleeps) as browser_like:
        assert (await browser_like.balance(sim.url, KEY)).currency == "USD"
    async with PanelClient(user_agent="python-httpx/0.28.1", sleep=sleeps) as plain:
        with pytest.raises(PanelUnavailable) as caught:
            await plain.balance(sim.url, KEY)
    assert (caught.value.reason, caught.value.status_code) == ("html", 403)


async def test_the_key_never_reaches_a_log_line(
    sim: PanelSimulator, client: PanelClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("httpx", "httpcore", "bot"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    service = default_service(sim, refill=True)
    order_id = await client.add(sim.url, KEY, str(service.id), {"link": "l", "quantity": 100})
    await client.status(sim.url, KEY, order_id)
    await client.statuses(sim.url, KEY, [order_id, "1"])
    await client.services(sim.url, KEY)
    sim.quirks.server_error_next = 1
    await client.balance(sim.url, KEY)
    errors: list[PanelError] = []
    for call in (
        client.refill(sim.url, KEY, order_id),
        client.add(sim.url, KEY, "999999", {"link": "l", "quantity": 1}),
    ):
        with pytest.raises(PanelError) as caught:
            await call
        errors.append(caught.value)
    sim.quirks.malformed_json = True
    with pytest.raises(PanelUnavailable) as broken:
        await client.cancel(sim.url, KEY, [order_id])
    errors.append(broken.value)
    ours = [r for r in caplog.records if r.name == "bot.panel.client"]
    assert len(ours) == sim.request_count == 9
    assert any(r.name == "httpx" for r in caplog.records)
    assert KEY not in caplog.text
    assert all(KEY not in r.getMessage() for r in caplog.records)
    for error in errors:
        assert_secret_free(error)
