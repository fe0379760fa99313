"""The lab's exceptions.

    LabError                      anything the lab reports to its user and exits on
     ├── InfraError               PostgreSQL or Redis could not be provided
     │    ├── BinaryMissing       a server binary is not installed
     │    ├── AlreadyRunning      another lab owns the same state folder
     │    └── StartFailed         a server did not come up (message carries its log tail)
     ├── TopologyError            a service instance or the balancer did not come up
     └── CpuLimitError            per-instance CPU limits cannot be applied here

Every message says what failed and what to do about it.
"""

from __future__ import annotations


class LabError(Exception):
    """Base of every error the lab raises on purpose."""


class InfraError(LabError):
    pass


class BinaryMissing(InfraError):
    pass


class AlreadyRunning(InfraError):
    pass


class StartFailed(InfraError):
    pass


class TopologyError(LabError):
    pass


class CpuLimitError(LabError):
    """A CPU limit that cannot be had: asked wrongly, or not offered by this machine."""


class CpuLimitUnavailable(CpuLimitError):
    """This machine offers no way to limit CPU (no writable cgroup, not Linux): a series that
    needs it can be skipped, unlike a limit asked wrongly."""
