"""The Docker platform's exceptions.

    LabError (lab.errors)
     └── DockerError          anything on the Docker platform the lab reports and exits on
          ├── EngineError     no Docker engine answers and none can be started here
          ├── ImageError      an image could not be built or found
          └── StackError      the stack did not deploy or did not become ready

Every message says what failed and what to do about it.
"""

from __future__ import annotations

from lab.errors import LabError


class DockerError(LabError):
    pass


class EngineError(DockerError):
    pass


class ImageError(DockerError):
    pass


class StackError(DockerError):
    pass
