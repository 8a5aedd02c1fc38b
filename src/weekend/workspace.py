"""The workspace: one project's settings, catalog and artifact store, and its services.

``wk.open(path)`` finds ``weekend.toml`` (or a ``.weekend/`` folder) upward from ``path``
like git does, and refuses a folder that holds no project; ``wk.init(path)`` creates one.

The workspace is the composition root: it builds each domain service from the storage it
needs (catalog, artifact store, settings) and the lower services it depends on, so that no
domain reaches another through an untyped locator. Opening a project writes nothing.
"""

from __future__ import annotations

import functools
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from weekend.artifacts import ArtifactStore
from weekend.catalog import Catalog
from weekend.core.errors import NotFoundError
from weekend.core.settings import Settings, find_root, init_project, load_settings

if TYPE_CHECKING:  # the services load when first used: ``import weekend`` stays fast
    from weekend.artifacts.gc import GcReport
    from weekend.data.datasets import Datasets
    from weekend.features.store import FeatureStore
    from weekend.monitoring.service import Monitor
    from weekend.pipelines import Pipelines
    from weekend.predictions.logs import PredictionLogs
    from weekend.registry.models import Models
    from weekend.tracking.experiments import Experiments
    from weekend.tracking.runs import Runs


class Workspace:
    """Everything of one project. Services hang off it: ``ws.runs``, ``ws.models`` ..."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.catalog = Catalog(settings.catalog_url)
        self.artifacts = ArtifactStore(settings.artifact_root)

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.settings.root)!r})"

    @property
    def root(self) -> Path:
        return self.settings.root

    @cached_property
    def runs(self) -> Runs:
        """Runs: start, log, read, search, delete (``docs/tracking.md``)."""
        from weekend.tracking.runs import Runs

        return Runs(self.catalog, self.artifacts, self.settings, models=lambda: self.models)

    @cached_property
    def experiments(self) -> Experiments:
        """Experiments: named groups of runs."""
        from weekend.tracking.experiments import Experiments

        return Experiments(self.catalog)

    @cached_property
    def datasets(self) -> Datasets:
        """Datasets: versions, schemas, profiles, validation (``docs/datasets.md``)."""
        from weekend.data.datasets import Datasets

        return Datasets(self.catalog, self.artifacts, self.settings)

    @cached_property
    def models(self) -> Models:
        """The model registry: versions, aliases, gates, loading (``docs/registry.md``)."""
        from weekend.registry.models import Models

        return Models(
            self.catalog, self.artifacts, self.settings, datasets=self.datasets, runs=self.runs
        )

    @cached_property
    def features(self) -> FeatureStore:
        """The feature store: views, training sets, online reads (``docs/features.md``)."""
        from weekend.features.store import FeatureStore

        return FeatureStore(self.catalog, self.settings, datasets=self.datasets)

    @cached_property
    def predictions(self) -> PredictionLogs:
        """The prediction log: open logs, scan them with feedback, prune (docs/serving.md)."""
        from weekend.predictions.logs import PredictionLogs

        return PredictionLogs(self.catalog, self.artifacts, self.settings)

    @cached_property
    def monitor(self) -> Monitor:
        """Monitoring: drift between tables, served traffic (``docs/monitoring.md``)."""
        from weekend.monitoring.service import Monitor

        return Monitor(
            self.catalog,
            self.artifacts,
            self.settings,
            datasets=self.datasets,
            models=self.models,
            predictions=self.predictions,
        )

    @cached_property
    def pipelines(self) -> Pipelines:
        """Pipelines: run steps, their cache, runs and outputs (docs/pipelines.md)."""
        from weekend.pipelines import Pipelines

        return Pipelines(
            self.catalog,
            self.artifacts,
            self.settings,
            models=lambda: self.models,
            workspace=lambda: self,
            open_workspace=functools.partial(open_workspace, self.root),
        )

    def gc(self, *, grace: float | str = "1h", dry_run: bool = False) -> GcReport:
        """Remove crash leftovers older than ``grace``: the artifact store's temporary files,
        blobs no catalog row references, scratch folders (``weekend gc``; docs/operations.md).

        Runs whose process died are marked by ``ws.runs.gc()`` (``weekend runs gc``).
        """
        from weekend.artifacts.gc import collect_garbage

        return collect_garbage(self.catalog, self.artifacts, grace=grace, dry_run=dry_run)

    def close(self) -> None:
        """Flush pending writes and release connections."""
        if "predictions" in self.__dict__:
            self.predictions.close()
        if "features" in self.__dict__:
            self.features.close()
        if "runs" in self.__dict__:
            self.runs.close()
        self.catalog.dispose()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_workspace(path: str | Path | None = None) -> Workspace:
    """Open the project at or above ``path`` (default: the current folder); never creates one."""
    start = Path(path) if path is not None else Path.cwd()
    if not start.exists():  # a mistyped path must not open the project around it
        raise NotFoundError(
            f"project folder {str(start)!r} does not exist; create a project there with "
            "`weekend init` or wk.init(path)"
        )
    root = find_root(start)
    if root is None:
        raise NotFoundError(
            f"no weekend project found at or above {str(start.resolve())!r} (looked for "
            "weekend.toml or a .weekend folder); create one with `weekend init` or wk.init(path)"
        )
    return Workspace(load_settings(root))


def init_workspace(path: str | Path = ".") -> Workspace:
    """Create ``weekend.toml`` and ``.weekend/`` in ``path`` (if missing) and open the project."""
    return Workspace(load_settings(init_project(path)))
