"""Device tokens (OWASP's "device cookie"): proof that a client logged in to an account before.

A successful login returns ``<device id>.<tag>``: a random id and an HMAC under the pepper
that binds it to the account (the hashed canonical email, so it can be checked before the
password is). The throttle keeps each account's device ids in Redis, so a device is
revocable and expires when unused. A login that presents a valid, live device token for
its account is throttled per device instead of per address (a crowd behind one NAT cannot
lock its members out, nor can an attacker lock out the account's owner); anything else
presented as a device token (malformed, forged, another account's, revoked) counts as none.
"""

from __future__ import annotations

import re
import secrets

from service.pepper import DEVICE_TOKEN, Pepper

DEVICE_ID_BYTES = 16
TAG_HEX = 32
PATTERN = re.compile(r"(?P<id>[A-Za-z0-9_-]{22})\.(?P<tag>[0-9a-f]{32})")
#: A device unused this long is forgotten (its token is then ignored).
DEVICE_TTL = 180 * 86_400
#: Devices remembered per account; beyond this the least recently used is forgotten.
MAX_DEVICES_PER_ACCOUNT = 50


def _tag(pepper: Pepper, account: str, device_id: str) -> str:
    return pepper.mac(DEVICE_TOKEN, account, device_id)[:TAG_HEX]


def new_device_id() -> str:
    return secrets.token_urlsafe(DEVICE_ID_BYTES)


def device_token(pepper: Pepper, account: str, device_id: str) -> str:
    """The token a client keeps for ``device_id`` on ``account`` (an account key)."""
    return f"{device_id}.{_tag(pepper, account, device_id)}"


def device_id_of(pepper: Pepper, account: str, token: object) -> str | None:
    """The device id of a token issued for ``account``; None for anything else."""
    if not isinstance(token, str):
        return None
    match = PATTERN.fullmatch(token)
    if match is None:
        return None
    if not secrets.compare_digest(_tag(pepper, account, match["id"]), match["tag"]):
        return None
    return match["id"]
