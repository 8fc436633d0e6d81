"""The steward's report in a real browser: headless Chromium (Debian's package) opens
report.html from a fixture run, finds the scorecard, the charts and every section,
sees no console errors and no network request, and keeps a screenshot."""
import os
import pathlib

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("RECON_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = pathlib.Path(__file__).resolve().parents[3] / "target" / "test-artifacts"


@pytest.fixture(scope="module")
def latest_run():
    out = os.environ.get("RECON_TEST_OUTPUT")
    assert out, "RECON_TEST_OUTPUT must name a recon output directory (scripts/test.sh sets it)"
    runs = sorted(pathlib.Path(out).glob("run_date=*"))
    assert runs, f"no run under {out}"
    return runs[-1]


@pytest.fixture(scope="module")
def page(latest_run, tmp_path_factory):
    report = latest_run / "report.html"
    assert report.is_file(), f"no report at {report}"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            # Playwright gives every launch a fresh, empty profile directory.
            args=ARGS,
        )
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        console, requests, failures = [], [], []
        pg.on("console", lambda m: console.append((m.type, m.text)))
        pg.on("pageerror", lambda e: console.append(("pageerror", str(e))))
        pg.on("request", lambda r: requests.append(r.url))
        pg.on("requestfailed", lambda r: failures.append(r.url))
        pg.goto(report.as_uri(), wait_until="load")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        yield pg, console, requests, failures, report
        browser.close()


def test_sections_are_all_there(page):
    pg, *_ = page
    for section in ["summary", "gates", "changes", "scorecard", "trends", "rules",
                    "duplicates", "mismatches", "stale", "review"]:
        el = pg.locator(f"#{section}")
        assert el.count() == 1, section
        assert el.is_visible(), section
    assert "Data quality report" in pg.title() or "data quality report" in pg.title()


def test_scorecard_heat_map_has_every_source_and_dimension(page):
    pg, *_ = page
    header = pg.locator("#scorecard table.heat tr").first.inner_text()
    for d in ["completeness", "validity", "uniqueness", "timeliness", "consistency", "integrity", "overall"]:
        assert d in header
    rows = pg.locator("#scorecard table.heat tr")
    assert rows.count() == 1 + 4, "a row per source"
    body = pg.locator("#scorecard").inner_text()
    for source in ["crm_accounts", "billing_customers", "invoice_lines", "inventory_items"]:
        assert source in body
    # Cells carry their rules as a tooltip: the way from a score to its rules.
    assert "stale_record" in pg.locator("#scorecard td.cell").nth(3).get_attribute("title")


def test_charts_render(page):
    pg, *_ = page
    charts = pg.locator("#trends svg")
    assert charts.count() == 4
    box = charts.first.bounding_box()
    assert box and box["width"] > 200 and box["height"] > 100
    assert pg.locator("#trends svg polyline.series").count() >= 4
    # Several runs → several points per line.
    assert pg.locator("#trends svg circle").count() >= 8


def test_findings_sections_show_the_planted_problems(page):
    pg, *_ = page
    assert "0015g00000AcMe2AAF" in pg.locator("#duplicates").inner_text()
    assert "wrong_reference" in pg.locator("#mismatches").inner_text()
    assert "cus_Umbrella004" in pg.locator("#mismatches").inner_text()
    assert "OLD-0001" in pg.locator("#stale").inner_text()
    assert pg.locator("#rules table").count() >= 1
    assert "Showing" in pg.locator("#rules").inner_text()


def test_no_console_errors_and_no_network(page):
    _, console, requests, failures, report = page
    errors = [c for c in console if c[0] in ("error", "pageerror", "warning")]
    assert errors == [], errors
    assert failures == [], failures
    assert requests == [report.as_uri()], f"the page loads nothing but itself: {requests}"


def test_screenshot_is_kept(page):
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
