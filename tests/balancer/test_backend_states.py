"""Backend states as named values whose words the admin API, logs and metrics show unchanged."""

from __future__ import annotations

import json

import orjson

from balancer.backends import AdminState, BackendSet, BackendState
from balancer.metrics import STATES
from balancer.selection import RoundRobin


def test_states_serialize_as_their_words() -> None:
    assert orjson.dumps({"state": BackendState.DRAINING}) == b'{"state":"draining"}'
    assert json.dumps([AdminState.DISABLED]) == '["disabled"]'
    assert f"{BackendState.UP} {AdminState.ENABLED}" == "up enabled"
    assert [str(state) for state in STATES] == ["up", "down", "draining", "disabled"]


def test_reported_state_is_the_admin_state_unless_enabled() -> None:
    backends = BackendSet(RoundRobin(), rise=2, fall=3)
    backend = backends.add("http://127.0.0.1:9")
    assert backend.state is BackendState.UP
    assert backend.available
    for admin, reported in (
        (AdminState.DRAINING, BackendState.DRAINING),
        (AdminState.DISABLED, BackendState.DISABLED),
    ):
        backends.set_admin_state(backend.id, admin)
        assert backend.state is reported
        assert backends.available == []
    backends.set_admin_state(backend.id, AdminState.ENABLED)
    assert backends.available == [backend]
    backends.remove(backend.id)
    assert backend.id not in backends.backends
    assert backend.admin_state is AdminState.DRAINING
