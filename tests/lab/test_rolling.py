"""What `rolling-restart` says: its summary (the admin API's refusals: test_adminclient)."""

from __future__ import annotations

from lab.experiments import rolling


def test_the_summary_counts_instances_in_the_singular_and_the_plural() -> None:
    assert rolling.summary(1, 12.34) == "restarted 1 instance in 12.3s"
    assert rolling.summary(3, 40.0) == "restarted 3 instances in 40.0s"
