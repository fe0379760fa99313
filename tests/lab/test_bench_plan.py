"""The bench's plan and settings: which runs, in which order, the options it refuses, and
the command line's defaults, which are the settings' own."""

from __future__ import annotations

import pytest

from lab.experiments import bench
from lab.experiments.bench import cli
from lab.reporting import ceiling


def test_default_plan_is_three_topologies_in_two_series() -> None:
    series = bench.plan(bench.BenchConfig())
    assert [s.name for s in series] == ["shared-host", "cpu-limited"]
    assert [(r.topology, r.instances, r.balancer) for r in series[0].runs] == [
        ("single", 1, False),
        ("single+lb", 1, True),
        ("scaled", 3, True),
    ]
    assert series[0].vus == 200
    assert series[1].vus == 40
    assert series[1].cpus_per_instance == 0.5


def test_scale_plan_counts_instances_up() -> None:
    (series,) = bench.plan(bench.BenchConfig(scale=True, scale_max=4, repeats=2))
    assert [r.instances for r in series.runs] == [1, 1, 2, 2, 3, 3, 4, 4]
    quota = series.cpus_per_instance
    assert ceiling.usable_cores(quota, series.runs[-1].instances, 2) == 2.0
    assert ceiling.usable_cores(quota, series.runs[0].instances, 2) == 0.5
    assert ceiling.usable_cores(None, 3, 2) == 2.0


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown topologies"):
        bench.BenchConfig(topologies=("single", "triple"))
    with pytest.raises(ValueError, match="repeats"):
        bench.BenchConfig(repeats=0)
    with pytest.raises(ValueError, match="at least 2 for the scaled topology"):
        bench.BenchConfig(instances=1)
    with pytest.raises(ValueError, match=r"4\.\.31"):
        bench.BenchConfig(bcrypt_cost=3)
    # Without the scaled topology, or counting up from one, a single instance is fine.
    bench.BenchConfig(instances=1, topologies=("single", "single+lb"))
    bench.BenchConfig(instances=1, scale=True)


def test_the_command_line_defaults_are_the_settings_defaults() -> None:
    bench_config = cli._config(
        cli.parser("python -m lab bench", scale=False).parse_args([]),
        scale=False,
        argv=[],
        prog="python -m lab bench",
    )
    assert bench_config == bench.BenchConfig(command="python -m lab bench")
    scale_config = cli._config(
        cli.parser("python -m lab bench-scale", scale=True).parse_args(["--max-instances", "3"]),
        scale=True,
        argv=["--max-instances", "3"],
        prog="python -m lab bench-scale",
    )
    assert scale_config == bench.BenchConfig(
        scale=True, scale_max=3, command="python -m lab bench-scale --max-instances 3"
    )
