"""Two instances sharing one Redis and one Postgres behave as one service."""

from __future__ import annotations

import asyncio

import pytest

from tests.service.conftest import Api

pytestmark = pytest.mark.integration


async def test_login_on_a_refresh_and_logout_on_b_me_on_a_is_401(api: Api, api_b: Api) -> None:
    user = await api.new_user()
    assert (await api_b.me(user.access)).status == 200

    refreshed = await api_b.refresh(user.refresh)
    assert refreshed.status == 200
    tokens = refreshed.json()
    assert (await api.me(tokens["access_token"])).status == 200

    assert (await api_b.logout(tokens["access_token"])).status == 204
    on_a = await api.me(tokens["access_token"])
    assert (on_a.status, on_a.code) == (401, "invalid_token")
    # The session is gone everywhere: older access tokens and the refresh token too.
    assert (await api.me(user.access)).status == 401
    assert (await api.refresh(tokens["refresh_token"])).status == 401


async def test_concurrent_refreshes_across_instances_exactly_one_wins(api: Api, api_b: Api) -> None:
    user = await api.new_user()
    replies = await asyncio.gather(
        *((api if i % 2 else api_b).refresh(user.refresh) for i in range(20))
    )
    assert sorted(reply.status for reply in replies) == [200] + [401] * 19


async def test_reuse_detected_on_the_other_instance(api: Api, api_b: Api) -> None:
    user = await api.new_user()
    assert (await api.refresh(user.refresh)).status == 200
    reused = await api_b.refresh(user.refresh)
    assert (reused.status, reused.code) == (401, "token_reused")


async def test_signup_on_one_instance_is_taken_on_the_other(api: Api, api_b: Api) -> None:
    user = await api.new_user(login=False)
    again = await api_b.signup(user.email)
    assert (again.status, again.code) == (409, "email_taken")
    assert (await api_b.login(user.email)).status == 200
