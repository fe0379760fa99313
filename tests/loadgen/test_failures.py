"""Failed requests are named by cause, in the summary and the JSON, and a request whose
connection was never made sends no bytes."""

from __future__ import annotations

import asyncio
import errno
from pathlib import Path

import aiohttp
import orjson
import pytest
from aiohttp.client_reqrep import ConnectionKey

from lab.harness.procs import free_port
from loadgen import failures
from loadgen.stats import Recorder
from loadgen.summary import _errors
from tests.loadgen.fakeauth import FakeAuth, serve
from tests.loadgen.test_cli import run_cli

_KEY = ConnectionKey("127.0.0.1", 1, False, True, None, None, None)


def _refused() -> aiohttp.ClientConnectorError:
    return aiohttp.ClientConnectorError(
        _KEY, ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused")
    )


@pytest.mark.parametrize(
    ("exc", "cause", "never_sent"),
    [
        (_refused(), "connection refused", True),
        (aiohttp.ConnectionTimeoutError(), "connect timeout", True),
        (aiohttp.ServerDisconnectedError(), "server closed the connection (EOF)", False),
        (aiohttp.SocketTimeoutError(), "request timeout", False),
        (TimeoutError(), "request timeout", False),
        (
            aiohttp.ClientOSError(errno.ECONNRESET, "Connection reset by peer"),
            "connection reset by peer",
            False,
        ),
    ],
)
def test_transport_errors_are_named(exc: BaseException, cause: str, never_sent: bool) -> None:
    assert failures.transport_cause(exc) == cause
    assert failures.never_sent(exc) is never_sent


def test_only_answers_outside_200_to_399_have_a_cause() -> None:
    assert failures.status_cause(200) is None
    assert failures.status_cause(302) is None
    assert failures.status_cause(503) == "HTTP 503"
    assert failures.status_cause(0) == "HTTP 0"


def _recorded(causes: list[str | None], *, ok: bool = False) -> Recorder:
    recorder = Recorder()
    recorder.start(0, 0.0, 10.0)
    for i, cause in enumerate(causes):
        t = (i + 1) * 1_000_000
        recorder.record_request(recorder.steps["signup"], t, t, t, 0, 0, ok, 0, 0, None, cause)
    return recorder


def test_failures_are_counted_by_cause_and_survive_the_wire_and_merge() -> None:
    one = _recorded(["connection refused", "connection refused", "HTTP 503"])
    other = Recorder.from_wire(orjson.loads(orjson.dumps(_recorded(["HTTP 503"]).to_wire())))
    one.merge(other)
    assert one.failures == {"connection refused": 2, "HTTP 503": 2}
    assert _recorded(["never counted"], ok=True).failures == {}


def test_the_summary_lists_the_causes() -> None:
    lines = _errors({"errors": {"connection refused": 17998, "HTTP 503": 2}})
    assert lines[1:] == [
        "    ERRORS (failed requests by cause)",
        "      connection refused × 17998",
        "      HTTP 503 × 2",
    ]
    assert _errors({"errors": {}}) == []


async def _loadgen(target: str, out: Path) -> tuple[int, str, dict[str, object]]:
    code, stdout, _ = await run_cli(
        "--duration", "1s", "--vus", "2", "--target", target, "--out", str(out)
    )
    written = await asyncio.to_thread(out.read_bytes)
    return code, stdout, orjson.loads(written)


async def test_a_target_where_nothing_listens_is_named_and_sends_nothing(tmp_path: Path) -> None:
    code, summary, data = await _loadgen(f"http://127.0.0.1:{free_port()}", tmp_path / "o")
    assert code == 0
    errors = data["errors"]
    assert isinstance(errors, dict)
    assert list(errors) == ["connection refused"]
    metrics = data["metrics"]
    assert isinstance(metrics, dict)
    assert errors["connection refused"] == metrics["http_req_failed"]["values"]["passes"] > 0
    assert metrics["data_sent"]["values"]["count"] == 0
    assert f"connection refused × {errors['connection refused']}" in summary


async def test_http_failures_are_named_by_status(tmp_path: Path) -> None:
    fake = FakeAuth()
    fake.fail_every["login"] = 2
    async with serve(fake):
        code, summary, data = await _loadgen(fake.url, tmp_path / "o")
    assert code == 0
    errors = data["errors"]
    assert isinstance(errors, dict)
    assert list(errors) == ["HTTP 500"]
    assert f"HTTP 500 × {errors['HTTP 500']}" in summary
    metrics = data["metrics"]
    assert isinstance(metrics, dict)
    assert metrics["data_sent"]["values"]["count"] > 0
