"""The simulator's quirk switches: the ways real panels differ from the reference or misbehave."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

BooleanStyle = Literal["mixed", "bool", "int"]

# Switches that model a broken transport; `only_actions` narrows these and nothing else.
FAULT_SWITCHES: tuple[str, ...] = (
    "errors_http_status",
    "html_page",
    "malformed_json",
    "server_error_next",
    "rate_limit_next",
    "slow_seconds",
    "require_browser_user_agent",
)


@dataclass(slots=True)
class Quirks:
    """Mutable switches; a test flips them at runtime (`sim.quirks.malformed_json = True`)."""

    # Format: every numeric field as a string, money with thousands separators, booleans "1"/"0".
    numbers_as_strings: bool = False
    # Format when numbers are numbers: "mixed" varies true/false and 1/0 between services.
    booleans: BooleanStyle = "mixed"
    # Format: rate/charge/balance as JSON numbers (0.9) instead of decimal strings ("0.90").
    money_as_numbers: bool = False
    cancelled_spelling: bool = False
    lowercase_statuses: bool = False
    # Some panels report a fresh Pending order with remains 0 instead of its quantity.
    pending_remains_zero: bool = False
    # Refuse a second non-final order of the same key, service and link.
    duplicate_link_check: bool = True
    # Faults. None = top-level errors come with HTTP 200; else this status with the same JSON body.
    errors_http_status: int | None = None
    # None, or the HTTP status of a CDN/WAF HTML page answered instead of JSON.
    html_page: int | None = None
    malformed_json: bool = False
    server_error_next: int = 0
    rate_limit_next: int = 0
    # Retry-After seconds sent with the 429s of `rate_limit_next`; None sends no header.
    retry_after: float | None = None
    slow_seconds: float = 0.0
    only_actions: Collection[str] | None = None
    # `add` places and charges the order, then waits this long before answering.
    add_answer_delay: float = 0.0
    require_browser_user_agent: bool = False

    def applies_to(self, action: str) -> bool:
        """Whether the fault switches apply to a request of this action."""
        return self.only_actions is None or action in self.only_actions

    def update(self, changes: Mapping[str, Any]) -> None:
        """Set switches from JSON-like values (the control route); ValueError on a bad one."""
        known = {f.name for f in fields(self)}
        coerced: dict[str, Any] = {}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown quirk {name!r}")
            coerced[name] = _coerce(name, value)
        for name, value in coerced.items():
            setattr(self, name, value)

    def reset(self) -> None:
        """Back to a well-behaved panel."""
        fresh = Quirks()
        for f in fields(self):
            setattr(self, f.name, getattr(fresh, f.name))

    def as_json(self) -> dict[str, Any]:
        """The switches as JSON-ready values."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = sorted(value) if f.name == "only_actions" and value is not None else value
        return out


_BOOLS = {
    "numbers_as_strings",
    "money_as_numbers",
    "cancelled_spelling",
    "lowercase_statuses",
    "pending_remains_zero",
    "duplicate_link_check",
    "malformed_json",
    "require_browser_user_agent",
}
_COUNTS = {"server_error_next", "rate_limit_next"}
_SECONDS = {"slow_seconds", "add_answer_delay"}
_STATUSES = {"errors_http_status", "html_page"}


def _coerce(name: str, value: Any) -> Any:
    if name in _BOOLS:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if name in _COUNTS:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
        return value
    if name in _SECONDS or name == "retry_after":
        if value is None and name == "retry_after":
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a non-negative number of seconds")
        return float(value)
    if name in _STATUSES:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 100 <= value <= 599:
            raise ValueError(f"{name} must be null or an HTTP status")
        return value
    if name == "booleans":
        if value not in ("mixed", "bool", "int"):
            raise ValueError("booleans must be 'mixed', 'bool' or 'int'")
        return value
    if name == "only_actions":
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError("only_actions must be null or a list of action names")
        return frozenset(value)
    raise ValueError(f"unknown quirk {name!r}")  # pragma: no cover - `update` checks names first
