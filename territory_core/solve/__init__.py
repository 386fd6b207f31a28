"""Solve: the balanced-books optimizer (settings, preparation, engine, benchmark)."""
