"""What `make bench` is asked to do: one frozen dataclass, validated, whose defaults the
command line shows and takes (`lab.experiments.bench.cli`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab import flags
from lab.reporting import mission

TOPOLOGIES: dict[str, tuple[int | None, bool]] = {
    # name: (instances — None means the --instances option —, behind the balancer)
    "single": (1, False),
    "single+lb": (1, True),
    "scaled": (None, True),
}


@dataclass(frozen=True, kw_only=True)
class BenchConfig:
    vus: int = mission.ORIGINAL_VUS  # the original's load
    limited_vus: int = 40
    duration_s: float = 60.0
    warmup_s: float = 15.0
    graceful_stop_s: float = 30.0
    ramp: bool = True
    bcrypt_cost: int = mission.ORIGINAL_BCRYPT_COST
    repeats: int = 1
    instances: int = mission.ORIGINAL_CONTAINERS[1]
    cpus_per_instance: float = 0.5
    series: tuple[str, ...] = ("shared", "limited")
    topologies: tuple[str, ...] = ("single", "single+lb", "scaled")
    scale_max: int = 4
    scale: bool = False
    out_dir: Path = Path("reports")
    loadgen_processes: int = 1
    ceiling_seconds: float = 3.0
    command: str = ""
    #: Exempt the loopback load generator from the services' per-address limits.
    limit_exemption: bool = True

    def __post_init__(self) -> None:
        if self.vus < 1 or self.limited_vus < 1:
            raise ValueError("VUs must be at least 1")
        if self.duration_s <= 0:
            raise ValueError("the window must be longer than 0 s")
        if self.repeats < 1:
            raise ValueError("--repeats must be at least 1")
        if self.instances < 1 or self.scale_max < 1:
            raise ValueError("instance counts must be at least 1")
        if self.instances < 2 and "scaled" in self.topologies and not self.scale:
            raise ValueError(
                "--instances must be at least 2 for the scaled topology: one instance behind "
                "the balancer is single+lb"
            )
        if self.bcrypt_cost not in flags.BCRYPT_COSTS:
            raise ValueError(f"--bcrypt-rounds must be within 4..31, got {self.bcrypt_cost}")
        unknown = set(self.topologies) - set(TOPOLOGIES)
        if unknown:
            raise ValueError(f"unknown topologies {sorted(unknown)}; known: {list(TOPOLOGIES)}")
        if set(self.series) - {"shared", "limited"}:
            raise ValueError("--series takes shared and/or limited")
        if self.cpus_per_instance <= 0:
            raise ValueError(
                f"--cpus-per-instance must be positive, got {self.cpus_per_instance:g}"
            )
