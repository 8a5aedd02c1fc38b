"""The run search language: parsing, printing, and errors that point at the right character."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from weekend.core.errors import FilterSyntaxError, UserInputError
from weekend.tracking._search_parse import (
    ATTRIBUTES,
    MAX_DEPTH,
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
    parse_filter,
    parse_order_key,
)

_COMPARE_OPS: list[CompareOp] = ["=", "!=", "<", "<=", ">", ">="]

AUC = Identifier("metric", "auc")
MODEL = Identifier("param", "model")
TEAM = Identifier("tag", "team")
STATUS = Identifier("attribute", "status")


def test_the_example_from_the_docs() -> None:
    text = (
        "metrics.auc > 0.8 and (params.model = 'gbm' or tags.team in ('a','b')) "
        "and not attributes.status = 'failed'"
    )
    assert parse_filter(text) == And(
        (
            Comparison(AUC, ">", 0.8),
            Or((Comparison(MODEL, "=", "gbm"), InList(TEAM, ("a", "b")))),
            Not(Comparison(STATUS, "=", "failed")),
        )
    )


def test_precedence_is_not_then_and_then_or() -> None:
    a, b, c = (Comparison(Identifier("metric", k), ">", 1) for k in "abc")
    assert parse_filter("metrics.a > 1 or metrics.b > 1 and not metrics.c > 1") == Or(
        (a, And((b, Not(c))))
    )
    assert parse_filter("not metrics.a > 1 and metrics.b > 1") == And((Not(a), b))
    assert parse_filter("not (metrics.a > 1 and metrics.b > 1)") == Not(And((a, b)))
    assert parse_filter("(metrics.a > 1 or metrics.b > 1) and metrics.c > 1") == And(
        (Or((a, b)), c)
    )
    # chains flatten: a AND (b AND c) is one And of three
    assert parse_filter("metrics.a > 1 AND (metrics.b > 1 AND metrics.c > 1)") == And((a, b, c))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metric.auc >= 1", Comparison(AUC, ">=", 1)),
        ("METRICS.auc == 1", Comparison(AUC, "=", 1)),
        ("param.model <> 'x'", Comparison(MODEL, "!=", "x")),
        ('tag.team != "x"', Comparison(TEAM, "!=", "x")),
        ("attr.status < 'x'", Comparison(STATUS, "<", "x")),
        ("attribute.Status <= 'x'", Comparison(STATUS, "<=", "x")),
        ("attributes.id = 'abc'", Comparison(Identifier("attribute", "run_id"), "=", "abc")),
        ("attributes.run_name = 'n'", Comparison(Identifier("attribute", "name"), "=", "n")),
        (
            "metrics.`val loss` < -1.5e-3",
            Comparison(Identifier("metric", "val loss"), "<", -0.0015),
        ),
        ("params.\"a.b/c d\" = 'x'", Comparison(Identifier("param", "a.b/c d"), "=", "x")),
        ("params.`a``b` = 'x'", Comparison(Identifier("param", "a`b"), "=", "x")),
        ('params."a""b" = 1', Comparison(Identifier("param", 'a"b'), "=", 1)),
        (
            "metrics.train/loss:1-a.b>2",
            Comparison(Identifier("metric", "train/loss:1-a.b"), ">", 2),
        ),
        ("params.s = 'it''s'", Comparison(Identifier("param", "s"), "=", "it's")),
        ('params.s = "say ""hi"""', Comparison(Identifier("param", "s"), "=", 'say "hi"')),
        ("params.s = 'C:\\tmp'", Comparison(Identifier("param", "s"), "=", "C:\\tmp")),
        ("metrics.auc = .5", Comparison(AUC, "=", 0.5)),
        ("metrics.auc = 5.", Comparison(AUC, "=", 5.0)),
        ("metrics.auc = 2E3", Comparison(AUC, "=", 2000.0)),
        ("metrics.auc = -7", Comparison(AUC, "=", -7)),
        ("metrics.auc IN (1, 2.5)", InList(AUC, (1, 2.5))),
        ("params.model not in ('a')", InList(MODEL, ("a",), negated=True)),
        ("params.model LIKE 'g%'", Like(MODEL, "g%")),
        ("params.model not ilike 'G_m'", Like(MODEL, "G_m", negated=True, case_insensitive=True)),
        ("metrics.auc is null", IsNull(AUC)),
        ("tags.team IS NOT NULL", IsNull(TEAM, negated=True)),
        (
            "attributes.start_time > 1700000000000",
            Comparison(Identifier("attribute", "start_time"), ">", 1700000000000),
        ),
    ],
)
def test_forms(text: str, expected: Node) -> None:
    assert parse_filter(text) == expected
    assert parse_filter(format_filter(expected)) == expected


def test_numbers_keep_their_type() -> None:
    node = parse_filter("metrics.a in (1, 1.0, 1e0)")
    assert isinstance(node, InList)
    assert [type(v) for v in node.values] == [int, float, float]


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "empty filter", 0),
        ("   ", "empty filter", 0),
        ("foo.x = 1", "unknown identifier prefix 'foo'", 0),
        ("auc > 1", "unknown identifier 'auc'", 0),
        ("metrics.auc > 1 and auc < 2", "unknown identifier 'auc'", 20),
        ("attributes.colour = 'x'", "unknown attribute 'colour'; expected one of status", 11),
        ("params.x = 'abc", "unterminated string", 11),
        ("params.`abc = 1", "unterminated quoted key", 7),
        ("params.`` = 1", "empty key", 7),
        ("params. = 1", "missing key after 'params.'", 7),
        ("metrics.auc >", "missing value after '>'", 13),
        ("metrics.auc > and", "expected a number or a quoted string after '>', got 'and'", 14),
        ("metrics.auc", "expected an operator", 11),
        ("metrics.auc 1", "expected an operator .* got '1'", 12),
        ("metrics.auc > 1 and", "expected a condition .* after AND, got the end", 19),
        ("metrics.auc > 1 or or", "expected a condition .* after OR, got 'or'", 19),
        ("not", "expected a condition .* after NOT", 3),
        ("(metrics.auc > 1", "unbalanced '\\(': it is never closed", 0),
        ("metrics.auc > 1)", "unbalanced '\\)'", 15),
        ("()", "expected a condition .* got '\\)'", 1),
        ("(metrics.a > 1 metrics.b > 1)", "expected AND, OR or '\\)'", 15),
        ("metrics.a > 1 metrics.b > 1", "expected AND, OR or the end", 14),
        ("metrics.a in ()", "IN needs at least one value", 14),
        ("metrics.a in (1,)", "expected a number or a quoted string in the IN list", 16),
        ("metrics.a in (1", "the IN list is never closed", 13),
        ("metrics.a in 1", "expected '\\(' after IN", 13),
        ("metrics.a in (1 2)", "expected ',' or '\\)'", 16),
        ("metrics.auc = 'high'", "metrics.auc holds numbers .* got string 'high'", 14),
        ("metrics.auc in (1, 'x')", "holds numbers", 19),
        ("attributes.start_time > 'monday'", "holds numbers \\(times in milliseconds\\)", 24),
        (
            "attributes.status = 1",
            "attributes.status holds text; compare it with a quoted string",
            20,
        ),
        ("metrics.auc like 'x%'", "LIKE works on params, tags and text attributes", 12),
        ("attributes.end_time ilike 'x%'", "ILIKE works on params", 20),
        ("params.m like 1", "LIKE needs a quoted pattern", 14),
        ("params.m like 'a\\'", "unfinished escape", 14),
        ("params.m not = 'a'", "expected IN, LIKE or ILIKE after NOT", 13),
        ("params.m is 'a'", "expected NULL after IS", 12),
        ("params.m = null", "compare with NULL using IS NULL or IS NOT NULL", 11),
        ("params.m ! 'a'", "'!' must be followed by '='", 9),
        ("params.m = 'a' # x", "unexpected character '#'", 15),
        ("metrics.a = 1x", "invalid number '1x'", 12),
        ("metrics.a = 1.2.3", "invalid number", 12),
        ("metrics.a = - 1", "'-' must be followed by a number", 12),
        ("metrics.a = 1e999", "out of range of a 64-bit float", 12),
        ("metrics.a = 99999999999999999999", "out of the 64-bit range", 12),
        (
            "(" * (MAX_DEPTH + 1) + "metrics.a > 1" + ")" * (MAX_DEPTH + 1),
            "nests deeper",
            MAX_DEPTH,
        ),
        ("not " * (MAX_DEPTH + 1) + "metrics.a > 1", "nests deeper", 4 * MAX_DEPTH),
    ],
)
def test_errors_point_at_the_offending_character(text: str, message: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError, match=message) as info:
        parse_filter(text)
    assert info.value.position == position
    assert info.value.text == text
    assert isinstance(info.value, UserInputError)
    # the message draws a caret under the offending character
    assert str(info.value).endswith("\n  " + " " * position + "^")


def test_a_filter_must_be_text() -> None:
    with pytest.raises(FilterSyntaxError, match="filter must be a string, got int"):
        parse_filter(3)  # type: ignore[arg-type]


# -- order_by entries -------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("metrics.auc desc", SortKey(AUC, descending=True)),
        ("metrics.auc DESC", SortKey(AUC, descending=True)),
        ("params.model", SortKey(MODEL)),
        ("  attributes.start_time   asc ", SortKey(Identifier("attribute", "start_time"))),
        ("tags.`my team` desc", SortKey(Identifier("tag", "my team"), descending=True)),
    ],
)
def test_order_keys(text: str, expected: SortKey) -> None:
    assert parse_order_key(text) == expected


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "order_by entry must start with metrics.<key>", 0),
        ("auc desc", "order_by entry must start with", 0),
        (
            "metrics.auc downwards",
            "expected ASC, DESC or the end of the order_by entry, got 'downwards'",
            12,
        ),
        ("metrics.auc desc nulls", "expected ASC, DESC or the end", 17),
        ("attributes.colour", "unknown attribute 'colour'", 11),
    ],
)
def test_order_key_errors(text: str, message: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError, match=message) as info:
        parse_order_key(text)
    assert info.value.position == position


# -- property-based: print and parse back, and garbage in -------------------------------
def _keys() -> st.SearchStrategy[str]:
    bare = st.text("abcXYZ019_.:/-", min_size=1, max_size=6)
    odd = st.text(st.characters(codec="utf-8"), min_size=1, max_size=6)
    return st.one_of(bare, odd)


_ints = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_floats = st.floats(allow_nan=False, allow_infinity=False)
_numbers = st.one_of(_ints, _floats)
_strings = st.text(st.characters(codec="utf-8"), max_size=8)
_patterns = _strings.filter(lambda p: (len(p) - len(p.rstrip("\\"))) % 2 == 0)
_TEXT_ATTRIBUTES = [name for name, kind in ATTRIBUTES.items() if kind == "text"]
_TIME_ATTRIBUTES = [name for name, kind in ATTRIBUTES.items() if kind == "time"]


@st.composite
def _predicates(draw: st.DrawFn) -> Node:
    kind = draw(st.sampled_from(["metric", "param", "tag", "text", "time"]))
    if kind in ("metric", "param", "tag"):
        ident = Identifier(kind, draw(_keys()))  # type: ignore[arg-type]
    else:
        names = _TEXT_ATTRIBUTES if kind == "text" else _TIME_ATTRIBUTES
        ident = Identifier("attribute", draw(st.sampled_from(names)))
    values = {"metric": _numbers, "time": _numbers, "text": _strings}.get(
        kind, st.one_of(_numbers, _strings)
    )
    forms = ["cmp", "in", "null"] + (["like"] if kind in ("param", "tag", "text") else [])
    form = draw(st.sampled_from(forms))
    if form == "cmp":
        op: CompareOp = draw(st.sampled_from(_COMPARE_OPS))
        return Comparison(ident, op, draw(values))
    if form == "in":
        items = tuple(draw(st.lists(values, min_size=1, max_size=3)))
        return InList(ident, items, draw(st.booleans()))
    if form == "like":
        return Like(ident, draw(_patterns), draw(st.booleans()), draw(st.booleans()))
    return IsNull(ident, draw(st.booleans()))


_filters: st.SearchStrategy[Node] = st.recursive(
    _predicates(),
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=3).map(conjoin),
        st.lists(children, min_size=2, max_size=3).map(disjoin),
        children.map(Not),
    ),
    max_leaves=10,
)


@settings(max_examples=400, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(_filters)
def test_printing_then_parsing_gives_the_same_tree(node: Node) -> None:
    text = format_filter(node)
    assert parse_filter(text) == node


_SOUP = [
    "metrics.a",
    "params.`x y`",
    "tags.t",
    "attributes.status",
    "attr.start_time",
    "foo",
    "(",
    ")",
    ",",
    "and",
    "OR",
    "not",
    "in",
    "like",
    "ilike",
    "is",
    "null",
    "NULL",
    "'s'",
    "'it''s'",
    '"d"',
    "'",
    '"',
    "`",
    "1",
    "-2.5e3",
    ".5",
    "-",
    ".",
    "=",
    "==",
    "!=",
    "<>",
    ">=",
    "<=",
    "<",
    ">",
    "!",
    "#",
    "\\",
    "metrics.",
]


@settings(max_examples=500, derandomize=True)
@given(
    st.one_of(
        st.text(max_size=40),
        st.lists(st.sampled_from(_SOUP), max_size=12).map(" ".join),
        st.lists(st.sampled_from(_SOUP), max_size=12).map("".join),
    )
)
def test_garbage_raises_only_filter_syntax_errors(text: str) -> None:
    try:
        node = parse_filter(text)
    except FilterSyntaxError as exc:
        error = exc
    else:
        assert parse_filter(format_filter(node)) == node
        return
    assert 0 <= error.position <= len(text)
    assert error.text == text
