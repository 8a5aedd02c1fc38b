"""A scikit-learn pipeline's preprocessing compiled to numpy: input columns to the matrix its
final estimator sees.

scikit-learn spends milliseconds per call validating input and indexing frames inside a
``ColumnTransformer``: on the W3 pipeline, its ``OrdinalEncoder`` over five string columns costs
3.4 to 4.9 ms of the 6.8 ms a one-row prediction takes, while the arithmetic takes
microseconds. :func:`compile_columns` turns the fitted preprocessing into a
:class:`ColumnProgram`: column positions, lookup tables and per-column constants, run on a
mapping of column name to 1-D array.

What it reproduces, exactly (anything else raises :class:`EncodeUnsupportedError`, never a
guess):

* a bare estimator fitted on named columns, or a ``Pipeline`` whose first step may be a
  ``ColumnTransformer`` and whose other steps before the last are ``StandardScaler``,
  ``MinMaxScaler`` or a numeric ``SimpleImputer``;
* inside the ``ColumnTransformer``: ``OrdinalEncoder`` (unknown categories as
  ``unknown_value`` or refused, missing values as ``encoded_missing_value``),
  ``OneHotEncoder`` (optionally after a ``SimpleImputer``; no infrequent categories), the
  numeric steps above (alone or in a ``Pipeline``), ``"passthrough"``, the identity
  ``FunctionTransformer`` and ``"drop"``.

A value the program cannot encode the way scikit-learn would (a category an encoder with
``handle_unknown="error"`` refuses, a missing value it cannot impute) raises
:class:`EncodeUnsupportedError` at run time: the compiled model then hands the whole call to
the original pipeline, which behaves (and fails) exactly as scikit-learn does. The program is
checked against the pipeline with everything else the compiled model does
(:mod:`weekend.registry._compile`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from weekend.registry._flavor_sklearn_fast import (
    _NO_FILL,
    FastPathUnsupportedError,
    _apply,
    _numeric_ops,
    _NumericBlock,
    _onehot,
    _OneHotBlock,
    _Op,
    _positions,
    _steps,
)

Array = np.ndarray[Any, Any]


class EncodeUnsupportedError(Exception):
    """The preprocessing (or one input value) is not reproduced exactly: use the original."""


def _missing(value: Any) -> bool:
    return value is None or value is np.ma.masked or (isinstance(value, float) and value != value)


@dataclass(frozen=True)
class _OrdinalBlock:
    column: int
    offset: int
    lookup: dict[Any, float]  # category -> code
    missing: float | None  # the code of a missing value; None: missing is unknown
    unknown: float | None  # the code of an unknown category; None: refuse (scikit-learn raises)


class ColumnProgram:
    """The compiled preprocessing; :meth:`matrix` runs it."""

    def __init__(
        self,
        names: list[str],
        numeric: list[_NumericBlock],
        onehot: list[_OneHotBlock],
        ordinal: list[_OrdinalBlock],
        post: tuple[_Op, ...],
        width: int,
    ) -> None:
        self.names = names
        """The input columns, in the order the pipeline was fitted on."""
        self.width = width
        """The number of features the final estimator sees."""
        self._numeric = numeric
        self._onehot = onehot
        self._ordinal = ordinal
        self._post = post
        self.negative_as_missing: tuple[int, ...] = ()
        """Output positions where a negative code becomes NaN (HistGradientBoosting reads a
        negative category as missing; other tree libraries do not)."""

    @property
    def identity(self) -> dict[int, str]:
        """Output positions that are an input column unchanged, but for the imputation of
        its missing values (for split-threshold probes)."""
        if any(op.kind != "impute" for op in self._post):
            return {}
        out = {}
        for block in self._numeric:
            if all(op.kind == "impute" for op in block.ops):
                for i, column in enumerate(block.columns):
                    out[block.offset + i] = self.names[column]
        return out

    @property
    def categories(self) -> dict[str, list[Any]]:
        """The categories each encoded input column knows (for probes)."""
        out: dict[str, list[Any]] = {}
        for hot in self._onehot:
            out[self.names[hot.column]] = list(hot.lookup)
        for block in self._ordinal:
            out[self.names[block.column]] = list(block.lookup)
        return out

    def matrix(self, columns: Mapping[str, Array], n: int) -> Array:
        """The float64 feature matrix (``n`` rows) of the input columns."""
        x = np.zeros((n, self.width), dtype=np.float64)
        names = self.names
        for block in self._numeric:
            end = block.offset + len(block.columns)
            for i, column in enumerate(block.columns):
                x[:, block.offset + i] = columns[names[column]]
            if block.ops:
                a = x[:, block.offset : end]  # a view: the ops work in place
                _apply(block.ops, a)
        for hot in self._onehot:
            _encode_onehot(hot, columns[names[hot.column]].tolist(), x)
        for code in self._ordinal:
            _encode_ordinal(code, columns[names[code.column]].tolist(), x)
        _apply(self._post, x)
        for position in self.negative_as_missing:
            view = x[:, position]
            view[view < 0] = np.nan
        return x


_ABSENT = -2.0  # a lookup miss (a code of its own: the dicts hold codes >= -1)
SMALL = 8
"""Up to this many rows, columns are encoded row by row (array set-up costs more)."""


def _onehot_miss(hot: _OneHotBlock, value: Any) -> int:
    """The slot of a value the lookup missed (missing or unknown), -1 for none."""
    if _missing(value):
        if hot.fill is _NO_FILL:
            raise EncodeUnsupportedError("a missing value the encoder does not impute")
        value = hot.fill
    slot = hot.lookup.get(value)
    if slot is None and not hot.unknown_zero:
        raise EncodeUnsupportedError("a category the encoder refuses")
    return -1 if slot is None else slot


def _encode_onehot(hot: _OneHotBlock, values: list[Any], x: Array) -> None:
    """Set the block's ones in ``x`` (zeros elsewhere)."""
    get, offset = hot.lookup.get, hot.offset
    if len(values) <= SMALL:
        for row, value in enumerate(values):
            slot = get(value)
            if slot is None:
                slot = _onehot_miss(hot, value)
            if slot >= 0:
                x[row, offset + slot] = 1.0
        return
    slots = np.fromiter((get(v, _ABSENT) for v in values), dtype=np.float64, count=len(values))
    for row in np.flatnonzero(slots == _ABSENT).tolist():  # missing or unknown: rare
        slots[row] = _onehot_miss(hot, values[row])
    rows = np.flatnonzero(slots >= 0)
    x[rows, offset + slots[rows].astype(np.intp)] = 1.0


def _ordinal_miss(block: _OrdinalBlock, value: Any) -> float:
    code = block.missing if _missing(value) else None
    if code is None:
        code = block.unknown
        if code is None:
            raise EncodeUnsupportedError("a category the encoder refuses")
    return code


def _encode_ordinal(block: _OrdinalBlock, values: list[Any], x: Array) -> None:
    get, offset = block.lookup.get, block.offset
    if len(values) <= SMALL:
        for row, value in enumerate(values):
            code = get(value)
            x[row, offset] = _ordinal_miss(block, value) if code is None else code
        return
    out = np.fromiter((get(v, math.inf) for v in values), dtype=np.float64, count=len(values))
    for row in np.flatnonzero(out == math.inf).tolist():  # missing or unknown: rare
        out[row] = _ordinal_miss(block, values[row])
    x[:, offset] = out


def _ordinal(est: Any, positions: list[int], offset: int) -> list[_OrdinalBlock]:
    from sklearn.preprocessing import OrdinalEncoder

    chain = _steps(est)
    encoder = chain[-1]
    if len(chain) != 1 or type(encoder) is not OrdinalEncoder:
        raise EncodeUnsupportedError("steps before OrdinalEncoder")
    if getattr(encoder, "_infrequent_enabled", False):
        raise EncodeUnsupportedError("OrdinalEncoder with infrequent categories")
    unknown = None
    if encoder.handle_unknown == "use_encoded_value":
        unknown = float(encoder.unknown_value)
    blocks = []
    for j, column in enumerate(positions):
        keys = encoder.categories_[j].tolist()
        lookup: dict[Any, float] = {}
        missing: float | None = None
        for code, key in enumerate(keys):
            if _missing(key):
                missing = float(encoder.encoded_missing_value)
            else:
                lookup[key] = float(code)
        if len(lookup) + (missing is not None) != len(keys):
            raise EncodeUnsupportedError("categories that compare equal")
        blocks.append(_OrdinalBlock(column, offset + j, lookup, missing, unknown))
    return blocks


def _transformer(
    trans: Any, positions: list[int], width: int, program: dict[str, list[Any]]
) -> int:
    """Compile one ``ColumnTransformer`` entry into ``program``; the new width."""
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

    last = _steps(trans)[-1]
    if isinstance(last, OneHotEncoder):
        blocks = _onehot(trans, positions, width)
        program["onehot"].extend(blocks)
        return width + sum(b.width for b in blocks)
    if isinstance(last, OrdinalEncoder):
        program["ordinal"].extend(_ordinal(trans, positions, width))
        return width + len(positions)
    ops = tuple(_numeric_ops(trans))
    program["numeric"].append(_NumericBlock(tuple(positions), width, ops))
    return width + len(positions)


def compile_columns(model: Any) -> tuple[ColumnProgram, Any]:
    """``(program, final estimator)`` of a fitted pipeline or estimator; raises
    :class:`EncodeUnsupportedError` naming what is not reproduced."""
    from sklearn.compose import ColumnTransformer

    raw_names = getattr(model, "feature_names_in_", None)
    if raw_names is None:
        raise EncodeUnsupportedError("the model was fitted without column names")
    names = [str(n) for n in raw_names]
    steps = _steps(model)
    final, pre = steps[-1], steps[:-1]
    program: dict[str, list[Any]] = {"numeric": [], "onehot": [], "ordinal": []}
    try:
        if pre and isinstance(pre[0], ColumnTransformer):
            ct, pre = pre[0], pre[1:]
            if ct.transformer_weights:
                raise EncodeUnsupportedError("transformer weights")
            width = 0
            for _, trans, columns in ct.transformers_:
                positions = _positions(columns, names)
                if not positions or (isinstance(trans, str) and trans == "drop"):
                    continue
                width = _transformer(trans, positions, width, program)
        else:
            program["numeric"].append(_NumericBlock(tuple(range(len(names))), 0, ()))
            width = len(names)
        post = tuple(op for step in pre for op in _numeric_ops(step))
    except FastPathUnsupportedError as exc:
        raise EncodeUnsupportedError(str(exc)) from exc
    used = [c for b in program["numeric"] for c in b.columns]
    used += [b.column for b in program["onehot"]] + [b.column for b in program["ordinal"]]
    if len(used) != len(set(used)):
        raise EncodeUnsupportedError("a column used by two transformers")
    expected = getattr(final, "n_features_in_", width)
    if width != expected:
        raise EncodeUnsupportedError(f"{width} compiled features, the model expects {expected}")
    numeric, onehot, ordinal = program["numeric"], program["onehot"], program["ordinal"]
    return ColumnProgram(names, numeric, onehot, ordinal, post, width), final


__all__ = ["ColumnProgram", "EncodeUnsupportedError", "compile_columns"]
