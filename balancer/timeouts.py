"""The timeout rules of client and backend connections, as pure functions of the clock.

The sweeper (:meth:`balancer.proxy.ClientConnection.sweep`, every 0.25 s) asks these and
acts on the answer; tests ask them directly. Which rule applies, in order:

- a request whose body is being read: silent for ``body_timeout``, or not complete
  ``request_timeout`` after its head began → 408 (a slow upload cannot last for ever);
- nothing in progress and a head begun ``header_timeout`` ago → 408 and close (a
  slowloris), or just close when not a byte of it came (a connection opened and left);
- nothing in progress and idle ``keepalive_timeout`` → close;
- a backend silent for ``server_timeout`` while it owes a response → 504, unless the
  client is the slow one (it is not reading what was already sent).
"""

from __future__ import annotations

from enum import Enum


class Expiry(Enum):
    NONE = "none"
    REQUEST = "request"  # the request being read took too long: 408 for it
    HEAD = "head"  # a request head did not complete in time: 408, then close
    ABANDONED = "abandoned"  # a connection that never sent a byte: close quietly
    IDLE = "idle"  # a keep-alive connection idle too long: close


def client_expiry(
    now: float,
    *,
    reading_body: bool,
    body_at: float,
    request_since: float,
    busy: bool,
    head_since: float | None,
    received: bool,
    idle_since: float,
    body_timeout: float,
    request_timeout: float,
    header_timeout: float,
    keepalive_timeout: float,
) -> Expiry:
    """Which client timeout, if any, has run out at ``now`` (see the module docstring).

    ``busy``: the connection has requests in progress (the backend's time is not the
    client's); ``head_since``: when the current head began, None between requests.
    """
    if reading_body and (now - body_at > body_timeout or now - request_since > request_timeout):
        return Expiry.REQUEST
    if busy:
        return Expiry.NONE
    if head_since is not None:
        if now - head_since > header_timeout:
            return Expiry.HEAD if received else Expiry.ABANDONED
        return Expiry.NONE
    if now - idle_since > keepalive_timeout:
        return Expiry.IDLE
    return Expiry.NONE


def backend_silent(now: float, *, last_io: float, server_timeout: float, client_slow: bool) -> bool:
    """Whether a backend that owes a response has been silent too long (504)."""
    return now - last_io > server_timeout and not client_slow
