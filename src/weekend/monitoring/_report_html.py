"""The HTML page of a monitoring report: self-contained, its plots drawn by Plotly.

Plotly's JavaScript comes from the installed ``plotly`` package (the ``monitoring`` extra)
and is written inline once, so the page opens offline and refers to no other URL. Each
figure is a ``<div class="plot">`` with its data in a JSON ``<script>`` beside it, drawn by
one small script at the end; tests read those data back.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson

from weekend.core.optional import require

if TYPE_CHECKING:
    from weekend.monitoring._compare import DriftReport
    from weekend.monitoring._report import ServedReport

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#222;max-width:1200px}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}
table{border-collapse:collapse;font-size:.85rem}
td,th{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}
th:first-child,td:first-child{text-align:left}.drift{color:#b00020;font-weight:600}
.plot{width:100%;height:360px}.muted{color:#777}
"""
_DRAW = """
document.querySelectorAll('script.plot-data').forEach(function(s){
  var spec=JSON.parse(s.textContent);
  Plotly.newPlot(s.dataset.target, spec.data, spec.layout, {responsive:true,displaylogo:false});
});
"""


def plotly_js() -> str:
    """Plotly's JavaScript bundle, from the installed Python package."""
    offline = require("plotly.offline", "monitoring", "HTML monitoring reports")
    return str(offline.get_plotlyjs())


class _Page:
    def __init__(self, title: str) -> None:
        self.title = title
        self.parts: list[str] = []
        self.count = 0

    def heading(self, text: str) -> None:
        self.parts.append(f"<h2>{html.escape(text)}</h2>")

    def text(self, text: str, cls: str = "") -> None:
        self.parts.append(f'<p class="{cls}">{html.escape(text)}</p>')

    def plot(self, data: list[dict[str, Any]], layout: Mapping[str, Any]) -> None:
        self.count += 1
        target = f"plot-{self.count}"
        spec = orjson.dumps({"data": data, "layout": {"margin": {"t": 40}, **layout}})
        safe = spec.decode().replace("</", "<\\/")
        self.parts.append(
            f'<div class="plot" id="{target}"></div>'
            f'<script type="application/json" class="plot-data" data-target="{target}">'
            f"{safe}</script>"
        )

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]], marked: set[int]) -> None:
        head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
        body = []
        for i, row in enumerate(rows):
            cls = ' class="drift"' if i in marked else ""
            cells = "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in row)
            body.append(f"<tr{cls}>{cells}</tr>")
        self.parts.append(f"<table><tr>{head}</tr>{''.join(body)}</table>")

    def render(self) -> str:
        js = plotly_js().replace("</script", "<\\/script")
        return (
            "<!DOCTYPE html><html><head><meta charset='utf-8'>"
            f"<title>{html.escape(self.title)}</title><style>{_STYLE}</style>"
            f"<script>{js}</script></head><body><h1>{html.escape(self.title)}</h1>"
            f"{''.join(self.parts)}<script>{_DRAW}</script></body></html>"
        )


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _column_rows(drift: Mapping[str, Any]) -> tuple[list[list[Any]], set[int]]:
    rows, marked = [], set()
    for i, col in enumerate(drift.get("columns", [])):
        rows.append(
            [
                col.get("column"),
                col.get("kind"),
                col.get("test"),
                col.get("p_value"),
                col.get("adjusted_p_value"),
                col.get("effect"),
                col.get("effect_size"),
                "yes" if col.get("drifted") else "no",
            ]
        )
        if col.get("drifted"):
            marked.add(i)
    return rows, marked


_COLUMN_HEADER = ["column", "kind", "test", "p", "adjusted p", "effect", "size", "drifted"]


def _performance_plots(page: _Page, windows: list[dict[str, Any]]) -> None:
    starts = [w["start"] for w in windows]
    names: list[str] = []
    for w in windows:
        for source in (w.get("realized") or {}, ((w.get("estimated") or {}).get("metrics") or {})):
            names.extend(n for n in source if n not in names)
    for metric in [n for n in ("roc_auc", "f1", "accuracy", "mae", "rmse") if n in names][:3]:
        data: list[dict[str, Any]] = []
        est = [((w.get("estimated") or {}).get("metrics") or {}).get(metric) for w in windows]
        if any(e is not None for e in est):
            lower = [None if e is None else e["lower"] for e in est]
            upper = [None if e is None else e["upper"] for e in est]
            data.append(
                {
                    "x": starts,
                    "y": upper,
                    "mode": "lines",
                    "line": {"width": 0},
                    "showlegend": False,
                    "name": "upper",
                }
            )
            data.append(
                {
                    "x": starts,
                    "y": lower,
                    "mode": "lines",
                    "line": {"width": 0},
                    "fill": "tonexty",
                    "name": "estimate band",
                }
            )
            data.append(
                {
                    "x": starts,
                    "y": [None if e is None else e["value"] for e in est],
                    "mode": "lines+markers",
                    "name": "estimated",
                }
            )
        realized = [(w.get("realized") or {}).get(metric) for w in windows]
        data.append({"x": starts, "y": realized, "mode": "lines+markers", "name": "realized"})
        page.plot(data, {"title": f"{metric}: estimated vs realized"})
    coverage = [w.get("label_coverage") for w in windows]
    page.plot(
        [{"x": starts, "y": coverage, "type": "bar", "name": "label coverage"}],
        {"title": "label coverage", "yaxis": {"range": [0, 1]}},
    )


def _distribution_plot(page: _Page, name: str, dist: Mapping[str, Any]) -> None:
    if dist.get("kind") == "numeric":
        edges = dist["edges"]
        x = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    else:
        x = list(dist["categories"])
    data = [
        {"x": x, "y": dist["reference"], "type": "bar", "name": "reference", "opacity": 0.6},
        {"x": x, "y": dist["current"], "type": "bar", "name": "latest window", "opacity": 0.6},
    ]
    page.plot(data, {"title": f"{name}: reference vs latest window", "barmode": "overlay"})


def _quality_plots(page: _Page, windows: list[dict[str, Any]]) -> None:
    starts = [w["start"] for w in windows]
    page.heading("Volume, latency and data quality")
    series = (
        ("rows", "volume", "bar"),
        ("latency_ms_p95", "latency p95 (ms)", "lines+markers"),
        ("missing_share", "missing share", "lines+markers"),
    )
    for key, title, style in series:
        trace: dict[str, Any] = {"x": starts, "y": [w[key] for w in windows], "name": title}
        trace.update({"type": "bar"} if style == "bar" else {"mode": style})
        page.plot([trace], {"title": title})


def served_html(report: ServedReport) -> str:
    """The page of a served-traffic report."""
    d = report.to_dict()
    windows = d["windows"]
    page = _Page(f"Monitoring {report.ref}: {d['start']} to {d['end']}")
    page.text(
        f"{d['rows']:,} predictions in {len(windows)} windows of {d['window']}; "
        f"reference: {d['reference']}."
    )
    page.text(
        "Drifting features in the latest window: " + (", ".join(d["drifted"]) or "none"),
        "drift" if d["drifted"] else "",
    )
    starts = [w["start"] for w in windows]
    page.heading("Drift over time")
    page.plot(
        [
            {
                "x": starts,
                "y": [w["share_drifted"] for w in windows],
                "mode": "lines+markers",
                "name": "share of drifting features",
            }
        ],
        {"title": "share of drifting features", "yaxis": {"range": [0, 1]}},
    )
    effects = _effects_over_time(windows)
    page.plot(
        [{"x": starts, "y": ys, "mode": "lines", "name": n} for n, ys in effects.items()],
        {"title": "effect size per feature"},
    )
    page.heading("Performance")
    _performance_plots(page, windows)
    _quality_plots(page, windows)
    if windows and windows[-1]["drift"]:
        page.heading("Latest window, per feature")
        rows, marked = _column_rows(windows[-1]["drift"])
        page.table(_COLUMN_HEADER, rows, marked)
    page.heading("Distributions: reference vs latest window")
    for name, dist in d["distributions"].items():
        if dist:
            _distribution_plot(page, name, dist)
    for name, why in d["skipped"].items():
        page.text(f"{name}: {why}", "muted")
    return page.render()


def _effects_over_time(windows: list[dict[str, Any]]) -> dict[str, list[float | None]]:
    names: list[str] = []
    for w in windows:
        for col in (w.get("drift") or {}).get("columns", []):
            if col["column"] not in names:
                names.append(col["column"])
    found: dict[str, list[float | None]] = {}
    for name in names[:20]:
        ys: list[float | None] = []
        for w in windows:
            cols = {c["column"]: c for c in (w.get("drift") or {}).get("columns", [])}
            ys.append(cols[name].get("effect_size") if name in cols else None)
        found[name] = ys
    return found


def compare_html(report: DriftReport) -> str:
    """The page of two tables compared."""
    d = report.to_dict()
    page = _Page(f"Drift: {report.reference} vs {report.current}")
    page.text(f"{report.n_reference:,} reference rows, {report.n_current:,} current rows.")
    page.text(
        "Drifting columns: " + (", ".join(report.drifted) or "none"),
        "drift" if report.drifted else "",
    )
    result = d.get("result") or d
    rows, marked = _column_rows(result)
    names = [r[0] for r in rows]
    page.plot(
        [{"x": names, "y": [r[6] for r in rows], "type": "bar", "name": "effect size"}],
        {"title": "effect size per column"},
    )
    page.table(_COLUMN_HEADER, rows, marked)
    for name, why in report.skipped.items():
        page.text(f"{name}: {why}", "muted")
    return page.render()


__all__ = ["compare_html", "plotly_js", "served_html"]
