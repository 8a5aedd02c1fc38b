"""The workspace: one project's settings, catalog and artifact store, and its services.

``wk.open(path)`` finds ``weekend.toml`` (or a ``.weekend/`` folder) upward from ``path``
like git does; with neither, it uses embedded defaults in ``<path>/.weekend/``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Any

from weekend.artifacts import ArtifactStore
from weekend.catalog import Catalog
from weekend.core.settings import Settings, find_root, init_project, load_settings


class Workspace:
    """Everything of one project. Services hang off it: ``ws.runs``, ``ws.experiments`` ..."""

    def __init__(self, settings: Settings, *, gc: bool = True) -> None:
        self.settings = settings
        self.catalog = Catalog(settings.catalog_url)
        self.artifacts = ArtifactStore(settings.artifact_root)
        if gc:
            self.runs.gc()

    def __repr__(self) -> str:
        return f"Workspace(root={str(self.settings.root)!r})"

    @property
    def root(self) -> Path:
        return self.settings.root

    @cached_property
    def runs(self) -> Any:
        from weekend.tracking.runs import Runs

        return Runs(self)

    @cached_property
    def experiments(self) -> Any:
        from weekend.tracking.experiments import Experiments

        return Experiments(self)

    @cached_property
    def datasets(self) -> Any:
        from weekend.data.datasets import Datasets

        return Datasets(self)

    @cached_property
    def models(self) -> Any:
        from weekend.registry.models import Models

        return Models(self)

    @cached_property
    def features(self) -> Any:
        from weekend.features.store import FeatureStore

        return FeatureStore(self)

    def close(self) -> None:
        """Flush pending writes and release connections."""
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


def open_workspace(path: str | Path | None = None, *, gc: bool = True) -> Workspace:
    """Open the project at or above ``path`` (default: the current folder)."""
    start = Path(path) if path is not None else Path.cwd()
    root = find_root(start)
    if root is None:
        root = start.resolve()
        (root / ".weekend").mkdir(parents=True, exist_ok=True)
    return Workspace(load_settings(root), gc=gc)


def init_workspace(path: str | Path = ".") -> Workspace:
    """Create ``weekend.toml`` and ``.weekend/`` in ``path`` and open the project."""
    return Workspace(load_settings(init_project(path)))
