"""The chaos registry: every scenario is one object with a name, a title, a fault and a
judge, listed once; the command's options and flags come from it (no sockets here)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lab.experiments.chaos import command, registry
from lab.experiments.chaos.options import ChaosOptions
from lab.experiments.chaos.scenario import ChaosSettings
from lab.experiments.chaos.verdict import ScenarioVerdict


def test_the_scenarios_run_in_their_documented_order() -> None:
    assert registry.NAMES == ("kill", "rolling", "redis", "postgres", "overload")


def test_names_are_unique() -> None:
    assert len(set(registry.NAMES)) == len(registry.SCENARIOS)


@pytest.mark.parametrize("scenario", registry.SCENARIOS, ids=registry.NAMES)
def test_every_scenario_has_a_title_a_fault_and_a_judge(scenario: Any) -> None:
    assert scenario.name
    assert scenario.name == scenario.name.strip().lower()
    assert scenario.title.strip()
    assert asyncio.iscoroutinefunction(scenario.fault)
    assert callable(scenario.judge)
    assert not asyncio.iscoroutinefunction(scenario.judge)
    assert registry.scenario(scenario.name) is scenario


def test_titles_are_unique() -> None:
    titles = [scenario.title for scenario in registry.SCENARIOS]
    assert len(set(titles)) == len(titles)


def test_an_unknown_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        registry.scenario("meteor")


def test_the_options_and_the_flag_default_to_every_scenario(tmp_path: Path) -> None:
    assert ChaosOptions(run_dir=tmp_path).scenarios == registry.NAMES
    assert command.parser().parse_args([]).scenarios == "kill,rolling,redis,postgres,overload"


def test_only_overload_bounds_the_balancer_and_takes_its_own_users() -> None:
    settings = ChaosSettings(vus=7, overload_vus=70, maxconn=2, maxqueue=3)
    for scenario in registry.SCENARIOS:
        args = scenario.balancer_args(settings)
        if scenario.name == "overload":
            assert scenario.vus(settings) == 70
            assert args[:4] == ("--maxconn", "2", "--maxqueue", "3")
            assert "--queue-timeout" in args
            assert "--server-timeout" in args
        else:
            assert scenario.vus(settings) == 7
            assert args == ()


def test_only_the_store_restarts_skip_external_stores_and_keep_survivors() -> None:
    external = SimpleNamespace(redis=None, postgres=None)
    embedded = SimpleNamespace(redis=object(), postgres=object())
    for scenario in registry.SCENARIOS:
        store = scenario.name in ("redis", "postgres")
        assert (scenario.skip(external) is not None) is store  # type: ignore[arg-type]
        assert scenario.skip(embedded) is None  # type: ignore[arg-type]
        assert (scenario.survivors is not None) is store
    reasons = [registry.scenario(n).skip(external) for n in ("redis", "postgres")]  # type: ignore[arg-type]
    assert reasons == [
        "Redis is external (REDIS_URL): the lab cannot restart it",
        "PostgreSQL is external (DATABASE_URL): the lab cannot restart it",
    ]


def test_a_verdict_keeps_the_fields_verdicts_json_has() -> None:
    verdict = ScenarioVerdict("kill", skipped="why")
    assert asdict(verdict) == {"scenario": "kill", "checks": [], "figures": {}, "skipped": "why"}
    assert verdict.lines("a title") == ["== kill: a title ==", "SKIP kill: why"]
