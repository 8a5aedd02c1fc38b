"""The experiment service: named groups of runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from weekend.catalog.tables import experiments
from weekend.core.errors import NotFoundError
from weekend.core.names import validate_name
from weekend.tracking import _store

if TYPE_CHECKING:
    from weekend.workspace import Workspace


@dataclass(frozen=True)
class Experiment:
    id: str
    name: str
    description: str | None
    created_at: int
    runs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Experiments:
    """``ws.experiments``."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    def create(self, name: str, description: str | None = None) -> Experiment:
        """Create an experiment, or return the existing one of that name."""
        validate_name(name, "experiment name")
        _store.get_or_create_experiment(self._ws.catalog, name)
        if description is not None:
            with self._ws.catalog.begin() as conn:
                conn.execute(
                    update(experiments)
                    .where(experiments.c.name == name)
                    .values(description=description)
                )
        return self.get(name)

    def get(self, name: str) -> Experiment:
        with self._ws.catalog.read() as conn:
            row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
        if row is None:
            raise NotFoundError(f"experiment {name!r} does not exist")
        return Experiment(row.id, row.name, row.description, row.created_at)

    def list(self) -> list[Experiment]:
        with self._ws.catalog.read() as conn:
            rows = _store.list_experiments(conn)
        return [
            Experiment(r["id"], r["name"], r["description"], r["created_at"], int(r["runs"]))
            for r in rows
        ]
