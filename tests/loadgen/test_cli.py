"""``python -m loadgen`` as a separate process: exit codes, summary, JSON file."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from loadgen.__main__ import main
from loadgen.flags import build_parser
from tests.loadgen.fakeauth import FakeAuth, serve

ROOT = Path(__file__).resolve().parents[2]


async def run_cli(
    *args: str, signal_when: FakeAuth | None = None, signum: int = signal.SIGINT
) -> tuple[int, str, str]:
    """Run the CLI; with ``signal_when``, send ``signum`` once that fake has seen some load."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "loadgen",
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    if signal_when is not None:
        while signal_when.requests["logout"] < 5:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        process.send_signal(signum)
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
async def fake() -> AsyncIterator[FakeAuth]:
    async with serve(FakeAuth()) as server:
        yield server


async def test_failed_threshold_exits_99_and_the_json_says_why(
    fake: FakeAuth, tmp_path: Path
) -> None:
    out = tmp_path / "results.json"
    code, stdout, stderr = await run_cli(
        "--target",
        fake.url,
        "--vus",
        "2",
        "--duration",
        "1s",
        "--threshold",
        "http_req_duration:p(95)<0.001",
        "--threshold",
        "http_req_failed:rate<0.01",
        "--out",
        str(out),
        "--quiet",
    )
    assert code == 99, stderr
    assert "✗ 'p(95)<0.001'" in stdout
    assert "✓ 'rate<0.01'" in stdout
    data = orjson.loads(out.read_bytes())
    assert data["thresholds_ok"] is False
    assert data["metrics"]["http_req_duration"]["thresholds"] == {"p(95)<0.001": {"ok": False}}
    assert data["metrics"]["iterations"]["values"]["count"] == fake.requests["signup"]
    assert data["config"]["vus"] == 2
    # Against a fake that answers at once the generator itself may run hot on a busy
    # machine and say so, or note the host's contention; nothing else belongs on stderr.
    assert all(
        line.startswith(("warning: load generator", "note: event-loop lag"))
        for line in stderr.splitlines()
    )


async def test_passing_thresholds_exit_0_with_plain_progress_lines(fake: FakeAuth) -> None:
    code, stdout, stderr = await run_cli(
        "--target", fake.url, "--duration", "1s", "--threshold", "checks:rate>0.99"
    )
    assert code == 0, stderr
    assert "█ TOTAL RESULTS" in stdout
    assert stderr.startswith("running ")
    assert "\r" not in stderr


async def test_unknown_threshold_metric_is_an_error_before_the_run() -> None:
    code, _, stderr = await run_cli(
        "--target", "http://127.0.0.1:9", "--threshold", "http_req_duraton:p(95)<500"
    )
    assert code == 2
    assert "unknown metric 'http_req_duraton'" in stderr


def test_a_misspelt_server_timing_phase_is_an_error_before_the_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    threshold = "server_timing_hash_wiat{step:login}:p(95)<100"
    assert main(["--target", "http://127.0.0.1:9", "--threshold", threshold]) == 2
    assert "unknown Server-Timing phase 'hash_wiat'" in capsys.readouterr().err


def test_main_reports_invalid_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--target", "http://h", "--duration", "soon"]) == 2
    assert "invalid duration 'soon'" in capsys.readouterr().err


def test_help_lists_every_option() -> None:
    text = build_parser().format_help()
    for flag in (
        "--target",
        "--vus",
        "--duration",
        "--stage",
        "--rate",
        "--max-vus",
        "--when-busy",
        "--graceful-stop",
        "--think-time",
        "--timeout",
        "--threshold",
        "--out",
        "--quiet",
        "--no-summary",
        "--processes",
        "--run-id",
    ):
        assert flag in text
    assert "99" in text


@pytest.mark.parametrize(("processes", "signum"), [("1", signal.SIGINT), ("2", signal.SIGTERM)])
async def test_a_signal_stops_the_run_early_with_a_summary(
    fake: FakeAuth, tmp_path: Path, processes: str, signum: int
) -> None:
    out = tmp_path / "results.json"
    code, stdout, stderr = await run_cli(
        "--target",
        fake.url,
        "--vus",
        "2",
        "--duration",
        "60s",
        "--processes",
        processes,
        "--out",
        str(out),
        "--quiet",
        signal_when=fake,
        signum=signum,
    )
    assert code == 105, stderr
    assert "(stopped early by a signal)" in stdout
    data = orjson.loads(out.read_bytes())
    assert data["window"]["aborted"] is True
    assert data["state"]["testRunDurationMs"] < 10_000
    assert data["metrics"]["iterations"]["values"]["count"] == fake.requests["signup"] > 0
