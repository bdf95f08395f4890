"""Errors a handler raises to end an invocation with a clear message to the user."""

from __future__ import annotations


class UserError(Exception):
    """Ends the invocation: `text` is shown to the user and nothing was changed."""

    def __init__(self, text: str, *, alert: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.alert = alert


class NoKey(UserError):
    """The user has no usable API key yet."""

    def __init__(self) -> None:
        super().__init__(
            "You have no panel API key set yet. Send /setkey in a private chat with me and give "
            "it the key from your panel's API page."
        )


class NotYours(UserError):
    """A button or id that belongs to someone else."""

    def __init__(self) -> None:
        super().__init__("This button belongs to someone else. Nothing was changed.", alert=True)
