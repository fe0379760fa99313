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
    argv += ["--vus", "4", "--limited-vus", "2", "--bcrypt-rounds", "4", "--graceful-stop", "5s"]
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


def test_the_ceiling_brackets_each_series_and_the_time_is_broken_down(
    bench_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    done, out = bench_run
    assert done.returncode == 0, done.stderr[-3000:]
    (folder,) = [p for p in out.iterdir() if p.is_dir()]
    results = json.loads((folder / "results.json").read_text())
    names = [s["name"] for s in results["series"]]

    ceiling = results["ceiling"]
    taken = [m["taken"] for m in ceiling["measurements"]]
    assert taken == [f"before {names[0]}", *(f"after {name}" for name in names)]
    pairs = [m["pairs_per_s_parallel"] for m in ceiling["measurements"]]
    assert ceiling["pairs_per_s_parallel"] == max(pairs)
    assert ceiling["spread"] == pytest.approx((max(pairs) - min(pairs)) / max(pairs), abs=1e-4)
    for series, before, after in zip(results["series"], pairs, pairs[1:], strict=False):
        assert series["ceiling_pairs_per_s"] == [before, after]
        for run in series["runs"]:
            assert run["ceiling_iterations_per_s"] == pytest.approx(
                max(pairs) * run["usable_cores"] / ceiling["threads"]
            )
            if run["efficiency"] > 1.0:
                assert not run["sound"]
                assert any("exceeds 1.0" in why for why in run["unsound_reasons"])

    for series in results["series"]:
        for run in series["runs"]:
            timing = run["where_the_time_went"]
            assert set(timing) == {"signup", "login", "refresh", "logout"}, run["topology"]
            for step, went in timing.items():
                segments = went["segments_ms"]
                assert min(segments.values()) >= 0
                # the segments add up to what the client measured, within a millisecond or 5 %
                assert sum(segments.values()) == pytest.approx(
                    went["duration_ms"], rel=0.05, abs=1.0
                ), step
            assert timing["login"]["phases"]["hash"]["avg"] > 0
            assert "hash_wait" in timing["signup"]["phases"]
            assert ("lb_ttfb" in timing["login"]["phases"]) == run["balancer"]

    md = (folder / "report.md").read_text()
    assert md.index("## The answer") < md.index("## Verdict")
    assert "![Does adding instances add throughput?" in md
    assert "waiting for a hashing thread was" in md
    assert "Every measurement of the bcrypt ceiling" in md
    assert (folder / "headline.png").stat().st_size > 5_000
    assert (folder / f"time-{names[0]}.png").stat().st_size > 5_000
    assert "The answer:" in done.stdout
