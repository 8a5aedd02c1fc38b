"""weekend.monitoring.stats against scipy and brute force: tests, effect sizes, BH, decision."""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats as sps

from weekend.core.errors import InvalidValueError
from weekend.monitoring import _effects as fx
from weekend.monitoring._univariate import pooled
from weekend.monitoring.stats import (
    Counts,
    compare_columns,
    prepare_reference,
)

finite = st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
samples = arrays(np.float64, st.integers(1, 60), elements=finite)
few_values = arrays(np.float64, st.integers(1, 60), elements=st.sampled_from([0.0, 1.5, 2.0, -3.0]))


# ---------------------------------------------------------------- effect sizes vs references


@given(samples | few_values, samples | few_values)
def test_wasserstein_equals_scipy(x: np.ndarray, y: np.ndarray) -> None:
    ours = fx.wasserstein(np.sort(x), np.sort(y))
    assert ours == pytest.approx(sps.wasserstein_distance(x, y), rel=1e-9, abs=1e-9)


@given(samples | few_values, st.integers(2, 12))
def test_quantile_edges_are_the_inverted_cdf_quantiles(x: np.ndarray, bins: int) -> None:
    expected = np.unique(np.quantile(x, np.arange(1, bins) / bins, method="inverted_cdf"))
    np.testing.assert_array_equal(fx.quantile_edges(np.sort(x), bins), expected)


@given(samples | few_values, samples | few_values, st.integers(2, 12))
def test_binned_counts_brute_force(ref: np.ndarray, cur: np.ndarray, bins: int) -> None:
    edges = fx.quantile_edges(np.sort(ref), bins)
    counts = fx.binned_counts(np.sort(cur), edges)
    brute = [0] * (len(edges) + 1)
    for value in cur:  # right-closed bins: value lands after every edge below it
        brute[sum(1 for e in edges if e < value)] += 1
    assert counts.tolist() == brute


proportion_vectors = st.integers(2, 8).flatmap(
    lambda k: st.tuples(
        st.lists(st.integers(0, 50), min_size=k, max_size=k).filter(any),
        st.lists(st.integers(0, 50), min_size=k, max_size=k).filter(any),
    )
)


@given(proportion_vectors)
def test_psi_and_jensen_shannon_brute_force(pair: tuple[list[int], list[int]]) -> None:
    r = np.array(pair[0]) / sum(pair[0])
    c = np.array(pair[1]) / sum(pair[1])
    brute_psi = 0.0
    for a, b in zip(r, c, strict=True):
        a, b = (a or fx.EPSILON), (b or fx.EPSILON)
        brute_psi += (b - a) * math.log(b / a)
    assert fx.psi(r, c) == pytest.approx(brute_psi, rel=1e-12, abs=1e-12)
    m = (r + c) / 2
    kl = [sum(p * math.log2(p / q) for p, q in zip(v, m, strict=True) if p) for v in (r, c)]
    assert fx.jensen_shannon(r, c) == pytest.approx(math.sqrt(max(sum(kl) / 2, 0)), abs=1e-7)
    assert 0 <= fx.jensen_shannon(r, c) <= 1


@given(proportion_vectors)
def test_cramers_v_brute_force(pair: tuple[list[int], list[int]]) -> None:
    table = np.array(pair, dtype=np.int64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        return
    chi2 = sps.chi2_contingency(table, correction=False).statistic
    assert fx.cramers_v(table) == pytest.approx(math.sqrt(chi2 / table.sum()), rel=1e-9)


# ---------------------------------------------------------------- the tests vs scipy


@given(samples | few_values, samples | few_values)  # ties too: KS is given the pooled ranks
def test_numeric_column_is_scipy_ks(ref: np.ndarray, cur: np.ndarray) -> None:
    result = compare_columns({"x": ref}, {"x": cur}, {"x": "numeric"}, workers=1)["x"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exact did not converge: asymp
        expected = sps.ks_2samp(ref, cur)
    assert result.test == "ks"
    assert result.statistic == pytest.approx(expected.statistic)
    assert result.p_value == pytest.approx(expected.pvalue, rel=1e-9, abs=1e-12)
    assert result.effects["wasserstein"] == pytest.approx(
        fx.normed_wasserstein(sps.wasserstein_distance(ref, cur), float(np.std(ref))), rel=1e-9
    )


categories = st.lists(st.sampled_from(["a", "b", "c", "d", "e"]), min_size=1, max_size=80)


@given(categories, categories)
def test_categorical_column_is_scipy_chi_square(ref: list[str], cur: list[str]) -> None:
    result = compare_columns({"c": ref}, {"c": cur}, {"c": "categorical"}, workers=1)["c"]
    labels = sorted(set(ref) | set(cur))
    table = np.array([[ref.count(k) for k in labels], [cur.count(k) for k in labels]])
    merged = pooled(table)
    if merged.shape[1] < 2:
        assert (result.statistic, result.p_value) == (0.0, 1.0)
    else:
        expected = sps.chi2_contingency(merged, correction=False)
        assert result.statistic == pytest.approx(expected.statistic)
        assert result.p_value == pytest.approx(expected.pvalue)
    shares = [np.array(row) / sum(row) for row in table]
    assert result.effects["psi"] == pytest.approx(fx.psi(*shares))


def test_pooling_merges_categories_under_five_expected() -> None:
    table = np.array([[500, 300, 4, 3, 0], [400, 350, 3, 3, 2]])
    np.testing.assert_array_equal(pooled(table), [[500, 300, 7], [400, 350, 8]])
    # a pool still under five expected joins the smallest category
    np.testing.assert_array_equal(pooled(np.array([[50, 9, 1], [40, 12, 0]])), [[50, 10], [40, 12]])
    big = np.array([[500, 300], [400, 350]])
    assert pooled(big) is big


@given(
    st.lists(st.booleans(), min_size=1, max_size=200),
    st.lists(st.booleans(), min_size=1, max_size=200),
)
def test_binary_column_is_the_two_proportion_z_test(ref: list[bool], cur: list[bool]) -> None:
    result = compare_columns({"b": ref}, {"b": cur}, {"b": "binary"}, workers=1)["b"]
    k1, k2, n1, n2 = sum(ref), sum(cur), len(ref), len(cur)
    table = np.array([[k1, n1 - k1], [k2, n2 - k2]])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:
        assert (result.statistic, result.p_value) == (0.0, 1.0)
        return
    chi2 = sps.chi2_contingency(table, correction=False)
    assert result.statistic**2 == pytest.approx(chi2.statistic, rel=1e-9, abs=1e-12)
    assert result.p_value == pytest.approx(chi2.pvalue, rel=1e-9, abs=1e-12)
    assert result.effects["difference"] == pytest.approx(k2 / n2 - k1 / n1)
    assert np.sign(result.statistic) == np.sign(k2 / n2 - k1 / n1)


# ---------------------------------------------------------------- BH and the decision


def _brute_bh(p: list[float]) -> list[float]:
    """Benjamini-Hochberg by its definition: the i-th smallest p-value's adjusted value is
    the smallest m p_(j) / j over j >= i, capped at 1."""
    m = len(p)
    order = sorted(range(m), key=lambda i: p[i])
    out = [0.0] * m
    for rank, i in enumerate(order, start=1):
        out[i] = min(1.0, min(m * p[order[j - 1]] / j for j in range(rank, m + 1)))
    return out


@given(
    st.lists(st.tuples(st.floats(-2, 2), st.floats(0.5, 2)), min_size=1, max_size=12),
    st.floats(0.001, 0.5),
    st.floats(0, 0.5),
    st.integers(0, 2**32 - 1),
)
def test_decision_is_bh_and_minimum_effect(
    shifts: list[tuple[float, float]], fdr: float, minimum: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    ref = {f"x{i}": rng.normal(size=40) for i in range(len(shifts))}
    cur = {f"x{i}": rng.normal(m, s, size=30) for i, (m, s) in enumerate(shifts)}
    kinds: dict[str, Any] = dict.fromkeys(ref, "numeric")
    result = compare_columns(ref, cur, kinds, fdr=fdr, min_effect=dict.fromkeys(ref, minimum))
    p = [c.p_value for c in result]
    expected = _brute_bh(p)
    for column, adjusted in zip(result, expected, strict=True):
        assert column.adjusted_p_value == pytest.approx(adjusted, rel=1e-9)
        assert column.significant == (column.adjusted_p_value <= fdr)
        wanted = column.significant and column.effects["wasserstein"] >= minimum
        assert column.drifted == wanted
    assert result.drifted == [c.column for c in result if c.drifted]


def test_a_trivial_shift_at_large_n_is_significant_but_not_drift(rng: np.random.Generator) -> None:
    ref, cur = rng.normal(size=400_000), rng.normal(0.03, 1, size=400_000)
    result = compare_columns({"x": ref}, {"x": cur}, {"x": "numeric"})["x"]
    assert result.significant
    assert result.adjusted_p_value < 1e-6
    assert result.effect == "wasserstein"
    assert result.effect_size < 0.1
    assert not result.drifted
    strict = compare_columns({"x": ref}, {"x": cur}, {"x": "numeric"}, min_effect={"x": 0})
    assert strict.drifted == ["x"]


def test_min_effect_can_pick_another_effect_size(rng: np.random.Generator) -> None:
    ref, cur = rng.normal(size=5000), rng.normal(0.5, 1, size=5000)
    by_psi = compare_columns(
        {"x": ref}, {"x": cur}, {"x": "numeric"}, min_effect={"x": ("psi", 0.5)}
    )["x"]
    assert (by_psi.effect, by_psi.min_effect) == ("psi", 0.5)
    assert by_psi.significant
    assert by_psi.effect_size < 0.5
    assert not by_psi.drifted


# ---------------------------------------------------------------- inputs


def test_every_input_family_gives_the_same_result(rng: np.random.Generator) -> None:
    x = rng.normal(size=500)
    x[[3, 7]] = np.nan
    cats = rng.choice(["a", "b", "c"], size=500).astype(object)
    cats[[1, 2]] = None
    flags = rng.random(500) < 0.4
    kinds: dict[str, Any] = {"x": "numeric", "c": "categorical", "b": "binary"}
    cur = {"x": rng.normal(0.2, 1, 300), "c": rng.choice(["a", "b", "d"], 300), "b": flags[:300]}
    forms: list[dict[str, Any]] = [
        {"x": x, "c": cats, "b": flags},
        {"x": pd.Series(x), "c": pd.Series(cats, dtype="string"), "b": pd.Series(flags)},
        {"x": pa.array(x, from_pandas=True), "c": pa.array(cats), "b": pa.array(flags)},
        {
            "x": pa.chunked_array([x[:100], x[100:]]),
            "c": pa.array(cats).dictionary_encode(),
            "b": pa.chunked_array([flags]),
        },
        {"x": x.tolist(), "c": cats.tolist(), "b": flags.tolist()},
    ]
    results = [compare_columns(form, cur, kinds, workers=1).to_dict() for form in forms]
    for other in results[1:]:
        assert other == results[0]
    assert results[0]["columns"][0]["missing_reference"] == 2
    assert results[0]["columns"][1]["missing_reference"] == 2
    assert results[0]["columns"][0]["n_reference"] == 498


def test_infinities_count_as_missing_in_numeric_columns() -> None:
    ref = np.array([1.0, 2.0, np.inf, -np.inf, np.nan, 3.0])
    column = compare_columns({"x": ref}, {"x": [1.0, 2.0]}, {"x": "numeric"})["x"]
    assert (column.n_reference, column.missing_reference) == (3, 3)


def test_counts_reference_equals_the_rows_it_counts(rng: np.random.Generator) -> None:
    ref = rng.choice(["JFK", "LGA", "EWR"], size=3000, p=[0.5, 0.3, 0.2])
    cur = {"origin": rng.choice(["JFK", "LGA", "EWR"], size=1000, p=[0.4, 0.3, 0.3])}
    labels, numbers = np.unique(ref, return_counts=True)
    counts = Counts(dict(zip(labels.tolist(), numbers.tolist(), strict=True)))
    a = compare_columns({"origin": ref}, cur, {"origin": "categorical"}).to_dict()
    b = compare_columns({"origin": counts}, cur, {"origin": "categorical"}).to_dict()
    assert a == b
    assert a["drifted"] == ["origin"]


def test_a_prepared_reference_gives_the_same_result(rng: np.random.Generator) -> None:
    ref = {"x": rng.normal(size=2000), "c": rng.choice(list("abc"), 2000)}
    kinds: dict[str, Any] = {"x": "numeric", "c": "categorical"}
    prepared = prepare_reference(ref, kinds)
    for shift in (0.0, 0.5):
        cur = {"x": rng.normal(shift, 1, 1000), "c": rng.choice(list("abc"), 1000)}
        assert (
            compare_columns(prepared, cur).to_dict() == compare_columns(ref, cur, kinds).to_dict()
        )


def test_empty_sides_are_reported_not_tested() -> None:
    result = compare_columns(
        {"x": [1.0, 2.0, 3.0], "y": [np.nan, np.nan], "c": ["a", "b"]},
        {"x": [np.nan], "y": [1.0, 5.0], "c": ["a", "a", "b"]},
        {"x": "numeric", "y": "numeric", "c": "categorical"},
    )
    assert (result["x"].test, result["x"].note) == ("", "no current values")
    assert result["y"].note == "no reference values"
    assert math.isnan(result["x"].adjusted_p_value)
    assert not result["x"].drifted
    assert result["c"].adjusted_p_value == result["c"].p_value  # BH over the one tested column
    assert result.share_drifted == 0.0
    assert result.to_dict()["columns"][0]["p_value"] is None


def test_distributions_for_reports(rng: np.random.Generator) -> None:
    ref = rng.normal(size=1000)
    column = compare_columns({"x": ref}, {"x": ref + 1}, {"x": "numeric"})["x"]
    shown = column.distribution
    assert len(shown.labels) == 10
    assert shown.labels[0].startswith("(-inf, ")
    assert sum(shown.reference) == pytest.approx(1)
    assert sum(shown.current) == pytest.approx(1)
    assert shown.reference == pytest.approx([0.1] * 10)
    many = [f"id{i}" for i in range(200)]
    cats = compare_columns({"c": many}, {"c": many}, {"c": "categorical"})["c"].distribution
    assert len(cats.labels) == 50
    assert cats.labels[-1] == "(other)"
    assert sum(cats.reference) == pytest.approx(1)


def test_constant_reference_column() -> None:
    result = compare_columns({"x": [2.0] * 50}, {"x": [2.0] * 30 + [3.0] * 30}, {"x": "numeric"})
    assert result["x"].effects["wasserstein"] == math.inf
    assert result.drifted == ["x"]
    assert result.to_dict()["columns"][0]["effects"]["wasserstein"] is None


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            {"kinds": {"x": "continuous"}},
            r"kinds\['x'\] must be one of numeric, categorical, binary, got 'continuous'",
        ),
        (
            {"kinds": {"nope": "numeric"}},
            r"column 'nope' \(named in kinds\) is not in the reference columns \(x, c, b\)",
        ),
        (
            {"kinds": {"c": "numeric"}},
            r"column 'c' is numeric but its values are of type <U1: expected numbers; "
            r"pass kinds=\{'c': 'categorical'\}",
        ),
        (
            {"kinds": {"c": "binary"}},
            r"column 'c' is binary but holds 3 distinct values \('a', 'b', 'c'\); "
            r"pass kinds=\{'c': 'categorical'\}",
        ),
        ({"fdr": 1.5}, r"fdr must be a number between 0 and 1, got 1.5"),
        (
            {"min_effect": {"x": ("cramers_v", 0.1)}},
            r"min_effect\['x'\]: a numeric column's effect size is one of wasserstein, "
            r"jensen_shannon, psi, got 'cramers_v'",
        ),
        ({"min_effect": {"x": -1}}, r"min_effect\['x'\] must be a finite number >= 0, got -1"),
        (
            {"min_effect": {"zz": 0.1}},
            r"min_effect names column 'zz', which is not compared \(x\)",
        ),
        ({"bins": 1}, r"bins must be an integer from 2 to 1000, got 1"),
        ({"kinds": {}}, r"kinds must be a non-empty mapping"),
    ],
)
def test_bad_arguments_are_named(call: dict[str, Any], message: str) -> None:
    ref = {"x": np.arange(10.0), "c": np.array(list("abcabcabca")), "b": np.arange(10) % 2}
    arguments: dict[str, Any] = {"kinds": {"x": "numeric"}, **call}
    with pytest.raises(InvalidValueError, match=message):
        compare_columns(ref, ref, **arguments)


def test_a_numeric_column_holding_words_names_the_row() -> None:
    values = np.array([1.0, 2.5, "n/a", 4.0], dtype=object)
    with pytest.raises(InvalidValueError, match=r"column 'x' is numeric but holds 'n/a' at row 2"):
        compare_columns({"x": values}, {"x": [1.0]}, {"x": "numeric"})


def test_the_current_side_must_have_the_columns() -> None:
    with pytest.raises(
        InvalidValueError, match=r"column 'x' .* is not in the current columns \(y\)"
    ):
        compare_columns({"x": [1.0]}, {"y": [1.0]}, {"x": "numeric"})


def test_counts_are_checked() -> None:
    with pytest.raises(
        InvalidValueError, match=r"the count of category 'a' must be a non-negative"
    ):
        Counts({"a": -1})
    with pytest.raises(
        InvalidValueError, match=r"column 'x' is numeric: it needs its values, not Counts"
    ):
        compare_columns({"x": Counts({1.0: 3})}, {"x": [1.0]}, {"x": "numeric"})
