"""The Redis session store on its own: what is stored, atomic rotation, deny-list TTLs."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from service.errors import InvalidToken, TokenReused
from service.sessions import SessionStore, new_refresh_token, split_refresh_token


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture
def prefix() -> str:
    return f"authscale-test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture
def store(redis: Redis, prefix: str) -> SessionStore:
    return SessionStore(redis, prefix=prefix, refresh_ttl=3600)


def test_refresh_tokens_have_256_random_bits_and_a_session_id() -> None:
    token = new_refresh_token("S" * 22)
    assert split_refresh_token(token) == "S" * 22
    secret = token.partition(".")[2]
    assert len(secret) == 43  # 32 bytes in unpadded base64url
    assert split_refresh_token(token + "x") is None
    assert split_refresh_token("S" * 22 + "!" + secret[1:]) is None


@pytest.mark.integration
async def test_only_a_hash_of_the_refresh_token_is_stored(
    store: SessionStore, redis: Redis, prefix: str
) -> None:
    session = await store.create(user_id="u-1", email="u@example.com")
    keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
    assert keys == [f"{prefix}session:{session.session_id}".encode()]
    stored: dict[bytes, bytes] = await redis.hgetall(keys[0])  # type: ignore[misc,assignment]
    secret = session.refresh_token.partition(".")[2].encode()
    assert all(secret not in field + value for field, value in stored.items())
    digest = hashlib.sha256(session.refresh_token.encode()).hexdigest().encode()
    assert stored[b"refresh"] == digest
    assert 3590 <= await redis.ttl(keys[0]) <= 3600


@pytest.mark.integration
async def test_rotation_chain_and_reuse(store: SessionStore) -> None:
    session = await store.create(user_id="u-1", email="u@example.com")
    second = await store.rotate(session.refresh_token)
    third = await store.rotate(second.refresh_token)
    assert (third.user_id, third.email, third.session_id) == (
        "u-1",
        "u@example.com",
        session.session_id,
    )
    with pytest.raises(TokenReused):
        await store.rotate(session.refresh_token)
    with pytest.raises(InvalidToken):
        await store.rotate(third.refresh_token)


@pytest.mark.integration
async def test_of_many_concurrent_rotations_exactly_one_wins(store: SessionStore) -> None:
    session = await store.create(user_id="u-1", email="u@example.com")
    results = await asyncio.gather(
        *(store.rotate(session.refresh_token) for _ in range(50)), return_exceptions=True
    )
    winners = [result for result in results if not isinstance(result, BaseException)]
    assert len(winners) == 1
    assert all(isinstance(result, InvalidToken) for result in results if result not in winners)


@pytest.mark.integration
async def test_a_forged_secret_for_a_real_session_does_not_revoke_it(store: SessionStore) -> None:
    session = await store.create(user_id="u-1", email="u@example.com")
    forged = f"{session.session_id}.{'A' * 43}"
    with pytest.raises(InvalidToken) as caught:
        await store.rotate(forged)
    assert not isinstance(caught.value, TokenReused)
    assert (await store.rotate(session.refresh_token)).user_id == "u-1"


@pytest.mark.integration
async def test_logout_deny_lists_the_jti_until_expiry(
    store: SessionStore, redis: Redis, prefix: str
) -> None:
    session = await store.create(user_id="u-1", email="u@example.com")
    assert await store.email_if_active(session_id=session.session_id, token_id="j1") == (
        "u@example.com"
    )
    assert await store.logout(
        session_id=session.session_id, token_id="j1", deny_for=120, refresh_token=None
    )
    assert 110 <= await redis.ttl(f"{prefix}deny:j1") <= 120
    assert await store.email_if_active(session_id=session.session_id, token_id="j1") is None
    assert not await store.logout(
        session_id=session.session_id, token_id="j1", deny_for=120, refresh_token=None
    )
