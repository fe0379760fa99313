"""The system's Chromium under Playwright: where it is, how it starts, when tests skip.

No browser is ever downloaded: Debian's ``chromium`` package provides the one used here
(``.ci/run`` installs it), and Playwright only drives it.
"""

from __future__ import annotations

import importlib.util
import json
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lab.harness.topology import http_get

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Playwright

CHROMIUM = Path("/usr/bin/chromium")
LAUNCH_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
REPO = Path(__file__).resolve().parents[2]
#: Screenshots of the browser tests land here, one folder per test (git-ignored).
OUTPUT = REPO / "test-output" / "browser"

#: The state colours of the status page (CSS custom properties in balancer/status.html).
STATE_COLOURS = {
    "up": "rgb(24, 128, 56)",
    "down": "rgb(217, 48, 37)",
    "draining": "rgb(227, 116, 0)",
    "disabled": "rgb(128, 134, 139)",
}


def missing_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.is_file():
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    return None


requires_chromium = pytest.mark.skipif(
    missing_reason() is not None, reason=missing_reason() or "Chromium is present"
)


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=list(LAUNCH_ARGS)
    )


def background(locator: Locator) -> str:
    colour: str = locator.evaluate("element => getComputedStyle(element).backgroundColor")
    return colour


def api_backends(admin_url: str, token: str | None = None) -> dict[str, dict[str, Any]]:
    """``GET /backends`` of a balancer's admin API, keyed by backend id."""
    status, body = http_get(f"{admin_url}/backends", token=token)
    assert status == 200, f"GET /backends answered {status}: {body[:200]!r}"
    return {row["id"]: row for row in json.loads(body)["backends"]}


def api_post(admin_url: str, path: str, token: str | None = None) -> int:
    request = urllib.request.Request(
        f"{admin_url}{path}", method="POST", headers={"Content-Type": "application/json"}
    )
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=5) as response:
        return int(response.status)
