"""No API key or bot token reaches a log line, at DEBUG included."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.log_safety import REDACTED, SecretRegistry, configure_logging, install_redaction
from tests.support.corebot import DEMO_KEY, ChatUser, make_settings, new_simulator, running_core

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """The root logger at DEBUG writing to a buffer through the bot's own configuration."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    root.handlers = [handler]
    configure_logging("DEBUG")
    yield buffer
    root.handlers = saved[1]
    root.setLevel(saved[0])


def test_registry_scrubs_known_and_shaped_secrets() -> None:
    registry = SecretRegistry()
    registry.add("my-very-secret-api-key")
    text = registry.scrub(
        f"key my-very-secret-api-key and /setkey other-key-123 url /bot{TOKEN}/getMe key=abc123&x"
    )
    assert "my-very-secret-api-key" not in text
    assert "other-key-123" not in text
    assert TOKEN not in text
    assert "key=abc123" not in text
    assert text.count(REDACTED) == 4


def test_filter_scrubs_arguments_and_tracebacks() -> None:
    registry = SecretRegistry()
    registry.add("super-secret-value-1")
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    install_redaction(handler, registry)
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("value %s", "super-secret-value-1")
        try:
            raise ValueError("boom super-secret-value-1")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert "super-secret-value-1" not in buffer.getvalue()
    assert "boom" in buffer.getvalue()


def test_library_loggers_are_clamped_even_at_debug(captured: io.StringIO) -> None:
    assert logging.getLogger("httpx").getEffectiveLevel() >= logging.WARNING
    assert logging.getLogger("telegram").getEffectiveLevel() >= logging.INFO
    assert logging.getLogger("discord.gateway").getEffectiveLevel() >= logging.INFO
    assert logging.getLogger("bot").getEffectiveLevel() == logging.DEBUG


async def test_core_journey_at_debug_logs_no_key(captured: io.StringIO, tmp_path: Path) -> None:
    async with (
        new_simulator() as simulator,
        running_core(make_settings(tmp_path, simulator.url)) as runtime,
    ):
        user = ChatUser(runtime)
        await user.say("/setkey wrong-key-that-is-secret")
        await user.say(f"/setkey {DEMO_KEY}")
        await user.say("/balance")
        simulator.quirks.html_page = 503
        await user.say("/balance")
        simulator.quirks.html_page = None
        await user.say("/services likes")
        logging.getLogger("bot.test").debug("incoming text: /setkey %s", "typed-key-999")
    output = captured.getvalue()
    assert "panel balance" in output  # the client's DEBUG lines are there...
    for secret in (DEMO_KEY, "wrong-key-that-is-secret", "typed-key-999"):
        assert secret not in output  # ...but never a key
