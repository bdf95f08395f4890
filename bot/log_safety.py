"""Logging set-up that keeps secrets (bot tokens, users' API keys) out of every log line."""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable

REDACTED = "[redacted]"
# Users' keys remembered for scrubbing; older ones fall out (they travel only in POST bodies).
MAX_REMEMBERED_KEYS = 1024

# Library loggers that print request URLs (Bot API URLs carry the token) or whole incoming payloads
# (message texts, modal inputs holding an API key) at DEBUG. They are clamped whatever LOG_LEVEL
# says: a secret in a debug line is still a leaked secret.
_CLAMPED_LOGGERS = {
    "httpx": logging.WARNING,
    "httpcore": logging.WARNING,
    "hpack": logging.WARNING,
    "telegram": logging.INFO,
    "telegram.ext": logging.INFO,
    "discord": logging.INFO,
    "discord.http": logging.INFO,
    "discord.gateway": logging.INFO,
    "discord.client": logging.INFO,
    "discord.state": logging.INFO,
    "discord.webhook": logging.INFO,
    "aiohttp.access": logging.WARNING,
    "aiosqlite": logging.INFO,
}

# Whatever follows a setkey command is a key, even before the core has seen (and registered) it.
_SETKEY_ARGUMENT = re.compile(r"(/?setkey(?:@\w+)?\s+)\S+", re.IGNORECASE)
# Telegram bot tokens have a fixed shape; catch them even if nobody registered this one.
# No \b before it: in Bot API URLs the token follows "/bot" directly.
_TELEGRAM_TOKEN = re.compile(r"(?<!\d)\d{5,12}:[A-Za-z0-9_-]{30,}")
# A `key=` form field, should a library ever log a request body.
_KEY_FIELD = re.compile(r"(\bkey=)[^&\s'\"]+")


class SecretRegistry:
    """The secrets this process knows about; every log record is scrubbed of all of them.

    Bot tokens are pinned; users' keys are kept most-recently-used first up to a bound, because
    adding must stay cheap (any user can send /setkey) and the pattern is compiled lazily, once per
    change, when a line is actually logged. The library loggers' clamp is the first line of
    defence; this registry is the second.
    """

    def __init__(self, max_keys: int = MAX_REMEMBERED_KEYS) -> None:
        self._lock = threading.Lock()
        self._pinned: set[str] = set()
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._max_keys = max_keys
        self._pattern: re.Pattern[str] | None = None
        self._dirty = False

    def add(self, secret: str | None, *, pinned: bool = False) -> None:
        """Remember a secret (ignores empty and very short values, which would redact noise)."""
        if not secret or len(secret) < 6:
            return
        with self._lock:
            if pinned:
                self._dirty |= secret not in self._pinned
                self._pinned.add(secret)
                return
            if secret in self._recent:
                self._recent.move_to_end(secret)
                return
            self._recent[secret] = None
            if len(self._recent) > self._max_keys:
                self._recent.popitem(last=False)
            self._dirty = True

    def add_all(self, secrets: Iterable[str | None]) -> None:
        """Remember several secrets."""
        for secret in secrets:
            self.add(secret)

    def _current_pattern(self) -> re.Pattern[str] | None:
        with self._lock:
            if self._dirty:
                known = sorted({*self._pinned, *self._recent}, key=len, reverse=True)
                self._pattern = (
                    re.compile("|".join(re.escape(item) for item in known)) if known else None
                )
                self._dirty = False
            return self._pattern

    def scrub(self, text: str) -> str:
        """Return `text` with every known secret and secret-shaped value replaced."""
        pattern = self._current_pattern()
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        text = _SETKEY_ARGUMENT.sub(lambda match: match.group(1) + REDACTED, text)
        text = _TELEGRAM_TOKEN.sub(REDACTED, text)
        return _KEY_FIELD.sub(lambda match: match.group(1) + REDACTED, text)


secrets = SecretRegistry()


class RedactingFilter(logging.Filter):
    """Formats the record's message early and scrubs secrets from it and from any traceback."""

    def __init__(self, registry: SecretRegistry) -> None:
        super().__init__()
        self.registry = registry

    def filter(self, record: logging.LogRecord) -> bool:
        """Replace the record's message with its scrubbed, fully formatted text."""
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not take logging down
            message = str(record.msg)
        record.msg = self.registry.scrub(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.registry.scrub(record.exc_text)
        if record.stack_info:
            record.stack_info = self.registry.scrub(record.stack_info)
        return True


def install_redaction(handler: logging.Handler, registry: SecretRegistry = secrets) -> None:
    """Attach the redacting filter to a handler (idempotent)."""
    if not any(isinstance(item, RedactingFilter) for item in handler.filters):
        handler.addFilter(RedactingFilter(registry))


def clamp_library_loggers() -> None:
    """Keep the libraries that log URLs and payloads above the levels where they print secrets."""
    for name, floor in _CLAMPED_LOGGERS.items():
        logger = logging.getLogger(name)
        if logger.getEffectiveLevel() < floor or logger.level == logging.NOTSET:
            logger.setLevel(floor)


def configure_logging(level: str, registry: SecretRegistry = secrets) -> None:
    """Set up root logging once: one stderr handler, secrets scrubbed, noisy libraries clamped."""
    root = logging.getLogger()
    root.setLevel(level)
    if not root.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
        root.addHandler(stream)
    for handler in root.handlers:
        install_redaction(handler, registry)
    clamp_library_loggers()
