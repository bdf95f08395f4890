"""The simulator's aiohttp app: `/api/v2` with its fault switches, and the `/_sim/...` controls."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aiohttp import web

from bot.panel.simulator.actions import handle_action
from bot.panel.simulator.quirks import Quirks
from bot.panel.simulator.render import encode

if TYPE_CHECKING:
    from bot.panel.simulator.simulator import PanelSimulator

log = logging.getLogger(__name__)

SIMULATOR: web.AppKey[PanelSimulator] = web.AppKey("panel_simulator")

# Fields that hold comma-separated ids when a JSON client sends them as a list.
_COMMA_FIELDS = frozenset({"orders", "refills"})

_CDN_TITLES = {
    403: "Attention Required! | Cloudflare",
    503: "Just a moment...",
    200: "Just a moment...",
}
_CDN_PAGE = """<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html lang="en-US">
<head>
<title>{title}</title>
<meta charset="UTF-8" />
<meta name="robots" content="noindex, nofollow" />
<meta name="viewport" content="width=device-width,initial-scale=1" />
<link rel="stylesheet" id="cf_styles-css" href="/cdn-cgi/styles/cf.errors.css" />
</head>
<body>
<div id="cf-wrapper">
  <div id="cf-error-details" class="cf-error-details-wrapper">
    <h1 data-translate="block_headline">{headline}</h1>
    <h2 class="cf-subheadline">Checking if the site connection is secure</h2>
    <p>Enable JavaScript and cookies to continue.</p>
    <div class="cf-error-footer">Cloudflare Ray ID: <strong>8a1b2c3d4e5f6789</strong>
    &bull; Performance &amp; security by Cloudflare</div>
  </div>
</div>
</body>
</html>
"""


def cdn_page(status: int) -> web.Response:
    """A Cloudflare-like HTML page, as a panel behind a CDN/WAF answers instead of JSON."""
    title = _CDN_TITLES.get(status, f"{status} | Cloudflare")
    headline = "Sorry, you have been blocked" if status == 403 else "Please wait..."
    text = _CDN_PAGE.format(title=title, headline=headline)
    return web.Response(status=status, text=text, content_type="text/html", charset="utf-8")


def _as_text(name: str, value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        parts = [text for item in value if (text := _as_text(name, item)) is not None]
        return ("," if name in _COMMA_FIELDS else "\n").join(parts)
    return str(value)


async def read_fields(request: web.Request) -> dict[str, str]:
    """The request's fields: query string, then a form, multipart or JSON body on top."""
    fields: dict[str, str] = dict(request.query)
    if request.method != "POST" or not request.body_exists:
        return fields
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        fields.update((name, value) for name, value in form.items() if isinstance(value, str))
        return fields
    raw = await request.read()
    if request.content_type == "application/json" or raw.lstrip()[:1] == b"{":
        try:
            data = json.loads(raw)
        except ValueError:
            return fields
        if isinstance(data, dict):
            for name, value in data.items():
                text = _as_text(str(name), value)
                if text is not None:
                    fields[str(name)] = text
        return fields
    fields.update(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    return fields


def _fault(request: web.Request, quirks: Quirks) -> web.Response | None:
    """The answer of a misbehaving transport, or None to answer normally."""
    if quirks.require_browser_user_agent and "Mozilla" not in request.headers.get("User-Agent", ""):
        return cdn_page(403)
    if quirks.rate_limit_next > 0:
        quirks.rate_limit_next -= 1
        headers = {}
        if quirks.retry_after is not None:
            seconds = quirks.retry_after
            headers["Retry-After"] = str(int(seconds)) if seconds == int(seconds) else str(seconds)
        body = encode({"error": "Too many requests"})
        return web.Response(status=429, body=body, content_type="application/json", headers=headers)
    if quirks.server_error_next > 0:
        quirks.server_error_next -= 1
        return web.Response(
            status=500,
            text="<html><body><h1>500 Internal Server Error</h1></body></html>",
            content_type="text/html",
        )
    if quirks.html_page is not None:
        return cdn_page(quirks.html_page)
    return None


async def _api(request: web.Request) -> web.StreamResponse:
    sim = request.app[SIMULATOR]
    fields = await read_fields(request)
    action = fields.get("action", "")
    sim.note_request(action, fields)
    quirks = sim.quirks
    faulty = quirks.applies_to(action)
    if faulty and quirks.slow_seconds > 0:
        await asyncio.sleep(quirks.slow_seconds)
        # A client that gave up does not get its request acted on: a slow panel, not a lost answer
        # (`add_answer_delay` models the latter).
        if request.transport is None or request.transport.is_closing():
            log.info("client left during a slow %s; not acting on it", action or "request")
            sim.abandoned_count += 1
            return web.Response(status=503)
    if faulty:
        fault = _fault(request, quirks)
        if fault is not None:
            return fault
    payload, is_error = handle_action(sim, fields)
    if action == "add" and not is_error and quirks.add_answer_delay > 0:
        await asyncio.sleep(quirks.add_answer_delay)
    body = payload if isinstance(payload, bytes) else encode(payload)
    status = 200
    if is_error and faulty and quirks.errors_http_status is not None:
        status = quirks.errors_http_status
    if faulty and quirks.malformed_json:
        body = body[: max(1, len(body) // 2)]
    return web.Response(body=body, status=status, content_type="application/json")


def _reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


async def _json_object(request: web.Request) -> dict[str, Any]:
    try:
        data = await request.json() if request.body_exists else {}
    except ValueError:
        raise web.HTTPBadRequest(
            text='{"error": "body must be JSON"}', content_type="application/json"
        ) from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(
            text='{"error": "body must be a JSON object"}', content_type="application/json"
        )
    return data


async def _set_quirks(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    try:
        sim.quirks.update(await _json_object(request))
    except ValueError as error:
        return _reply({"error": str(error)}, 400)
    return _reply(sim.quirks.as_json())


async def _get_quirks(request: web.Request) -> web.Response:
    return _reply(request.app[SIMULATOR].quirks.as_json())


async def _reset_quirks(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    sim.quirks.reset()
    return _reply(sim.quirks.as_json())


async def _advance(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    seconds = (await _json_object(request)).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return _reply({"error": "seconds must be a non-negative number"}, 400)
    sim.advance(float(seconds))
    return _reply({"advanced": seconds, "changed": sim.last_advance_changed})


async def _add_key(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    data = await _json_object(request)
    key, balance, currency = data.get("key"), data.get("balance", "100"), data.get("currency")
    if not isinstance(key, str) or not key or not isinstance(balance, str | int):
        return _reply({"error": "need a non-empty string key and a string balance"}, 400)
    try:
        sim.add_key(key, str(balance), currency if isinstance(currency, str) else "USD")
    except ArithmeticError:
        return _reply({"error": "balance must be a decimal number"}, 400)
    return _reply({"keys": sim.key_count})  # never echo the key: it is a secret


async def _stats(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    return _reply(
        {
            "requests": sim.request_count,
            "actions": dict(sim.action_counts),
            "keys": sim.key_count,
            "orders": sim.order_count,
        }
    )


async def _reset_stats(request: web.Request) -> web.Response:
    request.app[SIMULATOR].reset_counters()
    return _reply({"requests": 0})


async def _set_order(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    data = await _json_object(request)
    status, remains = data.get("status"), data.get("remains")
    if (status is not None and not isinstance(status, str)) or (
        remains is not None and (isinstance(remains, bool) or not isinstance(remains, int))
    ):
        return _reply({"error": "status must be a string, remains an integer"}, 400)
    try:
        sim.set_order(str(data.get("order", "")), status=status, remains=remains)
    except KeyError:
        return _reply({"error": "Incorrect order ID"}, 404)
    except ValueError as error:
        return _reply({"error": str(error)}, 400)
    return await _show_order(request, str(data.get("order")))


async def _get_order(request: web.Request) -> web.Response:
    return await _show_order(request, request.match_info["order_id"])


async def _show_order(request: web.Request, order_id: str) -> web.Response:
    try:
        order = request.app[SIMULATOR].order(order_id)
    except KeyError:
        return _reply({"error": "Incorrect order ID"}, 404)
    return _reply(
        {
            "order": order.id,
            "service": order.service_id,
            "quantity": order.quantity,
            "link": order.link,
            "charge": f"{order.charge:.5f}",
            "status": order.status,
            "remains": order.remains,
            "start_count": order.start_count,
            "currency": order.currency,
        }
    )


async def _index(request: web.Request) -> web.Response:
    return web.Response(text="SMM panel simulator: POST /api/v2 (key, action, ...)\n")


async def serve_app(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve an app on host:port (0 = a free port); return its runner and API URL."""
    # No access log: a client sending its key in the query string would print it there. A short
    # shutdown: answers held back by `add_answer_delay` must not hold up a test's teardown.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound}/api/v2"


def build_app(sim: PanelSimulator) -> web.Application:
    """The application of one simulator."""
    app = web.Application()
    app[SIMULATOR] = sim
    for path in ("/api/v2", "/api/v2/"):
        app.router.add_route("GET", path, _api)
        app.router.add_route("POST", path, _api)
    app.router.add_get("/", _index)
    app.router.add_get("/_sim/quirks", _get_quirks)
    app.router.add_post("/_sim/quirks", _set_quirks)
    app.router.add_post("/_sim/quirks/reset", _reset_quirks)
    app.router.add_post("/_sim/advance", _advance)
    app.router.add_post("/_sim/keys", _add_key)
    app.router.add_get("/_sim/stats", _stats)
    app.router.add_post("/_sim/stats/reset", _reset_stats)
    app.router.add_post("/_sim/set_order", _set_order)
    app.router.add_get("/_sim/orders/{order_id}", _get_order)
    return app
