"""The versions of the Python packages that ran, recorded in every report so a figure can be
traced to the code that produced it (the lock file pins them for `make install`)."""

from __future__ import annotations

from importlib import metadata

from packaging.requirements import Requirement

DISTRIBUTION = "authscale"
#: The project's extras whose packages take part in a run (not the development tools).
RUN_EXTRAS = ("lab", "otel")


def _wanted(requirement: str, extras: tuple[str, ...]) -> Requirement | None:
    """The requirement when it applies to an install with `extras` on this machine."""
    parsed = Requirement(requirement)
    if parsed.marker is None:
        return parsed
    environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
    return parsed if any(parsed.marker.evaluate(env) for env in environments) else None


def installed(distribution: str = DISTRIBUTION) -> dict[str, str]:
    """`distribution` and everything it requires, transitively, with the lab's and tracing
    extras (hiredis of redis[hiredis] included) but not the development tools: name →
    version, for those installed; {} when the distribution itself is not installed."""
    try:
        found = {distribution: metadata.version(distribution)}
    except metadata.PackageNotFoundError:
        return {}
    pending: list[tuple[str, tuple[str, ...]]] = [(distribution, RUN_EXTRAS)]
    seen: set[tuple[str, tuple[str, ...]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name.lower(), extras) in seen:
            continue
        seen.add((name.lower(), extras))
        for text in metadata.requires(name) or ():
            requirement = _wanted(text, extras)
            if requirement is None:
                continue
            key = requirement.name.lower().replace("_", "-")
            try:
                version = metadata.version(requirement.name)
            except metadata.PackageNotFoundError:
                continue
            found[key] = version
            pending.append((requirement.name, tuple(sorted(requirement.extras))))
    return dict(sorted(found.items()))
