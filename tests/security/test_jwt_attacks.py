"""Attacks on the access token (RFC 8725, OWASP JWT cheat sheet), through the balancer and
on each instance. ``tests/service/test_attacks.py`` covers the basic forgeries on one
instance; these are the ones it leaves out: ``nbf``, header-borne keys (``jwk``, ``jku``,
``x5u``), ``kid`` injection, algorithm spellings, the JWKS as an HMAC secret, signature
stripping and token-type confusion in both directions."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.keys import key_id, public_jwk
from tests.security.conftest import session_id_of
from tests.service.conftest import Api, User
from tests.service.forgery import b64, claims, signed, unsigned

pytestmark = pytest.mark.integration


def hs256(secret: bytes, header: dict[str, Any], payload: dict[str, Any]) -> str:
    head = unsigned(header, payload)
    return f"{head}.{b64(hmac.new(secret, head.encode(), hashlib.sha256).digest())}"


def attacks(
    key: Ed25519PrivateKey, user: User, jwks: dict[str, Any]
) -> dict[str, Callable[[], str]]:
    """Tokens for ``user``'s live session that a correct verifier must refuse."""
    sid = session_id_of(user.access)
    good = claims(subject=user.id, session_id=sid)
    kid = key_id(key.public_key())
    attacker = Ed25519PrivateKey.generate()
    attacker_jwk = {**public_jwk(attacker.public_key()), "kid": "attacker"}
    published_x = jwks["keys"][0]["x"]
    header, payload, signature = user.access.split(".")
    now = int(time.time())
    return {
        "nbf_in_the_future": lambda: signed(key, {**good, "nbf": now + 3600}),
        "expired_beyond_leeway": lambda: signed(key, {**good, "iat": now - 700, "exp": now - 60}),
        "audience_list_without_ours": lambda: signed(key, {**good, "aud": ["a", "b"]}),
        "issuer_lookalike": lambda: signed(key, {**good, "iss": "authscale "}),
        "embedded_jwk_of_the_attacker": lambda: signed(
            attacker, good, kid="attacker", jwk=attacker_jwk
        ),
        "jku_to_the_attackers_keys": lambda: signed(
            attacker, good, kid="attacker", jku="http://127.0.0.1:9/jwks.json"
        ),
        "x5u_to_the_attackers_cert": lambda: signed(
            attacker, good, kid="attacker", x5u="http://127.0.0.1:9/cert.pem"
        ),
        "kid_path_traversal": lambda: signed(attacker, good, kid="../../../../../../dev/null"),
        "kid_sql_injection": lambda: signed(attacker, good, kid=f"x' UNION SELECT '{kid}' --"),
        "kid_command_injection": lambda: signed(attacker, good, kid=f"{kid}|id"),
        "kid_not_a_string": lambda: by_hand(
            key, {"alg": "EdDSA", "typ": "at+jwt", "kid": [kid]}, good
        ),
        "kid_huge": lambda: signed(attacker, good, kid="k" * 4000),
        "alg_None": lambda: unsigned({"alg": "None", "typ": "at+jwt", "kid": kid}, good) + ".",
        "alg_NONE": lambda: unsigned({"alg": "NONE", "typ": "at+jwt", "kid": kid}, good) + ".",
        "alg_eddsa_lowercase": lambda: by_hand(
            key, {"alg": "eddsa", "typ": "at+jwt", "kid": kid}, good
        ),
        "alg_missing": lambda: unsigned({"typ": "at+jwt", "kid": kid}, good) + ".sig",
        "hs256_with_the_published_x": lambda: hs256(
            published_x.encode(), {"alg": "HS256", "typ": "at+jwt", "kid": kid}, good
        ),
        "hs256_with_the_jwks_document": lambda: hs256(
            orjson.dumps(jwks), {"alg": "HS256", "typ": "at+jwt", "kid": kid}, good
        ),
        "hs256_with_the_kid_as_secret": lambda: hs256(
            kid.encode(), {"alg": "HS256", "typ": "at+jwt", "kid": kid}, good
        ),
        "rs256_header": lambda: (
            unsigned({"alg": "RS256", "typ": "at+jwt", "kid": kid}, good) + ".c2ln"
        ),
        "signature_stripped": lambda: f"{header}.{payload}.",
        "signature_of_another_token": lambda: f"{header}.{b64(orjson.dumps(good))}.{signature}",
        "crit_unknown_extension": lambda: by_hand(
            key,
            {"alg": "EdDSA", "typ": "at+jwt", "kid": kid, "crit": ["exp-v2"], "exp-v2": 1},
            good,
        ),
        "typ_refresh": lambda: signed(key, good, typ="refresh+jwt"),
        "typ_missing": lambda: by_hand(key, {"alg": "EdDSA", "kid": kid}, good),
        "five_segments": lambda: user.access + ".e30.e30",
        "whitespace_inside": lambda: f"{header}. {payload}.{signature}",
        "sub_as_number": lambda: signed(key, {**good, "sub": 1}),
        "exp_as_string": lambda: signed(key, {**good, "exp": str(now + 600)}),
        "payload_not_an_object": lambda: by_hand(
            key, {"alg": "EdDSA", "typ": "at+jwt", "kid": kid}, [1, 2, 3]
        ),
    }


def by_hand(key: Ed25519PrivateKey, header: dict[str, Any], payload: Any) -> str:
    """Signed with the real key, with a header no JWT library would write."""
    head = f"{b64(orjson.dumps(header))}.{b64(orjson.dumps(payload))}"
    return f"{head}.{b64(key.sign(head.encode()))}"


async def test_every_crafted_access_token_is_refused_everywhere(
    gateway: Api, instances: list[Api], signing_key: Ed25519PrivateKey
) -> None:
    user = await gateway.new_user()
    jwks = (await gateway.call("GET", "/.well-known/jwks.json")).json()
    accepted: dict[str, list[tuple[str, int]]] = {}
    for name, build in attacks(signing_key, user, jwks).items():
        token = build()
        for where, api in [("balancer", gateway), *(("instance", i) for i in instances)]:
            for reply in (await api.me(token), await api.logout(token)):
                if (reply.status, reply.code) != (401, "invalid_token"):
                    accepted.setdefault(name, []).append((where, reply.status))
    assert accepted == {}
    # The real session was not touched by any of it.
    assert (await gateway.me(user.access)).status == 200


async def test_a_token_signed_right_is_accepted_so_the_refusals_mean_something(
    gateway: Api, signing_key: Ed25519PrivateKey
) -> None:
    user = await gateway.new_user()
    good = signed(signing_key, claims(subject=user.id, session_id=session_id_of(user.access)))
    assert (await gateway.me(good)).status == 200


async def test_an_access_token_is_not_a_refresh_token_and_vice_versa(
    gateway: Api, instances: list[Api]
) -> None:
    user = await gateway.new_user()
    for api in [gateway, *instances]:
        as_refresh = await api.refresh(user.access)
        assert (as_refresh.status, as_refresh.code) == (401, "invalid_token")
        as_bearer = await api.logout(user.refresh)
        assert (as_bearer.status, as_bearer.code) == (401, "invalid_token")
        jwt_shaped = await api.refresh(f"{session_id_of(user.access)}.{'A' * 43}")
        assert (jwt_shaped.status, jwt_shaped.code) == (401, "invalid_token")
    # The session survives every misuse: its real refresh token still rotates.
    assert (await gateway.refresh(user.refresh)).status == 200


@pytest.mark.parametrize(
    "header",
    [
        "bearer {token}",
        "BEARER {token}",
        "Bearer  {token}",
        "Basic {token}",
        "Token {token}",
        "{token}",
        "Bearer {token}, Bearer {token}",
        "Bearer {token}x",
    ],
)
async def test_authorization_header_spellings(gateway: Api, header: str) -> None:
    user = await gateway.new_user()
    reply = await gateway.call(
        "GET", "/auth/me", headers={"Authorization": header.format(token=user.access)}
    )
    scheme = header.split(" ", 1)[0].lower()
    if scheme == "bearer" and header.count("{token}") == 1 and not header.endswith("x"):
        # RFC 6750: the scheme is case-insensitive; extra spaces before the token are OWS.
        assert reply.status == 200
    else:
        assert (reply.status, reply.code) == (401, "invalid_token")


async def test_tokens_of_a_foreign_deployment_are_refused(
    gateway: Api, instances: list[Api]
) -> None:
    """Another deployment with its own key (same issuer and audience) cannot mint tokens."""
    user = await gateway.new_user()
    foreign = Ed25519PrivateKey.generate()
    token = signed(foreign, claims(subject=user.id, session_id=session_id_of(user.access)))
    for api in (gateway, *instances):
        reply = await api.me(token)
        assert (reply.status, reply.code) == (401, "invalid_token")
