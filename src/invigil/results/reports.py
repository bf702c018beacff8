"""Printed reports (PDF) of an attempt's result and of an exam's cohort.

The report is the page's data (:mod:`invigil.results.attempt_result`,
:mod:`invigil.results.exam_report`) rendered by a template into HTML and
by WeasyPrint into PDF, in the reader's language. Charts are SVG drawn
here from the numbers, inline in the HTML, each followed by the table of
its numbers: no script runs and no image is fetched.

WeasyPrint never reaches the network. Its URL fetcher is
:class:`OwnFiles`: it serves Invigil's own static files (the print
stylesheet) and the tenant's stored logo, and refuses every other URL
(``http:``, ``https:``, ``file:``, ``data:``, ...), so a value that ends up
in a report cannot make the server fetch anything (server-side request
forgery), and the report looks the same offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from markupsafe import Markup, escape
from weasyprint import HTML  # type: ignore[import-untyped]
from weasyprint.urls import URLFetcher, URLFetcherResponse  # type: ignore[import-untyped]

from invigil import i18n
from invigil.content.pages.common import TYPE_LABELS
from invigil.db.uow import UnitOfWork
from invigil.delivery import attempt_pages  # noqa: F401 - installs the `duration` filter
from invigil.logs import get_logger
from invigil.proctoring import review_pages  # noqa: F401 - installs the labels the report reads
from invigil.results.attempt_result import AttemptResultView
from invigil.results.exam_report import ExamCohort
from invigil.tenants import branding
from invigil.web.pages import STATIC, templates

log = get_logger(__name__)
SCHEME = "invigil:"
STYLESHEET = f"{SCHEME}static/reports/print.css"
LOGO = f"{SCHEME}logo"
TYPES = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
}


class Refused(ValueError):
    """A URL the report renderer may not fetch."""


class OwnFiles(URLFetcher):  # type: ignore[misc]
    """WeasyPrint's only way out: Invigil's static files and the logo it was
    given, nothing else. What it refused is kept in ``refused``."""

    def __init__(self, logo: branding.Logo | None = None, root: Path = STATIC) -> None:
        super().__init__(timeout=1, allowed_protocols=(), allow_redirects=False)
        self.root = root.resolve()
        self.logo = logo
        self.refused: list[str] = []

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url == LOGO and self.logo is not None:
            return URLFetcherResponse(url, self.logo.data, {"Content-Type": self.logo.content_type})
        if url.startswith(f"{SCHEME}static/"):
            path = (self.root / url.removeprefix(f"{SCHEME}static/")).resolve()
            kind = TYPES.get(path.suffix)
            if kind and path.is_relative_to(self.root) and path.is_file():
                return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": kind})
        self.refused.append(url[:200])
        log.warning("report.fetch_refused", url=url[:200])
        raise Refused(f"a report may not fetch {url[:200]}")


def css_string(value: str) -> Markup:
    """``value`` as a CSS string literal (for the page footer's ``content``)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    # Raw text inside <style>: HTML escaping would show as "&#34;"; "<" is
    # escaped the CSS way so that no "</style>" can end the element.
    return Markup('"' + escaped.replace("<", "\\3c ") + '"')  # noqa: S704


@dataclass(frozen=True)
class Bar:
    label: str
    value: float  # what the bar's length shows
    text: str  # the value in words, printed at the bar's end


def bar_chart(bars: Sequence[Bar], *, top: float, title: str, vertical: bool) -> Markup:
    """An SVG bar chart: columns (``vertical``) or rows, scaled to ``top``."""
    width, height = (640, 220) if vertical else (640, 28 * max(len(bars), 1) + 10)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}"'
        f' width="{width}" height="{height}" role="img" aria-label="{escape(title)}">'
    ]
    top = top or 1.0
    if vertical:
        slot = (width - 20) / max(len(bars), 1)
        base = height - 30
        for i, b in enumerate(bars):
            h = (base - 20) * b.value / top
            x = 10 + i * slot
            parts.append(
                f'<rect x="{x + 4:.1f}" y="{base - h:.1f}" width="{slot - 8:.1f}"'
                f' height="{h:.1f}" fill="#2f5d9b"/>'
                f'<text x="{x + slot / 2:.1f}" y="{base - h - 4:.1f}" text-anchor="middle"'
                f' font-size="11">{escape(b.text)}</text>'
                f'<text x="{x + slot / 2:.1f}" y="{base + 16:.1f}" text-anchor="middle"'
                f' font-size="10">{escape(b.label)}</text>'
            )
        parts.append(f'<line x1="10" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#333"/>')
    else:
        label_w = 200
        for i, b in enumerate(bars):
            y = 5 + i * 28
            w = (width - label_w - 70) * b.value / top
            parts.append(
                f'<text x="{label_w - 8}" y="{y + 16}" text-anchor="end" font-size="11">'
                f"{escape(b.label[:32])}</text>"
                f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="16" fill="#2f5d9b"/>'
                f'<text x="{label_w + w + 6:.1f}" y="{y + 16}" font-size="11">'
                f"{escape(b.text)}</text>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it went through escape()


def _render(template: str, locale: str, now: datetime, uow: UnitOfWork, **values: Any) -> bytes:
    brand = branding.brand_of(uow)
    logo = branding.logo_of(uow) if brand.has_logo else None
    t = i18n.translations(locale)
    footer = {
        "generated": css_string(
            t.gettext("Generated %(time)s") % {"time": i18n.local_datetime(now, locale)}
        ),
        "page": css_string(t.gettext("Page")),
        "of": css_string(t.gettext("of")),
    }
    html = templates.env.get_template(template).render(
        locale=locale,
        brand=brand,
        logo_url=LOGO if logo is not None else None,
        stylesheet=STYLESHEET,
        footer=footer,
        generated_at=now,
        type_labels=TYPE_LABELS,
        **values,
    )
    fetcher = OwnFiles(logo)
    pdf: bytes = HTML(string=html, url_fetcher=fetcher).write_pdf()
    return pdf


def attempt_pdf(uow: UnitOfWork, view: AttemptResultView, locale: str, *, now: datetime) -> bytes:
    return _render("results/report_attempt.html", locale, now, uow, r=view)


def exam_pdf(uow: UnitOfWork, cohort: ExamCohort, locale: str, *, now: datetime) -> bytes:
    t = i18n.translations(locale)
    top = max((b.count for b in cohort.bins), default=0)
    histogram = bar_chart(
        [Bar(f"{b.low}-{b.high}", b.count, str(b.count)) for b in cohort.bins],
        top=top,
        title=t.gettext("Score distribution"),
        vertical=True,
    )
    categories = bar_chart(
        [
            Bar(c.name, float(c.percent or 0), i18n.local_percent(c.percent, locale, "—"))
            for c in cohort.categories
        ],
        top=100.0,
        title=t.gettext("Category breakdown"),
        vertical=False,
    )
    return _render(
        "results/report_exam.html",
        locale,
        now,
        uow,
        c=cohort,
        histogram=histogram,
        categories_chart=categories,
    )
