import os
from pathlib import Path

import pytest

from loadgen.summary import format_bytes, format_time, render_summary
from tests.loadgen.samples import synthetic_result

GOLDEN = Path(__file__).parent / "golden"


@pytest.mark.parametrize(("name", "open_model"), [("closed", False), ("open", True)])
def test_summary_matches_golden_file(name: str, open_model: bool) -> None:
    text = render_summary(synthetic_result(open_model).summary_data())
    golden = GOLDEN / f"summary_{name}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


def test_summary_names_failed_thresholds_and_generator_warnings() -> None:
    text = render_summary(synthetic_result().summary_data())
    assert "✗ 'rate<0.05'" in text
    assert "✓ 'p(95)<500'" in text
    assert "⚠ load generator event-loop lag p99 14.0 ms from its own work" in text
    assert "closed model: latencies are service times" in text


@pytest.mark.parametrize(
    ("ms", "text"),
    [(0, "0s"), (0.512, "512µs"), (12.345, "12.35ms"), (1500, "1.50s"), (123_400, "2m3.4s")],
)
def test_time_format(ms: float, text: str) -> None:
    assert format_time(ms) == text


def test_bytes_format() -> None:
    assert [format_bytes(n) for n in (950, 12_345, 3_400_000)] == ["950 B", "12 kB", "3.4 MB"]
