"""Stored monitoring reports: the JSON twin, the self-contained HTML page, listing, gc.

No headless browser here (neither Chromium nor Playwright is installed on the CI machine):
the page is checked structurally instead: it parses, refers to no external URL, carries
Plotly's JavaScript inline, and every plot's data are those of the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from _traffic import FEATURES, Traffic, serve

from conftest import open_ws
from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.workspace import Workspace


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ws(request: pytest.FixtureRequest, project: Path) -> Iterator[Workspace]:
    """A project whose catalog is SQLite or a fresh PostgreSQL database."""
    env: dict[str, str] = {}
    if request.param == "postgresql":
        env = {"WEEKEND_CATALOG_URL": request.getfixturevalue("postgres_url")}
    ws = open_ws(project, env)
    yield ws
    ws.close()


@pytest.fixture
def traffic(ws: Workspace) -> Traffic:
    return serve(ws, np.random.default_rng(5), rows=400, shifts=(0.0, 0.0, 900.0))


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.plots: dict[str, Any] = {}
        self.divs: list[str] = []
        self.scripts = 0
        self._data: str | None = None
        self._target = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        for name in ("src", "href", "action"):
            if found.get(name):
                self.urls.append(str(found[name]))
        if tag == "div" and found.get("class") == "plot":
            self.divs.append(str(found["id"]))
        if tag == "script":
            self.scripts += 1
            if found.get("class") == "plot-data":
                self._data, self._target = "", str(found["data-target"])

    def handle_data(self, data: str) -> None:
        if self._data is not None:
            self._data += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._data is not None:
            self.plots[self._target] = orjson.loads(self._data)
            self._data = None


def _titles(page: _Page) -> dict[str, Any]:
    return {spec["layout"]["title"]: spec for spec in page.plots.values()}


def test_a_stored_report_has_its_json_twin_and_page(ws: Workspace, traffic: Traffic) -> None:
    report = ws.monitor.report("flight-delay@champion", reference=traffic.train[FEATURES])
    assert report.id is not None
    (stored,) = ws.monitor.list()
    assert (stored.id, stored.kind, stored.subject) == (report.id, "served", "flight-delay/1")
    assert stored.summary["drifted"] == ["distance"] == report.drifted
    assert ws.monitor.list(model="other") == []
    assert ws.monitor.get(report.id[:8]) == stored
    twin = ws.monitor.read_json(stored)
    assert twin == orjson.loads(report.to_json())
    assert [w["rows"] for w in twin["windows"]] == [400, 400, 400]
    assert twin["windows"][2]["drifted"] == ["distance"]

    text = ws.monitor.read_html(report.id)
    page = _Page()
    page.feed(text)
    assert page.urls == []  # no CDN, no stylesheet, no link out
    # outside plotly.js itself (whose bundle names URLs for maps this page never draws),
    # the page names no URL at all
    body = text.split("</head>", 1)[1]
    assert "http://" not in body
    assert "https://" not in body
    assert "<script src" not in text
    assert "Plotly.newPlot" in text
    assert len(text) > 1_000_000
    assert sorted(page.plots) == sorted(page.divs)
    titles = _titles(page)
    share = titles["share of drifting features"]["data"][0]["y"]
    assert share == [w["share_drifted"] for w in twin["windows"]]
    assert titles["volume"]["data"][0]["y"] == [400, 400, 400]
    auc = titles["roc_auc: estimated vs realized"]["data"]
    assert [t["name"] for t in auc][-2:] == ["estimated", "realized"]
    assert auc[-1]["y"] == [w["realized"]["roc_auc"] for w in twin["windows"]]
    dist = titles["distance: reference vs latest window"]["data"]
    assert [d["name"] for d in dist] == ["reference", "latest window"]
    assert sum(dist[0]["y"]) == pytest.approx(1.0)
    assert sum(dist[1]["y"]) == pytest.approx(1.0)
    carriers = titles["carrier: reference vs latest window"]["data"][0]["x"]
    assert sorted(carriers) == ["AA", "B6", "DL", "UA"]


def test_report_blobs_survive_gc_and_a_refused_store_keeps_nothing(
    ws: Workspace, traffic: Traffic
) -> None:
    report = ws.monitor.report("flight-delay@champion", reference=traffic.train[FEATURES])
    ws.gc(grace=0)
    stored = ws.monitor.get(str(report.id))
    assert ws.artifacts.read_bytes(stored.json_sha256)
    assert stored.html_sha256 is not None
    assert ws.artifacts.read_bytes(stored.html_sha256)
    with pytest.raises(NotFoundError, match="no stored report has an id starting with"):
        ws.monitor.get("ffffffffff")
    with pytest.raises(InvalidValueError, match="at least 6 characters"):
        ws.monitor.get("ab")


def test_compare_two_tables_stores_a_data_report(ws: Workspace, traffic: Traffic) -> None:
    current = traffic.days[2][FEATURES]
    report = ws.monitor.compare(traffic.train[FEATURES], current, store=True)
    assert report.drifted == ["distance"]
    (stored,) = ws.monitor.list(kind="data")
    assert stored.summary["drifted"] == ["distance"]
    page = _Page()
    page.feed(ws.monitor.read_html(stored))
    assert page.urls == []
    (bars,) = page.plots.values()
    assert bars["data"][0]["x"] == [c.column for c in report.columns]
