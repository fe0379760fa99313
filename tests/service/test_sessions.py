"""The Redis session store on its own: what is stored, atomic rotation, deny-list TTLs,
the generation counter, the absolute lifetime and the cap per user."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from service import refresh_tokens
from service.errors import InvalidToken, TokenReused
from service.pepper import Pepper
from service.sessions import SessionStore, split_refresh_token

PEPPER = Pepper(b"p" * 32)


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
    return SessionStore(redis, prefix=prefix, refresh_ttl=3600, pepper=PEPPER)


def test_refresh_tokens_have_256_random_bits_a_session_id_and_a_generation() -> None:
    token = refresh_tokens.issue(PEPPER, "S" * 22, 3).text
    assert split_refresh_token(token) == "S" * 22
    session_id, generation, secret, tag = token.split(".")
    assert (session_id, generation) == ("S" * 22, "3")
    assert len(secret) == 43  # 32 bytes in unpadded base64url
    assert len(tag) == 32
    assert split_refresh_token(token + "x") is None
    assert split_refresh_token("S" * 22 + "!" + token[23:]) is None
    parsed = refresh_tokens.parse(PEPPER, token)
    assert parsed is not None
    assert parsed.generation == 3
    # The tag depends on every part and on the pepper.
    assert refresh_tokens.parse(PEPPER, token.replace(".3.", ".2.")) is None
    assert refresh_tokens.parse(Pepper(b"q" * 32), token) is None


@pytest.mark.integration
async def test_only_a_peppered_mac_of_the_refresh_token_is_stored(
    store: SessionStore, redis: Redis, prefix: str
) -> None:
    session = await store.create(user_id="u-1", email="u@example.com")
    key = f"{prefix}session:{session.session_id}"
    keys = sorted([key async for key in redis.scan_iter(match=f"{prefix}*")])
    assert keys == sorted([key.encode(), f"{prefix}user-sessions:u-1".encode()])
    stored: dict[bytes, bytes] = await redis.hgetall(key)  # type: ignore[misc,assignment]
    secret = session.refresh_token.split(".")[2].encode()
    assert all(secret not in field + value for field, value in stored.items())
    assert stored[b"refresh"] == refresh_tokens.stored_form(PEPPER, session.refresh_token).encode()
    assert stored[b"gen"] == b"0"
    assert not any(field.startswith(b"used:") for field in stored)
    assert 3590 <= await redis.ttl(key) <= 3600


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


@pytest.mark.integration
async def test_rotations_count_generations_in_one_field(
    store: SessionStore, redis: Redis, prefix: str
) -> None:
    session = await store.create(user_id="u-1", email="u@example.com")
    token = session.refresh_token
    for _ in range(5):
        token = (await store.rotate(token)).refresh_token
    stored: dict[bytes, bytes] = await redis.hgetall(  # type: ignore[misc,assignment]
        f"{prefix}session:{session.session_id}"
    )
    assert stored[b"gen"] == b"5"
    assert len(stored) == len(
        {"user_id", "email", "refresh", "gen", "created", "expires", "account", "device", "mac"}
    )


@pytest.mark.integration
async def test_a_forged_old_generation_does_not_revoke_the_session(store: SessionStore) -> None:
    session = await store.create(user_id="u-1", email="u@example.com")
    second = await store.rotate(session.refresh_token)
    sid = session.session_id
    forged = f"{sid}.0.{'A' * 43}.{'0' * 32}"
    with pytest.raises(InvalidToken) as caught:
        await store.rotate(forged)
    assert not isinstance(caught.value, TokenReused)
    assert (await store.rotate(second.refresh_token)).user_id == "u-1"


@pytest.mark.integration
async def test_sessions_end_at_their_absolute_lifetime_whatever_the_rotations(
    redis: Redis, prefix: str
) -> None:
    store = SessionStore(redis, prefix=prefix, refresh_ttl=3600, pepper=PEPPER, max_age=2)
    session = await store.create(user_id="u-1", email="u@example.com")
    assert 1 <= await redis.ttl(f"{prefix}session:{session.session_id}") <= 2
    token = (await store.rotate(session.refresh_token)).refresh_token
    # Rotation does not extend the session past its end.
    assert await redis.ttl(f"{prefix}session:{session.session_id}") <= 2
    await asyncio.sleep(2.2)
    with pytest.raises(InvalidToken):
        await store.rotate(token)


@pytest.mark.integration
async def test_a_session_made_at_creation_time_past_its_end_is_refused(
    redis: Redis, prefix: str
) -> None:
    store = SessionStore(redis, prefix=prefix, refresh_ttl=3600, pepper=PEPPER, max_age=60)
    # Created 61 s ago (as if the TTL had not run out): the recorded end still holds.
    session = await store.create(user_id="u-1", email="u@example.com", now=time.time() - 61)
    await redis.expire(f"{prefix}session:{session.session_id}", 100)
    with pytest.raises(InvalidToken):
        await store.rotate(session.refresh_token)


@pytest.mark.integration
async def test_live_sessions_per_user_are_capped_oldest_first(redis: Redis, prefix: str) -> None:
    store = SessionStore(redis, prefix=prefix, refresh_ttl=3600, pepper=PEPPER, max_per_user=2)
    first = await store.create(user_id="u-1", email="u@example.com")
    await asyncio.sleep(0.01)
    second = await store.create(user_id="u-1", email="u@example.com")
    await asyncio.sleep(0.01)
    other_user = await store.create(user_id="u-2", email="v@example.com")
    third = await store.create(user_id="u-1", email="u@example.com")
    with pytest.raises(InvalidToken):
        await store.rotate(first.refresh_token)
    assert await store.email_if_active(session_id=first.session_id, token_id="j") is None
    for kept in (second, third, other_user):
        assert (await store.rotate(kept.refresh_token)).session_id == kept.session_id


@pytest.mark.integration
async def test_a_record_written_without_the_pepper_mints_nothing(
    store: SessionStore, redis: Redis, prefix: str
) -> None:
    """Write access to Redis: a made-up session, or a real one moved to another user."""
    mine = await store.create(user_id="attacker", email="a@example.com")
    key = f"{prefix}session:{mine.session_id}"
    await redis.hset(key, "user_id", "victim")  # type: ignore[misc]
    with pytest.raises(InvalidToken):
        await store.rotate(mine.refresh_token)
    assert await redis.exists(key) == 0

    made_up = refresh_tokens.issue(Pepper(b"x" * 32), refresh_tokens.new_session_id(), 0)
    fields: dict[str | bytes, str | bytes] = {
        "user_id": "victim",
        "email": "v@example.com",
        "gen": "0",
        "created": "0",
    }
    fields |= {"expires": str(int(time.time()) + 60), "account": "", "device": "", "mac": "0"}
    fields["refresh"] = refresh_tokens.stored_form(PEPPER, made_up.text)
    await redis.hset(f"{prefix}session:{made_up.session_id}", mapping=fields)  # type: ignore[arg-type,misc]
    with pytest.raises(InvalidToken):
        await store.rotate(made_up.text)
    assert (
        await store.email_if_active(session_id=made_up.session_id, token_id="j", user_id="victim")
        is None
    )
