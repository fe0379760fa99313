"""The experiments, each a command of ``python -m lab``:

- ``bench`` — the scale-out experiment and its report (``bench``, ``bench-scale``);
  ``loadrun`` runs the load generator as its own process while the CPU of every component
  is sampled, for the bench and bench-overhead alike.
- ``chaos`` — fault scenarios under load, one module per scenario, each with its verdict.
- ``rolling`` — drain, restart and re-enable instances one at a time (``rolling-restart``).
- ``proxybench`` — the balancer's CPU per request beside HAProxy's and nginx's.
- ``servicebench`` — the service's CPU per request beside bare Sanic's; ``servicerun`` what
  it shares with ``timingbench`` (what Server-Timing costs; arithmetic in ``timingcost``).
- ``overhead`` — the service's CPU outside bcrypt as users grow, by thread and by where it ran.
- ``loadgenbench`` — the load generator's own cost and its largest sustainable rate.
"""
