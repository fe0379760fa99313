"""The README's pictures: ``python -m tests.browser.screenshots`` writes
docs/images/status-page.png and docs/images/report.png.

The status page is shot over a real lab topology under load from loadgen, with one backend
drained and one killed so that every state colour shows. The report is the newest
reports/*/report.html when a bench has been run here, else one built from the recorded
results in tests/lab/data/scaling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from lab.harness import config, infra, procs
from lab.harness.topology import Topology, TopologyConfig
from lab.reporting.report import build_report
from tests.browser.chromium import REPO, api_backends, api_post, launch, missing_reason

IMAGES = REPO / "docs" / "images"
WIDTH = 1280


def newest_report() -> Path | None:
    found = sorted(REPO.glob("reports/*/report.html"), key=lambda path: path.stat().st_mtime)
    return found[-1] if found else None


def shoot_status_page(browser: Browser, out: Path) -> None:
    state = REPO / config.DEFAULT_STATE_DIR / f"screenshots-{os.getpid()}"
    try:
        _shoot_status_page(browser, out, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def _shoot_status_page(browser: Browser, out: Path, state: Path) -> None:
    with infra.start(config.infra_config(state_dir=state / "infra")) as running:
        topology_config = TopologyConfig(
            instances=4,
            balancer=True,
            database_url=running.database_url,
            redis_url=running.redis_url,
            run_dir=state / "run",
            bcrypt_rounds=4,
            health_interval="0.5",
        )
        with Topology(topology_config) as topology:
            admin = topology.admin_url
            assert admin is not None
            ids = {b["url"]: b["id"] for b in api_backends(admin, topology.admin_token).values()}
            api_post(
                admin, f"/backends/{ids[topology.instances[2].url]}/drain", topology.admin_token
            )
            loadgen = [sys.executable, "-m", "loadgen", "--target", topology.entry_url]
            load = subprocess.Popen(
                [*loadgen, "--vus", "16", "--duration", "8s", "--quiet", "--no-summary"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                time.sleep(3)
                topology.kill_instance(3)
                dead = ids[topology.instances[3].url]
                if not procs.wait_until(
                    lambda: api_backends(admin, topology.admin_token)[dead]["state"] == "down",
                    timeout=15,
                ):
                    raise SystemExit("the killed instance never showed as down")
                page = browser.new_page(viewport={"width": WIDTH, "height": 330})
                page.goto(f"{admin}/#token={topology.admin_token}")
                page.locator('#rows tr[data-state="down"]').wait_for()
                page.wait_for_timeout(1500)  # a few refreshes, so the figures are live ones
                page.screenshot(path=out, full_page=True)
                page.close()
            finally:
                procs.stop(load)


def shoot_report(browser: Browser, out: Path, report: Path | None = None) -> str:
    """Shoot the first screen of a report (the newest unless named); say which one it was."""
    report = report.resolve() if report else newest_report()
    source = str(report)
    with tempfile.TemporaryDirectory() as scratch:
        if report is None:
            recorded = REPO / "tests" / "lab" / "data" / "scaling.json"
            report = build_report(json.loads(recorded.read_text()), Path(scratch)).html
            source = f"the recorded results in {recorded.relative_to(REPO)}"
        page = browser.new_page(viewport={"width": WIDTH, "height": 1200})
        page.goto(report.as_uri())
        page.screenshot(path=out)
        page.close()
    return source


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.screenshots")
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder (docs/images)")
    parser.add_argument("--report", type=Path, help="report.html to shoot (the newest)")
    args = parser.parse_args(argv)
    reason = missing_reason()
    if reason is not None:
        print(f"screenshots: {reason}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            shoot_status_page(browser, args.out / "status-page.png")
            source = shoot_report(browser, args.out / "report.png", args.report)
        finally:
            browser.close()
    print(f"status page: {args.out / 'status-page.png'}")
    print(f"report: {args.out / 'report.png'} (from {source})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
