"""`python -m lab bench --platform swarm`: the same experiment on a one-node Docker Swarm.

The same plan, load generator, records and report as the process platform
(lab.experiments.bench); what
differs is where the service runs. One stack is deployed for the whole bench; before each
run the service is updated in place (replica count, `resources.limits.cpus`, hashing
threads) and all its tasks restarted at once, so every run starts from fresh replicas:
- single     1 replica, the load generator straight at the task's own address (the host
             reaches every task on docker_gwbridge),
- single+lb  1 replica behind our balancer's published port,
- scaled     N replicas behind it, found by the balancer through tasks.service.
The load generator runs on the host; CPU per component comes from each container's cgroup
(the load generator's from its process tree, as on the process platform).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from lab.docker import cgroupcpu
from lab.docker.cli import Platform
from lab.docker.errors import StackError
from lab.docker.stack import NAME, Endpoints, StackConfig, healthy_backends
from lab.errors import LabError
from lab.experiments import bench, loadrun
from lab.harness import config, cpuacct, procs
from lab.reporting import ceiling, records

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


class SwarmBench:
    def __init__(self, cfg: bench.BenchConfig) -> None:
        self.cfg = cfg
        self.process_bench = bench.Bench(cfg)
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
        series_plan = bench.plan(cfg)
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
        measurements = [self.process_bench._measure_ceiling(f"before {first}")]
        series_out: list[dict[str, Any]] = []
        images: dict[str, str] = {}
        exempt: tuple[str, ...] = ()
        around: dict[str, tuple[ceiling.Ceiling, ...]] = {}
        try:
            endpoints = self.platform.up(
                StackConfig(
                    replicas=1, bcrypt_rounds=cfg.bcrypt_cost, limit_exemption=cfg.limit_exemption
                )
            )
            exempt = endpoints.exempt
            images = self.platform.images.variables()
            done = 0
            for spec in series_plan:
                before = measurements[-1]
                runs_out = []
                for run in spec.runs:
                    done += 1
                    runs_out.append(
                        self.one_run(
                            spec, run, endpoints, ceiling.best(measurements), run_root, done, total
                        )
                    )
                measurements.append(self.process_bench._measure_ceiling(f"after {spec.name}"))
                around[spec.name] = (before, measurements[-1])
                series_out.append(self.series_record(spec, before, measurements[-1], runs_out))
        finally:
            for line in self.platform.down():
                self.status.done(f"left behind: {line}")
        self.process_bench._judge_against_best(series_out, ceiling.best(measurements), around)
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
        results = self.process_bench._results(started, measurements, description, series_out, notes)
        results["platform"] = "swarm"
        return self.process_bench._report(results, f"{stamp}-swarm")

    def series_record(
        self,
        spec: bench.SeriesSpec,
        before: ceiling.Ceiling,
        after: ceiling.Ceiling,
        runs: list[dict[str, Any]],
    ) -> dict[str, Any]:
        shared = spec.cpus_per_instance is None
        return {
            "name": spec.name,
            "label": f"{spec.label}, Docker Swarm",
            "cpus_per_instance": spec.cpus_per_instance,
            "limit_method": None if shared else "docker resources.limits.cpus (CFS quota)",
            "usable_cores": float(self.process_bench.host_cores) if shared else None,
            "ceiling_iterations_per_s": None,
            # As the process platform records them, so the two can be compared.
            "ceiling_pairs_per_s": [
                round(before.pairs_per_s_parallel, 4),
                round(after.pairs_per_s_parallel, 4),
            ],
            "vus": spec.vus,
            "bcrypt_cost": self.cfg.bcrypt_cost,
            "runs": runs,
        }

    def one_run(
        self,
        spec: bench.SeriesSpec,
        run: bench.RunSpec,
        endpoints: Endpoints,
        the_ceiling: ceiling.Ceiling,
        run_root: Path,
        done: int,
        total: int,
    ) -> dict[str, Any]:
        cfg = self.cfg
        name = f"{spec.name}/{run.topology}" + (f"#{run.repeat + 1}" if cfg.repeats > 1 else "")
        cores = bench.usable_cores(spec, run, self.process_bench.host_cores)
        run_ceiling = the_ceiling.iterations_per_s(cores)
        self.status.update(f"[{done}/{total}] {name}: {run.instances} replica(s) starting")
        self.configure(run.instances, spec.cpus_per_instance, endpoints)
        target = endpoints.balancer if run.balancer else self.direct_url()
        files = self.usage_files()
        span = cfg.warmup_s + cfg.duration_s

        def tick(elapsed: float) -> None:
            phase = "warm-up" if elapsed < cfg.warmup_s else "measuring"
            self.status.update(
                f"[{done}/{total}] {name}: {phase} {min(elapsed, span):5.1f}/{span:g} s, "
                f"{spec.vus} VUs, host CPU {psutil.cpu_percent():5.1f} %"
            )

        run_dir = run_root / f"{spec.name}-{run.topology}-{run.repeat}"
        run_dir.mkdir(parents=True, exist_ok=True)
        result, usage, timeline = run_load(
            loadrun.LoadSpec(
                target=target,
                vus=spec.vus,
                duration_s=cfg.duration_s,
                warmup_s=cfg.warmup_s,
                graceful_stop_s=cfg.graceful_stop_s,
                ramp=cfg.ramp,
                processes=cfg.loadgen_processes,
            ),
            files=lambda: files,
            run_dir=run_dir,
            on_tick=tick,
        )
        record = records.run_record(
            result,
            topology=run.topology,
            instances=run.instances,
            balancer=run.balancer,
            repeat=run.repeat,
            cpu=usage.to_dict(),
            ceiling_iterations_per_s=run_ceiling,
            cpu_timeline=timeline,
        )
        record["usable_cores"] = cores
        self.status.done(
            f"[{done}/{total}] {name}: {record['req_per_s']:.2f} req/s, "
            f"{record['iterations_per_s']:.2f} it/s, avg "
            f"{record['http_req_duration']['avg']:.0f} ms, failed "
            f"{record['http_req_failed_rate'] * 100:.2f} %"
        )
        return record


def run_load(
    spec: loadrun.LoadSpec,
    *,
    files: Callable[[], Mapping[str, Path]],
    run_dir: Path,
    on_tick: Callable[[float], None],
) -> tuple[dict[str, Any], cpuacct.CpuUsage, list[dict[str, float]]]:
    """loadrun.run_load with the containers' cgroups as the CPU source."""
    import json

    out, log = run_dir / "loadgen.json", run_dir / "loadgen.log"
    proc = procs.spawn(loadrun.loadgen_argv(spec, out), log_path=log)
    sampler = CgroupSampler(files, lambda: proc.pid if proc.poll() is None else 0).start()
    began = time.monotonic()
    deadline = began + spec.warmup_s + spec.duration_s + spec.graceful_stop_s + 60
    try:
        while proc.poll() is None:
            on_tick(time.monotonic() - began)
            if time.monotonic() > deadline:
                raise LabError(f"the load generator overran its time; see {log}")
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            procs.stop(proc)
        sampler.stop()
    if proc.returncode not in (0, 99) or not out.exists():
        raise LabError(
            f"the load generator failed (exit {proc.returncode}); the end of {log}:\n"
            f"{procs.log_tail(log)}"
        )
    result: dict[str, Any] = json.loads(out.read_text())
    start, end = loadrun.window_bounds(result)
    return result, sampler.usage(start, end), sampler.timeline(start, end)


def main(cfg: bench.BenchConfig) -> Path:
    """The swarm platform's bench; `lab bench --platform swarm` calls it."""
    return SwarmBench(cfg).run()
