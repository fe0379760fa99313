"""Where the machine cannot limit CPU (no root, no writable cgroup, macOS), the bench runs the
shared-host series, says in one line why the CPU-limited one was skipped and how to get it,
and still writes the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.errors import CpuLimitError, CpuLimitUnavailable
from lab.experiments import bench
from lab.experiments.bench import Bench, BenchConfig
from lab.harness import cpulimit

REFUSAL = "cannot limit instances to 0.5 CPU here: no writable cgroup with the cpu controller"


def refuse(cpus: float) -> cpulimit.CpuLimiter:
    raise CpuLimitUnavailable(REFUSAL)


def _config(tmp_path: Path, **overrides: object) -> BenchConfig:
    settings: dict[str, object] = {
        "vus": 2,
        "limited_vus": 2,
        "duration_s": 1.5,
        "warmup_s": 0.5,
        "graceful_stop_s": 5.0,
        "bcrypt_cost": 4,
        "topologies": ("single",),
        "out_dir": tmp_path / "reports",
        "ceiling_seconds": 0.3,
        "command": "python -m lab bench",
    }
    settings.update(overrides)
    return BenchConfig(**settings)  # type: ignore[arg-type]


def test_a_plan_without_cpu_limits_keeps_the_shared_series(tmp_path: Path) -> None:
    planned = bench.plan(_config(tmp_path))
    kept = bench.without_cpu_limits(planned, CpuLimitUnavailable(REFUSAL))
    assert [s.name for s in planned] == ["shared-host", "cpu-limited"]
    assert [s.name for s in kept] == ["shared-host"]


def test_a_plan_of_only_limited_runs_is_refused_as_asked(tmp_path: Path) -> None:
    planned = bench.plan(_config(tmp_path, series=("limited",)))
    with pytest.raises(CpuLimitUnavailable, match="no writable cgroup"):
        bench.without_cpu_limits(planned, CpuLimitUnavailable(REFUSAL))


@pytest.mark.e2e
@pytest.mark.slow
def test_refused_cpu_limits_skip_the_series_and_the_report_says_why(
    tmp_path: Path,
    database_url: str,
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    folder = Bench(_config(tmp_path), limit_cpu=refuse).run()

    results = json.loads((folder / "results.json").read_text())
    assert [s["name"] for s in results["series"]] == ["shared-host"]
    assert results["series"][0]["runs"][0]["iterations"] > 0
    (note,) = results["notes"]
    assert note.startswith("The CPU-limited series was skipped: " + REFUSAL)
    assert "run the bench as root" in note
    assert "authscale" in results["versions"]
    assert note in (folder / "report.md").read_text()
    assert (folder / "report.html").exists()

    said = capsys.readouterr()
    skipped_lines = [ln for ln in said.err.splitlines() if "CPU-limited series was skipped" in ln]
    assert len(skipped_lines) == 1
    assert "--cpus-per-instance" not in skipped_lines[0].split("To get it")[0]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--series", "foo"], "--series takes shared and/or limited"),
        (["--duration", "abc"], "duration"),
        (["--vus", "0"], "VUs must be at least 1"),
        (["--cpus-per-instance", "0"], "--cpus-per-instance must be positive"),
        (["--cpus-per-instance", "64"], "exceeds the"),
    ],
)
def test_options_that_make_no_sense_are_usage_errors(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        bench.main(argv, prog="authscale lab bench")
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("authscale lab bench: error: ")
    assert says in line


def test_a_limit_asked_wrongly_is_not_skipped_as_unavailable(tmp_path: Path) -> None:
    planned = bench.plan(_config(tmp_path))
    with pytest.raises(CpuLimitError, match="exceeds"):
        cpulimit.choose(10_000.0)
    assert not isinstance(CpuLimitError("x"), CpuLimitUnavailable)
    assert bench.without_cpu_limits(planned, CpuLimitUnavailable(REFUSAL))
