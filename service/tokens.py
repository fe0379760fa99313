"""Access tokens: signed JWTs, issued and verified without I/O.

An access token carries ``iss``, ``aud``, ``sub`` (user id), ``sid`` (session id), ``jti``,
``iat`` and ``exp``, with the header ``typ: at+jwt`` and the ``kid`` of the signing key. The
algorithm comes from configuration and is never taken from a token: a token whose header
names any other algorithm (``none``, or HS256 when EdDSA is configured) is refused before
its signature is looked at. During key rotation the previous public key still verifies.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import jwt
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service import timing
from service.config import ServiceConfig
from service.errors import InvalidToken
from service.keys import key_id, load_private_key, load_public_key, public_jwk, secret_key_id

TOKEN_TYPE = "at+jwt"
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "jti", "iat", "exp")

SigningKey = Ed25519PrivateKey | bytes
VerificationKey = Ed25519PublicKey | bytes


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header, parsed only to choose the key; PyJWT then checks the whole token.

    Parsed here rather than with ``jwt.get_unverified_header`` so that a token is
    decoded once, not twice, on every authenticated request.
    """
    segment = token.partition(".")[0]
    if not token.isascii() or not segment:
        raise InvalidToken("the access token is malformed")
    try:
        header = orjson.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidToken("the access token is malformed") from exc
    if not isinstance(header, dict):
        raise InvalidToken("the access token is malformed")
    return header


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessClaims:
    """The verified claims of an access token."""

    subject: str
    session_id: str
    token_id: str
    issued_at: int
    expires_at: int


@dataclass(frozen=True, slots=True, kw_only=True)
class IssuedToken:
    token: str
    claims: AccessClaims


class AccessTokens:
    """Issues and verifies access tokens for one issuer, audience and algorithm."""

    def __init__(
        self,
        *,
        algorithm: str,
        signing_key: SigningKey,
        signing_kid: str,
        verification_keys: Mapping[str, VerificationKey],
        issuer: str,
        audience: str,
        ttl: int,
        leeway: int,
    ) -> None:
        if signing_kid not in verification_keys:
            raise ValueError("the signing key must also be a verification key")
        self.algorithm = algorithm
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self.leeway = leeway
        self._signing_key = signing_key
        self._signing_kid = signing_kid
        self._verification_keys = dict(verification_keys)
        self._headers = {"typ": TOKEN_TYPE, "kid": signing_kid}
        self._jwt = jwt.PyJWT()

    @classmethod
    def from_config(cls, config: ServiceConfig) -> AccessTokens:
        signing_key: SigningKey
        keys: dict[str, VerificationKey] = {}
        if config.jwt_algorithm == "EdDSA":
            private = load_private_key(config.jwt_private_key_pem or b"")
            signing_key = private
            signing_kid = key_id(private.public_key())
            keys[signing_kid] = private.public_key()
            if config.jwt_previous_public_key_pem is not None:
                previous = load_public_key(config.jwt_previous_public_key_pem)
                keys.setdefault(key_id(previous), previous)
        else:
            secret = config.jwt_secret or b""
            signing_key = secret
            signing_kid = secret_key_id(secret)
            keys[signing_kid] = secret
        return cls(
            algorithm=config.jwt_algorithm,
            signing_key=signing_key,
            signing_kid=signing_kid,
            verification_keys=keys,
            issuer=config.jwt_issuer,
            audience=config.jwt_audience,
            ttl=config.access_ttl,
            leeway=config.jwt_leeway,
        )

    @property
    def signing_kid(self) -> str:
        return self._signing_kid

    def issue(self, *, subject: str, session_id: str, now: float | None = None) -> IssuedToken:
        """A new access token for ``subject`` in ``session_id``, valid for ``ttl`` seconds."""
        started = perf_counter()
        try:
            return self._issue(subject, session_id, now)
        finally:
            timing.add_elapsed(timing.JWT, started)

    def _issue(self, subject: str, session_id: str, now: float | None) -> IssuedToken:
        issued_at = int(time.time() if now is None else now)
        claims = AccessClaims(
            subject=subject,
            session_id=session_id,
            token_id=secrets.token_urlsafe(16),
            issued_at=issued_at,
            expires_at=issued_at + self.ttl,
        )
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": claims.subject,
            "sid": claims.session_id,
            "jti": claims.token_id,
            "iat": claims.issued_at,
            "exp": claims.expires_at,
        }
        token = self._jwt.encode(
            payload, self._signing_key, algorithm=self.algorithm, headers=self._headers
        )
        return IssuedToken(token=token, claims=claims)

    def verify(self, token: str) -> AccessClaims:
        """The claims of a valid token; :class:`InvalidToken` for anything else."""
        started = perf_counter()
        try:
            return self._verify(token)
        finally:
            timing.add_elapsed(timing.JWT, started)

    def _verify(self, token: str) -> AccessClaims:
        header = _unverified_header(token)
        if header.get("alg") != self.algorithm:
            raise InvalidToken("the access token is signed with the wrong algorithm")
        if header.get("typ") != TOKEN_TYPE:
            raise InvalidToken("the token is not an access token")
        kid = header.get("kid")
        key = self._verification_keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidToken("the access token is signed with an unknown key")
        try:
            payload: dict[str, Any] = self._jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("the access token has expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken("the access token is not valid") from exc
        subject, session_id, token_id = payload["sub"], payload["sid"], payload["jti"]
        issued_at, expires_at = payload["iat"], payload["exp"]
        if not all(isinstance(value, str) for value in (subject, session_id, token_id)):
            raise InvalidToken("the access token has malformed claims")
        if not all(isinstance(value, int) for value in (issued_at, expires_at)):
            raise InvalidToken("the access token has malformed claims")
        return AccessClaims(
            subject=subject,
            session_id=session_id,
            token_id=token_id,
            issued_at=issued_at,
            expires_at=expires_at,
        )

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public verification keys as a JWK set (empty for HMAC secrets)."""
        keys = []
        for kid, key in self._verification_keys.items():
            if isinstance(key, Ed25519PublicKey):
                keys.append({**public_jwk(key), "kid": kid, "alg": "EdDSA", "use": "sig"})
        return {"keys": keys}
