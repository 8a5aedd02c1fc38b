"""A live run: the object a training script logs into."""

from __future__ import annotations

import io
import math
import numbers
import re
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, SupportsFloat, SupportsIndex

import orjson

from weekend.core.errors import (
    ConfigurationError,
    ConflictError,
    InvalidValueError,
    ParamConflictError,
    WeekendError,
)
from weekend.core.ids import now_us
from weekend.core.names import check_text, validate_artifact_name, validate_key
from weekend.tracking._store import FAILED, FINISHED, KILLED, RUNNING, Point

if TYPE_CHECKING:
    from weekend.registry.models import ModelVersion
    from weekend.tracking.runs import Runs


class ModelRegistrar(Protocol):
    """What ``run.log_model`` hands a model to: the registry, which sits above tracking.

    The workspace passes ``ws.models``; tracking never imports the registry at run time.
    """

    def register(
        self,
        model: Any,
        name: str,
        *,
        run: Any = None,
        input_example: Any = None,
        datasets: Any = None,
        features: Mapping[str, int] | None = None,
        description: str | None = None,
        export_onnx: bool = False,
    ) -> ModelVersion: ...


MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_ERROR = 4000
# What the catalog holds: steps and microsecond timestamps are 64-bit signed integers.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_SECONDS = INT64_MAX // 1_000_000  # ±292,000 years around 1970, in seconds


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def printable(text: str) -> str:
    """``text`` made storable: NUL and unpaired surrogates become U+FFFD. For text weekend
    records on the user's behalf (an exception's message), which it must not refuse."""
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub("\ufffd", text)


def _text(value: object, what: str, key: str, limit: int) -> str:
    if isinstance(value, str):
        text = value
    elif value is None or isinstance(value, bool | int | float | numbers.Number):
        text = str(value)
    elif isinstance(value, list | tuple | dict):
        try:
            text = orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY).decode()
        except TypeError:
            text = str(value)
    else:
        text = str(value)
    if len(text) > limit:
        raise InvalidValueError(
            f"{what} {key!r} has a value of {len(text)} characters; at most {limit} are allowed "
            "(log long text as an artifact with run.log_text)"
        )
    return check_text(text, f"{what} {key!r}")


def _number(key: str, value: object) -> float:
    if type(value) is float:
        return value
    if isinstance(value, numbers.Real):
        try:
            return float(value)
        except OverflowError:
            raise InvalidValueError(
                f"metric {key!r} must be a real number that fits a 64-bit float, got "
                f"{type(value).__name__} {str(value)[:40]}...",
                field=key,
            ) from None
    raise InvalidValueError(
        f"metric {key!r} must be a real number, got {type(value).__name__} {value!r:.60}"
    )


class Run:
    """A run that is being logged. Use it as a context manager::

        with ws.runs.start(experiment="churn", params={"lr": 0.1}) as run:
            run.log_metric("auc", 0.91)

    Leaving the block normally marks the run finished; an exception marks it failed (with the
    exception's summary) and propagates; KeyboardInterrupt marks it killed.
    """

    def __init__(
        self,
        runs: Runs,
        *,
        run_id: str,
        experiment_id: str,
        experiment: str,
        name: str,
        parent_id: str | None,
        params: Mapping[str, str] | None = None,
        steps: Mapping[str, int] | None = None,
    ) -> None:
        self._runs = runs
        self._writer = runs._writer
        self.id = run_id
        self.experiment_id = experiment_id
        self.experiment = experiment
        self.name = name
        self.parent_id = parent_id
        self._status = RUNNING
        self._params: dict[str, str] = dict(params or {})
        self._next_step: dict[str, int] = {k: v + 1 for k, v in (steps or {}).items()}
        self._keys: set[str] = set()
        self._last_ts = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Run(id={self.id!r}, name={self.name!r}, experiment={self.experiment!r})"

    @property
    def status(self) -> str:
        return self._status

    @property
    def dropped(self) -> list[str]:
        """Records of this run the catalog refused, which the background writer dropped.

        Validation at the call should leave this empty; if not, each entry says which record
        and why, and the run's ``weekend.dropped`` tag counts them (see docs/tracking.md).
        """
        return self._writer.dropped(self.id)

    def _check_open(self) -> None:
        if self._status != RUNNING:
            raise ConflictError(f"run {self.id} is {self._status}; it no longer accepts logging")

    def _key(self, key: str, what: str) -> str:
        if key not in self._keys:
            validate_key(key, what)
            self._keys.add(key)
        return key

    def _timestamp(self) -> int:
        with self._lock:
            ts = now_us()
            if ts <= self._last_ts:
                ts = self._last_ts + 1
            self._last_ts = ts
            return ts

    def _timestamps(self, count: int) -> int:
        """The first of ``count`` consecutive unique microsecond instants of this run."""
        with self._lock:
            first = max(now_us(), self._last_ts + 1)
            self._last_ts = first + max(count, 1) - 1
            return first

    # -- params and tags ------------------------------------------------------------------
    def log_param(self, key: str, value: object) -> None:
        """Set a parameter. Setting it again to the same value is fine; to another, an error."""
        self.log_params({key: value})

    def log_params(self, params: Mapping[str, object]) -> None:
        self._check_open()
        self._add_params(self._param_rows(params))

    def _param_rows(self, params: Mapping[str, object]) -> list[tuple[str, str, str]]:
        """Validate params (all or nothing) and return the rows that are new."""
        rows = []
        for key, value in params.items():
            self._key(key, "param key")
            text = _text(value, "param", key, MAX_PARAM_VALUE)
            known = self._params.get(key)
            if known is not None and known != text:
                raise ParamConflictError(
                    f"param {key!r} of run {self.id} is already {known!r}; params are immutable, "
                    f"it cannot become {text!r}. Use a new run or another key."
                )
            if known is None:
                rows.append((self.id, key, text))
        return rows

    def _add_params(self, rows: list[tuple[str, str, str]]) -> None:
        for _, key, text in rows:
            self._params[key] = text
        self._writer.add_params(rows)

    def set_tag(self, key: str, value: object) -> None:
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, object]) -> None:
        self._check_open()
        self._writer.add_tags(self._tag_rows(tags))

    def _tag_rows(self, tags: Mapping[str, object]) -> list[tuple[str, str, str]]:
        rows = []
        for key, value in tags.items():
            self._key(key, "tag key")
            rows.append((self.id, key, _text(value, "tag", key, MAX_TAG_VALUE)))
        return rows

    # -- metrics --------------------------------------------------------------------------
    def log_metric(
        self,
        key: str,
        value: SupportsFloat,
        step: SupportsIndex | None = None,
        timestamp: SupportsFloat | None = None,
    ) -> None:
        """Log one point. Returns at once: the point is written in the background.

        ``step`` defaults to the key's previous step + 1 (0 for the first point);
        ``timestamp`` (seconds since the epoch) defaults to now. NaN and infinities are
        stored as they are.
        """
        if self._status != RUNNING:
            self._check_open()
        if key not in self._keys:
            self._key(key, "metric key")
        number = value if type(value) is float else _number(key, value)
        if step is None:
            step = self._next_step.get(key, 0)
        elif type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
            step = self._step(key, step)
        self._next_step[key] = step + 1
        ts = self._timestamp() if timestamp is None else self._explicit_ts(key, timestamp)
        self._writer.add_point((self.id, key, step, ts, number))

    def log_metrics(
        self, metrics: Mapping[str, SupportsFloat], step: SupportsIndex | None = None
    ) -> None:
        for key, value in metrics.items():
            self.log_metric(key, value, step=step)

    def log_batch(
        self,
        metrics: Iterable[
            tuple[str, SupportsFloat, SupportsIndex]
            | tuple[str, SupportsFloat, SupportsIndex, SupportsFloat]
        ] = (),
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
    ) -> None:
        """Log many points, params and tags, and write them before returning.

        Each metric is ``(key, value, step)`` or ``(key, value, step, timestamp_seconds)``.
        Points with the same key, step and explicit timestamp are stored once, so a batch
        with explicit timestamps can be retried safely.
        """
        self._check_open()
        # Validate everything first, so that bad input leaves nothing half-logged.
        items = list(metrics)
        ts = self._timestamps(len(items))  # a block of this run's unique instants
        points: list[Point] = []
        for index, item in enumerate(items):
            if not isinstance(item, tuple | list) or len(item) not in (3, 4):
                raise InvalidValueError(
                    f"metrics[{index}] must be (key, value, step) or (key, value, step, "
                    f"timestamp), got {item!r:.80}"
                )
            key = self._key(item[0], "metric key")
            number = _number(key, item[1])
            step = item[2]
            if type(step) is not int or not INT64_MIN <= step <= INT64_MAX:
                step = self._step(key, step)
            stamp = ts + index if len(item) == 3 else self._explicit_ts(key, item[3])
            points.append((self.id, key, step, stamp, number))
        tag_rows = self._tag_rows(tags) if tags else []
        param_rows = self._param_rows(params) if params else []
        self._add_params(param_rows)
        self._writer.add_tags(tag_rows)
        for _, key, step, _, _ in points:
            self._next_step[key] = max(self._next_step.get(key, 0), step + 1)
        self._writer.add_points(points)
        self._writer.flush()

    @staticmethod
    def _step(key: str, step: object) -> int:
        if isinstance(step, numbers.Integral) and not isinstance(step, bool):
            if INT64_MIN <= int(step) <= INT64_MAX:
                return int(step)
            raise InvalidValueError(
                f"step of metric {key!r} must be a 64-bit signed integer ({INT64_MIN} to "
                f"{INT64_MAX}), got {int(step)}",
                field=key,
            )
        raise InvalidValueError(
            f"step of metric {key!r} must be an integer, got {type(step).__name__} {step!r:.40}"
        )

    @staticmethod
    def _explicit_ts(key: str, timestamp: object) -> int:
        """Seconds since the epoch as microseconds, refused unless finite and storable."""
        try:
            seconds = float(timestamp) if isinstance(timestamp, numbers.Real) else math.nan
        except OverflowError:  # an int beyond any float
            seconds = math.inf
        if math.isfinite(seconds) and -MAX_SECONDS <= seconds <= MAX_SECONDS:
            return round(seconds * 1_000_000)
        shown = repr(seconds) if isinstance(timestamp, numbers.Real) else repr(timestamp)
        raise InvalidValueError(
            f"timestamp of metric {key!r} must be finite seconds since the epoch within "
            f"±{MAX_SECONDS} (what the catalog holds in microseconds), got {shown:.40}",
            field=key,
        )

    # -- artifacts ------------------------------------------------------------------------
    def log_artifact(self, path: str | Path, name: str | None = None) -> str:
        """Store a file, or every file of a folder, under ``name`` (default: its base name)."""
        self._check_open()
        path = Path(path)
        if not path.exists():
            raise InvalidValueError(f"artifact path {str(path)!r} does not exist")
        base = validate_artifact_name(path.name if name is None else name)
        store = self._runs._artifacts
        entries: list[tuple[str, str, int, str]] = []
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = file.relative_to(path).as_posix()
                logical = validate_artifact_name(f"{base}/{rel}")
                blob = store.put_file(file)
                entries.append((logical, blob.sha256, blob.size, "file"))
        else:
            blob = store.put_file(path)
            entries.append((base, blob.sha256, blob.size, "file"))
        self._runs._record_artifacts(self.id, entries)
        return base

    def log_artifacts(self, folder: str | Path, name: str | None = None) -> str:
        return self.log_artifact(folder, name)

    def log_bytes(self, data: bytes, name: str, kind: str = "file") -> str:
        self._check_open()
        validate_artifact_name(name)
        blob = self._runs._artifacts.put_bytes(data)
        self._runs._record_artifacts(self.id, [(name, blob.sha256, blob.size, kind)])
        return name

    def log_text(self, text: str, name: str) -> str:
        return self.log_bytes(text.encode("utf-8"), name, kind="text")

    def log_dict(self, data: Mapping[str, Any], name: str) -> str:
        payload = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
        return self.log_bytes(payload, name, kind="json")

    def log_table(self, frame: Any, name: str) -> str:
        """Store a pandas DataFrame (or Arrow table) as Parquet."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame)
        sink = io.BytesIO()
        pq.write_table(table, sink)
        return self.log_bytes(sink.getvalue(), name, kind="table")

    def log_figure(self, figure: Any, name: str) -> str:
        """Store a matplotlib figure as PNG or a Plotly figure as JSON (rendered by reports)."""
        module = type(figure).__module__
        if module.startswith("plotly"):
            return self.log_bytes(figure.to_json().encode("utf-8"), name, kind="plotly")
        if hasattr(figure, "savefig"):
            sink = io.BytesIO()
            figure.savefig(sink, format="png", dpi=100, bbox_inches="tight")
            return self.log_bytes(sink.getvalue(), name, kind="png")
        raise InvalidValueError(
            f"log_figure expects a matplotlib or Plotly figure, got {type(figure).__name__}"
        )

    # -- models ---------------------------------------------------------------------------
    def log_model(
        self,
        model: Any,
        name: str,
        *,
        input_example: Any = None,
        datasets: Any = None,
        features: Mapping[str, int] | None = None,
        description: str | None = None,
        export_onnx: bool = False,
    ) -> ModelVersion:
        """Register ``model`` as the next version of ``name``, with this run as its lineage.

        Same as ``ws.models.register(model, name, run=run, ...)``; see ``docs/registry.md``.
        """
        self._check_open()
        provider = self._runs._models
        if provider is None:
            raise ConfigurationError(
                "this run service has no model registry: open the project with wk.open() "
                "and use ws.runs, or call ws.models.register(model, name, run=run)"
            )
        return provider().register(
            model,
            name,
            run=self,
            input_example=input_example,
            datasets=datasets,
            features=features,
            description=description,
            export_onnx=export_onnx,
        )

    # -- lifecycle ------------------------------------------------------------------------
    def flush(self) -> None:
        """Write everything buffered so far."""
        self._writer.flush()

    def start_child(
        self,
        name: str | None = None,
        *,
        params: Mapping[str, object] | None = None,
        tags: Mapping[str, object] | None = None,
    ) -> Run:
        """Start a nested run in the same experiment."""
        self._check_open()
        return self._runs.start(
            experiment=self.experiment, name=name, params=params, tags=tags, parent=self.id
        )

    def end(self, status: str = FINISHED, error: str | None = None) -> None:
        """End the run (finished, failed or killed). Ending twice is a no-op."""
        if status not in (FINISHED, FAILED, KILLED):
            raise InvalidValueError(
                f"status must be one of finished, failed, killed; got {status!r}"
            )
        if self._status != RUNNING:
            return
        failure: WeekendError | None = None
        try:
            self._writer.flush()
        except WeekendError as exc:  # e.g. a param conflict found at write time
            failure = exc
            status, error = FAILED, error or f"{type(exc).__name__}: {exc}"
        self._status = status
        self._writer.unregister(self.id)
        self._runs._set_status(self.id, status, printable(error[:MAX_ERROR]) if error else None)
        if failure is not None:
            raise failure

    def __enter__(self) -> Run:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is None:
            self.end(FINISHED)
        elif isinstance(exc, KeyboardInterrupt):
            self.end(KILLED, "KeyboardInterrupt")
        else:
            self.end(FAILED, f"{type(exc).__name__}: {exc}")
