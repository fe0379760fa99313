"""Hostile input through the balancer: lookalike addresses, over-long and NUL-bearing
fields, SQL metacharacters, oversized and non-JSON bodies. Never a 5xx, never a row or a
session that should not exist. ``tests/service/test_api.py`` covers the plain contract
cases (wrong types, 16 KiB, 415, malformed JSON) on one instance."""

from __future__ import annotations

import uuid

import orjson
import pytest

from lab.harness.topology import Topology
from tests.security.conftest import balancer_port, raw_exchange
from tests.service.conftest import PASSWORD, Api

pytestmark = pytest.mark.integration


def local() -> str:
    return f"t-{uuid.uuid4().hex[:16]}"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param("stra\u00dfe-{n}", "strasse-{n}", id="sharp-s-casefolds-to-ss"),
        pytest.param("\u212aelvin-{n}", "kelvin-{n}", id="kelvin-sign"),
        pytest.param("\ufb01le-{n}", "file-{n}", id="fi-ligature"),
        pytest.param("caf\u00e9-{n}", "cafe\u0301-{n}", id="composed-vs-combining"),
        pytest.param("admin-{n}", "\uff41\uff44\uff4d\uff49\uff4e-{n}", id="fullwidth"),
    ],
)
async def test_nfkc_equivalent_spellings_are_one_account(
    gateway: Api, first: str, second: str
) -> None:
    n = uuid.uuid4().hex[:12]
    owner = f"{first.format(n=n)}@example.com"
    created = await gateway.signup(owner)
    assert created.status == 201, created.body
    twin = await gateway.signup(f"{second.format(n=n)}@example.com", "another long password")
    assert (twin.status, twin.code) == (409, "email_taken")
    # The lookalike reaches the owner's account only with the owner's password.
    assert (await gateway.login(f"{second.format(n=n)}@example.com")).status == 200
    wrong = await gateway.login(f"{second.format(n=n)}@example.com", "another long password")
    assert wrong.status == 401


@pytest.mark.parametrize(
    "lookalike",
    [
        pytest.param("\u0430dmin-{n}", id="cyrillic-a"),
        pytest.param("adm\u0131n-{n}", id="dotless-i"),
        pytest.param("ad\u200dmin-{n}", id="zero-width-joiner"),
    ],
)
async def test_homoglyphs_that_nfkc_keeps_apart_never_reach_the_original(
    gateway: Api, lookalike: str
) -> None:
    n = uuid.uuid4().hex[:12]
    original = f"admin-{n}@example.com"
    assert (await gateway.signup(original)).status == 201
    spoof = f"{lookalike.format(n=n)}@example.com"
    signup = await gateway.signup(spoof, "the attacker's password")
    assert signup.status in (201, 422), signup.body
    if signup.status == 201:
        assert signup.json()["email"] != original
    # Logging in with the lookalike never opens the original account.
    assert (await gateway.login(spoof, PASSWORD)).status == 401


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        pytest.param({"email": "a" * 300 + "@example.com"}, 422, "invalid_email", id="long-local"),
        pytest.param(
            {"email": f"{local()}@{'d' * 63}.{'e' * 63}.{'f' * 63}.{'g' * 63}.com"},
            422,
            "invalid_email",
            id="long-domain",
        ),
        pytest.param({"email": "x" * 15000 + "@example.com"}, 422, "invalid_email", id="15k-email"),
        pytest.param({"password": "p" * 15000}, 422, "password_too_long", id="15k-password"),
        pytest.param({"password": "\u00e9" * 37}, 422, "password_too_long", id="74-utf8-bytes"),
        pytest.param({"email": "nul\x00byte@example.com"}, 422, "invalid_email", id="nul-email"),
        pytest.param({"email": "a@exam\x00ple.com"}, 422, "invalid_email", id="nul-domain"),
        pytest.param(
            {"email": "x'; DROP TABLE users;--@example.com"}, 422, "invalid_email", id="sql-drop"
        ),
        pytest.param({"email": "' OR '1'='1"}, 422, "invalid_email", id="sql-tautology"),
        pytest.param(
            {"email": "a@example.com\r\nBcc: b@example.com"}, 422, "invalid_email", id="crlf"
        ),
    ],
)
async def test_hostile_signup_fields_are_refused_cleanly(
    gateway: Api, payload: dict[str, str], status: int, code: str
) -> None:
    body = {"email": f"{local()}@example.com", "password": PASSWORD, **payload}
    reply = await gateway.call("POST", "/auth/signup", json=body)
    assert (reply.status, reply.code) == (status, code)
    login = await gateway.call("POST", "/auth/login", json=body)
    assert login.status in (401, 413, 422), login.body


@pytest.mark.parametrize(
    "mark", ["o'brien", "x%y", "under_score", "end'--", "amp&ersand", "dollar$1", "star*"]
)
async def test_sql_metacharacters_in_valid_addresses_are_plain_data(
    gateway: Api, mark: str
) -> None:
    base = local()
    email = f"{base}{mark}@example.com"
    created = await gateway.signup(email)
    assert created.status == 201, created.body
    assert (await gateway.login(email)).status == 200
    # A LIKE wildcard in the address matches nothing but itself.
    assert (await gateway.login(email.replace(mark, "%"))).status == 401


@pytest.mark.parametrize(
    "token",
    ["' OR '1'='1", 'x"; FLUSHALL; "', "*", "?" * 22 + "." + "*" * 43, "../" * 30, "\u0000" * 10],
)
async def test_metacharacters_in_tokens_are_invalid_tokens(gateway: Api, token: str) -> None:
    refresh = await gateway.refresh(token)
    assert (refresh.status, refresh.code) == (401, "invalid_token")
    if "\x00" not in token:
        me = await gateway.call("GET", "/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert (me.status, me.code) == (401, "invalid_token")


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        pytest.param(b"[" * 100_000, "application/json", 413, id="deep-nesting-over-16k"),
        pytest.param(b"[" * 10_000, "application/json", 400, id="deep-nesting"),
        pytest.param(
            b'{"email": "\\ud800", "password": "x"}', "application/json", 400, id="lone-surrogate"
        ),
        pytest.param(
            b'{"email": 1e999999, "password": "x"}', "application/json", 400, id="huge-number"
        ),
        pytest.param(b"\x1f\x8b\x08\x00" + b"\x00" * 20, "application/json", 400, id="gzip-bytes"),
        pytest.param(b"email=a&password=b", "application/x-www-form-urlencoded", 415, id="form"),
        pytest.param(
            b"--b\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=b", 415, id="multipart"
        ),
        pytest.param(b"<x/>", "application/xml", 415, id="xml"),
        pytest.param(b"{}", "application/json-patch+json", 400, id="json-suffix"),
    ],
)
async def test_odd_bodies_are_4xx(
    gateway: Api, body: bytes, content_type: str, status: int
) -> None:
    for path in ("/auth/signup", "/auth/login", "/auth/refresh"):
        reply = await gateway.call("POST", path, data=body, headers={"Content-Type": content_type})
        assert reply.status == status, (path, reply.body)
        assert reply.json()["error"]["code"]


async def test_duplicate_keys_do_not_smuggle_a_second_value(gateway: Api) -> None:
    email = f"{local()}@example.com"
    body = b'{"email": "%s", "password": "short", "password": "%s"}' % (
        email.encode(),
        PASSWORD.encode(),
    )
    reply = await gateway.call(
        "POST", "/auth/signup", data=body, headers={"Content-Type": "application/json"}
    )
    assert reply.status in (201, 400, 422)
    if reply.status == 201:
        # Whichever value won, it is the one that was hashed: exactly one password works.
        logins = [await gateway.login(email, p) for p in ("short", PASSWORD)]
        assert sorted(r.status for r in logins) == [200, 401]


async def test_oversized_bodies_are_413_at_the_service_or_the_balancer(
    gateway: Api, stack: Topology
) -> None:
    just_over = orjson.dumps({"email": "a@example.com", "password": "x" * 17_000})
    reply = await gateway.call(
        "POST", "/auth/signup", data=just_over, headers={"Content-Type": "application/json"}
    )
    assert (reply.status, reply.code) == (413, "payload_too_large")
    # Beyond the balancer's own limit (10 MiB) it answers before any backend reads it.
    head = (
        b"POST /auth/signup HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Content-Length: 20000000\r\n\r\n"
    )
    received, closed = await raw_exchange(balancer_port(stack), head)
    assert received.startswith(b"HTTP/1.1 413"), received[:80]
    assert closed
    # A chunked body over the service limit streams through and is refused by the service.
    chunk = b"x" * 17_000
    chunked = (
        b"POST /auth/signup HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + b"%x\r\n" % len(chunk)
        + chunk
        + b"\r\n0\r\n\r\n"
    )
    received, _ = await raw_exchange(balancer_port(stack), chunked)
    assert received.startswith(b"HTTP/1.1 413"), received[:80]
