"""How much does the generator cost, and how fast can one process go?

``python -m lab.experiments.loadgenbench`` measures, against a trivial endpoint that answers
the auth scenario with static responses (nginx ``return`` when nginx is installed, else a minimal
asyncio server in a separate process):

1. CPU µs per request of the generator (``run_load``, 64 VUs, closed model) beside a bare
   aiohttp loop that sends the same four requests with the same bodies and reads the
   responses, with no checks and no statistics. Each runs in its own fresh process,
   measured the same way (``getrusage`` of that process around the load only), repeated
   and interleaved; the table shows medians and our overhead over the bare loop.
2. The largest request rate one generator process sustains: the open-model rate is stepped
   up until the event-loop lag p99 exceeds 10 ms, iterations are dropped, or the achieved
   rate falls short of the target.

Figures on a shared or busy machine are only indicative.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

_SIGNUP = b'{"id":"1","email":"bench@example.com"}'
_LOGIN = b'{"access_token":"a1","refresh_token":"r1","token_type":"Bearer","expires_in":900}'
STEPS = ("signup", "login", "refresh", "logout")
_REFRESH = b'{"access_token":"a2","refresh_token":"r2","token_type":"Bearer","expires_in":900}'

_NGINX_CONF = """
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 120s;
    client_body_temp_path {prefix}/body;
    default_type application/json;
    server {{
        listen 127.0.0.1:{port};
        location = /auth/signup {{ return 201 '{signup}'; }}
        location = /auth/login {{ return 200 '{login}'; }}
        location = /auth/refresh {{ return 200 '{refresh}'; }}
        location = /auth/logout {{ return 204; }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"the trivial server did not listen on port {port}")


@contextmanager
def trivial_server() -> Iterator[tuple[str, str]]:
    """(URL, kind) of a fast static auth endpoint, stopped on exit."""
    port = _free_port()
    nginx = shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )
    with tempfile.TemporaryDirectory(prefix="loadgen-bench-") as prefix:
        if nginx:
            conf = Path(prefix) / "nginx.conf"
            conf.write_text(
                _NGINX_CONF.format(
                    prefix=prefix,
                    port=port,
                    signup=_SIGNUP.decode(),
                    login=_LOGIN.decode(),
                    refresh=_REFRESH.decode(),
                )
            )
            command = [nginx, "-c", str(conf), "-p", prefix, "-g", "daemon off;"]
            kind = "nginx"
        else:
            command = [sys.executable, "-m", "lab.experiments.loadgenbench", "--serve", str(port)]
            kind = "asyncio static server"
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_port(port)
            yield f"http://127.0.0.1:{port}", kind
        finally:
            server.terminate()
            server.wait(timeout=10)


class _StaticAuth(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive responder for the fallback server."""

    _ROUTES: ClassVar[dict[bytes, bytes]] = {
        b"/auth/signup": b"201 Created",
        b"/auth/login": b"200 OK",
        b"/auth/refresh": b"200 OK",
        b"/auth/logout": b"204 No Content",
    }
    _BODIES: ClassVar[dict[bytes, bytes]] = {
        b"/auth/signup": _SIGNUP,
        b"/auth/login": _LOGIN,
        b"/auth/refresh": _REFRESH,
    }

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._buffer = b""

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while True:
            head_end = self._buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self._buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                length = int(head[marker + 15 :].split(b"\r\n", 1)[0])
            if len(self._buffer) < head_end + 4 + length:
                return
            path = self._buffer.split(b" ", 2)[1]
            self._buffer = self._buffer[head_end + 4 + length :]
            status = self._ROUTES.get(path, b"404 Not Found")
            body = self._BODIES.get(path, b"")
            self._transport.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
            )


def _serve(port: int) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_StaticAuth, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    _run(main())


def _run(coroutine: Any) -> Any:
    import uvloop

    return uvloop.run(coroutine)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _bare_loop(target: str, vus: int, duration_s: float) -> int:
    import aiohttp
    import orjson
    from yarl import URL

    headers = {"Content-Type": "application/json"}
    base = URL(target)
    signup, login, refresh, logout = (base / "auth" / step for step in STEPS)
    stop_at = time.perf_counter() + duration_s
    count = 0

    async def user(session: aiohttp.ClientSession, vu: int) -> None:
        nonlocal count
        iteration = 0
        while time.perf_counter() < stop_at:
            iteration += 1
            creds = orjson.dumps({"email": f"b-{vu}-{iteration}@example.com", "password": "x" * 16})
            for url, body, extra in (
                (signup, creds, None),
                (login, creds, None),
                (refresh, b'{"refresh_token":"r1"}', None),
                (logout, b'{"refresh_token":"r2"}', {"Authorization": "Bearer a2"}),
            ):
                sent = headers if extra is None else {**headers, **extra}
                response = await session.post(url, data=body, headers=sent)
                await response.read()
                response.release()
                count += 1

    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(user(session, vu) for vu in range(vus)))
    return count


def _worker(kind: str, target: str, vus: int, duration_s: float, rate: float | None) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    from loadgen.config import LoadConfig
    from loadgen.runner import run_load

    async def ours() -> dict[str, Any]:
        config = LoadConfig(
            target=target,
            vus=vus,
            duration_s=duration_s,
            rate=rate,
            max_vus=max(vus, 2000) if rate else None,
            graceful_stop_s=5.0,
            quiet=True,
        )
        cpu0, wall0 = _cpu_s(), time.perf_counter()
        result = await run_load(config)
        cpu, wall = _cpu_s() - cpu0, time.perf_counter() - wall0
        data = result.summary_data()
        return {
            "requests": data["metrics"]["http_reqs"]["values"]["count"],
            "cpu_s": cpu,
            "wall_s": wall,
            "lag_p99_ms": data["loadgen"]["max_loop_lag_p99_ms"],
            "own_lag_p99_ms": data["loadgen"]["processes"][0]["loop_lag_ms"]["own_p99"],
            "dropped": data["metrics"]["dropped_iterations"]["values"]["count"],
            "failed": data["metrics"]["http_req_failed"]["values"]["passes"],
            "reqs_in_window": data["window"]["http_reqs_in_window"],
        }

    async def bare() -> dict[str, Any]:
        cpu0, wall0 = _cpu_s(), time.perf_counter()
        requests = await _bare_loop(target, vus, duration_s)
        return {
            "requests": requests,
            "cpu_s": _cpu_s() - cpu0,
            "wall_s": time.perf_counter() - wall0,
        }

    print(json.dumps(_run(ours() if kind == "ours" else bare())))


def _measure(
    kind: str, target: str, vus: int, duration_s: float, rate: float | None = None
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "lab.experiments.loadgenbench",
        "--worker",
        kind,
        "--target",
        target,
    ]
    command += ["--vus", str(vus), "--duration", str(duration_s)]
    if rate:
        command += ["--rate", str(rate)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ)
    measured: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    measured["us_per_request"] = 1e6 * measured["cpu_s"] / max(1, measured["requests"])
    measured["req_per_s"] = measured["requests"] / measured["wall_s"]
    return measured


def cost_table(target: str, vus: int, duration_s: float, repeats: int) -> list[str]:
    runs: dict[str, list[dict[str, Any]]] = {"ours": [], "bare": []}
    for _ in range(repeats):
        for kind in ("ours", "bare"):
            runs[kind].append(_measure(kind, target, vus, duration_s))
    lines = [
        f"CPU per request, {vus} VUs, {duration_s:g}s, median of {repeats} (min-max)",
        f"{'':26}{'µs/req':>22}{'req/s':>22}",
    ]
    medians = {}
    for kind, label in (("ours", "loadgen (run_load)"), ("bare", "bare aiohttp loop")):
        costs = [r["us_per_request"] for r in runs[kind]]
        rates = [r["req_per_s"] for r in runs[kind]]
        medians[kind] = statistics.median(costs)
        lines.append(
            f"{label:26}{medians[kind]:>8.1f} ({min(costs):.1f}-{max(costs):.1f}){'':>3}"
            f"{statistics.median(rates):>10.0f} ({min(rates):.0f}-{max(rates):.0f})"
        )
    overhead = 100 * (medians["ours"] / medians["bare"] - 1)
    lines.append(f"overhead of loadgen over the bare loop: {overhead:+.1f}% (target <= +25%)")
    return lines


def rate_table(target: str, duration_s: float, start: float, factor: float) -> list[str]:
    lines = [
        f"open-model rate steps, {duration_s:g}s each (1 iteration = 4 requests)",
        f"{'target it/s':>12}{'achieved req/s':>16}{'lag p99 ms':>12}{'own lag p99':>13}"
        f"{'dropped':>9}{'failed':>8}  ok",
    ]
    best = 0.0
    rate = start
    while True:
        measured = _measure("ours", target, 50, duration_s, rate)
        achieved = measured["reqs_in_window"] / duration_s
        ok = (
            measured["lag_p99_ms"] < 10
            and measured["dropped"] == 0
            and measured["failed"] == 0
            and achieved >= 0.95 * 4 * rate
        )
        lines.append(
            f"{rate:>12.0f}{achieved:>16.0f}{measured['lag_p99_ms']:>12.2f}"
            f"{measured['own_lag_p99_ms']:>13.2f}{measured['dropped']:>9}"
            f"{measured['failed']:>8}  {'yes' if ok else 'no'}"
        )
        if not ok:
            break
        best = achieved
        rate *= factor
    lines.append(f"largest sustained rate with loop lag p99 < 10 ms: {best:.0f} req/s")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lab.experiments.loadgenbench", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--target", help="a static auth endpoint (default: start nginx or a fallback)"
    )
    parser.add_argument("--vus", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement [5]")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--start-rate", type=float, default=250.0, help="first open-model step, it/s"
    )
    parser.add_argument("--rate-factor", type=float, default=1.5)
    parser.add_argument("--skip-rate", action="store_true", help="only the CPU comparison")
    parser.add_argument("--worker", choices=("ours", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        _serve(args.serve)
        return 0
    if args.worker:
        _worker(args.worker, args.target, args.vus, args.duration, args.rate)
        return 0
    with _target(args.target) as (target, kind):
        print(f"target: {target} ({kind}), python {sys.version.split()[0]}, {os.cpu_count()} CPUs")
        for line in cost_table(target, args.vus, args.duration, args.repeats):
            print(line, flush=True)
        if not args.skip_rate:
            print()
            for line in rate_table(target, args.duration, args.start_rate, args.rate_factor):
                print(line, flush=True)
    return 0


@contextmanager
def _target(given: str | None) -> Iterator[tuple[str, str]]:
    if given:
        yield given, "given"
    else:
        with trivial_server() as server:
            yield server


if __name__ == "__main__":
    sys.exit(main())
