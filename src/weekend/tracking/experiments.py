"""The experiment service: named groups of runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from weekend.catalog.tables import experiments
from weekend.core.errors import InvalidValueError, NotFoundError
from weekend.core.names import check_text, validate_name
from weekend.tracking import _store

if TYPE_CHECKING:
    from weekend.catalog import Catalog


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

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def create(self, name: str, description: str | None = None) -> Experiment:
        """Create an experiment, or return the existing one of that name."""
        validate_name(name, "experiment name")
        if description is not None:
            if not isinstance(description, str):
                raise InvalidValueError(
                    f"experiment description must be text, got {type(description).__name__}"
                )
            check_text(description, "experiment description")
        _store.get_or_create_experiment(self._catalog, name)
        if description is not None:
            with self._catalog.begin() as conn:
                conn.execute(
                    update(experiments)
                    .where(experiments.c.name == name)
                    .values(description=description)
                )
        return self.get(name)

    def get(self, name: str) -> Experiment:
        """The experiment called ``name``, with its count of runs."""
        with self._catalog.read() as conn:
            rows = _store.list_experiments(conn, name)
        if not rows:
            raise NotFoundError(f"experiment {name!r} does not exist")
        return _experiment(rows[0])

    def list(self) -> list[Experiment]:
        """Every experiment, oldest first, with its count of runs."""
        with self._catalog.read() as conn:
            rows = _store.list_experiments(conn)
        return [_experiment(r) for r in rows]


def _experiment(row: dict[str, Any]) -> Experiment:
    return Experiment(
        row["id"], row["name"], row["description"], row["created_at"], int(row["runs"])
    )
