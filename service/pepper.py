"""MACs under the server pepper: what Redis holds cannot be forged by writing to Redis.

One pepper (``AUTH_TOKEN_PEPPER_FILE``) gives a separate HMAC-SHA256 key per purpose, so a
MAC made for one purpose (a refresh token) is never accepted for another (a session
record). Every instance derives the same keys from the same file.
"""

from __future__ import annotations

import hashlib
import hmac

REFRESH_TOKEN = b"refresh-token"
SESSION_RECORD = b"session-record"
DEVICE_TOKEN = b"device-token"
PURPOSES = (REFRESH_TOKEN, SESSION_RECORD, DEVICE_TOKEN)


class Pepper:
    """Keyed MACs for each purpose; the pepper itself is not kept."""

    def __init__(self, secret: bytes) -> None:
        if not secret:
            raise ValueError("the pepper must not be empty")
        self._keys = {
            purpose: hmac.digest(secret, b"authscale\x00" + purpose, hashlib.sha256)
            for purpose in PURPOSES
        }

    def __repr__(self) -> str:
        return "Pepper(<secret>)"

    def mac(self, purpose: bytes, *fields: str) -> str:
        """Hex HMAC-SHA256 of ``fields`` (NUL-separated, so no two lists collide)."""
        message = "\x00".join(fields).encode("utf-8")
        return hmac.new(self._keys[purpose], message, hashlib.sha256).hexdigest()

    def verify(self, purpose: bytes, expected: str, *fields: str) -> bool:
        """Whether ``expected`` is the MAC of ``fields``, compared in constant time."""
        return hmac.compare_digest(self.mac(purpose, *fields), expected)
