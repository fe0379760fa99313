"""The versions of the Python packages that ran, recorded in every report so a figure can be
traced to the code that produced it (the lock file pins them for `make install`)."""

from __future__ import annotations

import re
from importlib import metadata

DISTRIBUTION = "authscale"


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    return match.group(0) if match else requirement


def installed(distribution: str = DISTRIBUTION) -> dict[str, str]:
    """`distribution` and every package it requires, with the lab's extras but not the
    development tools, name → version, for those installed; {} when the distribution
    itself is not installed."""
    try:
        own = metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return {}
    found = {distribution: own}
    for requirement in metadata.requires(distribution) or ():
        if re.search(r"extra\s*==\s*['\"]dev['\"]", requirement):
            continue
        name = _name(requirement)
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return dict(sorted(found.items()))
