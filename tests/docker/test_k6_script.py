"""docker/k6/auth-test.js against a real service behind a real balancer.

k6 itself is not installed here, so the script runs under node with stand-ins for k6's
modules (tests/docker/k6_shim): the same synchronous calls, made for real. That is enough
to know that the scenario's requests and checks match the service's API, which is what a
k6 comparison run depends on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.docker.deployment import Deployment, needs_programs

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "docker" / "k6" / "auth-test.js"
SHIM = Path(__file__).resolve().parent / "k6_shim"
ITERATIONS = 2
CHECKS_PER_ITERATION = [
    "signup: 201",
    "signup: returns the user",
    "login: 200",
    "login: token pair",
    "refresh: 200",
    "refresh: token pair",
    "refresh: rotated",
    "logout: 204",
]

pytestmark = [pytest.mark.integration, needs_programs]


def run_script(target: str, tmp_path: Path, iterations: int = ITERATIONS) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed on this machine; cannot run the k6 script")
    source = SCRIPT.read_text()
    for module, shim in (("k6/http", "http"), ("k6/execution", "execution"), ("k6", "k6")):
        quoted = f"from '{module}';"
        assert quoted in source, f"the script no longer imports {module} as expected"
        source = source.replace(quoted, f"from '{(SHIM / f'{shim}.mjs').as_uri()}';")
    script = tmp_path / "auth-test.mjs"
    script.write_text(source)
    env = {k: v for k, v in os.environ.items() if k not in ("VUS", "DURATION")}
    env.update(TARGET=target, K6_SHIM_PYTHON=sys.executable, K6_SHIM_CLIENT=str(SHIM / "client.py"))
    result = subprocess.run(
        [node, str(SHIM / "runner.mjs"), script.as_uri(), str(iterations)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_k6_scenario_passes_its_checks_through_the_balancer(
    deployment: Deployment, tmp_path: Path
) -> None:
    report = run_script(deployment.balancer_url + "/", tmp_path)

    failed = [check["name"] for check in report["checks"] if not check["ok"]]
    assert not failed, f"k6 checks failed against the service: {failed}"
    assert [check["name"] for check in report["checks"]] == CHECKS_PER_ITERATION * ITERATIONS

    requests = report["requests"]
    assert requests[0]["url"] == f"{deployment.balancer_url}/health/live"  # setup()
    steps = [request["tags"]["step"] for request in requests[1:]]
    assert steps == ["signup", "login", "refresh", "logout"] * ITERATIONS
    assert [request["status"] for request in requests[1:5]] == [201, 200, 200, 204]


def test_k6_options_are_the_original_experiment(deployment: Deployment, tmp_path: Path) -> None:
    options = run_script(deployment.balancer_url, tmp_path, iterations=0)["options"]
    scenario = options["scenarios"]["auth"]
    assert (scenario["executor"], scenario["vus"], scenario["duration"]) == (
        "constant-vus",
        200,
        "10s",
    )
    assert options["thresholds"]["http_req_failed"] == ["rate==0"]
    assert options["thresholds"]["checks"] == ["rate==1"]
