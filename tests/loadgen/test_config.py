import pytest

from loadgen.config import (
    CONSTANT_ARRIVAL_RATE,
    CONSTANT_VUS,
    RAMPING_VUS,
    LoadConfig,
    config_from_args,
    new_run_id,
)
from loadgen.errors import ConfigError, ThresholdError
from loadgen.schedule import Stage, parse_duration, parse_rate, parse_stage


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10s", 10), ("1m30s", 90), ("500ms", 0.5), ("2h", 7200), ("2.5", 2.5), ("1m", 60)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10x", "s10", "1m 30s", "-3"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration(text)


def test_rates_and_stages() -> None:
    assert parse_rate("50/s") == 50
    assert parse_rate("600/m") == 10
    assert parse_rate("10/2s") == 5
    assert parse_rate("7") == 7
    assert parse_stage("30s:200") == Stage(30.0, 200)
    with pytest.raises(ConfigError, match="rate"):
        parse_rate("fast")
    with pytest.raises(ConfigError, match="stage"):
        parse_stage("30s")


def test_executor_follows_the_options_like_k6_shortcuts() -> None:
    assert config_from_args(["--target", "http://h"]).executor == CONSTANT_VUS
    ramping = config_from_args(["--target", "http://h", "--stage", "5s:10", "--stage", "5s:0"])
    assert ramping.executor == RAMPING_VUS
    assert ramping.window_s == 10
    assert ramping.vus_allocated == 10
    open_model = config_from_args(
        ["--target", "http://h", "--rate", "50/s", "--pre-allocated-vus", "5"]
    )
    assert open_model.executor == CONSTANT_ARRIVAL_RATE
    assert open_model.vus_allocated == 5


def test_flags_override_the_environment() -> None:
    env = {"LOADGEN_TARGET": "http://env:1/", "LOADGEN_VUS": "7", "LOADGEN_DURATION": "3s"}
    config = config_from_args([], env)
    assert (config.target, config.vus, config.duration_s) == ("http://env:1", 7, 3.0)
    assert config_from_args(["--vus", "9"], env).vus == 9


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "--target is required"),
        (["--target", "ftp://x"], "http"),
        (["--target", "http://h", "--vus", "0"], "at least 1"),
        (["--target", "http://h", "--rate", "5", "--stage", "1s:1"], "exclude each other"),
        (["--target", "http://h", "--vus", "5", "--rate", "5", "--max-vus", "2"], "max-vus"),
        (["--target", "http://h", "--processes", "3", "--vus", "2"], "processes"),
        (["--target", "http://h", "--run-id", "Bad-Id"], "run-id"),
    ],
)
def test_invalid_options_are_refused(argv: list[str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_args(argv, {})


def test_corrected_latency_threshold_needs_the_open_model() -> None:
    with pytest.raises(ConfigError, match="open model"):
        config_from_args(
            ["--target", "http://h", "--threshold", "http_req_duration_corrected:p(95)<5"], {}
        )
    with pytest.raises(ThresholdError):
        config_from_args(["--target", "http://h", "--threshold", "nope:p(95)<5"], {})


def test_share_splits_vus_rate_and_vu_ids_without_overlap() -> None:
    config = LoadConfig(target="http://h", vus=5, rate=10.0, max_vus=7, processes=2)
    first, second = config.share(0, 2), config.share(1, 2)
    assert (first.vus, second.vus) == (3, 2)
    assert (first.max_vus, second.max_vus) == (4, 3)
    assert first.rate == second.rate == 5.0
    assert (first.phase_s, second.phase_s) == (0.0, 0.1)
    assert second.vu_id_offset == first.vus_allocated
    assert first.run_id == second.run_id
    assert (first.process_index, second.process_index) == (0, 1)


def test_share_of_stages() -> None:
    config = LoadConfig(target="http://h", vus=1, stages=(Stage(1, 5), Stage(1, 0)), processes=2)
    assert config.share(0, 2).stages == (Stage(1, 3), Stage(1, 0))
    assert config.share(1, 2).stages == (Stage(1, 2), Stage(1, 0))


def test_run_ids_differ() -> None:
    assert len({new_run_id() for _ in range(100)}) == 100


def test_warm_up_extends_the_run_but_not_the_window() -> None:
    config = config_from_args(["--target", "http://h", "--duration", "10s", "--warmup", "5s"], {})
    assert (config.run_s, config.window_s) == (15.0, 10.0)
    ramping = config_from_args(["--target", "http://h", "--stage", "4s:8", "--warmup", "1s"], {})
    assert (ramping.run_s, ramping.window_s) == (4.0, 3.0)
    with pytest.raises(ConfigError, match="warmup"):
        config_from_args(["--target", "http://h", "--stage", "4s:8", "--warmup", "4s"], {})
