"""One call the pages use: accounts + hierarchy + scores + segment (+ family roll-ups)."""
from __future__ import annotations

import pandas as pd

from ..contract import A, X
from ..dataset import Dataset
from .hierarchy import resolve_hierarchy
from .rollups import add_family_columns
from .scoring import SIZE_BAND, TOTAL_ARR, ScoringConfig, potential_and_whitespace, score_accounts, size_band
from .segments import SegmentRules, apply_segments, default_rules, sales_regions


def enrich_accounts(ds: Dataset, scoring: ScoringConfig | None = None,
                    segment_rules: SegmentRules | None = None, families: bool = True) -> pd.DataFrame:
    """The accounts with derived columns, indexed like ``ds.accounts``:

    - hierarchy: ultimate_parent_id, depth, family_size, in_cycle, orphan;
    - scores: fit_score, propensity_score, strategic_score, potential_score, tier;
    - segment, coverage_model, accounts_per_rep, rule_index (segment rules may use the tier);
    - potential, whitespace, total_arr (potential uses the per-segment product models);
    - size_band; and with ``families`` the family_* roll-ups (arr, potential, whitespace,
      employees, opportunities).

    Vectorised: about 0.2-0.4 s for 50k accounts."""
    cfg = scoring or ScoringConfig()
    rules = segment_rules if segment_rules is not None else default_rules()
    acc = ds.accounts
    out = acc.copy()
    h = resolve_hierarchy(acc)
    for c in h.columns:
        out[c] = h[c]
    # Scores first (no segment needed), then segments (may use the tier), then potential with
    # the per-segment product models.
    sc = score_accounts(out, ds.opportunities, ds.account_products, cfg)
    for c in (X.fit_score, X.propensity_score, X.strategic_score, X.potential_score, X.tier):
        out[c] = sc[c]
    seg = apply_segments(out, rules, ds.account_products, sales_regions(acc, ds.reps))
    for c in seg.columns:
        out[c] = seg[c]
    if any(m.segment for m in cfg.products):
        sc = potential_and_whitespace(out, ds.account_products, cfg, segments=out[X.segment])
    out[X.potential] = sc[X.potential]
    out[X.whitespace] = sc[X.whitespace]
    out[TOTAL_ARR] = sc[TOTAL_ARR]
    out[SIZE_BAND] = size_band(out[A.employees]) if A.employees in out.columns else "unknown"
    if families:
        fam = add_family_columns(out, ds.opportunities)
        for c in fam.columns:
            out[c] = fam[c]
    return out
