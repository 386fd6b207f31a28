"""Analyse: scoring, segments, corporate hierarchy and roll-ups, enrichment, KPIs."""
