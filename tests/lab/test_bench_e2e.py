"""A short real bench: real processes end to end, and the report files it must write."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def bench_run(
    tmp_path_factory: pytest.TempPathFactory, database_url: str, redis_url: str
) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "DATABASE_URL": database_url, "REDIS_URL": redis_url}
    argv = [sys.executable, "-m", "lab", "bench", "--duration", "2s", "--warmup", "1s"]
    argv += ["--vus", "4", "--limited-vus", "2", "--bcrypt-cost", "4", "--graceful-stop", "5s"]
    argv += ["--topologies", "single,scaled", "--instances", "2", "--out", str(out)]
    done = subprocess.run(argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    return done, out


def test_the_bench_ends_by_naming_its_report(
    bench_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = bench_run
    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith("report: ")
    folder = Path(last.removeprefix("report: "))
    assert folder.parent == out
    assert "The original experiment" in done.stdout
    assert "Verdict:" in done.stdout
    assert "[4/4] cpu-limited/scaled" in done.stderr


def test_the_report_folder_holds_every_file_with_its_fields(
    bench_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = bench_run
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    names = {p.name for p in folder.iterdir()}
    assert {"report.md", "report.html", "results.json"} <= names
    charts = [folder / n for n in names if n.endswith(".png")]
    assert len(charts) >= 3
    assert all(c.read_bytes().startswith(b"\x89PNG") for c in charts)

    results = json.loads((folder / "results.json").read_text())
    assert results["parameters"]["bcrypt_cost"] == 4
    assert results["ceiling"]["pairs_per_s_parallel"] > 0
    assert [s["name"] for s in results["series"]] == ["shared-host", "cpu-limited"]
    for series in results["series"]:
        assert [r["topology"] for r in series["runs"]] == ["single", "scaled"]
        for run in series["runs"]:
            assert run["iterations"] > 0
            assert run["req_per_s"] > 0
            assert run["http_req_failed_rate"] == 0
            assert run["efficiency"] > 0
            assert set(run["steps"]) == {"signup", "login", "refresh", "logout"}
            cpu = run["cpu_seconds"]
            assert {"postgres", "redis", "loadgen", "service_1"} <= set(cpu)
            assert cpu["service_1"] > 0
            assert 0 < run["host"]["utilisation"] <= 1.05
            assert isinstance(run["sound"], bool)
        scaled = series["runs"][1]
        assert {"service_2", "balancer"} <= set(scaled["cpu_seconds"])
    limited = results["series"][1]
    assert limited["cpus_per_instance"] == 0.5
    assert limited["runs"][1]["ceiling_iterations_per_s"] == pytest.approx(
        2 * limited["runs"][0]["ceiling_iterations_per_s"]
    )

    md = (folder / "report.md").read_text()
    assert "## Verdict" in md
    assert "125.76" in md
    html = (folder / "report.html").read_text()
    assert html.count("data:image/png;base64,") == len(charts)
