"""Initial schema: scenarios and their immutable versions.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scenario",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("head_version", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("parent_version", sa.Integer, nullable=True),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_scenario_name", "scenario", ["name"])
    op.create_table(
        "scenario_version",
        sa.Column("scenario_id", sa.String(64), sa.ForeignKey("scenario.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("saved_by", sa.String(300), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("parent_id", sa.String(64), nullable=True),
        sa.Column("parent_version", sa.Integer, nullable=True),
        sa.Column("settings_json", sa.Text, nullable=False),
        sa.Column("events_json", sa.Text, nullable=False),
        sa.Column("overrides_json", sa.Text, nullable=False),
        sa.Column("report_json", sa.Text, nullable=True),
        sa.Column("input_fingerprint", sa.String(64), nullable=True),
        sa.Column("assignment_gz", sa.LargeBinary, nullable=True),
        sa.Column("n_accounts", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("scenario_id", "version", name="pk_scenario_version"),
    )


def downgrade() -> None:
    op.drop_table("scenario_version")
    op.drop_index("ix_scenario_name", table_name="scenario")
    op.drop_table("scenario")
