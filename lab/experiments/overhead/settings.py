"""What one bench-overhead run measures, checked before anything starts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lab import flags

#: strace (and then py-spy) attaches this long after its phase begins (the load generator
#: takes ~1 s to start) and detaches this long before it ends, so the service settles first.
STRACE_MARGIN_S = 1.0


@dataclass(frozen=True, kw_only=True)
class OverheadConfig:
    vus: tuple[int, ...] = (10, 200)
    bcrypt_cost: int = 10
    warmup_s: float = 10.0
    duration_s: float = 30.0
    strace_s: float = 8.0  # the strace phase between ramp and window; 0: none
    profile_s: float = 8.0  # the py-spy phase after it, before the window; 0: none
    graceful_stop_s: float = 30.0
    out_dir: Path = Path("reports")
    limit_exemption: bool = True

    def __post_init__(self) -> None:
        if not self.vus or min(self.vus) < 1:
            raise ValueError("--vus takes VU counts of at least 1, e.g. 10,200")
        if self.bcrypt_cost not in flags.BCRYPT_COSTS:
            raise ValueError("--bcrypt-rounds must be within 4..31")
        if self.duration_s <= 0 or self.warmup_s < 0 or self.graceful_stop_s < 0:
            raise ValueError("the window must be longer than 0 s, the others at least 0 s")
        if self.strace_s and self.strace_s < 2 * STRACE_MARGIN_S + 1:
            raise ValueError("--strace-duration must be 0 (no strace) or at least 3s")
        if self.profile_s and self.profile_s < 2 * STRACE_MARGIN_S + 1:
            raise ValueError("--profile-duration must be 0 (no profile) or at least 3s")
