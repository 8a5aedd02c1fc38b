"""Which views and features a request needs: ``["view:feature", ...]`` or a feature service.

A :class:`Selection` lists, in request order, the output columns and, per feature view, the
features to read (those requested and those an on-demand view needs as inputs), each with the
view's version. Training sets, online reads, ``versions_of`` and the HTTP route all start here,
so a name means the same thing everywhere.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from weekend.core.errors import ConfigurationError, ConflictError, InvalidValueError, NotFoundError
from weekend.features._definitions import FeatureService, FeatureView, OnDemandFeatureView
from weekend.features._types import split_ref

View = FeatureView | OnDemandFeatureView
Lookup = Callable[[str], tuple[View, int]]
ServiceLookup = Callable[[str], tuple[FeatureService, int]]


@dataclass(frozen=True)
class ViewUse:
    """A feature view, its version and the features read from it."""

    view: FeatureView
    version: int
    features: tuple[str, ...]


@dataclass(frozen=True)
class OnDemandUse:
    """An on-demand view, its version and the outputs requested from it."""

    view: OnDemandFeatureView
    version: int
    features: tuple[str, ...]


@dataclass(frozen=True)
class Output:
    """One output column: ``view:feature`` under the name ``column``."""

    view: str
    feature: str
    column: str

    @property
    def ref(self) -> str:
        return f"{self.view}:{self.feature}"


@dataclass(frozen=True)
class Selection:
    views: tuple[ViewUse, ...]
    on_demand: tuple[OnDemandUse, ...]
    outputs: tuple[Output, ...]
    service: tuple[str, int] | None = None

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(o.column for o in self.outputs)

    @property
    def refs(self) -> tuple[str, ...]:
        return tuple(o.ref for o in self.outputs)

    def versions(self) -> dict[str, int]:
        """Every view the selection reads (on-demand views and their sources too)."""
        out = {use.view.name: use.version for use in self.views}
        out.update({use.view.name: use.version for use in self.on_demand})
        return dict(sorted(out.items()))


def _refs(features: Any) -> list[str]:
    if isinstance(features, str) or not isinstance(features, Sequence) or not features:
        raise InvalidValueError(
            "features must be a non-empty list of 'view:feature' references, a feature service "
            f"name or a FeatureService, got {features!r:.80}"
        )
    refs: list[str] = []
    for item in features:
        if isinstance(item, FeatureView | OnDemandFeatureView):
            refs.append(f"{item.name}:*")
        else:
            split_ref(item)
            refs.append(item)
    counts = Counter(refs)  # one pass: a list of 30k repeats must not cost 30k**2
    if len(counts) != len(refs):
        twice = sorted(ref for ref, count in counts.items() if count > 1)
        raise InvalidValueError(f"features name {twice[:20]} more than once")
    return refs


def _outputs(
    refs: list[str], lookup: Lookup, views: dict[str, tuple[View, int]], full: bool
) -> list[Output]:
    """One output column per referenced feature (``view:*`` expands), names checked unique."""
    outputs: list[Output] = []
    owners: dict[str, str] = {}
    for ref in refs:
        view_name, feature = split_ref(ref)
        if view_name not in views:
            views[view_name] = lookup(view_name)
        view = views[view_name][0]
        for name in list(view.features) if feature == "*" else [feature]:
            if name not in view.features:
                raise NotFoundError(
                    f"unknown feature {ref!r}: view {view_name!r} has the features "
                    f"{list(view.features)}"
                )
            output = Output(view_name, name, f"{view_name}__{name}" if full else name)
            if output.column in owners:
                hint = "" if full else "; pass full_feature_names=True (--full-feature-names)"
                raise InvalidValueError(
                    f"feature column {output.column!r} is requested from both "
                    f"{owners[output.column]!r} and {output.ref!r}{hint}"
                )
            owners[output.column] = output.ref
            outputs.append(output)
    return outputs


def select_features(
    features: Any,
    lookup: Lookup,
    services: ServiceLookup,
    *,
    full_feature_names: bool = False,
    functions: dict[str, OnDemandFeatureView] | None = None,
) -> Selection:
    """Resolve ``features`` (references, view objects, a service or its name)."""
    service: tuple[str, int] | None = None
    if isinstance(features, FeatureService):
        refs = list(features.features)
    elif isinstance(features, str) and ":" not in features:
        found, version = services(features)
        refs, service = list(found.features), (found.name, version)
    else:
        refs = _refs(features)
    views: dict[str, tuple[View, int]] = {}
    outputs = _outputs(refs, lookup, views, full_feature_names)
    by_view: dict[str, list[str]] = {}  # every step below is one pass over the outputs
    for output in outputs:
        by_view.setdefault(output.view, []).append(output.feature)
    needed: dict[str, dict[str, None]] = {}  # ordered sets
    on_demand: list[OnDemandUse] = []
    for name, (view, version) in list(views.items()):
        if isinstance(view, OnDemandFeatureView):
            view = _with_function(view, version, functions or {})
            on_demand.append(OnDemandUse(view, version, tuple(by_view.get(name, ()))))
            for source in view.source_names:
                source_view, source_version = views.get(source) or lookup(source)
                if not isinstance(source_view, FeatureView):
                    raise ConflictError(
                        f"on-demand view {name!r} reads {source!r}, not a feature view"
                    )
                views.setdefault(source, (source_view, source_version))
                needed.setdefault(source, {}).update(dict.fromkeys(source_view.features))
        else:
            needed.setdefault(name, {}).update(dict.fromkeys(by_view.get(name, ())))
    uses = []
    for name, features_of in needed.items():
        view, version = views[name]
        assert isinstance(view, FeatureView)
        uses.append(ViewUse(view, version, tuple(f for f in view.features if f in features_of)))
    return Selection(tuple(uses), tuple(on_demand), tuple(outputs), service)


def _with_function(
    stored: OnDemandFeatureView, version: int, functions: dict[str, OnDemandFeatureView]
) -> OnDemandFeatureView:
    """The in-process object (with its function) that matches the stored version."""
    local = functions.get(stored.name)
    if local is None:
        raise ConfigurationError(
            f"the function of on-demand view {stored.name!r} is not loaded in this process "
            "(code is never run from the catalog); pass your definitions to "
            "ws.features.apply([...]) or ws.features.load('features.py') first"
        )
    if local.definition_hash() != stored.definition_hash():
        raise ConflictError(
            f"on-demand view {stored.name!r} in this process differs from its applied version "
            f"{version}; apply it (weekend features apply) so training and serving agree"
        )
    return local


__all__ = ["OnDemandUse", "Output", "Selection", "ViewUse", "select_features"]
