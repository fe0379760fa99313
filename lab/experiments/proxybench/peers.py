"""What the proxy benchmark measures: one minimal Sanic backend, reached directly, through
authscale's balancer and through nginx and HAProxy configured equivalently (one worker or
thread, keep-alive upstream; the configurations of reference/perf.md)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from balancer._build import PURE_ENV
from lab.harness import procs

#: The balancer run as pure Python beside the compiled one: what compiling it buys.
PURE_TARGET = "balancer-py"

SANIC_APP = """
import sys
from sanic import Sanic
from sanic.response import json

app = Sanic("proxybench")


@app.get("/")
async def root(request):
    return json({"ok": True})


app.run(host="127.0.0.1", port=int(sys.argv[1]), single_process=True, access_log=False,
        debug=False, motd=False)
"""

NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path {dir}/nginx-body;
    proxy_temp_path {dir}/nginx-proxy;
    fastcgi_temp_path {dir}/nginx-fastcgi;
    uwsgi_temp_path {dir}/nginx-uwsgi;
    scgi_temp_path {dir}/nginx-scgi;
    upstream sanic {{ server 127.0.0.1:{backend}; keepalive 64; keepalive_requests 100000; }}
    server {{
        listen 127.0.0.1:{port};
        location / {{ proxy_pass http://sanic; proxy_http_version 1.1;
                     proxy_set_header Connection ""; }}
    }}
}}
"""

HAPROXY_CFG = """
global
    nbthread 1
    maxconn 4096
defaults
    mode http
    option http-keep-alive
    http-reuse safe
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    timeout http-keep-alive 30s
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server s1 127.0.0.1:{backend}
"""

#: Each target by name: the port wrk drives and the pid of the proxy in between (None for
#: the backend reached directly).
Targets = dict[str, tuple[int, int | None]]


class Processes:
    """Started processes, each logging to `<logs>/<name>.log`, stopped in reverse order."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, argv: Sequence[str], env: Mapping[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        process = procs.spawn(argv, log_path=self.logs / f"{name}.log", env=env)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            procs.stop(process)


def wait_for_port(port: int, process: subprocess.Popen[bytes], limit: float = 20.0) -> None:
    """Return once something listens on port; RuntimeError if process exits or time runs out."""
    if procs.wait_until(
        lambda: procs.port_open("127.0.0.1", port),
        timeout=limit,
        alive=lambda: process.poll() is None,
        interval=0.1,
    ):
        return
    if process.poll() is not None:
        raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {limit}s")


def start_backend(work: Path, processes: Processes) -> tuple[int, subprocess.Popen[bytes]]:
    port = procs.free_port()
    app = work / "sanic_app.py"
    app.write_text(SANIC_APP)
    backend = processes.start("backend", [sys.executable, str(app), str(port)])
    wait_for_port(port, backend)
    return port, backend


def start_balancer(
    backend_port: int, processes: Processes, *, pure: bool = False
) -> tuple[int, int]:
    """authscale's balancer in front of the backend: as installed, or (``pure``) with its
    request path run from the Python sources even where it is compiled."""
    port, admin_port = procs.free_port(), procs.free_port()
    env = {**os.environ, PURE_ENV: "1"} if pure else None
    balancer = processes.start(
        PURE_TARGET if pure else "balancer",
        [
            sys.executable, "-m", "balancer",
            "--listen", f"127.0.0.1:{port}",
            "--admin", f"127.0.0.1:{admin_port}",
            "--backend", f"http://127.0.0.1:{backend_port}",
            "--health-path", "/",
        ],
        env=env,
    )  # fmt: skip
    wait_for_port(port, balancer)
    return port, balancer.pid


def start_third_party(
    name: str, work: Path, backend_port: int, processes: Processes, *, logs: Path
) -> tuple[int, int] | str:
    """Start nginx or haproxy in front of the backend: its (port, pid), or a note saying why
    it did not start."""
    port = procs.free_port()
    if name == "nginx":
        conf = work / "nginx.conf"
        conf.write_text(NGINX_CONF.format(dir=work, backend=backend_port, port=port))
        process = processes.start("nginx", ["nginx", "-p", str(work), "-c", str(conf)])
    else:
        cfg = work / "haproxy.cfg"
        cfg.write_text(HAPROXY_CFG.format(backend=backend_port, port=port))
        process = processes.start("haproxy", ["haproxy", "-db", "-f", str(cfg)])
    try:
        wait_for_port(port, process)
    except RuntimeError as exc:
        return f"{name} did not start ({exc}); see {logs}/{name}.log"
    return port, process.pid


def start_targets(
    work: Path,
    processes: Processes,
    *,
    third_party: Sequence[str],
    notes: list[str],
    pure_too: bool = False,
) -> tuple[Targets, int]:
    """Start the backend, the balancer (``pure_too``: a second one running its request path
    as Python) and the third-party proxies named; returns the targets (direct first) and
    the backend's pid. A proxy that does not start gets a note instead."""
    backend_port, backend = start_backend(work, processes)
    targets: Targets = {"direct": (backend_port, None)}
    targets["balancer"] = start_balancer(backend_port, processes)
    if pure_too:
        targets[PURE_TARGET] = start_balancer(backend_port, processes, pure=True)
    for name in third_party:
        started = start_third_party(name, work, backend_port, processes, logs=processes.logs)
        if isinstance(started, str):
            notes.append(started)
        else:
            targets[name] = started
    return targets, backend.pid
