"""Encryption at rest for what must not be readable from a database dump or a backup:
phone numbers, contact details, and who filed an anonymous case.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`) with several keys: the first
encrypts, every key decrypts, so rotating means putting a new key first and re-encrypting
(`Vault.rotate`). Keys come from UNIONBOT_ENCRYPTION_KEY (comma-separated) or
UNIONBOT_KEY_FILE (one per line); the embedded default makes ./data/unionbot.key on first
start and says so in the log.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Sequence

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from bot.config import ConfigError, Settings

log = logging.getLogger("unionbot")


class Vault:
    """Seals and opens short texts with the configured keys."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ConfigError(
                "no encryption key: set UNIONBOT_ENCRYPTION_KEY or UNIONBOT_KEY_FILE "
                "(make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            )
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as exc:
            raise ConfigError(f"an encryption key is malformed: {exc}") from None
        # Tags are keyed hashes for lookups (a sealed token differs every time): derived
        # from the current key, so rotating the key means re-tagging (from the sealed copy).
        self._tag_key = hashlib.sha256(b"unionbot tag\0" + keys[0].encode()).digest()

    def seal(self, text: str) -> bytes:
        return self._fernet.encrypt(text.encode())

    def open(self, token: bytes) -> str:
        """The text back; ValueError when no configured key opens it."""
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise ValueError("sealed with a key that is not configured") from None

    def tag(self, text: str) -> str:
        """A keyed hash of `text`: equal texts give equal tags; without the key, no link."""
        return hmac.new(self._tag_key, text.encode(), hashlib.sha256).hexdigest()

    def rotate(self, token: bytes) -> bytes:
        """The same text sealed with the current (first) key."""
        return self._fernet.rotate(token)


def load_vault(settings: Settings) -> Vault:
    """The vault from settings: keys from the environment, else the key file (made on the
    embedded default when missing)."""
    keys = list(settings.encryption_keys)
    path = settings.key_file
    if not keys and path is not None:
        if not path.exists() and settings.generate_key_file:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Created readable by the owner only, before the key is written into it.
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode() + "\n")
            log.warning(
                "made a new encryption key in %s: back it up, apart from the database's "
                "backups; without it phone numbers and anonymous reporters cannot be read",
                path,
            )
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(f"cannot read the key file {path}: {exc}") from None
        keys = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    return Vault(keys)
