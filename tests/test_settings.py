"""Settings: every contract variable read from the environment, and clear errors for bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bot.crypto import generate_master_key
from bot.settings import Settings, SettingsError, load_settings
from tests.support.process import bot_env, run_bot

CONTRACT = {
    "TELEGRAM_BOT_TOKEN": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghi",
    "TELEGRAM_API_BASE_URL": "http://127.0.0.1:9/bot",
    "DISCORD_BOT_TOKEN": "discord.token.value",
    "DISCORD_API_BASE_URL": "http://127.0.0.1:9/api/v10",
    "DISCORD_GATEWAY_URL": "ws://127.0.0.1:9/gateway",
    "PANEL_API_URL": "https://panel.example/api/v2",
    "PANEL_ALLOWED_URLS": "https://a.example/api/v2, https://b.example/api/v2",
    "DATABASE_URL": "sqlite:////tmp/somewhere/bot.sqlite3",
    "STATUS_POLL_SECONDS": "45",
    "LOG_LEVEL": "debug",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if name.split("_")[0] in ("TELEGRAM", "DISCORD", "PANEL", "DATABASE", "ENCRYPTION"):
            monkeypatch.delenv(name)
    for name in ("STATUS_POLL_SECONDS", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    return monkeypatch


def test_defaults(clean_env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.telegram_bot_token is None and settings.discord_bot_token is None
    assert settings.telegram_api_base_url == "https://api.telegram.org/bot"
    assert settings.discord_api_base_url == "https://discord.com/api/v10"
    assert settings.discord_gateway_url == "wss://gateway.discord.gg"
    assert settings.panel_api_url == "https://smmrich.com/api/v2"
    assert settings.panel_allowed_urls == []
    assert settings.database_url == "sqlite:///data/bot.sqlite3"
    assert settings.database_path == Path("data/bot.sqlite3")
    assert settings.encryption_key is None and settings.encryption_old_keys == []
    assert settings.status_poll_seconds == 120
    assert settings.log_level == "INFO"


def test_every_variable_from_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    key, old = generate_master_key(), generate_master_key()
    for name, value in CONTRACT.items():
        clean_env.setenv(name, value)
    clean_env.setenv("ENCRYPTION_KEY", key)
    clean_env.setenv("ENCRYPTION_OLD_KEYS", old)
    settings = load_settings()
    assert settings.telegram_bot_token is not None
    assert settings.telegram_bot_token.get_secret_value() == CONTRACT["TELEGRAM_BOT_TOKEN"]
    assert settings.discord_bot_token is not None
    assert settings.discord_bot_token.get_secret_value() == "discord.token.value"
    assert settings.telegram_api_base_url == CONTRACT["TELEGRAM_API_BASE_URL"]
    assert settings.discord_api_base_url == CONTRACT["DISCORD_API_BASE_URL"]
    assert settings.discord_gateway_url == CONTRACT["DISCORD_GATEWAY_URL"]
    assert settings.panel_api_url == CONTRACT["PANEL_API_URL"]
    assert settings.panel_allowed_urls == ["https://a.example/api/v2", "https://b.example/api/v2"]
    assert settings.panel_urls[0] == CONTRACT["PANEL_API_URL"] and len(settings.panel_urls) == 3
    assert settings.database_path == Path("/tmp/somewhere/bot.sqlite3")
    assert settings.encryption_key is not None
    assert settings.encryption_key.get_secret_value() == key
    assert [item.get_secret_value() for item in settings.encryption_old_keys] == [old]
    assert settings.status_poll_seconds == 45
    assert settings.log_level == "DEBUG"


def test_dotenv_file_is_read(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("PANEL_API_URL=https://dotenv.example/api/v2\n")
    assert load_settings().panel_api_url == "https://dotenv.example/api/v2"


def test_secrets_never_print(clean_env: pytest.MonkeyPatch) -> None:
    key = generate_master_key()
    clean_env.setenv("TELEGRAM_BOT_TOKEN", CONTRACT["TELEGRAM_BOT_TOKEN"])
    clean_env.setenv("ENCRYPTION_KEY", key)
    settings = load_settings()
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert CONTRACT["TELEGRAM_BOT_TOKEN"] not in text
        assert key not in text


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PANEL_API_URL", "ftp://x", "http(s) URL"),
        ("PANEL_ALLOWED_URLS", "https://ok.example/api/v2,notaurl", "http(s) URL"),
        ("TELEGRAM_API_BASE_URL", "api.telegram.org", "http(s) URL"),
        ("DISCORD_API_BASE_URL", "discord", "http(s) URL"),
        ("DISCORD_GATEWAY_URL", "https://gateway.discord.gg", "ws://"),
        ("DATABASE_URL", "postgres://db", "sqlite:///"),
        ("ENCRYPTION_KEY", "c2hvcnQ=", "32 bytes"),
        ("ENCRYPTION_KEY", "!!!not base64!!!", "base64"),
        ("ENCRYPTION_OLD_KEYS", "abc", "key number 1"),
        ("STATUS_POLL_SECONDS", "soon", "number"),
        ("STATUS_POLL_SECONDS", "0", "greater than 0"),
        ("LOG_LEVEL", "LOUD", "DEBUG"),
    ],
)
def test_invalid_values_name_the_variable(
    clean_env: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    clean_env.setenv(variable, value)
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert f"{variable}:" in message
    assert expected in message


def test_several_bad_variables_in_one_message(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("PANEL_API_URL", "nope")
    clean_env.setenv("STATUS_POLL_SECONDS", "-1")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    assert "PANEL_API_URL" in str(raised.value) and "STATUS_POLL_SECONDS" in str(raised.value)


def test_invalid_settings_exit_2_without_traceback(tmp_path: Path) -> None:
    env = bot_env(tmp_path, STATUS_POLL_SECONDS="never", ENCRYPTION_KEY="tooshort")
    result = run_bot("run", env=env, cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "STATUS_POLL_SECONDS" in result.stderr and "ENCRYPTION_KEY" in result.stderr
    assert "tooshort" not in result.stderr


def test_settings_class_field_names_are_the_contract() -> None:
    names = {name.upper() for name in Settings.model_fields}
    assert set(CONTRACT) | {"ENCRYPTION_KEY", "ENCRYPTION_OLD_KEYS"} <= names
