"""The bot's configuration: one Settings object read from environment variables and `.env`."""

from __future__ import annotations

import base64
import binascii
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


class SettingsError(Exception):
    """Raised when the environment holds invalid settings; the text names every bad variable."""


def _split_commas(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _check_http_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"must be an http(s) URL, got {url!r}")
    return url


def decode_master_key(text: str) -> bytes:
    """Decode a URL-safe base64 master key and check it is 32 bytes (AES-256)."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise ValueError("must be URL-safe base64 (as `python -m bot keygen` prints)") from None
    if len(raw) != 32:
        raise ValueError(f"must decode to 32 bytes, got {len(raw)}")
    return raw


class Settings(BaseSettings):
    """Every setting of the bot; the field names are the environment variable names (a contract)."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_bot_token: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    discord_bot_token: SecretStr | None = None
    discord_api_base_url: str = "https://discord.com/api/v10"
    discord_gateway_url: str = "wss://gateway.discord.gg"
    panel_api_url: str = "https://smmrich.com/api/v2"
    panel_allowed_urls: Annotated[list[str], NoDecode] = Field(default_factory=list)
    database_url: str = "sqlite:///data/bot.sqlite3"
    encryption_key: SecretStr | None = None
    encryption_old_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    status_poll_seconds: float = Field(default=120, gt=0)
    log_level: LogLevel = "INFO"
    panel_timeout_seconds: float = Field(default=30, gt=0)

    @field_validator("telegram_bot_token", "discord_bot_token", "encryption_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("panel_allowed_urls", "encryption_old_keys", mode="before")
    @classmethod
    def _comma_list(cls, value: object) -> object:
        return _split_commas(value)

    @field_validator("telegram_api_base_url", "discord_api_base_url", "panel_api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return _check_http_url(value.strip())

    @field_validator("panel_allowed_urls")
    @classmethod
    def _http_urls(cls, value: list[str]) -> list[str]:
        return [_check_http_url(url) for url in value]

    @field_validator("discord_gateway_url")
    @classmethod
    def _ws_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme not in ("ws", "wss") or not parts.netloc:
            raise ValueError(f"must be a ws:// or wss:// URL, got {value!r}")
        return value.strip()

    @field_validator("database_url")
    @classmethod
    def _sqlite_url(cls, value: str) -> str:
        if not value.startswith("sqlite:///") or len(value) <= len("sqlite:///"):
            raise ValueError("must look like sqlite:///relative/path or sqlite:////absolute/path")
        return value

    @field_validator("encryption_key")
    @classmethod
    def _master_key(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_master_key(value.get_secret_value())
        return value

    @field_validator("encryption_old_keys")
    @classmethod
    def _old_keys(cls, value: list[SecretStr]) -> list[SecretStr]:
        for position, key in enumerate(value, start=1):
            try:
                decode_master_key(key.get_secret_value())
            except ValueError as error:
                raise ValueError(f"key number {position} {error}") from None
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @property
    def database_path(self) -> Path:
        """The SQLite file named by DATABASE_URL (four slashes make it absolute)."""
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def panel_urls(self) -> list[str]:
        """Every panel URL users may register keys for; the default one first."""
        urls = [self.panel_api_url]
        urls.extend(url for url in self.panel_allowed_urls if url not in urls)
        return urls


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning pydantic's errors into one readable SettingsError."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as error:
        lines = ["Invalid settings:"]
        for problem in error.errors(include_url=False, include_input=False):
            variable = ".".join(str(part) for part in problem["loc"][:1]).upper() or "?"
            message = problem["msg"].removeprefix("Value error, ")
            lines.append(f"  {variable}: {message}")
        raise SettingsError("\n".join(lines)) from None
