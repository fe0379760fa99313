"""Forged access tokens presented to a real instance are refused with 401 invalid_token."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import aiohttp
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from service.keys import generate_private_key_pem
from tests.service.conftest import Api, ServiceProcess
from tests.service.forgery import claims, forgeries, signed

pytestmark = pytest.mark.integration


def load_key(key_file: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


async def test_forged_tokens_are_refused_on_me_and_logout(api: Api, key_file: Path) -> None:
    user = await api.new_user()
    assert (await api.me(user.access)).status == 200
    sid = jwt.decode(user.access, options={"verify_signature": False})["sid"]
    forged = forgeries(load_key(key_file), subject=user.id, session_id=sid, valid=user.access)
    forged["refresh_token_itself"] = user.refresh
    refused = {}
    for name, token in forged.items():
        me = await api.me(token)
        logout = await api.logout(token)
        refused[name] = (me.status, me.code, logout.status, logout.code)
    expected = (401, "invalid_token", 401, "invalid_token")
    assert {name: result for name, result in refused.items() if result != expected} == {}
    # None of the attempts touched the real session.
    assert (await api.me(user.access)).status == 200


async def test_a_correctly_signed_token_for_an_unknown_session_is_refused(
    api: Api, key_file: Path
) -> None:
    user = await api.new_user()
    token = signed(load_key(key_file), claims(subject=user.id, session_id="no-such-session"))
    reply = await api.me(token)
    assert (reply.status, reply.code) == (401, "invalid_token")


@pytest.mark.slow
async def test_hs256_instance_and_eddsa_instance_refuse_each_others_tokens(
    api: Api, spawn: Callable[..., ServiceProcess], http: aiohttp.ClientSession
) -> None:
    hs = Api(
        http,
        spawn("hs256", AUTH_JWT_ALG="HS256", AUTH_JWT_SECRET="s3cret-" * 6).url,
    )
    hs_user = await hs.new_user()
    assert (await hs.me(hs_user.access)).status == 200
    assert jwt.get_unverified_header(hs_user.access)["alg"] == "HS256"
    assert (await hs.call("GET", "/.well-known/jwks.json")).json() == {"keys": []}

    eddsa_user = await api.new_user()
    # Same Redis and Postgres, so only the algorithm pin can refuse these.
    assert (await hs.me(eddsa_user.access)).code == "invalid_token"
    assert (await api.me(hs_user.access)).code == "invalid_token"


@pytest.mark.slow
async def test_key_rotation_keeps_old_tokens_valid(
    api: Api,
    spawn: Callable[..., ServiceProcess],
    http: aiohttp.ClientSession,
    key_file: Path,
    tmp_path: Path,
) -> None:
    new_key = tmp_path / "new.pem"
    new_key.write_bytes(generate_private_key_pem())
    rotated = Api(
        http,
        spawn(
            "rotated",
            AUTH_JWT_PRIVATE_KEY_FILE=str(new_key),
            AUTH_JWT_PREVIOUS_PUBLIC_KEY_FILE=str(key_file),
        ).url,
    )
    old_user = await api.new_user()
    assert (await rotated.me(old_user.access)).status == 200
    assert len((await rotated.call("GET", "/.well-known/jwks.json")).json()["keys"]) == 2

    new_user = await rotated.new_user()
    assert (await rotated.me(new_user.access)).status == 200
    # Instances still on the old key do not know the new one.
    assert (await api.me(new_user.access)).code == "invalid_token"
