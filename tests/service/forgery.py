"""Access tokens that must be refused, built the way an attacker would build them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.keys import key_id


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(payload))}"


def claims(*, subject: str, session_id: str, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "authscale",
        "aud": "authscale",
        "sub": subject,
        "sid": session_id,
        "jti": "forged-jti",
        "iat": now,
        "exp": now + 600,
    }
    base.update(changes)
    return base


def without(payload: dict[str, Any], name: str) -> dict[str, Any]:
    return {key: value for key, value in payload.items() if key != name}


def signed(key: Ed25519PrivateKey, payload: dict[str, Any], **header: Any) -> str:
    headers = {"typ": "at+jwt", "kid": key_id(key.public_key()), **header}
    return jwt.encode(payload, key, algorithm="EdDSA", headers=headers)


def forgeries(
    key: Ed25519PrivateKey, *, subject: str, session_id: str, valid: str
) -> dict[str, str]:
    """Tokens for ``subject`` that a correct verifier refuses, by name."""
    kid = key_id(key.public_key())
    good = claims(subject=subject, session_id=session_id)
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    public_raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )

    def hs256_with(secret: bytes) -> str:
        head = unsigned({"alg": "HS256", "typ": "at+jwt", "kid": kid}, good)
        mac = hmac.new(secret, head.encode(), hashlib.sha256).digest()
        return f"{head}.{b64(mac)}"

    header_b64, payload_b64, signature = valid.split(".")
    tampered_payload = b64(orjson.dumps({**good, "sub": "someone-else"}))
    other_key = Ed25519PrivateKey.generate()
    made: dict[str, Callable[[], str]] = {
        "expired": lambda: signed(key, {**good, "iat": 1_000_000, "exp": 1_000_900}),
        "tampered_payload": lambda: f"{header_b64}.{tampered_payload}.{signature}",
        "tampered_signature": lambda: f"{header_b64}.{payload_b64}.{signature[::-1]}",
        "alg_none": lambda: unsigned({"alg": "none", "typ": "at+jwt", "kid": kid}, good) + ".",
        "alg_none_with_signature": lambda: (
            unsigned({"alg": "none", "typ": "at+jwt"}, good) + f".{signature}"
        ),
        "hs256_with_public_pem": lambda: hs256_with(public_pem),
        "hs256_with_public_raw": lambda: hs256_with(public_raw),
        "wrong_audience": lambda: signed(key, {**good, "aud": "another-service"}),
        "wrong_issuer": lambda: signed(key, {**good, "iss": "https://evil.example"}),
        "missing_sid": lambda: signed(key, without(good, "sid")),
        "missing_exp": lambda: signed(key, without(good, "exp")),
        "missing_aud": lambda: signed(key, without(good, "aud")),
        "wrong_typ": lambda: signed(key, good, typ="JWT"),
        "unknown_kid": lambda: signed(key, good, kid="not-a-known-kid"),
        "other_key_same_kid": lambda: signed(other_key, good, kid=kid),
        "not_yet_issued": lambda: signed(key, {**good, "iat": int(time.time()) + 3600}),
        "refresh_token_shape": lambda: "A" * 22 + "." + "B" * 43,
    }
    return {name: build() for name, build in made.items()}
