"""The balancer's exceptions: one tree, rooted at :class:`BalancerError`.

::

    BalancerError
     ├── ConfigError            the configuration is invalid; the balancer refuses to start
     ├── HttpError              ends an exchange with an error response (``status``, ``code``)
     │    ├── ProtocolError      the client sent unacceptable HTTP/1.1 (400, 408, 413, 431, 501)
     │    ├── UpstreamError      a backend could not be used (502, 504)
     │    │    ├── ConnectFailed      no connection was made: nothing was sent, any method may retry
     │    │    ├── ConnectTimeout     the same, but the connection attempt timed out (504)
     │    │    ├── UpstreamReset      the connection broke before a response began
     │    │    ├── UpstreamTimeout    no response in time (504)
     │    │    └── BadResponse        the backend answered with invalid HTTP
     │    └── Unavailable        no backend can take the request now (503 + Retry-After)
     │         ├── NoBackend          every backend is down, draining or disabled
     │         └── QueueFull          the backend queue is full (or the wait timed out:
     │                                code ``queue_timeout``)
     └── AdminError             an admin API request is invalid (``status``, ``code``)

Foreign errors (``OSError``, ``httptools`` parser errors, ``TimeoutError``) are translated
into these at the module that meets them, with ``raise ... from exc``.
"""

from __future__ import annotations


class BalancerError(Exception):
    """Base of every error the balancer raises on purpose."""


class ConfigError(BalancerError):
    """The configuration is invalid; the message says which setting and why."""


class HttpError(BalancerError):
    """An error answered to the client as ``{"error": {"code", "message"}}``."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code


class ProtocolError(HttpError):
    status = 400
    code = "bad_request"


class UpstreamError(HttpError):
    status = 502
    code = "bad_gateway"


class ConnectFailed(UpstreamError):
    code = "upstream_connect_failed"


class ConnectTimeout(ConnectFailed):
    status = 504
    code = "upstream_connect_timeout"


class UpstreamReset(UpstreamError):
    code = "upstream_reset"


class UpstreamTimeout(UpstreamError):
    status = 504
    code = "upstream_timeout"


class BadResponse(UpstreamError):
    code = "bad_upstream_response"


class Unavailable(HttpError):
    status = 503
    code = "service_unavailable"


class NoBackend(Unavailable):
    code = "no_backend_available"


class QueueFull(Unavailable):
    code = "backend_queue_full"


class AdminError(BalancerError):
    """An admin API request that cannot be honoured."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
