"""The command table: which handler answers which command, button action and awaited answer."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.core.actions import Action
from bot.core.context import Context
from bot.core.seam import CommandOption, CommandSpec, Reply

CommandHandler = Callable[[Context, str], Awaitable[Reply]]
ActionHandler = Callable[[Context, Any], Awaitable[Reply]]
AnswerHandler = Callable[[Context, dict[str, object], str], Awaitable[Reply]]
H = TypeVar("H")


@dataclass(frozen=True, slots=True)
class Command:
    """A registered command: its contract spec and its handler."""

    spec: CommandSpec
    handler: CommandHandler


class Registry:
    """Handlers by command name, action type and conversation kind."""

    def __init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.actions: dict[type[Action], ActionHandler] = {}
        self.answers: dict[str, AnswerHandler] = {}

    def command(
        self,
        name: str,
        description: str,
        *options: CommandOption,
        private_only: bool = False,
    ) -> Callable[[CommandHandler], CommandHandler]:
        """Register a command handler under its contract name."""

        def register(handler: CommandHandler) -> CommandHandler:
            spec = CommandSpec(name, description, tuple(options), private_only)
            self.commands[name] = Command(spec, handler)
            return handler

        return register

    def action(self, kind: type[Action]) -> Callable[[H], H]:
        """Register the handler of one button action type."""

        def register(handler: H) -> H:
            self.actions[kind] = handler  # type: ignore[assignment]
            return handler

        return register

    def answer(self, kind: str) -> Callable[[AnswerHandler], AnswerHandler]:
        """Register the handler of free-text answers while a conversation of `kind` is open."""

        def register(handler: AnswerHandler) -> AnswerHandler:
            self.answers[kind] = handler
            return handler

        return register


registry = Registry()
