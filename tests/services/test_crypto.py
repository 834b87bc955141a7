"""Encryption at rest: sealing, key rotation, the generated key file of the default."""

from __future__ import annotations

import logging
import stat

import pytest
from cryptography.fernet import Fernet

from bot.config import ConfigError, Settings
from bot.services.crypto import Vault, load_vault


def test_sealed_text_is_not_readable_and_opens_with_the_key():
    vault = Vault([Fernet.generate_key().decode()])
    token = vault.seal("0912345678")
    assert b"0912345678" not in token
    assert vault.open(token) == "0912345678"
    with pytest.raises(ValueError, match="not configured"):
        Vault([Fernet.generate_key().decode()]).open(token)


def test_a_new_key_in_front_rotates_and_old_tokens_still_open():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = Vault([old]).seal("Nguyễn Văn A")
    both = Vault([new, old])
    assert both.open(token) == "Nguyễn Văn A"
    rotated = both.rotate(token)
    assert Vault([new]).open(rotated) == "Nguyễn Văn A"


def test_the_embedded_default_makes_a_private_key_file_once_and_says_so(tmp_path, caplog):
    settings = Settings.from_env({}, cwd=tmp_path)
    assert settings.key_file == tmp_path / "data" / "unionbot.key"
    with caplog.at_level(logging.WARNING, logger="unionbot"):
        token = load_vault(settings).seal("x")
    assert "made a new encryption key" in caplog.text
    assert stat.S_IMODE(settings.key_file.stat().st_mode) == 0o600
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="unionbot"):
        assert load_vault(settings).open(token) == "x"  # the same key, read back
    assert caplog.text == ""


def test_postgresql_without_a_key_is_a_clear_error(tmp_path):
    settings = Settings.from_env({"DATABASE_URL": "postgresql+asyncpg://u@h/db"}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="no encryption key: set UNIONBOT_ENCRYPTION_KEY"):
        load_vault(settings)
    with pytest.raises(ConfigError, match="malformed"):
        load_vault(settings.with_(encryption_keys=("not-a-key",)))
    keys = tmp_path / "keys"
    keys.write_text("# current key first\n" + Fernet.generate_key().decode() + "\n")
    assert load_vault(settings.with_(key_file=keys)).seal("x")
