"""One rule for the OTLP endpoint, the same in the service, the balancer and the load generator."""

from __future__ import annotations

from pathlib import Path

import pytest

from authscale import otel


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:4318", "https://collector:4318/"])
def test_an_http_endpoint_or_none_is_fine(endpoint: str | None) -> None:
    assert otel.endpoint_problem(endpoint) is None


def test_anything_else_is_refused_by_name() -> None:
    assert otel.endpoint_problem("localhost:4318") == (
        "OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got 'localhost:4318'"
    )


def test_every_program_refuses_the_same_endpoint_with_the_same_words(tmp_path: Path) -> None:
    from balancer.config import BalancerConfig
    from balancer.errors import ConfigError as BalancerConfigError
    from loadgen.config import LoadConfig
    from loadgen.errors import ConfigError as LoadgenConfigError
    from service.config import config_from_environment
    from service.errors import ConfigError as ServiceConfigError
    from service.keys import write_pepper, write_private_key

    words = "OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL, got 'localhost:4318'"
    with pytest.raises(BalancerConfigError) as balancer:
        BalancerConfig(otlp_endpoint="localhost:4318")
    assert words in str(balancer.value)
    with pytest.raises(LoadgenConfigError) as loadgen:
        LoadConfig(target="http://127.0.0.1:1", otlp_endpoint="localhost:4318")
    assert words in str(loadgen.value)
    key, pepper = tmp_path / "jwt.pem", tmp_path / "pepper"
    write_private_key(key)
    write_pepper(pepper)
    env = {
        "AUTH_JWT_PRIVATE_KEY_FILE": str(key),
        "AUTH_TOKEN_PEPPER_FILE": str(pepper),
        "OTEL_EXPORTER_OTLP_ENDPOINT": "localhost:4318",
    }
    with pytest.raises(ServiceConfigError) as service:
        config_from_environment(env)
    assert words in str(service.value)
