"""A core `Reply` as Telegram messages: escaped HTML text, split under 4096, inline keyboards."""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.seam import MAX_ACTION_BYTES, Button, ButtonStyle, Reply

log = logging.getLogger(__name__)

# https://core.telegram.org/bots/api#sendmessage: 1-4096 characters after entities parsing. The
# count is taken in UTF-16 code units here, the stricter reading (an emoji counts twice).
MESSAGE_LIMIT = 4096
# https://core.telegram.org/bots/api#answercallbackquery: the notice holds 0-200 characters.
CALLBACK_ANSWER_LIMIT = 200
OPEN_PRIVATE_LABEL = "🔒 Open a private chat with me"
GROUP_PROMPT_HINT = "↩ Reply to this message with your answer."
# Telegram refuses a message without text, so a reply that is only buttons gets this line.
BUTTONS_ONLY_TEXT = "Choose:"
# Deep-link payloads: https://core.telegram.org/bots/features#deep-linking
_PAYLOAD = re.compile(r"[A-Za-z0-9_-]{1,64}")
# "secondary" is Telegram's own default look, so it is sent as no style at all.
_STYLES: dict[ButtonStyle, str | None] = {
    "primary": "primary",
    "success": "success",
    "danger": "danger",
    "secondary": None,
}


@dataclass(frozen=True, slots=True)
class OutgoingPart:
    """One Telegram message to send: HTML text and, on the last part only, the keyboard."""

    html: str
    markup: InlineKeyboardMarkup | None = None


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return len(text.encode("utf-16-le")) // 2


def _fitting_prefix(text: str, limit: int) -> int:
    """The number of characters of `text` that fit in `limit` UTF-16 code units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def split_text(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut `text` into parts of at most `limit` UTF-16 units, at paragraph, line or word ends."""
    parts: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        end = max(_fitting_prefix(rest, limit), 1)
        window = rest[:end]
        # Prefer the latest paragraph break, then line break, then space, in the window's back half
        # (an early break would leave a tiny part); else cut hard.
        cut = end
        for separator in ("\n\n", "\n", " "):
            found = window.rfind(separator)
            if found >= end // 2:
                cut = found
                break
        head = rest[:cut].rstrip()
        if head:
            parts.append(head)
        # Telegram trims each message's surrounding whitespace anyway.
        rest = rest[cut:].lstrip()
    if rest.strip():
        parts.append(rest)
    return parts


def escape(text: str) -> str:
    """Plain text for parse_mode HTML: `<`, `>` and `&` shown as written."""
    return html.escape(text, quote=False)


def deep_link(bot_username: str, payload: str = "") -> str:
    """The t.me link that opens a private chat with the bot (and sends /start payload)."""
    link = f"https://t.me/{bot_username}"
    return f"{link}?start={payload}" if _PAYLOAD.fullmatch(payload) else link


def inline_button(button: Button) -> InlineKeyboardButton | None:
    """One core button as an inline button; None (and a warning) for one Telegram would refuse."""
    style = _STYLES.get(button.style)
    label = button.label.strip() or "·"
    if button.url:
        return InlineKeyboardButton(label, url=button.url, style=style)
    size = len(button.action.encode())
    if not 1 <= size <= MAX_ACTION_BYTES:
        # The core packs actions to <= 64 bytes; a bigger one would make Telegram refuse the
        # whole message, so only this button is dropped.
        log.warning("dropping button %r: callback data of %d bytes", label, size)
        return None
    return InlineKeyboardButton(label, callback_data=button.action, style=style)


def keyboard(
    rows: tuple[tuple[Button, ...], ...], private_link: str | None = None
) -> InlineKeyboardMarkup | None:
    """The reply's button rows (plus a link button to the private chat) as an inline keyboard."""
    grid: list[list[InlineKeyboardButton]] = []
    for row in rows:
        cells = [cell for cell in (inline_button(button) for button in row) if cell is not None]
        if cells:
            grid.append(cells)
    if private_link:
        grid.append([InlineKeyboardButton(OPEN_PRIVATE_LABEL, url=private_link)])
    return InlineKeyboardMarkup(grid) if grid else None


def is_empty(reply: Reply) -> bool:
    """A reply that means "send nothing"."""
    return not reply.text.strip() and not reply.buttons and not reply.open_private


def render_reply(
    reply: Reply, *, private_link: str | None = None, group_prompt: bool = False, warning: str = ""
) -> list[OutgoingPart]:
    """The messages that show `reply`: text split under the limit, buttons on the last part."""
    text = reply.text.strip()
    if warning:
        text = f"{warning}\n\n{text}" if text else warning
    if group_prompt and reply.prompt is not None:
        # Groups: the bot sees only messages that reply to it (privacy mode); say how to answer.
        text = f"{text}\n\n{GROUP_PROMPT_HINT}" if text else GROUP_PROMPT_HINT
    markup = keyboard(reply.buttons, private_link if reply.open_private else None)
    if not text:
        if markup is None:
            return []
        text = BUTTONS_ONLY_TEXT
    chunks = split_text(text)
    parts = [OutgoingPart(escape(chunk)) for chunk in chunks[:-1]]
    parts.append(OutgoingPart(escape(chunks[-1]), markup))
    return parts


def truncate(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """`text` cut to at most `limit` UTF-16 units, ending in an ellipsis when anything was cut."""
    text = text.strip()
    if utf16_len(text) <= limit:
        return text
    return text[: _fitting_prefix(text, limit - 1)].rstrip() + "…"


def render_alert(reply: Reply) -> OutgoingPart | None:
    """`reply` as exactly one message, for pushed alerts; None when there is nothing to send.

    An alert is never split: if part 2 failed after part 1 was accepted, the outbox would send the
    whole alert again and part 1 twice. Too long a text is cut with an ellipsis instead.
    """
    markup = keyboard(reply.buttons)
    text = reply.text.strip()
    if not text:
        if markup is None:
            return None
        text = BUTTONS_ONLY_TEXT
    fitted = truncate(text)
    if fitted != text:
        log.warning("an alert of %d characters was cut to fit one message", len(text))
    return OutgoingPart(escape(fitted), markup)


def callback_notice(reply: Reply) -> str:
    """The text of the callback answer: the notice, or for a refusal popup the whole reason."""
    notice = reply.notice or (reply.text if reply.alert else "")
    if notice and not reply.alert and notice.strip() == reply.text.strip():
        # The same words arrive as a message; a toast repeating them is noise.
        notice = ""
    if len(notice) > CALLBACK_ANSWER_LIMIT:
        notice = notice[: CALLBACK_ANSWER_LIMIT - 1] + "…"
    return notice
