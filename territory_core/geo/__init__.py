"""Geography: offline ZIP lookup, boundaries and area aggregates."""
