"""Fixtures of the browser tests: one Chromium per module, a fresh tab per test, and a
folder for each test's screenshots."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.chromium import OUTPUT, launch, missing_reason

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@dataclass
class Tab:
    """A page in a context of its own, with what it asked for and every uncaught script error."""

    page: Page
    requested: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = missing_reason()
    if reason is not None:
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    context.set_default_timeout(10_000)
    page = context.new_page()
    opened = Tab(page)
    page.on("request", lambda request: opened.requested.append(request.url))
    page.on("pageerror", lambda error: opened.script_errors.append(str(error)))
    yield opened
    context.close()


@pytest.fixture
def shots(request: pytest.FixtureRequest) -> Path:
    """This test's screenshot folder under test-output/browser/, emptied first."""
    folder = OUTPUT / re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder
