"""Attacks on refresh tokens and sessions across two instances sharing one Redis.

``tests/service`` covers reuse detection, 20 concurrent refreshes and logout on one
instance or a pair; these add what an attacker does with what they can see: the session
id is public (it is the ``sid`` claim), rotated tokens come back after the session moved
on, concurrent refreshes race on different instances, and logged-out tokens are replayed
everywhere.
"""

from __future__ import annotations

import asyncio
import secrets

import pytest

from tests.security.conftest import session_id_of
from tests.service.conftest import Api

pytestmark = pytest.mark.integration


async def test_guessing_a_secret_for_a_known_session_id_neither_works_nor_revokes(
    gateway: Api, instances: list[Api]
) -> None:
    victim = await gateway.new_user()
    sid = session_id_of(victim.access)
    for api in [gateway, *instances]:
        for _ in range(5):
            guess = f"{sid}.{secrets.token_urlsafe(32)}"
            reply = await api.refresh(guess)
            assert (reply.status, reply.code) == (401, "invalid_token")
    # A wrong secret is not a reuse: the victim's session lives on.
    assert (await gateway.me(victim.access)).status == 200
    assert (await gateway.refresh(victim.refresh)).status == 200


async def test_a_stolen_rotated_token_revokes_the_whole_session_on_every_instance(
    gateway: Api, instances: list[Api]
) -> None:
    user = await gateway.new_user()
    stolen = user.refresh
    first = await instances[0].refresh(stolen)
    assert first.status == 200
    second = await instances[1].refresh(first.json()["refresh_token"])
    assert second.status == 200
    latest = second.json()
    # The thief presents the token stolen two rotations ago, on the other instance.
    reuse = await instances[1].refresh(stolen)
    assert (reuse.status, reuse.code) == (401, "token_reused")
    for api in [gateway, *instances]:
        assert (await api.refresh(latest["refresh_token"])).status == 401
        assert (await api.me(latest["access_token"])).status == 401
        assert (await api.me(user.access)).status == 401


async def test_concurrent_refresh_on_two_instances_has_one_winner_and_revokes_on_reuse(
    instances: list[Api], gateway: Api
) -> None:
    user = await gateway.new_user()
    replies = await asyncio.gather(*(instances[i % 2].refresh(user.refresh) for i in range(10)))
    winners = [r for r in replies if r.status == 200]
    losers = [r for r in replies if r.status != 200]
    assert len(winners) == 1
    # A loser presented a token that had just been rotated: by the contract that is a reuse,
    # and the session is revoked, so not even the winner's tokens survive the race.
    assert {(r.status, r.code) for r in losers} <= {(401, "token_reused"), (401, "invalid_token")}
    assert any(r.code == "token_reused" for r in losers)
    assert (await gateway.refresh(winners[0].json()["refresh_token"])).status == 401


async def test_after_logout_nothing_of_the_session_works_anywhere(
    gateway: Api, instances: list[Api]
) -> None:
    user = await gateway.new_user()
    rotated = (await instances[0].refresh(user.refresh)).json()
    assert (await instances[1].logout(rotated["access_token"])).status == 204
    for api in [gateway, *instances]:
        me = await api.me(rotated["access_token"])
        assert (me.status, me.code) == (401, "invalid_token")
        refresh = await api.refresh(rotated["refresh_token"])
        assert (refresh.status, refresh.code) == (401, "invalid_token")
        # The token rotated away before the logout finds no session either: not a "reuse".
        old = await api.refresh(user.refresh)
        assert (old.status, old.code) == (401, "invalid_token")
        again = await api.logout(rotated["access_token"])
        assert (again.status, again.code) == (401, "invalid_token")


async def test_concurrent_logout_and_refresh_never_resurrect_the_session(
    gateway: Api, instances: list[Api]
) -> None:
    for _ in range(5):
        user = await gateway.new_user()
        logout, refresh = await asyncio.gather(
            instances[0].logout(user.access), instances[1].refresh(user.refresh)
        )
        assert logout.status in (204, 401)
        assert refresh.status in (200, 401)
        if refresh.status == 200:
            # The refresh won the race; a logout with the old access token still ended it.
            fresh = refresh.json()
            if logout.status == 204:
                assert (await gateway.me(fresh["access_token"])).status == 401
                assert (await gateway.refresh(fresh["refresh_token"])).status == 401
        else:
            assert logout.status == 204


async def test_a_logout_cannot_end_someone_elses_session_without_their_refresh_token(
    gateway: Api,
) -> None:
    attacker = await gateway.new_user()
    victim = await gateway.new_user()
    forged = f"{session_id_of(victim.access)}.{secrets.token_urlsafe(32)}"
    assert (await gateway.logout(attacker.access, refresh_token=forged)).status == 204
    assert (await gateway.me(victim.access)).status == 200
    assert (await gateway.refresh(victim.refresh)).status == 200
