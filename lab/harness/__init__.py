"""The harness: what every experiment stands on — the stores, the processes, the CPU.

Its rooms:

- ``infra`` — the front door to PostgreSQL and Redis: the servers named by DATABASE_URL and
  REDIS_URL, or embedded ones (``postgres``, ``redis``, sharing ``servers``), one owner per
  state folder (``ownership``); ``infra_cli`` is ``lab infra up|down``.
- ``topology`` — N service instances, optionally behind the balancer, started and stopped
  as one; ``up`` is ``lab up``.
- ``procs`` — child processes that cannot outlive the lab, ports, waiting; ``signals`` —
  SIGTERM as Ctrl-C, and the foreground shape (start, print ``ready``, hold).
- ``cpulimit`` — a CPU quota (or pinning) per instance; ``cpuacct`` — CPU seconds per
  component over a measured window.
- ``authclient`` and ``adminclient`` — the lab's one client of the service's auth API and of
  the balancer's admin API.
- ``config`` — the only module that reads the environment; ``progress`` — the live line.
"""
