"""The lab: starts the topology, runs the experiments, measures CPU per component and writes
the reports (``python -m lab <command>`` or ``authscale lab <command>``; needs the ``lab``
extra).

Its rooms, each a package whose docstring names its modules:

- ``harness`` — what every experiment stands on: PostgreSQL and Redis (given or embedded),
  topologies of service instances and the balancer, processes, CPU limits and accounting,
  the lab's auth and admin clients.
- ``experiments`` — the experiments: the scale-out bench, chaos scenarios, the rolling
  restart and the benchmarks of the balancer, the service, its overhead and the load
  generator.
- ``reporting`` — the typed results model and its one JSON schema, the verdict
  (classification, then prose), fits, charts and the report.
- ``docker`` — the same experiment on a Docker engine and a one-node Swarm.

Beside them: ``errors`` (the lab's exception tree), ``flags`` (option types every command
shares), ``resolve`` (does ``authscale[lab]`` install on each supported Python and
platform) and ``__main__`` (the commands).
"""
