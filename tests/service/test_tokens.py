"""Access tokens without sockets: issue, verify, refuse every forgery, rotate keys."""

from __future__ import annotations

import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.config import ServiceConfig
from service.errors import InvalidToken
from service.keys import generate_private_key_pem, key_id
from service.tokens import AccessTokens
from tests.service.forgery import forgeries

SECRET = b"0123456789abcdef0123456789abcdef"
PEPPER = b"p" * 32


def codec(pem: bytes, **changes: object) -> AccessTokens:
    config = ServiceConfig(jwt_private_key_pem=pem, token_pepper=PEPPER, **changes)  # type: ignore[arg-type]
    return AccessTokens.from_config(config)


def private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def accepts(tokens: AccessTokens, token: str) -> bool:
    try:
        tokens.verify(token)
    except InvalidToken:
        return False
    return True


@pytest.fixture(scope="module")
def pem() -> bytes:
    return generate_private_key_pem()


def test_issued_token_carries_the_contract_claims_and_header(pem: bytes) -> None:
    tokens = codec(pem)
    issued = tokens.issue(subject="user-1", session_id="session-1")
    claims = tokens.verify(issued.token)
    assert claims == issued.claims
    assert claims.subject == "user-1"
    assert claims.session_id == "session-1"
    assert claims.expires_at - claims.issued_at == 900
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": "EdDSA", "typ": "at+jwt", "kid": key_id(private_key(pem).public_key())}
    payload = jwt.decode(issued.token, options={"verify_signature": False})
    assert set(payload) == {"iss", "aud", "sub", "sid", "jti", "iat", "exp"}


def test_every_token_has_its_own_jti(pem: bytes) -> None:
    tokens = codec(pem)
    ids = {tokens.issue(subject="u", session_id="s").claims.token_id for _ in range(50)}
    assert len(ids) == 50


def test_every_forgery_is_refused(pem: bytes) -> None:
    tokens = codec(pem)
    valid = tokens.issue(subject="user-1", session_id="session-1").token
    forged = forgeries(private_key(pem), subject="user-1", session_id="session-1", valid=valid)
    assert len(forged) >= 15
    accepted = [name for name, token in forged.items() if accepts(tokens, token)]
    assert accepted == []
    assert accepts(tokens, valid)


@pytest.mark.parametrize("garbage", ["", "a", "a.b", "a.b.c", "....", "é.é.é", "x" * 5000])
def test_garbage_is_invalid_token(pem: bytes, garbage: str) -> None:
    with pytest.raises(InvalidToken):
        codec(pem).verify(garbage)


def test_expiry_within_leeway_is_accepted_beyond_it_refused(pem: bytes) -> None:
    tokens = codec(pem, access_ttl=60, jwt_leeway=10)
    now = time.time()
    just_expired = tokens.issue(subject="u", session_id="s", now=now - 65).token
    assert tokens.verify(just_expired).subject == "u"
    long_expired = tokens.issue(subject="u", session_id="s", now=now - 75).token
    with pytest.raises(InvalidToken, match="expired"):
        tokens.verify(long_expired)


def test_previous_key_still_verifies_during_rotation(pem: bytes) -> None:
    old = codec(pem)
    old_token = old.issue(subject="u", session_id="s").token
    new_pem = generate_private_key_pem()
    public_pem = (
        private_key(pem)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    rotated = codec(new_pem, jwt_previous_public_key_pem=public_pem)
    assert rotated.verify(old_token).subject == "u"
    assert len(rotated.jwks()["keys"]) == 2
    # New tokens are signed with the new key, which the old instance does not know.
    with pytest.raises(InvalidToken):
        old.verify(rotated.issue(subject="u", session_id="s").token)
    # Without the previous key configured, old tokens stop verifying.
    with pytest.raises(InvalidToken):
        codec(new_pem).verify(old_token)


def test_jwks_publishes_the_public_key_only(pem: bytes) -> None:
    jwks = codec(pem).jwks()
    [jwk] = jwks["keys"]
    assert jwk["kty"] == "OKP"
    assert jwk["crv"] == "Ed25519"
    assert "d" not in jwk
    assert jwk["kid"] == key_id(private_key(pem).public_key())


def test_hs256_mode_round_trips_and_pins_its_algorithm(pem: bytes) -> None:
    hs = AccessTokens.from_config(
        ServiceConfig(jwt_algorithm="HS256", jwt_secret=SECRET, token_pepper=PEPPER)
    )
    token = hs.issue(subject="u", session_id="s").token
    assert hs.verify(token).subject == "u"
    assert hs.jwks() == {"keys": []}
    # An EdDSA token is refused by an HS256 verifier and vice versa.
    with pytest.raises(InvalidToken):
        hs.verify(codec(pem).issue(subject="u", session_id="s").token)
    with pytest.raises(InvalidToken):
        codec(pem).verify(token)


def test_two_instances_with_the_same_key_accept_each_others_tokens(pem: bytes) -> None:
    a, b = codec(pem), codec(pem)
    assert b.verify(a.issue(subject="u", session_id="s").token).subject == "u"
    other = codec(generate_private_key_pem())
    with pytest.raises(InvalidToken):
        other.verify(a.issue(subject="u", session_id="s").token)
