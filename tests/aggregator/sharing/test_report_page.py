"""The sharing report as a manager opens it: Chromium, at desktop and phone widths.

The page is one file, Spanish with English beside it; its charts are SVG drawn by
``sharing.charts``. Set ``IOE_SCREENSHOTS`` to a folder to keep a screenshot of each width.
"""

from __future__ import annotations

import os
from pathlib import Path

from playwright.async_api import Browser
import pytest

from ioe_aggregator.cli import main
from ioe_dev.synthetic import make_community, write_csv

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
SCHEMES = "equal,power,consumption,optimized-static,hourly-profile,perfect-foresight"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("report")
    inputs = write_csv(make_community(14, seed=5), directory / "data")
    code = main([
        "sharing", "compare", "--members", str(inputs["members"]),
        "--consumption", str(inputs["consumption"]), "--generation", str(inputs["generation"]),
        "--schemes", SCHEMES, "--import-price", "0.16", "--surplus-price", "0.06",
        "--vulnerable-reserve", "0.1", "--in-force", "power", "--objective", "savings",
        "--out", str(directory / "out"),
    ])  # fmt: skip
    assert code == 0
    return directory / "out" / "report.html"


@pytest.mark.parametrize("width", VIEWPORTS)
async def test_the_report_reads_at_every_width(browser: Browser, report: Path, width: str) -> None:
    page = await browser.new_page(viewport=VIEWPORTS[width])  # type: ignore[arg-type]
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))
    await page.goto(report.as_uri())

    # Nothing but the file itself: the page works offline.
    assert fetched == [report.as_uri()]
    # The page never scrolls sideways; a wide chart or table scrolls inside its own box.
    assert await page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[width]["width"]
    charts = page.locator("figure.chart svg")
    assert await charts.count() == 3  # members, months, hourly β
    for index in range(await charts.count()):
        box = await charts.nth(index).bounding_box()
        assert box is not None
        assert box["width"] > 200
        assert box["height"] > 80
    # Charts are drawn at their own size (their 12 px text stays 12 px), never shrunk to fit.
    scales = await page.evaluate(
        "[...document.querySelectorAll('figure.chart svg')]"
        ".map(s => s.getBoundingClientRect().width / s.viewBox.baseVal.width)"
    )
    assert scales == pytest.approx([1.0] * 3)
    # Every bar and point carries its value; the legend names each series in both languages.
    assert await page.locator("figure.chart rect > title").first.text_content()
    legend = page.locator("figure.chart .legend").first
    assert await legend.is_visible()
    assert "Consumo" in await legend.inner_text()
    assert "Consumption" in await legend.inner_text()
    if folder := os.environ.get("IOE_SCREENSHOTS"):
        await page.screenshot(path=Path(folder) / f"report-{width}.png", full_page=True)
    await page.close()


async def test_the_decision_reads_and_prints_on_a4(browser: Browser, report: Path) -> None:
    page = await browser.new_page(viewport=VIEWPORTS["desktop"])  # type: ignore[arg-type]
    await page.goto(report.as_uri())

    recommendation = page.locator(".recommendation")
    text = await recommendation.inner_text()
    assert "el reparto recomendado es" in text
    assert "the recommended agreement is" in text
    assert "Frente al reparto vigente («power»)" in text
    # Every agreement's fairness, and the recommended one's members, one row each.
    fairness = page.locator("h2", has_text="Fairness").locator("xpath=following-sibling::div[1]")
    assert await fairness.locator("tr").count() == 1 + 5  # the head and five agreements
    assert await page.locator("table.named").count() == 2

    await page.emulate_media(media="print")
    # On paper nothing scrolls: every table and chart fits the A4 width (about 700 px).
    await page.set_viewport_size({"width": 700, "height": 990})
    overflow = await page.evaluate(
        "[...document.querySelectorAll('.table, .scroll')]"
        ".map(box => getComputedStyle(box).overflowX)"
    )
    assert set(overflow) == {"visible"}
    pdf = await page.pdf(format="A4")
    assert pdf.startswith(b"%PDF")
    if folder := os.environ.get("IOE_SCREENSHOTS"):
        await page.screenshot(path=Path(folder) / "report-print.png", full_page=True)
    await page.close()
