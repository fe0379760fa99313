"""Translation of redis-py failures into the service's exceptions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from time import perf_counter

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service import timing
from service.errors import ServiceError, Unavailable


@contextlib.contextmanager
def translate_redis_errors() -> Iterator[None]:
    """Redis down or slow → :class:`Unavailable`; any other Redis error → ServiceError.

    Every Redis call passes here, so the time inside is the request's ``redis`` phase.
    """
    started = perf_counter()
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError) as exc:
        raise Unavailable("the session store is unavailable") from exc
    except RedisError as exc:
        raise ServiceError(f"unexpected Redis error: {exc}") from exc
    finally:
        timing.add_elapsed(timing.REDIS, started)
