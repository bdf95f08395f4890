"""Encryption of stored API keys: format, owner binding, old keys, key file, rotation."""

from __future__ import annotations

import base64
import logging
import os
import stat
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiosqlite
import pytest

from bot.crypto import (
    DecryptionError,
    KeyCipher,
    KeyOwner,
    cipher_from_settings,
    generate_master_key,
    hint_for,
    load_master_keys,
)
from bot.key_rotation import rotate_keys
from bot.settings import Settings, decode_master_key
from storage.credentials import get_credential, upsert_credential
from storage.database import open_database, transaction
from storage.users import get_or_create_user

API_KEY = "0123456789abcdef0123456789abcdef"
OWNER = KeyOwner("telegram", "1001", "https://panel.example/api/v2")


def _key() -> bytes:
    return os.urandom(32)


def _forms(key: bytes) -> list[str]:
    """Every way key material could show up in text."""
    return [
        key.hex(),
        base64.urlsafe_b64encode(key).decode(),
        base64.b64encode(key).decode(),
        repr(key),
    ]


def _assert_no_secrets(text: str, *keys: bytes) -> None:
    assert API_KEY not in text
    for key in keys:
        for form in _forms(key):
            assert form not in text


@pytest.fixture
def no_env_keys(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the developer's environment out of Settings."""
    for name in ("ENCRYPTION_KEY", "ENCRYPTION_OLD_KEYS", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    yield


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=f"sqlite:///{tmp_path}/data/bot.sqlite3",
        **values,  # type: ignore[arg-type]
    )


def test_round_trip_and_format() -> None:
    """A value decrypts for its owner and carries version, key id and a fresh nonce."""
    cipher = KeyCipher(_key())
    first = cipher.encrypt(API_KEY, OWNER)
    second = cipher.encrypt(API_KEY, OWNER)
    assert cipher.decrypt(first, OWNER) == API_KEY
    assert cipher.decrypt(second, OWNER) == API_KEY
    assert first[:2] == b"v1"
    assert first[2:6].hex() == cipher.current_key_id
    assert len(cipher.current_key_id) == 8
    assert first[6:18] != second[6:18], "every value needs its own random nonce"
    assert len(first) == 2 + 4 + 12 + len(API_KEY) + 16
    assert API_KEY.encode() not in first
    assert not cipher.needs_rotation(first)


def test_unicode_and_empty_plaintext() -> None:
    """Any text survives the round trip."""
    cipher = KeyCipher(_key())
    for text in ("", "ключ-ü-🔑"):
        assert cipher.decrypt(cipher.encrypt(text, OWNER), OWNER) == text


@pytest.mark.parametrize("position", [0, 3, 8, 20, -1])
def test_tampered_value_is_refused(position: int) -> None:
    """Flipping any byte (version, key id, nonce, ciphertext or tag) fails cleanly."""
    key = _key()
    cipher = KeyCipher(key)
    value = bytearray(cipher.encrypt(API_KEY, OWNER))
    value[position] ^= 0x01
    with pytest.raises(DecryptionError) as caught:
        cipher.decrypt(bytes(value), OWNER)
    _assert_no_secrets(str(caught.value), key)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    "other",
    [
        KeyOwner("discord", "1001", OWNER.panel_url),
        KeyOwner("telegram", "1002", OWNER.panel_url),
        KeyOwner("telegram", "1001", "https://other.example/api/v2"),
        # Same characters, split differently: the encoding must keep them apart.
        KeyOwner("telegram1", "001", OWNER.panel_url),
    ],
)
def test_other_owner_cannot_decrypt(other: KeyOwner) -> None:
    """A value copied into another user's (or panel's) row does not decrypt."""
    key = _key()
    cipher = KeyCipher(key)
    value = cipher.encrypt(API_KEY, OWNER)
    with pytest.raises(DecryptionError, match="another owner") as caught:
        cipher.decrypt(value, other)
    _assert_no_secrets(str(caught.value), key)


def test_unknown_key_id_is_refused() -> None:
    """A value under a key the cipher does not know names the key id, never a key."""
    foreign_key, own_key = _key(), _key()
    value = KeyCipher(foreign_key).encrypt(API_KEY, OWNER)
    with pytest.raises(DecryptionError, match="unknown master key") as caught:
        KeyCipher(own_key).decrypt(value, OWNER)
    _assert_no_secrets(str(caught.value), foreign_key, own_key)
    assert KeyCipher(foreign_key).current_key_id in str(caught.value)


@pytest.mark.parametrize("value", [b"", b"v1", b"v2" + bytes(40), b"xx" + bytes(40)])
def test_bad_format_is_refused(value: bytes) -> None:
    """Truncated values and unknown versions raise DecryptionError, not IndexError."""
    cipher = KeyCipher(_key())
    with pytest.raises(DecryptionError, match="format"):
        cipher.decrypt(value, OWNER)
    assert cipher.needs_rotation(value)


def test_old_keys_stay_readable_and_need_rotation() -> None:
    """Values under a retired key decrypt and are flagged; current ones are not."""
    old_key, new_key = _key(), _key()
    old_value = KeyCipher(old_key).encrypt(API_KEY, OWNER)
    cipher = KeyCipher(new_key, [old_key])
    assert cipher.decrypt(old_value, OWNER) == API_KEY
    assert cipher.needs_rotation(old_value)
    new_value = cipher.encrypt(API_KEY, OWNER)
    assert not cipher.needs_rotation(new_value)
    assert new_value[2:6] != old_value[2:6]
    assert KeyCipher(new_key).needs_rotation(old_value)


def test_repr_and_key_id_hold_no_key_material() -> None:
    """repr names key ids only."""
    current, old = _key(), _key()
    cipher = KeyCipher(current, [old])
    text = repr(cipher) + str(cipher)
    _assert_no_secrets(text, current, old)
    assert cipher.current_key_id in text
    assert cipher.current_key_id not in current.hex()


def test_keys_must_be_32_bytes() -> None:
    """AES-256 only."""
    with pytest.raises(ValueError, match="32 bytes"):
        KeyCipher(bytes(16))
    with pytest.raises(ValueError, match="32 bytes"):
        KeyCipher(_key(), [bytes(31)])


def test_generate_master_key() -> None:
    """keygen output is what Settings accepts, and fresh every time."""
    first, second = generate_master_key(), generate_master_key()
    assert first != second
    assert len(decode_master_key(first)) == 32
    assert set(first) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=")


def test_hint_for() -> None:
    """The hint is the last four characters; short junk reveals nothing."""
    assert hint_for("abcdefgh12345678a1b2") == "a1b2"
    assert hint_for("  abcdefgha1b2 \n") == "a1b2"
    assert hint_for("abc") == ""
    assert hint_for("") == ""


def test_settings_key_is_used_without_key_file(tmp_path: Path, no_env_keys: None) -> None:
    """With ENCRYPTION_KEY set nothing is written to disk."""
    current, old = generate_master_key(), generate_master_key()
    settings = _settings(tmp_path, encryption_key=current, encryption_old_keys=old)
    assert load_master_keys(settings) == (decode_master_key(current), [decode_master_key(old)])
    assert not (tmp_path / "data" / "encryption.key").exists()


def test_key_file_created_0600_and_reused(
    tmp_path: Path, no_env_keys: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Without ENCRYPTION_KEY a key file appears (0600 whatever the umask); later runs reuse it."""
    settings = _settings(tmp_path)
    key_file = tmp_path / "data" / "encryption.key"
    previous_umask = os.umask(0)
    try:
        with caplog.at_level(logging.WARNING, logger="bot.crypto"):
            current, old = load_master_keys(settings)
    finally:
        os.umask(previous_umask)
    assert old == []
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert decode_master_key(key_file.read_text()) == current
    warnings = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert str(key_file) in message
    _assert_no_secrets(message + caplog.text, current)

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="bot.crypto"):
        again, _ = load_master_keys(settings)
    assert again == current
    assert not caplog.records, "a reused key file is not news"


def test_existing_key_file_is_never_overwritten(tmp_path: Path, no_env_keys: None) -> None:
    """A key file written by an earlier run (or another process) is read, not replaced."""
    key_text = generate_master_key()
    key_file = tmp_path / "data" / "encryption.key"
    key_file.parent.mkdir()
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, key_text.encode())
    os.close(fd)
    assert load_master_keys(_settings(tmp_path)) == (decode_master_key(key_text), [])
    assert key_file.read_text() == key_text


def test_broken_key_file_names_the_file_only(tmp_path: Path, no_env_keys: None) -> None:
    """A damaged key file stops start-up with its path, not its contents."""
    key_file = tmp_path / "data" / "encryption.key"
    key_file.parent.mkdir()
    key_file.write_text("not-a-key-secret-ish")
    key_file.chmod(0o600)
    with pytest.raises(ValueError, match=r"encryption\.key") as caught:
        load_master_keys(_settings(tmp_path))
    assert "not-a-key-secret-ish" not in str(caught.value)


def test_key_file_joins_old_keys_once_encryption_key_is_set(
    tmp_path: Path, no_env_keys: None
) -> None:
    """Values written under the generated key stay readable after ENCRYPTION_KEY is set."""
    file_key, _ = load_master_keys(_settings(tmp_path))
    value = KeyCipher(file_key).encrypt(API_KEY, OWNER)
    new_key = generate_master_key()
    cipher = cipher_from_settings(_settings(tmp_path, encryption_key=new_key))
    assert cipher.current_key_id == KeyCipher(decode_master_key(new_key)).current_key_id
    assert cipher.decrypt(value, OWNER) == API_KEY
    assert cipher.needs_rotation(value)


def test_cipher_from_settings_reads_old_keys(tmp_path: Path, no_env_keys: None) -> None:
    """ENCRYPTION_OLD_KEYS values decrypt; new values go under ENCRYPTION_KEY."""
    old_text, new_text = generate_master_key(), generate_master_key()
    old_value = KeyCipher(decode_master_key(old_text)).encrypt(API_KEY, OWNER)
    cipher = cipher_from_settings(
        _settings(tmp_path, encryption_key=new_text, encryption_old_keys=old_text)
    )
    assert cipher.decrypt(old_value, OWNER) == API_KEY
    fresh = cipher.encrypt(API_KEY, OWNER)
    assert KeyCipher(decode_master_key(new_text)).decrypt(fresh, OWNER) == API_KEY


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[aiosqlite.Connection]:
    """A real database file."""
    connection = await open_database(tmp_path / "bot.sqlite3")
    yield connection
    await connection.close()


async def _store(
    db: aiosqlite.Connection, cipher: KeyCipher, user: str, panel: str, api_key: str
) -> tuple[int, KeyOwner]:
    row = await get_or_create_user(db, "telegram", user)
    owner = KeyOwner("telegram", user, panel)
    credential = await upsert_credential(
        db, row.id, panel, cipher.encrypt(api_key, owner), hint_for(api_key)
    )
    return credential.id, owner


async def _ciphertext(db: aiosqlite.Connection, credential_id: int) -> bytes:
    credential = await get_credential(db, credential_id)
    assert credential is not None
    return credential.ciphertext


async def test_rotation_re_encrypts_under_current_key(db: aiosqlite.Connection) -> None:
    """rotate-keys moves old values to the current key; old values read fine until then."""
    old_key, new_key = _key(), _key()
    old_cipher = KeyCipher(old_key)
    stored = []
    for user, panel, plain in [
        ("1", "https://a.example/api/v2", "key-one-1234"),
        ("1", "https://b.example/api/v2", "key-two-5678"),
        ("2", "https://a.example/api/v2", "key-six-9999"),
    ]:
        credential_id, owner = await _store(db, old_cipher, user, panel, plain)
        stored.append((credential_id, owner, plain))
    cipher = KeyCipher(new_key, [old_key])
    current_id, current_owner = await _store(db, cipher, "3", "https://a.ex/api/v2", "cur-abcd")
    current_before = await _ciphertext(db, current_id)
    for credential_id, owner, plain in stored:
        assert cipher.decrypt(await _ciphertext(db, credential_id), owner) == plain

    assert await rotate_keys(db, cipher) == 3

    for credential_id, owner, plain in stored:
        value = await _ciphertext(db, credential_id)
        assert not cipher.needs_rotation(value)
        assert KeyCipher(new_key).decrypt(value, owner) == plain
    assert await _ciphertext(db, current_id) == current_before
    assert cipher.decrypt(current_before, current_owner) == "cur-abcd"
    assert await rotate_keys(db, cipher) == 0


async def test_rotation_skips_unreadable_values(
    db: aiosqlite.Connection, caplog: pytest.LogCaptureFixture
) -> None:
    """A value under a lost key is left alone and logged; the others still rotate."""
    lost_key, old_key, new_key = _key(), _key(), _key()
    lost_id, lost_owner = await _store(db, KeyCipher(lost_key), "1", "https://a.ex/api/v2", API_KEY)
    old_id, _ = await _store(db, KeyCipher(old_key), "2", "https://a.ex/api/v2", API_KEY)
    lost_before = await _ciphertext(db, lost_id)
    cipher = KeyCipher(new_key, [old_key])
    with caplog.at_level(logging.INFO):
        assert await rotate_keys(db, cipher) == 1
    assert await _ciphertext(db, lost_id) == lost_before
    assert KeyCipher(lost_key).decrypt(lost_before, lost_owner) == API_KEY
    assert not cipher.needs_rotation(await _ciphertext(db, old_id))
    assert f"Credential {lost_id} cannot be re-encrypted" in caplog.text
    _assert_no_secrets(caplog.text, lost_key, old_key, new_key)


async def test_rotation_is_one_transaction(db: aiosqlite.Connection) -> None:
    """Inside a transaction that fails, rotation leaves every value as it was."""
    old_key, new_key = _key(), _key()
    credential_id, _ = await _store(db, KeyCipher(old_key), "1", "https://a.ex/api/v2", API_KEY)
    before = await _ciphertext(db, credential_id)
    with pytest.raises(RuntimeError, match="boom"):
        async with transaction(db):
            assert await rotate_keys(db, KeyCipher(new_key, [old_key])) == 1
            raise RuntimeError("boom")
    assert await _ciphertext(db, credential_id) == before
