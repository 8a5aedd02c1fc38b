"""Structural checks of the scikit-learn objects weekend trusts beyond skops' defaults.

skops rebuilds an object only when its *type* is trusted; it cannot tell whether the values
inside are sane. Some of the types in weekend's allow-list (:data:`STRUCTURAL_TYPES`) hold
index arrays that compiled code of scikit-learn and scipy follows without bounds checks, so a
crafted file whose *types* are all safe can still crash the process (or read memory it must
not) on the first ``predict``. skops therefore leaves ``Tree`` and ``TreePredictor``
untrusted by default. weekend trusts them, and the other types below, only because every
instance is checked here, after skops built the object and before anyone can call it:

``sklearn.tree._tree.Tree`` (decision trees, random forests, extra trees, gradient boosting,
AdaBoost, isolation forests)
    at least one node and no more than the capacity; each node is a leaf (both children
    ``-1``) or has two distinct children with larger indices, every node but the root has
    exactly one parent (a tree, no cycle, nothing unreachable); split features within
    ``n_features``; no NaN threshold (``inf`` is how scikit-learn splits off missing values);
    the value array is ``(node_count, n_outputs, max_n_classes)`` and finite; the deepest leaf
    is no deeper than ``max_depth`` (``decision_path`` sizes a buffer from it). The owning
    estimator's ``n_features_in_`` and ``n_outputs_`` match the tree's; a tree that no
    decision-tree estimator owns is refused. Gradient boosting's ``estimators_`` table has
    ``n_trees_per_iteration_`` columns of trees fitted on the ensemble's features, and its
    initial estimator gives exactly that many raw columns (the compiled loop writes into them).
``sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor``
    the node array has scikit-learn's record type; split nodes have two distinct, larger
    child indices and every node but the root one parent; features within the model's
    ``n_features_in_``; no NaN threshold; categorical splits only on features the bin mapper
    knows as categorical, with a bitset row that exists (bitsets are 8 words wide); finite leaf
    values; ``n_trees_per_iteration_`` predictors per iteration, none outside an estimator;
    the input preprocessor is the one scikit-learn builds (an ``OrdinalEncoder`` and a
    ``check_array`` transformer that together pass every column once), so the predictors see
    ``n_features_in_`` columns.
``sklearn.neighbors.KDTree`` and ``BallTree``
    ``data`` is 2-d; ``idx_array`` is a permutation of the rows; ``n_nodes`` equals
    ``2 ** n_levels - 1`` and the node arrays' lengths; each node's row range lies within the
    data; a node that is not a leaf has both children; the bounds array is
    ``(2 or 1, n_nodes, n_features)``; sample weights (if any) have one entry per row; the
    distance metric has a finite ``p > 0`` and, if weighted, one weight per feature.
``scipy.interpolate.BSpline`` (``SplineTransformer``)
    knots, coefficients and degree pass scipy's own constructor checks (skops sets the
    attributes directly, skipping them), which bound every index of the evaluation.

The remaining trusted types run no compiled code over stored indices; docs/registry.md lists
them and why. Checks fail with :class:`~weekend.core.errors.UnsafeModelError` naming the
object and the problem; ``trusted=True`` skips them (and vouches for the file).
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

import numpy as np

from weekend.core.errors import UnsafeModelError

Array = np.ndarray[Any, Any]

STRUCTURAL_TYPES: frozenset[str] = frozenset(
    {
        "sklearn.tree._tree.Tree",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
        "scipy.interpolate._bsplines.BSpline",
    }
)
"""Types whose instances must pass :func:`audit_model`; a file without them needs no audit."""

MAX_PROBE_FEATURES = 1_000_000
"""Gradient boosting's width probe is one row of this many features at most."""

_PLAIN = (str, bytes, int, float, complex, bool, type(None), np.generic, type)


class _RefusedError(Exception):
    """An inconsistency: the message names the object and the problem."""


def _fail(path: str, problem: str) -> NoReturn:
    raise _RefusedError(f"{path}: {problem}")


def _count(value: object, path: str, what: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        _fail(path, f"{what} must be an integer >= {minimum}, got {value!r:.40}")
    return int(value)


def _single_parents(children: Array, size: int, path: str) -> None:
    """Every node but the root (0) is the child of exactly one split."""
    parents = np.bincount(children, minlength=size)
    if parents[0] != 0 or not (parents[1:] == 1).all():
        node = int(np.flatnonzero(np.r_[parents[0] != 0, parents[1:] != 1])[0])
        _fail(path, f"node {node} has {int(parents[node])} parents; a tree gives it exactly one")


def _check_children(split: Array, left: Array, right: Array, size: int, path: str) -> None:
    """Children of split nodes are distinct, in range and after their parent."""
    bad = (left <= split) | (right <= split) | (left >= size) | (right >= size) | (left == right)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail(
            path,
            f"node {int(split[i])} has children {int(left[i])} and {int(right[i])}; "
            f"expected two distinct nodes after it and below {size}",
        )
    _single_parents(np.concatenate([left, right]), size, path)


def _check_features(split: Array, feature: Array, n_features: int, path: str) -> None:
    bad = (feature < 0) | (feature >= n_features)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        _fail(
            path,
            f"node {int(split[i])} splits on feature {int(feature[i])}, outside the "
            f"{n_features} features",
        )


def _depth(left: Array, right: Array) -> int:
    """The depth of the deepest node (the root is at depth 0), level by level."""
    depth, frontier = 0, np.array([0])
    while True:
        children = np.concatenate([left[frontier], right[frontier]])
        frontier = children[children >= 0]
        if not len(frontier):
            return depth
        depth += 1


# -- scikit-learn trees -------------------------------------------------------------------------


def check_tree(tree: Any, path: str) -> None:
    """One ``sklearn.tree._tree.Tree`` (see the module docstring)."""
    node_count = _count(tree.node_count, path, "node_count", 1)
    if node_count > _count(tree.capacity, path, "capacity", 1):
        _fail(path, f"node_count {node_count} exceeds the capacity {tree.capacity}")
    n_features = _count(tree.n_features, path, "n_features", 1)
    n_outputs = _count(tree.n_outputs, path, "n_outputs", 1)
    n_classes = np.asarray(tree.n_classes)
    if n_classes.shape != (n_outputs,) or (n_classes < 1).any():
        _fail(path, f"n_classes {n_classes.tolist()!r:.60} does not fit {n_outputs} outputs")
    left = np.asarray(tree.children_left, dtype=np.int64)
    right = np.asarray(tree.children_right, dtype=np.int64)
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        node = int(np.flatnonzero(leaf != (right == -1))[0])
        _fail(path, f"node {node} has one child only; a split has two, a leaf none")
    split = np.flatnonzero(~leaf)
    _check_children(split, left[split], right[split], node_count, path)
    _check_features(split, np.asarray(tree.feature)[split], n_features, path)
    if np.isnan(np.asarray(tree.threshold)[split]).any():
        _fail(path, "a split has a NaN threshold")
    value = np.asarray(tree.value)
    expected = (node_count, n_outputs, int(n_classes.max()))
    if value.shape != expected:
        _fail(path, f"the value array is {value.shape}, expected {expected}")
    if not np.isfinite(value).all():
        _fail(path, "the value array holds NaN or infinite values")
    depth = _depth(left, right)
    if depth > _count(tree.max_depth, path, "max_depth"):
        _fail(path, f"a leaf at depth {depth} lies below max_depth {tree.max_depth}")


def _check_decision_tree(est: Any, path: str) -> Any:
    """The estimator that owns a Tree agrees with it; returns the tree."""
    from sklearn.tree._tree import Tree

    tree = getattr(est, "tree_", None)
    if tree is None:  # not fitted: predict refuses in Python
        return None
    if type(tree) is not Tree:
        _fail(f"{path}.tree_", f"expected a Tree, got {type(tree).__name__}")
    n_features = getattr(est, "n_features_in_", None)
    if n_features != tree.n_features:
        _fail(path, f"n_features_in_ {n_features!r} differs from its tree's {tree.n_features}")
    if getattr(est, "n_outputs_", tree.n_outputs) != tree.n_outputs:
        _fail(path, f"n_outputs_ {est.n_outputs_!r} differs from its tree's {tree.n_outputs}")
    return tree


def _check_gradient_boosting(est: Any, path: str) -> Callable[[], None] | None:
    """``estimators_`` fits the raw prediction table; returns the width probe to run last."""
    from sklearn.tree._classes import BaseDecisionTree

    table = getattr(est, "estimators_", None)
    if table is None:
        return None
    n_features = _count(getattr(est, "n_features_in_", None), path, "n_features_in_", 1)
    width = _count(getattr(est, "n_trees_per_iteration_", None), path, "n_trees_per_iteration_")
    if not isinstance(table, np.ndarray) or table.dtype != object or table.ndim != 2:
        _fail(f"{path}.estimators_", "expected a 2-d object array of trees")
    if table.shape[0] < 1 or table.shape[1] != width:
        _fail(
            f"{path}.estimators_",
            f"shape {table.shape} does not have n_trees_per_iteration_={width} columns",
        )
    for (i, k), tree in np.ndenumerate(table):
        if not isinstance(tree, BaseDecisionTree) or tree.n_features_in_ != n_features:
            _fail(
                f"{path}.estimators_[{i}, {k}]",
                f"expected a tree fitted on the ensemble's {n_features} features",
            )
    return functools.partial(_probe_gradient_boosting, est, path, n_features, width)


def _probe_gradient_boosting(est: Any, path: str, n_features: int, width: int) -> None:
    """The initial raw predictions have ``width`` columns (run once every tree passed)."""
    if n_features > MAX_PROBE_FEATURES:
        _fail(path, f"{n_features} features is beyond what weekend checks")
    probe = np.zeros((1, n_features), dtype=np.float32)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = np.asarray(est._raw_predict_init(probe))
    except Exception as exc:  # the probe is ours: any failure means "cannot be checked"
        _fail(path, f"its initial estimator cannot be checked ({type(exc).__name__}: {exc})")
    if raw.ndim != 2 or raw.shape[1] != width:
        _fail(
            path, f"its initial estimator gives {raw.shape} raw predictions, expected width {width}"
        )


# -- histogram gradient boosting --------------------------------------------------------------


def _selected(columns: Any, n_features: int, path: str) -> Array:
    """Column positions from a boolean mask or a list of positions."""
    picked = np.asarray(columns)
    if picked.dtype == bool and picked.shape == (n_features,):
        return np.flatnonzero(picked)
    if picked.size == 0:
        return np.zeros(0, dtype=np.int64)
    if picked.dtype.kind in "iu" and picked.ndim == 1:
        if ((picked < 0) | (picked >= n_features)).any():
            _fail(path, f"a transformer selects a column outside the {n_features} inputs")
        return picked.astype(np.int64)
    _fail(path, f"unexpected column selection {columns!r:.60}")


def _check_hist_preprocessor(pre: Any, n_features: int, path: str) -> None:
    """None, or the ColumnTransformer scikit-learn builds: every column passes once, by
    position and by name, through an OrdinalEncoder or a ``check_array`` transformer (each
    keeps its width), so the predictors see ``n_features`` columns."""
    if pre is None:
        return
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import FunctionTransformer, OrdinalEncoder
    from sklearn.utils.validation import check_array

    where = f"{path}._preprocessor"
    by_name = getattr(pre, "_transformer_to_input_indices", None)
    if (
        type(pre) is not ColumnTransformer
        or getattr(pre, "n_features_in_", None) != n_features
        or not isinstance(by_name, dict)
    ):
        _fail(where, f"expected scikit-learn's ColumnTransformer over {n_features} columns")
    positions = np.zeros(n_features, dtype=np.int64)
    names = np.zeros(n_features, dtype=np.int64)
    for name, trans, columns in pre.transformers_:
        if isinstance(trans, str) and trans == "drop":
            continue  # a dropped column counts zero times: refused below
        func = getattr(trans, "func", None)
        target = func.func if isinstance(func, functools.partial) else func
        encoder = type(trans) is OrdinalEncoder
        checker = type(trans) is FunctionTransformer and target is check_array
        if not (encoder or checker) or (checker and trans.kw_args):
            _fail(
                where,
                f"transformer {name!r} ({type(trans).__name__}) is not one "
                "scikit-learn builds for categorical features",
            )
        positions[_selected(columns, n_features, where)] += 1
        names[_selected(by_name.get(name, []), n_features, where)] += 1
    if not ((positions == 1).all() and (names == 1).all()):
        _fail(where, "its transformers do not pass every column exactly once")


def check_predictor(predictor: Any, n_features: int, categorical: Array, path: str) -> None:
    """One ``TreePredictor`` of a model with ``n_features`` inputs (see the module docstring)."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = predictor.nodes
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE:
        _fail(path, "nodes is not an array of scikit-learn's predictor records")
    if nodes.ndim != 1 or not 1 <= len(nodes) < 2**32:
        _fail(path, f"nodes has shape {nodes.shape}; expected one row per node")
    split = np.flatnonzero(nodes["is_leaf"] == 0)
    inner = nodes[split]
    left, right = inner["left"].astype(np.int64), inner["right"].astype(np.int64)
    _check_children(split, left, right, len(nodes), path)
    feature = inner["feature_idx"].astype(np.int64)
    _check_features(split, feature, n_features, path)
    numeric = inner["is_categorical"] == 0
    if np.isnan(inner["num_threshold"][numeric]).any():
        _fail(path, "a split has a NaN threshold")
    leaves = nodes[nodes["is_leaf"] != 0]
    if not np.isfinite(leaves["value"]).all():
        _fail(path, "a leaf holds a NaN or infinite value")
    bitsets = []
    for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
        bits = getattr(predictor, name)
        if not isinstance(bits, np.ndarray) or bits.dtype != np.uint32 or bits.ndim != 2:
            _fail(path, f"{name} is not a 2-d uint32 array")
        if bits.shape[1] != 8 or not bits.flags.c_contiguous:
            _fail(path, f"{name} has shape {bits.shape}; expected (n, 8), C-ordered")
        bitsets.append(len(bits))
    cat = ~numeric
    if cat.any():
        if not categorical[feature[cat]].all():
            _fail(path, "a categorical split reads a feature the bin mapper calls numeric")
        if (inner["bitset_idx"][cat] >= min(bitsets)).any():
            _fail(path, "a categorical split points at a bitset that does not exist")


def _check_hist_gradient_boosting(est: Any, path: str) -> list[int]:
    """The model's predictors and what they depend on; returns the ids of the predictors."""
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor

    predictors = getattr(est, "_predictors", None)
    if predictors is None:
        return []
    if getattr(est, "_in_fit", False):
        _fail(path, "it claims to be in the middle of fit (its inputs would be read as binned)")
    n_features = _count(getattr(est, "n_features_in_", None), path, "n_features_in_", 1)
    per_iteration = _count(
        getattr(est, "n_trees_per_iteration_", None), path, "n_trees_per_iteration_", 1
    )
    mapped = getattr(getattr(est, "_bin_mapper", None), "is_categorical_", None)
    categorical = np.zeros(n_features, bool) if mapped is None else np.asarray(mapped) != 0
    if categorical.shape != (n_features,):
        _fail(f"{path}._bin_mapper", f"is_categorical_ does not have {n_features} entries")
    _check_hist_preprocessor(getattr(est, "_preprocessor", None), n_features, path)
    if not isinstance(predictors, list):
        _fail(f"{path}._predictors", "expected a list of iterations")
    seen = []
    for i, iteration in enumerate(predictors):
        if not isinstance(iteration, list) or len(iteration) != per_iteration:
            _fail(f"{path}._predictors[{i}]", f"expected {per_iteration} predictors")
        for k, predictor in enumerate(iteration):
            where = f"{path}._predictors[{i}][{k}]"
            if type(predictor) is not TreePredictor:
                _fail(where, f"expected a TreePredictor, got {type(predictor).__name__}")
            check_predictor(predictor, n_features, categorical, where)
            seen.append(id(predictor))
    return seen


# -- nearest-neighbour trees and splines ----------------------------------------------------------


def _check_metric(metric: Any, n_features: int | None, path: str) -> None:
    p, vec, _ = metric.__getstate__()[:3]
    if not (isinstance(p, float | int) and np.isfinite(p) and p > 0):
        _fail(path, f"the distance metric's p must be finite and > 0, got {p!r:.40}")
    if type(metric).__name__ != "MinkowskiDistance64":
        return  # Euclidean and Manhattan distances read no weights
    size = np.asarray(vec).shape[0]
    if n_features is not None and size not in (0, n_features):
        _fail(path, f"the distance metric has {size} weights for {n_features} features")


def check_binary_tree(tree: Any, path: str) -> None:
    """One ``KDTree`` or ``BallTree`` (see the module docstring)."""
    state = tree.__getstate__()
    data, order, nodes, bounds = (np.asarray(a) for a in state[:4])
    n_levels, n_nodes = state[5], state[6]
    if data.ndim != 2 or data.shape[0] < 1:
        _fail(path, f"data has shape {data.shape}; expected (rows, features)")
    n_rows, n_features = data.shape
    if order.shape != (n_rows,) or not np.array_equal(np.sort(order), np.arange(n_rows)):
        _fail(path, "idx_array is not a permutation of the data's rows")
    levels = _count(n_levels, path, "n_levels", 1)
    if levels > 62 or n_nodes != 2**levels - 1 or nodes.shape != (n_nodes,):
        _fail(path, f"{n_nodes} nodes do not make a complete tree of {levels} levels")
    start, end = nodes["idx_start"], nodes["idx_end"]
    if ((start < 0) | (start > end) | (end > n_rows)).any():
        _fail(path, "a node's row range lies outside the data")
    inner = np.flatnonzero(nodes["is_leaf"] == 0)
    if (2 * inner + 2 >= n_nodes).any():
        _fail(path, "a node on the last level is not a leaf")
    if (
        bounds.ndim != 3
        or bounds.shape[0] not in (1, 2)
        or bounds.shape[1:]
        != (
            n_nodes,
            n_features,
        )
    ):
        _fail(path, f"node_bounds has shape {bounds.shape}; expected (2 or 1, nodes, features)")
    weights = state[12]
    if weights is not None and np.asarray(weights).shape != (n_rows,):
        _fail(path, "sample_weight does not have one entry per row")
    _check_metric(state[11], n_features, path)


def check_bspline(spline: Any, path: str) -> None:
    """A ``BSpline`` whose arrays have the types its compiled code reads, and whose knots,
    coefficients and degree pass scipy's own constructor checks."""
    from scipy.interpolate import BSpline

    knots, coef, degree = getattr(spline, "_t", None), getattr(spline, "_c", None), spline.k
    if not isinstance(knots, np.ndarray) or knots.dtype != np.float64 or knots.ndim != 1:
        _fail(path, "the knots are not a 1-d float64 array")
    if not knots.flags.c_contiguous:
        _fail(path, "the knots are not C-ordered")
    if not isinstance(coef, np.ndarray) or coef.dtype not in (np.float64, np.complex128):
        _fail(path, "the coefficients are not a float64 or complex128 array")
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer):
        _fail(path, f"the degree must be an integer, got {degree!r:.40}")
    try:
        BSpline(knots, coef, degree, extrapolate=spline.extrapolate)
    except Exception as exc:  # scipy's ValueError / TypeError name the inconsistency
        _fail(path, f"the spline is inconsistent ({exc})")


# -- the walk -------------------------------------------------------------------------------------


def _children(obj: Any, path: str) -> Iterator[tuple[Any, str]]:
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield value, f"{path}[{key!r}]"
    elif isinstance(obj, list | tuple | set | frozenset):
        for i, value in enumerate(obj):
            yield value, f"{path}[{i}]"
    elif isinstance(obj, np.ndarray):
        if obj.dtype == object:
            for i, value in enumerate(obj.flat):
                if not isinstance(value, _PLAIN):
                    yield value, f"{path}.flat[{i}]"
    elif isinstance(obj, functools.partial):
        yield obj.func, f"{path}.func"
        yield obj.args, f"{path}.args"
        yield obj.keywords, f"{path}.keywords"
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        for name, value in attrs.items():
            yield value, f"{path}.{name}"


@functools.cache
def _kinds() -> dict[str, type]:
    from scipy.interpolate import BSpline
    from sklearn.ensemble._gb import BaseGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import (
        BaseHistGradientBoosting,
    )
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.metrics import DistanceMetric
    from sklearn.neighbors import BallTree, KDTree
    from sklearn.tree._classes import BaseDecisionTree
    from sklearn.tree._tree import Tree

    return {
        "decision_tree": BaseDecisionTree,
        "gradient_boosting": BaseGradientBoosting,
        "hist_gradient_boosting": BaseHistGradientBoosting,
        "tree": Tree,
        "predictor": TreePredictor,
        "kd_tree": KDTree,
        "ball_tree": BallTree,
        "metric": DistanceMetric,
        "bspline": BSpline,
    }


class _Audit:
    """One walk over a model's object graph (see :func:`audit_model`)."""

    def __init__(self) -> None:
        kinds = _kinds()
        self.kinds = kinds
        self.any_kind = tuple(kinds.values())
        self.found: dict[int, tuple[str, str]] = {}  # id -> (kind, path): trees, predictors
        self.owned: set[int] = set()
        self.probes: list[Callable[[], None]] = []

    def visit(self, obj: Any, path: str) -> None:
        k = self.kinds
        if isinstance(obj, k["decision_tree"]):
            tree = _check_decision_tree(obj, path)
            if tree is not None:
                self.owned.add(id(tree))
        elif isinstance(obj, k["gradient_boosting"]):
            probe = _check_gradient_boosting(obj, path)
            if probe is not None:
                self.probes.append(probe)
        elif isinstance(obj, k["hist_gradient_boosting"]):
            self.owned.update(_check_hist_gradient_boosting(obj, path))
        elif isinstance(obj, k["tree"]):
            check_tree(obj, path)
            self.found[id(obj)] = ("tree", path)
        elif isinstance(obj, k["predictor"]):
            self.found[id(obj)] = ("histogram-tree predictor", path)
        elif isinstance(obj, k["kd_tree"] | k["ball_tree"]):
            check_binary_tree(obj, path)
        elif isinstance(obj, k["metric"]):
            _check_metric(obj, None, path)
        elif isinstance(obj, k["bspline"]):
            check_bspline(obj, path)

    def checked(self, step: Callable[[], None], path: str) -> None:
        """Run one check; an unexpected exception (a crafted attribute of the wrong type ...)
        is a refusal too, never a traceback from deep inside."""
        try:
            step()
        except _RefusedError:
            raise
        except Exception as exc:
            _fail(path, f"cannot be checked ({type(exc).__name__}: {exc})")

    def run(self, model: Any) -> None:
        seen: set[int] = set()
        stack: list[tuple[Any, str]] = [(model, "model")]
        while stack:
            obj, path = stack.pop()
            if isinstance(obj, _PLAIN) or id(obj) in seen:
                continue
            seen.add(id(obj))
            if isinstance(obj, self.any_kind):
                self.checked(functools.partial(self.visit, obj, path), path)
            stack.extend(_children(obj, path))
        for key, (kind, path) in self.found.items():
            if key not in self.owned:
                _fail(path, f"a {kind} outside the estimator that checks its inputs")
        for probe in self.probes:  # runs model code: only once every structure passed
            self.checked(probe, "model")


def audit_model(model: Any, file: str) -> None:
    """Refuse (:class:`UnsafeModelError`) a model with an inconsistent trusted structure."""
    try:
        _Audit().run(model)
    except _RefusedError as exc:
        raise UnsafeModelError(
            f"model file {file!r} holds an inconsistent scikit-learn structure ({exc}); "
            "predicting with it could crash the process or read memory it must not, so it is "
            "refused. A file saved by scikit-learn itself never looks like this: if you trust "
            "where it came from all the same, load it with trusted=True"
        ) from None


__all__ = [
    "MAX_PROBE_FEATURES",
    "STRUCTURAL_TYPES",
    "audit_model",
    "check_binary_tree",
    "check_bspline",
    "check_predictor",
    "check_tree",
]
