"""Store: the scenario database, migrations and who saves."""
