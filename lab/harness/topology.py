"""A running topology: N service instances (each its own process, same key and settings),
optionally behind our balancer, over infrastructure the caller provides."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from lab import flags
from lab.errors import TopologyError
from lab.harness import procs
from lab.harness.adminclient import AdminClient, AdminError
from lab.harness.cpulimit import CpuLimiter
from service.keys import generate_pepper, generate_private_key_pem, write_private_file

HOST = "127.0.0.1"
#: The load generator of the lab runs on this machine: per-address limits would count all
#: of its virtual users as one client.
LOOPBACK_CIDRS = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True, kw_only=True)
class TopologyConfig:
    instances: int
    balancer: bool
    database_url: str
    redis_url: str
    run_dir: Path
    bcrypt_rounds: int = 10
    #: Extra environment for every instance (AUTH_* settings).
    service_env: tuple[tuple[str, str], ...] = ()
    balancer_args: tuple[str, ...] = ()
    start_timeout: float = 30.0
    #: Balancer health-check interval; the lab's own runs use a short one so that chaos
    #: scenarios see ejection and recovery within seconds.
    health_interval: str = "1"
    #: CIDRs that skip the services' per-address limits (AUTH_RATE_LIMIT_EXEMPT); the
    #: lab's commands pass LOOPBACK_CIDRS unless told --no-limit-exemption.
    limit_exempt: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.instances < 1:
            raise ValueError("a topology needs at least one instance")
        if self.bcrypt_rounds not in flags.BCRYPT_COSTS:
            raise ValueError("bcrypt rounds must be within 4..31")


def limit_exemption(enabled: bool) -> tuple[str, ...]:
    """What the lab's commands pass as ``limit_exempt`` (``--no-limit-exemption``: nothing)."""
    return LOOPBACK_CIDRS if enabled else ()


def describe_exemption(exempt: tuple[str, ...]) -> str:
    """The line the lab's commands print (and the bench records) about the exemption."""
    if not exempt:
        return "limits: every per-address limit is on (--no-limit-exemption)"
    return (
        f"limits: the services exempt the loopback load generator ({', '.join(exempt)}) from "
        "their per-address limits (AUTH_RATE_LIMIT_EXEMPT); --no-limit-exemption keeps them on"
    )


def add_exemption_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-limit-exemption",
        action="store_true",
        help="keep the services' per-address limits on for the loopback load generator "
        "(by default it is exempt, or a load test would be throttled as one client)",
    )


def write_signing_key(path: Path) -> Path:
    """One Ed25519 key for every instance, so a token issued by one verifies on all.

    Written 0600 from the start (a temporary file renamed into place): never readable by
    others, not even for a moment.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(path, generate_private_key_pem())
    return path


def write_token_pepper(path: Path) -> Path:
    """One token pepper (AUTH_TOKEN_PEPPER_FILE) for every instance, written like the key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_private_file(path, generate_pepper() + b"\n")
    return path


def http_get(url: str, *, timeout: float = 1.0, token: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except (OSError, urllib.error.URLError):
        return 0, b""


@dataclass
class Instance:
    name: str
    port: int
    proc: subprocess.Popen[bytes] | None = None
    #: The service's metrics listener (/metrics, health details); None for the balancer.
    metrics_port: int | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def metrics_url(self) -> str | None:
        return f"http://{HOST}:{self.metrics_port}" if self.metrics_port else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@dataclass
class Topology:
    config: TopologyConfig
    limiter: CpuLimiter | None = None
    instances: list[Instance] = field(default_factory=list)
    balancer: Instance | None = None
    admin_port: int | None = None
    #: The bearer token the balancer's admin API is started with (BALANCER_ADMIN_TOKEN).
    admin_token: str | None = None
    key_file: Path | None = None
    pepper_file: Path | None = None

    # ------------------------------------------------------------------ public

    @property
    def entry_url(self) -> str:
        """Where load goes: the balancer, or the only instance."""
        return self.balancer.url if self.balancer else self.instances[0].url

    @property
    def admin_url(self) -> str | None:
        return f"http://{HOST}:{self.admin_port}" if self.admin_port else None

    def component_pids(self) -> dict[str, int]:
        pids = {i.name: i.proc.pid for i in self.instances if i.proc and i.alive()}
        if self.balancer and self.balancer.proc and self.balancer.alive():
            pids["balancer"] = self.balancer.proc.pid
        return pids

    def start(self) -> Topology:
        cfg = self.config
        cfg.run_dir.mkdir(parents=True, exist_ok=True)
        self.key_file = write_signing_key(cfg.run_dir / "jwt-ed25519.pem")
        self.pepper_file = write_token_pepper(cfg.run_dir / "token-pepper")
        try:
            for n in range(1, cfg.instances + 1):
                instance = Instance(
                    name=f"service_{n}", port=procs.free_port(), metrics_port=procs.free_port()
                )
                self.instances.append(instance)
                self._spawn_service(instance)
            for instance in self.instances:
                self._wait_ready(instance)
            if cfg.balancer:
                self._start_balancer()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Balancer first (no new work reaches the instances), then every instance."""
        if self.balancer and self.balancer.proc:
            procs.stop(self.balancer.proc)
        for instance in self.instances:
            if instance.proc:
                procs.stop(instance.proc)
        if self.limiter is not None:
            self.limiter.cleanup()

    def kill_instance(self, index: int, sig: int = signal.SIGKILL) -> None:
        instance = self.instances[index]
        if instance.proc and instance.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(instance.proc.pid, sig)
            instance.proc.wait(15)

    def stop_instance(self, index: int) -> None:
        instance = self.instances[index]
        if instance.proc:
            procs.stop(instance.proc)

    def start_instance(self, index: int) -> None:
        """(Re)start an instance on its old port, so the balancer finds it where it was."""
        instance = self.instances[index]
        self._spawn_service(instance)
        self._wait_ready(instance)

    def __enter__(self) -> Topology:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def describe_lines(self) -> list[str]:
        lines = [f"{i.name}={i.url}" for i in self.instances]
        if self.balancer:
            lines.append(f"balancer={self.balancer.url}")
            lines.append(f"admin={self.admin_url}")
            lines.append(f"admin_token={self.admin_token}")
        return lines

    # ----------------------------------------------------------------- helpers

    def _service_env(self, instance: Instance) -> dict[str, str]:
        cfg = self.config
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUTH_")}
        env.update(
            DATABASE_URL=cfg.database_url,
            REDIS_URL=cfg.redis_url,
            AUTH_JWT_ALG="EdDSA",
            AUTH_JWT_PRIVATE_KEY_FILE=str(self.key_file),
            AUTH_TOKEN_PEPPER_FILE=str(self.pepper_file),
            AUTH_BCRYPT_ROUNDS=str(cfg.bcrypt_rounds),
            # Behind our balancer the client address arrives in X-Forwarded-For, and only
            # the balancer (on loopback) may say so.
            AUTH_TRUSTED_PROXIES="1" if cfg.balancer else "0",
        )
        if cfg.balancer:
            env["AUTH_TRUSTED_PROXY_ADDRS"] = ",".join(LOOPBACK_CIDRS)
        if cfg.limit_exempt:
            env["AUTH_RATE_LIMIT_EXEMPT"] = ",".join(cfg.limit_exempt)
        if instance.metrics_port:
            env["AUTH_METRICS_LISTEN"] = f"{HOST}:{instance.metrics_port}"
        env.update(dict(cfg.service_env))
        return env

    def _spawn_service(self, instance: Instance) -> None:
        argv = [
            sys.executable,
            "-m",
            "service",
            "--host",
            HOST,
            "--port",
            str(instance.port),
            "--workers",
            "1",
        ]
        cgroup = self.limiter.procs_file(instance.name) if self.limiter else None
        cores = self.limiter.core_set() if self.limiter else None
        instance.proc = procs.spawn(
            argv,
            log_path=self.config.run_dir / f"{instance.name}.log",
            env=self._service_env(instance),
            cgroup_procs=cgroup,
            cpu_affinity=cores,
        )

    def _wait_ready(self, instance: Instance) -> None:
        def ready() -> bool:
            return http_get(f"{instance.url}/health/ready")[0] == 200

        if not procs.wait_until(
            ready, timeout=self.config.start_timeout, alive=instance.alive, interval=0.1
        ):
            log = self.config.run_dir / f"{instance.name}.log"
            raise TopologyError(
                f"{instance.name} did not become ready on {instance.url}; "
                f"the end of {log}:\n{procs.log_tail(log)}"
            )

    def _start_balancer(self) -> None:
        cfg = self.config
        balancer = Instance(name="balancer", port=procs.free_port())
        self.admin_port = procs.free_port()
        argv = [
            sys.executable,
            "-m",
            "balancer",
            "--listen",
            f"{HOST}:{balancer.port}",
            "--admin",
            f"{HOST}:{self.admin_port}",
            "--health-interval",
            cfg.health_interval,
        ]
        for instance in self.instances:
            argv += ["--backend", instance.url]
        argv += list(cfg.balancer_args)
        self.admin_token = secrets.token_urlsafe(24)
        env = {**os.environ, "BALANCER_ADMIN_TOKEN": self.admin_token}
        balancer.proc = procs.spawn(argv, log_path=cfg.run_dir / "balancer.log", env=env)
        self.balancer = balancer
        deadline = time.monotonic() + cfg.start_timeout
        while time.monotonic() < deadline and balancer.alive():
            if self.backends_up() == cfg.instances:
                return
            time.sleep(0.1)
        log = cfg.run_dir / "balancer.log"
        raise TopologyError(
            f"the balancer did not report {cfg.instances} healthy backends; "
            f"the end of {log}:\n{procs.log_tail(log)}"
        )

    def backends(self) -> list[dict[str, object]]:
        """The balancer's backends; none while its admin API does not answer (it polls)."""
        if self.admin_url is None:
            return []
        try:
            return AdminClient(self.admin_url, self.admin_token, timeout=1.0).backends()
        except AdminError:
            return []

    def backends_up(self) -> int:
        return sum(1 for row in self.backends() if row.get("state") == "up")
