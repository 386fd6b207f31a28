"""Routing: runs, the exceptions queue, decision rules, disputes, rep unavailability and the
audit log of every routing decision people make.

Revision ID: 0004
Revises: 0002
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_run",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(300), nullable=False),
        sa.Column("source", sa.String(300), nullable=False, server_default=""),
        sa.Column("scenario_id", sa.String(64), nullable=True),
        sa.Column("scenario_version", sa.Integer, nullable=True),
        sa.Column("plan_label", sa.String(400), nullable=False, server_default=""),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("routed", sa.Integer, nullable=False),
        sa.Column("exceptions", sa.Integer, nullable=False),
        sa.Column("seconds", sa.Float, nullable=True),
    )
    op.create_index("ix_routing_run_at", "routing_run", ["at"])
    op.create_table(
        "routing_exception",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, sa.ForeignKey("routing_run.id", ondelete="SET NULL"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("source", sa.String(300), nullable=False, server_default=""),
        sa.Column("scenario_id", sa.String(64), nullable=True),
        sa.Column("scenario_version", sa.Integer, nullable=True),
        sa.Column("record_id", sa.String(300), nullable=True),
        sa.Column("record_kind", sa.String(16), nullable=False),
        sa.Column("record_json", sa.Text, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("candidates", sa.Text, nullable=False, server_default=""),
        sa.Column("segment", sa.String(200), nullable=True),
        sa.Column("team", sa.String(400), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rep_id", sa.String(64), nullable=True),
        sa.Column("decided_by", sa.String(300), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("rule_id", sa.Integer, nullable=True),
    )
    op.create_index("ix_routing_exception_status", "routing_exception", ["status"])
    op.create_index("ix_routing_exception_record", "routing_exception", ["record_id"])
    op.create_table(
        "routing_rule",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("field", sa.String(32), nullable=False),
        sa.Column("value", sa.String(400), nullable=False),
        sa.Column("rep_id", sa.String(64), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("exception_id", sa.Integer, nullable=True),
    )
    op.create_table(
        "routing_dispute",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("account_id", sa.String(300), nullable=False),
        sa.Column("claimant_rep_id", sa.String(64), nullable=False),
        sa.Column("owner_rep_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("note", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(300), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scenario_id", sa.String(64), nullable=True),
        sa.Column("scenario_version", sa.Integer, nullable=True),
        sa.Column("applied_scenario_id", sa.String(64), nullable=True),
        sa.Column("applied_version", sa.Integer, nullable=True),
    )
    op.create_index("ix_routing_dispute_status", "routing_dispute", ["status"])
    op.create_table(
        "rep_unavailability",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("rep_id", sa.String(64), nullable=False),
        sa.Column("start_date", sa.Date, nullable=False),
        sa.Column("end_date", sa.Date, nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("created_by", sa.String(300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "routing_audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("who", sa.String(300), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(40), nullable=False),
        sa.Column("subject_id", sa.String(300), nullable=True),
        sa.Column("what", sa.Text, nullable=False),
        sa.Column("why", sa.Text, nullable=False, server_default=""),
        sa.Column("details_json", sa.Text, nullable=True),
    )
    op.create_index("ix_routing_audit_at", "routing_audit", ["at"])


def downgrade() -> None:
    op.drop_index("ix_routing_audit_at", table_name="routing_audit")
    op.drop_table("routing_audit")
    op.drop_table("rep_unavailability")
    op.drop_index("ix_routing_dispute_status", table_name="routing_dispute")
    op.drop_table("routing_dispute")
    op.drop_table("routing_rule")
    op.drop_index("ix_routing_exception_record", table_name="routing_exception")
    op.drop_index("ix_routing_exception_status", table_name="routing_exception")
    op.drop_table("routing_exception")
    op.drop_index("ix_routing_run_at", table_name="routing_run")
    op.drop_table("routing_run")
