"""The Docker platform of the lab: the engine, the images, the stack on a one-node swarm
and the experiment run on it (`python -m lab docker …`, `python -m lab bench --platform
swarm`)."""
