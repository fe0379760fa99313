"""`python -m lab bench --platform swarm`: the same experiment on a one-node Docker Swarm.

The same plan, measured run, records and report as the process platform
(lab.experiments.bench); what differs is where the service runs. One stack is deployed for
the whole bench; before each run the service is updated in place (replica count,
`resources.limits.cpus`, hashing threads) and all its tasks restarted at once, so every run
starts from fresh replicas:
- single     1 replica, the load generator straight at the task's own address (the host
             reaches every task on docker_gwbridge),
- single+lb  1 replica behind our balancer's published port,
- scaled     N replicas behind it, found by the balancer through tasks.service.
The load generator runs on the host; CPU per component comes from each container's cgroup
(the load generator's from its process tree, as on the process platform).
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from lab.docker import cgroupcpu
from lab.docker.cli import Platform
from lab.docker.errors import StackError
from lab.docker.stack import NAME, Endpoints, StackConfig, healthy_backends
from lab.experiments import loadrun
from lab.experiments.bench.config import BenchConfig
from lab.experiments.bench.measure import PlannedRun, measure_ceiling, measure_plan, measure_run
from lab.experiments.bench.plan import plan, run_folder
from lab.experiments.bench.runner import Bench
from lab.harness import config, cpuacct
from lab.reporting.results import Run

SERVICE = f"{NAME}_service"
COMPONENTS = ("balancer", "postgres", "redis")


class CgroupSampler(loadrun.CpuSampler):
    """loadrun's sampler, reading containers' cgroups instead of process trees."""

    def __init__(self, files: Callable[[], Mapping[str, Path]], loadgen_pid: Callable[[], int]):
        super().__init__(pids=lambda: {})
        self.files = files
        self.loadgen_pid = loadgen_pid

    def _loop(self) -> None:
        while True:
            components = {
                name: cgroupcpu.read_usage(file) or 0.0 for name, file in self.files().items()
            }
            pid = self.loadgen_pid()
            if pid:
                components["loadgen"] = cpuacct.tree_cpu_seconds(pid)
            self.times.append(time.time())
            self.samples.append(
                cpuacct.CpuSnapshot(components=components, host_busy=cpuacct.host_busy_seconds())
            )
            if self._stop.wait(self.interval):
                return


def cgroup_sampler(files: Callable[[], Mapping[str, Path]]) -> loadrun.SamplerFor:
    """Sample the cgroups in `files`, and the load generator's process tree while it runs."""

    def sampler(proc: subprocess.Popen[bytes]) -> loadrun.CpuSampler:
        return CgroupSampler(files, lambda: proc.pid if proc.poll() is None else 0)

    return sampler


class SwarmBench:
    def __init__(self, cfg: BenchConfig) -> None:
        self.cfg = cfg
        # The process platform's bench, for what the two share: its status line, the
        # host's cores, and how it judges the series and writes the report once every run
        # is in.
        self.process_bench = Bench(cfg)
        self.status = self.process_bench.status
        self.platform = Platform(say=self.status.done)

    # ---- the stack between runs ------------------------------------------------------------

    def configure(self, replicas: int, cpus: float | None, endpoints: Endpoints) -> None:
        """All service tasks replaced at once with the run's count and limit."""
        threads = StackConfig(replicas=replicas, cpus_per_replica=cpus).bcrypt_threads(
            self.process_bench.host_cores
        )
        self.platform.engine.run(
            "service",
            "update",
            "--quiet",
            "--detach=false",
            "--force",
            "--update-parallelism=0",
            "--update-order=stop-first",
            "--update-delay=0s",
            f"--replicas={replicas}",
            f"--limit-cpu={0 if cpus is None else cpus:g}",
            f"--env-add=AUTH_BCRYPT_THREADS={threads}",
            SERVICE,
            timeout=600,
        )
        deadline = time.monotonic() + 180
        while True:
            payload = self.platform.stack.backends(endpoints)
            backends = payload.get("backends", []) if payload else []
            if len(backends) == replicas and healthy_backends(payload or {}) == replicas:
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"the balancer did not see {replicas} healthy replicas after the update:\n"
                    + self.platform.stack.failures()
                )
            time.sleep(1.0)

    def containers(self) -> dict[str, str]:
        """Component name → container id of every running task of the stack."""
        out = self.platform.engine.run(
            "ps",
            "--filter",
            f"label=com.docker.stack.namespace={NAME}",
            "--format",
            '{{.ID}} {{.Label "com.docker.swarm.service.name"}} '
            '{{.Label "com.docker.swarm.task.name"}}',
        ).stdout
        found = {}
        for line in out.splitlines():
            cid, service, task = ([*line.split(), "", "", ""])[:3]
            name = service.removeprefix(NAME + "_")
            if name == "service":
                # authscale_service.2.<id> → service_2, the process platform's names.
                name = f"service_{task.split('.')[1]}" if task.count(".") >= 2 else task
            if name in COMPONENTS or name.startswith("service"):
                found[name] = cid
        return found

    def usage_files(self) -> dict[str, Path]:
        files = {}
        for name, cid in self.containers().items():
            pid = self.platform.engine.run(
                "inspect", "--format", "{{.State.Pid}}", cid, check=False
            ).stdout.strip()
            file = cgroupcpu.usage_file(int(pid)) if pid.isdigit() else None
            if file is not None:
                files[name] = file
        return files

    def direct_url(self) -> str:
        """The one replica's address on docker_gwbridge, which the host can reach."""
        (cid,) = [c for n, c in self.containers().items() if n.startswith("service")]
        out = self.platform.engine.run(
            "network",
            "inspect",
            "docker_gwbridge",
            "--format",
            "{{range $id, $c := .Containers}}{{$id}} {{$c.IPv4Address}}{{println}}{{end}}",
        ).stdout
        for line in out.splitlines():
            full, _, address = line.partition(" ")
            if full.startswith(cid) and address:
                return f"http://{address.split('/')[0]}:8000"
        raise StackError(f"no docker_gwbridge address for the replica {cid}")

    # ---- runs --------------------------------------------------------------------------------

    def run(self) -> Path:
        cfg = self.cfg
        series_plan = plan(cfg)
        total = sum(len(s.runs) for s in series_plan)
        started = datetime.now(UTC)
        stamp = started.strftime("%Y%m%d-%H%M%S")
        run_root = config.state_root() / "runs" / f"bench-swarm-{stamp}"
        self.status.done(
            f"bench on Docker Swarm: {total} runs of {cfg.warmup_s:g} s warm-up + "
            f"{cfg.duration_s:g} s window, bcrypt cost {cfg.bcrypt_cost}; the bcrypt ceiling "
            "is measured before and after each series and the best kept"
        )
        first = series_plan[0].name if series_plan else "the runs"
        first_ceiling = measure_ceiling(cfg, self.status, f"before {first}")
        images: dict[str, str] = {}
        exempt: tuple[str, ...] = ()
        try:
            endpoints = self.platform.up(
                StackConfig(
                    replicas=1, bcrypt_rounds=cfg.bcrypt_cost, limit_exemption=cfg.limit_exemption
                )
            )
            exempt = endpoints.exempt
            images = self.platform.images.variables()
            found = measure_plan(
                cfg,
                series_plan,
                first_ceiling,
                one_run=lambda planned: self.one_run(planned, endpoints, run_root),
                status=self.status,
                host_cores=self.process_bench.host_cores,
                label=lambda spec: f"{spec.label}, Docker Swarm",
                limit_method="docker resources.limits.cpus (CFS quota)",
            )
        finally:
            for line in self.platform.down():
                self.status.done(f"left behind: {line}")
        description = {
            "platform": "Docker Swarm, one node (python -m lab docker); load generator on the host",
            "service_image": images.get("AUTHSCALE_IMAGE", ""),
            "postgres": images.get("POSTGRES_IMAGE", ""),
            "redis": images.get("REDIS_IMAGE", ""),
            "limit_exemption": ",".join(exempt) or "none",
        }
        notes = [
            "Platform: Docker Swarm on this machine. The service runs in containers of the "
            "stack (docker/stack.yml), CPU limits are the tasks' resources.limits.cpus (a CFS "
            "quota), CPU per component is read from each container's cgroup, and the load "
            "generator runs on the host against the published port (or, for 'single', the "
            "replica's own address)."
        ]
        return self.process_bench.report(
            found,
            started=started,
            infra=description,
            notes=notes,
            folder=f"{stamp}-swarm",
            platform="swarm",
        )

    def one_run(self, planned: PlannedRun, endpoints: Endpoints, run_root: Path) -> Run:
        spec, run = planned.spec, planned.run
        self.status.update(
            f"{planned.progress(self.cfg.repeats)}: {run.instances} replica(s) starting"
        )
        self.configure(run.instances, spec.cpus_per_instance, endpoints)
        target = endpoints.balancer if run.balancer else self.direct_url()
        files = self.usage_files()
        run_dir = run_root / run_folder(spec, run)
        run_dir.mkdir(parents=True, exist_ok=True)
        return measure_run(
            self.cfg,
            planned,
            target=target,
            sampler=cgroup_sampler(lambda: files),
            run_dir=run_dir,
            status=self.status,
        )


def main(cfg: BenchConfig) -> Path:
    """The swarm platform's bench; `lab bench --platform swarm` calls it."""
    return SwarmBench(cfg).run()
