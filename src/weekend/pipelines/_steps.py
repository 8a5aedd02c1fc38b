"""Steps, pipelines and the handles that connect them.

``@step`` wraps a function; ``@pipeline`` wraps a function that calls steps. While a pipeline
is being built (:func:`build`), calling a step records a :class:`Node` and returns a
:class:`Handle` standing for its future output; passing a handle to another step is an edge
of the graph. Outside a build, calling a step calls the function (handy in tests).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, overload

from weekend.core.errors import InvalidValueError, UserInputError

P = ParamSpec("P")
R = TypeVar("R")

_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
WORKSPACE_PARAM = "ws"
_RESOURCES = frozenset({"cpus", "gpus", "memory"})


def parse_timeout(value: object) -> float | None:
    """Seconds of a step's timeout: None, seconds, or text like ``"30s"``, ``"10m"``, ``"1h"``."""
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        parts = _DURATION.findall(text)
        if parts and "".join(n + u for n, u in parts) == text:
            return sum(float(n) * _UNITS[u] for n, u in parts)
    elif isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e9:
        return float(value)
    raise InvalidValueError(
        f"timeout must be a positive duration (seconds, or text like '30s', '10m', '1h'), "
        f"got {value!r:.80}",
        field="timeout",
    )


def _check_resources(resources: Mapping[str, float] | None) -> dict[str, float]:
    found = dict(resources or {})
    for name, amount in found.items():
        if name not in _RESOURCES:
            raise InvalidValueError(
                f"resources[{name!r}] is not a resource weekend knows; expected one of "
                f"{sorted(_RESOURCES)}",
                field=f"resources.{name}",
            )
        if isinstance(amount, bool) or not isinstance(amount, int | float) or not amount >= 0:
            raise InvalidValueError(
                f"resources[{name!r}] must be a non-negative number, got {amount!r:.80}",
                field=f"resources.{name}",
            )
    return found


@dataclass(frozen=True)
class StepOptions:
    """How a step runs: caching, retries, timeout (seconds), resources, pickle trust."""

    cache: bool = True
    retries: int = 0
    timeout: float | None = None
    resources: dict[str, float] = field(default_factory=dict)
    trusted_pickle: bool = False


class Step(Generic[P, R]):
    """A function run as one step of a pipeline (see :func:`step`)."""

    def __init__(self, fn: Callable[P, R], options: StepOptions, name: str) -> None:
        self.fn = fn
        self.options = options
        self.name = name
        self.signature = inspect.signature(fn)
        # ``ws`` is given by the runner (the workspace), never by the pipeline function
        self.call_signature = self.signature.replace(
            parameters=[p for n, p in self.signature.parameters.items() if n != WORKSPACE_PARAM]
        )
        functools.update_wrapper(self, fn)

    def __repr__(self) -> str:
        return f"Step({self.name!r})"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        graph = _BUILDING.get()
        if graph is None:
            return self.fn(*args, **kwargs)
        return graph.add(self, args, kwargs)  # type: ignore[return-value]


@overload
def step(fn: Callable[P, R], /) -> Step[P, R]: ...
@overload
def step(
    *,
    cache: bool = True,
    retries: int = 0,
    timeout: str | float | None = None,
    resources: Mapping[str, float] | None = None,
    trusted_pickle: bool = False,
    name: str | None = None,
) -> Callable[[Callable[P, R]], Step[P, R]]: ...
def step(
    fn: Callable[P, R] | None = None,
    /,
    *,
    cache: bool = True,
    retries: int = 0,
    timeout: str | float | None = None,
    resources: Mapping[str, float] | None = None,
    trusted_pickle: bool = False,
    name: str | None = None,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Make a function a pipeline step: ``@wk.step`` or ``@wk.step(cache=True, retries=2,
    timeout="10m", resources={"cpus": 2})``. Its output is stored by type (docs/pipelines.md);
    ``trusted_pickle=True`` lets any other object be stored with cloudpickle."""
    if isinstance(retries, bool) or not isinstance(retries, int) or not 0 <= retries <= 100:
        raise InvalidValueError(
            f"retries must be an integer from 0 to 100, got {retries!r:.80}", field="retries"
        )
    options = StepOptions(
        cache=bool(cache),
        retries=retries,
        timeout=parse_timeout(timeout),
        resources=_check_resources(resources),
        trusted_pickle=bool(trusted_pickle),
    )

    def wrap(function: Callable[P, R]) -> Step[P, R]:
        if not callable(function) or isinstance(function, Step | Pipeline):
            raise InvalidValueError(f"@step wraps a function, got {function!r:.80}")
        return Step(function, options, name or function.__name__)

    return wrap(fn) if fn is not None else wrap


class Pipeline(Generic[P, R]):
    """A function that calls steps; the data passed between them is the graph."""

    def __init__(self, fn: Callable[P, R], name: str) -> None:
        self.fn = fn
        self.name = name
        self.signature = inspect.signature(fn)
        functools.update_wrapper(self, fn)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r})"

    def bind(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The pipeline's parameters with defaults applied; unknown or missing ones refused."""
        try:
            bound = self.signature.bind(**params)
        except TypeError as exc:
            raise UserInputError(
                f"pipeline {self.name!r} takes {list(self.signature.parameters)}: {exc}"
            ) from None
        bound.apply_defaults()
        return dict(bound.arguments)


def pipeline(fn: Callable[P, R] | None = None, /, *, name: str | None = None) -> Any:
    """Make a function a pipeline: ``@wk.pipeline`` (or ``@wk.pipeline(name="training")``)."""

    def wrap(function: Callable[P, R]) -> Pipeline[P, R]:
        return Pipeline(function, name or function.__name__)

    return wrap(fn) if fn is not None else wrap


@dataclass(frozen=True)
class Handle:
    """The future output of a step in a pipeline being built."""

    node: str

    def __repr__(self) -> str:
        return f"<output of step {self.node!r}>"

    def __bool__(self) -> bool:
        raise UserInputError(
            f"the output of step {self.node!r} is not known while the pipeline is built; pass "
            "it to another step instead of testing it in the pipeline function"
        )


@dataclass
class Node:
    """One step call in a graph: its arguments (handles or values) and upstream nodes."""

    name: str
    step: Step[Any, Any]
    args: dict[str, Any]
    upstream: list[str]


class Graph:
    """The nodes a pipeline function created, in call order (a topological order)."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}

    def add(self, called: Step[Any, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Handle:
        try:
            bound = called.call_signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise UserInputError(f"step {called.name!r} called with bad arguments: {exc}") from None
        bound.apply_defaults()
        name, n = called.name, 1
        while name in self.nodes:
            n += 1
            name = f"{called.name}_{n}"
        arguments = dict(bound.arguments)
        upstream = sorted({v.node for v in arguments.values() if isinstance(v, Handle)})
        for key, value in arguments.items():
            _refuse_nested_handles(called.name, key, value)
        self.nodes[name] = Node(name, called, arguments, upstream)
        return Handle(name)


def _refuse_nested_handles(step_name: str, key: str, value: Any) -> None:
    if isinstance(value, list | tuple | dict):
        items = value.values() if isinstance(value, dict) else value
        if any(isinstance(item, Handle) for item in items):
            raise UserInputError(
                f"step {step_name!r} argument {key!r} holds a step's output inside a "
                f"{type(value).__name__}; pass each output as an argument of its own"
            )


_BUILDING: contextvars.ContextVar[Graph | None] = contextvars.ContextVar(
    "weekend_pipeline_graph", default=None
)


def build(flow: Pipeline[Any, Any], params: Mapping[str, Any]) -> Graph:
    """Call the pipeline function with ``params``, recording the steps it calls."""
    graph = Graph()
    token = _BUILDING.set(graph)
    try:
        flow.fn(**params)
    finally:
        _BUILDING.reset(token)
    if not graph.nodes:
        raise UserInputError(f"pipeline {flow.name!r} calls no step; decorate them with @step")
    return graph
