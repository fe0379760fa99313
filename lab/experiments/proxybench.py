"""``python -m lab bench-proxy``: what our balancer costs compared with nginx and HAProxy.

One minimal Sanic backend (``return json({"ok": True})``, one process, access log off) is
driven by wrk (``-t1 -c64`` by default) directly, through authscale's balancer and, when
installed, through nginx and HAProxy configured equivalently (one worker/thread, keep-alive
upstream; the configurations of reference/perf.md). Targets are interleaved within each
repeat and medians reported: req/s, p50/p99 latency, added latency versus direct, and CPU
µs per request of the proxy and of the backend (utime+stime from /proc/PID/stat before and
after, divided by the requests wrk completed). Everything listens on 127.0.0.1 and every
process started is stopped at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psutil

from authscale.argparsing import ArgumentParser
from lab.flags import duration
from lab.harness import procs

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

WRK_MISSING = (
    "wrk is not installed; it drives every measurement. Install it with:\n"
    "    apt-get install -y wrk nginx haproxy"
)


@dataclass
class WrkResult:
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


@dataclass
class Run:
    target: str
    repeat: int
    rps: float
    requests: int
    p50_ms: float
    p99_ms: float
    errors: int
    proxy_cpu_us: float | None
    backend_cpu_us: float


@dataclass
class Summary:
    target: str
    rps: float
    p50_ms: float
    p99_ms: float
    added_p50_ms: float | None
    added_p99_ms: float | None
    proxy_cpu_us: float | None
    backend_cpu_us: float
    errors: int
    runs: int
    rps_range: tuple[float, float] = field(default=(0.0, 0.0))
    proxy_cpu_range: tuple[float, float] | None = None


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_duration_ms(text: str) -> float:
    """A wrk duration (``812.00us``, ``2.79ms``, ``1.02s``, ``1.50m``) in milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """Requests, req/s, p50/p99 and error counts from ``wrk --latency`` output."""
    done = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not (done and rate and p50 and p99):
        raise ValueError("unexpected wrk output:\n" + output)
    errors = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non_2xx:
        errors += int(non_2xx.group(1))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    return WrkResult(
        requests=int(done.group(1)),
        seconds=parse_duration_ms(done.group(2) + done.group(3)) / 1000,
        rps=float(rate.group(1)),
        p50_ms=parse_duration_ms(p50.group(1)),
        p99_ms=parse_duration_ms(p99.group(1)),
        errors=errors,
    )


def summarize(runs: Sequence[Run]) -> list[Summary]:
    """Medians per target, in first-seen order; added latency is relative to ``direct``."""
    order: list[str] = []
    for run in runs:
        if run.target not in order:
            order.append(run.target)
    summaries: list[Summary] = []
    for target in order:
        mine = [r for r in runs if r.target == target]
        cpu = [r.proxy_cpu_us for r in mine if r.proxy_cpu_us is not None]
        rps = [r.rps for r in mine]
        summaries.append(
            Summary(
                target=target,
                rps=statistics.median(rps),
                p50_ms=statistics.median(r.p50_ms for r in mine),
                p99_ms=statistics.median(r.p99_ms for r in mine),
                added_p50_ms=None,
                added_p99_ms=None,
                proxy_cpu_us=statistics.median(cpu) if cpu else None,
                backend_cpu_us=statistics.median(r.backend_cpu_us for r in mine),
                errors=sum(r.errors for r in mine),
                runs=len(mine),
                rps_range=(min(rps), max(rps)),
                proxy_cpu_range=(min(cpu), max(cpu)) if cpu else None,
            )
        )
    direct = next((s for s in summaries if s.target == "direct"), None)
    if direct is not None:
        for summary in summaries:
            if summary is not direct:
                summary.added_p50_ms = summary.p50_ms - direct.p50_ms
                summary.added_p99_ms = summary.p99_ms - direct.p99_ms
    return summaries


def _fmt(value: float | None, digits: int = 1, signed: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def render_markdown(summaries: Sequence[Summary], settings: dict[str, object]) -> str:
    haproxy = next((s for s in summaries if s.target == "haproxy"), None)
    lines = [
        "| target | req/s (min–max) | p50 ms | p99 ms | added p50 ms | added p99 ms "
        "| proxy CPU µs/req (min–max) | vs HAProxy | backend CPU µs/req | errors |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for s in summaries:
        ratio = "–"
        if haproxy and haproxy.proxy_cpu_us and s.proxy_cpu_us is not None:
            ratio = f"{s.proxy_cpu_us / haproxy.proxy_cpu_us:.2f}×"
        cpu = _fmt(s.proxy_cpu_us)
        if s.proxy_cpu_range is not None:
            cpu += f" ({s.proxy_cpu_range[0]:.1f}–{s.proxy_cpu_range[1]:.1f})"
        lines.append(
            f"| {s.target} | {s.rps:,.0f} ({s.rps_range[0]:,.0f}–{s.rps_range[1]:,.0f}) "
            f"| {s.p50_ms:.2f} | {s.p99_ms:.2f} | {_fmt(s.added_p50_ms, 2, True)} "
            f"| {_fmt(s.added_p99_ms, 2, True)} | {cpu} | {ratio} "
            f"| {s.backend_cpu_us:.1f} | {s.errors} |"
        )
    conditions = ", ".join(f"{k}={v}" for k, v in settings.items())
    lines += ["", f"Medians of the runs per target; {conditions}."]
    return "\n".join(lines) + "\n"


def cpu_seconds(pids: Sequence[int]) -> float:
    """utime+stime of ``pids`` in seconds, from /proc/PID/stat."""
    ticks = 0
    for pid in pids:
        with open(f"/proc/{pid}/stat") as handle:
            after_name = handle.read().rsplit(")", 1)[1].split()
        ticks += int(after_name[11]) + int(after_name[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_for_port(port: int, process: subprocess.Popen[bytes], limit: float = 20.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {limit}s")


class Processes:
    """Started processes, stopped in reverse order (SIGTERM, then SIGKILL)."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.started: list[subprocess.Popen[bytes]] = []

    def start(self, name: str, argv: Sequence[str]) -> subprocess.Popen[bytes]:
        log = open(self.logs / f"{name}.log", "wb")  # noqa: SIM115 - lives as long as the process
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        for process in reversed(self.started):
            if process.poll() is None:
                process.terminate()
        for process in reversed(self.started):
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def with_children(pid: int) -> list[int]:
    try:
        parent = psutil.Process(pid)
        return [pid, *(child.pid for child in parent.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def run_wrk(
    url: str, seconds: float, connections: int, threads: int, script: Path | None = None
) -> WrkResult:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency"]
    argv += ["--timeout", "5s"]
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(url)
    completed = subprocess.run(argv, capture_output=True, text=True, check=True)
    return parse_wrk(completed.stdout)


def build_parser(prog: str = "python -m lab bench-proxy") -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog=prog,
        description="Proxy overhead: direct vs authscale balancer vs nginx vs HAProxy (wrk).",
    )
    parser.add_argument("--duration", type=duration, default=10.0, help="per run (10s)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per target (3)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--warmup", type=duration, default=2.0, help="unmeasured first (2s)")
    parser.add_argument("--skip-nginx", action="store_true")
    parser.add_argument("--skip-haproxy", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("reports"), help="reports folder")
    return parser


@contextlib.contextmanager
def _workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="proxybench-") as folder:
        yield Path(folder)


def _wanted_and_installed(name: str, *, skipped: bool, notes: list[str]) -> bool:
    """Whether to measure the third-party proxy ``name``; a note says why one is missing."""
    found = not skipped and shutil.which(name) is not None
    if not skipped and not found:
        notes.append(f"{name} is not installed (apt-get install -y {name}); not measured")
    return found


def _measure(
    targets: dict[str, tuple[int, int | None]], backend_pid: int, args: argparse.Namespace
) -> list[Run]:
    """Warm every target up, then ``args.repeats`` rounds of one wrk run per target, with the
    CPU time the proxy (and its children) and the backend spent on each request."""
    for port, _ in targets.values():
        if args.warmup > 0:
            run_wrk(f"http://127.0.0.1:{port}/", args.warmup, args.connections, 1)
    runs: list[Run] = []
    for repeat in range(1, args.repeats + 1):
        for name, (port, pid) in targets.items():
            proxy_pids = with_children(pid) if pid is not None else []
            proxy_before = cpu_seconds(proxy_pids)
            backend_before = cpu_seconds([backend_pid])
            result = run_wrk(
                f"http://127.0.0.1:{port}/", args.duration, args.connections, args.threads
            )
            proxy_used = cpu_seconds(proxy_pids) - proxy_before
            backend_used = cpu_seconds([backend_pid]) - backend_before
            count = max(result.requests, 1)
            runs.append(
                Run(
                    target=name,
                    repeat=repeat,
                    rps=result.rps,
                    requests=result.requests,
                    p50_ms=result.p50_ms,
                    p99_ms=result.p99_ms,
                    errors=result.errors,
                    proxy_cpu_us=proxy_used / count * 1e6 if pid is not None else None,
                    backend_cpu_us=backend_used / count * 1e6,
                )
            )
            print(
                f"  {name:<9} run {repeat}: {result.rps:,.0f} req/s, "
                f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms",
                file=sys.stderr,
            )
    return runs


def _write_reports(
    folder: Path,
    args: argparse.Namespace,
    runs: Sequence[Run],
    notes: Sequence[str],
    *,
    loadavg_before: float,
) -> str:
    """Write proxy.md and proxy.json into ``folder``; returns the markdown table."""
    settings: dict[str, object] = {
        "wrk": f"-t{args.threads} -c{args.connections}",
        "duration_s": args.duration,
        "repeats": args.repeats,
        "cpus": os.cpu_count(),
        "loadavg_before": round(loadavg_before, 2),
    }
    summaries = summarize(runs)
    table = render_markdown(summaries, settings)
    report = {
        "settings": settings,
        "python": platform.python_version(),
        "notes": notes,
        "summary": [asdict(s) for s in summaries],
        "runs": [asdict(r) for r in runs],
    }
    (folder / "proxy.md").write_text(
        "# Proxy overhead\n\n" + table + "".join(f"\n- {n}" for n in notes) + "\n"
    )
    (folder / "proxy.json").write_text(json.dumps(report, indent=2) + "\n")
    return table


def main(argv: list[str], prog: str = "python -m lab bench-proxy") -> int:
    args = build_parser(prog).parse_args(argv)
    if shutil.which("wrk") is None:
        print(WRK_MISSING, file=sys.stderr)
        return 2
    notes: list[str] = []
    use_nginx = _wanted_and_installed("nginx", skipped=args.skip_nginx, notes=notes)
    use_haproxy = _wanted_and_installed("haproxy", skipped=args.skip_haproxy, notes=notes)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = args.out / f"proxy-{stamp}"
    folder.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()
    for note in notes:
        print(note, file=sys.stderr)
    with _workspace() as work:
        processes = Processes(folder)
        try:
            backend_port = procs.free_port()
            app = work / "sanic_app.py"
            app.write_text(SANIC_APP)
            backend = processes.start("backend", [sys.executable, str(app), str(backend_port)])
            wait_for_port(backend_port, backend)
            targets: dict[str, tuple[int, int | None]] = {"direct": (backend_port, None)}

            balancer_port, admin_port = procs.free_port(), procs.free_port()
            balancer = processes.start(
                "balancer",
                [
                    sys.executable, "-m", "balancer",
                    "--listen", f"127.0.0.1:{balancer_port}",
                    "--admin", f"127.0.0.1:{admin_port}",
                    "--backend", f"http://127.0.0.1:{backend_port}",
                    "--health-path", "/",
                ],
            )  # fmt: skip
            wait_for_port(balancer_port, balancer)
            targets["balancer"] = (balancer_port, balancer.pid)

            if use_nginx:
                port = procs.free_port()
                conf = work / "nginx.conf"
                conf.write_text(NGINX_CONF.format(dir=work, backend=backend_port, port=port))
                nginx = processes.start("nginx", ["nginx", "-p", str(work), "-c", str(conf)])
                try:
                    wait_for_port(port, nginx)
                    targets["nginx"] = (port, nginx.pid)
                except RuntimeError as exc:
                    notes.append(f"nginx did not start ({exc}); see {folder}/nginx.log")
            if use_haproxy:
                port = procs.free_port()
                cfg = work / "haproxy.cfg"
                cfg.write_text(HAPROXY_CFG.format(backend=backend_port, port=port))
                haproxy = processes.start("haproxy", ["haproxy", "-db", "-f", str(cfg)])
                try:
                    wait_for_port(port, haproxy)
                    targets["haproxy"] = (port, haproxy.pid)
                except RuntimeError as exc:
                    notes.append(f"haproxy did not start ({exc}); see {folder}/haproxy.log")

            runs = _measure(targets, backend.pid, args)
        except (RuntimeError, subprocess.CalledProcessError, ValueError) as exc:
            print(f"bench-proxy failed: {exc}\nprocess logs are in {folder}", file=sys.stderr)
            return 1
        finally:
            processes.stop_all()

    table = _write_reports(folder, args, runs, notes, loadavg_before=load_before[0])
    print(table, end="")
    for note in notes:
        print(note)
    print(f"report: {folder}")
    return 0
