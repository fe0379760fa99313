"""Sessions in Redis: peppered refresh tokens, atomic rotation, reuse detection, logout.

A session is one hash ``<prefix>session:<sid>``: the user (``user_id``, ``email``), when it
began and when it must end (``created``, ``expires``), ``mac`` (an HMAC under the pepper
of those fields and the session id), the ``gen``\\ eration of its current refresh token
and ``refresh``, an HMAC of that token (see :mod:`service.refresh_tokens`). Write access
to Redis therefore mints nothing: a record made or edited without the pepper fails its
MAC, and a ``refresh`` value can only be computed with it. The MAC is checked on every
use of a session.

Each operation is one Lua script, atomic across all instances:

* create: store the session and list it in ``<prefix>user-sessions:<user id>`` (a sorted
  set by creation time); past ``max_per_user`` live sessions the oldest are revoked.
* rotate: if the presented token is the current generation, replace it (exactly one of N
  concurrent presentations wins); if it is an older generation, delete the whole session
  (reuse detected) and report the device it was opened from, which is revoked too. A
  session never outlives ``expires`` (``AUTH_SESSION_MAX_AGE``), however often it
  rotates; between rotations it lives ``refresh_ttl``.
* check: an access token is honoured while its session exists, belongs to its subject
  and its ``jti`` is not on the deny-list ``<prefix>deny:<jti>``.
* logout: delete the session and deny-list the access token's ``jti`` until it expires.
"""

from __future__ import annotations

import hmac
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from service import refresh_tokens
from service.errors import InvalidToken, TokenReused
from service.pepper import SESSION_RECORD, Pepper
from service.redis_errors import translate_redis_errors

# What a use of a session reads back; the order of _bound's fields.
RECORD_FIELDS = ("user_id", "email", "created", "expires", "account", "device", "mac")
_HMGET_FIELDS = ", ".join(f"'{name}'" for name in RECORD_FIELDS)

# KEYS: session, user index. ARGV: user_id, email, refresh, ttl, created (ms), expires,
# mac, sid, max sessions, session key prefix, index ttl, account, device.
# -> sessions revoked by the cap.
CREATE_SCRIPT = """
redis.call('HSET', KEYS[1], 'user_id', ARGV[1], 'email', ARGV[2], 'refresh', ARGV[3],
  'gen', 0, 'created', ARGV[5], 'expires', ARGV[6], 'mac', ARGV[7], 'account', ARGV[12],
  'device', ARGV[13])
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[2], ARGV[5], ARGV[8])
for _, sid in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if redis.call('EXISTS', ARGV[10] .. sid) == 0 then redis.call('ZREM', KEYS[2], sid) end
end
local revoked = 0
while redis.call('ZCARD', KEYS[2]) > tonumber(ARGV[9]) do
  local oldest = redis.call('ZPOPMIN', KEYS[2])
  redis.call('DEL', ARGV[10] .. oldest[1])
  revoked = revoked + 1
end
redis.call('EXPIRE', KEYS[2], ARGV[11])
return revoked
"""

# ARGV: generation presented, its stored form, the successor's, refresh ttl, now (s).
# -> RECORD_FIELDS on success, {'reused', RECORD_FIELDS...} when an older generation came
# back (the session is deleted), 0 when unknown or ended.
ROTATE_SCRIPT = """
local s = redis.call('HMGET', KEYS[1], 'gen', 'refresh', 'expires')
if not s[1] then return 0 end
local gen = tonumber(s[1])
local presented = tonumber(ARGV[1])
if presented < gen then
  local record = redis.call('HMGET', KEYS[1], FIELDS)
  redis.call('DEL', KEYS[1])
  table.insert(record, 1, 'reused')
  return record
end
if presented > gen or s[2] ~= ARGV[2] then return 0 end
local left = tonumber(s[3]) - tonumber(ARGV[5])
if left <= 0 then
  redis.call('DEL', KEYS[1])
  return 0
end
redis.call('HSET', KEYS[1], 'gen', gen + 1, 'refresh', ARGV[3])
redis.call('EXPIRE', KEYS[1], math.min(tonumber(ARGV[4]), math.ceil(left)))
return redis.call('HMGET', KEYS[1], FIELDS)
""".replace("FIELDS", _HMGET_FIELDS)

# -> the session's RECORD_FIELDS while the access token is honoured.
CHECK_SCRIPT = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
if redis.call('EXISTS', KEYS[2]) == 0 then return false end
return redis.call('HMGET', KEYS[2], FIELDS)
""".replace("FIELDS", _HMGET_FIELDS)

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
    #: The device the session was opened from: (account key, device id), or None.
    device: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Record:
    """A session record whose MAC holds."""

    user_id: str
    email: str
    device: tuple[str, str] | None


def split_refresh_token(token: str) -> str | None:
    """The session id inside a well-formed refresh token, else None."""
    return refresh_tokens.session_of(token)


class SessionStore:
    """Server-side sessions shared by every instance through one Redis."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str,
        refresh_ttl: int,
        pepper: Pepper,
        max_age: int = 30 * 86_400,
        max_per_user: int = 20,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._refresh_ttl = refresh_ttl
        self._pepper = pepper
        self._max_age = max_age
        self._max_per_user = max_per_user
        self._create = redis.register_script(CREATE_SCRIPT)
        self._rotate = redis.register_script(ROTATE_SCRIPT)
        self._check = redis.register_script(CHECK_SCRIPT)
        self._logout = redis.register_script(LOGOUT_SCRIPT)

    def _session_key(self, session_id: str) -> str:
        return f"{self._prefix}session:{session_id}"

    def _deny_key(self, token_id: str) -> str:
        return f"{self._prefix}deny:{token_id}"

    def _mac(self, session_id: str, *fields: str) -> str:
        return self._pepper.mac(SESSION_RECORD, session_id, *fields)

    def _bound(self, session_id: str, values: list[Any]) -> Record | None:
        """The record if its MAC holds (it was written with the pepper), else None."""
        if len(values) != len(RECORD_FIELDS) or any(value is None for value in values):
            return None
        *fields, mac = (value.decode("utf-8") for value in values)
        if not hmac.compare_digest(self._mac(session_id, *fields).encode(), mac.encode()):
            return None
        user_id, email, _created, _expires, account, device_id = fields
        return Record(user_id, email, (account, device_id) if device_id else None)

    async def ping(self) -> None:
        """Raise :class:`Unavailable` unless Redis answers."""
        with translate_redis_errors():
            await self._redis.ping()

    async def create(
        self,
        *,
        user_id: str,
        email: str,
        device: tuple[str, str] | None = None,
        now: float | None = None,
    ) -> Session:
        """Open a session and return it with its first refresh token.

        ``device`` (account key, device id) is remembered so that refreshes can return the
        device token too. Beyond ``max_per_user`` live sessions of this user, the oldest
        are revoked.
        """
        started = time.time() if now is None else now
        session_id = refresh_tokens.new_session_id()
        token = refresh_tokens.issue(self._pepper, session_id, 0)
        created = str(int(started * 1000))
        expires = str(int(started) + self._max_age)
        account, device_id = device or ("", "")
        with translate_redis_errors():
            await self._create(
                keys=[
                    self._session_key(session_id),
                    f"{self._prefix}user-sessions:{user_id}",
                ],
                args=[
                    user_id,
                    email,
                    refresh_tokens.stored_form(self._pepper, token.text),
                    min(self._refresh_ttl, self._max_age),
                    created,
                    expires,
                    self._mac(session_id, user_id, email, created, expires, account, device_id),
                    session_id,
                    self._max_per_user,
                    self._session_key(""),
                    self._max_age,
                    account,
                    device_id,
                ],
            )
        return Session(session_id, user_id, email, token.text, device)

    async def rotate(self, refresh_token: str) -> Session:
        """Exchange a refresh token for a new one; the old one is dead afterwards.

        :class:`TokenReused` (and the session is gone) when the token was already rotated,
        carrying the session's device when its record holds; :class:`InvalidToken` when it
        is forged, unknown, expired or revoked.
        """
        presented = refresh_tokens.parse(self._pepper, refresh_token)
        if presented is None:
            raise InvalidToken("the refresh token is malformed or not ours")
        session_id = presented.session_id
        successor = refresh_tokens.issue(self._pepper, session_id, presented.generation + 1)
        with translate_redis_errors():
            result: Any = await self._rotate(
                keys=[self._session_key(session_id)],
                args=[
                    presented.generation,
                    refresh_tokens.stored_form(self._pepper, presented.text),
                    refresh_tokens.stored_form(self._pepper, successor.text),
                    self._refresh_ttl,
                    int(time.time()),
                ],
            )
        if isinstance(result, list) and result and result[0] == b"reused":
            reused = TokenReused()
            record = self._bound(session_id, result[1:])
            reused.device = record.device if record is not None else None
            raise reused
        if not isinstance(result, list):
            raise InvalidToken("the refresh token is invalid or expired")
        record = self._bound(session_id, result)
        if record is None:
            # Written by someone without the pepper: never honoured, and removed.
            with translate_redis_errors():
                await self._redis.delete(self._session_key(session_id))
            raise InvalidToken("the refresh token is invalid or expired")
        return Session(session_id, record.user_id, record.email, successor.text, record.device)

    async def email_if_active(
        self, *, session_id: str, token_id: str, user_id: str | None = None
    ) -> str | None:
        """The session's email while an access token with this ``jti`` is honoured.

        With ``user_id``, the session must also belong to that user.
        """
        with translate_redis_errors():
            fields: list[Any] | None = await self._check(
                keys=[self._deny_key(token_id), self._session_key(session_id)]
            )
        if not fields:
            return None
        record = self._bound(session_id, fields)
        if record is None or (user_id is not None and record.user_id != user_id):
            return None
        return record.email

    async def logout(
        self, *, session_id: str, token_id: str, deny_for: int, refresh_token: str | None
    ) -> bool:
        """End the session and deny-list ``token_id`` for ``deny_for`` seconds.

        A refresh token of another session is revoked too when it is that session's current
        one (possession proves it). False when the access token was no longer honoured.
        """
        other = refresh_tokens.parse(self._pepper, refresh_token) if refresh_token else None
        with translate_redis_errors():
            result = await self._logout(
                keys=[
                    self._session_key(session_id),
                    self._deny_key(token_id),
                    self._session_key(other.session_id if other else session_id),
                ],
                args=[
                    max(1, deny_for),
                    refresh_tokens.stored_form(self._pepper, other.text) if other else "",
                ],
            )
        return bool(result == 1)
