"""The three helpers the image installs, run as the image runs them (no Docker needed)."""

from __future__ import annotations

import http.server
import os
import shutil
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / "docker" / "bin"


def run(argv: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, env=env, check=False)


# ---- entrypoint --------------------------------------------------------------------------


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    """A directory whose `python` prints its arguments and two variables, one per line."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "python"
    script.write_text(
        '#!/bin/sh\nfor a in "$@"; do echo "arg=$a"; done\n'
        'echo "DATABASE_URL=${DATABASE_URL:-}"\necho "AUTH_INSTANCE_ID=${AUTH_INSTANCE_ID:-}"\n'
        'echo "DATABASE_URL_FILE=${DATABASE_URL_FILE:-unset}"\n'
    )
    script.chmod(0o755)
    return bindir


def entrypoint(args: list[str], bindir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {"PATH": f"{bindir}:/usr/bin:/bin"}
    return run(["/bin/sh", str(BIN / "entrypoint.sh"), *args], env={**base, **env})


@pytest.mark.parametrize("program", ["service", "balancer", "loadgen", "lab"])
def test_entrypoint_runs_the_named_program_as_a_module(fake_python: Path, program: str) -> None:
    result = entrypoint([program, "--port", "8000", "two words"], fake_python)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:5] == ["arg=-m", f"arg={program}", "arg=--port", "arg=8000", "arg=two words"]


def test_entrypoint_runs_any_other_command_as_given(fake_python: Path) -> None:
    result = entrypoint(["echo", "hello"], fake_python)
    assert (result.returncode, result.stdout) == (0, "hello\n")


def test_entrypoint_without_arguments_explains_usage(fake_python: Path) -> None:
    result = entrypoint([], fake_python)
    assert result.returncode == 64
    assert "usage:" in result.stderr


def test_entrypoint_reads_secrets_from_files(fake_python: Path, tmp_path: Path) -> None:
    secret = tmp_path / "database_url"
    secret.write_text("postgresql://authscale:s3cret@postgres:5432/authscale\n")
    result = entrypoint(["service"], fake_python, DATABASE_URL_FILE=str(secret), HOSTNAME="c0ffee")
    assert result.returncode == 0, result.stderr
    # The trailing newline of the secret is gone; the _FILE variable is not passed on.
    assert "DATABASE_URL=postgresql://authscale:s3cret@postgres:5432/authscale" in result.stdout
    assert "DATABASE_URL_FILE=unset" in result.stdout
    assert "AUTH_INSTANCE_ID=c0ffee" in result.stdout


def test_entrypoint_keeps_a_given_instance_id(fake_python: Path) -> None:
    result = entrypoint(["service"], fake_python, HOSTNAME="c0ffee", AUTH_INSTANCE_ID="svc.2")
    assert "AUTH_INSTANCE_ID=svc.2" in result.stdout


def test_entrypoint_refuses_a_variable_and_its_file_together(
    fake_python: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "url"
    secret.write_text("postgresql://a@b/c")
    result = entrypoint(
        ["service"], fake_python, DATABASE_URL="postgresql://x@y/z", DATABASE_URL_FILE=str(secret)
    )
    assert result.returncode == 64
    assert "both DATABASE_URL and DATABASE_URL_FILE" in result.stderr


def test_entrypoint_names_a_missing_secret_file(fake_python: Path, tmp_path: Path) -> None:
    result = entrypoint(["balancer"], fake_python, BALANCER_ADMIN_TOKEN_FILE=str(tmp_path / "no"))
    assert result.returncode == 66
    assert "BALANCER_ADMIN_TOKEN_FILE" in result.stderr


# ---- healthcheck -------------------------------------------------------------------------


class _StatusHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        status = {"/health/live": 200, "/down": 503}.get(self.path, 404)
        body = b'{"status": "ok"}'
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StatusHandler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, str(BIN / "healthcheck.py"), *args])


def test_healthcheck_passes_on_2xx(http_port: int) -> None:
    result = healthcheck(f"http://127.0.0.1:{http_port}/health/live")
    assert result.returncode == 0, result.stdout
    assert result.stdout.startswith("healthy: ")


@pytest.mark.parametrize("path", ["/down", "/missing"])
def test_healthcheck_fails_on_other_statuses(http_port: int, path: str) -> None:
    result = healthcheck(f"http://127.0.0.1:{http_port}{path}")
    assert result.returncode == 1
    assert result.stdout.startswith("unhealthy: ")


def test_healthcheck_tcp_mode(http_port: int, unused_port: int) -> None:
    assert healthcheck(f"tcp://127.0.0.1:{http_port}").returncode == 0
    assert healthcheck(f"tcp://127.0.0.1:{unused_port}", "--timeout", "1").returncode == 1


def test_healthcheck_fails_when_nothing_listens(unused_port: int) -> None:
    result = healthcheck(f"http://127.0.0.1:{unused_port}/health/live", "--timeout", "1")
    assert result.returncode == 1
    assert "failed" in result.stdout


def test_healthcheck_ignores_proxy_settings(http_port: int, unused_port: int) -> None:
    env = {**os.environ, "http_proxy": f"http://127.0.0.1:{unused_port}", "no_proxy": ""}
    env["HTTP_PROXY"] = env["http_proxy"]
    result = run(
        [sys.executable, str(BIN / "healthcheck.py"), f"http://127.0.0.1:{http_port}/health/live"],
        env=env,
    )
    assert result.returncode == 0, result.stdout


# ---- keygen ------------------------------------------------------------------------------


def keygen(*args: str) -> subprocess.CompletedProcess[str]:
    # The image runs it with the project installed; here the repository root is the path.
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return run([sys.executable, str(BIN / "keygen.py"), *args], env=env)


def test_keygen_creates_an_ed25519_key_and_a_token(tmp_path: Path) -> None:
    key_path = tmp_path / "keys" / "jwt_ed25519.pem"
    token_path = tmp_path / "admin" / "balancer_admin_token"
    result = keygen(f"--jwt-key={key_path}", f"--admin-token={token_path}")
    assert result.returncode == 0, result.stderr

    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o400

    token = token_path.read_text()
    assert len(token) >= 40
    assert token.strip() == token
    assert stat.S_IMODE(token_path.stat().st_mode) == 0o444


def test_keygen_never_replaces_existing_files(tmp_path: Path) -> None:
    key_path = tmp_path / "jwt.pem"
    token_path = tmp_path / "token"
    assert keygen(f"--jwt-key={key_path}", f"--admin-token={token_path}").returncode == 0
    key, token = key_path.read_bytes(), token_path.read_bytes()

    again = keygen(f"--jwt-key={key_path}", f"--admin-token={token_path}")
    assert again.returncode == 0, again.stderr
    assert "kept existing" in again.stdout
    assert (key_path.read_bytes(), token_path.read_bytes()) == (key, token)


def test_keygen_writes_a_pepper_the_service_accepts(tmp_path: Path) -> None:
    config = pytest.importorskip("service.environment")
    pepper_path = tmp_path / "keys" / "token_pepper"
    result = keygen(f"--pepper={pepper_path}")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(pepper_path.stat().st_mode) == 0o400
    pepper = pepper_path.read_bytes()
    settings = config.settings_from_env({"AUTH_TOKEN_PEPPER_FILE": str(pepper_path)})
    assert settings["token_pepper"] == pepper
    assert len(pepper) >= 32
    again = keygen(f"--pepper={pepper_path}")
    assert "kept existing" in again.stdout
    assert pepper_path.read_bytes() == pepper


def test_keygen_key_is_accepted_by_the_service(tmp_path: Path) -> None:
    keys = pytest.importorskip("service.keys")
    key_path = tmp_path / "jwt.pem"
    assert keygen(f"--jwt-key={key_path}").returncode == 0
    assert isinstance(keys.load_private_key(key_path.read_bytes()), Ed25519PrivateKey)


def test_keygen_needs_something_to_do() -> None:
    result = keygen()
    assert result.returncode == 2
    assert "nothing to do" in result.stderr


def test_the_documented_openssl_key_is_accepted_by_the_service(tmp_path: Path) -> None:
    """docker/README.md creates the Swarm key with openssl; the service must load it."""
    keys = pytest.importorskip("service.keys")
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed on this machine")
    result = run([openssl, "genpkey", "-algorithm", "ed25519"])
    assert result.returncode == 0, result.stderr
    assert isinstance(keys.load_private_key(result.stdout.encode()), Ed25519PrivateKey)
    assert "openssl genpkey -algorithm ed25519" in (REPO / "docker" / "README.md").read_text()
