"""How values go on the wire (numbers, money, booleans, statuses), shaped by the quirk switches."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

from bot.panel.simulator.catalogue import SimService
from bot.panel.simulator.model import CENT5
from bot.panel.simulator.quirks import Quirks

# json.dumps cannot write a Decimal as a bare number, so money meant as a JSON number travels as a
# marked string and the marks (with the quotes) are cut out of the encoded text afterwards.
_RAW_MARK = "\x00N"
_RAW_RE = re.compile(r'"\\u0000N(-?[0-9.]+)\\u0000"')

Json = Any


class Renderer:
    """Formats values for one answer, reading the quirk switches once."""

    __slots__ = ("_booleans", "_cancelled", "_lower", "_money_numbers", "_strings")

    def __init__(self, quirks: Quirks) -> None:
        self._strings = quirks.numbers_as_strings
        self._money_numbers = quirks.money_as_numbers and not quirks.numbers_as_strings
        self._booleans = quirks.booleans
        self._lower = quirks.lowercase_statuses
        self._cancelled = quirks.cancelled_spelling

    def number(self, value: int) -> int | str:
        """An id or a count."""
        return str(value) if self._strings else value

    def optional_number(self, value: int | None) -> int | str | None:
        """A count that may be unknown (start_count while Pending stays null)."""
        return None if value is None else self.number(value)

    def money(self, value: Decimal) -> str:
        """A charge or balance with 5 decimals ("12,345.60000" when numbers are strings)."""
        amount = value.quantize(CENT5)
        if self._strings:
            return f"{amount:,.5f}" if abs(amount) >= 1000 else f"{amount:.5f}"
        if self._money_numbers:
            return f"{_RAW_MARK}{amount:.5f}\x00"
        return f"{amount:.5f}"

    def rate(self, service: SimService) -> str:
        """A service rate as the panel writes it ("0.90", "12.5")."""
        text = service.rate_text
        if self._strings and service.rate >= 1000:
            return f"{service.rate:,}"
        if self._money_numbers:
            return f"{_RAW_MARK}{text}\x00"
        return text

    def flag(self, value: bool, service_id: int) -> bool | int | str:
        """A boolean; panels write true/false, 1/0 or "1"/"0"."""
        if self._strings:
            return "1" if value else "0"
        if self._booleans == "int" or (self._booleans == "mixed" and service_id % 2 == 0):
            return 1 if value else 0
        return value

    def status(self, status: str) -> str:
        """An order or refill status, spelled as this panel spells it."""
        if self._cancelled and status == "Canceled":
            status = "Cancelled"
        return status.lower() if self._lower else status

    def service(self, service: SimService) -> dict[str, Json]:
        """One entry of the `services` answer."""
        entry: dict[str, Json] = {
            "service": self.number(service.id),
            "name": service.name,
            "type": service.type,
            "category": service.category,
            "rate": self.rate(service),
            "min": self.number(service.min),
            "max": self.number(service.max),
            "refill": self.flag(service.refill, service.id),
            "cancel": self.flag(service.cancel, service.id),
            "dripfeed": self.flag(service.dripfeed, service.id),
        }
        # Panels name the description field differently; clients must read both.
        if service.desc is not None:
            entry["desc" if service.id % 8 == 0 else "description"] = service.desc
        return entry


def encode(payload: Json) -> bytes:
    """The JSON text of an answer, ASCII-escaped as PHP's json_encode does."""
    text = json.dumps(payload, separators=(",", ":"))
    if "\\u0000N" in text:
        text = _RAW_RE.sub(r"\1", text)
    return text.encode()
