"""`make bench` / `python -m lab bench`: the scale-out experiment, measured and explained.

Two series of three topologies each: on the shared host with the original parameters
(200 VUs, bcrypt cost 10), then with a CPU quota per instance so that every instance behaves
like a machine of its own. `bench-scale` measures 1…N instances under such quotas and fits
Amdahl's law and the Universal Scalability Law to the curve.

Rooms: ``config`` what a bench is asked to do (the defaults); ``plan`` which runs, in which
order; ``measure`` one run and one ceiling measurement, as every platform makes them;
``runner`` the bench on this machine's processes; ``machine`` the machine's description;
``assembly`` the measurements as the typed results; ``cli`` the command line.
(`lab.docker.swarmbench` runs the same plan on Docker Swarm.)
"""

from lab.experiments.bench.cli import main, main_scale, parser
from lab.experiments.bench.config import TOPOLOGIES, BenchConfig
from lab.experiments.bench.plan import RunSpec, SeriesSpec, plan, without_cpu_limits
from lab.experiments.bench.runner import Bench

__all__ = [
    "TOPOLOGIES",
    "Bench",
    "BenchConfig",
    "RunSpec",
    "SeriesSpec",
    "main",
    "main_scale",
    "parser",
    "plan",
    "without_cpu_limits",
]
