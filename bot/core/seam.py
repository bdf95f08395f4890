"""The neutral types that cross the seam between the core and the chat platforms.

Adapters turn platform events into an `Invocation`, hand it to `BotCore.handle`, and render the
`Reply` they get back. The core never sends anything itself; pushed messages (alerts) go out through
a `Sender` that each adapter implements.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

Platform = Literal["telegram", "discord", "console"]
InvocationKind = Literal["command", "action", "text"]
ButtonStyle = Literal["primary", "secondary", "success", "danger"]

# Telegram's callback_data holds 1-64 bytes; Discord's custom_id holds 100 characters.
MAX_ACTION_BYTES = 64


@dataclass(frozen=True, slots=True)
class Invocation:
    """One thing a user did: a command, a button press, or free text answering a question."""

    platform: Platform
    user_id: str
    chat_id: str
    is_private: bool
    kind: InvocationKind
    # command: the command name without slash ("refill_status"); action: the packed button data;
    # text: empty.
    name: str
    # command: the argument text after the command; text: the message text; action: empty.
    # Left out of the repr: it can hold an API key (a setkey argument or a prompted answer).
    text: str = field(default="", repr=False)
    display_name: str = ""


@dataclass(frozen=True, slots=True)
class Button:
    """A button under a reply: pressing it arrives as an `action` invocation carrying `action`."""

    label: str
    action: str = ""
    style: ButtonStyle = "secondary"
    # A link button opens this URL instead of sending an action (e.g. a deep link to a private
    # chat).
    url: str | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    """What the bot waits for next, so platforms with forms (Discord modals) can ask for it."""

    field: str
    label: str
    multiline: bool = False
    placeholder: str = ""
    secret: bool = False
    max_length: int = 4000


@dataclass(frozen=True, slots=True)
class Reply:
    """What the core answers; adapters render it with the platform's own widgets."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    # Personal content: Discord answers it ephemerally.
    private: bool = False
    # Replace the message whose button was pressed instead of sending a new one.
    edit: bool = False
    # The user's message held a secret (an API key): delete it as soon as it is read.
    delete_user_message: bool = False
    # A short line for the button press itself (Telegram's callback answer, Discord's ephemeral
    # notice); `alert` asks for a popup (used for refusals).
    notice: str = ""
    alert: bool = False
    # Set when the bot now waits for free text from this user.
    prompt: Prompt | None = None
    # Ask the adapter to offer a way to open a private chat with the bot (groups only).
    open_private: bool = False


@dataclass(frozen=True, slots=True)
class CommandOption:
    """One typed argument of a command, for platforms with typed options (slash commands)."""

    name: str
    description: str
    required: bool = False
    kind: Literal["text", "integer", "number", "service", "choice"] = "text"
    choices: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """A command every adapter exposes: its contract name, a description and its options."""

    name: str
    description: str
    options: tuple[CommandOption, ...] = ()
    # Needs a private chat (keys and other personal data).
    private_only: bool = False


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a pushed message goes: the platform the user came from and their id there."""

    platform: Platform
    user_id: str
    chat_id: str = ""


class DeliveryError(Exception):
    """A pushed message was not delivered; `retry_after` is a hint in seconds when known."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class RecipientUnreachable(DeliveryError):
    """The user blocked the bot or closed DMs: stop sending alerts to them."""


class Sender(Protocol):
    """Implemented by each adapter to push messages (alerts) to a user."""

    platform: Platform

    async def send(self, recipient: Recipient, reply: Reply) -> None:
        """Deliver `reply` to the user's private chat; raise DeliveryError on failure."""
        ...


@dataclass(frozen=True, slots=True)
class Choice:
    """One autocomplete choice: what the user sees and the value sent back."""

    label: str
    value: str
