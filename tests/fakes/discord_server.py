"""FakeDiscord: a real aiohttp server on 127.0.0.1 (port 0) serving Discord's gateway and REST API
well enough for the unmodified discord.py 2.7.1 stack (Client, CommandTree, ui.View/Modal).

Pointing discord.py at it (what the adapter must do with DISCORD_API_BASE_URL and
DISCORD_GATEWAY_URL), as read in discord.py 2.7.1's source:

* REST: ``discord.http.Route.BASE = DISCORD_API_BASE_URL`` (e.g. ``http://127.0.0.1:PORT/api/v10``).
  ``Route.__init__`` reads the class attribute each time a request is built, and the interaction
  webhook adapter (``discord.webhook.async_``: interaction callbacks, follow-ups, ``@original``)
  imports that same ``Route``, so this one assignment covers every REST call. Set it before
  ``client.login()``/``start()``.
* Gateway: ``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(DISCORD_GATEWAY_URL)``.
  A plain ``discord.Client`` never asks REST for the gateway: ``Client.connect`` calls
  ``DiscordWebSocket.from_client(...)``, which uses ``gateway or cls.DEFAULT_GATEWAY`` and adds
  ``?v=10&encoding=json&compress=zlib-stream`` itself. Resumes go to READY's
  ``resume_gateway_url`` (this fake answers with its own ``/resume`` URL), and after an
  INVALID_SESSION discord.py falls back to ``DEFAULT_GATEWAY`` again. There is no
  ``HTTPClient.get_gateway`` in 2.7.1; only ``AutoShardedClient`` calls
  ``HTTPClient.get_bot_gateway`` (``GET /gateway/bot``, via ``Route.BASE``) and uses its ``url``,
  which this fake also answers with ``gateway_url``.
* Both are process-wide class attributes: set them once at start-up (tests: ``monkeypatch``).
* Nothing else reaches discord.com: asset URLs (``cdn.discordapp.com``) are only strings unless
  the bot downloads them, and ``Webhook.url`` is only a property.

Use a short ``guild_ready_timeout`` (e.g. 0.05) on the test client: discord.py waits that long
after READY for GUILD_CREATEs before dispatching ``on_ready``. Stop the client before the fake:
a client whose server vanished keeps trying to reconnect.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import web

from tests.fakes import discord_components as on_message
from tests.fakes import discord_interactions as build
from tests.fakes.discord_gateway import Gateway
from tests.fakes.discord_rest import API_PREFIX, FailRule, RestApi, RestCall
from tests.fakes.discord_world import InteractionRecord, World

__all__ = ["TEST_CHANNEL_ID", "TEST_GUILD_ID", "FakeDiscord", "InteractionRef", "RestCall"]

TEST_GUILD_ID = 6001
TEST_CHANNEL_ID = 7001


@dataclass(frozen=True)
class InteractionRef:
    """An injected interaction: its id and token, type, the exact payload sent, and when."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    sent_at: float


class FakeDiscord:
    """Discord's gateway and REST API on a loopback port, recording what the bot does.

    Options: ``guild_id`` (a test guild with text channel TEST_CHANNEL_ID, or None for none);
    ``heartbeat_interval_ms`` sent in HELLO; ``compress_frames`` (real zlib-stream frames);
    ``allowed_privileged_intents`` (bits the app may request, else close 4014);
    ``callback_deadline`` (seconds to answer an interaction before it is "Unknown
    interaction" 10062, as Discord's 3 s rule; None disables it).
    """

    def __init__(
        self,
        token: str = "TEST.discord.token",
        application_id: int = 4242,
        bot_user_id: int = 4242,
        *,
        guild_id: int | None = TEST_GUILD_ID,
        heartbeat_interval_ms: int = 41_250,
        compress_frames: bool = False,
        allowed_privileged_intents: int = 0,
        callback_deadline: float | None = 3.0,
    ) -> None:
        self.token = token
        self.application_id = application_id
        self.api_base = ""
        self.gateway_url = ""
        self.resume_gateway_url = ""
        self._changed = asyncio.Event()
        self._world = World(token, application_id, bot_user_id, callback_deadline=callback_deadline)
        if guild_id is not None:
            self._world.add_guild(guild_id, "Test Guild", {TEST_CHANNEL_ID: "general"})
        self._gateway = Gateway(
            self._world,
            heartbeat_interval_ms=heartbeat_interval_ms,
            compress_frames=compress_frames,
            allowed_privileged_intents=allowed_privileged_intents,
            on_change=self._bump,
        )
        self._rest = RestApi(self._world, on_change=self._bump)
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"<FakeDiscord api_base={self.api_base!r} application_id={self.application_id}>"

    # ----- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Listen on 127.0.0.1 with a free port."""
        app = web.Application()
        app.router.add_get("/gateway", self._gateway.handle)
        app.router.add_get("/resume", self._gateway.handle)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest.handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.api_base = f"http://127.0.0.1:{port}{API_PREFIX}"
        self.gateway_url = f"ws://127.0.0.1:{port}/gateway"
        self.resume_gateway_url = f"ws://127.0.0.1:{port}/resume"
        self._world.gateway_url = self.gateway_url
        self._gateway.resume_url = self.resume_gateway_url

    async def stop(self) -> None:
        """Close every gateway socket and the server."""
        await self._gateway.close_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ----- recorded state ----------------------------------------------------------------------
    @property
    def calls(self) -> list[RestCall]:
        """Every REST request, in arrival order (including refused and failed ones)."""
        return self._rest.calls

    @property
    def unmatched(self) -> list[RestCall]:
        """Requests to routes the fake does not know (answered 404/405): assert it stays empty."""
        return self._rest.unmatched

    @property
    def identify_count(self) -> int:
        """Successful IDENTIFYs (each starts a new session)."""
        return self._gateway.identify_count

    @property
    def resume_count(self) -> int:
        """Successful RESUMEs."""
        return self._gateway.resume_count

    @property
    def heartbeat_count(self) -> int:
        """HEARTBEATs received (each answered with HEARTBEAT_ACK)."""
        return self._gateway.heartbeat_count

    @property
    def connection_count(self) -> int:
        """Gateway websockets open right now."""
        return len(self._gateway.connections)

    @property
    def compressed_frames_sent(self) -> int:
        """Gateway frames sent zlib-stream compressed (only with ``compress_frames=True``)."""
        return self._gateway.compressed_frames_sent

    @property
    def identify_payloads(self) -> list[dict[str, Any]]:
        """IDENTIFY ``d`` payloads as received, the token replaced by ``<redacted>``."""
        return self._gateway.identify_payloads

    @property
    def gateway_connects(self) -> list[dict[str, str]]:
        """One entry per websocket connect: its path (``/gateway`` or ``/resume``) and query."""
        return self._gateway.connect_queries

    @property
    def command_syncs(self) -> list[list[dict[str, Any]]]:
        """Each global bulk overwrite body, as sent."""
        return self._world.command_syncs

    @property
    def commands(self) -> list[dict[str, Any]]:
        """The global command set now registered (as Discord returns it, with ids)."""
        return self._world.commands

    @property
    def guild_command_syncs(self) -> dict[int, list[list[dict[str, Any]]]]:
        """Guild bulk overwrite bodies by guild id."""
        return self._world.guild_command_syncs

    @property
    def guild_commands(self) -> dict[int, list[dict[str, Any]]]:
        """Registered guild commands by guild id."""
        return self._world.guild_commands

    @property
    def dms(self) -> dict[int, list[dict[str, Any]]]:
        """User id -> messages the bot posted in its DM channel with them."""
        return self._world.dms

    @property
    def dm_closed(self) -> set[int]:
        """User ids whose DMs refuse the bot (``403 {"code": 50007}`` on every DM)."""
        return self._world.dm_closed

    @property
    def messages(self) -> dict[int, dict[str, Any]]:
        """Every message that exists now (bot posts, interaction replies), by id."""
        return self._world.messages

    def calls_matching(self, method: str, path_regex: str) -> list[RestCall]:
        """Calls whose method equals ``method`` ("*" = any) and whose path fully matches."""
        return [c for c in self.calls if _matches(c, method, path_regex)]

    # ----- waiting -----------------------------------------------------------------------------
    def _bump(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_until(
        self,
        condition: Callable[[], bool],
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the test-facing API takes a plain timeout
    ) -> None:
        """Wait until ``condition()`` holds, re-checking whenever the fake's state changes."""
        deadline = time.monotonic() + timeout
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"condition not met within {timeout:.1f}s")
            changed = self._changed
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                continue

    async def wait_for_call(
        self,
        method: str,
        path_regex: str,
        predicate: Callable[[RestCall], bool] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the test-facing API takes a plain timeout
        after: int = 0,
    ) -> RestCall:
        """The first call at index >= ``after`` matching method, path and predicate."""
        found: list[RestCall] = []

        def seen() -> bool:
            for call in self.calls[after:]:
                if _matches(call, method, path_regex) and (predicate is None or predicate(call)):
                    found.append(call)
                    return True
            return False

        try:
            await self.wait_until(seen, timeout=timeout)
        except TimeoutError:
            recent = [f"{c.method} {c.path} -> {c.status}" for c in self.calls[after:][-10:]]
            raise TimeoutError(
                f"no {method} {path_regex} within {timeout}s; saw {recent}"
            ) from None
        return found[0]

    async def wait_ready(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Wait until a client has identified and READY has been sent to it."""
        try:
            await asyncio.wait_for(self._gateway.ready.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"no client identified within {timeout}s") from None

    # ----- injected interactions ---------------------------------------------------------------
    def _send(self, record: InteractionRecord) -> InteractionRef:
        self._gateway.dispatch("INTERACTION_CREATE", record.payload)
        return InteractionRef(record.id, record.token, record.type, record.payload, record.sent_at)

    def _require_session(self) -> None:
        if self._gateway.current is None:
            raise RuntimeError("no Discord client session: start the client and wait_ready()")

    def slash_command(
        self,
        name: str,
        options: dict[str, Any] | None = None,
        *,
        user_id: int = 5001,
        guild_id: int | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
    ) -> InteractionRef:
        """A user runs ``/name`` ("cmd sub" for subcommands). Without ``guild_id`` it happens in
        the bot's DM with the user; with it, in ``channel_id`` (default: the guild's first)."""
        self._require_session()
        record = build.slash_command_record(
            self._world,
            name,
            options,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            locale=locale,
        )
        return self._send(record)

    def autocomplete(
        self,
        name: str,
        options: dict[str, Any],
        focused: str,
        *,
        user_id: int = 5001,
        guild_id: int | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
    ) -> InteractionRef:
        """A user types into option ``focused`` of ``/name``; its value is sent as a string."""
        self._require_session()
        record = build.autocomplete_record(
            self._world,
            name,
            options,
            focused,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            locale=locale,
        )
        return self._send(record)

    def press_component(
        self,
        custom_id: str,
        *,
        message: dict[str, Any] | None = None,
        user_id: int = 5001,
        values: list[str] | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
    ) -> InteractionRef:
        """A user presses a button (or picks ``values`` in a select) on ``message``; by default
        the newest bot message carrying ``custom_id``, else a bot message made up for it."""
        self._require_session()
        record = on_message.component_record(
            self._world,
            custom_id,
            message=message,
            values=values,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            locale=locale,
        )
        return self._send(record)

    def submit_modal(
        self,
        custom_id: str,
        fields: Mapping[str, str | list[str]],
        *,
        user_id: int = 5001,
        guild_id: int | None = None,
        channel_id: int | None = None,
        locale: str = "en-US",
    ) -> InteractionRef:
        """A user submits the modal the bot opened with ``custom_id`` (fields: input custom_id ->
        value); the submission mirrors that modal's layout (rows or labels)."""
        self._require_session()
        record = on_message.modal_submit_record(
            self._world,
            custom_id,
            fields,
            user_id=user_id,
            guild_id=guild_id,
            channel_id=channel_id,
            locale=locale,
        )
        return self._send(record)

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send any other dispatch event to the connected client."""
        self._gateway.dispatch(event, data)

    async def wait_for_response(
        self,
        ref: InteractionRef,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the test-facing API takes a plain timeout
    ) -> RestCall:
        """The callback POST for that interaction."""
        path = rf"/interactions/{ref.id}/{re.escape(ref.token)}/callback"
        return await self.wait_for_call("POST", path, timeout=timeout)

    def responses_for(self, ref: InteractionRef) -> list[RestCall]:
        """Callback, follow-ups and edits made with that interaction's token, in order."""
        return [c for c in self.calls if ref.token in c.path.split("/")]

    def original_message(self, ref: InteractionRef) -> dict[str, Any] | None:
        """The interaction's original response message as it stands now, if any."""
        record = self._world.interactions[ref.id]
        if record.original_message_id is None:
            return None
        return self._world.messages.get(record.original_message_id)

    def modal_opened(self, ref: InteractionRef) -> dict[str, Any] | None:
        """The modal (callback type 9 ``data``) the bot opened in answer to ``ref``."""
        return self._world.interactions[ref.id].modal

    # ----- failure injection -------------------------------------------------------------------
    def fail_next(
        self,
        method: str,
        path_regex: str,
        status: int,
        body: dict[str, Any] | None = None,
        *,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``times`` matching requests with ``status`` and ``body`` (default:
        Discord's error body for that status). A 429 gets Discord's rate-limit body
        (``retry_after`` default 0.05 s) and ``Retry-After``/``X-RateLimit-*`` headers."""
        rule = FailRule(method.upper(), path_regex, status, body, times, retry_after)
        self._rest.fail_rules.append(rule)

    async def force_disconnect(self, code: int = 4000) -> None:
        """Close the client's gateway socket from the server side; discord.py then RESUMEs."""
        await self._gateway.drop(code)

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT; discord.py closes and RESUMEs."""
        self._gateway.request_reconnect()


def _matches(call: RestCall, method: str, path_regex: str) -> bool:
    return method.upper() in ("*", call.method) and re.fullmatch(path_regex, call.path) is not None
