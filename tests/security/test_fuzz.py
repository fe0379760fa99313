"""Property-based fuzzing of every route the service describes in its OpenAPI document
(schemathesis), through the balancer: valid and invalid requests alike must never get a
5xx. Bounded: a few examples per route and mode, no example database, well under 30 s."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.result import Err

from lab.harness.topology import Topology

if TYPE_CHECKING:
    # The OpenAPI flavours of the generic operation and case; the aliases exist for type
    # checkers only.
    from schemathesis.specs.openapi.schemas import OpenApiCase, OpenApiOperation, OpenApiSchema

pytestmark = pytest.mark.integration

EXAMPLES_PER_ROUTE = 12


@pytest.fixture(scope="module")
def openapi(stack: Topology) -> OpenApiSchema:
    document = requests.get(f"{stack.entry_url}/openapi.json", timeout=5).json()
    return schemathesis.openapi.from_dict(document)


def operations(schema: OpenApiSchema) -> list[OpenApiOperation]:
    found: list[OpenApiOperation] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        found.append(result.ok())
    assert found, "the OpenAPI document describes no operation"
    return found


def test_the_document_describes_every_auth_route(openapi: OpenApiSchema) -> None:
    described = {(op.method.upper(), op.path) for op in operations(openapi)}
    for route in [
        ("POST", "/auth/signup"),
        ("POST", "/auth/login"),
        ("POST", "/auth/refresh"),
        ("POST", "/auth/logout"),
        ("GET", "/auth/me"),
    ]:
        assert route in described


def fuzz_operation(
    strategy: st.SearchStrategy[OpenApiCase], send: Callable[[OpenApiCase], None]
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_ROUTE,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def fuzz(case: OpenApiCase) -> None:
        send(case)

    # Unsatisfiable: nothing of the route can be made invalid (a GET without parameters).
    with contextlib.suppress(Unsatisfiable):
        fuzz()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_route_answers_5xx_to_generated_requests(
    openapi: OpenApiSchema, stack: Topology, mode: GenerationMode
) -> None:
    server_errors: list[str] = []
    sent = 0
    with requests.Session() as session:

        def send(case: OpenApiCase) -> None:
            nonlocal sent
            response = case.call(base_url=stack.entry_url, session=session, timeout=10)
            sent += 1
            if response.status_code >= 500:
                server_errors.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code} "
                    f"{response.content[:200]!r} for {case.body!r}"
                )

        for operation in operations(openapi):
            fuzz_operation(operation.as_strategy(generation_mode=mode), send)
    assert sent > EXAMPLES_PER_ROUTE
    assert server_errors == []
