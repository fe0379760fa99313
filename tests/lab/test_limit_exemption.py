"""The lab's load generator runs on loopback: its commands exempt it from the services'
per-address limits by default, say so, and keep every limit on when asked."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab.experiments import bench
from lab.experiments.chaos import command as chaos
from lab.harness import up
from lab.harness.topology import (
    LOOPBACK_CIDRS,
    Instance,
    Topology,
    TopologyConfig,
    describe_exemption,
    limit_exemption,
)


def service_env(tmp_path: Path, **changes: object) -> dict[str, str]:
    config = TopologyConfig(
        instances=1,
        balancer=True,
        database_url="postgresql://x@127.0.0.1:1/x",
        redis_url="redis://127.0.0.1:1/0",
        run_dir=tmp_path,
        **changes,  # type: ignore[arg-type]
    )
    topology = Topology(config)
    topology.key_file = tmp_path / "key"
    topology.pepper_file = tmp_path / "pepper"
    return topology._service_env(Instance(name="service_1", port=1, metrics_port=2))


def test_exempt_cidrs_reach_the_instances_only_when_given(tmp_path: Path) -> None:
    exempt = service_env(tmp_path, limit_exempt=limit_exemption(True))
    assert exempt["AUTH_RATE_LIMIT_EXEMPT"] == ",".join(LOOPBACK_CIDRS)
    assert "AUTH_RATE_LIMIT_EXEMPT" not in service_env(tmp_path, limit_exempt=())


def test_instances_behind_the_balancer_trust_only_loopback_for_x_forwarded_for(
    tmp_path: Path,
) -> None:
    env = service_env(tmp_path)
    assert env["AUTH_TRUSTED_PROXIES"] == "1"
    assert env["AUTH_TRUSTED_PROXY_ADDRS"] == ",".join(LOOPBACK_CIDRS)
    assert env["AUTH_TOKEN_PEPPER_FILE"] == str(tmp_path / "pepper")
    assert env["AUTH_METRICS_LISTEN"] == "127.0.0.1:2"


def test_the_line_says_what_is_exempt_and_how_to_keep_limits_on() -> None:
    on = describe_exemption(limit_exemption(True))
    assert "127.0.0.0/8" in on
    assert "--no-limit-exemption" in on
    assert "every per-address limit is on" in describe_exemption(limit_exemption(False))


@pytest.mark.parametrize(
    ("parse", "argv"),
    [
        (lambda argv: up.parser().parse_args(argv), []),
        (lambda argv: chaos.parser().parse_args(argv), []),
        (lambda argv: bench.parser("python -m lab bench", scale=False).parse_args(argv), []),
    ],
)
def test_every_command_takes_no_limit_exemption(parse: object, argv: list[str]) -> None:
    assert parse(argv).no_limit_exemption is False  # type: ignore[operator]
    assert parse([*argv, "--no-limit-exemption"]).no_limit_exemption is True  # type: ignore[operator]


def test_the_bench_exempts_by_default() -> None:
    assert bench.BenchConfig().limit_exemption is True
