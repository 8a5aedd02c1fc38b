"""Catalog tables of the prediction log, its feedback and the service's tokens (migration 0005).

Prediction times (``min_ts``, ``max_ts``, ``label_ts``) are microseconds since the epoch, as
in the log's rows; ``created_at``, ``expires_at`` and ``revoked_at`` are milliseconds, as in
every other table.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table, Text

from weekend.catalog.tables import ID, metadata

# One Parquet segment of the prediction log: the rows of one model version written by one
# flush, stored as a blob in the artifact store. A row is inserted only after its blob is in
# place, in one transaction: a segment is either registered and readable, or absent.
prediction_segments = Table(
    "prediction_segments",
    metadata,
    Column("id", String(ID), primary_key=True),
    Column("model", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("min_ts", BigInteger, nullable=False),
    Column("max_ts", BigInteger, nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("blob_sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("writer", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_prediction_segments_model_max_ts", "model", "max_ts"),
    Index("ix_prediction_segments_max_ts", "max_ts"),
)

# A label that arrived after the prediction: it names the prediction by request id and row
# (the row's position in its request) or by the row key the caller declared. ``seq`` orders
# them: a later label for the same prediction replaces an earlier one when read.
prediction_feedback = Table(
    "prediction_feedback",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("model", String(128), nullable=False),
    Column("request_id", String(128), nullable=True),
    Column("row", Integer, nullable=False),
    Column("row_key", String(250), nullable=True),
    Column("label_json", Text, nullable=False),
    Column("label_ts", BigInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Index("ix_prediction_feedback_model_request", "model", "request_id"),
    Index("ix_prediction_feedback_model_row_key", "model", "row_key"),
    Index("ix_prediction_feedback_created", "created_at"),
)

# Bearer tokens of the HTTP service. ``id`` is the token's public prefix; only the sha256 of
# its secret part is stored, so the catalog never holds a usable token.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("roles", String(64), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_by", String(250), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Index("ix_api_tokens_name", "name"),
)
