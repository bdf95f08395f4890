"""Encryption of users' panel API keys at rest: AES-256-GCM bound to the key's owner.

Stored value format (version 1), all fields fixed length except the last:

    b"v1" (2 bytes) | key id (4 bytes) | nonce (12 random bytes) | ciphertext + GCM tag (16 bytes)

The key id is the first 4 bytes of SHA-256 over a label and the master key: it names which master
key encrypted the value (so retired keys can still be read) without revealing anything about it.
The associated data is the header (version and key id) plus the owner (platform, platform user id,
panel URL), length-prefixed so no two owners encode alike: a value copied into another user's row,
or moved to another panel, fails authentication instead of decrypting.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bot.settings import Settings, decode_master_key

log = logging.getLogger(__name__)

KEY_FILE_NAME = "encryption.key"
_VERSION = b"v1"
_KEY_ID_BYTES = 4
_NONCE_BYTES = 12
_TAG_BYTES = 16
_HEADER_BYTES = len(_VERSION) + _KEY_ID_BYTES
_MIN_VALUE_BYTES = _HEADER_BYTES + _NONCE_BYTES + _TAG_BYTES
_KEY_ID_LABEL = b"smm-panel-bot key id v1\x00"


@dataclass(frozen=True, slots=True)
class KeyOwner:
    """Who an encrypted API key belongs to; bound into every ciphertext as associated data."""

    platform: str
    user_id: str
    panel_url: str

    def associated_data(self) -> bytes:
        """The owner encoded unambiguously (each part length-prefixed)."""
        parts = (self.platform, self.user_id, self.panel_url)
        out = bytearray()
        for part in parts:
            raw = part.encode("utf-8")
            out += len(raw).to_bytes(4, "big")
            out += raw
        return bytes(out)


class DecryptionError(Exception):
    """A stored value cannot be decrypted: tampered, wrong owner, unknown key id or bad format."""


def generate_master_key() -> str:
    """Return a fresh master key: URL-safe base64 of 32 random bytes (what `keygen` prints)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii")


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(_KEY_ID_LABEL + key).digest()[:_KEY_ID_BYTES]


class KeyCipher:
    """Encrypts and decrypts API keys under the current master key; reads retired keys too."""

    __slots__ = ("_by_id", "_current", "_current_id", "current_key_id")

    def __init__(self, current: bytes, old: Sequence[bytes] = ()) -> None:
        """Build a cipher from the current 32-byte master key and any retired ones."""
        for key in (current, *old):
            if len(key) != 32:
                raise ValueError("master keys must be 32 bytes (AES-256)")
        self._current_id = _key_id(current)
        self._current = AESGCM(current)
        self._by_id: dict[bytes, AESGCM] = {self._current_id: self._current}
        for key in old:
            key_id = _key_id(key)
            if key_id == self._current_id and key != current:
                raise ValueError("two different master keys share a key id; generate a new key")
            if key_id not in self._by_id:
                self._by_id[key_id] = AESGCM(key)
        self.current_key_id: str = self._current_id.hex()

    def __repr__(self) -> str:
        """Show key ids only, never key material."""
        return f"KeyCipher(current_key_id={self.current_key_id!r}, keys={len(self._by_id)})"

    def encrypt(self, plaintext: str, owner: KeyOwner) -> bytes:
        """Encrypt `plaintext` for `owner` under the current key (format: module docstring)."""
        header = _VERSION + self._current_id
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._current.encrypt(
            nonce, plaintext.encode("utf-8"), header + owner.associated_data()
        )
        return header + nonce + sealed

    def decrypt(self, value: bytes, owner: KeyOwner) -> str:
        """Decrypt a value made by `encrypt` for the same owner, or raise DecryptionError."""
        key_id = self._parse_key_id(value)
        aead = self._by_id.get(key_id)
        if aead is None:
            raise DecryptionError(
                f"value was encrypted under an unknown master key (key id {key_id.hex()}); "
                "add that key to ENCRYPTION_OLD_KEYS"
            )
        nonce = value[_HEADER_BYTES : _HEADER_BYTES + _NONCE_BYTES]
        sealed = value[_HEADER_BYTES + _NONCE_BYTES :]
        try:
            plain = aead.decrypt(nonce, sealed, value[:_HEADER_BYTES] + owner.associated_data())
        except InvalidTag:
            raise DecryptionError(
                "value failed authentication (tampered, or it belongs to another owner)"
            ) from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:
            raise DecryptionError("decrypted value is not UTF-8 text") from None

    def needs_rotation(self, value: bytes) -> bool:
        """Tell whether a value is not (readably) under the current key, e.g. under an old key."""
        try:
            return self._parse_key_id(value) != self._current_id
        except DecryptionError:
            return True

    @staticmethod
    def _parse_key_id(value: bytes) -> bytes:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise DecryptionError("encrypted value must be bytes")
        value = bytes(value)
        if len(value) < _MIN_VALUE_BYTES or value[: len(_VERSION)] != _VERSION:
            raise DecryptionError("encrypted value is not in the v1 format")
        return value[len(_VERSION) : _HEADER_BYTES]


def key_file_path(settings: Settings) -> Path:
    """Where the generated master key lives when ENCRYPTION_KEY is unset: beside the database."""
    return settings.database_path.parent / KEY_FILE_NAME


def _read_key_file(path: Path) -> bytes:
    text = path.read_text(encoding="ascii", errors="replace").strip()
    if not text:
        raise ValueError(f"key file {path} is empty; restore it from a backup or delete it")
    try:
        key = decode_master_key(text)
    except ValueError as error:
        raise ValueError(f"key file {path} holds no valid master key: {error}") from None
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("Key file %s is readable by other users (mode %o); chmod 600 it", path, mode)
    return key


def _create_key_file(path: Path) -> bytes | None:
    """Create the key file atomically; None if another process created it first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    text = generate_master_key()
    try:
        # O_EXCL: never overwrite a key (that would make every stored value unreadable); 0600 from
        # the first instant, so the key is never briefly readable by others.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, (text + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    log.warning(
        "ENCRYPTION_KEY is not set: generated a new master key in %s. Back this file up; "
        "without it stored API keys cannot be read.",
        path,
    )
    return decode_master_key(text)


def load_master_keys(settings: Settings) -> tuple[bytes, list[bytes]]:
    """Return (current key, retired keys); creates the key file if ENCRYPTION_KEY is unset.

    When ENCRYPTION_KEY is set and a generated key file exists too, the file's key joins the
    retired keys, so values written before the operator set ENCRYPTION_KEY stay readable until
    `rotate-keys` runs.
    """
    old = [decode_master_key(secret.get_secret_value()) for secret in settings.encryption_old_keys]
    path = key_file_path(settings)
    if settings.encryption_key is not None:
        current = decode_master_key(settings.encryption_key.get_secret_value())
        if path.is_file():
            file_key = _read_key_file(path)
            if file_key != current and file_key not in old:
                log.info("Reading values under the old key in %s too; run rotate-keys", path)
                old.append(file_key)
    else:
        created = _create_key_file(path) if not path.exists() else None
        current = created if created is not None else _read_key_file(path)
    old = [key for key in dict.fromkeys(old) if key != current]
    return current, old


def cipher_from_settings(settings: Settings) -> KeyCipher:
    """Build the KeyCipher the bot uses, from ENCRYPTION_KEY / the key file and old keys."""
    current, old = load_master_keys(settings)
    return KeyCipher(current, old)


def hint_for(api_key: str) -> str:
    """The display hint of an API key: its last 4 characters ("" for implausibly short keys)."""
    key = api_key.strip()
    # A hint that reveals half a key or more is a leak, not a hint.
    if len(key) < 8:
        return ""
    return key[-4:]
