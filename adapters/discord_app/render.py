"""A core Reply as Discord messages: escaped markdown, 2000-character pieces, rows of buttons."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import discord

from bot.core.seam import Button, ButtonStyle, Reply

log = logging.getLogger(__name__)

# https://discord.com/developers/docs/resources/message#create-message (content: 2000 characters)
MAX_CONTENT = 2000
# https://discord.com/developers/docs/components/reference#action-row: 5 buttons a row, 5 rows.
MAX_BUTTONS_PER_ROW = 5
MAX_ROWS = 5
MAX_LABEL = 80
MAX_CUSTOM_ID = 100
# Discord's markdown renders "1. item" at the start of a line as a (renumbered) list.
_ORDERED_LIST = re.compile(r"^(\s*\d+)\.(?=\s)", re.MULTILINE)
_STYLES: dict[ButtonStyle, discord.ButtonStyle] = {
    "primary": discord.ButtonStyle.primary,
    "secondary": discord.ButtonStyle.secondary,
    "success": discord.ButtonStyle.success,
    "danger": discord.ButtonStyle.danger,
}
NO_MENTIONS = discord.AllowedMentions.none()

Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True, slots=True)
class OutMessage:
    """One Discord message to send: escaped content (may be empty) and its rows of buttons."""

    content: str
    rows: Rows = ()

    def view(self) -> discord.ui.View | None:
        """The message's buttons as a View, or None when it has none."""
        return build_view(self.rows) if self.rows else None


def escape(text: str) -> str:
    """The core's plain text as Discord markdown that shows exactly as written."""
    escaped = discord.utils.escape_markdown(text)
    # `<@123>`, `<#1>`, `<t:1>` would render as mentions, channels or timestamps.
    escaped = escaped.replace("<", "\\<")
    return _ORDERED_LIST.sub(r"\1\\.", escaped)


def _cut_point(text: str, limit: int) -> int:
    """Where to cut `text` (longer than `limit`): after a space if one is near the end, and
    never between a backslash and the character it escapes."""
    space = text.rfind(" ", limit // 2, limit)
    cut = space + 1 if space >= 0 else limit
    backslashes = 0
    while backslashes < cut and text[cut - 1 - backslashes] == "\\":
        backslashes += 1
    return cut - 1 if backslashes % 2 else cut


def split_text(text: str, limit: int = MAX_CONTENT) -> list[str]:
    """Split text into pieces of at most `limit` characters, at line ends where possible."""
    if len(text) <= limit:
        return [text]
    pieces: list[str] = []
    current = ""
    for line in text.split("\n"):
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) <= limit:
            current = candidate
            continue
        if current:
            pieces.append(current)
        while len(line) > limit:
            cut = _cut_point(line, limit)
            pieces.append(line[:cut])
            line = line[cut:]
        current = line
    if current:
        pieces.append(current)
    return [piece for piece in pieces if piece.strip()] or [text[:limit]]


def fit_rows(rows: Rows) -> list[list[Button]]:
    """Rows of at most 5 buttons, labels cut to 80 characters, no repeated custom_id."""
    fitted: list[list[Button]] = []
    seen: set[str] = set()
    for row in rows:
        usable: list[Button] = []
        for button in row:
            if not button.url:
                if not button.action or len(button.action) > MAX_CUSTOM_ID:
                    log.warning("dropping a button without a usable action (%r)", button.label)
                    continue
                # Discord refuses a message whose components repeat a custom_id.
                if button.action in seen:
                    log.warning("dropping a button repeating an action (%r)", button.label)
                    continue
                seen.add(button.action)
            label = button.label if len(button.label) <= MAX_LABEL else button.label[:79] + "…"
            usable.append(Button(label or "…", button.action, button.style, button.url))
        for start in range(0, len(usable), MAX_BUTTONS_PER_ROW):
            fitted.append(usable[start : start + MAX_BUTTONS_PER_ROW])
    return fitted


def with_extras(reply: Reply, prompt_button: Button | None, dm_link: str | None) -> Rows:
    """The reply's rows plus the prompt's button (front of the last row) and a DM link."""
    rows = [list(row) for row in reply.buttons]
    if prompt_button is not None:
        if rows and len(rows[-1]) < MAX_BUTTONS_PER_ROW:
            rows[-1].insert(0, prompt_button)
        else:
            rows.append([prompt_button])
    if dm_link is not None:
        rows.append([Button("Open a DM with me", url=dm_link)])
    return tuple(tuple(row) for row in rows)


def plan_messages(text: str, rows: Rows) -> list[OutMessage]:
    """Escaped text in pieces; the buttons go under the last piece (overflow on extra messages)."""
    pieces = split_text(escape(text)) if text else []
    fitted = fit_rows(rows)
    groups = [fitted[i : i + MAX_ROWS] for i in range(0, len(fitted), MAX_ROWS)]
    if not pieces and not groups:
        return []
    if not pieces:
        pieces = [""]
    messages = [OutMessage(piece) for piece in pieces[:-1]]
    first_group = groups[0] if groups else []
    messages.append(OutMessage(pieces[-1], _as_rows(first_group)))
    # More than 25 buttons do not fit one message; the rest follow on their own.
    messages.extend(OutMessage("…", _as_rows(group)) for group in groups[1:])
    return messages


def truncate(text: str, limit: int = MAX_CONTENT) -> str:
    """Escaped `text` cut to at most `limit` characters, ending in an ellipsis when anything was
    cut (at a space if one is near the end, never inside an escape)."""
    if len(text) <= limit:
        return text
    return text[: _cut_point(text, limit - 1)].rstrip() + "…"


def plan_alert(reply: Reply, prompt_button: Button | None) -> OutMessage | None:
    """`reply` as exactly one message, for pushed alerts; None when there is nothing to send.

    An alert is never split: if part 2 failed after part 1 was accepted, the outbox would send the
    whole alert again and part 1 twice. Too long a text is cut with an ellipsis instead, and
    buttons beyond one message's 5 rows are left out.
    """
    rows = fit_rows(with_extras(reply, prompt_button, None))
    if len(rows) > MAX_ROWS:
        log.warning("an alert has %d rows of buttons; only %d fit", len(rows), MAX_ROWS)
        rows = rows[:MAX_ROWS]
    text = reply.text.strip()
    escaped = escape(text) if text else ""
    content = truncate(escaped)
    if content != escaped:
        log.warning("an alert of %d characters was cut to fit one message", len(text))
    if not content and not rows:
        return None
    return OutMessage(content, _as_rows(rows))


def _as_rows(rows: list[list[Button]]) -> Rows:
    return tuple(tuple(row) for row in rows)


def build_view(rows: Rows) -> discord.ui.View:
    """A View that only renders the buttons: presses are routed by custom_id (see interactions)."""
    view = discord.ui.View(timeout=None)
    for number, row in enumerate(rows):
        for button in row:
            item: discord.ui.Button[discord.ui.View]
            if button.url:
                item = discord.ui.Button(label=button.label, url=button.url, row=number)
            else:
                item = discord.ui.Button(
                    label=button.label,
                    custom_id=button.action,
                    style=_STYLES.get(button.style, discord.ButtonStyle.secondary),
                    row=number,
                )
            view.add_item(item)
    # A stopped view is never put in discord.py's view store: every press is routed by its
    # custom_id in on_interaction, so nothing has to stay in memory per sent message and the
    # buttons keep working after a restart.
    view.stop()
    return view


def plan_reply(reply: Reply, prompt_button: Button | None, dm_link: str | None) -> list[OutMessage]:
    """Every message a Reply becomes (empty when the core wants nothing sent)."""
    return plan_messages(reply.text, with_extras(reply, prompt_button, dm_link))


__all__ = [
    "NO_MENTIONS",
    "OutMessage",
    "build_view",
    "escape",
    "fit_rows",
    "plan_alert",
    "plan_messages",
    "plan_reply",
    "split_text",
    "truncate",
    "with_extras",
]
