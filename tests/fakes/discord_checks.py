"""Discord's documented payload limits, checked by the fake so that a bot which would be refused
by the real API is refused here too (HTTP 400, code 50035 "Invalid Form Body", with Discord's
nested ``errors`` object)."""

from __future__ import annotations

import re
from typing import Any

_NAME_RE = re.compile(r"^[-_'\w]{1,32}$")  # Discord also allows Devanagari/Thai marks; \w is enough
_EMPTY_MESSAGE = {"message": "Cannot send an empty message", "code": 50006}
Path = tuple[str | int, ...]


class FormErrors:
    """Collects field errors into Discord's ``{"errors": {"a": {"0": {"_errors": [...]}}}}``."""

    def __init__(self) -> None:
        self.errors: dict[str, Any] = {}

    def __bool__(self) -> bool:
        return bool(self.errors)

    def add(self, path: Path, code: str, message: str) -> None:
        """Record one error at a field path."""
        node = self.errors
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})

    def length(self, path: Path, value: Any, low: int, high: int) -> None:
        """Check a string's (or list's) length is within [low, high]."""
        if value is None:
            return
        size = len(value)
        if size < low or size > high:
            self.add(
                path,
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between {low} and {high} in length.",
            )

    def body(self) -> dict[str, Any]:
        """The 400 response body."""
        return {"message": "Invalid Form Body", "code": 50035, "errors": self.errors}


def check_message(body: dict[str, Any], *, creating: bool) -> dict[str, Any] | None:
    """Check a message create/edit body; returns the error body Discord would answer, or None."""
    errors = FormErrors()
    errors.length(("content",), body.get("content"), 0, 2000)
    embeds = body.get("embeds") or []
    errors.length(("embeds",), embeds, 0, 10)
    total = 0
    for i, embed in enumerate(embeds):
        for key, high in (("title", 256), ("description", 4096)):
            errors.length(("embeds", i, key), embed.get(key), 0, high)
            total += len(embed.get(key) or "")
        fields = embed.get("fields") or []
        errors.length(("embeds", i, "fields"), fields, 0, 25)
        for j, item in enumerate(fields):
            errors.length(("embeds", i, "fields", j, "name"), item.get("name"), 1, 256)
            errors.length(("embeds", i, "fields", j, "value"), item.get("value"), 1, 1024)
            total += len(item.get("name") or "") + len(item.get("value") or "")
        footer = (embed.get("footer") or {}).get("text")
        errors.length(("embeds", i, "footer", "text"), footer, 0, 2048)
        total += len(footer or "")
    if total > 6000:
        errors.add(
            ("embeds",), "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000"
        )
    check_components(errors, ("components",), body.get("components") or [], body.get("flags"))
    if errors:
        return errors.body()
    has_payload = any(
        body.get(key) for key in ("content", "embeds", "components", "attachments", "poll")
    )
    if creating and not has_payload and not body.get("sticker_ids"):
        return dict(_EMPTY_MESSAGE)
    return None


def check_components(errors: FormErrors, path: Path, rows: list[Any], flags: Any) -> None:
    """Message components: at most 5 action rows, 5 buttons or 1 select per row."""
    if int(flags or 0) & (1 << 15):
        # Components V2 layouts (containers, sections) have their own rules: only the total.
        errors.length(path, rows, 0, 40)
        return
    errors.length(path, rows, 0, 5)
    for i, row in enumerate(rows):
        if row.get("type") != 1:
            errors.add((*path, i, "type"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", "Must be a row")
            continue
        children = row.get("components") or []
        errors.length((*path, i, "components"), children, 1, 5)
        selects = [c for c in children if c.get("type") in (3, 5, 6, 7, 8)]
        if selects and len(children) > 1:
            errors.add(
                (*path, i, "components"),
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "The specified component exceeds the maximum width",
            )
        for j, child in enumerate(children):
            _check_interactive(errors, (*path, i, "components", j), child)


def _check_interactive(errors: FormErrors, path: Path, child: dict[str, Any]) -> None:
    ctype = child.get("type")
    if ctype == 2:
        errors.length((*path, "label"), child.get("label"), 0, 80)
        style = child.get("style")
        if style == 5:
            if not child.get("url"):
                errors.add((*path, "url"), "BASE_TYPE_REQUIRED", "This field is required")
        elif style == 6:
            if not child.get("sku_id"):
                errors.add((*path, "sku_id"), "BASE_TYPE_REQUIRED", "This field is required")
        elif not child.get("custom_id"):
            errors.add((*path, "custom_id"), "BASE_TYPE_REQUIRED", "This field is required")
        errors.length((*path, "custom_id"), child.get("custom_id"), 1, 100)
    elif ctype in (3, 5, 6, 7, 8):
        errors.length((*path, "custom_id"), child.get("custom_id"), 1, 100)
        errors.length((*path, "placeholder"), child.get("placeholder"), 0, 150)
        if ctype == 3:
            options = child.get("options") or []
            errors.length((*path, "options"), options, 1, 25)
            for k, option in enumerate(options):
                errors.length((*path, "options", k, "label"), option.get("label"), 1, 100)
                errors.length((*path, "options", k, "value"), option.get("value"), 1, 100)
                errors.length(
                    (*path, "options", k, "description"), option.get("description"), 0, 100
                )
    elif ctype == 4:
        errors.length((*path, "custom_id"), child.get("custom_id"), 1, 100)
        errors.length((*path, "label"), child.get("label"), 0, 45)
        errors.length((*path, "placeholder"), child.get("placeholder"), 0, 100)
        errors.length((*path, "value"), child.get("value"), 0, 4000)
        if child.get("style") not in (1, 2):
            errors.add((*path, "style"), "BASE_TYPE_CHOICES", "Value must be one of {1, 2}.")


def check_autocomplete(data: dict[str, Any]) -> dict[str, Any] | None:
    """Autocomplete result: at most 25 choices, names 1-100 characters."""
    errors = FormErrors()
    choices = data.get("choices")
    if choices is None:
        errors.add(("data", "choices"), "BASE_TYPE_REQUIRED", "This field is required")
    else:
        errors.length(("data", "choices"), choices, 0, 25)
        for i, choice in enumerate(choices):
            errors.length(("data", "choices", i, "name"), choice.get("name"), 1, 100)
            if isinstance(choice.get("value"), str):
                errors.length(("data", "choices", i, "value"), choice["value"], 0, 100)
    return errors.body() if errors else None


def check_modal(data: dict[str, Any]) -> dict[str, Any] | None:
    """Modal: custom_id 1-100, title 1-45, 1-5 top-level rows or labels."""
    errors = FormErrors()
    errors.length(("data", "custom_id"), data.get("custom_id") or "", 1, 100)
    errors.length(("data", "title"), data.get("title") or "", 1, 45)
    top = data.get("components") or []
    errors.length(("data", "components"), top, 1, 5)
    for i, item in enumerate(top):
        path: Path = ("data", "components", i)
        if item.get("type") == 1:
            for j, child in enumerate(item.get("components") or []):
                _check_interactive(errors, (*path, "components", j), child)
        elif item.get("type") == 18:
            errors.length((*path, "label"), item.get("label"), 1, 45)
            errors.length((*path, "description"), item.get("description"), 0, 100)
            child = item.get("component")
            if not isinstance(child, dict):
                errors.add((*path, "component"), "BASE_TYPE_REQUIRED", "This field is required")
            else:
                _check_interactive(errors, (*path, "component"), child)
    return errors.body() if errors else None


def check_commands(commands: list[dict[str, Any]]) -> dict[str, Any] | None:
    """A bulk overwrite: names, descriptions, option counts and ordering as Discord checks them."""
    errors = FormErrors()
    if len([c for c in commands if c.get("type", 1) == 1]) > 100:
        errors.add((), "APPLICATION_COMMANDS_TOO_MANY", "Maximum number of commands reached (100)")
    seen: set[tuple[str, int]] = set()
    for i, command in enumerate(commands):
        ctype = int(command.get("type", 1))
        name = command.get("name") or ""
        key = (name, ctype)
        if key in seen:
            errors.add(
                (i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", f"Duplicate name: {name}"
            )
        seen.add(key)
        if ctype == 1:
            _check_name(errors, (i, "name"), name)
            errors.length((i, "description"), command.get("description") or "", 1, 100)
            _check_options(errors, (i, "options"), command.get("options") or [], depth=0)
        else:
            errors.length((i, "name"), name, 1, 32)
    return errors.body() if errors else None


def _check_name(errors: FormErrors, path: Path, name: str) -> None:
    if not _NAME_RE.match(name) or name != name.lower():
        errors.add(
            path,
            "APPLICATION_COMMAND_INVALID_NAME",
            f"Command name is invalid: {name!r} (1-32 lowercase letters, digits, - or _)",
        )


def _check_options(errors: FormErrors, path: Path, options: list[Any], depth: int) -> None:
    errors.length(path, options, 0, 25)
    seen_optional = False
    for i, option in enumerate(options):
        here = (*path, i)
        _check_name(errors, (*here, "name"), option.get("name") or "")
        errors.length((*here, "description"), option.get("description") or "", 1, 100)
        otype = option.get("type")
        if otype in (1, 2):
            if depth >= (1 if otype == 2 else 2):
                errors.add((*here, "type"), "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID", "Nesting")
            _check_options(errors, (*here, "options"), option.get("options") or [], depth + 1)
            continue
        if option.get("required"):
            if seen_optional:
                errors.add(
                    (*here, "required"),
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
        else:
            seen_optional = True
        choices = option.get("choices") or []
        errors.length((*here, "choices"), choices, 0, 25)
        if choices and option.get("autocomplete"):
            errors.add(
                (*here, "autocomplete"),
                "APPLICATION_COMMAND_OPTIONS_AUTOCOMPLETE_INVALID",
                "Autocomplete cannot be set with choices",
            )
        for k, choice in enumerate(choices):
            errors.length((*here, "choices", k, "name"), choice.get("name"), 1, 100)
