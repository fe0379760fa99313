"""The API contract, end to end against a real instance (Postgres + Redis behind it)."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from tests.service.conftest import PASSWORD, Api, ServiceProcess, bearer, unique_email

pytestmark = pytest.mark.integration


async def test_whole_flow_signup_login_me_refresh_logout(api: Api) -> None:
    email = unique_email()
    signup = await api.signup(email)
    assert signup.status == 201
    assert signup.headers["Content-Type"] == "application/json"
    user = signup.json()
    assert set(user) == {"id", "email"}
    assert user["email"] == email

    login = await api.login(email)
    assert login.status == 200
    tokens = login.json()
    assert set(tokens) == {
        "access_token",
        "refresh_token",
        "token_type",
        "expires_in",
        "device_token",
    }
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == 900
    assert login.headers["Cache-Control"] == "no-store"

    me = await api.me(tokens["access_token"])
    assert me.status == 200
    assert me.json() == {"id": user["id"], "email": email}

    refreshed = await api.refresh(tokens["refresh_token"])
    assert refreshed.status == 200
    rotated = refreshed.json()
    assert set(rotated) == set(tokens)
    assert rotated["device_token"] == tokens["device_token"]
    assert rotated["refresh_token"] != tokens["refresh_token"]
    assert rotated["access_token"] != tokens["access_token"]
    assert (await api.me(rotated["access_token"])).json()["id"] == user["id"]

    logout = await api.logout(rotated["access_token"])
    assert logout.status == 204
    assert logout.body == b""
    after = await api.me(rotated["access_token"])
    assert (after.status, after.code) == (401, "invalid_token")
    assert (await api.refresh(rotated["refresh_token"])).status == 401


async def test_email_is_compared_in_nfkc_casefold_form(api: Api) -> None:
    local = unique_email().split("@")[0]
    assert (await api.signup(f"{local}@Example.com")).status == 201
    taken = await api.signup(f"{local.upper()}@EXAMPLE.COM")
    assert (taken.status, taken.code) == (409, "email_taken")
    # A fullwidth "Ａ" is NFKC-equal to "A", which casefolds to "a".
    fullwidth = await api.login(f"{local}@ｅxample.com")
    assert fullwidth.status == 200


async def test_signup_twice_is_email_taken(api: Api) -> None:
    email = unique_email()
    assert (await api.signup(email)).status == 201
    again = await api.signup(email, "another fine password")
    assert (again.status, again.code) == (409, "email_taken")


@pytest.mark.parametrize(
    "email",
    ["not-an-email", "a@b", "two@@example.com", "nul\x00byte@example.com", "", "x" * 300],
)
async def test_signup_invalid_email(api: Api, email: str) -> None:
    reply = await api.signup(email)
    assert (reply.status, reply.code) == (422, "invalid_email")


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short", "weak_password"),
        ("1234567", "weak_password"),
        ("password123", "weak_password"),
        ("iloveyou", "weak_password"),
        ("é" * 37, "password_too_long"),  # 37 characters but 74 UTF-8 bytes
        ("x" * 73, "password_too_long"),
    ],
)
async def test_signup_password_policy(api: Api, password: str, code: str) -> None:
    reply = await api.signup(unique_email(), password)
    assert (reply.status, reply.code) == (422, code)


async def test_password_equal_to_email_is_weak(api: Api) -> None:
    email = unique_email()
    reply = await api.signup(email, email.upper())
    assert (reply.status, reply.code) == (422, "weak_password")


async def test_password_of_exactly_72_bytes_is_verified_whole(api: Api) -> None:
    email = unique_email()
    password = "é" * 36  # 72 UTF-8 bytes
    assert (await api.signup(email, password)).status == 201
    assert (await api.login(email, password)).status == 200
    wrong_last = await api.login(email, "é" * 35 + "e")
    assert wrong_last.status == 401


async def test_password_with_nul_byte_is_kept_whole(api: Api) -> None:
    email = unique_email()
    password = "before\x00after the nul"
    assert (await api.signup(email, password)).status == 201
    assert (await api.login(email, password)).status == 200
    assert (await api.login(email, "before\x00something else")).status == 401


async def test_login_unknown_email_and_wrong_password_look_the_same(api: Api) -> None:
    user = await api.new_user(login=False)
    wrong = await api.login(user.email, "not the password at all")
    unknown = await api.login(unique_email(), "not the password at all")
    malformed = await api.login("no-at-sign", "not the password at all")
    for reply in (wrong, unknown, malformed):
        assert reply.status == 401
        assert reply.body == wrong.body
        assert reply.code == "invalid_credentials"


async def test_refresh_with_unknown_token_is_invalid_token(api: Api) -> None:
    for token in ["", "garbage", "A" * 22 + "." + "B" * 43, "x\x00y"]:
        reply = await api.refresh(token)
        assert (reply.status, reply.code) == (401, "invalid_token"), token


async def test_reuse_of_rotated_refresh_token_revokes_the_session(api: Api) -> None:
    user = await api.new_user()
    first = await api.refresh(user.refresh)
    assert first.status == 200
    newest = first.json()

    reused = await api.refresh(user.refresh)
    assert (reused.status, reused.code) == (401, "token_reused")

    # The whole session is dead: its newest refresh token and its access tokens.
    assert (await api.refresh(newest["refresh_token"])).status == 401
    assert (await api.me(newest["access_token"])).status == 401
    assert (await api.me(user.access)).status == 401


async def test_twenty_concurrent_refreshes_exactly_one_wins(api: Api) -> None:
    user = await api.new_user()
    replies = await asyncio.gather(*(api.refresh(user.refresh) for _ in range(20)))
    statuses = sorted(reply.status for reply in replies)
    assert statuses == [200] + [401] * 19
    losers = {reply.code for reply in replies if reply.status == 401}
    assert losers <= {"token_reused", "invalid_token"}
    assert "token_reused" in losers
    winner = next(reply.json() for reply in replies if reply.status == 200)
    # A rotated token came back, so the winner's session is revoked as well.
    assert (await api.refresh(winner["refresh_token"])).status == 401


async def test_logout_requires_a_valid_access_token(api: Api) -> None:
    missing = await api.call("POST", "/auth/logout")
    assert (missing.status, missing.code) == (401, "invalid_token")
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    basic = await api.call("POST", "/auth/logout", headers={"Authorization": "Basic eDp5"})
    assert (basic.status, basic.code) == (401, "invalid_token")
    user = await api.new_user()
    assert (await api.logout(user.access)).status == 204
    twice = await api.logout(user.access)
    assert (twice.status, twice.code) == (401, "invalid_token")


async def test_logout_with_refresh_token_of_another_session_revokes_it(api: Api) -> None:
    user = await api.new_user()
    other = (await api.login(user.email)).json()
    assert (await api.logout(user.access, refresh_token=other["refresh_token"])).status == 204
    assert (await api.refresh(other["refresh_token"])).status == 401
    assert (await api.me(other["access_token"])).status == 401


async def test_logout_body_must_be_a_json_object_when_present(api: Api) -> None:
    user = await api.new_user()
    not_json = await api.call(
        "POST",
        "/auth/logout",
        data=b"{",
        headers={**bearer(user.access), "Content-Type": "application/json"},
    )
    assert (not_json.status, not_json.code) == (400, "invalid_json")
    for wrong in (42, None, ["x"]):
        wrong_type = await api.logout(user.access, refresh_token=wrong)
        assert (wrong_type.status, wrong_type.code) == (400, "invalid_request")
    assert (await api.me(user.access)).status == 200


async def test_me_without_or_with_a_bad_authorization_header(api: Api) -> None:
    for headers in [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer not.a.jwt"}]:
        reply = await api.call("GET", "/auth/me", headers=headers)
        assert (reply.status, reply.code) == (401, "invalid_token")


async def test_refresh_token_is_not_an_access_token(api: Api) -> None:
    user = await api.new_user()
    reply = await api.me(user.refresh)
    assert (reply.status, reply.code) == (401, "invalid_token")
    as_refresh = await api.refresh(user.access)
    assert (as_refresh.status, as_refresh.code) == (401, "invalid_token")


ROUTES = [("POST", "/auth/signup"), ("POST", "/auth/login"), ("POST", "/auth/refresh")]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", b'"text"', b"42", b"null", b"", b'{"a": "\x00"}', b"\xff\xfe{}", b"{}}"],
)
async def test_malformed_or_non_object_json_is_400(
    api: Api, method: str, path: str, body: bytes
) -> None:
    reply = await api.call(method, path, data=body, headers={"Content-Type": "application/json"})
    assert (reply.status, reply.code) == (400, "invalid_json")


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
async def test_wrong_content_type_is_415(
    api: Api, method: str, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    reply = await api.call(method, path, data=b'{"email": "a@example.com"}', headers=headers)
    assert (reply.status, reply.code) == (415, "unsupported_media_type")


async def test_json_content_type_with_charset_is_accepted(api: Api) -> None:
    body = orjson.dumps({"email": unique_email(), "password": PASSWORD})
    reply = await api.call(
        "POST",
        "/auth/signup",
        data=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert reply.status == 201


@pytest.mark.parametrize(("method", "path"), [*ROUTES, ("POST", "/auth/logout")])
async def test_body_over_16_kib_is_413(api: Api, method: str, path: str) -> None:
    body = orjson.dumps({"email": "a@example.com", "password": "x" * (16 * 1024)})
    reply = await api.call(method, path, data=body, headers={"Content-Type": "application/json"})
    assert (reply.status, reply.code) == (413, "payload_too_large")


@pytest.mark.parametrize(
    "payload",
    [
        {"email": 1, "password": PASSWORD},
        {"email": None, "password": PASSWORD},
        {"email": ["a@example.com"], "password": PASSWORD},
        {"email": "a@example.com", "password": 12345678},
        {"email": "a@example.com"},
        {},
    ],
)
@pytest.mark.parametrize("path", ["/auth/signup", "/auth/login"])
async def test_fields_of_the_wrong_type_are_400(
    api: Api, path: str, payload: dict[str, object]
) -> None:
    reply = await api.call("POST", path, json=payload)
    assert (reply.status, reply.code) == (400, "invalid_request")


@pytest.mark.parametrize("token", [None, 42, {"t": 1}, ["x"], True])
async def test_refresh_token_of_the_wrong_type_is_400(api: Api, token: object) -> None:
    reply = await api.call("POST", "/auth/refresh", json={"refresh_token": token})
    assert (reply.status, reply.code) == (400, "invalid_request")


async def test_unknown_route_and_wrong_method_are_json(api: Api) -> None:
    missing = await api.call("GET", "/no/such/route")
    assert (missing.status, missing.code) == (404, "not_found")
    nul_path = await api.call("GET", "/auth/%00")
    assert nul_path.status == 404
    wrong_method = await api.call("GET", "/auth/login")
    assert (wrong_method.status, wrong_method.code) == (405, "method_not_allowed")
    assert "POST" in wrong_method.headers["Allow"]
    delete = await api.call("DELETE", "/auth/me")
    assert (delete.status, delete.code) == (405, "method_not_allowed")


async def test_health_jwks_openapi_and_metrics(
    api: Api, http: aiohttp.ClientSession, service: ServiceProcess
) -> None:
    assert (await api.call("GET", "/health/live")).json() == {"status": "ok"}
    ready = await api.call("GET", "/health/ready")
    assert ready.status == 200
    assert ready.json() == {"status": "ok"}

    jwks = (await api.call("GET", "/.well-known/jwks.json")).json()
    assert [key["kty"] for key in jwks["keys"]] == ["OKP"]
    assert all(key["kid"] and key["alg"] == "EdDSA" for key in jwks["keys"])

    spec = (await api.call("GET", "/openapi.json")).json()
    assert spec["openapi"].startswith("3.")
    assert "/metrics" not in spec["paths"]  # served on the metrics listener only
    assert "device_token" in spec["components"]["schemas"]["Tokens"]["required"]
    assert {"/auth/signup", "/auth/login", "/auth/refresh", "/auth/logout", "/auth/me"} <= set(
        spec["paths"]
    )

    await api.new_user()
    operator = Api(http, service.metrics_url)
    metrics = (await operator.call("GET", "/metrics")).body.decode()
    assert 'authscale_http_requests_total{method="POST",route="/auth/login",status="200"}' in (
        metrics
    )
    assert 'authscale_logins_total{result="ok"}' in metrics
    assert 'authscale_bcrypt_duration_seconds_count{operation="hash"}' in metrics
    assert "authscale_bcrypt_in_flight 0.0" in metrics
    assert "authscale_refresh_reuse_total" in metrics


async def test_access_log_is_one_json_line_per_request(api: Api, service: ServiceProcess) -> None:
    request_id = unique_email().split("@")[0]
    reply = await api.call("GET", "/health/live", headers={"X-Request-ID": request_id})
    assert reply.status == 200
    await asyncio.sleep(0.2)
    lines = [orjson.loads(line) for line in service.log().splitlines() if request_id in line]
    assert len(lines) == 1
    entry = lines[0]
    assert entry["route"] == "/health/live"
    assert entry["status"] == 200
    assert entry["instance"] == "a"
    assert entry["duration_ms"] >= 0
    assert {"time", "request_id", "method"} <= set(entry)


async def test_logs_never_contain_passwords_or_tokens(api: Api, service: ServiceProcess) -> None:
    user = await api.new_user()
    await api.login(user.email, "a wrong password here")
    await api.refresh(user.refresh)
    await asyncio.sleep(0.2)
    log = service.log()
    assert "login_ok" in log
    for secret in (user.password, "a wrong password here", user.refresh, user.access):
        assert secret not in log


async def raw_exchange(service: ServiceProcess, request: bytes) -> tuple[int, bytes]:
    host, port = service.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(request)
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (
            b"GET /auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \xff\xfe\x00\r\n",
            401,
            "invalid_token",
        ),
        (
            b"GET /auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"a" * 20000 + b"\r\n",
            431,
            "header_too_large",
        ),
        (b"NOT HTTP AT ALL\r\n", 400, "invalid_request"),
        (
            b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
            400,
            "invalid_request",
        ),
    ],
)
async def test_malformed_http_gets_a_json_4xx(
    service: ServiceProcess, request_bytes: bytes, status: int, code: str
) -> None:
    got_status, body = await raw_exchange(service, request_bytes + b"Connection: close\r\n\r\n")
    assert got_status == status
    error = orjson.loads(body)["error"]
    assert error["code"] == code


async def test_with_json_logs_every_line_is_a_json_object(
    api: Api, service: ServiceProcess
) -> None:
    await api.new_user()
    await api.call("GET", "/no/such/route")
    await asyncio.sleep(0.2)
    lines = service.log().splitlines()
    assert len(lines) >= 4
    parsed = [orjson.loads(line) for line in lines]
    assert {"sanic.server", "authscale.service", "authscale.access", "authscale.auth"} <= {
        entry["logger"] for entry in parsed
    }
    assert all(entry["instance"] == "a" and entry["time"].endswith("Z") for entry in parsed)
