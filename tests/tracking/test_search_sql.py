"""search_run_ids against a Python reference evaluation, on real SQLite and PostgreSQL."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weekend.catalog import Catalog
from weekend.catalog.tables import experiments, latest_metrics, params, runs, tags
from weekend.core.errors import FilterSyntaxError, InvalidValueError
from weekend.tracking import search
from weekend.tracking._search_parse import (
    ATTRIBUTES,
    And,
    CompareOp,
    Comparison,
    Identifier,
    InList,
    IsNull,
    Like,
    Node,
    Not,
    Or,
    SortKey,
    conjoin,
    disjoin,
    format_filter,
)
from weekend.tracking.search import like_to_glob, search_run_ids

_COMPARE_OPS: list[CompareOp] = ["=", "!=", "<", "<=", ">", ">="]

NAN = float("nan")
INF = float("inf")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Catalog]:
    if request.param == "sqlite":
        cat = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    else:
        cat = Catalog(request.getfixturevalue("postgres_url"))
    try:
        yield cat
    finally:
        cat.dispose()


# -- test data and the reference -----------------------------------------------------------
@dataclass
class Run:
    id: str
    experiment_id: str = "e1"
    name: str = "run"
    status: str = "finished"
    start_time: int = 0
    end_time: int | None = None
    parent_id: str | None = None
    user: str = "ann"
    host: str = "h1"
    deleted: bool = False
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)  # latest values; NaN allowed


def load(catalog: Catalog, data: Sequence[Run]) -> None:
    """Replace the catalog's contents with ``data`` (plain SQLAlchemy Core inserts)."""
    with catalog.begin() as conn:
        for table in (latest_metrics, params, tags, runs, experiments):
            conn.execute(table.delete())
        conn.execute(
            experiments.insert(),
            [{"id": e, "name": f"exp-{e}", "created_at": 0} for e in ("e1", "e2")],
        )
        if not data:
            return
        conn.execute(
            runs.insert(),
            [
                {
                    "id": r.id,
                    "experiment_id": r.experiment_id,
                    "parent_id": r.parent_id,
                    "name": r.name,
                    "status": r.status,
                    "start_time": r.start_time,
                    "end_time": r.end_time,
                    "heartbeat_at": 0,
                    "error": None,
                    "user": r.user,
                    "host": r.host,
                    "pid": 1,
                    "deleted": r.deleted,
                }
                for r in data
            ],
        )
        for table, attr in ((params, "params"), (tags, "tags")):
            rows = [
                {"run_id": r.id, "key": k, "value": v}
                for r in data
                for k, v in getattr(r, attr).items()
            ]
            if rows:
                conn.execute(table.insert(), rows)
        rows = [
            {
                "run_id": r.id,
                "key": k,
                "step": 0,
                "timestamp": 0,
                "value": None if math.isnan(v) else v,
                "is_nan": math.isnan(v),
            }
            for r in data
            for k, v in r.metrics.items()
        ]
        if rows:
            conn.execute(latest_metrics.insert(), rows)


_JSON_NUMBER = re.compile(r"[ \t\n\r]*-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]{1,4})?[ \t\n\r]*")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def as_number(text: str) -> float | None:
    """The reference reading of a param or tag as a number (see search's docstring)."""
    if len(text) <= 64 and _JSON_NUMBER.fullmatch(text):
        return float(text)
    return None


def value_of(run: Run, ident: Identifier) -> Any:
    """The run's value for ``ident``, or None when it has none (NaN metrics have none)."""
    if ident.kind == "metric":
        v = run.metrics.get(ident.key)
        return None if v is None or math.isnan(v) else v
    if ident.kind == "param":
        return run.params.get(ident.key)
    if ident.kind == "tag":
        return run.tags.get(ident.key)
    return getattr(run, "id" if ident.key == "run_id" else ident.key)


def like_regex(pattern: str, fold: bool) -> re.Pattern[str]:
    out, chars = [], iter(pattern)
    for c in chars:
        if c == "\\":
            out.append(re.escape(next(chars)))
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL | (re.IGNORECASE | re.ASCII if fold else 0))


def matches(node: Node, run: Run) -> bool:
    """The reference semantics, written independently of the SQL compiler."""
    if isinstance(node, Not):
        return not matches(node.operand, run)
    if isinstance(node, Or):
        return any(matches(item, run) for item in node.items)
    if not isinstance(node, Comparison | InList | Like | IsNull):
        return all(matches(item, run) for item in node.items)
    value = value_of(run, node.ident)
    if isinstance(node, IsNull):
        return (value is not None) == node.negated
    if value is None:
        return False
    if isinstance(node, Like):
        found = like_regex(node.pattern, node.case_insensitive).fullmatch(value) is not None
        return found != node.negated

    def equal(literal: Any) -> bool:
        if isinstance(value, str) and not isinstance(literal, str):
            number = as_number(value)
            return number is not None and number == literal
        return bool(value == literal)

    if isinstance(node, InList):
        return any(equal(v) for v in node.values) != node.negated
    if node.op in ("=", "!="):
        return equal(node.value) == (node.op == "=")
    if isinstance(value, str) and not isinstance(node.value, str):
        number = as_number(value)
        return number is not None and _OPS[node.op](number, node.value)
    return _OPS[node.op](value, node.value)


def reference(
    data: Sequence[Run],
    node: Node | None,
    order: Sequence[SortKey],
    *,
    experiment_ids: Sequence[str] | None = None,
    include_deleted: bool = False,
) -> list[str]:
    chosen = [
        r
        for r in data
        if (include_deleted or not r.deleted)
        and (experiment_ids is None or r.experiment_id in experiment_ids)
        and (node is None or matches(node, r))
    ]
    chosen.sort(key=lambda r: r.id)
    for key in reversed(order):  # stable sorts, least significant key first
        present = [r for r in chosen if value_of(r, key.ident) is not None]
        missing = [r for r in chosen if value_of(r, key.ident) is None]
        present.sort(key=lambda r: value_of(r, key.ident), reverse=key.descending)
        chosen = present + missing
    return [r.id for r in chosen]


START = SortKey(Identifier("attribute", "start_time"), descending=True)


# -- a small hand-made data set ------------------------------------------------------------
INJECTION = "'; DROP TABLE runs; --"
DATA = [
    Run(
        "r1",
        name="alpha",
        status="finished",
        start_time=100,
        end_time=150,
        user="ann",
        params={"model": "gbm", "lr": "0.1", "depth": "10"},
        tags={"team": "a"},
        metrics={"auc": 0.91, "loss": 0.3},
    ),
    Run(
        "r2",
        name="beta",
        status="failed",
        start_time=200,
        end_time=None,
        user="bob",
        params={"model": "rf", "lr": "0.01", "depth": "9"},
        tags={"team": "b", "note": INJECTION},
        metrics={"auc": 0.75, "loss": NAN},
    ),
    Run(
        "r3",
        name="Gamma",
        status="running",
        start_time=300,
        parent_id="r1",
        user="ann",
        params={"model": "GBM", "lr": "abc", "path": "C:\\data\\x_1%"},
        tags={"team": "c"},
        metrics={"auc": INF},
    ),
    Run(
        "r4",
        name="delta",
        status="finished",
        start_time=400,
        end_time=450,
        user="cy",
        experiment_id="e2",
        params={"model": "gbm", "lr": " 1e-3 ", "depth": "010"},
        metrics={"auc": 0.91, "loss": -INF},
    ),
    Run(
        "r5",
        name="eps",
        status="finished",
        start_time=500,
        end_time=520,
        deleted=True,
        params={"model": "gbm"},
        metrics={"auc": 0.99},
    ),
    Run(
        "r6",
        name="zeta",
        status="killed",
        start_time=600,
        end_time=610,
        user="bob",
        params={"model": "lr"},
        tags={"team": "a"},
    ),
]


@pytest.fixture
def loaded(catalog: Catalog) -> Catalog:
    load(catalog, DATA)
    return catalog


OPERATOR_CASES: list[tuple[str, set[str]]] = [
    ("metrics.auc > 0.8", {"r1", "r3", "r4"}),
    ("metrics.auc >= 0.91", {"r1", "r3", "r4"}),
    ("metrics.auc = 0.91", {"r1", "r4"}),
    ("metrics.auc == 0.91", {"r1", "r4"}),
    ("metrics.auc != 0.91", {"r2", "r3"}),
    ("metrics.auc <> 0.91", {"r2", "r3"}),
    ("metrics.auc < 0.8", {"r2"}),
    ("metrics.auc <= 0.75", {"r2"}),
    ("metrics.auc in (0.75, 0.91)", {"r1", "r2", "r4"}),
    ("metrics.auc not in (0.75, 0.91)", {"r3"}),
    ("metrics.loss < 0", {"r4"}),
    ("metrics.loss != 1", {"r1", "r4"}),  # NaN has no value
    ("metrics.loss is null", {"r2", "r3", "r6"}),  # missing or NaN
    ("metrics.loss is not null", {"r1", "r4"}),
    ("not metrics.loss > 0", {"r2", "r3", "r4", "r6"}),  # NOT includes runs without loss
    ("params.model = 'gbm'", {"r1", "r4"}),
    ("params.model != 'gbm'", {"r2", "r3", "r6"}),
    ("params.model in ('rf', 'lr')", {"r2", "r6"}),
    ("params.model not in ('rf', 'lr')", {"r1", "r3", "r4"}),
    ("params.model like 'g%'", {"r1", "r4"}),  # LIKE is case-sensitive
    ("params.model ilike 'g%'", {"r1", "r3", "r4"}),
    ("params.model not like 'g_m'", {"r2", "r3", "r6"}),
    ("params.model not ilike 'G_M'", {"r2", "r6"}),
    ("params.path like 'C:\\\\data\\\\x\\_1\\%'", {"r3"}),  # escapes in LIKE
    ("params.path like '%x!_1%'", set()),
    ("params.path like '%\\_1%'", {"r3"}),
    ("params.model > 'gbm'", {"r2", "r6"}),  # string order: 'lr', 'rf' > 'gbm' > 'GBM'
    ("params.model < 'gbm'", {"r3"}),
    ("params.lr > 0.05", {"r1"}),  # numeric when the literal is a number
    ("params.lr < 0.05", {"r2", "r4"}),  # ' 1e-3 ' reads as a number
    ("params.lr = 0.1", {"r1"}),
    ("params.lr != 0.1", {"r2", "r3", "r4"}),  # 'abc' != 0.1
    ("params.lr in (0.01, 'abc')", {"r2", "r3"}),
    ("params.lr not in (0.01, 'abc')", {"r1", "r4"}),
    ("params.lr > '0.05'", {"r1", "r3"}),  # a quoted literal compares as a string
    ("params.depth > 9", {"r1"}),  # '010' is not a JSON number
    ("params.depth > '9'", set()),
    ("params.depth is null", {"r3", "r6"}),
    ("tags.team = 'a'", {"r1", "r6"}),
    ("tags.team is not null and not tags.team = 'a'", {"r2", "r3"}),
    ("tags.note = '''; DROP TABLE runs; --'", {"r2"}),
    ("attributes.status = 'finished'", {"r1", "r4"}),
    ("attributes.status in ('failed', 'killed')", {"r2", "r6"}),
    ("attributes.name ilike 'g%'", {"r3"}),
    ("attributes.name like 'g%'", set()),
    ("attributes.user != 'ann'", {"r2", "r4", "r6"}),
    ("attributes.run_id = 'r2'", {"r2"}),
    ("attr.id in ('r2', 'r3')", {"r2", "r3"}),
    ("attributes.experiment_id = 'e2'", {"r4"}),
    ("attributes.parent_id = 'r1'", {"r3"}),
    ("attributes.parent_id != 'r1'", set()),  # no parent: no value
    ("attributes.parent_id is null", {"r1", "r2", "r4", "r6"}),
    ("attributes.start_time >= 300", {"r3", "r4", "r6"}),
    ("attributes.start_time < 250.5", {"r1", "r2"}),
    ("attributes.end_time > 400", {"r4", "r6"}),
    ("not attributes.end_time > 400", {"r1", "r2", "r3"}),  # stays exact with NULLs
    ("attributes.end_time is null", {"r2", "r3"}),
    ("attributes.host = 'h1'", {"r1", "r2", "r3", "r4", "r6"}),
    (
        "metrics.auc > 0.8 and (params.model = 'gbm' or tags.team in ('a','b')) "
        "and not attributes.status = 'failed'",
        {"r1", "r4"},
    ),
    ("metrics.auc > 0.95 or params.model = 'rf' and tags.team = 'b'", {"r2", "r3"}),
    ("(metrics.auc > 0.95 or params.model = 'rf') and tags.team = 'b'", {"r2"}),
    ("not (metrics.auc > 0.95 or params.model = 'rf')", {"r1", "r4", "r6"}),
    ("metrics.`no such` > 0", set()),
    ("not metrics.`no such` > 0", {"r1", "r2", "r3", "r4", "r6"}),
]


def test_each_operator(loaded: Catalog) -> None:
    wrong = {}
    for text, expected in OPERATOR_CASES:
        found = set(search_run_ids(loaded, text))
        if found != expected:
            wrong[text] = f"expected {sorted(expected)}, got {sorted(found)}"
    assert not wrong, wrong


def test_scope_deleted_runs_experiments_and_blank_filters(loaded: Catalog) -> None:
    everything = ["r6", "r4", "r3", "r2", "r1"]
    assert search_run_ids(loaded, None) == everything
    assert search_run_ids(loaded, "   ") == everything
    assert "r5" not in search_run_ids(loaded, "metrics.auc > 0.95", order_by=["metrics.auc desc"])
    assert search_run_ids(loaded, "metrics.auc > 0.95", include_deleted=True) == ["r5", "r3"]
    assert search_run_ids(loaded, order_by=["metrics.auc desc"], include_deleted=True) == [
        "r3",
        "r5",
        "r1",
        "r4",
        "r2",
        "r6",
    ]
    assert search_run_ids(loaded, experiment_ids=["e2"]) == ["r4"]
    assert search_run_ids(loaded, experiment_ids=["e1", "e2"]) == ["r6", "r4", "r3", "r2", "r1"]
    assert search_run_ids(loaded, experiment_ids=[]) == []
    assert search_run_ids(loaded, experiment_ids=["nope"]) == []


ORDER_CASES: list[tuple[list[str] | None, list[str]]] = [
    (None, ["r6", "r4", "r3", "r2", "r1"]),
    (["attributes.start_time asc"], ["r1", "r2", "r3", "r4", "r6"]),
    # inf first, ties broken by run id, NaN and missing last
    (["metrics.auc desc"], ["r3", "r1", "r4", "r2", "r6"]),
    (["metrics.auc"], ["r2", "r1", "r4", "r3", "r6"]),
    (["metrics.loss desc"], ["r1", "r4", "r2", "r3", "r6"]),
    (["metrics.loss asc"], ["r4", "r1", "r2", "r3", "r6"]),
    (["metrics.auc desc", "attributes.start_time desc"], ["r3", "r4", "r1", "r2", "r6"]),
    (["params.model"], ["r3", "r1", "r4", "r6", "r2"]),
    (["params.depth desc"], ["r2", "r1", "r4", "r3", "r6"]),  # strings: '9' > '10'
    (["tags.team desc", "metrics.auc"], ["r3", "r2", "r1", "r6", "r4"]),
    (["attributes.end_time desc"], ["r6", "r4", "r1", "r2", "r3"]),
    (["attributes.end_time asc"], ["r1", "r4", "r6", "r2", "r3"]),
    (["attributes.parent_id"], ["r3", "r1", "r2", "r4", "r6"]),
    (["attributes.name"], ["r3", "r1", "r2", "r4", "r6"]),  # code-point order
    (["attributes.user", "metrics.auc desc"], ["r3", "r1", "r2", "r6", "r4"]),
    ([], ["r6", "r4", "r3", "r2", "r1"]),
]


def test_ordering_puts_missing_values_last(loaded: Catalog) -> None:
    wrong = {}
    for order_by, expected in ORDER_CASES:
        found = search_run_ids(loaded, order_by=order_by)
        if found != expected:
            wrong[str(order_by)] = f"expected {expected}, got {found}"
    assert not wrong, wrong


@pytest.mark.postgres
def test_text_compares_by_code_point_whatever_the_database_collation(postgres_url: str) -> None:
    """Columns under a linguistic collation (ICU puts 'gbm' before 'GBM') still compare and
    sort by code point, the same as on SQLite."""
    catalog = Catalog(postgres_url)
    try:
        with catalog.begin() as conn:
            icu = "select 1 from pg_collation where collname = 'und-x-icu'"
            if conn.execute(sa.text(icu)).first() is None:
                pytest.skip("this PostgreSQL has no ICU collation 'und-x-icu'")
            for table, column, kind in [
                ("params", "value", "text"),
                ("tags", "value", "text"),
                ("runs", "name", "varchar(250)"),
            ]:
                conn.execute(
                    sa.text(
                        f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE {kind} '
                        'COLLATE "und-x-icu"'
                    )
                )
        load(catalog, DATA)
        assert search_run_ids(catalog, order_by=["params.model"]) == ["r3", "r1", "r4", "r6", "r2"]
        assert search_run_ids(catalog, order_by=["attributes.name"])[:2] == ["r3", "r1"]
        assert set(search_run_ids(catalog, "params.model < 'gbm'")) == {"r3"}
        assert set(search_run_ids(catalog, "attributes.name < 'alpha'")) == {"r3"}
    finally:
        catalog.dispose()


def test_pages_add_up_to_the_whole(loaded: Catalog, monkeypatch: pytest.MonkeyPatch) -> None:
    """limit/offset pages, including pages that straddle runs with and without the key."""
    monkeypatch.setattr(search, "WINDOW_PER_RESULT", 1)
    orders = [
        ["metrics.auc desc"],
        ["metrics.loss"],
        ["params.model desc"],
        ["attributes.end_time"],
    ]
    for window in (1, 2, 1000):
        monkeypatch.setattr(search, "WINDOW", window)
        for order_by in orders:
            whole = search_run_ids(loaded, order_by=order_by)
            assert len(whole) == 5
            for size in (1, 2, 3, 7):
                pages = [
                    search_run_ids(loaded, order_by=order_by, limit=size, offset=start)
                    for start in range(0, 6, size)
                ]
                assert [i for page in pages for i in page] == whole, (window, order_by, size)
                assert [len(p) for p in pages] == [
                    min(size, max(0, 5 - k * size)) for k in range(len(pages))
                ]
            assert search_run_ids(loaded, order_by=order_by, offset=3) == whole[3:]
            assert search_run_ids(loaded, order_by=order_by, limit=0) == []
            assert search_run_ids(loaded, order_by=order_by, offset=99) == []


def test_conditions_on_the_sort_key_itself(loaded: Catalog) -> None:
    """Conditions on the first sort key are applied to its index entries directly."""
    by_auc = ["metrics.auc desc"]
    assert search_run_ids(loaded, "metrics.auc < 1", order_by=by_auc) == ["r1", "r4", "r2"]
    assert search_run_ids(loaded, "metrics.auc is null", order_by=by_auc) == ["r6"]
    assert search_run_ids(loaded, "metrics.loss is null", order_by=["metrics.loss"]) == [
        "r2",
        "r3",
        "r6",
    ]
    assert search_run_ids(loaded, "metrics.auc is not null", order_by=by_auc, limit=9) == [
        "r3",
        "r1",
        "r4",
        "r2",
    ]
    assert search_run_ids(
        loaded, "params.model in ('gbm', 'lr') and tags.team = 'a'", order_by=["params.model"]
    ) == ["r1", "r6"]


def test_user_text_only_ever_travels_as_bound_parameters(loaded: Catalog) -> None:
    statements: list[tuple[str, Any]] = []

    def spy(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        statements.append((statement, parameters))

    sa.event.listen(loaded.engine, "before_cursor_execute", spy)
    try:
        hostile = [
            ("tags.note = '''; DROP TABLE runs; --'", ["metrics.auc desc"], ["r2"]),
            ("params.`x'; DROP TABLE runs; --` = 'a'", None, []),
            ("params.model like '%''; DROP TABLE runs; --'", None, []),
            (
                "tags.note in ('''; DROP TABLE runs; --', 'a')",
                ["tags.`'; DROP TABLE runs; --`"],
                ["r2"],
            ),
        ]
        for text, order_by, expected in hostile:
            assert search_run_ids(loaded, text, order_by=order_by) == expected
    finally:
        sa.event.remove(loaded.engine, "before_cursor_execute", spy)
    searches = [(s, p) for s, p in statements if "FROM" in s and "runs" in s]
    assert searches
    for statement, _parameters in searches:
        assert "DROP" not in statement
    assert any("DROP TABLE runs" in str(p) for _, p in searches)
    with loaded.read() as conn:  # the table is still there
        assert conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar() == 6


def test_sorting_by_a_metric_walks_its_index_on_sqlite(tmp_path: Path) -> None:
    """The plan of ``order_by=["metrics.m desc"], limit=10``: a range walk of the
    (key, value) index and a primary-key lookup per run, never a scan of runs."""
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    data = [Run(f"r{i:05d}", metrics={"m": i / 100, "n": 1.0}) for i in range(100)]
    load(catalog, data)
    statements: list[tuple[str, Any]] = []

    def spy(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if statement.startswith("SELECT runs.id"):
            statements.append((statement, parameters))

    sa.event.listen(catalog.engine, "before_cursor_execute", spy)
    try:
        found = search_run_ids(catalog, "metrics.n > 0.5", order_by=["metrics.m desc"], limit=10)
    finally:
        sa.event.remove(catalog.engine, "before_cursor_execute", spy)
    assert found == [f"r{i:05d}" for i in range(99, 89, -1)]
    assert len(statements) == 1
    with catalog.read() as conn:
        plan = [
            row[-1]
            for row in conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN " + statements[0][0], statements[0][1]
            )
        ]
    catalog.dispose()
    assert "ix_latest_metrics_key_value (key=? AND value" in plan[0], plan
    assert not any(step.startswith("SCAN") for step in plan), plan


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"filter": "metrics.auc >"}, FilterSyntaxError, "missing value after '>'"),
        ({"filter": 3}, InvalidValueError, "filter must be a string or None, got int"),
        ({"order_by": "metrics.auc desc"}, InvalidValueError, "order_by must be a list"),
        ({"order_by": ["metrics.auc sideways"]}, FilterSyntaxError, "expected ASC, DESC"),
        ({"limit": -1}, InvalidValueError, "limit must be a non-negative integer or None, got -1"),
        ({"limit": 2.5}, InvalidValueError, "limit must be .* got 2.5"),
        ({"limit": True}, InvalidValueError, "limit must be .* got True"),
        ({"offset": -3}, InvalidValueError, "offset must be a non-negative integer, got -3"),
        ({"experiment_ids": "e1"}, InvalidValueError, "experiment_ids must be a list of ids"),
        ({"experiment_ids": [1]}, InvalidValueError, "experiment_ids must hold strings, got int"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, Any], error: type, message: str) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    try:
        with pytest.raises(error, match=message):
            search_run_ids(catalog, **kwargs)
    finally:
        catalog.dispose()


def test_like_patterns_become_equivalent_globs() -> None:
    assert like_to_glob("a%b_c") == "a*b?c"
    assert like_to_glob("\\%\\_\\\\x") == "%_\\x"
    assert like_to_glob("*?[]") == "[*][?][[]]"
    assert like_to_glob("\\*") == "[*]"


# -- property-based: random filters over random data, checked against the reference ------
_KEYS = ["a", "b"]
_TEXTS = [
    "x",
    "X",
    "y",
    "xy",
    "x_",
    "%",
    "1",
    "0.5",
    "-2",
    " 3 ",
    "1e3",
    "01",
    "+1",
    "1e99999",
    "NaN",
    "abc",
    "Ab",
    "a\\b",
    "'",
    "",
]
_NUMBERS = [-2, 0, 0.5, 1, 3, 1000.0, -1e300]
_METRICS = [-INF, -1.0, 0.0, 0.5, 1.0, 3.0, INF, NAN]
_PATTERNS = ["x%", "%", "_", "X_", "a\\\\b", "%\\%", "1%", "%e%", "", "'"]


@st.composite
def _runs(draw: st.DrawFn) -> list[Run]:
    count = draw(st.integers(min_value=2, max_value=8))
    out = []
    for i in range(count):
        out.append(
            Run(
                id=f"r{draw(st.sampled_from('0123456789'))}{i}",
                experiment_id=draw(st.sampled_from(["e1", "e2"])),
                name=draw(st.sampled_from(_TEXTS)),
                status=draw(st.sampled_from(["finished", "failed", "running"])),
                start_time=draw(st.integers(min_value=0, max_value=5)),
                end_time=draw(st.one_of(st.none(), st.integers(min_value=0, max_value=5))),
                parent_id=draw(st.sampled_from([None, "r00", "x"])),
                deleted=draw(st.integers(0, 4)) == 0,
                params=draw(st.dictionaries(st.sampled_from(_KEYS), st.sampled_from(_TEXTS))),
                tags=draw(st.dictionaries(st.sampled_from(_KEYS), st.sampled_from(_TEXTS))),
                metrics=draw(st.dictionaries(st.sampled_from(_KEYS), st.sampled_from(_METRICS))),
            )
        )
    return out


@st.composite
def _predicate(draw: st.DrawFn) -> Node:
    kind = draw(st.sampled_from(["metric", "param", "tag", "attribute"]))
    if kind == "attribute":
        ident = Identifier("attribute", draw(st.sampled_from(sorted(ATTRIBUTES))))
        numeric, text = ATTRIBUTES[ident.key] == "time", ATTRIBUTES[ident.key] == "text"
    else:
        ident = Identifier(kind, draw(st.sampled_from(_KEYS)))  # type: ignore[arg-type]
        numeric, text = kind == "metric", kind != "metric"
    if numeric:
        values: st.SearchStrategy[Any] = st.sampled_from(_NUMBERS)
    elif ident.kind == "attribute":
        values = st.sampled_from([*_TEXTS, "finished", "r00"])
    else:
        values = st.one_of(st.sampled_from(_TEXTS), st.sampled_from(_NUMBERS))
    forms = ["cmp", "in", "null"] + (["like"] if text else [])
    form = draw(st.sampled_from(forms))
    if form == "cmp":
        op: CompareOp = draw(st.sampled_from(_COMPARE_OPS))
        return Comparison(ident, op, draw(values))
    if form == "in":
        return InList(
            ident, tuple(draw(st.lists(values, min_size=1, max_size=3))), draw(st.booleans())
        )
    if form == "like":
        return Like(
            ident, draw(st.sampled_from(_PATTERNS)), draw(st.booleans()), draw(st.booleans())
        )
    return IsNull(ident, draw(st.booleans()))


_filters = st.recursive(
    _predicate(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(conjoin),
        st.lists(children, min_size=2, max_size=3).map(disjoin),
        children.map(Not),
    ),
    max_leaves=6,
)
_sort_keys = st.lists(
    st.builds(
        SortKey,
        st.one_of(
            st.builds(
                Identifier, st.sampled_from(["metric", "param", "tag"]), st.sampled_from(_KEYS)
            ),
            st.builds(Identifier, st.just("attribute"), st.sampled_from(sorted(ATTRIBUTES))),
        ),
        st.booleans(),
    ),
    max_size=3,
)


def _order_text(key: SortKey) -> str:
    return f"{key.ident} {'desc' if key.descending else 'asc'}"


# -- every predicate form, one by one, over seeded random data ----------------------------
def _random_runs(rng: np.random.Generator, count: int) -> list[Run]:
    def pick(pool: Sequence[Any]) -> Any:
        return pool[int(rng.integers(len(pool)))]

    def some(pool: Sequence[Any]) -> dict[str, Any]:
        return {k: pick(pool) for k in _KEYS if rng.random() < 0.7}

    return [
        Run(
            id=f"r{int(rng.integers(10))}{i}",
            experiment_id=pick(["e1", "e2"]),
            name=pick(_TEXTS),
            status=pick(["finished", "failed", "running"]),
            start_time=int(rng.integers(6)),
            end_time=pick([None, 0, 2, 3, 5]),
            parent_id=pick([None, "r00", "x"]),
            deleted=rng.random() < 0.2,
            params=some(_TEXTS),
            tags=some(_TEXTS),
            metrics=some(_METRICS),
        )
        for i in range(count)
    ]


def _every_predicate() -> Iterator[Node]:
    ops = ["=", "!=", "<", "<=", ">", ">="]
    numeric = [Identifier("metric", "a"), Identifier("attribute", "end_time")]
    entity_text = [Identifier("param", "a"), Identifier("tag", "b")]
    attribute_text = [Identifier("attribute", k) for k in ("name", "parent_id", "status")]
    for ident in numeric:
        for op in ops:
            for number in (-2, 0.5, 1, 3):
                yield Comparison(ident, op, number)  # type: ignore[arg-type]
        yield InList(ident, (0.5, 3, -2))
        yield InList(ident, (1,), negated=True)
    for ident in entity_text:
        for op in ops:
            for value in ("x", "1", "0.5", "Ab", 1, 0.5, -2, 1000.0):
                yield Comparison(ident, op, value)  # type: ignore[arg-type]
        yield InList(ident, ("x", 0.5, "abc"))
        yield InList(ident, (1, "X"), negated=True)
        yield InList(ident, (3, -2), negated=True)
    for ident in attribute_text:
        for op in ops:
            for value in ("finished", "x", "r00", ""):
                yield Comparison(ident, op, value)  # type: ignore[arg-type]
        yield InList(ident, ("x", "running"))
        yield InList(ident, ("x", "failed"), negated=True)
    for ident in entity_text + attribute_text:
        for pattern in ("x%", "X_", "%\\%", "_", "1%", "%b", "a\\\\b"):
            for negated in (False, True):
                yield Like(ident, pattern, negated, False)
                yield Like(ident, pattern, negated, True)
    for ident in [*numeric, *entity_text, *attribute_text]:
        yield IsNull(ident)
        yield IsNull(ident, negated=True)


def test_every_predicate_agrees_with_the_reference(
    catalog: Catalog, rng: np.random.Generator
) -> None:
    wrong = []
    for _ in range(2):
        data = _random_runs(rng, 10)
        load(catalog, data)
        for node in _every_predicate():
            text = format_filter(node)
            expected = set(reference(data, node, [START]))
            found = search_run_ids(catalog, text)
            if set(found) != expected:
                wrong.append(f"{text}: expected {sorted(expected)}, got {sorted(found)}")
    assert not wrong, "\n".join(wrong[:20]) + f"\n... {len(wrong)} wrong; data: {data}"


_PROPERTY = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_PROPERTY
@given(data=_runs(), nodes=st.lists(_filters, min_size=1, max_size=8))
def test_filters_agree_with_the_reference(
    catalog: Catalog, data: list[Run], nodes: list[Node]
) -> None:
    load(catalog, data)
    for node in nodes:
        for part in _parts(node):  # every sub-filter too: a big filter can hide a wrong leaf
            text = format_filter(part)
            expected = reference(data, part, [START])
            assert search_run_ids(catalog, text) == expected, f"filter: {text}\ndata: {data}"


def _parts(node: Node) -> Iterator[Node]:
    yield node
    if isinstance(node, Not):
        yield from _parts(node.operand)
    elif isinstance(node, And | Or):
        for item in node.items:
            yield from _parts(item)


@_PROPERTY
@given(
    data=_runs(),
    node=st.one_of(st.none(), _predicate()),
    order=_sort_keys.filter(bool),
    pages=st.lists(
        st.tuples(st.one_of(st.none(), st.integers(1, 4)), st.integers(0, 4)), max_size=3
    ),
    window=st.sampled_from([1, 2, 1000]),
    experiment=st.sampled_from([None, ["e2"]]),
    include_deleted=st.booleans(),
)
def test_order_and_pages_agree_with_the_reference(
    catalog: Catalog,
    data: list[Run],
    node: Node | None,
    order: list[SortKey],
    pages: list[tuple[int | None, int]],
    window: int,
    experiment: list[str] | None,
    include_deleted: bool,
) -> None:
    load(catalog, data)
    text = None if node is None else format_filter(node)
    expected = reference(
        data, node, order, experiment_ids=experiment, include_deleted=include_deleted
    )
    note = f"filter: {text}\norder: {order}\ndata: {data}"
    saved = search.WINDOW, search.WINDOW_PER_RESULT
    search.WINDOW, search.WINDOW_PER_RESULT = window, 1
    try:
        for limit, offset in [(None, 0), *pages]:
            found = search_run_ids(
                catalog,
                text,
                order_by=[_order_text(k) for k in order],
                limit=limit,
                offset=offset,
                experiment_ids=experiment,
                include_deleted=include_deleted,
            )
            end = None if limit is None else offset + limit
            assert found == expected[offset:end], f"{note}\nlimit {limit}, offset {offset}"
    finally:
        search.WINDOW, search.WINDOW_PER_RESULT = saved
