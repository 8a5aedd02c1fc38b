"""Search runs with a small filter language, compiled to parameterized SQL.

::

    metrics.auc > 0.8 and (params.model = 'gbm' or tags.team in ('a', 'b'))
        and not attributes.status = 'failed'

The grammar is in :mod:`weekend.tracking._search_parse`. What the conditions mean:

- ``metrics.<key>`` is the run's *latest* value of that metric (the ``latest_metrics``
  table), compared as a number. A NaN latest value counts as no value.
- ``params.<key>`` and ``tags.<key>`` are strings. Compared with a string they compare as
  strings (by code point, the same on SQLite and PostgreSQL). Compared with a *number*
  (``params.lr > 0.01``) the stored value is read as a number when it is written as one: a
  JSON number such as ``10``, ``-0.5`` or ``1e-3`` (surrounding blanks allowed, at most 64
  characters, an exponent of at most 4 digits). ``=`` and ``IN`` match the values equal to
  the number; ``!=`` and ``NOT IN`` match every other value of the key (``'gbm' != 1``);
  ``<``, ``<=``, ``>``, ``>=`` match numbers only. SQLite compares these as 64-bit floats,
  PostgreSQL as exact decimals: they differ only beyond ~15 significant digits.
- ``attributes.<name>``: ``status``, ``name``, ``run_id``, ``experiment_id``,
  ``parent_id``, ``user`` and ``host`` are text; ``start_time`` and ``end_time`` are integer
  milliseconds since the epoch. ``parent_id`` and ``end_time`` may be missing.
- Every condition but ``IS [NOT] NULL`` holds only for runs that *have* a value for the key
  (a param, a tag, a non-NaN latest metric, a non-null attribute) — ``!=`` and ``NOT IN``
  included. ``IS NULL`` holds for runs without one. ``NOT`` is the exact complement, so
  ``not metrics.x > 1`` includes the runs that never logged ``x``.
- ``LIKE`` and ``ILIKE`` take SQL patterns: ``%`` any run of characters, ``_`` one
  character, ``\\`` makes the next character literal. ``LIKE`` is case-sensitive on both
  databases; ``ILIKE`` folds ASCII case on SQLite and all of Unicode on PostgreSQL.

Sorting: ``order_by`` entries are ``"<identifier> [asc|desc]"`` (default: start time, newest
first); runs without a value for a sort key come last in both directions (params and tags
sort as strings), and the run id breaks ties. Deleted runs are never returned unless
``include_deleted``.

Every user value reaches the database as a bound parameter; no user text is ever pasted
into SQL. When the first sort key is a metric, param or tag, the query is driven from that
key's ``(key, value)`` index, so ``order_by=["metrics.auc desc"], limit=10`` reads about ten
index entries (when a selective filter leaves too few runs among the first ``WINDOW``
entries, the query goes to the database's planner instead); runs without that key are
fetched by a second query only when the first returned fewer rows than asked for.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Double,
    Float,
    FromClause,
    Numeric,
    Select,
    Table,
    Text,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
)
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression
from sqlalchemy.sql.operators import custom_op

from weekend.catalog import Catalog
from weekend.catalog.tables import latest_metrics, params, runs, tags
from weekend.core.errors import InvalidValueError
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
    Predicate,
    SortKey,
    Value,
    format_filter,
    parse_filter,
    parse_order_key,
)

DEFAULT_ORDER = (SortKey(Identifier("attribute", "start_time"), descending=True),)
NUMBER_MAX_CHARS = 64
# A sorted, limited search walks at most max(WINDOW, WINDOW_PER_RESULT * (offset + limit))
# entries of the sort key's index before it hands the query over to the database's planner.
WINDOW = 2_000
WINDOW_PER_RESULT = 20
_TABLES: dict[str, Table] = {"metric": latest_metrics, "param": params, "tag": tags}
_COLUMNS = {"run_id": "id"}  # attribute name -> runs column, where they differ
_COMPARE: dict[CompareOp, Callable[[Any, Any], Any]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_BLANK = "[ \t\n\r]*"  # JSON whitespace, as real characters
_PG_NUMBER = f"^{_BLANK}-?(0|[1-9][0-9]*)([.][0-9]+)?([eE][+-]?[0-9]{{1,4}})?{_BLANK}$"
_GLOB_LONG_EXPONENT = "*[eE]*[0-9][0-9][0-9][0-9][0-9]*"


def search_run_ids(
    catalog: Catalog,
    filter: str | None = None,
    *,
    order_by: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
    experiment_ids: Sequence[str] | None = None,
    include_deleted: bool = False,
) -> list[str]:
    """Ids of the runs matching ``filter``, sorted by ``order_by``, paged by limit/offset.

    Raises :class:`~weekend.core.errors.FilterSyntaxError` for a filter or order_by entry
    that does not parse, and :class:`~weekend.core.errors.InvalidValueError` for bad
    ``limit``, ``offset`` or ``experiment_ids``.
    """
    if filter is not None and not isinstance(filter, str):
        raise InvalidValueError(
            f"filter must be a string or None, got {type(filter).__name__} {filter!r}"
        )
    node = parse_filter(filter) if filter is not None and filter.strip() else None
    keys = _sort_keys(order_by)
    _check_paging(limit, offset)
    scope: list[ColumnElement[bool]] = []
    if not include_deleted:
        scope.append(runs.c.deleted == false())
    if experiment_ids is not None:
        ids = _experiment_ids(experiment_ids)
        if not ids:
            return []
        scope.append(runs.c.experiment_id.in_(ids))
    if limit == 0:
        return []
    compiler = _Compiler(catalog.dialect)
    with catalog.read() as conn:
        if compiler.postgres:
            # subqueries inflate PostgreSQL's cost estimates past jit_above_cost, and JIT
            # compilation then costs more than these short queries themselves
            conn.exec_driver_sql("SET LOCAL jit = off")
        if keys[0].ident.kind == "attribute":
            stmt = compiler.sorted_runs(node, scope, keys).limit(limit)
            if offset:
                stmt = stmt.offset(offset)
            return list(conn.execute(stmt).scalars())
        return compiler.by_key_index(conn, node, scope, keys, limit, offset)


def _sort_keys(order_by: Sequence[str] | None) -> list[SortKey]:
    if order_by is None:
        return list(DEFAULT_ORDER)
    if isinstance(order_by, str):
        raise InvalidValueError(
            f"order_by must be a list of strings such as ['metrics.auc desc'], got the "
            f"string {order_by!r}; wrap it in a list"
        )
    keys = [parse_order_key(entry) for entry in order_by]
    return keys or list(DEFAULT_ORDER)


def _check_paging(limit: int | None, offset: int) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidValueError(f"limit must be a non-negative integer or None, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidValueError(f"offset must be a non-negative integer, got {offset!r}")


def _experiment_ids(experiment_ids: Sequence[str]) -> list[str]:
    if isinstance(experiment_ids, str):
        raise InvalidValueError(
            f"experiment_ids must be a list of ids, got the string {experiment_ids!r}; "
            "wrap it in a list"
        )
    ids = list(experiment_ids)
    for value in ids:
        if not isinstance(value, str):
            raise InvalidValueError(
                f"experiment_ids must hold strings, got {type(value).__name__} {value!r}"
            )
    return ids


def _conjuncts(node: Node | None) -> list[Node]:
    if node is None:
        return []
    return list(node.items) if isinstance(node, And) else [node]


class _Compiler:
    """Builds SQLAlchemy Core statements for one SQL dialect."""

    def __init__(self, dialect: str, *, probe: bool = False) -> None:
        self.dialect = dialect
        self.postgres = dialect == "postgresql"
        # probe: test each candidate run with EXISTS (for walks that stop early) rather
        # than let SQLite build the list of all matching runs first
        self.probe = probe

    # -- conditions -------------------------------------------------------------------------
    def condition(self, node: Node, positive: bool = True) -> ColumnElement[bool]:
        """The SQL condition of ``node``; ``positive`` is false under an odd number of NOTs."""
        if isinstance(node, And):
            return and_(*(self.condition(item, positive) for item in node.items))
        if isinstance(node, Or):
            return or_(*(self.condition(item, positive) for item in node.items))
        if isinstance(node, Not):
            return not_(self.condition(node.operand, not positive))
        return self.predicate(node, positive)

    def predicate(self, node: Predicate, positive: bool = True) -> ColumnElement[bool]:
        ident = node.ident
        if ident.kind == "attribute":
            column = runs.c[_COLUMNS.get(ident.key, ident.key)]
            if isinstance(node, IsNull):
                return column.is_not(None) if node.negated else column.is_(None)
            cond = self.value_condition(node, column)
            # a missing value must make the condition false, not NULL, so NOT stays exact
            return and_(column.is_not(None), cond) if column.nullable else cond
        table = _TABLES[ident.kind].alias()
        if isinstance(node, IsNull):
            if node.negated:
                return self.has_key(table, ident.key, table.c.value.is_not(None), positive)
            return not_(self.has_key(table, ident.key, table.c.value.is_not(None), not positive))
        cond = self.value_condition(node, table.c.value)
        return self.has_key(table, ident.key, cond, positive)

    def has_key(
        self, table: FromClause, key: str, cond: ColumnElement[bool], positive: bool
    ) -> ColumnElement[bool]:
        """Whether ``table`` has a row for the current run and ``key`` satisfying ``cond``.

        Both forms are two-valued (run ids are never NULL). On SQLite, ``runs.id IN (...)``
        lets the planner start from the (key, value) index when the condition is selective;
        under NOT it would build the complement's whole list, so EXISTS is used there.
        PostgreSQL plans EXISTS as a semi- or anti-join by itself.
        """
        if positive and not (self.postgres or self.probe):
            return runs.c.id.in_(select(table.c.run_id).where(table.c.key == key, cond))
        return exists().where(table.c.run_id == runs.c.id, table.c.key == key, cond).correlate(runs)

    def value_condition(
        self, node: Comparison | InList | Like, column: ColumnElement[Any]
    ) -> ColumnElement[bool]:
        """The condition on one stored value (never NULL when it matters: see callers)."""
        ident = node.ident
        if isinstance(node, Like):
            return self.like(column, node)
        numeric = ident.kind == "metric" or (
            ident.kind == "attribute" and ATTRIBUTES[ident.key] == "time"
        )
        if numeric:
            if isinstance(node, Comparison):
                return _compare(node.op, column, _plain_number(node.value, ident.kind))
            matched = column.in_([_plain_number(v, ident.kind) for v in node.values])
            return not_(matched) if node.negated else matched
        if isinstance(node, Comparison):
            if isinstance(node.value, str):
                text = literal(node.value, Text())
                if node.op in ("=", "!="):
                    return _compare(node.op, column, text)
                return _compare(node.op, self.collated(column), text)
            number = self.as_number(column)
            if node.op == "!=":
                return or_(number.is_(None), number != self.number(node.value))
            return _compare(node.op, number, self.number(node.value))
        strings = [v for v in node.values if isinstance(v, str)]
        numbers = [self.number(v) for v in node.values if not isinstance(v, str)]
        parts: list[ColumnElement[bool]] = []
        if not node.negated:
            if strings:
                parts.append(column.in_(strings))
            if numbers:
                parts.append(self.as_number(column).in_(numbers))
            return or_(*parts)
        if strings:
            parts.append(column.not_in(strings))
        if numbers:
            number = self.as_number(column)
            parts.append(or_(number.is_(None), number.not_in(numbers)))
        return and_(*parts)

    def like(self, column: ColumnElement[Any], node: Like) -> ColumnElement[bool]:
        pattern = literal(node.pattern, Text())
        cond: ColumnElement[bool]
        if self.postgres:  # backslash is PostgreSQL's default LIKE escape
            cond = column.ilike(pattern) if node.case_insensitive else column.like(pattern)
        elif node.case_insensitive:
            cond = func.lower(column).like(func.lower(pattern), escape="\\")
        else:  # SQLite's LIKE ignores case; GLOB does not
            glob = literal(like_to_glob(node.pattern), Text())
            cond = column.op("GLOB", is_comparison=True)(glob)
        return not_(cond) if node.negated else cond

    def collated(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """Text compared and sorted by code point (SQLite's default; PostgreSQL's "C")."""
        return column.collate("C") if self.postgres else column

    def as_number(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """The text value read as a number, or NULL when it is not written as a number."""
        short = func.length(column) <= NUMBER_MAX_CHARS
        if self.postgres:
            return case(
                (and_(short, column.regexp_match(_PG_NUMBER)), cast(column, Numeric())),
                else_=None,
            )
        # CASE keeps json_type (which fails on malformed JSON) behind json_valid
        is_number = and_(
            func.json_type(column).in_(["integer", "real"]),
            not_(column.op("GLOB", is_comparison=True)(_GLOB_LONG_EXPONENT)),
        )
        return case(
            (
                and_(short, func.json_valid(column) == 1),
                case((is_number, cast(column, Float())), else_=None),
            ),
            else_=None,
        )

    def number(self, value: Value) -> ColumnElement[Any]:
        """A numeric literal of the type ``as_number`` produces."""
        assert not isinstance(value, str)
        if self.postgres:
            return literal(Decimal(repr(value)), Numeric())
        return literal(float(value), Float())

    # -- statements -------------------------------------------------------------------------
    def order_terms(
        self, source: FromClause, keys: Sequence[SortKey]
    ) -> tuple[FromClause, list[UnaryExpression[Any]]]:
        """``source`` outer-joined with what the keys need, and the ORDER BY terms."""
        terms: list[UnaryExpression[Any]] = []
        for key in keys:
            ident = key.ident
            if ident.kind == "attribute":
                stored = runs.c[_COLUMNS.get(ident.key, ident.key)]
                column: ColumnElement[Any] = stored
                nullable = bool(stored.nullable)
                if ATTRIBUTES[ident.key] == "text":
                    column = self.collated(column)
            else:
                table = _TABLES[ident.kind].alias()
                source = source.outerjoin(
                    table, and_(table.c.run_id == runs.c.id, table.c.key == ident.key)
                )
                column = table.c.value if ident.kind == "metric" else self.collated(table.c.value)
                nullable = True
            term = column.desc() if key.descending else column.asc()
            terms.append(term.nulls_last() if nullable else term)
        return source, terms

    def sorted_runs(
        self, node: Node | None, scope: list[ColumnElement[bool]], keys: Sequence[SortKey]
    ) -> Select[Any]:
        source, terms = self.order_terms(runs, keys)
        where = [*scope, *([self.condition(node)] if node is not None else [])]
        return select(runs.c.id).select_from(source).where(*where).order_by(*terms, runs.c.id)

    def by_key_index(
        self,
        conn: Connection,
        node: Node | None,
        scope: list[ColumnElement[bool]],
        keys: Sequence[SortKey],
        limit: int | None,
        offset: int,
    ) -> list[str]:
        """Runs sorted first by a metric, param or tag: walk that key's index, then the rest.

        Part 1 holds the runs with a value for the key, in index order; part 2 the runs
        without one (they sort last). Conditions of ``node`` on the sort key itself are
        applied to the index entries directly, and decide whether either part is empty.
        """
        first, rest = keys[0], keys[1:]
        on_key: list[Comparison | InList | Like] = []
        others: list[Node] = []
        needs_value = only_missing = False
        for item in _conjuncts(node):
            if isinstance(item, Comparison | InList | Like | IsNull) and item.ident == first.ident:
                if isinstance(item, IsNull):
                    needs_value |= item.negated
                    only_missing |= not item.negated
                else:
                    needs_value = True
                    on_key.append(item)
            else:
                others.append(item)
        wanted = None if limit is None else offset + limit
        found: list[str] = []
        if not only_missing:
            found = self.with_key(conn, first, rest, on_key, others, scope, wanted)
            if wanted is not None and len(found) >= wanted:
                return found[offset:wanted]
        page = found[offset:]
        if needs_value:
            return page
        table = _TABLES[first.ident.kind].alias()
        no_value = not_(self.has_key(table, first.ident.key, table.c.value.is_not(None), False))
        stmt = self.sorted_runs(node, [*scope, no_value], rest)
        skip = max(0, offset - len(found))
        stmt = stmt.limit(None if limit is None else limit - len(page))
        if skip:
            stmt = stmt.offset(skip)
        return page + list(conn.execute(stmt).scalars())

    def with_key(
        self,
        conn: Connection,
        first: SortKey,
        rest: Sequence[SortKey],
        on_key: list[Comparison | InList | Like],
        others: list[Node],
        scope: list[ColumnElement[bool]],
        wanted: int | None,
    ) -> list[str]:
        """The first ``wanted`` runs that have a value for the first sort key, in order.

        With a limit, the index is walked within a window first: the best ``WINDOW`` (or more)
        entries, ties at the edge included; when too few match there (a selective filter),
        the whole query is left to the database's planner."""
        sk = _TABLES[first.ident.kind].alias("sort_key")
        on_entry = [
            sk.c.key == first.ident.key,
            sk.c.value.is_not(None),
            *(self.value_condition(item, sk.c.value) for item in on_key),
        ]
        value = sk.c.value if first.ident.kind == "metric" else self.collated(sk.c.value)
        direction = value.desc() if first.descending else value.asc()

        def query(extra: list[ColumnElement[bool]], walk_index: bool) -> list[str]:
            compiler = _Compiler(self.dialect, probe=True) if walk_index else self
            conditions = [*on_entry, *scope, *(compiler.condition(item) for item in others)]
            run_id: ColumnElement[Any] = sk.c.run_id
            if walk_index and not self.postgres:
                # unary + keeps SQLite from reaching latest_metrics through run_id, so it
                # walks the (key, value) index instead of scanning runs and sorting
                run_id = UnaryExpression(run_id, operator=custom_op("+"), type_=run_id.type)
            source, terms = self.order_terms(sk.join(runs, runs.c.id == run_id), rest)
            stmt = (
                select(runs.c.id)
                .select_from(source)
                .where(*conditions, *extra)
                .order_by(direction, *terms, runs.c.id)
                .limit(wanted)
            )
            return list(conn.execute(stmt).scalars())

        if wanted is None:
            return query([], walk_index=False)
        edge_stmt = (
            select(sk.c.value)
            .where(*on_entry)
            .order_by(direction)
            .offset(max(WINDOW, WINDOW_PER_RESULT * wanted) - 1)
            .limit(1)
        )
        edge = conn.execute(edge_stmt).scalar()
        if edge is None:  # the whole key fits in the window
            return query([], walk_index=True)
        bound = literal(edge, sk.c.value.type)
        found = query([value >= bound if first.descending else value <= bound], walk_index=True)
        if len(found) >= wanted:
            return found
        return query([], walk_index=False)


def _key_value_index(table: Table) -> str:
    """The name of the ``(key, value)`` index of a metrics, params or tags table."""
    for index in table.indexes:
        if [c.name for c in index.columns] == ["key", "value"]:
            return str(index.name)
    raise AssertionError(f"table {table.name} has no (key, value) index")  # pragma: no cover


def _compare(op: CompareOp, left: Any, right: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = _COMPARE[op](left, right)
    return result


def _plain_number(value: Value, kind: str) -> ColumnElement[Any]:
    """A literal for comparing with a metric (double) or a time (bigint) column."""
    assert not isinstance(value, str)
    if kind == "metric" or isinstance(value, float):
        return literal(float(value), Double())
    return literal(value, BigInteger())


def like_to_glob(pattern: str) -> str:
    """A LIKE pattern (``%``, ``_``, ``\\`` escapes) as the equivalent SQLite GLOB pattern."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            char = next(chars, "\\")
            out.append(f"[{char}]" if char in "*?[" else char)
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(f"[{char}]" if char in "*?[" else char)
    return "".join(out)


__all__ = [
    "DEFAULT_ORDER",
    "And",
    "Comparison",
    "Identifier",
    "InList",
    "IsNull",
    "Like",
    "Node",
    "Not",
    "Or",
    "SortKey",
    "format_filter",
    "like_to_glob",
    "parse_filter",
    "parse_order_key",
    "search_run_ids",
]
