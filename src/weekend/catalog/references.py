"""Which blobs the catalog refers to: every column that holds a blob's sha256.

The garbage collector (:func:`weekend.artifacts.gc.collect_garbage`) removes only blobs that
no row refers to; it asks the catalog through :meth:`weekend.catalog.Catalog.referenced_blobs`,
which reads every registered *reference source* in one read transaction. A new table that
refers to blobs registers one with :func:`register_blob_references`; a test holds
:data:`REFERENCE_COLUMNS` and :data:`NOT_BLOB_COLUMNS` against the tables, so a column named
like a hash cannot be forgotten.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import orjson
from sqlalchemy import Connection, select

from weekend.catalog.tables import run_artifacts
from weekend.catalog.tables_monitoring import monitor_reports
from weekend.catalog.tables_pipelines import pipeline_steps
from weekend.catalog.tables_predictions import prediction_segments
from weekend.catalog.tables_registry import dataset_versions, model_versions
from weekend.core.errors import ConfigurationError, IntegrityError

BlobReferences = Callable[[Connection], Iterable[str]]
_SOURCES: dict[str, BlobReferences] = {}

# Every column that holds a blob's sha256, and the source that reads it (tests hold this
# list against the tables: a new column named like a hash must be in one of the two lists).
REFERENCE_COLUMNS = {
    "run_artifacts.sha256": "run artifacts",
    "dataset_versions.blob_sha256": "dataset versions",
    "dataset_versions.content_hash": "dataset versions",
    "model_versions.manifest_json": "model packages",
    "prediction_segments.blob_sha256": "prediction segments",
    "monitor_reports.json_sha256": "monitoring reports",
    "monitor_reports.html_sha256": "monitoring reports",
    "pipeline_steps.output_sha256": "pipeline outputs",
}
NOT_BLOB_COLUMNS = {
    "feature_definitions.definition_hash": "the hash of a definition's JSON, stored inline",
    "api_tokens.secret_hash": "the sha256 of a token's secret, never stored as a blob",
}


def register_blob_references(name: str, source: BlobReferences) -> None:
    """Add a reference source: ``source(conn)`` yields the sha256 of every blob that rows of
    some table refer to (duplicates are fine). Registering a name again replaces it."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"a reference source needs a name, got {name!r:.80}")
    _SOURCES[name] = source


def reference_sources() -> list[str]:
    """The names of the registered reference sources, sorted."""
    return sorted(_SOURCES)


def _run_artifacts(conn: Connection) -> Iterator[str]:
    yield from conn.execute(select(run_artifacts.c.sha256).distinct()).scalars()


def _dataset_versions(conn: Connection) -> Iterator[str]:
    query = select(dataset_versions.c.blob_sha256, dataset_versions.c.content_hash)
    for blob, content in conn.execute(query):
        yield blob
        yield content


def _model_packages(conn: Connection) -> Iterator[str]:
    query = select(model_versions.c.id, model_versions.c.manifest_json)
    for version_id, text in conn.execute(query):
        try:
            manifest = orjson.loads(text)
            digests = [entry["sha256"] for entry in manifest.values()]
        except (orjson.JSONDecodeError, AttributeError, TypeError, KeyError) as exc:
            # a manifest that cannot be read may name any blob: collect nothing
            raise IntegrityError(
                f"the manifest of model version {version_id} cannot be read ({exc}); "
                "garbage collection stopped before removing any blob. Repair the catalog row "
                "(or delete the version) and run it again."
            ) from None
        yield from digests


def _prediction_segments(conn: Connection) -> Iterator[str]:
    yield from conn.execute(select(prediction_segments.c.blob_sha256).distinct()).scalars()


def _pipeline_outputs(conn: Connection) -> Iterator[str]:
    query = select(pipeline_steps.c.output_sha256).where(pipeline_steps.c.output_sha256.isnot(None))
    yield from conn.execute(query.distinct()).scalars()


def _monitor_reports(conn: Connection) -> Iterator[str]:
    query = select(monitor_reports.c.json_sha256, monitor_reports.c.html_sha256)
    for json_blob, html_blob in conn.execute(query):
        yield json_blob
        if html_blob is not None:
            yield html_blob


register_blob_references("run artifacts", _run_artifacts)
register_blob_references("dataset versions", _dataset_versions)
register_blob_references("model packages", _model_packages)
register_blob_references("prediction segments", _prediction_segments)
register_blob_references("monitoring reports", _monitor_reports)
register_blob_references("pipeline outputs", _pipeline_outputs)


def referenced_blobs(conn: Connection) -> set[str]:
    """The sha256 of every blob some row refers to, read in ``conn``'s transaction."""
    found: set[str] = set()
    for name in reference_sources():
        found.update(str(digest) for digest in _SOURCES[name](conn))
    return found


__all__ = [
    "NOT_BLOB_COLUMNS",
    "REFERENCE_COLUMNS",
    "BlobReferences",
    "reference_sources",
    "referenced_blobs",
    "register_blob_references",
]
