"""`python -m lab docker images`: the images the stack needs, built here when none can be
pulled.

The service image is docker/Dockerfile on ``python:3.11-slim-bookworm`` when that can be
pulled, else on a base made here from Debian packages (debootstrap, then `docker import`).
Postgres, Redis and Prometheus are the official images when present or pullable, else
stand-ins built from Debian packages (docker/standins/). Grafana has no stand-in: without a
registry it is left out. What was chosen is written to ``images.json``, the variables
`docker stack deploy` reads (stack.yml's image variables).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from lab.docker.engine import OnEngine
from lab.docker.errors import ImageError

SUITE = "bookworm"
BASE_TAG = f"authscale-base:{SUITE}"
OFFICIAL_BASE = f"python:3.11-slim-{SUITE}"
SERVICE_TAG = "authscale:latest"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: What the builder stage installs on the local base to compile the balancer (setup.py).
LOCAL_COMPILERS = "gcc libc6-dev python3-dev"
#: variable of stack.yml → (official image, stand-in Dockerfile in docker/standins)
STANDINS = {
    "POSTGRES_IMAGE": ("postgres:18-alpine", "postgres"),
    "REDIS_IMAGE": ("redis:7-alpine", "redis"),
    "PROMETHEUS_IMAGE": ("prom/prometheus:v3.5.0", "prometheus"),
}
GRAFANA_IMAGE = "grafana/grafana:12.1.0"
#: Removed from the debootstrapped tree: documentation, translations, apt's caches and
#: glibc's iconv modules (Python's codecs do not use them).
TRIM = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "var/cache/apt",
    "var/lib/apt/lists",
    "usr/lib/x86_64-linux-gnu/gconv",
    "usr/lib/aarch64-linux-gnu/gconv",
)


@dataclass(frozen=True, kw_only=True)
class Built:
    variable: str
    image: str
    how: str  # "official", "stand-in", "local base", "left out"
    seconds: float
    size_mb: float | None


def debian_mirror(sources: Iterable[tuple[str, str]]) -> str | None:
    """The first Debian archive URI in apt source files, given as (file name, text) (pure).

    Both formats: one-line ``deb URI SUITE …`` and deb822 ``URIs:`` stanzas. Security and
    update archives are skipped: debootstrap needs the main archive.
    """
    for name, text in sources:
        if name.endswith(".sources"):
            for stanza in re.split(r"\n\s*\n", text):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if ":" in line and not line.startswith(("#", " ")):
                        key, value = line.split(":", 1)
                        fields[key.strip().lower()] = value.strip()
                if "deb" not in fields.get("types", "").split():
                    continue
                for uri in fields.get("uris", "").split():
                    if "security" not in uri:
                        return uri
        else:
            for line in text.splitlines():
                words = line.split()
                if len(words) >= 3 and words[0] == "deb":
                    uri = next((w for w in words[1:] if not w.startswith("[")), "")
                    if uri.startswith(("http", "file", "ftp")) and "security" not in uri:
                        return uri
    return None


def machine_mirror() -> str:
    files = [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]
    sources = []
    for path in files:
        if path.suffix in (".list", ".sources") or path.name == "sources.list":
            try:
                sources.append((path.name, path.read_text()))
            except OSError:
                continue
    mirror = debian_mirror(sources)
    if mirror is None:
        raise ImageError("no Debian archive in /etc/apt/sources*: debootstrap needs a mirror")
    return mirror


class Images(OnEngine):
    @property
    def variables_path(self) -> Path:
        return self.dir / "images.json"

    def exists(self, image: str) -> bool:
        return self.engine.run("image", "inspect", image, check=False).returncode == 0

    def size_mb(self, image: str) -> float | None:
        done = self.engine.run("image", "inspect", "--format", "{{.Size}}", image, check=False)
        return round(int(done.stdout.strip()) / 1e6, 1) if done.returncode == 0 else None

    def obtainable(self, image: str) -> bool:
        """Present, or pulled now (fails within a second where no registry answers)."""
        if self.exists(image):
            return True
        return self.engine.run("pull", "--quiet", image, check=False, timeout=600).returncode == 0

    def build_all(self) -> list[Built]:
        out = []
        started = time.monotonic()
        local = not self.obtainable(OFFICIAL_BASE)
        base = BASE_TAG if local else OFFICIAL_BASE
        if local:
            out.append(self._timed("BASE_IMAGE", BASE_TAG, "local base", self._base))
        out.append(
            self._timed("AUTHSCALE_IMAGE", SERVICE_TAG, "built", lambda: self._service(base, local))
        )
        for variable, (official, name) in STANDINS.items():
            if self.obtainable(official):
                out.append(
                    Built(
                        variable=variable,
                        image=official,
                        how="official",
                        seconds=0.0,
                        size_mb=self.size_mb(official),
                    )
                )
                continue
            if not self.obtainable(base):
                raise ImageError(f"neither {official} nor the base {base} for its stand-in")
            tag = f"authscale-standin-{name}:local"
            out.append(
                self._timed(variable, tag, "stand-in", partial(self._standin, name, tag, base))
            )
        grafana = self.obtainable(GRAFANA_IMAGE)
        out.append(
            Built(
                variable="GRAFANA_IMAGE",
                image=GRAFANA_IMAGE,
                how="official" if grafana else "left out",
                seconds=0.0,
                size_mb=self.size_mb(GRAFANA_IMAGE) if grafana else None,
            )
        )
        variables = {b.variable: b.image for b in out if b.variable != "BASE_IMAGE"}
        variables["GRAFANA_REPLICAS"] = "1" if grafana else "0"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.variables_path.write_text(json.dumps(variables, indent=1))
        self.say(f"images: done in {time.monotonic() - started:.0f} s")
        return out

    def _timed(self, variable: str, image: str, how: str, build: Callable[[], None]) -> Built:
        began = time.monotonic()
        self.say(f"images: {image} ({how}) …")
        build()
        built = Built(
            variable=variable,
            image=image,
            how=how,
            seconds=round(time.monotonic() - began, 1),
            size_mb=self.size_mb(image),
        )
        self.say(f"images: {image} ({how}) {built.size_mb} MB in {built.seconds:.0f} s")
        return built

    def _base(self) -> None:
        if self.exists(BASE_TAG):
            return
        for tool in ("debootstrap", "tar"):
            if shutil.which(tool) is None:
                raise ImageError(f"{tool} is missing: apt-get install debootstrap")
        root = self.dir / "base-root"
        _remove_tree(root)
        cmd = [
            "debootstrap",
            "--variant=minbase",
            "--include=python3,python3-venv,ca-certificates",
            SUITE,
            str(root),
            machine_mirror(),
        ]
        log = self.dir / "debootstrap.log"
        with log.open("w") as out:
            done = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False)
        try:
            _unmount_under(root)
            if done.returncode != 0:
                raise ImageError(f"debootstrap failed; see {log}")
            for part in TRIM:
                target = root / part
                if target.is_dir():
                    for child in target.iterdir():
                        _remove_tree(child)
            tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
            assert tar.stdout is not None
            imported = subprocess.run(
                [self.engine.cli, "import", "-", BASE_TAG],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                env=self.engine.env(),
                check=False,
            )
            tar.stdout.close()
            tar.wait()
            if imported.returncode != 0 or tar.returncode != 0:
                raise ImageError(f"docker import of the base failed: {imported.stderr.strip()}")
        finally:
            _remove_tree(root)

    def _service(self, base: str, local: bool) -> None:
        args = ["build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}"]
        if local:
            # Every base dependency ships a wheel for the base's Python 3.11; the compiler
            # and Debian's Python headers are for the balancer's compiled request path.
            args += ["--build-arg", f"COMPILERS={LOCAL_COMPILERS}"]
        if CA_BUNDLE.is_file():
            # A secret mount: pip inside the build trusts the host's CA bundle (a package
            # index behind a TLS-inspecting proxy) and no layer keeps the file.
            args += ["--secret", f"id=ca_bundle,src={CA_BUNDLE}"]
        args += ["--file", str(self.repo / "docker" / "Dockerfile"), "--tag", SERVICE_TAG]
        self._build([*args, str(self.repo)], "the service image")

    def _standin(self, name: str, tag: str, base: str) -> None:
        folder = self.repo / "docker" / "standins"
        args = ["build", "--network", "host", "--build-arg", f"BASE_IMAGE={base}"]
        args += ["--file", str(folder / f"{name}.Dockerfile"), "--tag", tag, str(folder)]
        self._build(args, f"the {name} stand-in")

    def _build(self, args: list[str], what: str) -> None:
        log = self.dir / "build.log"
        done = self.engine.run(*args, check=False, timeout=1800)
        with log.open("a") as out:
            out.write(done.stdout + done.stderr)
        if done.returncode != 0:
            tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
            raise ImageError(f"building {what} failed (full log {log}):\n{tail}")

    def variables(self) -> dict[str, str]:
        try:
            data = json.loads(self.variables_path.read_text())
        except (OSError, ValueError):
            return {}
        return {str(k): str(v) for k, v in data.items()}


def _unmount_under(root: Path) -> None:
    """debootstrap may leave /proc and /sys of the new tree mounted."""
    marker = str(root.resolve()) + "/"
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for target in sorted((m for m in mounts if m.startswith(marker)), key=len, reverse=True):
        subprocess.run(["umount", "--lazy", target], capture_output=True, check=False)


def _remove_tree(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.is_dir():
        _unmount_under(path)
        shutil.rmtree(path, ignore_errors=True)
