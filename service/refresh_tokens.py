"""Refresh tokens as strings: made, parsed and authenticated without I/O.

A refresh token is ``<session id>.<generation>.<secret>.<tag>``: the session it belongs
to, the rotation that issued it (0 at login, +1 per rotation), 256 random bits, and a tag
(HMAC under the pepper of the other three parts, 128 bits). The tag lets any instance tell
a token it issued from a forgery before touching Redis, so a made-up token for an old
generation of a real session is refused as invalid and never revokes that session as a
"reuse". Redis stores only :func:`stored_form`, an HMAC of the whole token.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from service.pepper import REFRESH_TOKEN, Pepper

SESSION_ID_BYTES = 16
SECRET_BYTES = 32  # 256 bits
TAG_HEX = 32  # 128 bits
MAX_GENERATION = 10**9
PATTERN = re.compile(
    r"(?P<sid>[A-Za-z0-9_-]{22})\.(?P<gen>0|[1-9][0-9]{0,9})\."
    r"(?P<secret>[A-Za-z0-9_-]{43})\.(?P<tag>[0-9a-f]{32})"
)


@dataclass(frozen=True, slots=True)
class RefreshToken:
    session_id: str
    generation: int
    text: str


def new_session_id() -> str:
    return secrets.token_urlsafe(SESSION_ID_BYTES)


def _tag(pepper: Pepper, session_id: str, generation: int, secret: str) -> str:
    return pepper.mac(REFRESH_TOKEN, "tag", session_id, str(generation), secret)[:TAG_HEX]


def issue(pepper: Pepper, session_id: str, generation: int) -> RefreshToken:
    """A fresh token of ``generation`` for ``session_id``."""
    secret = secrets.token_urlsafe(SECRET_BYTES)
    tag = _tag(pepper, session_id, generation, secret)
    return RefreshToken(session_id, generation, f"{session_id}.{generation}.{secret}.{tag}")


def session_of(text: str) -> str | None:
    """The session id of a well-formed token (tag unchecked), else None."""
    match = PATTERN.fullmatch(text)
    return None if match is None else match["sid"]


def parse(pepper: Pepper, text: str) -> RefreshToken | None:
    """The token if it is well formed and its tag is ours, else None."""
    match = PATTERN.fullmatch(text)
    if match is None:
        return None
    session_id, generation = match["sid"], int(match["gen"])
    if generation >= MAX_GENERATION:
        return None
    expected = _tag(pepper, session_id, generation, match["secret"])
    if not secrets.compare_digest(expected, match["tag"]):
        return None
    return RefreshToken(session_id, generation, text)


def stored_form(pepper: Pepper, text: str) -> str:
    """What Redis holds for a token: an HMAC under the pepper, useless without it."""
    return pepper.mac(REFRESH_TOKEN, "stored", text)
