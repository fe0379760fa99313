"""Sessions in Redis: opaque refresh tokens, atomic rotation, reuse detection, logout.

A refresh token is ``<session id>.<secret>`` with a 256-bit secret; Redis stores only its
SHA-256. A session is one hash ``<prefix>session:<sid>`` holding the user, the hash of the
current refresh token and, as ``used:<hash>`` fields, the hashes of every token it has
rotated away. Each operation is one Lua script, so it is atomic across all instances:

* rotate: if the presented hash is current, replace it (exactly one of N concurrent
  presentations wins); if it is a rotated one, delete the whole session (reuse detected).
* check: an access token is honoured while its session exists and its ``jti`` is not on
  the deny-list ``<prefix>deny:<jti>``.
* logout: delete the session and deny-list the access token's ``jti`` until it expires.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from service.errors import InvalidToken, TokenReused
from service.redis_errors import translate_redis_errors

SESSION_ID_BYTES = 16
SECRET_BYTES = 32  # 256 bits
REFRESH_TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}")

CREATE_SCRIPT = """
redis.call('HSET', KEYS[1], 'user_id', ARGV[1], 'email', ARGV[2], 'refresh', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[4])
return 1
"""

# -> {user_id, email} on success, 1 when a rotated token came back, 0 when unknown.
ROTATE_SCRIPT = """
local current = redis.call('HGET', KEYS[1], 'refresh')
if not current then return 0 end
if current == ARGV[1] then
  redis.call('HSET', KEYS[1], 'refresh', ARGV[2], 'used:' .. ARGV[1], '1')
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  return redis.call('HMGET', KEYS[1], 'user_id', 'email')
end
if redis.call('HEXISTS', KEYS[1], 'used:' .. ARGV[1]) == 1 then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"""

# -> the session's email while the token is honoured, nil otherwise.
CHECK_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
return redis.call('HGET', KEYS[2], 'email')
"""

# -> 1 when logged out, 0 when the access token was no longer honoured.
LOGOUT_SCRIPT = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[1])
if ARGV[2] ~= '' and redis.call('HGET', KEYS[3], 'refresh') == ARGV[2] then
  redis.call('DEL', KEYS[3])
end
return 1
"""


@dataclass(frozen=True, slots=True)
class Session:
    session_id: str
    user_id: str
    email: str
    refresh_token: str


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def split_refresh_token(token: str) -> str | None:
    """The session id inside a well-formed refresh token, else None."""
    if REFRESH_TOKEN_PATTERN.fullmatch(token) is None:
        return None
    return token.partition(".")[0]


def new_refresh_token(session_id: str) -> str:
    return f"{session_id}.{secrets.token_urlsafe(SECRET_BYTES)}"


class SessionStore:
    """Server-side sessions shared by every instance through one Redis."""

    def __init__(self, redis: Redis, *, prefix: str, refresh_ttl: int) -> None:
        self._redis = redis
        self._prefix = prefix
        self._refresh_ttl = refresh_ttl
        self._create = redis.register_script(CREATE_SCRIPT)
        self._rotate = redis.register_script(ROTATE_SCRIPT)
        self._check = redis.register_script(CHECK_SCRIPT)
        self._logout = redis.register_script(LOGOUT_SCRIPT)

    def _session_key(self, session_id: str) -> str:
        return f"{self._prefix}session:{session_id}"

    def _deny_key(self, token_id: str) -> str:
        return f"{self._prefix}deny:{token_id}"

    async def ping(self) -> None:
        """Raise :class:`Unavailable` unless Redis answers."""
        with translate_redis_errors():
            await self._redis.ping()

    async def create(self, *, user_id: str, email: str) -> Session:
        """Open a session and return it with its first refresh token."""
        session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
        refresh_token = new_refresh_token(session_id)
        with translate_redis_errors():
            await self._create(
                keys=[self._session_key(session_id)],
                args=[user_id, email, hash_token(refresh_token), self._refresh_ttl],
            )
        return Session(session_id, user_id, email, refresh_token)

    async def rotate(self, refresh_token: str) -> Session:
        """Exchange a refresh token for a new one; the old one is dead afterwards.

        :class:`TokenReused` (and the session is gone) when the token was already rotated,
        :class:`InvalidToken` when it is unknown, expired or revoked.
        """
        session_id = split_refresh_token(refresh_token)
        if session_id is None:
            raise InvalidToken("the refresh token is malformed")
        successor = new_refresh_token(session_id)
        with translate_redis_errors():
            result: Any = await self._rotate(
                keys=[self._session_key(session_id)],
                args=[hash_token(refresh_token), hash_token(successor), self._refresh_ttl],
            )
        if result == 1:
            raise TokenReused()
        if not isinstance(result, list):
            raise InvalidToken("the refresh token is invalid or expired")
        user_id, email = (value.decode("utf-8") for value in result)
        return Session(session_id, user_id, email, successor)

    async def email_if_active(self, *, session_id: str, token_id: str) -> str | None:
        """The session's email while an access token with this ``jti`` is honoured."""
        with translate_redis_errors():
            email: bytes | None = await self._check(
                keys=[self._deny_key(token_id), self._session_key(session_id)]
            )
        return None if email is None else email.decode("utf-8")

    async def logout(
        self, *, session_id: str, token_id: str, deny_for: int, refresh_token: str | None
    ) -> bool:
        """End the session and deny-list ``token_id`` for ``deny_for`` seconds.

        A refresh token of another session is revoked too when it is that session's current
        one (possession proves it). False when the access token was no longer honoured.
        """
        other_session = split_refresh_token(refresh_token) if refresh_token else None
        with translate_redis_errors():
            result = await self._logout(
                keys=[
                    self._session_key(session_id),
                    self._deny_key(token_id),
                    self._session_key(other_session or session_id),
                ],
                args=[
                    max(1, deny_for),
                    hash_token(refresh_token) if other_session and refresh_token else "",
                ],
            )
        return bool(result == 1)
