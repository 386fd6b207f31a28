"""Timings of the core calls behind each interaction on the Whitespace Map and Segment Builder
pages, at the sample's size (6k accounts) and at 50k (the sample replicated in memory with
jittered ids and locations). Prints a table; no assertions.

    .venv/bin/python scripts/bench_pages.py [--sizes 6000 50000] [--repeat 3]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from territory_core.contract import A, O, P, X  # noqa: E402
from territory_core.dataset import Dataset, load_sample  # noqa: E402
from territory_core.analyse.enrich import enrich_accounts  # noqa: E402
from territory_core.geo.aggregate import area_metrics, heatmap_data, service_table  # noqa: E402
from territory_core.analyse.rollups import family_rollups  # noqa: E402
from territory_core.analyse.scoring import ScoringConfig, explain_account, score_accounts, whitespace_by_product  # noqa: E402
from territory_core.analyse.segments import SegmentRule, SegmentRules, apply_segments, check_rules, default_rules, segment_summary  # noqa: E402


def scale_dataset(ds: Dataset, n: int, seed: int = 7) -> Dataset:
    """The sample replicated to ``n`` accounts: copy k gets ids suffixed "-k" (parents too, so
    families stay within a copy) and locations jittered by about 0.05 degrees."""
    base = ds.accounts
    if n <= len(base):
        return ds.with_(accounts=base.head(n).copy(), name=f"{n:,} accounts")
    rng = np.random.default_rng(seed)
    copies = int(np.ceil(n / len(base)))
    acc, ap, opp = [], [], []
    for k in range(copies):
        sfx = "" if k == 0 else f"-{k}"
        a = base.copy()
        a[A.account_id] = a[A.account_id] + sfx
        a[A.parent_id] = a[A.parent_id].where(a[A.parent_id].isna(), a[A.parent_id] + sfx)
        if k:
            a[A.lat] = a[A.lat] + rng.normal(0, 0.05, len(a))
            a[A.lon] = a[A.lon] + rng.normal(0, 0.05, len(a))
        acc.append(a)
        p = ds.account_products.copy()
        p[P.account_id] = p[P.account_id] + sfx
        ap.append(p)
        o = ds.opportunities.copy()
        o[O.opportunity_id] = o[O.opportunity_id] + sfx
        o[O.account_id] = o[O.account_id] + sfx
        opp.append(o)
    accounts = pd.concat(acc, ignore_index=True).head(n)
    keep = set(accounts[A.account_id])
    aps = pd.concat(ap, ignore_index=True)
    opps = pd.concat(opp, ignore_index=True)
    return ds.with_(accounts=accounts, account_products=aps[aps[P.account_id].isin(keep)].reset_index(drop=True),
                    opportunities=opps[opps[O.account_id].isin(keep)].reset_index(drop=True), name=f"{n:,} accounts")


class _Shared(dict):
    """Read-only geojson: plotly's deep copies return the object itself (as on the page)."""

    def __deepcopy__(self, memo):
        return self


def map_json(enr: pd.DataFrame, reps: pd.DataFrame, level: str) -> int:
    """Build the page's map figure the way the page does (areas with one hover string each, up to
    4,000 points in one trace, shared geojson) and serialise it the way st.plotly_chart does."""
    import plotly.graph_objects as go
    import plotly.io as pio
    import plotly.tools

    from territory_core.geo import zips as geo

    am = area_metrics(enr, level, reps, book=enr)
    gj = geo.states_geojson() if level == "state" else geo.counties_geojson()
    if level == "county":
        keep = set(am["area"])
        gj = {"type": "FeatureCollection", "features": [f for f in gj["features"] if f["id"] in keep]}
    hover = ("<b>" + am["area"].astype(str) + "</b><br>Potential: $" + am["potential"].round(0).astype("int64")
             .map("{:,}".format)).to_numpy(dtype=object)
    fig = go.Figure(go.Choroplethmap(geojson=_Shared(gj), locations=am["area"].to_numpy(dtype=object),
                                     z=am["whitespace"].to_numpy(dtype=float), hovertext=hover))
    cols = [A.lat, A.lon, A.name, A.owner_id, X.segment, X.whitespace]
    pts = enr[cols].nlargest(4000, X.whitespace) if len(enr) > 4000 else enr[cols]
    codes = pts[A.owner_id].astype("category").cat.codes.to_numpy(dtype=float)
    ph = ("<b>" + pts[A.name].astype(str) + "</b><br>" + pts[X.segment].astype(str) + "<br>$"
          + pts[X.whitespace].round(0).astype("int64").map("{:,}".format)).to_numpy(dtype=object)
    fig.add_trace(go.Scattermap(lat=pts[A.lat].to_numpy(dtype=float), lon=pts[A.lon].to_numpy(dtype=float),
                                mode="markers", marker=dict(color=codes), hovertext=ph))
    fig.update_layout(map=dict(style="white-bg"))
    out = plotly.tools.return_figure_from_figure_or_data(fig, validate_figure=True)
    return len(pio.to_json(out, validate=False))


def time_calls(calls: dict, repeat: int) -> dict[str, tuple[float, float]]:
    """Median wall and CPU seconds of each named call over ``repeat`` runs."""
    out = {}
    for name, fn in calls.items():
        ts, cs = [], []
        for _ in range(repeat):
            t, c = time.perf_counter(), time.process_time()
            fn()
            ts.append(time.perf_counter() - t)
            cs.append(time.process_time() - c)
        out[name] = (statistics.median(ts), statistics.median(cs))
    return out


def print_table(cols: dict[int, dict[str, tuple[float, float]]], heading: str) -> None:
    """One row per call, a wall / CPU pair of columns per size."""
    sizes = list(cols)
    names = list(next(iter(cols.values())))
    w = max(len(x) for x in [*names, heading])
    print(f"{heading:<{w}}  " + "  ".join(f"{f'{n:,} wall':>12} {'CPU':>6}" for n in sizes))
    print("-" * (w + 2 + 20 * len(sizes)))
    for name in names:
        print(f"{name:<{w}}  " + "  ".join(f"{cols[n][name][0]:>12.3f} {cols[n][name][1]:>6.3f}" for n in sizes))


def bench(ds: Dataset, repeat: int) -> dict[str, float]:
    cfg = ScoringConfig()
    rules = default_rules()
    enr = enrich_accounts(ds, cfg, rules)
    edited = SegmentRules(rules.rules[:1] + (SegmentRule("West Enterprise", regions=("West",), min_employees=600,
                                                         coverage_model="dedicated", accounts_per_rep=30),)
                          + rules.rules[1:])
    some_id = str(enr.nlargest(1, X.potential_score)[A.account_id].iloc[0])
    ent = enr[enr[X.segment] == "Enterprise"]

    def edit_rules():
        seg = apply_segments(enr, edited, ds.account_products)
        df = enr.copy()
        for c in seg.columns:
            df[c] = seg[c]
        check_rules(df, edited, ds.account_products)
        segment_summary(df, rules=edited)

    jobs = {
        "enrich_accounts (load / scoring change)": lambda: enrich_accounts(ds, cfg, rules),
        "score_accounts only": lambda: score_accounts(ds.accounts, ds.opportunities, ds.account_products, cfg),
        "whitespace_by_product (product filter)": lambda: whitespace_by_product(enr, ds.account_products, cfg, enr[X.segment]),
        "filter + state metrics (filter change)": lambda: area_metrics(ent, "state", ds.reps, book=enr),
        "county metrics": lambda: area_metrics(enr, "county", ds.reps, book=enr),
        "state map figure -> JSON": lambda: map_json(enr, ds.reps, "state"),
        "county map figure -> JSON": lambda: map_json(enr, ds.reps, "county"),
        "under/over-served table (state)": lambda: service_table(enr, "state", ds.reps, book=enr),
        "industry x size heatmap": lambda: heatmap_data(enr, ds.reps, book=enr),
        "rule edit: apply + check + summary": edit_rules,
        "family roll-ups": lambda: family_rollups(enr, ds.opportunities),
        "explain one account": lambda: explain_account(enr, some_id, ds.opportunities, ds.account_products, cfg),
        "settings to/from JSON (cache key)": lambda: (ScoringConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))),
                                                      SegmentRules.from_dict(json.loads(json.dumps(rules.to_dict())))),
    }
    return time_calls(jobs, repeat)


def run_benchmark(bench_fn, description: str, heading: str, note: str, argv=None) -> int:
    """Time ``bench_fn(ds, repeat)`` on the sample and on the sample scaled to each --sizes value,
    then print the table (shared by the page benchmarks)."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--sizes", type=int, nargs="+", default=[6000, 50000])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    sample = load_sample()
    if sample.accounts.empty:
        print("No sample data in data/sample.", file=sys.stderr)
        return 1
    cols, shapes = {}, {}
    for n in args.sizes:
        ds = sample if n == len(sample.accounts) else scale_dataset(sample, n)
        shapes[n] = f"{len(ds.accounts):,} acc / {len(ds.opportunities):,} opps / {len(ds.reps)} reps"
        cols[n] = bench_fn(ds, args.repeat)
    print(f"Median of {args.repeat} runs in seconds: wall / CPU of this process. {note} "
          + "; ".join(f"{n:,}: {s_}" for n, s_ in shapes.items()))
    print_table(cols, heading)
    return 0


def main(argv=None) -> int:
    return run_benchmark(bench, __doc__.splitlines()[0], "interaction / core call",
                         "CPU is the fairer figure on a busy machine; page caches make a repeat of the "
                         "same view near 0.", argv)


if __name__ == "__main__":
    sys.exit(main())
