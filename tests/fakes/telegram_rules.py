"""What the Bot API accepts as message content: error shapes, text and keyboard limits."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.fakes.telegram_markup import (
    EntityParseError,
    parse_html,
    parse_markdown,
    parse_markdown_v2,
    utf16_len,
)

MAX_TEXT_LENGTH = 4096  # counted after entity parsing, in characters
MAX_CALLBACK_DATA_BYTES = 64
MAX_CALLBACK_ANSWER_LENGTH = 200
MAX_INLINE_BUTTONS = 100

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_BUTTON_ACTIONS = frozenset(
    {"url", "callback_data", "web_app", "login_url", "copy_text", "callback_game", "pay"}
    | {"switch_inline_query", "switch_inline_query_current_chat", "switch_inline_query_chosen_chat"}
)


@dataclass
class BotApiError(Exception):
    """An error answer of the Bot API: HTTP status = error_code, plus the description."""

    code: int
    description: str
    retry_after: int | None = None
    parameters: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(f"{self.code} {self.description}")
        if self.retry_after is not None:
            self.parameters["retry_after"] = self.retry_after

    def payload(self) -> dict[str, Any]:
        """The JSON body Telegram sends for this error."""
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def bad_request(detail: str) -> BotApiError:
    """A 400 with Telegram's "Bad Request: " prefix."""
    return BotApiError(400, f"Bad Request: {detail}")


_PARSERS = {"html": parse_html, "markdownv2": parse_markdown_v2, "markdown": parse_markdown}
_SPACE = " \t\r\n\v\f\0"


def render_text(
    raw: Any, parse_mode: Any, entities: Any, *, empty_error: str = "message text is empty"
) -> tuple[str, list[dict[str, Any]]]:
    """Text and entities as Telegram stores them, or the 400 Telegram answers for bad text."""
    if raw is None or raw == "":
        raise bad_request(empty_error)
    raw = str(raw)
    if isinstance(entities, list):
        text, found = raw, [dict(e) for e in entities if isinstance(e, dict)]
    elif parse_mode:
        parser = _PARSERS.get(str(parse_mode).lower())
        if parser is None:
            raise bad_request(f"unsupported parse_mode {parse_mode}")
        try:
            text, found = parser(raw)
        except EntityParseError as error:
            raise bad_request(f"can't parse entities: {error}") from None
    else:
        text, found = raw, []
    stripped = text.strip(_SPACE)
    if not stripped:
        raise bad_request(empty_error)
    if len(stripped) > MAX_TEXT_LENGTH:
        raise bad_request("message is too long")
    # Telegram trims surrounding whitespace, so entity offsets shift with it.
    shift = utf16_len(text[: len(text) - len(text.lstrip(_SPACE))])
    size = utf16_len(stripped)
    kept = []
    for entity in found:
        start = max(int(entity["offset"]) - shift, 0)
        end = min(int(entity["offset"]) + int(entity["length"]) - shift, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def check_inline_keyboard(markup: Any) -> dict[str, Any] | None:
    """Validate an InlineKeyboardMarkup; returns it, or None when it has no buttons."""
    if markup is None:
        return None
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        raise bad_request("can't parse inline keyboard button: InlineKeyboardMarkup expected")
    count = 0
    for row in markup["inline_keyboard"]:
        if not isinstance(row, list):
            raise bad_request(
                'can\'t parse inline keyboard button: Field "inline_keyboard" '
                "of the InlineKeyboardMarkup should be an Array of Arrays"
            )
        for button in row:
            _check_button(button)
            count += 1
    if count > MAX_INLINE_BUTTONS:
        raise bad_request("reply markup is too long")
    return markup if count else None


def _check_button(button: Any) -> None:
    if not isinstance(button, dict) or not isinstance(button.get("text"), str):
        raise bad_request("can't parse inline keyboard button: Text buttons are unallowed")
    if not button["text"].strip():
        raise bad_request("BUTTON_TEXT_EMPTY")
    if not _BUTTON_ACTIONS & button.keys():
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if "callback_data" in button:
        data = button["callback_data"]
        size = len(data.encode()) if isinstance(data, str) else 0
        if not 1 <= size <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = str(button["url"])
        if not re.match(r"(?i)(https?|tg)://\S+$", url):
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def check_reply_markup(markup: Any) -> None:
    """Validate any reply_markup kind sendMessage accepts."""
    if markup is None:
        return
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        check_inline_keyboard(markup)
    elif not {"keyboard", "remove_keyboard", "force_reply"} & markup.keys():
        raise bad_request("can't parse reply keyboard markup JSON object")
