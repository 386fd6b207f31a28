"""Datasets in the store: named datasets with immutable versions (the normalised tables as
compressed Parquet, the mapping, the source files and the validation summary), the mappings
remembered per source file (by header set), store-wide settings (the active dataset), and the
dataset version each scenario version was solved on (nullable: older scenarios keep working).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dataset",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(200), nullable=False),
        sa.Column("head_version", sa.Integer, nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ux_dataset_name_key", "dataset", ["name_key"], unique=True)
    op.create_table(
        "dataset_version",
        sa.Column("dataset_id", sa.String(64), sa.ForeignKey("dataset.id", ondelete="CASCADE"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("saved_by", sa.String(300), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("fingerprint", sa.String(64), nullable=True),
        sa.Column("n_accounts", sa.Integer, nullable=False),
        sa.Column("n_reps", sa.Integer, nullable=False),
        sa.Column("n_opportunities", sa.Integer, nullable=False),
        sa.Column("n_account_products", sa.Integer, nullable=False),
        sa.Column("n_distances", sa.Integer, nullable=False),
        sa.Column("stored_bytes", sa.BigInteger, nullable=False),
        sa.Column("sources_json", sa.Text, nullable=False),
        sa.Column("mapping_json", sa.Text, nullable=False),
        sa.Column("validation_json", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "version", name="pk_dataset_version"),
    )
    op.create_table(
        "dataset_table",
        sa.Column("dataset_id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("table_name", sa.String(40), nullable=False),
        sa.Column("n_rows", sa.Integer, nullable=False),
        sa.Column("parquet", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "version", "table_name", name="pk_dataset_table"),
        sa.ForeignKeyConstraint(["dataset_id", "version"], ["dataset_version.dataset_id", "dataset_version.version"],
                                ondelete="CASCADE", name="fk_dataset_table_version"),
    )
    op.create_table(
        "mapping_memory",
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("header_key", sa.String(64), nullable=False),
        sa.Column("headers_json", sa.Text, nullable=False),
        sa.Column("mapping_json", sa.Text, nullable=False),
        sa.Column("source", sa.String(300), nullable=False, server_default=""),
        sa.Column("saved_by", sa.String(300), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kind", "header_key", name="pk_mapping_memory"),
    )
    op.create_table(
        "app_setting",
        sa.Column("key", sa.String(100), primary_key=True),
        sa.Column("value_json", sa.Text, nullable=False),
        sa.Column("saved_by", sa.String(300), nullable=False),
        sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    )
    with op.batch_alter_table("scenario_version") as b:
        b.add_column(sa.Column("dataset_id", sa.String(64), nullable=True))
        b.add_column(sa.Column("dataset_version", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("scenario_version") as b:
        b.drop_column("dataset_version")
        b.drop_column("dataset_id")
    op.drop_table("app_setting")
    op.drop_table("mapping_memory")
    op.drop_table("dataset_table")
    op.drop_table("dataset_version")
    op.drop_index("ux_dataset_name_key", table_name="dataset")
    op.drop_table("dataset")
