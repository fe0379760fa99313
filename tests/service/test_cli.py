"""``python -m service`` as the lab runs it: refusals, keygen, dev mode, workers, shutdown."""

from __future__ import annotations

import asyncio
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from service.keys import load_private_key
from tests.service.conftest import (
    REPO,
    Api,
    ServiceProcess,
    run_service,
    start_service,
    unique_email,
)


def test_without_key_material_it_refuses_to_start() -> None:
    result = run_service("--port", "1")
    assert result.returncode == 2
    assert "AUTH_JWT_PRIVATE_KEY_FILE" in result.stderr
    assert "keygen" in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_setting_is_named() -> None:
    result = run_service("--dev", env={"AUTH_BCRYPT_ROUNDS": "many"})
    assert result.returncode == 2
    assert "AUTH_BCRYPT_ROUNDS" in result.stderr


def test_trusted_proxy_addresses_without_trusted_hops_are_refused() -> None:
    result = run_service("--dev", env={"AUTH_TRUSTED_PROXY_ADDRS": "10.0.0.0/8"})
    assert result.returncode == 2
    assert "AUTH_TRUSTED_PROXY_ADDRS" in result.stderr
    assert "AUTH_TRUSTED_PROXIES" in result.stderr
    assert "Traceback" not in result.stderr


def test_keygen_writes_a_private_pem_only_its_owner_reads(tmp_path: Path) -> None:
    path = tmp_path / "jwt.pem"
    result = run_service("keygen", str(path))
    assert result.returncode == 0, result.stderr
    assert load_private_key(path.read_bytes()) is not None
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_keygen_replaces_a_symlink_instead_of_writing_through_it(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.txt"
    target.write_bytes(b"not yours to overwrite")
    link = tmp_path / "jwt.pem"
    link.symlink_to(target)
    result = run_service("keygen", str(link))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == b"not yours to overwrite"
    assert not link.is_symlink()
    assert load_private_key(link.read_bytes()) is not None
    assert stat.S_IMODE(link.stat().st_mode) == 0o600


def test_keygen_over_a_loose_file_leaves_a_0600_file(tmp_path: Path) -> None:
    path = tmp_path / "jwt.pem"
    path.write_bytes(b"old")
    path.chmod(0o644)
    result = run_service("keygen", str(path))
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_private_key(path.read_bytes()) is not None
    assert [entry.name for entry in tmp_path.iterdir()] == ["jwt.pem"]  # no temporary left


def test_pepper_writes_256_secret_bits_only_its_owner_reads(tmp_path: Path) -> None:
    path = tmp_path / "pepper"
    result = run_service("pepper", str(path))
    assert result.returncode == 0, result.stderr
    assert len(path.read_bytes().strip()) == 64  # hex
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_help_lists_the_options() -> None:
    result = run_service("--help")
    assert result.returncode == 0
    for option in (
        "--host",
        "--port",
        "--workers",
        "--dev",
        "--metrics-listen",
        "keygen",
        "pepper",
    ):
        assert option in result.stdout


@pytest.mark.integration
def test_unreachable_postgres_fails_startup_with_a_message(
    service_env: Callable[..., dict[str, str]],
) -> None:
    env = service_env(
        DATABASE_URL="postgresql://postgres@127.0.0.1:1/none", AUTH_STARTUP_TIMEOUT="0.5"
    )
    result = subprocess.run(
        [sys.executable, "-m", "service", "--port", "0"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 1
    assert "PostgreSQL did not answer" in result.stderr


@pytest.mark.integration
@pytest.mark.slow
async def test_dev_mode_with_two_workers_shares_one_ephemeral_key(
    service_env: Callable[..., dict[str, str]], tmp_path: Path
) -> None:
    env = service_env()
    del env["AUTH_JWT_PRIVATE_KEY_FILE"]
    service = await asyncio.to_thread(
        start_service, env, tmp_path / "dev.log", args=("--dev", "--workers", "2")
    )
    try:
        # A SIGTERM while Sanic's manager still waits for the workers' start-up
        # acknowledgements wedges it, so let both workers finish starting first.
        for _ in range(200):
            if service.log().count("serving on") == 2:
                break
            await asyncio.sleep(0.05)
        assert service.log().count("serving on") == 2
        await asyncio.sleep(0.5)
        assert "ephemeral" in service.log()
        kids = set()
        statuses = []
        async with aiohttp.ClientSession() as first:
            user = await Api(first, service.url).new_user()
        for _ in range(12):
            # A fresh connection each time, so both workers get a share.
            async with aiohttp.ClientSession() as fresh:
                api = Api(fresh, service.url)
                statuses.append((await api.me(user.access)).status)
                jwks = (await api.call("GET", "/.well-known/jwks.json")).json()
                kids.add(jwks["keys"][0]["kid"])
        assert statuses == [200] * 12
        assert len(kids) == 1
    finally:
        await asyncio.to_thread(service.stop)


@pytest.mark.integration
async def test_sigterm_lets_an_in_flight_request_finish(
    spawn: Callable[..., ServiceProcess], http: aiohttp.ClientSession, database_url: str
) -> None:
    service = await asyncio.to_thread(spawn, "slow-hash", AUTH_BCRYPT_ROUNDS="12")
    api = Api(http, service.url)
    email = unique_email()
    signup = asyncio.create_task(api.signup(email))
    await asyncio.sleep(0.08)  # the ~250 ms hash is running
    service.process.terminate()
    reply = await signup
    assert reply.status == 201
    assert await asyncio.to_thread(service.process.wait, 15) == 0
    # A cost-12 account would make every instance started later spend cost 12 on unknown
    # emails (the dummy matches the slowest account), slowing the rest of the suite.
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute("DELETE FROM users WHERE email = $1", email)
    finally:
        await connection.close()


@pytest.mark.integration
async def test_sigterm_with_a_shutdown_delay_goes_unready_and_keeps_serving(
    spawn: Callable[..., ServiceProcess], http: aiohttp.ClientSession
) -> None:
    service = await asyncio.to_thread(spawn, "drain", AUTH_SHUTDOWN_DELAY="1.5")
    api = Api(http, service.url)
    assert (await api.call("GET", "/health/ready")).status == 200
    loop = asyncio.get_running_loop()
    service.process.terminate()
    stopped_at = loop.time()
    await asyncio.sleep(0.3)
    # Still serving, but a balancer's readiness check now takes it out of rotation, and
    # each response closes its connection instead of leaving it idle to be closed later.
    ready = await api.call("GET", "/health/ready")
    assert ready.status == 503
    assert ready.json()["status"] == "stopping"
    user = await api.new_user()
    me = await api.me(user.access)
    assert me.status == 200
    assert await asyncio.to_thread(service.process.wait, 15) == 0
    assert loop.time() - stopped_at >= 1.4
    assert "not ready, serving 1.5 s more" in service.log()
