"""The chaos scenarios in short (few users, seconds long, bcrypt cost 4), each must PASS.

They run on PostgreSQL + Redis of their own (Redis with its append-only file), because
two of them stop and restart those servers. With DATABASE_URL/REDIS_URL given the
restart scenarios are skipped with their reason.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from lab.experiments import rolling
from lab.experiments.chaos import registry
from lab.experiments.chaos.figures import replays
from lab.experiments.chaos.kill import KILL
from lab.experiments.chaos.load import (
    REUSE,
    ChaosLoadConfig,
    ChaosRecord,
    RequestOutcome,
    backoff_s,
)
from lab.experiments.chaos.options import ChaosOptions
from lab.experiments.chaos.runner import run_scenario
from lab.experiments.chaos.verdict import ScenarioVerdict
from lab.harness import config, infra, procs
from lab.harness.adminclient import AdminError
from lab.harness.authclient import SIGNUP, error_code


@pytest.fixture(scope="module")
def server_thread() -> Iterator[ThreadPoolExecutor]:
    executor = ThreadPoolExecutor(max_workers=1)
    yield executor
    executor.shutdown()


@pytest.fixture(scope="module")
def chaos_infra(lab_state_root: Path, server_thread: ThreadPoolExecutor) -> Iterator[infra.Infra]:
    cfg = config.infra_config(state_dir=lab_state_root / "chaos-infra", redis_persistence=True)
    running = infra.start(cfg)
    try:
        yield running
    finally:
        running.stop()


def short_options(run_dir: Path, scenario: str) -> ChaosOptions:
    return ChaosOptions(
        scenarios=(scenario,),
        run_dir=run_dir,
        vus=8,
        overload_vus=120,
        duration_s=4.0,
        fault_at_s=1.5,
        outage_s=1.5,
        maxconn=2,
        maxqueue=2,
        queue_timeout_s=0.5,
        survivors=5,
    )


@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.parametrize("scenario", registry.NAMES)
async def test_scenario_passes(
    scenario: str, chaos_infra: infra.Infra, server_thread: ThreadPoolExecutor, tmp_path: Path
) -> None:
    options = short_options(tmp_path, scenario)
    verdict = await run_scenario(scenario, options, chaos_infra, server_thread=server_thread)
    report = "\n".join(verdict.lines(registry.scenario(scenario).title))
    if verdict.skipped:
        assert chaos_infra.redis is None or chaos_infra.postgres is None, report
        pytest.skip(verdict.skipped)
    assert verdict.passed, report
    assert verdict.figures["requests"] > 0, report
    assert "peak RSS MiB" in verdict.figures, report
    assert "lost 0, duplicated 0" in verdict.figures["integrity"], report


# --------------------------------------------------------------------------- pure parts


def test_options_refuse_unknown_scenarios_and_single_instances(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenarios"):
        ChaosOptions(scenarios=("meteor",), run_dir=tmp_path)
    with pytest.raises(ValueError, match="two instances"):
        ChaosOptions(run_dir=tmp_path, instances=1)
    assert ChaosOptions(run_dir=tmp_path, duration_s=30).fault_at == 10


def test_verdict_passes_only_when_every_check_holds() -> None:
    verdict = ScenarioVerdict("kill")
    verdict.check("a", True)
    assert verdict.passed
    verdict.check("b", False)
    assert not verdict.passed
    assert verdict.lines(KILL.title)[-1] == "FAIL kill"
    assert "  [FAIL] b" in verdict.lines(KILL.title)
    assert verdict.lines(KILL.title)[0] == "== kill: SIGKILL one instance mid-run =="


def test_replays_are_409_signups_and_reused_refreshes() -> None:
    record = ChaosRecord()
    record.outcomes += [
        RequestOutcome(SIGNUP, 0, 1, 201),
        RequestOutcome(SIGNUP, 0, 1, 409, "email_taken"),
        RequestOutcome("refresh", 0, 1, 401, "token_reused"),
        RequestOutcome(REUSE, 0, 1, 401, "token_reused"),
    ]
    assert replays(record) == 2


def test_outcomes_judge_status_and_reuse_code() -> None:
    assert RequestOutcome(REUSE, 0, 1, 401, "token_reused").ok
    assert not RequestOutcome(REUSE, 0, 1, 401, "invalid_token").ok
    assert not RequestOutcome("login", 0, 1, 200, "bad_body").ok
    assert RequestOutcome("logout", 0, 1, 204).ok
    assert RequestOutcome("login", 0, 1, 0, "timeout").label == "0 timeout"
    assert RequestOutcome("login", 0, 1, 503, "unavailable").label == "503 unavailable"


def test_backoff_takes_part_of_retry_after_and_is_capped() -> None:
    rng = random.Random(1)
    assert backoff_s(None, rng) == 0.0
    assert backoff_s("soon", rng) == 0.0
    assert 0.5 <= backoff_s("1", rng) <= 1.0
    assert backoff_s("3600", rng) <= 2.0


def test_error_code_reads_the_contract_body() -> None:
    assert error_code(b'{"error": {"code": "unavailable", "message": "x"}}') == "unavailable"
    assert error_code(b"not json") == ""
    assert error_code(b"[1]") == ""


def test_chaos_addresses_are_unique_per_run() -> None:
    a = ChaosLoadConfig(target="http://127.0.0.1:1", vus=1, duration_s=1)
    b = ChaosLoadConfig(target="http://127.0.0.1:1", vus=1, duration_s=1)
    assert a.address_prefix != b.address_prefix
    assert a.address_prefix.startswith("chaos-")


# ------------------------------------------------------------------------ rolling restart


def test_rolling_config_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="admin URL"):
        rolling.RollingConfig(admin_url="127.0.0.1:8404")
    with pytest.raises(ValueError, match="positive"):
        rolling.RollingConfig(admin_url="http://127.0.0.1:8404", idle_timeout=0)


class NeverRestarts:
    def stop(self, url: str) -> None:
        raise AssertionError(f"nothing may be stopped: {url}")

    def start(self, url: str) -> None:
        raise AssertionError(f"nothing may be started: {url}")


def test_rolling_restart_refuses_a_balancer_that_does_not_answer() -> None:
    cfg = rolling.RollingConfig(admin_url=f"http://127.0.0.1:{procs.free_port()}")
    with pytest.raises(AdminError, match="did not answer"):
        rolling.rolling_restart(cfg, NeverRestarts())


@pytest.mark.slow
def test_process_restarter_restarts_a_listener_as_it_was_started(tmp_path: Path) -> None:
    """What `rolling-restart` does to the instances of a running `lab up`."""
    port = procs.free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-u", "-m", "http.server", str(port), "--bind", "127.0.0.1"]
    log = tmp_path / "server.log"
    original = procs.spawn(argv, log_path=log, cwd=tmp_path)
    assert procs.wait_until(lambda: procs.port_open("127.0.0.1", port), timeout=10)
    restarter = rolling.ProcessRestarter(ready_timeout=10)
    replacement: psutil.Process | None = None
    try:
        restarter.stop(url)
        assert original.wait(5) is not None
        restarter.start(url)
        replacement = psutil.Process(rolling.listener_pid(port))
        assert replacement.pid != original.pid
        assert replacement.cmdline() == argv
        assert replacement.cwd() == str(tmp_path)
        watcher = replacement.parent()
        assert watcher is not None
        assert "--keep" in watcher.cmdline()
        assert str(os.getpid()) in watcher.cmdline()
        assert procs.wait_until(lambda: log.read_text().count("Serving HTTP") == 2, timeout=5)
    finally:
        if replacement is not None:
            replacement.terminate()
            replacement.wait(5)
        procs.stop(original)
        for watcher_process in restarter.watchers:
            # A watcher ends with the instance it keeps.
            assert watcher_process.wait(5) is not None


def test_keep_stops_the_child_once_its_owner_is_gone() -> None:
    owner = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    started = time.monotonic()
    code = rolling.keep(owner.pid, [sys.executable, "-c", "import time; time.sleep(60)"])
    owner.wait()
    assert time.monotonic() - started < 10
    assert code != 0
