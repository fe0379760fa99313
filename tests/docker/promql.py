"""Metric names in PromQL expressions and in Prometheus exposition text.

Not a PromQL parser: enough to list the metric names an expression selects, which is what
the dashboard and alert checks need. String literals, label matchers (``{...}``), ranges
and subqueries (``[...]``) and grouping clauses (``by (...)``, ``on (...)``, ...) are removed
first; what remains is identifiers, and an identifier that is not a function call or a
keyword is a metric name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(
    r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE
)
# Not preceded by a word character, "$" (a Grafana variable) or "." (part of a number).
_IDENTIFIER = re.compile(r"(?<![\w$.])[A-Za-z_:][A-Za-z0-9_:]*")
_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "bool",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "offset",
        "inf",
        "nan",
        "atan2",
        "start",
        "end",
    }
)

# Sample names each metric type may expose besides the family name.
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
    "summary": ("_sum", "_count", "_created"),
    "info": ("_info",),
}


def metric_names(expr: str) -> set[str]:
    """The metric names that the PromQL expression ``expr`` selects."""
    text = _STRING.sub(" ", expr)
    # Matchers cannot nest, but ranges may follow them; repeat until nothing changes.
    previous = None
    while previous != text:
        previous = text
        text = _MATCHERS.sub(" ", text)
        text = _BRACKETS.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name = match.group(0)
        if name.lower() in _KEYWORDS:
            continue
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function call (sum, rate, histogram_quantile, ...)
        names.add(name)
    return names


def dashboard_expressions(dashboard: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(panel title, expr) for every query of every panel, rows' nested panels included."""

    def walk(panels: Iterable[dict[str, Any]]) -> Iterator[tuple[str, str]]:
        for panel in panels:
            for target in panel.get("targets", []):
                if target.get("expr"):
                    yield panel.get("title", "?"), target["expr"]
            yield from walk(panel.get("panels", []))

    yield from walk(dashboard.get("panels", []))
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if variable.get("type") == "query" and isinstance(query, str):
            inner = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
            if inner:
                yield f"${variable.get('name')}", inner.group(1)


def alert_expressions(rules_file: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(rule name, expr) for every alerting and recording rule of a Prometheus rules file."""
    for group in rules_file.get("groups", []):
        for rule in group.get("rules", []):
            yield rule.get("alert") or rule.get("record", "?"), str(rule["expr"])


def exposed_names(exposition: str) -> set[str]:
    """Every name a query may select from a ``/metrics`` page.

    Families are listed by their ``# TYPE`` lines even before a labelled metric has a
    sample, so the type's suffixes are added for each family as well as the samples seen.
    """
    names = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names
