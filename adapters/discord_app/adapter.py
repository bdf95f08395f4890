"""DiscordAdapter: logs in, syncs the slash commands when they changed, serves interactions on
the gateway, and delivers pushed alerts by DM (the core's Sender for Discord)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket

from adapters.discord_app.commands import sync_commands
from adapters.discord_app.forms import prompt_button
from adapters.discord_app.interactions import PLATFORM, InteractionRouter
from adapters.discord_app.render import NO_MENTIONS, plan_alert
from bot.core.app import BotCore
from bot.core.seam import DeliveryError, Platform, Recipient, RecipientUnreachable, Reply
from bot.log_safety import clamp_library_loggers, secrets
from bot.settings import Settings

log = logging.getLogger(__name__)

READY_TIMEOUT_SECONDS = 60.0
# Interactions still being answered get this long to finish when the bot stops.
STOP_GRACE_SECONDS = 10.0
CLOSE_TIMEOUT_SECONDS = 5.0
# The bot asks for no intents, so no GUILD_CREATE follows READY: waiting for them is pointless.
GUILD_READY_TIMEOUT_SECONDS = 0.1
# A 429 asking to wait longer than this raises RateLimited (a DeliveryError for alerts, which the
# outbox retries later) instead of being slept through inside the request. 30 s is the smallest
# value discord.py 2.7 accepts (it raises lower ones to 30); shorter waits are still slept.
RATE_LIMIT_WAIT_SECONDS = 30.0
# Gateway close codes after which discord.py gives up for good.
# https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes
_FATAL_CLOSE_CODES = {
    4004: "authentication failed: the bot token is wrong or was reset",
    4010: "invalid shard",
    4011: "sharding required",
    4012: "invalid API version",
    4013: "invalid intents",
    4014: "disallowed intents: enable them in the developer portal or stop asking for them",
}


def point_library_at(settings: Settings) -> None:
    """Send discord.py's REST calls and gateway connection to the configured addresses.

    Both are process-wide class attributes in discord.py 2.7 (`Route.BASE` also serves the
    interaction webhooks); there is one Discord bot per process.
    """
    discord.http.Route.BASE = settings.discord_api_base_url.rstrip("/")
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.discord_gateway_url)


class _NoGuildsIntentWarning(logging.Filter):
    """Drops discord.py's start-up warning about the guilds intent, which the bot does without."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Keep every record but that one warning."""
        return not str(record.msg).startswith("Guilds intent seems to be disabled")


_STATE_LOG = logging.getLogger("discord.state")


def _quiet_guilds_warning() -> None:
    if not any(isinstance(item, _NoGuildsIntentWarning) for item in _STATE_LOG.filters):
        _STATE_LOG.addFilter(_NoGuildsIntentWarning())


class _Client(discord.Client):
    """The discord.py client, forwarding the events the adapter needs."""

    def __init__(self, adapter: DiscordAdapter) -> None:
        # No intents at all: interactions and DMs the bot starts need none, and no privileged
        # intent (message content, members, presences) is ever requested. Without the guilds
        # intent discord.py keeps no server cache, which the bot never reads (it only uses the
        # ids an interaction carries), so its warning about that intent is filtered out.
        _quiet_guilds_warning()
        # The bot never joins voice: no warnings about the voice libraries it does not install.
        discord.VoiceClient.warn_nacl = False
        discord.VoiceClient.warn_dave = False
        super().__init__(
            intents=discord.Intents.none(),
            allowed_mentions=NO_MENTIONS,
            guild_ready_timeout=GUILD_READY_TIMEOUT_SECONDS,
            max_ratelimit_timeout=RATE_LIMIT_WAIT_SECONDS,
        )
        self.adapter = adapter

    async def on_ready(self) -> None:
        """READY arrived: the adapter is serving."""
        self.adapter.ready.set()

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """Every interaction (commands, autocomplete, buttons, modals) goes to the router."""
        await self.adapter.serve(interaction)


class DiscordAdapter:
    """The Discord front end of the bot, and its Sender for alerts."""

    platform: Platform = "discord"

    def __init__(
        self,
        core: BotCore,
        settings: Settings,
        *,
        ready_timeout: float = READY_TIMEOUT_SECONDS,
        stop_grace: float = STOP_GRACE_SECONDS,
    ) -> None:
        self.core = core
        self.settings = settings
        self.router = InteractionRouter(core)
        self.ready = asyncio.Event()
        self._ready_timeout = ready_timeout
        self._stop_grace = stop_grace
        self._client: _Client | None = None
        self._gateway: asyncio.Task[None] | None = None
        self._in_flight: set[asyncio.Task[object]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        # After the stop grace: interactions still arriving are left unanswered.
        self._refusing = False
        # Set when the gateway connection ended for good on its own (a reset token, refused
        # intents): the process should stop so that its supervisor restarts it. `failure` says why.
        self.failed = asyncio.Event()
        self.failure = ""

    def __repr__(self) -> str:
        return f"<DiscordAdapter api={self.settings.discord_api_base_url!r}>"

    # ----- life cycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Log in, sync the commands if they changed, connect; return once READY."""
        token = self.settings.discord_bot_token
        if token is None:
            raise RuntimeError("DISCORD_BOT_TOKEN is not set")
        secrets.add(token.get_secret_value())
        # discord.py logs whole gateway payloads (modal inputs holding API keys) at DEBUG.
        clamp_library_loggers()
        point_library_at(self.settings)
        self.ready.clear()
        self.failed.clear()
        self.failure = ""
        self._refusing = False
        client = _Client(self)
        self._client = client
        try:
            await client.login(token.get_secret_value())
            application_id = client.application_id
            if application_id is None:
                raise RuntimeError("Discord did not tell the bot its application id")
            await sync_commands(client.http, self.core.res.db, application_id, self.core.commands)
            self._gateway = asyncio.create_task(client.connect(reconnect=True), name="discord")
            await self._wait_ready(self._gateway)
        except BaseException:
            await self._close_client()
            raise
        self._gateway.add_done_callback(self._gateway_ended)
        self.router.bot_user_id = client.user.id if client.user else None
        log.info("Discord: serving as %s (application %s)", client.user, application_id)

    async def _wait_ready(self, gateway: asyncio.Task[None]) -> None:
        ready = asyncio.ensure_future(self.ready.wait())
        try:
            done, _ = await asyncio.wait(
                {gateway, ready}, timeout=self._ready_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ready.cancel()
        if ready in done:
            return
        if gateway in done:
            error = gateway.exception()
            if error is None:
                raise ConnectionError("the Discord gateway closed before READY")
            if isinstance(error, discord.DiscordException):
                raise error  # a refusal Discord explained (token, intents, sharding)
            # discord.py 2.7 cannot retry a first connection that failed (its retry reads the
            # socket it never got), so an unreachable gateway ends up here as any error.
            raise ConnectionError(
                f"could not connect to the Discord gateway ({type(error).__name__}: {error})"
            ) from error
        raise TimeoutError(f"Discord was not READY within {self._ready_timeout:.0f} s")

    def _gateway_ended(self, task: asyncio.Task[None]) -> None:
        if task is not self._gateway:
            return  # closed by stop()
        # discord.py reconnects by itself after network trouble; its connect() only returns or
        # raises when Discord refused the bot for good.
        self.failure = _why_gateway_ended(task)
        log.debug("Discord: the gateway connection ended: %s", self.failure)
        self.failed.set()

    async def stop(self) -> None:
        """Let interactions in flight finish (briefly), cancel the rest, close the connection."""
        if self._client is None:
            return
        if not await self.drain(self._stop_grace):
            await self._cancel_in_flight()
        await self._close_client()
        await self.router.close()
        log.info("Discord adapter stopped")

    async def _cancel_in_flight(self) -> None:
        # They must not outlive the adapter: after stop() the runtime closes the database and the
        # panel client they use.
        self._refusing = True
        tasks = list(self._in_flight)
        if not tasks:
            return  # the last one finished just as the grace ran out
        log.warning(
            "Discord: cancelling %d interaction(s) still running after %.0f s",
            len(tasks),
            self._stop_grace,
        )
        for task in tasks:
            task.cancel()
        _, stuck = await asyncio.wait(tasks, timeout=CLOSE_TIMEOUT_SECONDS)
        if stuck:
            log.error("Discord: %d interaction(s) did not stop when cancelled", len(stuck))

    @property
    def in_flight(self) -> int:
        """Interactions being answered right now."""
        return len(self._in_flight)

    async def _close_client(self) -> None:
        client, gateway = self._client, self._gateway
        self._client, self._gateway = None, None
        self.ready.clear()
        if client is not None:
            await client.close()
        if gateway is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(gateway, CLOSE_TIMEOUT_SECONDS)

    # ----- interactions --------------------------------------------------------------------------
    async def serve(self, interaction: discord.Interaction) -> None:
        """Answer one interaction, counted as in flight until its answer is sent."""
        if self._refusing:
            log.debug("Discord: stopping; interaction %s left unanswered", interaction.id)
            return
        task = asyncio.current_task()
        if task is not None:
            self._in_flight.add(task)
            self._idle.clear()
        try:
            await self.router.dispatch(interaction)
        finally:
            if task is not None:
                self._in_flight.discard(task)
                if not self._in_flight:
                    self._idle.set()

    async def drain(self, grace: float) -> bool:
        """Wait until no interaction is being answered (True), or `grace` seconds (False)."""
        try:
            async with asyncio.timeout(grace):
                # An interaction arriving meanwhile clears the event again.
                while not self._idle.is_set():
                    await self._idle.wait()
        except TimeoutError:
            return False
        return True

    # ----- Sender --------------------------------------------------------------------------------
    async def send(self, recipient: Recipient, reply: Reply) -> None:
        """DM `reply` to the user; RecipientUnreachable when they do not accept DMs from the bot."""
        if recipient.platform != PLATFORM:
            raise DeliveryError(f"not a Discord recipient ({recipient.platform})")
        client = self._client
        if client is None or client.is_closed():
            raise DeliveryError("the Discord adapter is not connected")
        if not recipient.user_id.isdigit():
            raise RecipientUnreachable("not a Discord user id")
        button = prompt_button(reply.prompt) if reply.prompt is not None else None
        message = plan_alert(reply, button)
        if message is None:
            return
        try:
            channel = await client.create_dm(discord.Object(int(recipient.user_id)))
            view = message.view()
            if view is None:
                await channel.send(message.content, allowed_mentions=NO_MENTIONS)
            else:
                await channel.send(message.content or None, view=view, allowed_mentions=NO_MENTIONS)
        except discord.Forbidden as error:
            # 50007: the user closed DMs from server members, blocked the bot, or left every
            # server it shares with the bot. Retrying cannot help.
            raise RecipientUnreachable(
                f"Discord refuses DMs to this user (code {error.code})"
            ) from error
        except discord.NotFound as error:
            raise RecipientUnreachable(
                f"Discord does not know this user (code {error.code})"
            ) from error
        except discord.RateLimited as error:
            # Only waits over RATE_LIMIT_WAIT_SECONDS get here; the outbox retries after it.
            raise DeliveryError(
                f"Discord rate limit: retry in {error.retry_after:g} s",
                retry_after=error.retry_after,
            ) from error
        except discord.HTTPException as error:
            raise DeliveryError(
                f"Discord refused the DM (HTTP {error.status}, code {error.code})"
            ) from error
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise DeliveryError(f"Discord could not be reached ({type(error).__name__})") from error


def _why_gateway_ended(task: asyncio.Task[None]) -> str:
    """Why the gateway task ended, for the log line that ends the process (never the token)."""
    if task.cancelled():
        return "the gateway connection was cancelled"
    error = task.exception()
    if isinstance(error, discord.PrivilegedIntentsRequired):
        return f"Discord closed the gateway with code 4014 ({_FATAL_CLOSE_CODES[4014]})"
    if isinstance(error, discord.ConnectionClosed):
        meaning = _FATAL_CLOSE_CODES.get(error.code, "it cannot be resumed")
        return f"Discord closed the gateway with code {error.code} ({meaning})"
    if error is not None:
        return secrets.scrub(f"the gateway connection failed ({type(error).__name__}: {error})")
    return "the gateway connection ended"
