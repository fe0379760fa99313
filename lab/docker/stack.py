"""docker/stack.yml on a one-node swarm: deploy it, wait until the balancer sees every
replica healthy, and remove it (and all it made) again."""

from __future__ import annotations

import json
import math
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from lab import flags
from lab.docker import stacksecrets
from lab.docker.engine import OnEngine
from lab.docker.errors import StackError
from lab.harness import procs

NAME = "authscale"
LOOPBACK = "127.0.0.0/8"


@dataclass(frozen=True, kw_only=True)
class StackConfig:
    replicas: int = 3
    #: CPU limit per replica; None lifts it (the shared-host series)
    cpus_per_replica: float | None = None
    bcrypt_rounds: int = 10
    limit_exemption: bool = True
    access_log: bool = False
    ready_timeout: float = 300.0

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ValueError("--replicas must be at least 1")
        if self.cpus_per_replica is not None and self.cpus_per_replica <= 0:
            raise ValueError("--cpus-per-replica must be positive")
        if self.bcrypt_rounds not in flags.BCRYPT_COSTS:
            raise ValueError("--bcrypt-rounds must be within 4..31")
        if self.ready_timeout <= 0:
            raise ValueError("the ready timeout must be positive")

    def bcrypt_threads(self, host_cores: int) -> int:
        """Hashing threads per replica: what its CPU limit allows, else the host's cores."""
        if self.cpus_per_replica is None:
            return host_cores
        return max(1, math.ceil(self.cpus_per_replica))


@dataclass(frozen=True, kw_only=True)
class Endpoints:
    balancer: str
    admin: str
    prometheus: str
    admin_token: str
    exempt: tuple[str, ...]


def deploy_environment(
    cfg: StackConfig,
    *,
    images: dict[str, str],
    ports: dict[str, int],
    exempt: tuple[str, ...],
    host_cores: int,
    config_version: str,
) -> dict[str, str]:
    """The variables `docker stack deploy` interpolates into stack.yml (pure)."""
    return {
        **images,
        "REPLICAS": str(cfg.replicas),
        # "0": no limit, what the shared-host series measures.
        "SERVICE_CPUS": "0" if cfg.cpus_per_replica is None else f"{cfg.cpus_per_replica:g}",
        "AUTH_BCRYPT_THREADS": str(cfg.bcrypt_threads(host_cores)),
        "AUTH_BCRYPT_ROUNDS": str(cfg.bcrypt_rounds),
        "ACCESS_LOG": "1" if cfg.access_log else "0",
        "AUTH_RATE_LIMIT_EXEMPT": ",".join(exempt),
        "BALANCER_PORT": str(ports["balancer"]),
        "BALANCER_ADMIN_PORT": str(ports["admin"]),
        "PROMETHEUS_PORT": str(ports["prometheus"]),
        "GRAFANA_PORT": str(ports["grafana"]),
        "CONFIG_VERSION": config_version,
    }


def healthy_backends(payload: dict[str, Any]) -> int:
    return sum(1 for b in payload.get("backends", []) if b.get("state") == "up")


class Stack(OnEngine):
    # ---- swarm ---------------------------------------------------------------------------

    def ensure_swarm(self) -> bool:
        """A one-node swarm whose node may hold the stack's state; True when made here."""
        state = self.engine.run("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip()
        made = False
        if state != "active":
            self.engine.run("swarm", "init", "--advertise-addr", "127.0.0.1")
            self.engine.note(swarm_created=True)
            made = True
        node = self.engine.run("info", "--format", "{{.Swarm.NodeID}}").stdout.strip()
        self.engine.run(
            "node",
            "update",
            "--label-add",
            "authscale.data=true",
            "--label-add",
            "authscale.monitoring=true",
            node,
        )
        return made

    def leave_swarm(self) -> None:
        if self.engine.record().get("swarm_created"):
            self.engine.run("swarm", "leave", "--force", check=False, timeout=120)
            # Made by `swarm init`; `swarm leave` keeps it.
            self.engine.run("network", "rm", "docker_gwbridge", check=False)
            self.engine.note(swarm_created=False)

    def gateway_subnet(self, patience_s: float = 15.0) -> str | None:
        """Where host-mode published ports see host clients come from (docker-proxy).

        The bridge comes with the swarm, but a fresh engine may report it a moment after
        ``swarm init`` returns; without it the host's load generator would not be exempt
        from the per-address limits, so it is asked for again for a while."""
        deadline = time.monotonic() + patience_s
        while True:
            done = self.engine.run(
                "network",
                "inspect",
                "docker_gwbridge",
                "--format",
                "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
                check=False,
            )
            subnets = done.stdout.split()
            if done.returncode == 0 and subnets:
                return subnets[0]
            if time.monotonic() > deadline:
                self.say("docker_gwbridge not found: only loopback is exempt from the limits")
                return None
            time.sleep(0.5)

    # ---- deploy --------------------------------------------------------------------------

    def deploy(
        self, cfg: StackConfig, images: dict[str, str], *, host_cores: int | None = None
    ) -> Endpoints:
        cores = host_cores or len(os.sched_getaffinity(0))
        values = stacksecrets.generate()
        self._create_secrets(values)
        exempt: tuple[str, ...] = ()
        if cfg.limit_exemption:
            gateway = self.gateway_subnet()
            exempt = (LOOPBACK,) + ((gateway,) if gateway else ())
        # Published in host mode, dockerd binds them on every address: ask for one free there.
        ports = {
            name: procs.free_port("0.0.0.0")
            for name in ("balancer", "admin", "prometheus", "grafana")
        }
        env = deploy_environment(
            cfg,
            images=images,
            ports=ports,
            exempt=exempt,
            host_cores=cores,
            config_version=str(int(time.time())),
        )
        self.engine.run(
            "stack",
            "deploy",
            # Nothing is pulled: every image is local (or on the nodes of a real cluster).
            "--resolve-image",
            "never",
            "--compose-file",
            str(self.repo / "docker" / "stack.yml"),
            NAME,
            env=env,
            cwd=self.repo / "docker",
        )
        endpoints = Endpoints(
            balancer=f"http://127.0.0.1:{ports['balancer']}",
            admin=f"http://127.0.0.1:{ports['admin']}",
            prometheus=f"http://127.0.0.1:{ports['prometheus']}",
            admin_token=values.balancer_admin_token,
            exempt=exempt,
        )
        fd = os.open(self.dir / "endpoints.json", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(vars(endpoints), out, indent=1)
        self.wait_ready(endpoints, cfg.replicas, cfg.ready_timeout)
        return endpoints

    def _create_secrets(self, values: stacksecrets.StackSecrets) -> None:
        folder = self.dir / "secrets"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for name, value in values.docker_secrets().items():
            self.engine.run("secret", "rm", name, check=False)
            self.engine.run("secret", "create", name, "-", input=value)
            # Kept for the operator (the admin token opens the status page), owner only.
            fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(value)

    def backends(self, endpoints: Endpoints) -> dict[str, Any] | None:
        """The balancer's GET /backends, or None when it does not answer."""
        return _get_json(f"{endpoints.admin}/backends", endpoints.admin_token)

    def wait_ready(self, endpoints: Endpoints, replicas: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        seen = -1
        while True:
            payload = _get_json(f"{endpoints.admin}/backends", endpoints.admin_token)
            healthy = healthy_backends(payload) if payload is not None else -1
            if healthy != seen and healthy >= 0:
                self.say(f"stack: the balancer sees {healthy}/{replicas} healthy replicas")
                seen = healthy
            prometheus_ok = _get_status(f"{endpoints.prometheus}/-/ready") == 200
            if healthy == replicas and prometheus_ok:
                return
            if time.monotonic() > deadline:
                raise StackError(
                    f"the stack was not ready in {timeout:g} s (healthy replicas {healthy}/"
                    f"{replicas}, prometheus {'ready' if prometheus_ok else 'not ready'}):\n"
                    + self.failures()
                )
            time.sleep(1.0)

    def failures(self) -> str:
        done = self.engine.run(
            "stack",
            "ps",
            NAME,
            "--no-trunc",
            "--format",
            "{{.Name}} {{.CurrentState}} {{.Error}}",
            check=False,
        )
        tasks = done.stdout.strip() or done.stderr.strip()
        logs = []
        for line in tasks.splitlines():
            name, _, rest = line.partition(" ")
            if "Failed" in rest or "Rejected" in rest:
                service = name.split(".", 1)[0]
                if service not in logs:
                    logs.append(service)
        for service in logs[:2]:
            tail = self.engine.run(
                "service", "logs", "--raw", "--tail", "8", service, check=False, timeout=30
            )
            tasks += f"\n--- the end of {service}'s log:\n{(tail.stdout + tail.stderr).strip()}"
        return tasks

    # ---- remove --------------------------------------------------------------------------

    def remove(self, timeout: float = 120.0) -> None:
        """The stack, its containers, networks, volumes, secrets and configs."""
        self.engine.run("stack", "rm", NAME, check=False)
        label = f"label=com.docker.stack.namespace={NAME}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            left = self.engine.run("ps", "-aq", "--filter", label, check=False).stdout.split()
            nets = self.engine.run(
                "network", "ls", "-q", "--filter", label, check=False
            ).stdout.split()
            if not left and not nets:
                break
            time.sleep(1.0)
        for kind in ("secret", "config", "volume"):
            names = self.engine.run(kind, "ls", "--format", "{{.Name}}", check=False).stdout.split()
            ours = [n for n in names if n.startswith(NAME + "_")]
            if ours:
                self.engine.run(kind, "rm", *ours, check=False)


#: Straight to the published ports, whatever proxy the environment names.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _request(url: str, token: str | None) -> urllib.request.Request:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return urllib.request.Request(url, headers=headers)


def _get_json(url: str, token: str | None = None) -> dict[str, Any] | None:
    try:
        with _OPENER.open(_request(url, token), timeout=3) as response:
            data = json.loads(response.read())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _get_status(url: str) -> int:
    try:
        with _OPENER.open(_request(url, None), timeout=3) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0
