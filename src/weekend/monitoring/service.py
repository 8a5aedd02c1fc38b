"""``ws.monitor``: the monitoring service of one workspace.

``ws.monitor.compare(reference, current)`` compares any two tables (``docs/monitoring.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from weekend.monitoring._effects import BINS
from weekend.monitoring.stats import DEFAULT_FDR

if TYPE_CHECKING:
    from weekend.artifacts import ArtifactStore
    from weekend.catalog import Catalog
    from weekend.core.settings import Settings
    from weekend.data import Datasets
    from weekend.monitoring._columns import Kind
    from weekend.monitoring._compare import DriftReport
    from weekend.registry import Models


class Monitor:
    """``ws.monitor``: drift between tables, and (with the prediction log) served traffic."""

    def __init__(
        self,
        catalog: Catalog,
        artifacts: ArtifactStore,
        settings: Settings,
        *,
        datasets: Datasets,
        models: Models,
    ) -> None:
        self._catalog = catalog
        self._artifacts = artifacts
        self._settings = settings
        self._datasets = datasets
        self._models = models

    def compare(
        self,
        reference: Any,
        current: Any,
        *,
        columns: Sequence[str] | None = None,
        kinds: Mapping[str, Kind] | None = None,
        fdr: float = DEFAULT_FDR,
        min_effect: Mapping[str, float | tuple[str, float]] | None = None,
        bins: int = BINS,
    ) -> DriftReport:
        """Which columns drift from ``reference`` to ``current``.

        Either side is a DataFrame, an Arrow table, a file or folder, or a dataset reference
        (``"flights/1"``); the reference may also be a model version
        (``ws.models.get("flight-delay@champion")``: its reference sample and training
        profile). ``kinds`` overrides a column's kind (``numeric``, ``categorical``,
        ``binary``); ``fdr`` is the false discovery rate across columns; ``min_effect`` the
        per-column minimum effect size (``docs/monitoring.md``, "Statistics").
        """
        from weekend.monitoring._compare import compare_tables

        return compare_tables(
            reference,
            current,
            datasets=self._datasets,
            artifacts=self._artifacts,
            columns=columns,
            kinds=kinds,
            fdr=fdr,
            min_effect=min_effect,
            bins=bins,
        )


__all__ = ["Monitor"]
