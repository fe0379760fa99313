"""Translation of redis-py failures into the service's exceptions."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from service.errors import ServiceError, Unavailable


@contextlib.contextmanager
def translate_redis_errors() -> Iterator[None]:
    """Redis down or slow → :class:`Unavailable`; any other Redis error → ServiceError."""
    try:
        yield
    except (RedisConnectionError, RedisTimeoutError, OSError, TimeoutError) as exc:
        raise Unavailable("the session store is unavailable") from exc
    except RedisError as exc:
        raise ServiceError(f"unexpected Redis error: {exc}") from exc
