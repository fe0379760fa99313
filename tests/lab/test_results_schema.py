"""One schema for results.json: the bench builds the typed `Results`, which writes the file
and reads it back; the file stays field for field what the bench wrote before it was typed,
and every committed results.json still reads."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from lab.experiments import bench
from lab.experiments.bench import assembly
from lab.reporting import ceiling, records
from lab.reporting.codec import encode
from lab.reporting.results import Machine, Results, Run, dump_results, load_results
from tests.lab.test_records import loadgen_output

DATA = Path(__file__).parent / "data"
COMMITTED = sorted((Path(__file__).parents[2] / "docs" / "results").glob("*/results.json"))


def _measured(pairs_per_s: float, taken: str) -> ceiling.Ceiling:
    return ceiling.Ceiling(
        bcrypt_cost=4,
        hash_ms=1.23456,
        verify_ms=1.1111,
        threads=2,
        pairs_per_s_parallel=pairs_per_s,
        pairs_per_s_single_thread=pairs_per_s / 1.9,
        taken=taken,
    )


def _run(spec: bench.SeriesSpec, run: bench.RunSpec, i: int, k: int, best: float) -> Run:
    cores = ceiling.usable_cores(spec.cpus_per_instance, run.instances, 2)
    return records.measured_run(
        loadgen_output(iterations=600 + 10 * i + k, vus=spec.vus, least=2 + i % 2),
        topology=run.topology,
        instances=run.instances,
        balancer=run.balancer,
        repeat=run.repeat,
        cpu={
            "cpu_seconds": {"service_1": 30.123, "loadgen": 2.5},
            "host": {"cpu_seconds_busy": 35.0 + i, "utilisation": 0.4567},
        },
        ceiling_iterations_per_s=best * cores / 2,
        cpu_timeline=[{"t": 0.0, "service_1": 0.75}, {"t": 1.0, "service_1": 0.8}],
        usable_cores=cores,
    )


def fixture_bench(*, scale: bool) -> Results:
    """A bench of fixed measurements, assembled as the bench assembles its own."""
    cfg = bench.BenchConfig(
        vus=20,
        limited_vus=8,
        duration_s=40.0,
        bcrypt_cost=4,
        repeats=2 if scale else 1,
        scale=scale,
        scale_max=2,
        command="python -m lab bench --x",
    )
    planned = bench.plan(cfg)
    found = [_measured(400.123456, f"before {planned[0].name}")]
    series, around = [], {}
    for k, spec in enumerate(planned):
        before = found[-1]
        best = ceiling.best(found).pairs_per_s_parallel
        runs = [_run(spec, run, i, k, best) for i, run in enumerate(spec.runs)]
        found.append(_measured(390.0 + 20 * k, f"after {spec.name}"))
        around[spec.name] = (before, found[-1])
        series.append(
            assembly.series_record(
                cfg,
                spec,
                runs,
                (before, found[-1]),
                host_cores=2,
                label=spec.label,
                limit_method="cgroup",
            )
        )
    judged = assembly.judged_against_best(series, ceiling.best(found), around, 2)
    measured = assembly.Measured(
        started=datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC),
        finished=datetime(2026, 11, 30, 12, 30, 0, tzinfo=UTC),
        machine=Machine(cores=2, cpu_model="x", kernel="6", python="3.12", memory_gib=4.0),
        infra={"postgres": "16", "redis": "7"},
        ceilings=found,
        notes=["a note"],
        versions={"authscale": "0.1"},
        platform=None if scale else "swarm",
    )
    return assembly.assemble(cfg, measured, judged)


@pytest.mark.parametrize("kind", ["bench", "scale"])
def test_results_json_is_written_field_for_field_as_before(kind: str) -> None:
    # Written by the bench when it assembled results.json as dicts, from the same fixture.
    before = json.loads((DATA / "results_as_written.json").read_text())[kind]
    written = fixture_bench(scale=kind == "scale").to_dict()
    assert json.dumps(written, indent=1) == json.dumps(before, indent=1)


@pytest.mark.parametrize("scale", [False, True])
def test_results_read_back_equal_what_was_written(scale: bool, tmp_path: Path) -> None:
    built = fixture_bench(scale=scale)
    dump_results(built, tmp_path / "results.json")
    read = load_results(tmp_path / "results.json")
    assert read == built
    assert read.to_dict() == built.to_dict()


@pytest.mark.parametrize("path", COMMITTED, ids=lambda p: p.parent.name)
def test_every_committed_results_file_still_reads(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    results = load_results(path)
    assert results.series
    assert all(s.runs for s in results.series)
    again = Results.from_dict(results.to_dict())
    assert again == results
    # What the model does not know is kept, so nothing a file holds is lost on rewriting.
    assert set(results.to_dict()) >= set(doc)


def test_a_ceiling_measurement_and_the_kept_one_are_one_class() -> None:
    found = [_measured(15.2, "before shared-host"), _measured(16.0, "after x")]
    kept = ceiling.kept(found)
    assert isinstance(kept, ceiling.Ceiling)
    assert all(isinstance(m, ceiling.Ceiling) for m in kept.measurements)
    assert kept.taken == "after x"
    written = encode(kept)
    read = Results.from_dict({**fixture_bench(scale=False).to_dict(), "ceiling": written})
    assert read.to_dict()["ceiling"] == written


@pytest.mark.parametrize("name", ["bench", "swarm"])
def test_a_committed_file_of_this_schema_is_rewritten_byte_for_byte(
    name: str, tmp_path: Path
) -> None:
    committed = Path(__file__).parents[2] / "docs" / "results" / name / "results.json"
    dump_results(load_results(committed), tmp_path / "results.json")
    assert (tmp_path / "results.json").read_text() == committed.read_text()
