"""Who an address names: domains compared as IDNA2008 does (UTS-46, non-transitional), so
two domains DNS keeps apart are two accounts, and spellings of one domain are one."""

from __future__ import annotations

import uuid

import pytest

from tests.service.conftest import Api

pytestmark = pytest.mark.integration


async def test_sharp_s_and_double_s_domains_are_different_accounts(gateway: Api) -> None:
    local = f"id-{uuid.uuid4().hex[:12]}"
    sharp = await gateway.signup(f"{local}@ß.test")
    double = await gateway.signup(f"{local}@ss.test")
    assert (sharp.status, double.status) == (201, 201)
    assert sharp.json()["id"] != double.json()["id"]
    sharp_login = await gateway.login(f"{local}@ß.test")
    double_login = await gateway.login(f"{local}@ss.test")
    me = [await gateway.me(reply.json()["access_token"]) for reply in (sharp_login, double_login)]
    assert [reply.json()["id"] for reply in me] == [sharp.json()["id"], double.json()["id"]]


async def test_the_a_label_of_a_domain_is_the_same_account(gateway: Api) -> None:
    local = f"id-{uuid.uuid4().hex[:12]}"
    assert (await gateway.signup(f"{local}@straße.test")).status == 201
    taken = await gateway.signup(f"{local.upper()}@xn--strae-oqa.test")
    assert (taken.status, taken.code) == (409, "email_taken")
    assert (await gateway.login(f"{local}@STRAßE.test")).status == 200
