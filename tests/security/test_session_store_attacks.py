"""Sessions against an attacker who can write to Redis, and sessions that never end.

Write access to Redis alone must mint nothing: a session hash written with the SHA-256 of
a made-up refresh token (what the store kept before), a record moved to another user, a
copy under a new session id. Sessions end at ``AUTH_SESSION_MAX_AGE`` however often they
rotate, and rotation keeps one generation counter instead of a field per rotated token.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import stat
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis.asyncio import Redis

from lab.harness.topology import Topology, write_signing_key, write_token_pepper
from tests.security.conftest import session_id_of, start_stack
from tests.service.conftest import Api
from tests.service.forgery import claims, signed

pytestmark = pytest.mark.integration

MAX_AGE = 3
PREFIX = f"authscale-store-{secrets.token_hex(4)}:"


@pytest.fixture(scope="module")
def short_lived(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> Iterator[Topology]:
    topology = start_stack(
        tmp_path_factory.mktemp("store-stack"),
        database_url,
        redis_url,
        instances=1,
        balancer=False,
        AUTH_REDIS_PREFIX=PREFIX,
        AUTH_SESSION_MAX_AGE=str(MAX_AGE),
    )
    try:
        yield topology
    finally:
        topology.stop()


@pytest.fixture(scope="module")
def short_lived_key(short_lived: Topology) -> Ed25519PrivateKey:
    """The stack's signing key (each stack has its own, like the suite's ``signing_key``)."""
    assert short_lived.key_file is not None
    key = serialization.load_pem_private_key(short_lived.key_file.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


@pytest.fixture
def api(http: aiohttp.ClientSession, short_lived: Topology) -> Api:
    return Api(http, short_lived.instances[0].url)


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


def session_key(session_id: str) -> str:
    return f"{PREFIX}session:{session_id}"


async def test_a_session_written_straight_into_redis_mints_nothing(api: Api, redis: Redis) -> None:
    """A well-formed token of a real session, whose stored ``refresh`` is rewritten to the
    token's SHA-256 (what the store kept before the pepper): Redis must hold an HMAC."""
    attacker = await api.new_user()
    sid = session_id_of(attacker.access)
    digest = hashlib.sha256(attacker.refresh.encode()).hexdigest()
    await redis.hset(session_key(sid), "refresh", digest)  # type: ignore[misc]
    reply = await api.refresh(attacker.refresh)
    assert (reply.status, reply.code) == (401, "invalid_token")


async def test_a_real_session_moved_or_copied_to_another_user_mints_nothing(
    api: Api, redis: Redis, short_lived_key: Ed25519PrivateKey
) -> None:
    attacker = await api.new_user()
    victim = await api.new_user(login=False)
    sid = session_id_of(attacker.access)
    # An access token minted with the instance's own key is honoured on a real session ...
    minted = signed(short_lived_key, claims(subject=attacker.id, session_id=sid))
    assert (await api.me(minted)).status == 200
    record: dict[bytes | str, bytes | str] = await redis.hgetall(session_key(sid))  # type: ignore[misc]
    copy_sid = secrets.token_urlsafe(16)
    await redis.hset(session_key(copy_sid), mapping=record)  # type: ignore[arg-type,misc]
    await redis.hset(session_key(sid), "user_id", victim.id)  # type: ignore[misc]
    moved = await api.refresh(attacker.refresh)
    assert (moved.status, moved.code) == (401, "invalid_token")
    # The copy answers to no refresh token: their tags are bound to the original session id.
    copied_token = attacker.refresh.replace(sid, copy_sid, 1)
    assert (await api.refresh(copied_token)).status == 401
    # ... but not on the copy, even with a valid signature: the record's MAC names its sid.
    on_copy = signed(short_lived_key, claims(subject=attacker.id, session_id=copy_sid))
    reply = await api.me(on_copy)
    assert (reply.status, reply.code) == (401, "invalid_token")


async def test_me_refuses_a_session_whose_record_was_edited(api: Api, redis: Redis) -> None:
    user = await api.new_user()
    sid = session_id_of(user.access)
    assert (await api.me(user.access)).status == 200
    await redis.hset(session_key(sid), "email", "someone-else@example.com")  # type: ignore[misc]
    assert (await api.me(user.access)).status == 401


async def test_rotation_keeps_one_generation_counter_and_reuse_still_revokes(
    api: Api, redis: Redis
) -> None:
    user = await api.new_user()
    sid = session_id_of(user.access)
    tokens = [user.refresh]
    for _ in range(4):
        reply = await api.refresh(tokens[-1])
        assert reply.status == 200
        tokens.append(reply.json()["refresh_token"])
    fields: dict[bytes, bytes] = await redis.hgetall(session_key(sid))  # type: ignore[assignment,misc]
    assert fields[b"gen"] == b"4"
    assert not [name for name in fields if name.startswith(b"used:")]
    reused = await api.refresh(tokens[1])
    assert (reused.status, reused.code) == (401, "token_reused")
    assert (await api.refresh(tokens[-1])).status == 401
    assert await redis.exists(session_key(sid)) == 0


async def test_a_session_ends_at_its_maximum_age_however_often_it_rotates(api: Api) -> None:
    user = await api.new_user()
    token = user.refresh
    started = time.monotonic()
    while time.monotonic() - started < MAX_AGE - 1.5:
        reply = await api.refresh(token)
        assert reply.status == 200
        token = reply.json()["refresh_token"]
        await asyncio.sleep(0.5)
    await asyncio.sleep(MAX_AGE + 0.5 - (time.monotonic() - started))
    ended = await api.refresh(token)
    assert (ended.status, ended.code) == (401, "invalid_token")


def test_the_lab_writes_the_pepper_and_the_key_for_their_owner_only(
    short_lived: Topology, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for path in (short_lived.pepper_file, short_lived.key_file):
        assert path is not None
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert short_lived.pepper_file is not None
    assert len(short_lived.pepper_file.read_bytes().strip()) >= 32
    # The final mode is not enough: the files must be 0600 from the instant they exist
    # (no umask window) and new (O_EXCL: never an existing file or a symlink's target).
    opened: list[tuple[str, int, int]] = []
    real_open = os.open

    def spy(path: Any, flags: int, mode: int = 0o777, *args: Any, **kwargs: Any) -> int:
        opened.append((os.fspath(path), flags, mode))
        return real_open(path, flags, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", spy)
    write_signing_key(tmp_path / "jwt.pem")
    write_token_pepper(tmp_path / "token-pepper")
    monkeypatch.undo()
    writes = [entry for entry in opened if entry[1] & os.O_CREAT]
    assert len(writes) == 2, opened
    for written, flags, mode in writes:
        assert Path(written).parent == tmp_path
        assert flags & os.O_EXCL, written
        assert mode == 0o600, written
    for name in ("jwt.pem", "token-pepper"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
