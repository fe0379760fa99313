"""The typed application context: what handlers reach through ``app.ctx``."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import asyncpg
from redis.asyncio import Redis

from service.addresses import Network
from service.config import ServiceConfig
from service.metrics import ServiceMetrics
from service.passwords import PasswordHasher, PasswordPolicy
from service.pepper import Pepper
from service.sessions import SessionStore
from service.throttle import LoginThrottle, SignupThrottle
from service.tokens import AccessTokens
from service.users import UserStore


@dataclass(kw_only=True, eq=False)
class ServiceContext:
    """Built by ``create_app``; the stores are attached in ``before_server_start``."""

    config: ServiceConfig
    metrics: ServiceMetrics
    tokens: AccessTokens
    policy: PasswordPolicy
    jwks_body: bytes
    openapi_body: bytes
    pepper: Pepper
    trusted_networks: tuple[Network, ...] = ()
    exempt_networks: tuple[Network, ...] = ()
    stopping: bool = False
    executor: ThreadPoolExecutor = field(init=False)
    hasher: PasswordHasher = field(init=False)
    pool: asyncpg.Pool = field(init=False)
    redis: Redis = field(init=False)
    users: UserStore = field(init=False)
    sessions: SessionStore = field(init=False)
    throttle: LoginThrottle = field(init=False)
    signups: SignupThrottle = field(init=False)
    #: The metrics listener, when AUTH_METRICS_LISTEN is set.
    metrics_server: asyncio.Server | None = None
