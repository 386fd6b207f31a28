"""Alembic environment for the scenario store. Run through ``territory_core.store.storage.migrate``,
which passes an open SQLAlchemy connection in ``config.attributes["connection"]``."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

VERSION_TABLE = "territory_schema_version"

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=None,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), version_table=VERSION_TABLE,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif connection is not None:
    _run(connection)
else:  # pragma: no cover - only when someone runs alembic by hand with sqlalchemy.url set
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
