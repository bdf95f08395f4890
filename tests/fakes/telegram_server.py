"""A fake Telegram Bot API server on 127.0.0.1 that the real python-telegram-bot stack can poll."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import re
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal, get_args

from aiohttp import web

from tests.fakes.telegram_markup import utf16_len
from tests.fakes.telegram_rules import NOT_MODIFIED, BotApiError, bad_request
from tests.fakes.telegram_state import (
    CALLBACK_EXPIRY_SECONDS,
    ApiCall,
    BotApiState,
    without_reply,
)

__all__ = ["ApiCall", "FailureKind", "FakeTelegram"]

log = logging.getLogger(__name__)

FailureKind = Literal[
    "not_modified", "blocked", "retry_after", "bad_request", "chat_not_found", "conflict"
]

# Values PTB sends as plain strings; every other form field is JSON-encoded (ints, bools, objects).
_STRING_PARAMS = frozenset(
    {"text", "parse_mode", "callback_query_id", "url", "language_code", "action", "caption"}
    | {"inline_message_id", "business_connection_id", "message_effect_id", "secret_token"}
)
_COMMAND = re.compile(r"(?<![^\s(])/[A-Za-z0-9_]{1,64}(?:@[A-Za-z0-9_]{3,32})?(?![\w@/])")
_PATH = re.compile(r"/bot([^/]*)/([A-Za-z]+)/?")


class FakeTelegram(BotApiState):
    """A real aiohttp server speaking enough of the Bot API for PTB polling, sends and edits."""

    def __init__(
        self,
        token: str = "123456:TEST-token",
        bot_username: str = "smm_test_bot",
        *,
        long_poll_cap: float = 1.0,
        callback_expiry: float = CALLBACK_EXPIRY_SECONDS,
    ) -> None:
        super().__init__(
            token, bot_username, long_poll_cap=long_poll_cap, callback_expiry=callback_expiry
        )
        self.url = ""
        self.unauthorized_requests = 0
        self._next_callback_id = 4_200_000_000_000_001
        self._failures: dict[str, list[BotApiError]] = {}
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"FakeTelegram(url={self.url!r}, bot_username={self.bot_username!r})"

    # ---- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on 127.0.0.1 on a free port; returns the base url (PTB base_url is url + /bot)."""
        self._closing = False
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        # access_log=None: the default access log would print the token from every request path.
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        """Wake every pending long poll and close the server."""
        self._closing = True
        self._wake_pollers()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeTelegram:
        """Start the server."""
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        await self.stop()

    # ---- what tests read -------------------------------------------------------------------

    @property
    def unknown_calls(self) -> list[ApiCall]:
        """Calls of methods the fake does not know (answered 404)."""
        return [call for call in self.calls if call.status == 404]

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every call of one method, in order."""
        return [call for call in self.calls if call.method == method]

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[ApiCall], bool] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109 - the brief's API; tests read better with it
        after: int = 0,
    ) -> ApiCall:
        """The first call of `method` (any status) with index >= after that matches; waits."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            for call in self.calls[after:]:
                if call.method == method and (predicate is None or predicate(call)):
                    return call
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                seen = [f"{c.method}:{c.status}" for c in self.calls[after:]]
                raise TimeoutError(f"no matching {method} call within {timeout}s; saw {seen}")
            event = self._call_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def last_bot_message(self, chat_id: int) -> dict[str, Any] | None:
        """The newest message the bot sent to this chat and has not deleted."""
        chat = self.messages.get(chat_id) or {}
        return chat[max(chat)] if chat else None

    def keyboard(self, message: dict[str, Any]) -> list[list[dict[str, Any]]]:
        """Inline keyboard rows of the current version of a message ([] when it has none)."""
        current = self._current(message) or message
        markup = current.get("reply_markup") or {}
        rows: list[list[dict[str, Any]]] = markup.get("inline_keyboard", [])
        return rows

    def find_button(self, message: dict[str, Any], label_part: str) -> dict[str, Any]:
        """The one button whose text equals, or else uniquely contains, label_part."""
        buttons = [button for row in self.keyboard(message) for button in row]
        exact = [b for b in buttons if b["text"] == label_part]
        found = exact or [b for b in buttons if label_part in b["text"]]
        if len(found) != 1:
            labels = [b["text"] for b in buttons]
            raise LookupError(f"{len(found)} buttons match {label_part!r}; buttons: {labels}")
        return found[0]

    # ---- what tests inject -----------------------------------------------------------------

    def send_message(
        self,
        text: str,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        chat_type: str = "private",
        first_name: str = "Alice",
        username: str | None = "alice",
        reply_to: int | None = None,
    ) -> dict[str, Any]:
        """A user writes to the bot; /commands carry bot_command entities like real clients."""
        user = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        if username:
            user["username"] = username
        self._users[user_id] = user
        if chat_type == "private":
            chat_id = user_id if chat_id is None else chat_id
            chat = {"id": chat_id, "type": "private", "first_name": first_name}
            if username:
                chat["username"] = username
        else:
            default_id = -user_id if chat_type == "group" else -1_000_000_000_000 - user_id
            chat_id = default_id if chat_id is None else chat_id
            chat = {"id": chat_id, "type": chat_type, "title": f"Test {chat_type}"}
        self._chats[chat_id] = chat
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        entities = [
            {
                "type": "bot_command",
                "offset": utf16_len(text[: m.start()]),
                "length": utf16_len(m[0]),
            }
            for m in _COMMAND.finditer(text)
        ]
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            target = self._find_message(chat_id, reply_to)
            if target is None:
                raise LookupError(f"no message {reply_to} in chat {chat_id} to reply to")
            message["reply_to_message"] = without_reply(target)
        self.user_messages.setdefault(chat_id, {})[message["message_id"]] = message
        self._push_update({"message": message})
        return message

    def press_button(
        self,
        message: dict[str, Any] | int,
        data: str,
        *,
        user_id: int = 1001,
        chat_id: int | None = None,
        check_exists: bool = True,
    ) -> str:
        """A user presses an inline button; returns the callback query id.

        With check_exists the button must be on the message's current keyboard, as in a real
        client; pass False to forge callback data the bot never sent.
        """
        if isinstance(message, int):
            where = user_id if chat_id is None else chat_id
            found = self.messages.get(where, {}).get(message)
            if found is None:
                raise LookupError(f"the bot has no message {message} in chat {where}")
            message = found
        current = self._current(message)
        if check_exists:
            if current is None:
                raise LookupError("that message was deleted or never sent by the bot")
            datas = [b.get("callback_data") for row in self.keyboard(current) for b in row]
            if data not in datas:
                raise LookupError(f"no button with callback_data {data!r}; have {datas}")
        query_id = str(self._next_callback_id)
        self._next_callback_id += 1
        user = self._users.get(user_id) or {"id": user_id, "is_bot": False, "first_name": "User"}
        query = {
            "id": query_id,
            "from": user,
            "message": copy.deepcopy(current or message),
            "chat_instance": str(abs(message["chat"]["id"]) * 7 + 3),
            "data": data,
        }
        self._open_callbacks[query_id] = time.monotonic()
        self._push_update({"callback_query": query})
        return query_id

    # ---- error injection -------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        kind: FailureKind,
        *,
        times: int = 1,
        retry_after: int = 1,
        description: str | None = None,
    ) -> None:
        """Make the next `times` calls of `method` fail the way Telegram fails them."""
        name = self._canonical.get(method.lower())
        if name is None:
            raise ValueError(f"the fake does not implement {method}")
        if kind not in get_args(FailureKind):
            raise ValueError(f"unknown failure kind {kind!r}")
        queue = self._failures.setdefault(name, [])
        queue.extend(_injected_error(name, kind, retry_after, description) for _ in range(times))

    def revoke_token(self) -> None:
        """The owner revokes the token (BotFather /revoke): every call with it answers 401."""
        self.token = f"{self.bot_id}:revoked-{time.monotonic_ns()}"

    def block_user(self, chat_id: int) -> None:
        """The user blocks the bot: sendMessage/sendChatAction to the chat answer 403."""
        self._blocked.add(chat_id)

    def unblock_user(self, chat_id: int) -> None:
        """The user unblocks the bot."""
        self._blocked.discard(chat_id)

    # ---- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        match = _PATH.fullmatch(request.path)
        if match is None:
            return _error_response(BotApiError(404, "Not Found"))
        if match[1] != self.token:
            # Never recorded with its params: a wrong-token call is not the bot's API traffic.
            self.unauthorized_requests += 1
            return _error_response(BotApiError(401, "Unauthorized"))
        method = self._canonical.get(match[2].lower(), match[2])
        try:
            params = await _read_params(request)
        except ValueError:
            return _error_response(bad_request("can't parse JSON object"))
        try:
            failures = self._failures.get(method)
            if failures:
                raise failures.pop(0)
            if method == "getUpdates":
                result = await self._get_updates(params)
            elif method in self._methods:
                result = self._methods[method](params)
            else:
                raise BotApiError(404, "Not Found")
        except BotApiError as error:
            log.debug("fake telegram: %s -> %s %s", method, error.code, error.description)
            self._record(ApiCall(method, params, error.code))
            return _error_response(error)
        if method != "getUpdates":
            self._record(ApiCall(method, params))
        return web.json_response({"ok": True, "result": result})


async def _read_params(request: web.Request) -> dict[str, Any]:
    raw: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                raw.update(body)
        else:
            form = await request.post()
            for key, value in form.items():
                raw[key] = (
                    value if isinstance(value, str) else {"file": getattr(value, "filename", None)}
                )
    return {key: _decode(key, value) for key, value in raw.items()}


def _decode(key: str, value: Any) -> Any:
    if not isinstance(value, str) or key in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value  # e.g. chat_id "@channel"


def _error_response(error: BotApiError) -> web.Response:
    return web.json_response(error.payload(), status=error.code)


def _injected_error(
    method: str, kind: FailureKind, retry_after: int, description: str | None
) -> BotApiError:
    if kind == "retry_after":
        text = description or f"retry after {retry_after}"
        return BotApiError(429, _prefixed("Too Many Requests: ", text), retry_after=retry_after)
    if kind == "blocked":
        return BotApiError(
            403, _prefixed("Forbidden: ", description or "bot was blocked by the user")
        )
    if kind == "not_modified":
        return BotApiError(
            400, _prefixed("Bad Request: ", description) if description else NOT_MODIFIED
        )
    if kind == "conflict":
        # What getUpdates answers while another process polls with the same token.
        return BotApiError(
            409,
            _prefixed(
                "Conflict: ",
                description
                or "terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
            ),
        )
    if kind == "chat_not_found":
        return BotApiError(400, _prefixed("Bad Request: ", description or "chat not found"))
    default = "message can't be deleted" if method == "deleteMessage" else "injected failure"
    return BotApiError(400, _prefixed("Bad Request: ", description or default))


def _prefixed(prefix: str, text: str) -> str:
    return text if text.startswith(prefix) else prefix + text
