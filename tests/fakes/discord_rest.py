"""The fake Discord REST API under ``/api/v10``: routing, ``Bot`` authorization, recording of every
request, injected failures (with Discord's real 429 shape) and response headers.

Every response carries ``Via`` and ``X-RateLimit-*`` headers like Discord's: discord.py treats a
429 without ``Via`` as a Cloudflare ban and raises instead of retrying, and it reads JSON only
when ``Content-Type`` is exactly ``application/json``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, web

from tests.fakes import discord_rest_handlers as h
from tests.fakes.discord_world import World

log = logging.getLogger(__name__)

API_PREFIX = "/api/v10"
Handler = Callable[[World, h.Req], h.Reply]


@dataclass(frozen=True)
class RestCall:
    """One recorded request: ``path`` is relative to the API base (``/users/@me``); ``json`` is
    the JSON body (or a multipart ``payload_json``); ``time`` is ``time.monotonic()``."""

    method: str
    path: str
    json: Any
    query: dict[str, str]
    time: float
    status: int = 0
    files: tuple[str, ...] = ()


@dataclass
class FailRule:
    """An injected failure for the next ``times`` requests matching method and path."""

    method: str
    path_regex: str
    status: int
    body: dict[str, Any] | None
    times: int
    retry_after: float | None
    headers: dict[str, str] = field(default_factory=dict)


_DEFAULT_ERRORS: dict[int, tuple[str, int]] = {
    400: ("400: Bad Request", 0),
    401: ("401: Unauthorized", 0),
    403: ("Missing Permissions", 50013),
    404: ("404: Not Found", 0),
    405: ("405: Method Not Allowed", 0),
    500: ("500: Internal Server Error", 0),
    502: ("502: Bad Gateway", 0),
    503: ("503: Service Unavailable", 0),
}

Route = tuple[frozenset[str], re.Pattern[str], Handler, bool]


def _route(methods: str, pattern: str, handler: Handler, *, auth: bool = True) -> Route:
    return frozenset(methods.split("|")), re.compile(pattern), handler, auth


_APP = r"/applications/(?P<app>\d+)"
_HOOK = r"/webhooks/(?P<app>\d+)/(?P<wtoken>[^/]+)"
# Interaction callbacks and interaction webhooks are authorized by the token in their path;
# discord.py sends no Authorization header on them. Everything else needs "Bot <token>".
_ROUTES: list[Route] = [
    _route("GET", r"/users/@me", h.get_me),
    _route("GET", r"/users/(?P<user_id>\d+)", h.get_user),
    _route("POST", r"/users/@me/channels", h.create_dm),
    _route("GET", r"/oauth2/applications/@me", h.get_application),
    _route("GET", r"/gateway", h.get_gateway, auth=False),
    _route("GET", r"/gateway/bot", h.get_gateway_bot),
    _route("GET", _APP + r"/commands", h.list_commands),
    _route("PUT", _APP + r"/commands", h.put_commands),
    _route("GET", _APP + r"/guilds/(?P<guild>\d+)/commands", h.list_commands),
    _route("PUT", _APP + r"/guilds/(?P<guild>\d+)/commands", h.put_commands),
    _route(
        "POST",
        r"/interactions/(?P<iid>\d+)/(?P<itoken>[^/]+)/callback",
        h.interaction_callback,
        auth=False,
    ),
    _route("POST", _HOOK, h.followup_create, auth=False),
    _route(
        "GET|PATCH|DELETE",
        _HOOK + r"/messages/(?P<mid>@original|\d+)",
        h.webhook_message,
        auth=False,
    ),
    _route("GET", r"/channels/(?P<cid>\d+)", h.get_channel),
    _route("POST", r"/channels/(?P<cid>\d+)/messages", h.create_message),
    _route("GET|PATCH|DELETE", r"/channels/(?P<cid>\d+)/messages/(?P<mid>\d+)", h.channel_message),
]


class RestApi:
    """The REST half of FakeDiscord; ``handle`` is the aiohttp catch-all route."""

    def __init__(self, world: World, on_change: Callable[[], None]) -> None:
        self.world = world
        self.on_change = on_change
        self.calls: list[RestCall] = []
        self.unmatched: list[RestCall] = []
        self.fail_rules: list[FailRule] = []

    async def handle(self, request: web.Request) -> web.Response:
        """Serve one REST request."""
        received = time.monotonic()
        path = request.path[len(API_PREFIX) :] or "/"
        body, files = await _read_body(request)
        query = dict(request.query)
        req = h.Req(request.method, path, {}, body, query, files, received)
        status, payload, headers, routed = self._answer(request, req)
        call = RestCall(request.method, path, body, query, received, status, files)
        self.calls.append(call)
        if not routed:
            self.unmatched.append(call)
            log.warning("fake Discord: unhandled route %s %s", request.method, path)
        self.on_change()
        return _response(status, payload, headers, _bucket(request.method, path))

    def _answer(self, request: web.Request, req: h.Req) -> tuple[int, Any, dict[str, str], bool]:
        """(status, body, extra headers, whether a route matched)."""
        rule = self._take_rule(req.method, req.path)
        if rule is not None:
            return (*_failure(rule), True)
        methods_seen = False
        for methods, pattern, handler, needs_auth in _ROUTES:
            match = pattern.fullmatch(req.path)
            if match is None:
                continue
            methods_seen = True
            if req.method not in methods:
                continue
            if needs_auth and request.headers.get("Authorization") != f"Bot {self.world.token}":
                status, payload = h.error(401, "401: Unauthorized")
                return status, payload, {}, True
            params = {k: v for k, v in match.groupdict().items() if v is not None}
            routed = dataclasses.replace(req, params=params)
            status, payload = handler(self.world, routed)
            return status, payload, {}, True
        status, payload = (
            h.error(405, "405: Method Not Allowed")
            if methods_seen
            else h.error(404, "404: Not Found")
        )
        return status, payload, {}, False

    def _take_rule(self, method: str, path: str) -> FailRule | None:
        for rule in self.fail_rules:
            if rule.method.upper() in ("*", method) and re.fullmatch(rule.path_regex, path):
                rule.times -= 1
                if rule.times <= 0:
                    self.fail_rules.remove(rule)
                return rule
        return None


def _failure(rule: FailRule) -> tuple[int, Any, dict[str, str]]:
    if rule.status != 429:
        message, code = _DEFAULT_ERRORS.get(rule.status, (f"{rule.status}: Error", 0))
        plain = rule.body if rule.body is not None else {"message": message, "code": code}
        return rule.status, plain, dict(rule.headers)
    retry_after = rule.retry_after if rule.retry_after is not None else 0.05
    body: dict[str, Any] = dict(rule.body or {})
    body.setdefault("message", "You are being rate limited.")
    body.setdefault("retry_after", retry_after)
    body.setdefault("global", False)
    is_global = bool(body["global"])
    headers = {
        "Retry-After": str(max(1, math.ceil(float(body["retry_after"])))),
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": f"{time.time() + float(body['retry_after']):.3f}",
        "X-RateLimit-Reset-After": f"{float(body['retry_after']):.3f}",
        "X-RateLimit-Scope": "global" if is_global else "user",
    }
    if is_global:
        headers["X-RateLimit-Global"] = "true"
    headers.update(rule.headers)
    return 429, body, headers


async def _read_body(request: web.Request) -> tuple[Any, tuple[str, ...]]:
    """The JSON body; for multipart (file uploads) the ``payload_json`` part and file names."""
    if not request.body_exists:
        return None, ()
    if request.content_type.startswith("multipart/"):
        payload: Any = None
        files: list[str] = []
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            else:
                files.append(part.filename or part.name or "")
                await part.read()
        return payload, tuple(files)
    raw = await request.read()
    try:
        return json.loads(raw), ()
    except ValueError:
        return raw.decode("utf-8", "replace"), ()


def _bucket(method: str, path: str) -> str:
    # One bucket per route shape, with ids (and tokens) folded like Discord's major parameters.
    shape = re.sub(r"/\d+", "/{id}", path)
    return hashlib.sha1(f"{method} {shape}".encode()).hexdigest()[:16]


def _response(status: int, payload: Any, headers: dict[str, str], bucket: str) -> web.Response:
    base = {
        "Via": "1.1 google",
        "X-RateLimit-Bucket": bucket,
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
        "X-RateLimit-Reset-After": "1.000",
    }
    base.update(headers)
    if payload is None:
        return web.Response(status=status, headers=base)
    base["Content-Type"] = "application/json"
    return web.Response(status=status, body=json.dumps(payload).encode(), headers=base)
