"""The integrity comparison: what clients were told against what the stores hold."""

from __future__ import annotations

import pytest

from lab.experiments.chaos.integrity import compare, is_ambiguous, like_pattern


def test_acknowledged_signups_with_one_row_each_are_clean() -> None:
    report = compare({"a@x": 201, "b@x": 201}, {"a@x": 1, "b@x": 1})
    assert report.ok
    assert (report.acknowledged, report.refused, report.ambiguous) == (2, 0, 0)
    assert report.problems() == []


def test_an_acknowledged_signup_without_a_row_is_lost() -> None:
    report = compare({"a@x": 201, "b@x": 201}, {"a@x": 1})
    assert not report.ok
    assert report.lost == ("b@x",)
    assert "1 lost" in report.problems()[0]


def test_two_rows_for_one_address_are_duplicated() -> None:
    report = compare({"a@x": 201}, {"a@x": 2})
    assert report.duplicated == ("a@x",)
    assert not report.ok


@pytest.mark.parametrize("status", [0, 500, 502, 503, 504])
def test_a_row_for_an_unanswered_or_5xx_signup_is_unacknowledged_not_an_error(status: int) -> None:
    report = compare({"a@x": status, "b@x": status}, {"a@x": 1})
    assert report.ok
    assert report.unacknowledged == ("a@x",)
    assert report.ambiguous == 2


@pytest.mark.parametrize("status", [400, 413, 415, 422])
def test_a_row_for_a_refused_signup_is_a_contradiction(status: int) -> None:
    report = compare({"a@x": status}, {"a@x": 1})
    assert report.contradicted == ("a@x",)
    assert not report.ok


def test_refused_signup_without_a_row_is_fine() -> None:
    assert compare({"a@x": 422}, {}).ok


def test_409_for_a_fresh_address_means_the_request_was_replayed() -> None:
    report = compare({"a@x": 409}, {"a@x": 1})
    assert report.replayed == ("a@x",)
    assert not report.ok


def test_rows_nobody_asked_for_are_phantoms() -> None:
    report = compare({"a@x": 201}, {"a@x": 1, "ghost@x": 1})
    assert report.phantoms == ("ghost@x",)
    assert not report.ok


def test_addresses_are_compared_in_lower_case() -> None:
    assert compare({"Mixed@X": 201}, {"mixed@x": 1}).ok


def test_ended_sessions_still_in_redis_are_leaked() -> None:
    report = compare(
        {}, {}, ended_sessions=["s1", "s2", "s2"], sessions_still_present=["s2", "other"]
    )
    assert report.sessions_checked == 2
    assert report.sessions_leaked == ("s2",)
    assert not report.ok


def test_summary_and_dict_carry_the_counts() -> None:
    report = compare({"a@x": 201, "b@x": 502}, {"a@x": 1, "b@x": 1}, ended_sessions=["s"])
    assert "lost 0" in report.summary()
    assert "(1 of them written)" in report.summary()
    data = report.to_dict()
    assert data["ok"] is True
    assert data["unacknowledged"] == ["b@x"]
    assert data["sessions_checked"] == 1


@pytest.mark.parametrize(
    ("status", "ambiguous"), [(0, True), (503, True), (201, False), (429, False)]
)
def test_is_ambiguous(status: int, ambiguous: bool) -> None:
    assert is_ambiguous(status) is ambiguous


def test_like_pattern_escapes_wildcards() -> None:
    assert like_pattern("chaos-1_a%b\\") == "chaos-1\\_a\\%b\\\\%"
