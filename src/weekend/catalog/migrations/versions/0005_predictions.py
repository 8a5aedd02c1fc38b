"""The prediction log's segments, feedback on predictions, and the HTTP service's tokens.

Revision ID: 0005_predictions
Revises: 0004_run_owner

``prediction_segments`` registers each Parquet segment of the prediction log (a blob in the
artifact store) with its model version, time range and row count; ``prediction_feedback``
holds labels that arrived after their prediction; ``api_tokens`` the service's bearer tokens,
of which only the sha256 of the secret is stored.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_predictions"
down_revision = "0004_run_owner"
branch_labels = None
depends_on = None

ID = 32


def upgrade() -> None:
    op.create_table(
        "prediction_segments",
        sa.Column("id", sa.String(ID), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("min_ts", sa.BigInteger, nullable=False),
        sa.Column("max_ts", sa.BigInteger, nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("blob_sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("writer", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prediction_segments"),
    )
    op.create_index(
        "ix_prediction_segments_model_max_ts", "prediction_segments", ["model", "max_ts"]
    )
    op.create_index("ix_prediction_segments_max_ts", "prediction_segments", ["max_ts"])
    op.create_table(
        "prediction_feedback",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("row", sa.Integer, nullable=False),
        sa.Column("row_key", sa.String(250), nullable=True),
        sa.Column("label_json", sa.Text, nullable=False),
        sa.Column("label_ts", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_prediction_feedback"),
    )
    op.create_index(
        "ix_prediction_feedback_model_request", "prediction_feedback", ["model", "request_id"]
    )
    op.create_index(
        "ix_prediction_feedback_model_row_key", "prediction_feedback", ["model", "row_key"]
    )
    op.create_index("ix_prediction_feedback_created", "prediction_feedback", ["created_at"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("roles", sa.String(64), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(250), nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.Column("expires_at", sa.BigInteger, nullable=True),
        sa.Column("revoked_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
    )
    op.create_index("ix_api_tokens_name", "api_tokens", ["name"])


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_table("prediction_feedback")
    op.drop_table("prediction_segments")
