// Invigil's one wrapper around Chart.js (served from /vendor/chart.js/).
// A chart is a <figure class="chart" data-chart="bar|bar-horizontal|line">
// holding a <canvas> and the data table it is drawn from (the table stays
// for screen readers and without JavaScript). The data comes from a JSON
// data island (<script type="application/json" class="chart-data">
// {"labels": [...], "series": [{"name": ..., "values": [...]}]}) when the
// figure has one, else from the table: row headers are the labels, column
// headers the series.
(function () {
  "use strict";

  const PALETTE = ["#1f5fbf", "#c2571a", "#2a7d4f", "#7b3fa0", "#a4262c", "#5b6573"];

  function fromIsland(figure) {
    const island = figure.querySelector('script[type="application/json"].chart-data');
    if (!island) return null;
    try {
      return JSON.parse(island.textContent);
    } catch (e) {
      return null;
    }
  }

  function fromTable(figure) {
    const table = figure.querySelector("table");
    if (!table) return null;
    const names = Array.from(table.querySelectorAll("thead th")).slice(1).map((th) => th.textContent.trim());
    const rows = Array.from(table.querySelectorAll("tbody tr"));
    const labels = rows.map((tr) => tr.querySelector("th").textContent.trim());
    const series = names.map((name, i) => ({
      name,
      values: rows.map((tr) => Number(tr.querySelectorAll("td")[i].textContent.trim().replace(/[^0-9.-]/g, "")) || 0),
    }));
    return { labels, series };
  }

  function draw(figure) {
    const data = fromIsland(figure) || fromTable(figure);
    const canvas = figure.querySelector("canvas");
    if (!data || !canvas || typeof window.Chart === "undefined") return;
    const kind = figure.dataset.chart || "bar";
    const horizontal = kind === "bar-horizontal";
    const wrap = canvas.parentElement;
    wrap.hidden = false;
    if (horizontal) wrap.style.height = Math.max(8, 2.2 * data.labels.length + 4) + "rem";
    // eslint-disable-next-line no-new
    new window.Chart(canvas, {
      type: kind === "line" ? "line" : "bar",
      data: {
        labels: data.labels,
        datasets: data.series.map((s, i) => ({
          label: s.name,
          data: s.values,
          backgroundColor: PALETTE[i % PALETTE.length],
          borderColor: PALETTE[i % PALETTE.length],
        })),
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        plugins: { legend: { display: data.series.length > 1, position: "bottom" } },
        scales: { [horizontal ? "x" : "y"]: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
    figure.classList.add("chart-drawn");
  }

  function start() {
    document.querySelectorAll("figure.chart").forEach(draw);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
