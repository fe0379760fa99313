"""What the measurements are judged against: the original experiment this project re-runs, the
targets its scale-out must meet, and the thresholds that name what limited a run.

Everything the report quotes from the original and every bar the verdict draws lives here, so
a reader checks them in one place and a change to one shows in every sentence that uses it.
The thresholds are deliberately round: the figures in each sentence let the reader judge the
margin.
"""

from __future__ import annotations

from typing import Final

# The original experiment: k6 running the auth scenario, one container, then three behind
# Docker Swarm's load balancer.
ORIGINAL_TOOL: Final = "k6"
ORIGINAL_VUS: Final = 200
ORIGINAL_DURATION_S: Final = 10
#: The bcrypt cost the original's service hashed with.
ORIGINAL_BCRYPT_COST: Final = 10
ORIGINAL_CONTAINERS: Final = (1, 3)
#: Its req/s with ORIGINAL_CONTAINERS: +5.7 %, the gain this project set out to explain.
ORIGINAL_REQ_PER_S: Final = (125.76, 132.93)
#: The rows of the original's table, and of ours beside it.
METRICS: Final = ("avg response", "req/s", "iteration avg", "max latency", "success rate")
#: The original's figures in METRICS order (ms, req/s, s, s, fraction), per ORIGINAL_CONTAINERS.
ORIGINAL_TABLE: Final = ((489.67, 125.76, 5.96, 2.24, 1.0), (406.03, 132.93, 5.62, 2.40, 1.0))
#: How the original ran, in the words the report's table and headline chart use.
ORIGINAL_SETTING: Final = f"{ORIGINAL_TOOL}, {ORIGINAL_VUS} VUs, {ORIGINAL_DURATION_S} s"

# The done-when targets.
#: Efficiency (iterations/s ÷ bcrypt ceiling) one instance must reach on the shared host.
SINGLE_EFFICIENCY: Final = 0.90
#: req/s of `scaled` over `single` the CPU-limited series must reach (3 instances: 90 % of linear).
SCALED_RATIO: Final = 2.7
#: Share of checks that must pass in every run.
SUCCESS: Final = 1.0

# What limited a run (see `lab.reporting.verdict.classify`).
#: Average cores at which a single-threaded part (balancer loop, Redis, load generator) is full.
ONE_CORE: Final = 0.85
#: Share of the busy CPU at which Postgres or Redis is called the limit…
INFRA_SHARE: Final = 0.30
#: …and below which they are called negligible.
INFRA_NEGLIGIBLE: Final = 0.10
#: One instance behind the balancer doing less than this share of its req/s alone: the
#: balancer limited it.
BALANCER_KEEPS: Final = 0.80
#: Efficiency from which saturated cores are called bcrypt-bound rather than busy elsewhere.
NEAR_CEILING: Final = 0.85
#: Host busy (no CPU limits), or share of the instances' quotas used, that counts as saturated.
SATURATED: Final = 0.90

# What scale-out bought.
#: Growth of the usable cores below this is no growth (rounding of quotas).
CORES_GREW: Final = 1.05
#: Throughput that grew at least this share of the usable cores followed them.
FOLLOWED_CORES: Final = 0.9
#: A req/s ratio above this is a gain; at or below it, none.
GAINED: Final = 1.1
#: Share of linear scaling from which scale-out is said to work.
NEAR_LINEAR: Final = 0.9

# Where the time went (on latency).
#: Postgres + Redis at or above this share of an iteration's request time limited latency…
STORES_LIMIT: Final = 0.30
#: …below this they are negligible; in between they are a noticeable part.
STORES_NEGLIGIBLE: Final = 0.10
#: Share of login's latency spent waiting for a hashing thread from which queueing for bcrypt
#: is named as where the time goes.
MOSTLY_WAITING: Final = 0.5
