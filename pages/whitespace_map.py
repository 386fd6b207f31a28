"""Whitespace Map: where the untapped potential is, and who covers it.

Choropleth by state or county (whitespace, potential, penetration or coverage), account points
coloured by owner or segment, filters; below the map, one tab drawn at a time: the largest
whitespace accounts and product lines, under- and over-served areas, corporate families and an
industry x size heatmap. Maps draw offline: MapLibre ``choropleth_map``/``scatter_map`` on a white
background over the shipped boundaries, through ui.plot_map (a new figure is drawn on the map already
on the page, not on a new one).
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from territory_core.contract import A, P, R, S, X
from territory_core.frames import isin
from territory_core.geo.aggregate import METRICS, area_metrics, heatmap_data, service_table
from territory_core.analyse.scoring import SIZE_BAND, SIZE_BAND_NAMES, TOTAL_ARR, ScoringConfig
from territory_core.analyse.segments import SegmentRules, default_rules
from ui.colors import colour_of, dataset_rep_colours, discrete_scale
from ui.format import md, money, plot_text
from ui.maps import boundary_url
from ui.plot_map import plotly_map
from ui.notices import reps_notice
from ui.scenario_widgets import rep_label
from ui.scenario_widgets import rep_names as rep_names_with_details
from ui.cache import enriched_frame, settings_key, shared
from ui.state import data_token, get_active_scenario, get_dataset, get_setting

# Points on the map: the accounts with the most whitespace, at most this many (every account counts in the
# areas). Beyond a few thousand, dots merge at the national view and the browser's drawing is the wait (issue
# 16: at 50,000 accounts a first open took 2.6 s with 8,000 points, 1.9 s with 4,000, medians of 6 in headless
# Chromium); the filters narrow the view to show the rest.
MAX_POINTS = 4000
SEGMENT_PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                   "#bcbd22", "#17becf"]
ALL = "All product lines"


# ------------------------------------------------------------------------------ cached core calls
def _by_product(ds, enr, scoring: dict, rules: dict) -> pd.DataFrame:
    """Potential, ARR and whitespace per account and product line (the process-wide cache)."""
    from territory_core.analyse.scoring import whitespace_by_product

    return shared("whitespace_by_product", (data_token(), settings_key(scoring), settings_key(rules)),
                  lambda: whitespace_by_product(enr, ds.account_products, ScoringConfig.from_dict(scoring),
                                                enr[X.segment]))


def _area_names(level: str) -> dict:
    """Area id -> name, read once from the shipped boundaries (the map itself fetches them by URL)."""
    from territory_core.geo import zips as geo

    return geo.area_names(level)


def _nice_ticks(top: float, n: int = 4) -> list[float]:
    """0 and round steps (1, 2, 2.5 or 5 x a power of ten) up to ``top``: $0, $500k, $1.0M..."""
    raw = top / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    return [i * step for i in range(int(top // step) + 1)]


def _pt(s: pd.Series) -> pd.Series:
    """ui.format.plot_text for a whole column (user text made inert for plotly), as strings."""
    out = s.astype("string").fillna("").str.replace(r"\s+", " ", regex=True).str.strip()
    return out.str.replace("&", "&amp;", regex=False).str.replace("<", "&lt;", regex=False).str.replace(">", "&gt;", regex=False).astype(str)


def _money_s(s: pd.Series) -> pd.Series:
    """Whole dollars with thousands separators, as strings ("n/a" when missing)."""
    v = pd.to_numeric(s, errors="coerce")
    out = "$" + v.fillna(0).round(0).astype("int64").map("{:,}".format)
    return out.where(v.notna(), "n/a")


# ------------------------------------------------------------------------------------------ page
st.title("Whitespace Map")
st.caption("Where the untapped potential is and who covers it. Whitespace = estimated potential minus "
           "what each account already buys, from the scenario's scoring settings (edit them on the "
           "Segment Builder page, tab *ICP & scoring*).")

ds = get_dataset()
if ds.accounts.empty:
    st.warning("The active dataset has no accounts. Load data on the **Data** page.")
    st.stop()
reps_notice(ds)  # coverage needs reps: say what is missing (the map still shows potential and whitespace)

scoring = get_setting("scoring", ScoringConfig)
rules = get_setting("segment_rules", default_rules)
# Settings restored from a saved scenario may arrive as plain dicts: accept those too.
if not isinstance(scoring, ScoringConfig):
    scoring = ScoringConfig.from_dict(scoring if isinstance(scoring, dict) else None)
if not isinstance(rules, SegmentRules):
    rules = SegmentRules.from_dict(rules if isinstance(rules, (dict, list)) else None) or default_rules()
try:
    s_dict, r_dict = scoring.to_dict(), rules.to_dict()
    enr = enriched_frame(ds, s_dict, r_dict)  # the one scoring cache, shared with every page and session
except Exception as exc:  # bad settings or data: say what and how to fix, no traceback
    st.error(f"Could not score the accounts: {md(exc)}. Check the scoring settings and segment rules on the "
             "Segment Builder page, or the accounts file on the Data page.")
    st.stop()

reps = ds.reps
REP_LABELS = rep_names_with_details(ds)
rep_names = {}
if not reps.empty and R.rep_id in reps.columns:
    rep_names = dict(zip(reps[R.rep_id].astype(str), reps[R.name].astype(str)))

# ---- owners: today or the active scenario's plan ------------------------------------------------
scn = get_active_scenario()
plan = getattr(scn, "assignment", None) if scn is not None else None
if isinstance(plan, pd.DataFrame) and not plan.empty and {S.account_id, S.rep_id} <= set(plan.columns):
    src = st.radio("Owners", ["today", "scenario"], horizontal=True, key="ws_owners",
                   format_func={"today": "Today", "scenario": f"Scenario: {md(scn.name)}"}.get,
                   help="Show coverage with today's owners or with the plan of the scenario open in the "
                        "Scenario Editor.")
    if src == "scenario":
        new_owner = pd.Series(plan[S.rep_id].astype("string").to_numpy(),
                              index=plan[S.account_id].astype("string").to_numpy())
        new_owner = new_owner[~new_owner.index.duplicated()]
        enr = enr.copy()
        mapped = enr[A.account_id].astype("string").map(new_owner)
        enr[A.owner_id] = mapped.fillna(enr[A.owner_id].astype("string"))

# ---- filters ----------------------------------------------------------------------------------
with st.container(border=True):
    f1, f2, f3, f4, f5 = st.columns(5)
    segs = [s for s in pd.unique(enr[X.segment].dropna()).tolist()]
    sel_seg = f1.multiselect("Segment", segs, key="ws_segment", placeholder="All segments")
    inds = sorted(enr[A.industry].dropna().astype(str).unique().tolist()) if A.industry in enr.columns else []
    sel_ind = f2.multiselect("Industry", inds, key="ws_industry", placeholder="All industries")
    products = [ALL] + scoring.product_names
    sel_prod = f3.selectbox("Product line", products, key="ws_product",
                            help="Potential, ARR and whitespace of one product line instead of all.")
    sel_tier = f4.multiselect("Tier", ["A", "B", "C", "D"], key="ws_tier", placeholder="All tiers")
    owners = sorted(enr[A.owner_id].dropna().astype(str).unique().tolist()) if A.owner_id in enr.columns else []
    sel_own = f5.multiselect("Owner", owners, key="ws_owner", placeholder="All owners",
                             format_func=lambda r: rep_label(r, REP_LABELS))

mask = np.ones(len(enr), dtype=bool)
if sel_seg:
    mask &= enr[X.segment].isin(sel_seg).fillna(False).to_numpy()
if sel_ind:
    mask &= enr[A.industry].isin(sel_ind).fillna(False).to_numpy()
if sel_tier:
    mask &= enr[X.tier].isin(sel_tier).fillna(False).to_numpy()
if sel_own:
    mask &= enr[A.owner_id].isin(sel_own).fillna(False).to_numpy()

book = enr
if sel_prod != ALL:
    w = _by_product(ds, enr, s_dict, r_dict)
    wp = w[w[P.product] == sel_prod]
    book = enr.copy()
    book[X.potential] = wp[X.potential].to_numpy()
    book[X.whitespace] = wp[X.whitespace].to_numpy()
    book[TOTAL_ARR] = wp[P.arr].to_numpy()
view = book[mask]

if view.empty:
    st.warning("No account matches these filters. Clear a filter above to see the map.")
    st.stop()

k1, k2, k3, k4, k5 = st.columns(5)
pot, arr, ws = view[X.potential].sum(), view[TOTAL_ARR].sum(), view[X.whitespace].sum()
k1.metric("Accounts", f"{len(view):,}")
k2.metric("Potential", money(pot))
k3.metric("ARR", money(arr))
k4.metric("Whitespace", money(ws))
k5.metric("Penetration", f"{arr / pot:.1%}" if pot else "n/a")

# ---- map --------------------------------------------------------------------------------------
def draw_map(level: str, metric: str, show_points: bool, colour_by: str) -> None:
    """The choropleth and the account points; a warning instead when the data has no areas."""
    try:
        am = area_metrics(view, level, reps, book=book)
    except ValueError as exc:
        st.error(f"Cannot draw the {level} map: {md(exc)}. Add the column on the Data page (ZIP codes fill "
                 "state and county).")
        return

    names = _area_names(level)
    am = am[am["area"].isin(names.keys())]
    if am.empty:
        st.warning(f"No account has a known {level}: check the state/ZIP columns on the Data page.")
        return
    am["label"] = am["area"].map(names)
    z = am[metric].astype(float)
    zmax = float(np.nanquantile(z, 0.95)) if z.notna().any() else 1.0
    zmin = float(np.nanmin(z)) if z.notna().any() else 0.0
    if not np.isfinite(zmax) or zmax <= zmin:
        zmax = zmin + 1.0
    # Hover: the area's name as text, its numbers as one float array (plotly sends numeric arrays as
    # compact binary; per-area strings of every figure made the county map's payload 3x larger).
    area_cd = am[["accounts", "potential", "arr", "whitespace", "penetration", "covering_reps", "rep_fte",
                  "coverage"]].astype("float32").fillna(0.0).to_numpy()
    scales = {"whitespace": "Blues", "potential": "Purples", "penetration": "Greens", "coverage": "OrRd"}
    fig = go.Figure(go.Choroplethmap(
        uid="ws_areas", geojson=boundary_url(level), locations=am["area"].to_numpy(dtype=object), z=z.to_numpy(dtype=float), zmin=zmin, zmax=zmax, colorscale=scales[metric],
        marker_line_width=0.4 if level == "state" else 0.1, marker_line_color="#888", marker_opacity=0.85,
        text=_pt(am["label"]), customdata=area_cd, name=METRICS[metric],
        hovertemplate=("<b>%{text}</b><br>Accounts: %{customdata[0]:,.0f}<br>Potential: $%{customdata[1]:,.0f}"
                       "<br>ARR: $%{customdata[2]:,.0f}<br>Whitespace: $%{customdata[3]:,.0f}<br>Penetration: "
                       "%{customdata[4]:.1%}<br>Covering reps: %{customdata[5]:.0f} (%{customdata[6]:.2f} FTE)"
                       "<br>Potential per rep FTE: $%{customdata[7]:,.0f}<extra></extra>"),
        # a horizontal bar over the Gulf of Mexico: it covers neither coast
        colorbar=dict(title=dict(text=METRICS[metric].split(" (")[0], side="top"), orientation="h", thickness=10,
                      x=0.5, xanchor="center", len=0.3, y=0.02, yanchor="bottom", bgcolor="rgba(255,255,255,0.8)",
                      tickformat=".0%" if metric == "penetration" else "$.2s"),
    ))
    # State outlines over the areas, from the shipped boundaries, at both levels: a layer that stays the
    # same from one figure to the next keeps its tiles (plotly.js loads a layer's source again only when
    # it changes), so a switch of level tiles only the new areas.
    layers = [dict(sourcetype="geojson", source=boundary_url("state"), type="line", color="#666", line=dict(width=0.6))]

    n_points = 0
    if show_points and {A.lat, A.lon} <= set(view.columns):
        pcols = [c for c in (A.lat, A.lon, A.name, A.owner_id, A.industry, X.segment, X.tier, X.potential_score,
                             X.potential, X.whitespace, TOTAL_ARR) if c in view.columns]
        pts = view.loc[view[A.lat].notna().to_numpy() & view[A.lon].notna().to_numpy(), pcols]
        if len(pts) > MAX_POINTS:  # the largest whitespace first: those are the ones to see
            pts = pts.nlargest(MAX_POINTS, X.whitespace)
        n_points = len(pts)
        col = A.owner_id if colour_by == "owner" else X.segment
        cats = pts[col].astype("string").fillna("(none)")
        if colour_by == "owner":  # one colour per rep, the same on every page and filter
            rep_col = dataset_rep_colours(cats.unique())
            # the colour bar counts up from the bottom: reverse order reads A to Z from the top
            order = sorted(cats.unique().tolist(), key=lambda r: rep_names.get(r, r), reverse=True)
            colours = [colour_of(r if r != "(none)" else None, rep_col) for r in order]
            labels = [plot_text(rep_names.get(c, c)) for c in order]
        else:
            order = sorted(cats.unique().tolist())
            colours = [SEGMENT_PALETTE[i % len(SEGMENT_PALETTE)] for i in range(len(order))]
            labels = [plot_text(c) for c in order]
        codes = cats.map({c: i for i, c in enumerate(order)}).to_numpy(dtype=float)
        owner_label = pts[A.owner_id].astype("string").fillna("(none)").map(lambda r: rep_names.get(r, r)) \
            if A.owner_id in pts.columns else pd.Series("(none)", index=pts.index)
        # names as text (the only strings), numbers as float32 (binary, 4 bytes each): about 60 bytes a point
        point_text = "<b>" + _pt(pts[A.name]) + "</b> · Tier " + _pt(pts[X.tier]) + "<br>" + _pt(owner_label)
        point_cd = pts[[X.potential_score, X.potential, TOTAL_ARR, X.whitespace]].astype("float32").fillna(0.0).to_numpy()
        n = len(order)
        show_bar = n <= 45
        fig.add_trace(go.Scattermap(
            uid="ws_points", below="",  # on top; the areas go under its first layer (see below)
            lat=pts[A.lat].to_numpy(dtype=float), lon=pts[A.lon].to_numpy(dtype=float), mode="markers", name="Accounts",
            marker=dict(size=6, color=codes, cmin=-0.5, cmax=n - 0.5, colorscale=discrete_scale(colours), opacity=0.85,
                        showscale=show_bar,
                        colorbar=dict(title=dict(text=colour_by.title(), side="top"), x=1.0, xanchor="right", thickness=10,
                                      tickvals=list(range(n)), ticktext=labels, len=1.0,
                                      tickfont=dict(size=9)) if show_bar else None),
            text=point_text.to_numpy(dtype=object), customdata=point_cd,
            hovertemplate=("%{text}<br>Score %{customdata[0]:.0f} · potential $%{customdata[1]:,.0f}<br>ARR "
                           "$%{customdata[2]:,.0f} · whitespace $%{customdata[3]:,.0f}<extra></extra>"),
        ))
    if n_points:
        # Each trace its own `below`: plotly.js removes and adds again, on every new figure, the layers of
        # traces sharing one (the default, ""), and MapLibre then tiles their sources twice (once for the
        # re-added layers, once for the new data). On a first draw the points' layer does not exist yet:
        # plotly.js logs a warning, puts the areas on top, then the points over them.
        fig.update_traces(below="plotly-trace-layer-ws_points-fill", selector=dict(uid="ws_areas"))
    fig.update_layout(
        map=dict(style="white-bg", center=dict(lat=38.5, lon=-94.0), zoom=3.3, layers=layers),
        uirevision="ws_map",  # the map stays where the user panned and zoomed it when the figure changes
        height=580, margin=dict(l=0, r=0, t=10, b=0), showlegend=False,
    )
    # drawn on the map already there (st.plotly_chart would mount a new one); the other level's boundaries load meanwhile
    plotly_map(fig, key="ws_map", prefetch=(boundary_url("county" if level == "state" else "state"),))
    if n_points and n_points < len(view):
        st.caption(f"Points: the {n_points:,} accounts with the most whitespace of the {len(view):,} in view (every one "
                   "counts in the areas). Filter by segment, industry, tier or owner to see the others as points.")
    elif show_points and not n_points:
        st.caption("No account has coordinates (lat/lon or a ZIP code) to draw as a point.")


@st.fragment
def map_section() -> None:
    """The map's own controls and the map: a fragment, so switching states and counties (or what
    colours the areas and points) redraws the map only, not the tables below."""
    c1, c2, c3, c4 = st.columns([1, 2, 1, 1])
    level = c1.radio("Areas", ["state", "county"], horizontal=True, key="ws_level", format_func=str.title)
    metric = c2.selectbox("Colour areas by", list(METRICS), key="ws_metric", format_func=METRICS.get)
    show_points = c3.toggle("Account points", value=True, key="ws_points")
    colour_by = c4.radio("Points by", ["owner", "segment"], horizontal=True, key="ws_colour", disabled=not show_points)
    draw_map(level, metric, show_points, colour_by)


map_section()

# ---- below the map: one analysis at a time ---------------------------------------------------------
# Only the open tab is drawn (the others on a click): a first open or a filter change draws the map and
# two tables, not six tables and a heatmap (issue 16: at 50,000 accounts the browser's drawing is the wait).
tab_top, tab_svc, tab_fam, tab_hm = st.tabs(
    ["Largest whitespace", "Under- and over-served", "Corporate families", "Industry x size"],
    key="ws_tab", on_change="rerun")

if tab_top.open:
    with tab_top:
        t1, t2 = st.columns([3, 2])
        t1.markdown("**The 50 accounts with the most whitespace**")
        top_cols = [c for c in (A.account_id, A.name, A.state, A.industry, A.owner_id, X.segment, X.tier, X.potential_score,
                                X.potential, TOTAL_ARR, X.whitespace) if c in view.columns]
        top = view.nlargest(50, X.whitespace)[top_cols].copy()
        if A.owner_id in top.columns:
            top[A.owner_id] = top[A.owner_id].astype("string").map(lambda r: rep_names.get(r, r) if pd.notna(r) else r)
        t1.dataframe(top.round({X.potential: 0, TOTAL_ARR: 0, X.whitespace: 0, X.potential_score: 0}), hide_index=True,
                     width="stretch", height=320,
                     column_config={A.account_id: "Account", A.name: "Name", A.state: "State", A.industry: "Industry",
                                    A.owner_id: "Owner", X.segment: "Segment", X.tier: "Tier",
                                    X.potential_score: st.column_config.NumberColumn("Score", format="%d"),
                                    X.potential: st.column_config.NumberColumn("Potential ($)", format="localized"),
                                    TOTAL_ARR: st.column_config.NumberColumn("ARR ($)", format="localized"),
                                    X.whitespace: st.column_config.NumberColumn("Whitespace ($)", format="localized")})
        t2.markdown("**By product line**")
        wprod = _by_product(ds, enr, s_dict, r_dict)
        in_view = isin(wprod[A.account_id], view[A.account_id])
        byp = wprod[in_view].groupby(P.product, sort=False)[[X.potential, P.arr, X.whitespace]].sum()
        byp["penetration"] = byp[P.arr] / byp[X.potential].replace(0, np.nan)
        byp["holders"] = wprod[in_view & (wprod[P.arr] > 0).to_numpy()].groupby(P.product, sort=False).size()
        byp["holders"] = byp["holders"].fillna(0).astype(int)
        t2.dataframe(byp.reset_index().round({X.potential: 0, P.arr: 0, X.whitespace: 0}), hide_index=True, width="stretch",
                     column_config={P.product: "Product line",
                                    X.potential: st.column_config.NumberColumn("Potential ($)", format="localized"),
                                    P.arr: st.column_config.NumberColumn("ARR ($)", format="localized"),
                                    X.whitespace: st.column_config.NumberColumn("Whitespace ($)", format="localized"),
                                    "penetration": st.column_config.NumberColumn("Penetration", format="percent"),
                                    "holders": st.column_config.NumberColumn("Accounts holding it")})

if tab_svc.open:
    with tab_svc:
        b1, b2 = st.columns([1, 3])
        by = b1.selectbox("Compare", ["state", "segment", "industry", "county"], key="ws_by", format_func=str.title)
        band = b2.slider("Balanced band around the median (potential per covering rep FTE)", 5, 75, 25, 5, key="ws_band",
                         format="±%d%%")
        try:
            svc = service_table(view, by, reps, band=band / 100, book=book)
        except ValueError as exc:
            st.error(f"Cannot compare by {by}: {md(exc)}.")
            svc = None
        if svc is not None and not svc.empty:
            if by in ("state", "county"):
                svc.insert(1, "name", svc["group"].map(_area_names(by)).fillna(svc["group"]))
            cnt = svc["status"].value_counts()
            st.caption(" · ".join(f"**{cnt.get(s, 0)}** {s}" for s in ("under-served (no rep)", "under-served", "balanced",
                                                                            "over-served")) +
                       f" — the median is {money(svc.loc[svc['rep_fte'] > 0, 'coverage'].median())} of potential per rep FTE.")
            st.dataframe(
                svc.round({"potential": 0, "whitespace": 0, "arr": 0, "coverage": 0}), hide_index=True, width="stretch", height=320,
                column_config={
                    "group": st.column_config.TextColumn(by.title()), "name": "Name", "status": "Status",
                    "accounts": st.column_config.NumberColumn("Accounts"),
                    "potential": st.column_config.NumberColumn("Potential ($)", format="localized"),
                    "whitespace": st.column_config.NumberColumn("Whitespace ($)", format="localized"),
                    "arr": st.column_config.NumberColumn("ARR ($)", format="localized"),
                    "covering_reps": st.column_config.NumberColumn("Reps"),
                    "rep_fte": st.column_config.NumberColumn("Rep FTE", format="%.2f"),
                    "coverage": st.column_config.NumberColumn("Potential per rep FTE ($)", format="localized"),
                    "vs_median": st.column_config.NumberColumn("vs median", format="%.2fx"),
                },
            )

if tab_fam.open:
    with tab_fam:
        st.caption("A family is valued as its whole corporate tree (all subsidiaries, in every state), not only the "
                   "accounts the filters show. Families with at least one account in the current view, largest "
                   "whitespace first.")
        fam_cols = ["family_arr", "family_potential", "family_whitespace", "family_employees", "family_opportunities"]
        if all(c in enr.columns for c in fam_cols) and X.ultimate_parent_id in view.columns:
            fam = view.drop_duplicates(X.ultimate_parent_id)[[X.ultimate_parent_id, X.family_size, *fam_cols]]
            fam = fam[fam[X.family_size] > 1]
            if sel_prod != ALL:
                st.caption("Family figures are for all product lines.")
            if fam.empty:
                st.info("No account in this view belongs to a corporate family of two or more accounts.")
            else:
                names_by_id = pd.Series(enr[A.name].astype(str).to_numpy(), index=enr[A.account_id].astype(str).to_numpy())
                names_by_id = names_by_id[~names_by_id.index.duplicated()]
                fam = fam.nlargest(25, "family_whitespace").copy()
                fam.insert(1, "parent", fam[X.ultimate_parent_id].astype(str).map(names_by_id))
                in_view = view.groupby(X.ultimate_parent_id).size()
                fam.insert(3, "in_view", fam[X.ultimate_parent_id].map(in_view).fillna(0).astype(int))
                st.dataframe(
                    fam.round({"family_arr": 0, "family_potential": 0, "family_whitespace": 0}), hide_index=True,
                    width="stretch", height=300,
                    column_config={
                        X.ultimate_parent_id: "Ultimate parent", "parent": "Name",
                        X.family_size: st.column_config.NumberColumn("Accounts in family"),
                        "in_view": st.column_config.NumberColumn("In this view"),
                        "family_arr": st.column_config.NumberColumn("Family ARR ($)", format="localized"),
                        "family_potential": st.column_config.NumberColumn("Family potential ($)", format="localized"),
                        "family_whitespace": st.column_config.NumberColumn("Family whitespace ($)", format="localized"),
                        "family_employees": st.column_config.NumberColumn("Employees", format="localized"),
                        "family_opportunities": st.column_config.NumberColumn("Opportunities"),
                    })

if tab_hm.open:
    with tab_hm:
        st.caption("Whitespace against coverage, by industry and company size.")
        hm_metric = st.radio("Cell colour", ["whitespace_per_rep", "whitespace"], horizontal=True, key="ws_hm",
                             format_func={"whitespace_per_rep": "Whitespace per covering rep FTE (at least 1)",
                                          "whitespace": "Whitespace"}.get)
        h = heatmap_data(view, reps, book=book)
        if h.empty:
            st.info("No industry or size data to show.")
        else:
            bands = [b for b in (*SIZE_BAND_NAMES, "unknown") if b in set(h[SIZE_BAND])]
            zt = h.pivot(index="industry", columns=SIZE_BAND, values=hm_metric).reindex(columns=bands)
            wt = h.pivot(index="industry", columns=SIZE_BAND, values="whitespace").reindex(columns=bands)
            ft = h.pivot(index="industry", columns=SIZE_BAND, values="rep_fte").reindex(columns=bands)
            nt = h.pivot(index="industry", columns=SIZE_BAND, values="accounts").reindex(columns=bands)
            cd = np.dstack([wt.fillna(0).to_numpy(), ft.fillna(0).to_numpy(), nt.fillna(0).to_numpy()])
            zvals = zt.to_numpy(dtype=float)
            zmax = float(np.nanquantile(zvals, 0.95)) if np.isfinite(zvals).any() else None
            ticks = _nice_ticks(zmax) if zmax else []
            hfig = go.Figure(go.Heatmap(
                z=zt.to_numpy(), x=bands, y=[plot_text(i) for i in zt.index], colorscale="YlOrRd", customdata=cd,
                zmin=0 if zmax else None, zmax=zmax,
                text=[[money(v) if pd.notna(v) else "" for v in row] for row in zt.to_numpy()], texttemplate="%{text}",
                textfont=dict(size=10),
                hovertemplate=("%{y} · %{x} employees<br>Accounts: %{customdata[2]:,}<br>Whitespace: $%{customdata[0]:,.0f}"
                               "<br>Covering rep FTE: %{customdata[1]:.2f}<extra></extra>"),
                # the cells' own money format on the colour bar too ($5.0B, never plotly's $5.0G)
                colorbar=dict(thickness=14, tickvals=ticks, ticktext=[money(v) for v in ticks]) if ticks else dict(thickness=14),
            ))
            hfig.update_layout(height=max(320, 28 * len(zt) + 80), margin=dict(l=0, r=0, t=10, b=0),
                               xaxis_title="Employees", yaxis=dict(autorange="reversed"))
            st.plotly_chart(hfig, width="stretch", key="ws_heatmap")
            st.caption("Cells with high whitespace per covering rep FTE are under-covered: few reps for much untapped "
                       "potential. A cell covered by less than one FTE counts as one, so no cell shows more than its own "
                       "whitespace; a cell no rep covers shows all of it (hover for the FTE). The colour scale stops at "
                       "the 95th percentile.")
