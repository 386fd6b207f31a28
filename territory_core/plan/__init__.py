"""Plan: scenarios (events, solve, diff, KPIs) and exports."""
