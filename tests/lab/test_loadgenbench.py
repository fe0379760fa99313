"""bench-loadgen's targets: the static auth endpoint answers the scenario's four requests."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request

import pytest

from lab.harness import procs

#: path → (status, a field the load generator reads from the answer)
STEPS = {
    "/auth/signup": (201, "id"),
    "/auth/login": (200, "refresh_token"),
    "/auth/refresh": (200, "refresh_token"),
    "/auth/logout": (204, None),
}


def _post(url: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=5) as answer:
        return answer.status, answer.read()


@pytest.mark.e2e
def test_the_fallback_server_answers_every_step_under_uvloop() -> None:
    port = procs.free_port()
    command = [sys.executable, "-m", "lab", "bench-loadgen", "--serve", str(port)]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert procs.wait_until(lambda: procs.port_open("127.0.0.1", port), timeout=10.0)
        for path, (status, field) in STEPS.items():
            got, body = _post(f"http://127.0.0.1:{port}{path}")
            assert got == status, path
            if field is None:
                assert body == b""
            else:
                assert field in json.loads(body), body
        # Keep-alive and a second connection after the first: the server stays up.
        assert _post(f"http://127.0.0.1:{port}/auth/login")[0] == 200
    finally:
        server.terminate()
        _, errors = server.communicate(timeout=10)
    assert b"Traceback" not in errors, errors.decode()[-2000:]
