"""The bench report's report.html in Chromium, opened from disk: every chart loads and shows,
every table holds the rows the report model says, nothing is fetched from anywhere."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from lab.reporting.page import Table
from lab.reporting.report import build_report
from lab.reporting.results import Results
from lab.reporting.sections import build_page
from tests.browser.chromium import background, requires_chromium

if TYPE_CHECKING:
    from tests.browser.conftest import Tab

pytestmark = [pytest.mark.browser, requires_chromium]

DATA = Path(__file__).resolve().parents[1] / "lab" / "data"
FLAGGED_BACKGROUND = "rgb(253, 232, 232)"

# Every table in the document, in order, as the reader sees it.
TABLES_JS = """tables => tables.map(table => ({
  id: table.id,
  caption: table.caption ? table.caption.textContent : "",
  header: [...table.tHead.rows[0].cells].map(cell => cell.textContent),
  rows: [...table.tBodies[0].rows].map(row => [...row.cells].map(cell => cell.textContent)),
  flagged: [...table.tBodies[0].rows]
    .flatMap((row, i) => row.classList.contains("flagged") ? [i] : []),
}))"""

IMAGES_JS = """images => images.map(image => {
  const box = image.getBoundingClientRect();
  return {id: image.closest("figure").id, alt: image.alt, complete: image.complete,
          naturalWidth: image.naturalWidth, naturalHeight: image.naturalHeight,
          width: box.width, height: box.height, right: box.right};
})"""


def recorded(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / f"{name}.json").read_text())
    if name == "scaling":
        # One unsound run, so the page has a flagged row to show.
        doc["series"][0]["runs"][0].update(
            sound=False, unsound_reasons=["VUs completed 0.9 iterations each on average"]
        )
    return doc


def png_size(path: Path) -> tuple[int, int]:
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def model_tables(doc: dict[str, Any]) -> list[Table]:
    page = build_page(Results.from_dict(doc))
    return [table for section in page.sections for table in section.tables]


# scaling draws every kind of chart and table; bcrypt_bound is the shared-host result alone.
@pytest.mark.parametrize("name", ["scaling", "bcrypt_bound"])
def test_report_page_renders_every_chart_and_table(
    name: str, tab: Tab, tmp_path: Path, shots: Path
) -> None:
    from playwright.sync_api import expect

    doc = recorded(name)
    files = build_report(doc, tmp_path / "report")
    assert files.charts, "the recorded results draw no chart"
    page = tab.page
    page.goto(files.html.as_uri())
    page.wait_for_load_state("load")

    images = page.eval_on_selector_all("figure img", IMAGES_JS)
    assert [i["id"] for i in images] == [f"chart-{chart.stem}" for chart in files.charts]
    width = page.evaluate("document.documentElement.clientWidth")
    for image, chart in zip(images, files.charts, strict=True):
        assert image["complete"], f"{chart.name} did not load"
        assert (image["naturalWidth"], image["naturalHeight"]) == png_size(chart), chart.name
        assert image["width"] > 100, f"{chart.name} shows at {image}"
        assert image["height"] > 100, f"{chart.name} shows at {image}"
        assert image["right"] <= width, f"{chart.name} runs past the window"
        assert image["alt"], f"{chart.name} has no text alternative"

    shown = page.eval_on_selector_all("table", TABLES_JS)
    expected = model_tables(doc)
    assert [t["caption"] for t in shown] == [t.caption for t in expected]
    for got, table in zip(shown, expected, strict=True):
        assert got["id"] == table.id
        assert got["header"] == list(table.header), table.caption
        assert got["rows"] == [list(row) for row in table.rows], table.caption
        assert got["flagged"] == sorted(table.flagged), table.caption
    for table_id in ("targets", "original", "ours-shared-host"):
        expect(page.locator(f"table#{table_id} tbody tr").first).to_be_visible()
    expect(page.locator("table#original tbody tr")).to_have_count(5)
    expect(page.locator("table#original")).to_contain_text("125.76")
    if name == "scaling":
        flagged = page.locator("table tr.flagged td").first
        expect(flagged).to_be_visible()
        assert background(flagged) == FLAGGED_BACKGROUND

    expect(page.locator("#verdict ul.verdict li").first).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= width, "wider than the window"
    page.screenshot(path=shots / "report.png", full_page=True)

    assert all(url.startswith(("file:", "data:")) for url in tab.requested), tab.requested
    assert not tab.script_errors
