"""Alembic environment: weekend always passes an open connection in ``config.attributes``."""

from __future__ import annotations

from alembic import context

import weekend.catalog.tables_features
import weekend.catalog.tables_monitoring
import weekend.catalog.tables_pipelines
import weekend.catalog.tables_predictions
import weekend.catalog.tables_registry  # noqa: F401  (registers their tables)
from weekend.catalog.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - weekend always passes a connection
    raise RuntimeError("weekend migrations run through weekend.catalog.Catalog only")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
