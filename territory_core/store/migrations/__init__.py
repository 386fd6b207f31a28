"""Alembic migrations for the scenario store (run programmatically by
:class:`territory_core.store.storage.ScenarioStore` when it opens a database; no alembic.ini needed).

To add a schema change: write ``versions/NNNN_what.py`` with ``revision``/``down_revision`` and
``upgrade()``/``downgrade()`` (see 0001), keep it portable across SQLite and PostgreSQL
(``op.batch_alter_table`` for SQLite column changes), set ``HEAD`` below to its revision, and add a
test that opens an old database.
"""

# The newest revision under versions/ (a test checks it is alembic's head): opening a database that is
# already there reads one row and never imports alembic (11 MB and 0.1 s in every app process).
HEAD = "0004"
