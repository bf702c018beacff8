"""The analytics pages in a real browser: every chart is drawn (a canvas
with Chart.js behind it), and each chart's data table holds the numbers the
chart draws; the pages pass axe."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

from invigil.db.engine import Database
from invigil.settings import Settings
from tests.browser.axe import assert_accessible
from tests.conftest import PASSWORD, make_tenant, make_user
from tests.results.test_analytics import cohort

DRAWN = """figure => {
  const chart = Chart.getChart(figure.querySelector("canvas"));
  return chart ? {labels: chart.data.labels, values: chart.data.datasets.map(d => d.data)} : null;
}"""
TABLE = """figure => {
  const rows = Array.from(figure.querySelectorAll("table tbody tr"));
  return {
    labels: rows.map(r => r.querySelector("th").textContent.trim()),
    values: rows.map(r => Array.from(r.querySelectorAll("td")).map(td => td.textContent.trim())),
  };
}"""


def _sign_in(page: Page, base: str, tenant: str, email: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("Tenant").fill(tenant)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Signed in as {email}")).to_be_visible()


def _charts_match_their_tables(page: Page, expected: int) -> list[dict[str, Any]]:
    figures = page.locator("figure.chart")
    expect(figures).to_have_count(expected)
    expect(page.locator("figure.chart.chart-drawn")).to_have_count(expected)
    found = []
    for i in range(expected):
        figure = figures.nth(i)
        expect(figure.locator("canvas")).to_be_visible()
        drawn = figure.evaluate(DRAWN)
        table = figure.evaluate(TABLE)
        assert drawn is not None, f"chart {i} has no Chart.js instance"
        assert drawn["labels"] == table["labels"]
        columns = [[float(row[k]) for row in table["values"]] for k in range(len(drawn["values"]))]
        assert [[float(v) for v in series] for series in drawn["values"]] == columns
        found.append({"labels": table["labels"], "values": columns})
    return found


def test_the_analytics_pages_draw_charts_that_their_tables_repeat(
    page: Page, live_server: str, database: Database, settings: Settings
) -> None:
    tenant = make_tenant(database, settings)
    exam, _ = cohort(database, tenant.id)  # type: ignore[arg-type]
    viewer = make_user(database, tenant.id, ["results_viewer"])
    _sign_in(page, live_server, tenant.slug, viewer.email)

    page.goto(f"{live_server}/exams/{exam.id}/analytics")
    expect(page.get_by_role("heading", name="Item analysis", exact=True)).to_be_visible()
    histogram, funnel, categories = _charts_match_their_tables(page, 3)
    # The hand-computed cohort (tests/results/test_analytics.py).
    assert histogram["values"] == [[0, 0, 1, 0, 0, 2, 0, 1, 0, 1]]
    assert funnel["values"] == [[8, 7, 6, 6, 5, 0]]  # nothing released yet
    assert categories["labels"] == ["Geo", "Sci"] and categories["values"] == [[60, 60]]
    expect(page.locator("#item-table")).to_contain_text("Not enough responses")
    assert_accessible(page, "the exam's analytics page")

    page.get_by_role("link", name="Facility").click()
    expect(page.locator('#item-table th[aria-sort="ascending"]')).to_contain_text("Facility")

    page.goto(f"{live_server}/questions/{exam.questions['A']}/analysis")
    [options] = _charts_match_their_tables(page, 1)
    assert options["values"] == [[1, 3, 0, 0]]
    expect(page.locator("table.options")).to_contain_text("keyed")
    assert_accessible(page, "a question's analysis page")
