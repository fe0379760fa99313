"""Fault scenarios under load (`python -m lab chaos`).

Rooms: ``command`` the command line; ``options`` what it asks for; ``runner`` a scenario's
run (fresh topology, load, fault, judge, shared checks); ``scenario`` what a scenario is;
``registry`` every scenario once; one module per scenario (``kill``, ``rolling_restart``,
``redis_restart``, ``postgres_restart``, ``overload``; ``store_restart`` is what the two store
scenarios share); ``load`` the chaos client; ``survivors`` users kept across a restart;
``figures`` the judges' shared figures; ``verdict`` a scenario's verdict; ``memory`` peak
RSS; ``integrity`` what the stores hold against what the clients were told.
"""
