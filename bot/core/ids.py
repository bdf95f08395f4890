"""Checking the order and refill ids users type, before any panel call."""

from __future__ import annotations

import re

from bot.core.errors import UserError

MAX_ID_LENGTH = 100
_SEPARATORS = re.compile(r"[\s,;]+")


def parse_ids(text: str, what: str = "order", command: str = "status") -> list[str]:
    """Split ids on commas or spaces; each must be digits only and at most 100 characters."""
    parts = [part.lstrip("#") for part in _SEPARATORS.split(text.strip()) if part]
    if not parts:
        raise UserError(f"Which {what}? Use /{command} 123, or several: /{command} 123,124")
    bad = [
        part
        for part in parts
        # isascii: str.isdigit() also accepts digits like "²" that no panel knows.
        if not (part.isascii() and part.isdigit()) or len(part) > MAX_ID_LENGTH
    ]
    if bad:
        shown = ", ".join(repr(part[:20] + ("…" if len(part) > 20 else "")) for part in bad[:5])
        raise UserError(
            f"{what.capitalize()} ids are digits only (at most {MAX_ID_LENGTH}); "
            f"these are not: {shown}. Nothing was sent to the panel."
        )
    return list(dict.fromkeys(parts))
