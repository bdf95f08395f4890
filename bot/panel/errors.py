"""One exception root for everything a panel call can fail with, and the loose text matching
that sorts a panel's error texts into reasons.

Every exception carries data (`panel_url`, `action`, a `message` safe to show to a user) and never
the API key: texts that come from the panel are masked before they are stored (see `mask_key`).

Many-id writes (`refills`, `cancel`) are sent in chunks of 100, one after another. When a chunk
fails, the exception tells how far the batch got:
  - `completed`: the per-id results of the chunks the panel answered before the failure;
  - `failed_ids`: the ids of the chunk that failed (their fate is unknown if `outcome_unknown`);
  - `unsent_ids`: the ids of later chunks, never sent.
For every other call these stay empty (`failed_ids` holds the id of a one-id write).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from bot.panel.models import CancelResult, RefillCreated

RefusalReason = Literal[
    "not_enough_funds",
    "min_quantity",
    "max_quantity",
    "increment",
    "link_duplicate",
    "incorrect_service",
    "incorrect_link",
    "incorrect_quantity",
    "incorrect_order",
    "refill_not_found",
    "incorrect_request",
    "other",
]
UnavailableReason = Literal[
    "timeout", "connection", "server_error", "html", "invalid_json", "rate_limited", "unexpected"
]

MASK = "***"


class PanelError(Exception):
    """The root of every panel failure; `message` is safe to show to the user."""

    def __init__(self, message: str, *, panel_url: str, action: str) -> None:
        super().__init__(message)
        self.message = message
        self.panel_url = panel_url
        self.action = action
        self.completed: list[RefillCreated | CancelResult] = []
        self.failed_ids: tuple[str, ...] = ()
        self.unsent_ids: tuple[str, ...] = ()

    def __str__(self) -> str:
        return f"{self.message} ({self.action} at {self.panel_url})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, action={self.action!r})"


class InvalidApiKey(PanelError):
    """The panel does not accept the API key (an error text about the key, or a bare 401)."""


class PanelRefused(PanelError):
    """The panel understood the request and said no; `panel_text` is its own (masked) text."""

    def __init__(
        self,
        message: str,
        *,
        panel_url: str,
        action: str,
        panel_text: str,
        reason: RefusalReason,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message, panel_url=panel_url, action=action)
        self.panel_text = panel_text
        self.reason: RefusalReason = reason
        self.status_code = status_code

    def __repr__(self) -> str:
        return f"PanelRefused({self.panel_text!r}, reason={self.reason!r}, action={self.action!r})"


class PanelUnavailable(PanelError):
    """The panel could not be reached or answered something unusable.

    `outcome_unknown` is True only for writes (add/refill/cancel) whose request may have reached the
    panel: the order may have been placed (and charged) although no usable answer came back.
    """

    def __init__(
        self,
        message: str,
        *,
        panel_url: str,
        action: str,
        reason: UnavailableReason,
        status_code: int | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message, panel_url=panel_url, action=action)
        self.reason: UnavailableReason = reason
        self.status_code = status_code
        self.retry_after = retry_after
        self.outcome_unknown = outcome_unknown

    def __repr__(self) -> str:
        return (
            f"PanelUnavailable(reason={self.reason!r}, status_code={self.status_code!r}, "
            f"retry_after={self.retry_after!r}, outcome_unknown={self.outcome_unknown!r}, "
            f"action={self.action!r})"
        )


def mask_key(text: str, key: str) -> str:
    """Replace every occurrence of the API key in a panel's text (some panels echo it back)."""
    if len(key) < 4:
        # A key this short would mask ordinary words; such a key is invalid on every panel anyway.
        return text
    return re.sub(re.escape(key), MASK, text, flags=re.IGNORECASE)


def _normalise(text: str) -> str:
    # Raw keys like "neworder.error.not_enough_funds" become "neworder error not enough funds".
    return re.sub(r"[\s._\-:/]+", " ", text.lower()).strip()


_KEY_WORDS = re.compile(r"\b(invalid|incorrect|wrong|bad|unknown|not valid|not found|expired)\b")
_RATE_LIMIT = re.compile(r"too many requests|rate limit|slow down|try again later")

_BAD = r"\b(incorrect|invalid|wrong|unknown|bad)"
_WRONG = r"(incorrect|invalid|wrong|not valid|not found|does not exist|not exist|disabled)\b"

# Order matters: "You have active order with this link" is a duplicate, not an incorrect order.
_REASONS: Sequence[tuple[RefusalReason, re.Pattern[str]]] = (
    ("not_enough_funds", re.compile(r"enough (funds|balance|money)|insufficient|low balance")),
    ("min_quantity", re.compile(r"min quantity|less than min|minimal|minimum")),
    ("max_quantity", re.compile(r"max quantity|more than max|maximal|maximum")),
    ("increment", re.compile(r"increment|multiple of")),
    ("link_duplicate", re.compile(r"link duplicate|duplicate|active order")),
    # "Service Unavailable" (a 503 page) must not read as an incorrect service id.
    ("incorrect_service", re.compile(rf"{_BAD} service\b|\bservice (id )?(is )?{_WRONG}")),
    ("incorrect_link", re.compile(rf"{_BAD} (link|url)\b|\b(link|url) (is )?{_WRONG}")),
    ("incorrect_quantity", re.compile(rf"{_BAD} quantity\b|\bquantity (is )?{_WRONG}")),
    ("refill_not_found", re.compile(r"\brefill\b")),
    ("incorrect_order", re.compile(r"\border\b")),
    ("incorrect_request", re.compile(r"\b(request|action)\b")),
)


def is_invalid_key_text(text: str) -> bool:
    """True when a panel's error text says the API key is not accepted."""
    norm = _normalise(text)
    return bool(re.search(r"\b(api ?key|key)\b", norm) and _KEY_WORDS.search(norm))


def is_rate_limit_text(text: str) -> bool:
    """True when a panel's error text (sent with HTTP 200) says the client is rate limited."""
    return bool(_RATE_LIMIT.search(_normalise(text)))


def refusal_reason(text: str) -> RefusalReason:
    """Sort a panel's refusal text (or raw key like neworder.error.min_quantity) into a reason."""
    norm = _normalise(text)
    for reason, pattern in _REASONS:
        if pattern.search(norm):
            return reason
    return "other"


def error_from_text(
    raw_text: str,
    *,
    key: str,
    panel_url: str,
    action: str,
    status_code: int | None,
    write: bool,
    force_reason: RefusalReason | None = None,
) -> PanelError:
    """The exception for a panel's `{"error": text}` answer (the key masked out of the text)."""
    text = mask_key(raw_text, key)
    if is_invalid_key_text(text):
        return InvalidApiKey(text, panel_url=panel_url, action=action)
    if is_rate_limit_text(text):
        return PanelUnavailable(
            text, panel_url=panel_url, action=action, reason="rate_limited", status_code=status_code
        )
    reason = refusal_reason(text)
    if status_code is not None and status_code >= 500 and reason == "other":
        # 503 {"error": "Service temporarily unavailable"}: the panel is down, not refusing.
        return PanelUnavailable(
            text,
            panel_url=panel_url,
            action=action,
            reason="server_error",
            status_code=status_code,
            outcome_unknown=write,
        )
    return PanelRefused(
        text,
        panel_url=panel_url,
        action=action,
        panel_text=text,
        reason=force_reason or reason,
        status_code=status_code,
    )
