"""The Docker platform of the lab: the engine, the images, the stack on a one-node swarm
and the experiment run on it (`python -m lab docker …`, `python -m lab bench --platform
swarm`).

Rooms: ``engine`` (a dockerd that answers, or one of the lab's own under its state folder),
``images`` (what the stack needs, built here when nothing can be pulled), ``stack`` (deploy
docker/stack.yml, wait for healthy replicas, remove it), ``stacksecrets`` (the secrets it
expects, generated fresh), ``cgroupcpu`` (a container's CPU from its cgroup), ``netclean``
(what a stopped engine leaves in the host's network, removed), ``swarmbench`` (the bench's
plan on the swarm), ``cli`` (``lab docker images|up|down``), ``errors``.
"""
