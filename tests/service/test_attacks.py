"""Forged access tokens presented to a real instance are refused with 401 invalid_token."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.service.conftest import Api
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
