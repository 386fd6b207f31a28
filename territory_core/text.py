"""Words and numbers for people: column labels with units, money, and a value in its unit.

One place for how the core and the pages write a metric ("ARR", "$1.2M", "134 accounts"), so a
reason, a header and a chart say the same thing the same way.
"""
from __future__ import annotations

import math
import re

from .contract import A, X

# Human labels of the columns people balance, compare and filter on.
COLUMN_LABELS = {
    A.arr: "ARR", X.potential: "Potential", X.whitespace: "Whitespace", A.open_pipeline: "Open pipeline",
    X.workload: "Workload", X.account_count: "Accounts", A.annual_revenue: "Annual revenue",
    A.employees: "Employees", A.owner_id: "Owner", A.account_id: "Account id", A.name: "Account",
    A.industry: "Industry", A.state: "State", X.segment: "Segment", X.tier: "Tier", A.intent: "Intent",
}
# Columns in dollars; the rest are counts or points.
MONEY_COLUMNS = frozenset({A.arr, X.potential, X.whitespace, A.open_pipeline, A.annual_revenue})
UNIT_WORDS = {X.account_count: "accounts", X.workload: "workload points", A.employees: "employees"}


def label(column) -> str:
    """"ARR" for arr, "Open pipeline" for open_pipeline; other columns in sentence case."""
    c = str(column)
    return COLUMN_LABELS.get(c) or (c.replace("_", " ").strip().capitalize() or c)


def money(x, digits: int = 1) -> str:
    """$ with B/M/k suffixes and ``digits`` decimals on them; "-" when missing."""
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


def amount(column, value, digits: int = 1) -> str:
    """A value of ``column`` in its unit: "$1.2M" (money), "134 accounts", "214 workload points"."""
    if str(column) in MONEY_COLUMNS:
        return money(value, digits)
    try:
        v = float(value)
    except (TypeError, ValueError):
        return "-"
    if not math.isfinite(v):
        return "-"
    num = f"{v:,.0f}" if abs(v) >= 100 or float(v).is_integer() else f"{v:,.1f}"
    word = UNIT_WORDS.get(str(column))
    return f"{num} {word}" if word else num


def quantity(column, value, digits: int = 1) -> str:
    """A value with what it counts: "$93.3k ARR", "$1.8M potential", "1 account", "214 workload points"."""
    c = str(column)
    if c in MONEY_COLUMNS:
        lab = label(c)
        return f"{money(value, digits)} {lab if lab.isupper() else lab.lower()}"
    if c == X.account_count:
        try:
            v = float(value)
        except (TypeError, ValueError):
            return "-"
        return f"{v:,.0f} account" + ("" if round(v) == 1 else "s")
    return amount(c, value, digits) if c in UNIT_WORDS else f"{amount(c, value, digits)} {label(c).lower()}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text) -> str:
    """User text on one line and safe for a terminal: control characters (line breaks, carriage
    returns, escape sequences) are written as escapes (``\\n``, ``\\x1b``), never passed on."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], "" if text is None else str(text))
