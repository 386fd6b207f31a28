"""Compare: two to four scenarios side by side (KPIs with deltas, per-rep balance against the
target band, deviations, moves, rep-to-rep flow, maps) with a presentation view and exports."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import plotly.colors as pc
import plotly.graph_objects as go
import streamlit as st

from territory_core.contract import A, S, X
from territory_core.plan.scenarios import METRIC_LABELS, diff_scenarios, rep_loads
from ui import scenario_widgets as W
from ui.access import current_access, refusal
from ui.format import md, plot_text
from ui.notices import reps_notice
from ui.state import get_active_scenario, get_dataset

ds = get_dataset()
NAMES = W.rep_names(ds)
ACTIVE = "__active__"

present = st.toggle("Presentation view", key="cmp_present",
                    help="Clean and large for review meetings: hides the pickers, filters and exports.")
if present:
    st.markdown("""<style>
      [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none;}
      .block-container {padding-top: 1.5rem; max-width: 100%;}
      [data-testid="stMarkdownContainer"] p, [data-testid="stTable"] td, [data-testid="stTable"] th {font-size: 1.2rem;}
      [data-testid="stMetricValue"], [data-testid="stMetricValue"] * {font-size: 3.2rem !important; line-height: 1.15;}
      [data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * {font-size: 1.3rem !important;}
      [data-testid="stMetricDelta"], [data-testid="stMetricDelta"] * {font-size: 1.3rem !important;}
      h1 {font-size: 2.8rem;} h2, h3 {font-size: 2rem;}
    </style>""", unsafe_allow_html=True)

st.title("Compare scenarios")
reps_notice(ds)  # no reps, or owners that are not reps: what is missing and how to add it


# ============================================================================ pick scenarios
def _label(scn) -> str:
    if scn.is_today if hasattr(scn, "is_today") else scn.id is None and scn.name == W.TODAY_LABEL:
        return W.TODAY_LABEL
    return f"{scn.name} v{scn.version}" if scn.version else f"{scn.name} (unsaved)"


active = get_active_scenario()
has_active = active is not None and active.assignment is not None and active.id is None and not getattr(active, "is_today", False)
saved = W.saved_scenarios()
ids, labels = W.scenario_options(saved)
if has_active:
    ids = ids[:1] + [ACTIVE] + ids[1:]
    labels[ACTIVE] = f"Editor: {active.name} (unsaved)"

if "cmp_n" not in st.session_state:
    st.session_state["cmp_n"] = 2
picks: list[tuple[str, int | None]] = []
if not present:
    with st.container(border=True):
        n = st.segmented_control("How many scenarios", [2, 3, 4], key="cmp_n", selection_mode="single") or 2
        cols = st.columns(n)
        for i in range(n):
            with cols[i]:
                default = ids[min(i, len(ids) - 1)] if i < len(ids) else W.TODAY
                key = f"cmp_{i}_id"
                if key not in st.session_state or st.session_state[key] not in ids:
                    st.session_state[key] = default
                sid = st.selectbox("Baseline" if i == 0 else f"Scenario {i + 1}", ids,
                                   format_func=lambda x: labels.get(x, x), key=key)
                ver = None
                if sid not in (W.TODAY, ACTIVE):
                    versions = W.version_options(sid)
                    if versions:
                        ver = st.selectbox("Version", versions, key=f"cmp_{i}_ver_{sid}",
                                           format_func=lambda v, vs=versions: f"v{v}" + (" (latest)" if v == vs[0] else ""))
                picks.append((sid, ver))
    st.session_state["cmp_picks"] = picks
else:
    picks = st.session_state.get("cmp_picks") or [(W.TODAY, None)]

loaded = []
for sid, ver in picks:
    try:
        scn = active if sid == ACTIVE else W.load_scenario(sid, ver)
    except Exception as exc:
        st.error(f"Could not load {md(labels.get(sid, sid))} v{ver}: {md(exc)}. Pick another scenario or version.")
        continue
    loaded.append((sid, scn))

# Saved scenarios open on the data they were solved on: when none of them is on the active data,
# the first one's dataset version becomes the active dataset (today's plan is then today's on it).
stored = [scn for sid, scn in loaded if sid not in (W.TODAY, ACTIVE) and scn.assignment is not None]
if stored and not any(W.same_data(scn) for scn in stored):
    note = W.open_scenario_data(stored[0])
    if note and note[0] == "info":  # switched: draw everything again on that data
        st.session_state["cmp_note"] = note
        st.rerun()
    elif note:
        st.warning(md(note[1]))
if st.session_state.get("cmp_note"):
    level, text = st.session_state.pop("cmp_note")
    getattr(st, level)(md(text), icon=":material/dataset:")

scenarios = []
for sid, scn in loaded:
    if scn.assignment is None:
        st.warning(f"{md(_label(scn))} has no solved plan yet: open it in the Scenario Editor and re-solve.")
        continue
    if not W.same_data(scn):
        st.warning(f"{md(_label(scn))} was solved on different data than the active dataset: accounts that are "
                   "not in the active data are left out. Re-solve it in the Scenario Editor to compare like "
                   "with like.")
    scenarios.append(scn)

if len(scenarios) < 2:
    st.info("Pick at least two scenarios with a solved plan. Save one from the Scenario Editor to compare "
            "it with today's plan.")
    st.stop()

names = []
for scn in scenarios:
    lab = _label(scn)
    while lab in names:
        lab += "'"
    names.append(lab)
base, base_name = scenarios[0], names[0]
enriched = W.enriched_for()
accounts = enriched if enriched is not None else ds.accounts


# ============================================================================ KPI table with deltas
@st.cache_data(show_spinner=False, max_entries=32)
def _loads(_scn, token: str, dsv: str, _enriched) -> pd.DataFrame:
    return rep_loads(ds, _scn, _enriched)


kpis = []
for scn in scenarios:
    try:
        kpis.append(W.kpis_for(scn, enriched))
    except Exception as exc:
        st.error(f"KPIs of {md(_label(scn))} could not be computed: {md(exc)}.")
        st.stop()

st.header("Key figures")
mcols = st.columns(len(scenarios))
for c, nm, k in zip(mcols, names, kpis):
    d_bi = None if k is kpis[0] else k.get("balance_index", 0) - kpis[0].get("balance_index", 0)
    c.metric(f"{md(nm)}: balance index", f"{k.get('balance_index', 0):.0f}",
             delta=None if d_bi is None else f"{d_bi:+.1f}")
    c.caption(f"{k.get('moves', 0):,} moves · {W.money(k.get('arr_moved', 0))} ARR moved")

ROWS = [
    ("Balance index (0-100)", lambda k: k.get("balance_index"), "num1", True),
    ("Moves", lambda k: k.get("moves"), "int", False),
    ("ARR moved", lambda k: k.get("arr_moved"), "money", False),
    ("Active reps", lambda k: k.get("reps"), "int", None),
    ("Coverage (accounts with an active owner)", lambda k: k.get("coverage"), "pct", True),
    ("Accounts per rep (mean)", lambda k: (k.get("accounts_per_rep") or {}).get("mean"), "num0", None),
    ("Accounts per rep (max)", lambda k: (k.get("accounts_per_rep") or {}).get("max"), "num0", False),
    ("Whitespace per rep (mean)", lambda k: (k.get("whitespace_per_rep") or {}).get("mean"), "money", None),
    ("Whitespace per rep (min)", lambda k: (k.get("whitespace_per_rep") or {}).get("min"), "money", True),
    ("Travel to accounts (km, mean)", lambda k: k.get("travel_km_mean"), "num0", False),
]
metrics_all = []
for k in kpis:
    for m in (k.get("balance") or {}):
        if m not in metrics_all:
            metrics_all.append(m)
for m in metrics_all:
    lab = METRIC_LABELS.get(m, m)
    ROWS.append((f"{lab}: spread (CV)", lambda k, m=m: ((k.get("balance") or {}).get(m) or {}).get("cv"), "pct", False))
    ROWS.append((f"{lab}: worst deviation", lambda k, m=m: ((k.get("balance") or {}).get(m) or {}).get("max_deviation"), "pct", False))


def _fmt(v, kind):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    return {"int": f"{int(round(v)):,}", "num0": f"{v:,.0f}", "num1": f"{v:,.1f}", "money": W.money(v),
            "pct": W.pct(v)}[kind]


def _fmt_delta(d, kind, better_up):
    if d is None or (isinstance(d, float) and np.isnan(d)):
        return "-"
    if abs(d) < 1e-12:
        return "="
    s = {"int": f"{int(round(d)):+,}", "num0": f"{d:+,.0f}", "num1": f"{d:+,.1f}",
         "money": ("+" if d > 0 else "") + W.money(d), "pct": f"{d * 100:+.1f} pts"}[kind]
    if better_up is None:
        return s
    good = (d > 0) == better_up
    return f"{s} {'▲' if d > 0 else '▼'}{' better' if good else ' worse'}"


table = {"KPI": [r[0] for r in ROWS]}
for j, (nm, k) in enumerate(zip(names, kpis)):
    vals = [r[1](k) for r in ROWS]
    table[nm] = [_fmt(v, r[2]) for v, r in zip(vals, ROWS)]
    if j > 0:
        bvals = [r[1](kpis[0]) for r in ROWS]
        table[f"Δ {nm}"] = [_fmt_delta(None if v is None or b is None else v - b, r[2], r[3])
                            for v, b, r in zip(vals, bvals, ROWS)]
kpi_df = pd.DataFrame(table)
kpi_df = kpi_df[~(kpi_df[names].eq("-").all(axis=1))]
if present:
    st.table(kpi_df.set_index("KPI").rename(columns=md))  # st.table reads Markdown
else:
    st.dataframe(kpi_df, hide_index=True, width="stretch", height=min(36 * (len(kpi_df) + 1) + 4, 760))
st.caption(f"Deltas are against the baseline, {md(base_name)}.")

# ============================================================================ per-rep bars with the target band
# keyed on the data too: a manager's team view must not get another session's loads of the same scenario
loads = [_loads(scn, W.scenario_token(scn), W.fingerprint(), enriched) for scn in scenarios]
metric_opts = [m for m in metrics_all if any((ld["metric"] == m).any() for ld in loads)]


def _tolerance(scn, metric) -> float:
    for m in ((scn.settings or {}).get("solver") or {}).get("metrics") or []:
        if m.get("column") == metric or (metric == X.account_count and m.get("column") in ("account_count", "count")):
            return float(m.get("tolerance") or 0.1)
    for other in scenarios:
        for m in ((other.settings or {}).get("solver") or {}).get("metrics") or []:
            if m.get("column") == metric:
                return float(m.get("tolerance") or 0.1)
    return 0.10


st.header("Per rep, against the target band")
if not present:
    metric = st.selectbox("Metric", metric_opts, format_func=lambda m: METRIC_LABELS.get(m, m), key="cmp_metric")
else:
    metric = st.session_state.get("cmp_metric") or (metric_opts[0] if metric_opts else None)
if metric is not None:
    bar_cols = st.columns(2) if len(scenarios) > 1 and not present else [st.container()] * len(scenarios)
    for i, (nm, scn, ld) in enumerate(zip(names, scenarios, loads)):
        g = ld[ld["metric"] == metric].sort_values("target", ascending=False)
        tol = _tolerance(scn, metric)
        lo, hi = g["target"] * (1 - tol), g["target"] * (1 + tol)
        inband = (g["value"] >= lo - 1e-9) & (g["value"] <= hi + 1e-9)
        fig = go.Figure()
        fig.add_bar(x=g["name"].map(plot_text), y=g["value"], name=plot_text(nm),
                    marker_color=np.where(inband, "#2563eb", "#f59e0b"),
                    hovertemplate="%{x}<br>%{y:,.0f}<extra></extra>")
        fig.add_scatter(x=g["name"].map(plot_text), y=g["target"], mode="markers", name=f"Target ±{tol:.0%}",
                        marker=dict(symbol="line-ew", size=14, line=dict(width=2, color="#111827")),
                        error_y=dict(type="data", symmetric=False, array=hi - g["target"], arrayminus=g["target"] - lo,
                                     color="#6b7280", thickness=1.5, width=6),
                        hovertemplate="%{x}<br>target %{y:,.0f}<extra></extra>")
        fig.update_layout(title=f"{plot_text(nm)}: {METRIC_LABELS.get(metric, metric)} ({int(inband.sum())}/{len(g)} reps in band)",
                          height=420 if present else 340, showlegend=False, margin=dict(l=10, r=10, t=50, b=10),
                          xaxis_tickangle=-60, font=dict(size=16 if present else 12))
        with bar_cols[i % len(bar_cols)]:
            st.plotly_chart(fig, key=f"cmp_bars_{i}")

    st.subheader("Distribution of deviations from target")
    fig = go.Figure()
    for nm, ld in zip(names, loads):
        g = ld[ld["metric"] == metric]
        fig.add_box(y=g["deviation"] * 100, name=plot_text(nm), boxpoints="all", jitter=0.4, pointpos=0,
                    text=g["name"].map(plot_text), hovertemplate="%{text}: %{y:+.1f}%<extra></extra>")
    fig.add_hline(y=0, line_dash="dot", line_color="#6b7280")
    fig.update_layout(yaxis_title="Deviation from target (%)", height=380, showlegend=False,
                      margin=dict(l=10, r=10, t=20, b=10), font=dict(size=16 if present else 12))
    st.plotly_chart(fig, key="cmp_dev_box")

# ============================================================================ moves, flow
st.header("What changes hands")
others = list(range(1, len(scenarios)))
if not present and len(others) > 1:
    j = st.radio("Compared with the baseline", others, format_func=lambda i: md(names[i]), horizontal=True, key="cmp_focus")
else:
    j = st.session_state.get("cmp_focus", 1) if st.session_state.get("cmp_focus", 1) in others else 1
moves = diff_scenarios(base, scenarios[j], ds.accounts)
moves["from"] = [W.rep_label(r, NAMES) for r in moves["from_rep_id"]]
moves["to"] = [W.rep_label(r, NAMES) for r in moves["to_rep_id"]]
st.markdown(f"**{len(moves):,} accounts** change hands from {md(base_name)} to {md(names[j])}, "
            f"**{W.money(moves['arr'].sum())}** ARR.")
if not present:
    f1, f2, f3, f4 = st.columns(4)
    f_from = f1.multiselect("From", sorted(moves["from"].unique()), key="cmp_f_from")
    f_to = f2.multiselect("To", sorted(moves["to"].unique()), key="cmp_f_to")
    f_arr = f3.number_input("ARR at least", min_value=0.0, value=0.0, step=10_000.0, key="cmp_f_arr")
    f_q = f4.text_input("Account or reason contains", key="cmp_f_q")
    view = moves
    if f_from:
        view = view[view["from"].isin(f_from)]
    if f_to:
        view = view[view["to"].isin(f_to)]
    if f_arr > 0:
        view = view[view["arr"] >= f_arr]
    if f_q.strip():
        q = f_q.strip()
        view = view[view["name"].fillna("").str.contains(q, case=False, regex=False)
                    | view["reason"].fillna("").str.contains(q, case=False, regex=False)
                    | view["account_id"].fillna("").str.contains(q, case=False, regex=False)]
    st.caption(f"Showing {len(view):,} of {len(moves):,} moves.")
    st.dataframe(view[["account_id", "name", "from", "to", "arr", "reason"]], hide_index=True, height=320,
                 column_config={"arr": st.column_config.NumberColumn("ARR", format="$%,.0f"),
                                "name": "Account"}, width="stretch")

if len(moves):
    c1, c2 = st.columns([1, 3]) if not present else (None, st.container())
    top_n = c1.slider("Top reps in the flow", 3, 25, 10, key="cmp_topn") if c1 else st.session_state.get("cmp_topn", 10)
    weigh = c1.radio("Flow size", ["Accounts", "ARR"], key="cmp_flow_by") if c1 else st.session_state.get("cmp_flow_by", "Accounts")
    val = moves["arr"] if weigh == "ARR" else pd.Series(1.0, index=moves.index)
    vol = pd.concat([val.groupby(moves["from"]).sum(), val.groupby(moves["to"]).sum()], axis=1).fillna(0).sum(axis=1)
    keep = set(vol.sort_values(ascending=False).head(top_n).index)
    fr = moves["from"].where(moves["from"].isin(keep), "Other reps")
    to = moves["to"].where(moves["to"].isin(keep), "Other reps")
    flows = pd.DataFrame({"from": fr, "to": to, "v": val}).groupby(["from", "to"], as_index=False)["v"].sum()
    left = sorted(flows["from"].unique())
    right = sorted(flows["to"].unique())
    node_labels = [plot_text(x) for x in left] + [plot_text(x) for x in right]
    li = {x: i for i, x in enumerate(left)}
    ri = {x: len(left) + i for i, x in enumerate(right)}
    fig = go.Figure(go.Sankey(
        node=dict(label=node_labels, pad=12, thickness=16,
                  color=["#93c5fd"] * len(left) + ["#86efac"] * len(right)),
        link=dict(source=[li[x] for x in flows["from"]], target=[ri[x] for x in flows["to"]], value=flows["v"].astype(float).tolist(),
                  color="rgba(37,99,235,0.25)",
                  hovertemplate="%{source.label} → %{target.label}: %{value:,.0f}<extra></extra>")))
    fig.update_layout(title=f"Rep-to-rep flow ({weigh.lower()}), {plot_text(base_name)} → {plot_text(names[j])}",
                      height=max(420, 26 * max(len(left), len(right))), margin=dict(l=10, r=10, t=50, b=10),
                      font=dict(size=16 if present else 12))
    with c2:
        st.plotly_chart(fig, key="cmp_sankey")

# ============================================================================ maps side by side
st.header("Maps")


@st.cache_resource(show_spinner=False)
def _state_lines() -> dict:
    """State outlines for the maps' line layer: the shipped boundaries simplified for drawing
    (about 0.05 degrees, coordinates to 2 decimals), so four maps stay light."""
    from shapely.geometry import mapping, shape

    from territory_core.geo.zips import states_geojson

    def rnd(c):
        return [rnd(x) for x in c] if isinstance(c[0], (list, tuple)) else [round(c[0], 2), round(c[1], 2)]

    feats = []
    for f in states_geojson()["features"]:
        g = mapping(shape(f["geometry"]).simplify(0.05, preserve_topology=True))
        feats.append({"type": "Feature", "id": f.get("id"), "properties": {},
                      "geometry": {"type": g["type"], "coordinates": rnd(g["coordinates"])}})
    return {"type": "FeatureCollection", "features": feats}


def _palette(n: int) -> list[str]:
    base_cols = pc.qualitative.Dark24 + pc.qualitative.Light24 + pc.qualitative.Alphabet
    return [base_cols[i % len(base_cols)] for i in range(max(n, 1))]


all_reps = sorted({str(r) for scn in scenarios for r in scn.assignment[S.rep_id].dropna().astype(str)})
code = {r: i for i, r in enumerate(all_reps)}
colors = _palette(len(all_reps))
nrep = max(len(all_reps), 1)
scale = []
for i, c in enumerate(colors[:nrep]):
    scale += [[i / nrep, c], [(i + 1) / nrep, c]]
geo_acc = ds.accounts[[A.account_id, A.name, A.lat, A.lon]].copy()
geo_acc[A.account_id] = geo_acc[A.account_id].astype("string")
try:
    lines = _state_lines()
except Exception:
    lines = None
def _fit_view(lat: pd.Series, lon: pd.Series, width_px: float, height_px: float) -> tuple[dict, float]:
    """Centre and zoom that show the accounts (1st-99th percentile box) in a map of this size."""
    lat, lon = pd.to_numeric(lat, errors="coerce").dropna(), pd.to_numeric(lon, errors="coerce").dropna()
    if lat.empty or lon.empty:
        return {"lat": 38.5, "lon": -96.5}, 2.3
    la0, la1 = lat.quantile([0.01, 0.99])
    lo0, lo1 = lon.quantile([0.01, 0.99])
    lat_span = max(float(la1 - la0) * 1.15, 2.0)
    lon_span = max(float(lo1 - lo0) * 1.15, 2.0)
    z_lon = np.log2(width_px * 360.0 / (512.0 * lon_span))
    z_lat = np.log2(height_px * 360.0 / (512.0 * lat_span * 1.35))  # Mercator stretch near 40°N
    return {"lat": float((la0 + la1) / 2), "lon": float((lo0 + lo1) / 2)}, float(max(0.5, min(z_lon, z_lat, 9.0)))


map_h = 460 if present else 360
map_center, map_zoom = _fit_view(geo_acc[A.lat], geo_acc[A.lon], (1350 if present else 1100) / len(scenarios) - 16,
                                 map_h - 40)
has_geo = not geo_acc[[A.lat, A.lon]].dropna().empty
if not has_geo:
    st.info("The maps need the accounts' locations: no account has a ZIP code or lat/lon. Include the billing "
            "ZIP (BillingPostalCode) in the accounts export on the Data page.")
map_cols = st.columns(len(scenarios))
for i, (nm, scn) in enumerate(zip(names, scenarios) if has_geo else []):
    a = scn.assignment[[S.account_id, S.rep_id]].copy()
    a[S.account_id] = a[S.account_id].astype("string")
    m = geo_acc.merge(a, on=A.account_id, how="left").dropna(subset=[A.lat, A.lon])
    b = base.assignment[[S.account_id, S.rep_id]].rename(columns={S.rep_id: "base_rep"})
    b[S.account_id] = b[S.account_id].astype("string")
    m = m.merge(b, on=A.account_id, how="left")
    moved = (m[S.rep_id].astype("string").fillna("") != m["base_rep"].astype("string").fillna("")).to_numpy()
    zc = m[S.rep_id].astype("string").map(code).fillna(0).to_numpy(dtype=float)
    fig = go.Figure(go.Scattermap(
        lat=m[A.lat], lon=m[A.lon], mode="markers",
        marker=dict(size=np.where(moved, 9, 4), color=(zc + 0.5) / nrep, cmin=0, cmax=1, colorscale=scale,
                    opacity=np.where(moved, 1.0, 0.55)),
        text=[f"{plot_text(n)}<br>{plot_text(W.rep_label(r, NAMES))}{'<br><b>moved</b>' if mv else ''}"
              for n, r, mv in zip(m[A.name], m[S.rep_id], moved)],
        hovertemplate="%{text}<extra></extra>"))
    layers = [{"sourcetype": "geojson", "source": lines, "type": "line", "color": "#9ca3af", "line": {"width": 0.6}}] if lines else []
    fig.update_layout(map=dict(style="white-bg", center=map_center, zoom=map_zoom, layers=layers),
                      height=map_h, margin=dict(l=0, r=0, t=36, b=0),
                      title=dict(text=f"{plot_text(nm)} ({int(moved.sum()):,} moved)" if i else plot_text(nm), font=dict(size=16 if present else 13)))
    with map_cols[i]:
        st.plotly_chart(fig, key=f"cmp_map_{i}", config={"scrollZoom": False})
if has_geo:
    st.caption("Each dot is an account coloured by its owner (same colour = same rep on every map); larger dots "
               "changed hands against the baseline.")

# ============================================================================ export
if not present:
    st.header("Export")
    exportable = [i for i, scn in enumerate(scenarios) if not (getattr(scn, "is_today", False))]
    if not exportable:
        st.info("Today's plan needs no export: pick a saved scenario to export its assignment.")
    else:
        e1, e2, e3 = st.columns([2, 1, 1])
        k = e1.selectbox("Scenario to export", exportable, format_func=lambda i: names[i], key="cmp_exp_pick")
        eff = e2.date_input("Effective date", value=dt.date.today() + dt.timedelta(days=1), key="cmp_exp_date")
        only_moved = e3.checkbox("Only accounts that change owner", key="cmp_exp_moved",
                                 help="Against today's owners. Off: every account, for a full reload.")
        scn = scenarios[k]
        try:
            from territory_core.plan import export as EX

            no_export = refusal("export")  # viewers get no owner file (and the core refuses them)
            exp_df = pd.DataFrame(columns=EX.EXPORT_COLUMNS) if no_export else EX.assignment_export(
                scn, ds, eff, only_moved=only_moved, access=current_access())
            stem = "".join(ch if ch.isalnum() else "_" for ch in scn.name).strip("_") or "scenario"
            stem = f"{stem}_v{scn.version}" if scn.version else stem
            b1, b2, b3, b4 = st.columns(4)
            b1.download_button("Assignment CSV", EX.to_csv_bytes(exp_df), file_name=f"{stem}_assignment.csv",
                               mime="text/csv", key="cmp_dl_csv", icon=":material/download:",
                               disabled=bool(no_export), help=md(no_export) or None)
            b2.download_button("Assignment Excel", lambda: EX.to_excel_bytes(exp_df), file_name=f"{stem}_assignment.xlsx",
                               mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                               key="cmp_dl_xlsx", icon=":material/download:",
                               disabled=bool(no_export), help=md(no_export) or None)
            b3.download_button("Salesforce Data Loader CSV", EX.to_csv_bytes(EX.salesforce_loader(exp_df)),
                               file_name=f"{stem}_salesforce.csv", mime="text/csv", key="cmp_dl_sf",
                               icon=":material/download:", disabled=bool(no_export), help=md(no_export) or None)
            kp = kpis[k]

            base_i = 0 if k != 0 else None
            who = W.current_user_name()

            def _html(scn=scn, kp=kp, base_i=base_i):
                html = EX.scenario_summary_html(
                    ds, scn, kp, enriched=enriched,
                    baseline=scenarios[base_i] if base_i is not None else None,
                    baseline_kpis=kpis[base_i] if base_i is not None else None,
                    tolerance=_tolerance(scn, "arr"), title=f"{names[k]}: scenario summary", generated_by=who)
                return html.encode("utf-8") if isinstance(html, str) else html

            b4.download_button("One-page summary (HTML)", _html,
                               file_name=f"{stem}_summary.html", mime="text/html", key="cmp_dl_html",
                               icon=":material/download:")
            n_moved = int(exp_df["previous_owner_id"].fillna("").ne(exp_df["new_owner_id"].fillna("")).sum())
            if no_export:
                st.caption(f"Owner files are disabled: {md(no_export)}")
            else:
                st.caption(f"{len(exp_df):,} rows in the file; {n_moved:,} change owner against today's owners. "
                           "Cells a spreadsheet would run as a formula are made inert.")
        except Exception as exc:
            st.error(f"The export could not be prepared: {md(exc)}.")
