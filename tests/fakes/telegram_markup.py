"""Telegram's entity parsers: HTML, MarkdownV2 and legacy Markdown text to plain text + entities."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_USER_LINK = re.compile(r"tg://user\?id=([0-9]{1,20})")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units: the unit of every entity offset and length."""
    return len(text.encode("utf-16-le")) // 2


class EntityParseError(ValueError):
    """Text Telegram's parser refuses; the message follows "can't parse entities: "."""


def _entity_error(raw: str, index: int, detail: str) -> EntityParseError:
    # Telegram reports positions as UTF-8 byte offsets into the raw text.
    return EntityParseError(f"{detail} at byte offset {len(raw[:index].encode())}")


class _Output:
    """Text being built by a parser, tracking its UTF-16 length for entity offsets."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.pos = 0
        self.entities: list[dict[str, Any]] = []

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.pos += utf16_len(text)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        # Telegram drops entities that cover no text.
        if self.pos > start:
            self.entities.append(
                {"type": kind, "offset": start, "length": self.pos - start, **extra}
            )

    def link(self, start: int, url: str) -> None:
        # A tg://user link mentions a user by id; other links become text_link, none is plain.
        mention = _USER_LINK.fullmatch(url)
        if mention:
            user = {"id": int(mention[1]), "is_bot": False, "first_name": ""}
            self.entity("text_mention", start, user=user)
        elif url:
            self.entity("text_link", start, url=url)

    def result(self) -> tuple[str, list[dict[str, Any]]]:
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), ordered


# ---- HTML ------------------------------------------------------------------------------------

_HTML_ENTITY = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_START_TAG = re.compile(r"<([a-zA-Z][a-zA-Z0-9-]*)")
_END_TAG = re.compile(r"</([a-zA-Z][a-zA-Z0-9-]*)\s*>")
_ATTRIBUTE = re.compile(r"""\s+([a-zA-Z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_TAG_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}


def _decode_html_entity(match: re.Match[str]) -> str:
    decimal, hexadecimal, name = match.groups()
    if name:
        return _NAMED[name]
    code = int(decimal) if decimal else int(hexadecimal, 16)
    valid = 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF
    return chr(code) if valid else "\ufffd"


@dataclass
class _OpenTag:
    name: str
    start: int
    attrs: dict[str, str]
    language: str | None = None


def parse_html(raw: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse parse_mode=HTML like Telegram; stricter in one way: a bare `&` is an error too."""
    out = _Output()
    stack: list[_OpenTag] = []
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "&":
            match = _HTML_ENTITY.match(raw, i)
            if match is None:
                # Real Telegram keeps a stray '&' literally; rejecting it catches missing escaping.
                raise _entity_error(raw, i, "unescaped '&' (write &amp;)")
            out.add(_decode_html_entity(match))
            i = match.end()
        elif raw.startswith("</", i):
            i = _close_tag(raw, i, out, stack)
        elif char == "<":
            i = _open_tag(raw, i, out, stack)
        else:
            out.add(char)
            i += 1
    if stack:
        detail = f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"'
        raise EntityParseError(detail)
    return out.result()


def _open_tag(raw: str, i: int, out: _Output, stack: list[_OpenTag]) -> int:
    match = _START_TAG.match(raw, i)
    if match is None:
        raise _entity_error(raw, i, 'Unsupported start tag ""')
    name = match.group(1).lower()
    if name not in _TAG_TYPES:
        raise _entity_error(raw, i, f'Unsupported start tag "{name}"')
    attrs: dict[str, str] = {}
    j = match.end()
    while attribute := _ATTRIBUTE.match(raw, j):
        value = next((v for v in attribute.groups()[1:] if v is not None), "")
        attrs[attribute.group(1).lower()] = _HTML_ENTITY.sub(_decode_html_entity, value)
        j = attribute.end()
    while j < len(raw) and raw[j].isspace():
        j += 1
    if j >= len(raw) or raw[j] != ">":
        raise _entity_error(raw, i, f'Unclosed start tag "{name}"')
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise _entity_error(raw, i, 'Tag "span" must have class "tg-spoiler"')
    stack.append(_OpenTag(name, out.pos, attrs))
    return j + 1


def _close_tag(raw: str, i: int, out: _Output, stack: list[_OpenTag]) -> int:
    match = _END_TAG.match(raw, i)
    if match is None:
        raise _entity_error(raw, i, "Unclosed end tag")
    name = match.group(1).lower()
    if not stack:
        raise _entity_error(raw, i, "Unexpected end tag")
    tag = stack.pop()
    if tag.name != name:
        detail = f'Unmatched end tag, expected "</{tag.name}>", found "</{name}>"'
        raise _entity_error(raw, i, detail)
    kind = _TAG_TYPES[name]
    parent = stack[-1] if stack else None
    if name == "code" and parent is not None and parent.name == "pre":
        language = tag.attrs.get("class", "")
        if language.startswith("language-"):
            # <pre><code class="language-x"> is one pre entity with a language, not two.
            parent.language = language.removeprefix("language-")
            return match.end()
    if kind == "text_link":
        out.link(tag.start, tag.attrs.get("href", ""))
    elif kind == "pre" and tag.language:
        out.entity("pre", tag.start, language=tag.language)
    elif kind == "custom_emoji":
        out.entity(kind, tag.start, custom_emoji_id=tag.attrs.get("emoji-id", ""))
    elif kind == "blockquote" and "expandable" in tag.attrs:
        out.entity("expandable_blockquote", tag.start)
    else:
        out.entity(kind, tag.start)
    return match.end()


# ---- MarkdownV2 ------------------------------------------------------------------------------

_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_V2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
    "code": "Code",
    "pre": "Pre",
    "custom_emoji": "CustomEmoji",
}


@dataclass
class _OpenV2:
    kind: str
    start: int
    index: int
    language: str | None = None


def _v2_closes(raw: str, i: int, top: _OpenV2) -> bool:
    char, ahead = raw[i], raw[i + 1 : i + 3]
    return {
        "bold": char == "*",
        "italic": char == "_" and not ahead.startswith("_"),
        "underline": raw.startswith("__", i),
        "strikethrough": char == "~",
        "spoiler": raw.startswith("||", i),
        "text_link": char == "]",
        "custom_emoji": char == "]",
        "code": char == "`",
        "pre": raw.startswith("```", i),
    }[top.kind]


def parse_markdown_v2(raw: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse parse_mode=MarkdownV2 like Telegram: every reserved character must be escaped."""
    out = _Output()
    stack: list[_OpenV2] = []
    quote: tuple[int, bool] | None = None
    i = 0
    while i < len(raw):
        in_code = bool(stack) and stack[-1].kind in ("code", "pre")
        if (i == 0 or raw[i - 1] == "\n") and not in_code:
            if raw.startswith("**>", i) or raw[i] == ">":
                if quote is None:
                    quote = (out.pos, raw[i] == "*")
                i += 3 if raw[i] == "*" else 1
                continue
            if quote is not None:
                _end_quote(out, quote)
                quote = None
        char = raw[i]
        if char == "\\" and i + 1 < len(raw) and 0 < ord(raw[i + 1]) <= 126:
            out.add(raw[i + 1])
            i += 2
            continue
        if quote is not None and raw.startswith("||", i) and raw[i + 2 : i + 3] in ("", "\n"):
            quote = (quote[0], True)  # a trailing || makes the quote expandable
            i += 2
            continue
        if (in_code and char != "`") or (not in_code and char not in _V2_RESERVED):
            out.add(char)
            i += 1
            continue
        if stack and _v2_closes(raw, i, stack[-1]):
            i = _close_v2(raw, i, out, stack.pop())
        else:
            i = _open_v2(raw, i, out, stack)
    if stack:
        top = stack[-1]
        raise _entity_error(raw, top.index, f"Can't find end of {_V2_NAMES[top.kind]} entity")
    if quote is not None:
        _end_quote(out, quote)
    return out.result()


def _end_quote(out: _Output, quote: tuple[int, bool]) -> None:
    start, expandable = quote
    end = out.pos - 1 if out.parts and out.parts[-1].endswith("\n") else out.pos
    if end > start:
        kind = "expandable_blockquote" if expandable else "blockquote"
        out.entities.append({"type": kind, "offset": start, "length": end - start})


def _open_v2(raw: str, i: int, out: _Output, stack: list[_OpenV2]) -> int:
    char = raw[i]
    reserved = f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    if raw.startswith("```", i):
        j = i + 3
        newline = raw.find("\n", j)
        language = raw[j:newline] if newline != -1 else ""
        language_ok = language and not any(c.isspace() or c == "`" for c in language)
        if language_ok:
            j = newline
        if raw.startswith("\n", j):
            j += 1
        stack.append(_OpenV2("pre", out.pos, i, language if language_ok else None))
        return j
    openers = {
        "__": "underline",
        "||": "spoiler",
        "![": "custom_emoji",
        "_": "italic",
        "*": "bold",
        "~": "strikethrough",
        "[": "text_link",
        "`": "code",
    }
    for token, kind in openers.items():
        if raw.startswith(token, i):
            stack.append(_OpenV2(kind, out.pos, i))
            return i + len(token)
    raise EntityParseError(reserved)


def _close_v2(raw: str, i: int, out: _Output, top: _OpenV2) -> int:
    width = {"underline": 2, "spoiler": 2, "pre": 3}.get(top.kind, 1)
    j = i + width
    if top.kind in ("text_link", "custom_emoji"):
        url = ""
        if raw.startswith("(", j):
            j += 1
            while j < len(raw) and raw[j] != ")":
                if raw[j] == "\\" and j + 1 < len(raw):
                    j += 1
                url += raw[j]
                j += 1
            if j >= len(raw):
                raise _entity_error(raw, top.index, "Can't find end of a URL")
            j += 1
        if top.kind == "custom_emoji":
            if not url.startswith("tg://emoji?id="):
                raise _entity_error(
                    raw, top.index, "Custom emoji entity must contain a tg://emoji URL"
                )
            out.entity("custom_emoji", top.start, custom_emoji_id=url.split("=", 1)[1])
        else:
            out.link(top.start, url)
        return j
    if top.kind == "pre" and top.language:
        out.entity("pre", top.start, language=top.language)
    else:
        out.entity(top.kind, top.start)
    return j


# ---- legacy Markdown -------------------------------------------------------------------------


def parse_markdown(raw: str) -> tuple[str, list[dict[str, Any]]]:
    """Parse the legacy parse_mode=Markdown: *bold*, _italic_, `code`, ```pre```, [text](url)."""
    out = _Output()
    i = 0
    while i < len(raw):
        char = raw[i]
        if char == "\\" and raw[i + 1 : i + 2] in ("_", "*", "`", "["):
            out.add(raw[i + 1])
            i += 2
            continue
        if char not in "_*`[":
            out.add(char)
            i += 1
            continue
        begin, start = i, out.pos
        closing = "]" if char == "[" else char
        pre = raw.startswith("```", i)
        i += 3 if pre else 1
        end = raw.find("```" if pre else closing, i)
        if end == -1:
            raise _entity_error(raw, begin, "Can't find end of the entity starting")
        out.add(raw[i:end])
        i = end + (3 if pre else 1)
        if char == "[":
            close = raw.find(")", i) if raw.startswith("(", i) else -1
            if close != -1:
                out.entity("text_link", start, url=raw[i + 1 : close])
                i = close + 1
            continue
        kind = {"_": "italic", "*": "bold"}.get(char, "pre" if pre else "code")
        out.entity(kind, start)
    return out.result()
