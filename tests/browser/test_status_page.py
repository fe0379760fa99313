"""The balancer's status page in Chromium, over three real service instances and our balancer
as a real process: live figures, drain and enable by click, a dead backend turning red, and
the admin token kept for the tab."""

from __future__ import annotations

import os
import re
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from lab.harness import procs
from lab.harness.topology import HOST, Topology, TopologyConfig, http_get
from tests.browser.chromium import (
    STATE_COLOURS,
    api_backends,
    api_post,
    background,
    requires_chromium,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser

    from tests.browser.conftest import Tab

pytestmark = [pytest.mark.browser, pytest.mark.e2e, requires_chromium]

HEALTH_INTERVAL = 0.3
HEALTH_JITTER = 0.1
HEALTH_TIMEOUT = 0.5
RISE, FALL = 2, 3
#: The page asks GET /backends once a second.
PAGE_REFRESH = 1.0
#: Room for a 2-core machine that other work keeps busy.
MARGIN = 2.0
HEALTH_ARGS = (
    "--health-jitter",
    str(HEALTH_JITTER),
    "--health-timeout",
    str(HEALTH_TIMEOUT),
    "--rise",
    str(RISE),
    "--fall",
    str(FALL),
)


def seconds_to_notice(checks: int) -> float:
    """Worst case for `checks` consecutive check results to change a backend's state, and for
    the page to show it: the checks, one check timeout, one page refresh, then the margin."""
    return checks * HEALTH_INTERVAL * (1 + HEALTH_JITTER) + HEALTH_TIMEOUT + PAGE_REFRESH + MARGIN


@pytest.fixture(scope="module")
def topology(
    database_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    config = TopologyConfig(
        instances=3,
        balancer=True,
        database_url=database_url,
        redis_url=redis_url,
        run_dir=tmp_path_factory.mktemp("status-page"),
        bcrypt_rounds=4,
        health_interval=str(HEALTH_INTERVAL),
        balancer_args=HEALTH_ARGS,
    )
    with Topology(config) as running:
        yield running


def admin(topology: Topology) -> str:
    assert topology.admin_url is not None
    return topology.admin_url


def test_page_shows_three_backends_up_with_the_apis_figures(
    topology: Topology, tab: Tab, shots: Path
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(f"{admin(topology)}/#token={topology.admin_token}")
    rows = page.locator("#rows tr")
    expect(rows).to_have_count(3)
    for each in rows.all():
        expect(each).to_have_attribute("data-state", "up")
    expect(page.locator('#summary [data-count="up"]')).to_have_text("3 up")
    expect(page).to_have_title("3/3 up · authscale balancer")

    # Traffic after the page has loaded: the figures must follow without a reload.
    before = api_backends(admin(topology), topology.admin_token)
    for _ in range(9):
        assert http_get(f"{topology.entry_url}/health/live")[0] == 200
    api = api_backends(admin(topology), topology.admin_token)
    assert sorted(b["url"] for b in api.values()) == sorted(i.url for i in topology.instances)
    served = [api[i]["total"] - before[i]["total"] for i in api]
    assert served == [3, 3, 3], "round-robin over three backends"
    for backend_id, backend in api.items():
        tr = page.locator(f'#rows tr[data-backend-id="{backend_id}"]')
        expect(tr.locator('[data-field="total"]')).to_have_text(str(backend["total"]))
        expect(tr.locator('[data-field="url"]')).to_have_text(backend["url"])
        expect(tr.locator('[data-field="weight"]')).to_have_text(str(backend["weight"]))
        expect(tr.locator('[data-field="active"]')).to_have_text("0")
        expect(tr.locator('[data-field="failures"]')).to_have_text("0")
        expect(tr.locator('[data-field="check"]')).to_have_text("ok 200")
        expect(tr.locator('[data-field="check_latency"]')).to_have_text(re.compile(r"^\d+\.\d ms$"))
        expect(tr.locator('[data-field="checked_at"]')).to_have_text(
            re.compile(r"^(just now|\d+ s ago)$")
        )
        assert background(tr.locator(".badge")) == STATE_COLOURS["up"]
        expect(tr.locator('button[data-action="drain"]')).to_be_enabled()
        expect(tr.locator('button[data-action="enable"]')).to_be_disabled()
    expect(page.locator("#status")).to_have_text(re.compile(r"^updated "))
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280, "wider than the window"
    page.screenshot(path=shots / "three-backends-up.png", full_page=True)

    origin = admin(topology)
    assert tab.requested, "the page asked for nothing"
    assert all(url.startswith(f"{origin}/") for url in tab.requested), tab.requested
    assert sum(url == f"{origin}/backends" for url in tab.requested) >= 2
    assert not tab.script_errors


def test_drain_click_turns_a_backend_draining_and_the_api_agrees(
    topology: Topology, tab: Tab, shots: Path
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(f"{admin(topology)}/#token={topology.admin_token}")
    expect(page.locator('#rows tr[data-state="up"]')).to_have_count(3)
    target = page.locator("#rows tr").nth(1)
    backend_id = target.get_attribute("data-backend-id")
    assert backend_id is not None
    try:
        target.locator('button[data-action="drain"]').click()
        expect(target).to_have_attribute("data-state", "draining")
        assert (
            api_backends(admin(topology), topology.admin_token)[backend_id]["state"] == "draining"
        )
        expect(target.locator(".badge")).to_have_text("draining")
        assert background(target.locator(".badge")) == STATE_COLOURS["draining"]
        expect(target.locator('button[data-action="drain"]')).to_be_disabled()
        expect(target.locator('button[data-action="enable"]')).to_be_enabled()
        expect(page.locator('#rows tr[data-state="up"]')).to_have_count(2)
        expect(page.locator('#summary [data-count="draining"]')).to_have_text("1 draining")
        page.screenshot(path=shots / "one-draining.png", full_page=True)

        # A drained backend takes no new requests.
        before = api_backends(admin(topology), topology.admin_token)[backend_id]["total"]
        for _ in range(4):
            assert http_get(f"{topology.entry_url}/health/live")[0] == 200
        assert api_backends(admin(topology), topology.admin_token)[backend_id]["total"] == before

        target.locator('button[data-action="enable"]').click()
        expect(target).to_have_attribute("data-state", "up")
        assert api_backends(admin(topology), topology.admin_token)[backend_id]["state"] == "up"
        assert background(target.locator(".badge")) == STATE_COLOURS["up"]
    finally:
        api_post(admin(topology), f"/backends/{backend_id}/enable", topology.admin_token)
    assert not tab.script_errors


def test_a_killed_backend_turns_red_within_the_health_check_time(
    topology: Topology, tab: Tab, shots: Path
) -> None:
    from playwright.sync_api import expect

    page = tab.page
    page.goto(f"{admin(topology)}/#token={topology.admin_token}")
    expect(page.locator('#rows tr[data-state="up"]')).to_have_count(3)
    victim = topology.instances[2]
    by_url = {
        b["url"]: b["id"] for b in api_backends(admin(topology), topology.admin_token).values()
    }
    target = page.locator(f'#rows tr[data-backend-id="{by_url[victim.url]}"]')

    started = time.monotonic()
    topology.kill_instance(2)
    budget = seconds_to_notice(FALL)
    expect(target).to_have_attribute("data-state", "down", timeout=budget * 1000)
    noticed = time.monotonic() - started
    assert noticed <= budget, f"the page showed the dead backend after {noticed:.1f} s"
    assert (
        api_backends(admin(topology), topology.admin_token)[by_url[victim.url]]["state"] == "down"
    )
    assert background(target.locator(".badge")) == STATE_COLOURS["down"]
    expect(target.locator('[data-field="check"]')).not_to_have_text(re.compile("^ok"))
    expect(target.locator('[data-field="check"]')).to_have_class(re.compile("check-failed"))
    expect(page.locator('#summary [data-count="down"]')).to_have_text("1 down")
    expect(page).to_have_title("2/3 up · authscale balancer")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280, "wider than the window"
    page.screenshot(path=shots / "one-down.png", full_page=True)

    # Back on its port, it turns green again after `rise` good checks.
    topology.start_instance(2)
    expect(target).to_have_attribute("data-state", "up", timeout=seconds_to_notice(RISE) * 1000)
    assert not tab.script_errors


@pytest.fixture
def guarded_admin(topology: Topology, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A second balancer whose admin API wants a token; yields (admin URL, token)."""
    token = secrets.token_urlsafe(18)
    admin_port = procs.free_port()
    argv = [
        sys.executable,
        "-m",
        "balancer",
        "--listen",
        f"{HOST}:{procs.free_port()}",
        "--admin",
        f"{HOST}:{admin_port}",
        "--backend",
        topology.instances[0].url,
        "--health-interval",
        str(HEALTH_INTERVAL),
        *HEALTH_ARGS,
    ]
    env = {**os.environ, "BALANCER_ADMIN_TOKEN": token}
    log = tmp_path / "balancer.log"
    proc = procs.spawn(argv, log_path=log, env=env)
    try:
        started = procs.wait_until(
            lambda: procs.port_open(HOST, admin_port),
            timeout=20,
            alive=lambda: proc.poll() is None,
        )
        assert started, f"the balancer did not start:\n{procs.log_tail(log)}"
        yield f"http://{HOST}:{admin_port}", token
    finally:
        procs.stop(proc)


def test_the_token_field_unlocks_the_api_for_the_tab(
    guarded_admin: tuple[str, str], browser: Browser, tab: Tab, shots: Path
) -> None:
    from playwright.sync_api import expect

    origin, token = guarded_admin
    page = tab.page
    page.goto(f"{origin}/")
    expect(page.locator("#status")).to_have_text("the admin API needs a valid token")
    expect(page.locator("#token-form")).to_have_class(re.compile("needed"))
    expect(page.locator("#token-note")).to_have_text("the admin API needs a token")
    expect(page.locator("#rows tr")).to_have_count(0)
    page.screenshot(path=shots / "token-needed.png")

    page.fill("#token", "not-the-token")
    page.click("#token-save")
    expect(page.locator("#token-note")).to_have_text("the admin API refused this token")

    page.fill("#token", token)
    page.click("#token-save")
    only = page.locator("#rows tr")
    expect(only).to_have_count(1)
    expect(only).to_have_attribute("data-state", "up", timeout=seconds_to_notice(RISE) * 1000)
    expect(page.locator("#token-form")).not_to_have_class(re.compile("needed"))
    assert page.evaluate("Object.values(sessionStorage)") == [token]
    assert page.input_value("#token") == "", "the field must not keep the token on show"

    page.reload()
    expect(only).to_have_attribute("data-state", "up")
    only.locator('button[data-action="drain"]').click()
    expect(only).to_have_attribute("data-state", "draining")
    backend_id = only.get_attribute("data-backend-id")
    assert backend_id is not None
    assert api_backends(origin, token)[backend_id]["state"] == "draining"
    page.screenshot(path=shots / "token-accepted.png")

    # A link with #token= hands the token to a new tab and leaves the address bar clean.
    context = browser.new_context()
    try:
        linked = context.new_page()
        linked.goto(f"{origin}/#token={token}")
        expect(linked.locator("#rows tr")).to_have_attribute("data-state", "draining")
        assert linked.url == f"{origin}/"
        page.click("#token-forget")
        expect(page.locator("#token-form")).to_have_class(re.compile("needed"))
        expect(linked.locator("#status")).to_have_text(re.compile("^updated "))
    finally:
        context.close()
    assert not tab.script_errors
