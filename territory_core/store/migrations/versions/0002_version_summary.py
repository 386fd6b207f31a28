"""Version summary columns: status, moves and arr_moved of each saved version, so listing a
scenario's history does not parse every solver report. Backfilled from report_json.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
import json

from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _num(v, cast):
    try:
        return None if v is None else cast(v)
    except (TypeError, ValueError):
        return None


def upgrade() -> None:
    with op.batch_alter_table("scenario_version") as b:
        b.add_column(sa.Column("status", sa.String(32), nullable=True))
        b.add_column(sa.Column("moves", sa.Integer, nullable=True))
        b.add_column(sa.Column("arr_moved", sa.Float, nullable=True))
    t = sa.table("scenario_version", sa.column("scenario_id", sa.String), sa.column("version", sa.Integer),
                 sa.column("report_json", sa.Text), sa.column("status", sa.String),
                 sa.column("moves", sa.Integer), sa.column("arr_moved", sa.Float))
    conn = op.get_bind()
    rows = conn.execute(sa.select(t.c.scenario_id, t.c.version, t.c.report_json)
                        .where(t.c.report_json.isnot(None))).all()
    for sid, version, report_json in rows:
        try:
            rep = json.loads(report_json) or {}
        except ValueError:
            continue
        if not isinstance(rep, dict):
            continue
        conn.execute(t.update().where(t.c.scenario_id == sid, t.c.version == version).values(
            status=(str(rep["status"])[:32] if rep.get("status") is not None else None),
            moves=_num(rep.get("moves"), int), arr_moved=_num(rep.get("arr_moved"), float)))


def downgrade() -> None:
    with op.batch_alter_table("scenario_version") as b:
        b.drop_column("arr_moved")
        b.drop_column("moves")
        b.drop_column("status")
