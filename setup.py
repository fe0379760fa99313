"""The build: setup.cfg holds the metadata; this adds the balancer's compiled request path.

The modules a proxied request runs through (the list in ``balancer/_build.py``) are plain,
fully typed Python. Where mypyc and a C compiler are present they are also compiled with
mypyc, which more than halves the balancer's own work per request; where they are not (no
compiler, PyPy, a source tree without those modules), the same modules run as Python.

``AUTHSCALE_COMPILE`` chooses: ``auto`` (the default: compile when possible, else say why
not and go on), ``1`` (compile or fail the build), ``0`` (never compile).
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
# Read by path, not imported: importing the package would need its dependencies. A tree
# without it (the Docker image's dependency layer) builds a package with nothing compiled.
sys.path.insert(0, str(HERE / "balancer"))
try:
    import _build
except ImportError:
    _build = None
finally:
    sys.path.pop(0)

MODE = os.environ.get("AUTHSCALE_COMPILE", "auto").strip().lower()
if MODE not in {"auto", "0", "1"}:
    sys.exit(f"AUTHSCALE_COMPILE must be auto, 0 or 1, not {MODE!r}")


def _why_not_compiled() -> str | None:
    """Why the request path cannot be compiled here, or None when it can be tried."""
    if MODE == "0":
        return "AUTHSCALE_COMPILE=0"
    if platform.python_implementation() != "CPython":
        return f"mypyc needs CPython, not {platform.python_implementation()}"
    if _build is None or not all(
        (HERE / "balancer" / f"{m}.py").is_file() for m in _build.COMPILED_MODULES
    ):
        return "the balancer's sources are not all here"
    try:
        import mypyc.build  # noqa: F401
    except ImportError:
        return "mypyc is not installed"
    return None


def _refuse(reason: str) -> None:
    if MODE == "1":
        sys.exit(f"AUTHSCALE_COMPILE=1 but the balancer cannot be compiled: {reason}")
    print(f"authscale: the balancer runs as pure Python ({reason})", file=sys.stderr)


class OptionalBuildExt(build_ext):
    """Builds the compiled modules, or (``auto``) leaves the package pure Python when the C
    compiler fails, removing whatever part was built: half a compiled group cannot load."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # CompileError, LinkError, a missing compiler…
            if MODE == "1":
                raise
            for output in self.get_outputs():
                Path(output).unlink(missing_ok=True)
            _refuse(f"the C build failed: {exc}")
            return
        if self.extensions:
            self._write_manifest()

    def _write_manifest(self) -> None:
        """Record which sources were compiled, so a changed source is noticed at import
        (the compiled module would otherwise shadow it)."""
        assert _build is not None
        package = Path(self.get_ext_fullpath("balancer.http11")).parent
        digests = _build.source_digests(HERE / "balancer")
        manifest = "\n".join(f"{name} {digest}" for name, digest in digests.items())
        (package / _build.manifest_name()).write_text(manifest)


def _ext_modules() -> list[object]:
    reason = _why_not_compiled()
    if reason is not None:
        _refuse(reason)
        return []
    from mypyc.build import mypycify

    assert _build is not None

    try:
        return list(
            mypycify(
                # The project's strict mypy settings are `make lint`'s; here only what
                # compiling needs. Third-party packages may be absent from an isolated build
                # environment: their types become Any, which compiles to the same generic
                # calls, and modules merely imported are read for their types alone.
                ["--config-file=", "--ignore-missing-imports", "--follow-imports=silent"]
                + [f"balancer/{module}.py" for module in _build.COMPILED_MODULES],
                group_name="balancer",
                opt_level="3",
            )
        )
    except (Exception, SystemExit) as exc:  # mypy found an error it cannot compile past
        if MODE == "1":
            raise
        _refuse(f"mypyc failed: {exc}")
        return []


setup(ext_modules=_ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
