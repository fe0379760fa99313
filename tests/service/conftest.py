"""Fixtures for the service tests: real service processes on loopback, and a JSON client.

Every instance is a real ``python -m service`` process on a free loopback port, talking to
the Postgres and Redis named by the session fixtures ``database_url`` and ``redis_url``.
Redis keys live under a prefix unique to the test session, so throttling counters and
sessions never leak between runs; users have unique emails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from lab.harness.procs import free_port
from service.keys import generate_private_key_pem, write_pepper

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "long enough and unusual"


def run_service(
    *args: str, env: dict[str, str] | None = None, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    """``python -m service ARGS`` to its end, with ``env`` over this environment less its
    ``AUTH_*`` variables."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
    return subprocess.run(
        [sys.executable, "-m", "service", *args],
        env={**base, **(env or {})},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def http_status(url: str, timeout: float = 1.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


@dataclass
class ServiceProcess:
    """A running ``python -m service``; ``log()`` returns what it has written so far."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    #: The metrics listener (AUTH_METRICS_LISTEN): /metrics and health details.
    metrics_url: str = ""

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_service(
    env: Mapping[str, str], log_path: Path, *, args: tuple[str, ...] = ()
) -> ServiceProcess:
    port = free_port()
    env = dict(env)
    if "AUTH_METRICS_LISTEN" not in env:
        env["AUTH_METRICS_LISTEN"] = f"127.0.0.1:{free_port()}"
    argv = [sys.executable, "-m", "service", "--host", "127.0.0.1", "--port", str(port), *args]
    with log_path.open("wb") as log:
        process = subprocess.Popen(argv, env=env, cwd=REPO, stdout=log, stderr=log)
    metrics_url = f"http://{env['AUTH_METRICS_LISTEN']}" if env["AUTH_METRICS_LISTEN"] else ""
    service = ServiceProcess(f"http://127.0.0.1:{port}", process, log_path, metrics_url)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited at startup:\n{service.log()}")
        if http_status(f"{service.url}/health/ready") == 200:
            return service
        time.sleep(0.05)
    service.stop()
    raise RuntimeError(f"the service did not become ready:\n{service.log()}")


@pytest.fixture(scope="session")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "jwt.pem"
    path.write_bytes(generate_private_key_pem())
    return path


@pytest.fixture(scope="session")
def pepper_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pepper") / "token-pepper"
    write_pepper(path)
    return path


@pytest.fixture(scope="session")
def redis_prefix() -> str:
    return f"authscale-test-{uuid.uuid4().hex[:12]}:"


@pytest.fixture(scope="session")
def service_env(
    database_url: str, redis_url: str, key_file: Path, pepper_file: Path, redis_prefix: str
) -> Callable[..., dict[str, str]]:
    """Environment for an instance; keyword arguments add or override variables."""

    def build(**overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
        env.update(
            DATABASE_URL=database_url,
            REDIS_URL=redis_url,
            AUTH_JWT_PRIVATE_KEY_FILE=str(key_file),
            AUTH_TOKEN_PEPPER_FILE=str(pepper_file),
            # Every test signs its users up from loopback; the signup limit has its own test.
            AUTH_SIGNUP_MAX_PER_ADDRESS="1000000",
            AUTH_BCRYPT_ROUNDS="4",
            AUTH_BCRYPT_THREADS="2",
            AUTH_REDIS_PREFIX=redis_prefix,
            AUTH_LOG_FORMAT="json",
            AUTH_ACCESS_LOG="1",
        )
        env.update(overrides)
        return env

    return build


@pytest.fixture(scope="session")
def spawn(
    tmp_path_factory: pytest.TempPathFactory, service_env: Callable[..., dict[str, str]]
) -> Iterator[Callable[..., ServiceProcess]]:
    """Start instances (stopped at the end of the session): ``spawn("name", **env)``."""
    started: list[ServiceProcess] = []
    folder = tmp_path_factory.mktemp("services")

    def start(name: str, **overrides: str) -> ServiceProcess:
        service = start_service(service_env(**overrides), folder / f"{name}.log")
        started.append(service)
        return service

    yield start
    for service in started:
        service.stop()


@pytest.fixture(scope="session")
def service(spawn: Callable[..., ServiceProcess]) -> ServiceProcess:
    """Instance A."""
    return spawn("a", AUTH_INSTANCE_ID="a")


@pytest.fixture(scope="session")
def service_b(spawn: Callable[..., ServiceProcess]) -> ServiceProcess:
    """Instance B: same key, same Redis and Postgres as A."""
    return spawn("b", AUTH_INSTANCE_ID="b")


@dataclass
class Reply:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)

    @property
    def code(self) -> str:
        code: str = self.json()["error"]["code"]
        return code


@dataclass
class User:
    email: str
    password: str
    id: str = ""
    tokens: dict[str, Any] = field(default_factory=dict)

    @property
    def access(self) -> str:
        token: str = self.tokens["access_token"]
        return token

    @property
    def refresh(self) -> str:
        token: str = self.tokens["refresh_token"]
        return token


def unique_email(domain: str = "example.com") -> str:
    return f"t-{uuid.uuid4().hex}@{domain}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Api:
    """A JSON client for one instance."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        *,
        default_headers: Mapping[str, str] | None = None,
    ) -> None:
        self.session = session
        self.base_url = base_url
        self.default_headers = dict(default_headers or {})

    async def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        sent_headers = {**self.default_headers, **(headers or {})}
        if json is not None:
            data = orjson.dumps(json)
            sent_headers.setdefault("Content-Type", "application/json")
        async with self.session.request(
            method, self.base_url + path, data=data, headers=sent_headers
        ) as response:
            body = await response.read()
            return Reply(response.status, dict(response.headers), body)

    async def signup(self, email: str, password: str = PASSWORD) -> Reply:
        return await self.call("POST", "/auth/signup", json={"email": email, "password": password})

    async def login(self, email: str, password: str = PASSWORD, **headers: str) -> Reply:
        return await self.call(
            "POST", "/auth/login", json={"email": email, "password": password}, headers=headers
        )

    async def refresh(self, refresh_token: Any) -> Reply:
        return await self.call("POST", "/auth/refresh", json={"refresh_token": refresh_token})

    async def me(self, access_token: str) -> Reply:
        return await self.call("GET", "/auth/me", headers=bearer(access_token))

    async def logout(self, access_token: str, **body: Any) -> Reply:
        return await self.call(
            "POST", "/auth/logout", json=body or None, headers=bearer(access_token)
        )

    async def new_user(self, *, login: bool = True) -> User:
        user = User(email=unique_email(), password=PASSWORD)
        reply = await self.signup(user.email, user.password)
        assert reply.status == 201, reply.body
        user.id = reply.json()["id"]
        if login:
            reply = await self.login(user.email, user.password)
            assert reply.status == 200, reply.body
            user.tokens = reply.json()
        return user


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def api(http: aiohttp.ClientSession, service: ServiceProcess) -> Api:
    return Api(http, service.url)


@pytest.fixture
def api_b(http: aiohttp.ClientSession, service_b: ServiceProcess) -> Api:
    return Api(http, service_b.url)
