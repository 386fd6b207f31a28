"""Number formats the pages share."""
from __future__ import annotations

import math


def money(x, digits: int = 1) -> str:
    """$ with B/M/k suffixes; ``digits`` decimals on the suffixed values; "-" when missing."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(x):
        return "-"
    sign = "-" if x < 0 else ""
    x = abs(x)
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{sign}${x / div:,.{digits}f}{unit}"
    return f"{sign}${x:,.0f}"


def pct(x, digits: int = 1) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "-"
    return "-" if math.isnan(x) else f"{x * 100:.{digits}f}%"
