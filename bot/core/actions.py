"""Typed button actions packed into at most 64 bytes (Telegram's callback_data limit).

Each action is a frozen dataclass with a short prefix; fields are joined with ':' after the
prefix and the owner's user id, so a pressed button can be checked against the user it was made
for. Anything that does not fit in 64 bytes is stored in SQLite behind a `Ref`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar, get_type_hints

from bot.core.seam import MAX_ACTION_BYTES

SEPARATOR = ":"
_registry: dict[str, type[Action]] = {}

A = TypeVar("A", bound="Action")


class ActionError(ValueError):
    """Packed data that is not a known, well-formed action."""


class ActionTooLong(ValueError):
    """The packed action would exceed 64 bytes; store it behind a Ref instead."""


@dataclass(frozen=True)
class Action:
    """Base of every button action; `owner` is the platform user id the button was made for."""

    prefix: ClassVar[str] = ""
    owner: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        prefix = cls.__dict__.get("prefix", "")
        if prefix:
            if prefix in _registry:
                raise TypeError(f"duplicate action prefix {prefix!r}")
            _registry[prefix] = cls

    def pack(self) -> str:
        """Serialise to `prefix:owner:field…`, refusing more than 64 bytes."""
        packed = self.encode()
        if len(packed.encode()) > MAX_ACTION_BYTES:
            raise ActionTooLong(f"{self.prefix} action is {len(packed.encode())} bytes")
        return packed

    def encode(self) -> str:
        """Serialise without the size limit (for state stored behind a Ref)."""
        parts = [self.prefix]
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            text = str(int(value)) if isinstance(value, bool) else str(value)
            if SEPARATOR in text:
                raise ActionError(f"{item.name} contains the separator")
            parts.append(text)
        return SEPARATOR.join(parts)


def unpack(data: str) -> Action:
    """Parse packed data back into its action, checking the prefix and every field's type."""
    prefix, _, rest = data.partition(SEPARATOR)
    return build(prefix, rest.split(SEPARATOR) if rest else [])


def fields_of(action: Action) -> list[str]:
    """The action's prefix and field values as text (for state stored behind a Ref)."""
    values = [getattr(action, item.name) for item in dataclasses.fields(action)]
    return [action.prefix, *(str(int(v)) if isinstance(v, bool) else str(v) for v in values)]


def build(prefix: str, values: list[str]) -> Action:
    """An action from its prefix and field values, checking each field's type."""
    cls = _registry.get(prefix)
    if cls is None:
        raise ActionError("unknown action")
    fields = dataclasses.fields(cls)
    # Fields added later carry defaults, so buttons packed before they existed still unpack.
    required = sum(1 for item in fields if item.default is dataclasses.MISSING)
    if not required <= len(values) <= len(fields):
        raise ActionError("malformed action")
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for item, raw in zip(fields[: len(values)], values, strict=True):
        kind = hints[item.name]
        try:
            if kind is int:
                kwargs[item.name] = int(raw)
            elif kind is bool:
                kwargs[item.name] = raw == "1"
            else:
                kwargs[item.name] = raw
        except ValueError:
            raise ActionError("malformed action") from None
    return cls(**kwargs)


# --- the actions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref(Action):
    """A bigger action stored in SQLite under a short id."""

    prefix: ClassVar[str] = "r"
    ref: str


@dataclass(frozen=True)
class CategoriesPage(Action):
    """The catalogue's category list at a page."""

    prefix: ClassVar[str] = "cp"
    page: int


@dataclass(frozen=True)
class CategoryServices(Action):
    """The services of one category (by its index in the sorted category list) at a page."""

    prefix: ClassVar[str] = "cs"
    category: int
    page: int


@dataclass(frozen=True)
class SearchPage(Action):
    """A page of search results; the query is stored behind `ref` (it can be long)."""

    prefix: ClassVar[str] = "sp"
    ref: str
    page: int


@dataclass(frozen=True)
class OrderService(Action):
    """Start the order wizard for a service."""

    prefix: ClassVar[str] = "os"
    service_id: str


@dataclass(frozen=True)
class WizardAbort(Action):
    """Leave the wizard (or any question the bot waits on)."""

    prefix: ClassVar[str] = "wa"


@dataclass(frozen=True)
class WizardChoice(Action):
    """Answer the current wizard step with a fixed value (a choice button, or skip)."""

    prefix: ClassVar[str] = "wc"
    step: str
    value: str
    # The service whose form the button belongs to, so a stale button cannot answer another form.
    service: str = ""


@dataclass(frozen=True)
class WizardConfirm(Action):
    """Place the order shown on the confirmation; `token` makes placing at most once."""

    prefix: ClassVar[str] = "wk"
    token: str


@dataclass(frozen=True)
class WizardCancel(Action):
    """Drop the order shown on the confirmation."""

    prefix: ClassVar[str] = "wx"
    token: str


@dataclass(frozen=True)
class StatusRefresh(Action):
    """Re-check one order and edit the message in place."""

    prefix: ClassVar[str] = "sr"
    order_id: str
    # The key the order was placed or looked up with (0 on buttons made before it was recorded:
    # the active key then).
    credential: int = 0


@dataclass(frozen=True)
class RefillOrder(Action):
    """Ask the panel to refill one order."""

    prefix: ClassVar[str] = "rf"
    order_id: str
    # The key the order was placed or looked up with (0 on buttons made before it was recorded:
    # the active key then).
    credential: int = 0


@dataclass(frozen=True)
class RefillRefresh(Action):
    """Re-check one refill."""

    prefix: ClassVar[str] = "rr"
    refill_id: str
    # The key the order was placed or looked up with (0 on buttons made before it was recorded:
    # the active key then).
    credential: int = 0


@dataclass(frozen=True)
class CancelAsk(Action):
    """Ask for confirmation before cancelling one order."""

    prefix: ClassVar[str] = "ca"
    order_id: str
    # The key the order was placed or looked up with (0 on buttons made before it was recorded:
    # the active key then).
    credential: int = 0


@dataclass(frozen=True)
class CancelConfirm(Action):
    """Cancel the orders stored behind `ref` (they can be many)."""

    prefix: ClassVar[str] = "cc"
    ref: str


@dataclass(frozen=True)
class CancelDrop(Action):
    """Keep the orders after all."""

    prefix: ClassVar[str] = "cd"


@dataclass(frozen=True)
class OrdersPage(Action):
    """The user's orders at a page, optionally only the active ones."""

    prefix: ClassVar[str] = "op"
    page: int
    active: bool


@dataclass(frozen=True)
class KeyUse(Action):
    """Make one of the user's keys the active one."""

    prefix: ClassVar[str] = "ku"
    credential_id: int


@dataclass(frozen=True)
class KeyRemove(Action):
    """Remove one of the user's keys."""

    prefix: ClassVar[str] = "kr"
    credential_id: int


@dataclass(frozen=True)
class KeyPanel(Action):
    """Choose the panel (by index in the allowed list) a new key is for."""

    prefix: ClassVar[str] = "kp"
    panel: int


@dataclass(frozen=True)
class ForgetConfirm(Action):
    """Delete everything the bot holds about the user."""

    prefix: ClassVar[str] = "fy"


@dataclass(frozen=True)
class ForgetDrop(Action):
    """Keep everything after all."""

    prefix: ClassVar[str] = "fn"
