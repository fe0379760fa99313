"""How the report writes every figure: cut, never rounded up, so none reads better than
measured."""

from __future__ import annotations

from lab.reporting.page import change, figure, percent


def test_figures_are_cut_not_rounded() -> None:
    assert figure(0.8996) == "0.89"
    assert figure(14.4 / 16) == "0.90"
    assert figure(2.987) == "2.98"
    assert figure(-0.004) == "0.00"
    assert figure(3.0, 1, "s") == "3.0 s"
    assert figure(None) == figure(float("nan")) == "n/a"
    assert change(125.76, 132.93) == "+5.7 %"
    assert change(489.67, 406.03) == "-17.0 %"
    assert change(0.0, 1.0) == "n/a"
    assert percent(0.97549) == "97.5 %"
