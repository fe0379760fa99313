"""The Swarm platform's bench without an engine: the same plan, measured run and results as
the process platform, with the engine's parts replaced by stand-ins (the Docker tests run
the real thing)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from lab.docker import swarmbench
from lab.docker.stack import Endpoints, StackConfig
from lab.experiments.bench import BenchConfig
from lab.experiments.bench.measure import PlannedRun
from lab.harness import config
from lab.reporting import ceiling, records
from lab.reporting.results import Run
from tests.lab.test_records import loadgen_output

ENDPOINTS = Endpoints(
    balancer="http://127.0.0.1:18080",
    admin="http://127.0.0.1:18081",
    prometheus="http://127.0.0.1:19090",
    admin_token="t",
    exempt=("127.0.0.0/8",),
)


class _Images:
    def variables(self) -> dict[str, str]:
        return {"AUTHSCALE_IMAGE": "authscale:x", "POSTGRES_IMAGE": "pg", "REDIS_IMAGE": "r"}


class _Platform:
    def __init__(self, say: Any) -> None:
        self.images = _Images()
        self.downed = False

    def up(self, stack: StackConfig) -> Endpoints:
        return ENDPOINTS

    def down(self) -> list[str]:
        self.downed = True
        return []


def _ceiling(taken: str) -> ceiling.Ceiling:
    return ceiling.Ceiling(
        bcrypt_cost=4,
        hash_ms=1.0,
        verify_ms=1.0,
        threads=2,
        pairs_per_s_parallel=500.0,
        pairs_per_s_single_thread=260.0,
        taken=taken,
    )


@pytest.fixture
def swarm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> swarmbench.SwarmBench:
    monkeypatch.setattr(swarmbench, "Platform", _Platform)
    monkeypatch.setattr(config, "state_root", lambda: tmp_path / "state")
    monkeypatch.setattr(swarmbench, "measure_ceiling", lambda cfg, status, taken: _ceiling(taken))
    cfg = BenchConfig(
        vus=20,
        limited_vus=8,
        duration_s=40.0,
        bcrypt_cost=4,
        instances=2,
        out_dir=tmp_path / "reports",
        command="python -m lab bench --platform swarm",
    )
    bench = swarmbench.SwarmBench(cfg)
    bench.process_bench.host_cores = 2
    monkeypatch.setattr(bench, "configure", lambda replicas, cpus, endpoints: None)
    monkeypatch.setattr(bench, "direct_url", lambda: "http://10.0.0.5:8000")
    monkeypatch.setattr(bench, "usage_files", lambda: {"service_1": Path("/nonexistent")})
    return bench


def test_every_run_is_measured_by_the_shared_step_with_the_swarm_target(
    swarm: swarmbench.SwarmBench, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[dict[str, Any]] = []

    def measure_run(cfg: BenchConfig, planned: PlannedRun, **kw: Any) -> Run:
        asked.append({"usable_cores": planned.usable_cores, **kw})
        assert kw["run_dir"].is_dir()
        return records.measured_run(
            loadgen_output(iterations=600, vus=planned.spec.vus, least=3),
            topology=planned.run.topology,
            instances=planned.run.instances,
            balancer=planned.run.balancer,
            repeat=planned.run.repeat,
            cpu={"cpu_seconds": {"service_1": 30.0}, "host": {"utilisation": 0.5}},
            ceiling_iterations_per_s=planned.ceiling_iterations_per_s,
            usable_cores=planned.usable_cores,
        )

    monkeypatch.setattr(swarmbench, "measure_run", measure_run)
    folder = swarm.run()

    assert folder.name.endswith("-swarm")
    assert [a["target"] for a in asked] == [
        "http://10.0.0.5:8000",
        ENDPOINTS.balancer,
        ENDPOINTS.balancer,
    ] * 2
    assert [a["usable_cores"] for a in asked] == [2.0, 2.0, 2.0, 0.5, 0.5, 1.0]
    results = json.loads((folder / "results.json").read_text())
    assert results["platform"] == "swarm"
    assert results["infra"]["service_image"] == "authscale:x"
    assert [s["label"] for s in results["series"]] == [
        "shared host (no CPU limits), Docker Swarm",
        "0.5 CPU per instance, Docker Swarm",
    ]
    assert [s["limit_method"] for s in results["series"]] == [
        None,
        "docker resources.limits.cpus (CFS quota)",
    ]
    assert [m["taken"] for m in results["ceiling"]["measurements"]] == [
        "before shared-host",
        "after shared-host",
        "after cpu-limited",
    ]
    assert results["notes"][0].startswith("Platform: Docker Swarm on this machine.")


def test_the_cgroup_sampler_follows_the_load_generator_only_while_it_runs() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    sampler = swarmbench.cgroup_sampler(lambda: {})(proc)
    assert isinstance(sampler, swarmbench.CgroupSampler)
    assert sampler.loadgen_pid() in (proc.pid, 0)
    proc.wait()
    assert sampler.loadgen_pid() == 0
