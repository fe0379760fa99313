"""The load generator's exceptions.

::

    LoadgenError
    ├── ConfigError       invalid options (exit code 2)
    │   └── ThresholdError  a threshold that cannot be parsed or names an unknown metric
    └── RunError          the run itself could not be carried out (exit code 1)

Errors of aiohttp during a request are not exceptions of ours: they become failed requests
(``http_req_failed``) and failed iterations.
"""

from __future__ import annotations


class LoadgenError(Exception):
    """Base of every error the load generator raises."""


class ConfigError(LoadgenError):
    """The options do not describe a valid run."""


class ThresholdError(ConfigError):
    """A threshold expression is malformed or refers to something we do not measure."""


class RunError(LoadgenError):
    """The run failed as a whole (e.g. a worker process died)."""
