"""Ingest: CRM files in (read, map, normalise) and the validation report."""
