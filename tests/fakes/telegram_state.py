"""The Bot API side of the fake: chats, messages, the update queue and the method handlers."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.fakes.telegram_rules import (
    MAX_CALLBACK_ANSWER_LENGTH,
    NOT_MODIFIED,
    BotApiError,
    bad_request,
    check_inline_keyboard,
    check_reply_markup,
    render_text,
)

Handler = Callable[[dict[str, Any]], Any]

# Telegram's default when allowed_updates was never set (or set to []).
_DEFAULT_ALLOWED = frozenset(
    {"message", "edited_message", "channel_post", "edited_channel_post", "callback_query"}
    | {"inline_query", "chosen_inline_result", "shipping_query", "pre_checkout_query"}
    | {"poll", "poll_answer", "my_chat_member", "chat_join_request", "business_message"}
)
_CHAT_ACTIONS = frozenset(
    {"typing", "upload_photo", "record_video", "upload_video", "record_voice", "upload_voice"}
    | {"upload_document", "choose_sticker", "find_location", "record_video_note"}
    | {"upload_video_note"}
)
_BLOCKED = "Forbidden: bot was blocked by the user"
_QUERY_TOO_OLD = "query is too old and response timeout expired or query ID is invalid"
# Real Telegram refuses to answer a callback query after about 15 s; the fake's default is lower so
# that a late answer shows up in tests, which may lower it further.
CALLBACK_EXPIRY_SECONDS = 10.0


@dataclass(frozen=True)
class ApiCall:
    """One Bot API request as the fake received it, with JSON-decoded parameters."""

    method: str
    params: dict[str, Any]
    status: int = 200


class BotApiState:
    """What a Telegram bot sees through the Bot API, and the handlers of the methods it calls."""

    def __init__(
        self,
        token: str,
        bot_username: str,
        *,
        long_poll_cap: float,
        callback_expiry: float = CALLBACK_EXPIRY_SECONDS,
    ) -> None:
        self.token = token
        self.bot_username = bot_username
        head = token.split(":", 1)[0]
        self.bot_id = int(head) if head.isdigit() else 123456
        self.long_poll_cap = long_poll_cap
        # Seconds (wall time) after which answerCallbackQuery says the query is too old.
        self.callback_expiry = callback_expiry
        self.calls: list[ApiCall] = []
        self.messages: dict[int, dict[int, dict[str, Any]]] = {}
        self.user_messages: dict[int, dict[int, dict[str, Any]]] = {}
        self.deleted: set[tuple[int, int]] = set()
        self.answered_callbacks: dict[str, dict[str, Any]] = {}
        self.commands: list[dict[str, Any]] | None = None
        self._commands_by_scope: dict[str, list[dict[str, Any]]] = {}
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 700_000_001
        self._next_message_ids: dict[int, int] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._users: dict[int, dict[str, Any]] = {}
        # Callback queries not answered yet -> when they were made (time.monotonic()).
        self._open_callbacks: dict[str, float] = {}
        self._blocked: set[int] = set()
        self._allowed_updates: frozenset[str] = _DEFAULT_ALLOWED
        self._update_event = asyncio.Event()
        self._call_event = asyncio.Event()
        self._closing = False
        self._methods: dict[str, Handler] = {
            "getMe": lambda p: self.bot_user,
            "logOut": lambda p: True,
            "close": lambda p: True,
            "deleteWebhook": self._delete_webhook,
            "getWebhookInfo": self._get_webhook_info,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": self._get_my_commands,
            "deleteMyCommands": self._delete_my_commands,
            "sendMessage": self._send_message,
            "editMessageText": self._edit_message_text,
            "editMessageReplyMarkup": self._edit_message_reply_markup,
            "answerCallbackQuery": self._answer_callback_query,
            "deleteMessage": self._delete_message,
            "sendChatAction": self._send_chat_action,
            "getChat": self._get_chat,
        }
        # Bot API method names are case-insensitive.
        self._canonical = {name.lower(): name for name in [*self._methods, "getUpdates"]}

    @property
    def bot_user(self) -> dict[str, Any]:
        """The bot as a User object (getMe result, `from` of its messages)."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "SMM Test Bot",
            "username": self.bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _record(self, call: ApiCall) -> None:
        self.calls.append(call)
        event, self._call_event = self._call_event, asyncio.Event()
        event.set()

    # ---- updates ---------------------------------------------------------------------------

    def _push_update(self, body: dict[str, Any]) -> None:
        self._updates.append({"update_id": self._next_update_id, **body})
        self._next_update_id += 1
        self._wake_pollers()

    def _wake_pollers(self) -> None:
        event, self._update_event = self._update_event, asyncio.Event()
        event.set()

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = _int(params.get("offset", 0))
        limit = min(max(_int(params.get("limit", 100)), 1), 100)
        timeout = max(_int(params.get("timeout", 0)), 0)
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = frozenset(allowed) or _DEFAULT_ALLOWED
        # An update is confirmed (gone for good) once getUpdates asks for a higher offset.
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        self._record(ApiCall("getUpdates", params))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(timeout, self.long_poll_cap)
        while True:
            # Updates of kinds the bot did not ask for are never created for it.
            self._updates = [u for u in self._updates if _update_kind(u) in self._allowed_updates]
            if self._updates or self._closing:
                return self._updates[:limit]
            remaining = deadline - loop.time()
            if remaining <= 0:
                return []
            event = self._update_event
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), remaining)

    def _delete_webhook(self, params: dict[str, Any]) -> bool:
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _get_webhook_info(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "url": "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    # ---- commands --------------------------------------------------------------------------

    def _set_my_commands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("can't parse commands JSON object")
        for command in commands:
            name = command.get("command", "") if isinstance(command, dict) else ""
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(name)):
                raise bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise bad_request("command description must be 1-256 characters")
        key = _scope_key(params)
        self._commands_by_scope[key] = commands
        if key == _scope_key({}):
            self.commands = commands
        return True

    def _get_my_commands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._commands_by_scope.get(_scope_key(params), [])

    def _delete_my_commands(self, params: dict[str, Any]) -> bool:
        key = _scope_key(params)
        self._commands_by_scope.pop(key, None)
        if key == _scope_key({}):
            self.commands = None
        return True

    # ---- messages --------------------------------------------------------------------------

    def _send_message(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        if chat_id in self._blocked:
            raise BotApiError(403, _BLOCKED)
        text, entities = render_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        markup = params.get("reply_markup")
        check_reply_markup(markup)
        message: dict[str, Any] = {
            "message_id": self._new_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
            "text": text,
        }
        if entities:
            message["entities"] = entities
        reply_to = _reply_to_id(params)
        if reply_to is not None:
            target = self._find_message(chat_id, reply_to)
            if target is None:
                raise bad_request("message to be replied not found")
            message["reply_to_message"] = without_reply(target)
        # Only an inline keyboard is part of the Message; reply keyboards live in the client.
        if (
            isinstance(markup, dict)
            and "inline_keyboard" in markup
            and check_inline_keyboard(markup)
        ):
            message["reply_markup"] = markup
        self.messages.setdefault(chat_id, {})[message["message_id"]] = message
        return message

    def _edit_message_text(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._edit_target(params)
        text, entities = render_text(
            params.get("text"), params.get("parse_mode"), params.get("entities")
        )
        # An edit without reply_markup removes the inline keyboard, as on real Telegram.
        markup = check_inline_keyboard(params.get("reply_markup"))
        old = (message["text"], message.get("entities", []), message.get("reply_markup"))
        if old == (text, entities, markup):
            raise BotApiError(400, NOT_MODIFIED)
        message["text"] = text
        _set_or_drop(message, "entities", entities)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(time.time())
        return message

    def _edit_message_reply_markup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._edit_target(params)
        markup = check_inline_keyboard(params.get("reply_markup"))
        if markup == message.get("reply_markup"):
            raise BotApiError(400, NOT_MODIFIED)
        _set_or_drop(message, "reply_markup", markup)
        message["edit_date"] = int(time.time())
        return message

    def _answer_callback_query(self, params: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        made = self._open_callbacks.get(query_id)
        if made is None:
            raise bad_request(_QUERY_TOO_OLD)
        if time.monotonic() - made > self.callback_expiry:
            del self._open_callbacks[query_id]  # expired for good, as on Telegram
            raise bad_request(_QUERY_TOO_OLD)
        if len(str(params.get("text") or "")) > MAX_CALLBACK_ANSWER_LENGTH:
            raise bad_request("MESSAGE_TOO_LONG")
        del self._open_callbacks[query_id]
        self.answered_callbacks[query_id] = params
        return True

    def _delete_message(self, params: dict[str, Any]) -> bool:
        chat_id = self._chat_id(params)
        message_id = _int(params.get("message_id"))
        for store in (self.messages, self.user_messages):
            if store.get(chat_id, {}).pop(message_id, None) is not None:
                self.deleted.add((chat_id, message_id))
                return True
        raise bad_request("message to delete not found")

    def _send_chat_action(self, params: dict[str, Any]) -> bool:
        chat_id = self._chat_id(params)
        if chat_id in self._blocked:
            raise BotApiError(403, _BLOCKED)
        if params.get("action") not in _CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        return True

    def _get_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = self._chat_id(params)
        if chat_id not in self._chats and chat_id not in self.messages:
            raise bad_request("chat not found")
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription"), False
        )
        gifts["gifts_from_channels"] = False
        full = {"accent_color_id": 0, "max_reaction_count": 11, "accepted_gift_types": gifts}
        return {**self._chat(chat_id), **full}

    # ---- helpers ---------------------------------------------------------------------------

    def _chat_id(self, params: dict[str, Any]) -> int:
        value = params.get("chat_id")
        if value is None or value == "":
            raise bad_request("chat_id is empty")
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and value.startswith("@"):
            for chat in self._chats.values():
                if chat.get("username") == value[1:]:
                    return int(chat["id"])
        raise bad_request("chat not found")

    def _chat(self, chat_id: int) -> dict[str, Any]:
        if chat_id in self._chats:
            return self._chats[chat_id]
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        kind = "supergroup" if str(chat_id).startswith("-100") else "group"
        return {"id": chat_id, "type": kind, "title": f"Chat {chat_id}"}

    def _new_message_id(self, chat_id: int) -> int:
        # Message ids are per chat and shared by both sides of a private chat.
        next_id = self._next_message_ids.get(chat_id, 1)
        self._next_message_ids[chat_id] = next_id + 1
        return next_id

    def _find_message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        found = self.messages.get(chat_id, {}).get(message_id)
        return found or self.user_messages.get(chat_id, {}).get(message_id)

    def _current(self, message: dict[str, Any]) -> dict[str, Any] | None:
        return self.messages.get(message["chat"]["id"], {}).get(message["message_id"])

    def _edit_target(self, params: dict[str, Any]) -> dict[str, Any]:
        if "inline_message_id" in params:
            raise bad_request("MESSAGE_ID_INVALID")  # the fake has no inline mode
        chat_id = self._chat_id(params)
        if "message_id" not in params:
            raise bad_request("message identifier is not specified")
        message_id = _int(params["message_id"])
        if message_id in self.user_messages.get(chat_id, {}):
            raise bad_request("message can't be edited")
        message = self.messages.get(chat_id, {}).get(message_id)
        if message is None:
            raise bad_request("message to edit not found")
        return message


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        raise bad_request(f"invalid integer {value!r}") from None


def _update_kind(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


def _scope_key(params: dict[str, Any]) -> str:
    scope = params.get("scope") or {"type": "default"}
    return json.dumps([scope, params.get("language_code") or ""], sort_keys=True)


def _reply_to_id(params: dict[str, Any]) -> int | None:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and "message_id" in reply:
        return _int(reply["message_id"])
    if params.get("reply_to_message_id") is not None:
        return _int(params["reply_to_message_id"])
    return None


def without_reply(message: dict[str, Any]) -> dict[str, Any]:
    """A copy of a message to embed as reply_to_message (Telegram nests it one level only)."""
    return {k: copy.deepcopy(v) for k, v in message.items() if k != "reply_to_message"}


def _set_or_drop(message: dict[str, Any], key: str, value: Any) -> None:
    if value:
        message[key] = value
    else:
        message.pop(key, None)
