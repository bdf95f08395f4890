"""The fake Discord gateway: a websocket speaking gateway v10 with JSON text frames.

What it does, in Discord's order: HELLO (op 10) on connect; IDENTIFY (op 2) -> READY, then one
GUILD_CREATE per guild if the GUILDS intent is set; HEARTBEAT (op 1) -> HEARTBEAT_ACK (op 11);
RESUME (op 6) -> the missed dispatches, then RESUMED. Every dispatch has a rising ``s``; a session
keeps its dispatch log so a resumed client gets what it missed while disconnected.

Compression: discord.py 2.7.1 always connects with ``?v=10&encoding=json&compress=zlib-stream``
(``zstd-stream`` when ``zstandard`` or ``compression.zstd`` is importable) and decompresses only
BINARY frames (``DiscordWebSocket.received_message`` checks ``type(msg) is bytes``); TEXT frames
are parsed as plain JSON. So plain text frames work whatever ``compress`` says; with
``compress_frames=True`` the fake really sends zlib-stream binary frames when asked for them.
discord.py never asks for ``encoding=etf``; the fake refuses it (close 4002) rather than fake ETF.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from tests.fakes.discord_world import APPLICATION_FLAGS, World

log = logging.getLogger(__name__)

DISPATCH, HEARTBEAT, IDENTIFY, RESUME, RECONNECT, INVALID_SESSION = 0, 1, 2, 6, 7, 9
HELLO, HEARTBEAT_ACK = 10, 11
GUILDS_INTENT = 1 << 0
# GUILD_MEMBERS, GUILD_PRESENCES, MESSAGE_CONTENT: need a switch in the developer portal.
PRIVILEGED_INTENTS = (1 << 1) | (1 << 8) | (1 << 15)
_ACCEPTED_OPS = {3, 4, 8}  # presence update, voice state, request guild members: ignored


@dataclass
class GatewaySession:
    """One identified session; outlives its socket so that RESUME can continue it."""

    id: str
    intents: int
    seq: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    connection: GatewayConnection | None = None
    resumable: bool = True


class GatewayConnection:
    """One websocket; frames go out in order through a queue drained by a writer task."""

    def __init__(self, ws: web.WebSocketResponse, query: dict[str, str], zlib_stream: bool) -> None:
        self.ws = ws
        self.query = query
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self.session: GatewaySession | None = None
        self.on_sent: Callable[[dict[str, Any]], None] = lambda frame: None
        self.closed_by_server = False
        self.binary_frames = 0
        self._compressor = zlib.compressobj() if zlib_stream else None
        self.writer = asyncio.create_task(self._write_loop(), name="fake-discord-gateway-writer")

    def send(self, frame: dict[str, Any]) -> None:
        """Queue a frame."""
        self.queue.put_nowait(frame)

    async def _write_loop(self) -> None:
        while (frame := await self.queue.get()) is not None:
            text = json.dumps(frame, separators=(",", ":"))
            try:
                if self._compressor is not None:
                    data = self._compressor.compress(text.encode())
                    await self.ws.send_bytes(data + self._compressor.flush(zlib.Z_SYNC_FLUSH))
                    self.binary_frames += 1
                else:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
            self.on_sent(frame)

    async def close(self, code: int) -> None:
        """Close from the server side (the client sees ``code``) and stop the writer."""
        self.closed_by_server = True
        self.queue.put_nowait(None)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.writer, 2.0)
        await self.ws.close(code=code, message=b"fake discord closed the connection")


class Gateway:
    """All gateway state of one FakeDiscord; ``handle`` is the aiohttp websocket route."""

    def __init__(
        self,
        world: World,
        *,
        heartbeat_interval_ms: int,
        compress_frames: bool,
        allowed_privileged_intents: int,
        on_change: Callable[[], None],
    ) -> None:
        self.world = world
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.compress_frames = compress_frames
        self.allowed_privileged_intents = allowed_privileged_intents
        self.on_change = on_change
        self.resume_url = ""  # set by FakeDiscord.start once the port is known
        self.connections: list[GatewayConnection] = []
        self.connect_queries: list[dict[str, str]] = []
        self.sessions: dict[str, GatewaySession] = {}
        self.current: GatewaySession | None = None
        self.identify_payloads: list[dict[str, Any]] = []
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0
        self._closed_binary_frames = 0
        self.ready = asyncio.Event()

    # ----- the websocket route -----------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """Serve one gateway connection until either side closes it."""
        ws = web.WebSocketResponse(autoping=True, max_msg_size=0)
        await ws.prepare(request)
        query = dict(request.query)
        self.connect_queries.append({"path": request.path, **query})
        zlib_stream = self.compress_frames and query.get("compress") == "zlib-stream"
        conn = GatewayConnection(ws, query, zlib_stream)
        conn.on_sent = self._frame_sent
        self.connections.append(conn)
        self.on_change()
        if query.get("encoding", "json") != "json":
            await conn.close(4002)  # "Decode error": only JSON is spoken here
            return ws
        conn.send({"op": HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                await self._received(conn, json.loads(msg.data))
        finally:
            self._detach(conn, ws.close_code)
        return ws

    def _detach(self, conn: GatewayConnection, close_code: int | None) -> None:
        conn.queue.put_nowait(None)
        if conn in self.connections:
            self.connections.remove(conn)
            self._closed_binary_frames += conn.binary_frames
        session = conn.session
        if session is not None and session.connection is conn:
            session.connection = None
            # Discord: a client closing with 1000/1001 ends its session; other codes keep it.
            # Note discord.py 2.7.1 + aiohttp 3.14 puts 4000 on the wire even for
            # Client.close() (its reader task closes first), so its sessions stay resumable.
            if close_code in (1000, 1001) and not conn.closed_by_server:
                session.resumable = False
        self.on_change()

    async def _received(self, conn: GatewayConnection, frame: dict[str, Any]) -> None:
        op = frame.get("op")
        data = frame.get("d")
        if op == HEARTBEAT:
            self.heartbeat_count += 1
            conn.send({"op": HEARTBEAT_ACK})
            self.on_change()
        elif op == IDENTIFY:
            await self._identify(conn, data or {})
        elif op == RESUME:
            await self._resume(conn, data or {})
        elif op not in _ACCEPTED_OPS:
            log.warning("fake gateway: unknown opcode %s", op)
            await conn.close(4001)

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        redacted = {**data, "token": "<redacted>"} if "token" in data else dict(data)
        self.identify_payloads.append(redacted)
        if data.get("token") != self.world.token:
            await self._refuse(conn, 4004)  # Authentication failed
            return
        intents = data.get("intents")
        if not isinstance(intents, int):
            await self._refuse(conn, 4013)  # Invalid intent(s)
            return
        if intents & PRIVILEGED_INTENTS & ~self.allowed_privileged_intents:
            await self._refuse(conn, 4014)  # Disallowed intent(s)
            return
        session = GatewaySession(id=secrets.token_hex(16), intents=intents)
        self.sessions[session.id] = session
        self.current = session
        self._attach(conn, session)
        self.identify_count += 1
        self._emit(session, "READY", self._ready_payload(session))
        if intents & GUILDS_INTENT:
            for guild_id in self.world.guilds:
                self._emit(session, "GUILD_CREATE", self.world.guild_create_object(guild_id))
        self.on_change()

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if data.get("token") != self.world.token:
            await self._refuse(conn, 4004)
            return
        seq = data.get("seq")
        if (
            session is None
            or not session.resumable
            or not isinstance(seq, int)
            or seq > session.seq
        ):
            conn.send({"op": INVALID_SESSION, "d": False})
            return
        old = session.connection
        if old is not None and old is not conn:
            await old.close(4009)  # session taken over
        self._attach(conn, session)
        for frame in session.log:
            if frame["s"] > seq:
                conn.send(frame)
        self.resume_count += 1
        self.current = session
        self._emit(session, "RESUMED", {})
        self.on_change()

    async def _refuse(self, conn: GatewayConnection, code: int) -> None:
        await conn.close(code)

    def _attach(self, conn: GatewayConnection, session: GatewaySession) -> None:
        conn.session = session
        session.connection = conn

    def _ready_payload(self, session: GatewaySession) -> dict[str, Any]:
        return {
            "v": 10,
            "user": self.world.bot_user_object(),
            "guilds": [{"id": str(g), "unavailable": True} for g in self.world.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url,
            "application": {"id": str(self.world.application_id), "flags": APPLICATION_FLAGS},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["fake"],
            "user_settings": {},
            "shard": [0, 1],
            "_trace": ['["fake-discord-gateway",{"micros":0}]'],
        }

    def _frame_sent(self, frame: dict[str, Any]) -> None:
        if frame.get("t") == "READY":
            self.ready.set()
            self.on_change()

    # ----- what FakeDiscord uses ---------------------------------------------------------------
    @property
    def compressed_frames_sent(self) -> int:
        """Binary zlib-stream frames sent so far, over all connections."""
        return self._closed_binary_frames + sum(c.binary_frames for c in self.connections)

    def _emit(self, session: GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.seq += 1
        frame = {"op": DISPATCH, "t": event, "s": session.seq, "d": data}
        session.log.append(frame)
        if session.connection is not None:
            session.connection.send(frame)

    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a dispatch to the current session (kept for replay if it is disconnected)."""
        if self.current is None or not self.current.resumable:
            raise RuntimeError("no Discord client session: start the client and wait_ready()")
        self._emit(self.current, event, data)

    async def drop(self, code: int = 4000) -> None:
        """Close the current session's socket from the server side; the session stays resumable."""
        session = self.current
        if session is None or session.connection is None:
            raise RuntimeError("no connected Discord client to disconnect")
        conn = session.connection
        await conn.close(code)

    def request_reconnect(self) -> None:
        """Send op 7 RECONNECT: discord.py closes and resumes on ``resume_gateway_url``."""
        session = self.current
        if session is None or session.connection is None:
            raise RuntimeError("no connected Discord client")
        session.connection.send({"op": RECONNECT, "d": None})

    async def close_all(self) -> None:
        """Close every socket (server shutdown)."""
        for conn in list(self.connections):
            with contextlib.suppress(Exception):
                await conn.close(WSCloseCode.GOING_AWAY)
