"""Compare: two to four scenarios side by side (KPIs with deltas and the cost of each plan; below them,
one tab drawn at a time: per-rep balance against the target band and deviations, moves and the
rep-to-rep flow, maps, exports) with a presentation view."""
from __future__ import annotations

import datetime as dt
import zlib

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from territory_core.contract import A, S, X
from territory_core.plan.scenarios import METRIC_LABELS, cost_rows, diff_scenarios
from ui import scenario_widgets as W
from ui.access import current_access, refusal
from ui.colors import colour_of, dataset_rep_colours, discrete_scale
from ui.format import md, plot_text
from ui.maps import boundary_url
from ui.plot_map import plotly_map
from ui.notices import reps_notice
from ui.cache import background, shared
from ui.state import data_token, dataset_version, get_active_scenario, get_dataset

ds = get_dataset()
ACTIVE = "__active__"

# The picks outlive any view change: Streamlit forgets a widget's value once a run does not draw it
# (presentation view hides the pickers), so every choice is also kept here and put back.
KEEP = st.session_state.setdefault("_cmp_keep", {})


def _init(key: str, default):
    """Give widget ``key`` its kept value (else ``default``) before it is drawn."""
    if key not in st.session_state:
        st.session_state[key] = KEEP.get(key, default)


def _kept(key: str, default=None):
    """The value of widget ``key``, drawn this run or not."""
    return st.session_state.get(key, KEEP.get(key, default))


def _keep(*keys: str) -> None:
    for k in keys:
        if k in st.session_state:
            KEEP[k] = st.session_state[k]


_init("cmp_present", False)
present = st.toggle("Presentation view", key="cmp_present",
                    help="Clean and large for review meetings: hides the pickers, filters and exports. "
                         "Your picks stay as they are.")
if present:
    st.markdown("""<style>
      [data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"] {display: none;}
      .block-container {padding-top: 4rem; max-width: 100%;}  /* below the header: the toggle stays clickable */
      [data-testid="stMarkdownContainer"] p, [data-testid="stTable"] td, [data-testid="stTable"] th {font-size: 1.2rem;}
      [data-testid="stMetricValue"], [data-testid="stMetricValue"] * {font-size: 3.2rem !important; line-height: 1.15;}
      [data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * {font-size: 1.3rem !important;}
      [data-testid="stMetricDelta"], [data-testid="stMetricDelta"] * {font-size: 1.3rem !important;}
      h1 {font-size: 2.8rem;} h2, h3 {font-size: 2rem;}
      [role="tab"], [role="tab"] p {font-size: 1.3rem;}
    </style>""", unsafe_allow_html=True)

st.title("Compare scenarios")
reps_notice(ds)  # no reps, or owners that are not reps: what is missing and how to add it


# ============================================================================ pick scenarios
def _label(scn) -> str:
    if scn.is_today if hasattr(scn, "is_today") else scn.id is None and scn.name == W.TODAY_LABEL:
        return W.TODAY_LABEL
    if scn.version and scn is active and has_active:  # a saved version edited in the editor: not that version
        return f"{scn.name} (v{scn.version} edited)"
    return f"{scn.name} v{scn.version}" if scn.version else f"{scn.name} (unsaved)"


active = get_active_scenario()
# the editor's plan when the store does not hold it: a new scenario, or a saved version edited or re-solved since
has_active = (active is not None and active.assignment is not None and not getattr(active, "is_today", False)
              and not W.is_stored_plan(active))
saved = W.saved_scenarios()
ids, labels = W.scenario_options(saved)
if has_active:
    ids = ids[:1] + [ACTIVE] + ids[1:]
    labels[ACTIVE] = f"Editor: {active.name} " + ("(unsaved)" if active.id is None else
                                                   f"(edited from v{active.version}, not saved)")

_init("cmp_n", 2)
picks: list[tuple[str, int | None]] = []
if not present:
    with st.container(border=True):
        n = st.segmented_control("How many scenarios", [2, 3, 4], key="cmp_n", selection_mode="single") or 2
        _keep("cmp_n")
        cols = st.columns(n)
        for i in range(n):
            with cols[i]:
                default = ids[min(i, len(ids) - 1)] if i < len(ids) else W.TODAY
                key = f"cmp_{i}_id"
                _init(key, default)
                if st.session_state[key] not in ids:
                    st.session_state[key] = default
                sid = st.selectbox("Baseline" if i == 0 else f"Scenario {i + 1}", ids,
                                   format_func=lambda x: labels.get(x, x), key=key)
                _keep(key)
                ver = None
                if sid not in (W.TODAY, ACTIVE):
                    versions = W.version_options(sid)
                    if versions:
                        vkey = f"cmp_{i}_ver_{sid}"
                        if vkey in KEEP and KEEP[vkey] in versions:
                            _init(vkey, KEEP[vkey])
                        ver = st.selectbox("Version", versions, key=vkey,
                                           format_func=lambda v, vs=versions: f"v{v}" + (" (latest)" if v == vs[0] else ""))
                        _keep(vkey)
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

if len(set(picks)) == 1:  # the same plan in every column (e.g. no saved scenario yet): nothing to compare
    st.info("Every column shows the same plan, so nothing changes below. Save a scenario in the Scenario "
            "Editor (or pick another one above) to compare it with this one.")

names = []
for scn in scenarios:
    lab = _label(scn)
    while lab in names:
        lab += "'"
    names.append(lab)
base, base_name = scenarios[0], names[0]
NAMES = W.rep_names(ds, scenarios)  # the dataset's reps and the scenarios' new hires
_settings = W.settings_dicts()
enriched = W.enriched_for(_settings)
accounts = enriched if enriched is not None else ds.accounts


# ============================================================================ KPI table with deltas
kpis = []
for scn in scenarios:
    try:
        kpis.append(W.kpis_for(scn, enriched, _settings))
    except Exception as exc:
        st.error(f"KPIs of {md(_label(scn))} could not be computed: {md(exc)}.")
        st.stop()

st.header("Key figures")
mcols = st.columns(len(scenarios))
for j, (c, nm, k) in enumerate(zip(mcols, names, kpis)):
    c.markdown(f"**{md(nm)}**" + (" · baseline" if j == 0 else ""))
    d_bi = None if j == 0 else round(k.get("balance_index", 0) - kpis[0].get("balance_index", 0), 1)
    c.metric("Balance index", f"{k.get('balance_index', 0):.1f}",
             delta=None if not d_bi else f"{d_bi:+.1f}",  # no arrow for no change
             help="Share of (rep, metric) books inside their target band, 0-100.")
    same = " · balance as the baseline" if d_bi == 0 else ""
    c.caption(f"{k.get('moves', 0):,} moves against today · {W.money(k.get('arr_moved', 0))} ARR moved{same}")

# the cost of each plan against the baseline: what changes hands, and the people it touches
cost_cols = st.columns(len(scenarios))
for j, (c, nm, scn_j) in enumerate(zip(cost_cols, names, scenarios)):
    if j == 0:
        c.caption("Baseline")
        continue
    try:
        cost = W.cost_for(scenarios[0], scn_j, enriched)
    except ValueError as exc:
        c.caption(f"The cost could not be computed: {md(exc)}")
        continue
    with c.expander(f"Cost of the change against {md(names[0])}", expanded=len(scenarios) <= 2):
        for lab, val in cost_rows(cost)[1:]:
            st.markdown(f"**{md(lab)}:** {md(val)}")

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
    shown = {"int": round(d), "num0": round(d), "num1": round(d, 1), "money": round(d, -2) if abs(d) >= 1e3 else round(d),
             "pct": round(d * 100, 1)}[kind]
    if shown == 0:  # nothing that shows at this precision: no arrow, no "+0.0"
        return "no change"
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
st.caption(f"Deltas are against the baseline, {md(base_name)}. Moves and ARR moved count changes against "
           "today's owners.")


def _tolerance(scn, metric) -> float:
    for m in ((scn.settings or {}).get("solver") or {}).get("metrics") or []:
        if m.get("column") == metric or (metric == X.account_count and m.get("column") in ("account_count", "count")):
            return float(m.get("tolerance") or 0.1)
    for other in scenarios:
        for m in ((other.settings or {}).get("solver") or {}).get("metrics") or []:
            if m.get("column") == metric:
                return float(m.get("tolerance") or 0.1)
    return 0.10


def _diff(a, b):
    """diff_scenarios with names, kept per pair of plans (a 50k-account diff is not redone on every
    rerun)."""
    key = (W.scenario_token(a), W.scenario_token(b), data_token(), len(NAMES))
    return shared("diff", key, lambda: diff_scenarios(a, b, ds.accounts, names=dict(NAMES)),
                  spinner="Comparing the plans account by account...")


@st.fragment
def _moves_table(moves: pd.DataFrame, base_name: str, other_name: str) -> None:
    """The filters and the moves list: a fragment, so a filter change redraws only this part."""
    f1, f2, f3, f4 = st.columns(4)
    for k_, d_ in (("cmp_f_from", []), ("cmp_f_to", []), ("cmp_f_arr", 0.0), ("cmp_f_q", "")):
        _init(k_, d_)
    from_ids = sorted(moves["from_rep_id"].dropna().astype(str).unique(), key=lambda r: NAMES.get(r, r))
    to_ids = sorted(moves["to_rep_id"].dropna().astype(str).unique(), key=lambda r: NAMES.get(r, r))
    st.session_state["cmp_f_from"] = [r for r in st.session_state["cmp_f_from"] if r in from_ids]
    st.session_state["cmp_f_to"] = [r for r in st.session_state["cmp_f_to"] if r in to_ids]
    f_from = f1.multiselect("From", from_ids, format_func=lambda r: W.rep_label(r, NAMES), key="cmp_f_from",
                            placeholder="Any rep")
    f_to = f2.multiselect("To", to_ids, format_func=lambda r: W.rep_label(r, NAMES), key="cmp_f_to", placeholder="Any rep")
    f_arr = f3.number_input("ARR at least", min_value=0.0, step=10_000.0, key="cmp_f_arr")
    f_q = f4.text_input("Account, rep or reason contains", key="cmp_f_q", placeholder="e.g. Priya")
    _keep("cmp_f_from", "cmp_f_to", "cmp_f_arr", "cmp_f_q")
    view = moves
    if f_from:
        view = view[view["from_rep_id"].isin(f_from)]
    if f_to:
        view = view[view["to_rep_id"].isin(f_to)]
    if f_arr > 0:
        view = view[view["arr"] >= f_arr]
    if f_q.strip():
        q = f_q.strip()
        hit = pd.Series(False, index=view.index)
        for col in ("name", "reason", "account_id", "from_name", "to_name"):
            hit |= view[col].astype("string").fillna("").str.contains(q, case=False, regex=False)
        view = view[hit]
    st.caption(f"Showing {len(view):,} of {len(moves):,} moves.")
    st.dataframe(view[["name", "reason", "from_name", "to_name", "arr", "account_id"]], hide_index=True, height=320,
                 column_config={"name": st.column_config.TextColumn("Account", width="medium"),
                                "from_name": st.column_config.TextColumn(f"Owner in {base_name}"),
                                "to_name": st.column_config.TextColumn(f"Owner in {other_name}"),
                                "arr": st.column_config.NumberColumn("ARR", format="$%,.0f"),
                                "reason": st.column_config.TextColumn("Why (against the baseline)", width="large"),
                                "account_id": st.column_config.TextColumn("Account id")},
                 width="stretch", key="cmp_moves_table")


# Beyond this many accounts the maps show counties (a bubble per county) rather than a dot per account:
# 50,000 dots draw slowly and merge into blobs.
DETAIL_POINTS = 8000


def _county_names() -> dict:
    """County FIPS -> "Name County, ST" (from the shipped boundaries)."""
    from territory_core.geo import zips as geo

    return geo.area_names("county")


def _areas_job(scn) -> tuple[tuple, object]:
    """The cache key and the computation of a plan's counties against the baseline (plan_areas with
    each county's centre and name), for the maps of a large book."""
    from territory_core.plan.flows import area_centroids, plan_areas

    accounts, plan, baseline = ds.accounts, scn.assignment, base.assignment

    def compute():  # no Streamlit here: it may run in a background thread
        cent = area_centroids("county")  # computed once per process (plan.flows)
        out = plan_areas(accounts, plan, "county", baseline=baseline)
        out = out.merge(cent, on="area", how="inner")
        out["label"] = out["area"].map(_county_names()).fillna(out["area"])
        return out
    return ("plan_areas", (W.scenario_token(scn), W.scenario_token(base), data_token())), compute


# ============================================================================ below the key figures: tabs
# Only the open tab is drawn (the others on a click): at 50,000 accounts the two maps alone cost the browser
# over a second, so a first open draws the key figures and the per-rep bars, not the whole page (issue 16).
# Widgets in a closed tab keep their values (KEEP above), as in the presentation view.
others = list(range(1, len(scenarios)))
tab_rep, tab_moves, tab_maps, tab_export = st.tabs(
    ["Per rep, against the target band", "What changes hands", "Maps", "Export"], key="cmp_tab", on_change="rerun")

# ============================================================================ per-rep bars with the target band
if tab_rep.open:
    with tab_rep:
        # keyed on the data too: a manager's team view must not get another session's loads of the same scenario
        loads = [W.loads_for(scn, enriched, _settings) for scn in scenarios]
        metric_opts = [m for m in metrics_all if any((ld["metric"] == m).any() for ld in loads)]

        if not present:
            if metric_opts:
                _init("cmp_metric", metric_opts[0])
                if st.session_state["cmp_metric"] not in metric_opts:
                    st.session_state["cmp_metric"] = metric_opts[0]
            metric = st.selectbox("Metric", metric_opts, format_func=lambda m: METRIC_LABELS.get(m, m), key="cmp_metric")
            _keep("cmp_metric")
        else:
            metric = _kept("cmp_metric")
            metric = metric if metric in metric_opts else (metric_opts[0] if metric_opts else None)
        if metric is not None:
            bar_cols = st.columns(2) if len(scenarios) > 1 and not present else [st.container()] * len(scenarios)
            for i, (nm, scn, ld) in enumerate(zip(names, scenarios, loads)):
                g = ld[ld["metric"] == metric].sort_values("target", ascending=False)
                tol = _tolerance(scn, metric)
                lo, hi = g["target"] * (1 - tol), g["target"] * (1 + tol)
                inband = (g["value"] >= lo - 1e-9) & (g["value"] <= hi + 1e-9)
                fig = go.Figure()
                fig.add_bar(x=[plot_text(x) for x in g["name"]], y=g["value"], name=plot_text(nm),
                            marker_color=np.where(inband, "#2563eb", "#f59e0b"),
                            hovertemplate="%{x}<br>%{y:,.0f}<extra></extra>")
                fig.add_scatter(x=[plot_text(x) for x in g["name"]], y=g["target"], mode="markers", name=f"Target ±{tol:.0%}",
                                marker=dict(symbol="line-ew", size=14, line=dict(width=2, color="#111827")),
                                error_y=dict(type="data", symmetric=False, array=hi - g["target"], arrayminus=g["target"] - lo,
                                             color="#6b7280", thickness=1.5, width=6),
                                hovertemplate="%{x}<br>target %{y:,.0f}<extra></extra>")
                fig.update_layout(title=dict(text=f"{plot_text(nm)}<br><sup>{METRIC_LABELS.get(metric, metric)}: "
                                                  f"{int(inband.sum())} of {len(g)} reps in band</sup>"),
                                  height=440 if present else 360, showlegend=False, margin=dict(l=10, r=10, t=64, b=10),
                                  xaxis_tickangle=-60, font=dict(size=16 if present else 12))
                with bar_cols[i % len(bar_cols)]:
                    st.plotly_chart(fig, key=f"cmp_bars_{i}")

            st.subheader("Distribution of deviations from target")
            fig = go.Figure()
            for nm, ld in zip(names, loads):
                g = ld[ld["metric"] == metric]
                fig.add_box(y=g["deviation"] * 100, name=plot_text(nm), boxpoints="all", jitter=0.4, pointpos=0,
                            text=[plot_text(x) for x in g["name"]], hovertemplate="%{text}: %{y:+.1f}%<extra></extra>")
            fig.add_hline(y=0, line_dash="dot", line_color="#6b7280")
            fig.update_layout(yaxis_title="Deviation from target (%)", height=380, showlegend=False,
                              margin=dict(l=10, r=10, t=20, b=10), font=dict(size=16 if present else 12))
            st.plotly_chart(fig, key="cmp_dev_box")

# ============================================================================ moves, flow
if tab_moves.open:
    with tab_moves:
        if not present and len(others) > 1:
            _init("cmp_focus", 1)
            if st.session_state["cmp_focus"] not in others:
                st.session_state["cmp_focus"] = 1
            j = st.radio("Compared with the baseline", others, format_func=lambda i: md(names[i]), horizontal=True, key="cmp_focus")
            _keep("cmp_focus")
        else:
            j = _kept("cmp_focus", 1)
            j = j if j in others else 1
        moves = _diff(base, scenarios[j])
        st.markdown(f"**{len(moves):,} accounts** change hands from {md(base_name)} to {md(names[j])}, "
                    f"**{md(W.money(moves['arr'].sum()))}** ARR. Reasons say why, against the baseline.")

        if not present:
            _moves_table(moves, base_name, names[j])

        if len(moves):
            c1, c2 = st.columns([1, 3]) if not present else (None, st.container())
            if c1 is not None:
                _init("cmp_topn", 10)
                _init("cmp_flow_by", "Accounts")
                top_n = c1.slider("Top reps in the flow", 3, 25, key="cmp_topn")
                weigh = c1.radio("Flow size", ["Accounts", "ARR"], key="cmp_flow_by")
                _keep("cmp_topn", "cmp_flow_by")
            else:
                top_n, weigh = _kept("cmp_topn", 10), _kept("cmp_flow_by", "Accounts")
            val = moves["arr"] if weigh == "ARR" else pd.Series(1.0, index=moves.index)
            vol = pd.concat([val.groupby(moves["from_name"]).sum(), val.groupby(moves["to_name"]).sum()], axis=1).fillna(0).sum(axis=1)
            keep_reps = set(vol.sort_values(ascending=False).head(top_n).index)
            fr = moves["from_name"].where(moves["from_name"].isin(keep_reps), "Other reps")
            to = moves["to_name"].where(moves["to_name"].isin(keep_reps), "Other reps")
            flows = pd.DataFrame({"from": fr, "to": to, "n": 1, "arr": moves["arr"].astype(float)}).groupby(
                ["from", "to"], as_index=False)[["n", "arr"]].sum()
            flows["v"] = flows["arr"] if weigh == "ARR" else flows["n"].astype(float)
            left = sorted(flows["from"].unique())
            right = sorted(flows["to"].unique())
            node_labels = [plot_text(x) for x in left] + [plot_text(x) for x in right]
            li = {x: i for i, x in enumerate(left)}
            ri = {x: len(left) + i for i, x in enumerate(right)}
            fig = go.Figure(go.Sankey(
                node=dict(label=node_labels, pad=12, thickness=16,
                          color=["#93c5fd"] * len(left) + ["#86efac"] * len(right)),
                link=dict(source=[li[x] for x in flows["from"]], target=[ri[x] for x in flows["to"]], value=flows["v"].astype(float).tolist(),
                          color="rgba(37,99,235,0.25)", customdata=flows[["n", "arr"]].astype(float).to_numpy(),
                          hovertemplate="%{source.label} → %{target.label}: %{customdata[0]:,.0f} accounts, "
                                        "$%{customdata[1]:,.0f} ARR<extra></extra>")))
            fig.update_layout(title=dict(text=f"Rep-to-rep flow ({weigh.lower()})<br><sup>{plot_text(base_name)} → "
                                              f"{plot_text(names[j])}</sup>"),
                              height=max(420, 26 * max(len(left), len(right))), margin=dict(l=10, r=10, t=64, b=10),
                              font=dict(size=16 if present else 12))
            with c2:
                st.plotly_chart(fig, key="cmp_sankey")
            if not present:  # every flow, with its accounts and ARR (the diagram groups the smaller reps)
                from territory_core.plan.flows import rep_flows

                rf = shared("rep_flows", (W.scenario_token(base), W.scenario_token(scenarios[j]), data_token(), len(NAMES)),
                            lambda: rep_flows(moves))
                with st.expander(f"Every flow between reps: {len(rf):,} from → to pairs"):
                    st.dataframe(rf[["from_name", "to_name", "accounts", "arr"]], hide_index=True, width="stretch",
                                 height=min(360, 38 + 35 * max(1, len(rf))), key="cmp_rep_flows",
                                 column_config={"from_name": st.column_config.TextColumn(f"From (owner in {base_name})"),
                                                "to_name": st.column_config.TextColumn(f"To (owner in {names[j]})"),
                                                "accounts": st.column_config.NumberColumn("Accounts", format="%d"),
                                                "arr": st.column_config.NumberColumn("ARR", format="$%,.0f")})

# ============================================================================ maps side by side
if tab_maps.open:
    with tab_maps:
        j = _kept("cmp_focus", 1)  # the plan the moves tab compares with the baseline
        j = j if j in others else 1

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


        all_reps = {str(r) for scn in scenarios for r in scn.assignment[S.rep_id].dropna().astype(str).unique()}
        COLOURS = dataset_rep_colours(all_reps)  # one colour per rep, the same as on the Whitespace Map
        geo_acc = ds.accounts[[A.account_id, A.name, A.lat, A.lon] + ([A.arr] if A.arr in ds.accounts.columns else [])].copy()
        geo_acc[A.account_id] = geo_acc[A.account_id].astype("string")
        if A.arr not in geo_acc.columns:
            geo_acc[A.arr] = 0.0
        geo_acc[A.arr] = pd.to_numeric(geo_acc[A.arr], errors="coerce").fillna(0.0)
        lines = [{"sourcetype": "geojson", "source": boundary_url("state"), "type": "line", "color": "#9ca3af",
                  "line": {"width": 0.6}}]
        map_h = 460 if present else {2: 400, 3: 320}.get(len(scenarios), 280)  # narrower maps, less height
        map_center, map_zoom = _fit_view(geo_acc[A.lat], geo_acc[A.lon], (1350 if present else 1100) / len(scenarios) - 16,
                                         map_h - 60)
        b_asg = base.assignment[[S.account_id, S.rep_id]].rename(columns={S.rep_id: "base_rep"})
        b_asg[S.account_id] = b_asg[S.account_id].astype("string")
        rep_order = sorted(COLOURS, key=lambda r: NAMES.get(r, r))
        rep_code = {r: i for i, r in enumerate(rep_order)}
        rep_scale = discrete_scale([COLOURS[r] for r in rep_order] + [colour_of(None, COLOURS)])
        has_geo = not geo_acc[[A.lat, A.lon]].dropna().empty
        if not has_geo:
            st.info("The maps need the accounts' locations: no account has a ZIP code or lat/lon. Include the billing "
                    "ZIP (BillingPostalCode) in the accounts export on the Data page.")


        def _codes(reps) -> np.ndarray:
            """Rep ids as numeric codes on the discrete rep scale (sent as binary), the same colour everywhere."""
            codes = pd.Series(reps, dtype="object").astype("string").map(rep_code)
            return codes.fillna(len(rep_order)).to_numpy(dtype="float32")


        def _dot_frames():
            frames = []
            for scn in scenarios:
                a = scn.assignment[[S.account_id, S.rep_id]].copy()
                a[S.account_id] = a[S.account_id].astype("string")
                m = geo_acc.merge(a, on=A.account_id, how="left").dropna(subset=[A.lat, A.lon]).merge(b_asg, on=A.account_id,
                                                                                                        how="left")
                m["moved"] = (m[S.rep_id].astype("string").fillna("") != m["base_rep"].astype("string").fillna("")).to_numpy()
                frames.append(m)
            return frames


        def _receivers(rep_ids, weights) -> str:
            """ "To: ● Ana 120 · ● Ben 80 ..." in each rep's map colour (the largest receivers first)."""
            recv = pd.DataFrame({"r": pd.Series(rep_ids).astype("string").fillna("").to_numpy(),
                                 "n": np.asarray(weights, dtype=float)}).groupby("r")["n"].sum().sort_values(ascending=False)
            chips = [f"<span style='color:{colour_of(r or None, COLOURS)}'>&#9679;</span> "
                     f"{md(NAMES.get(r, r) if r else '(no owner)')} {int(n):,}" for r, n in recv.head(6).items()]
            more = f" · {len(recv) - 6} more" if len(recv) > 6 else ""
            return "<small>To: " + " · ".join(chips) + more + "</small>"


        # Beyond DETAIL_POINTS a map shows counties; click a county to list its accounts that change hands
        n_accounts = int(geo_acc[[A.lat, A.lon]].notna().all(axis=1).sum()) if has_geo else 0
        aggregate = has_geo and n_accounts > DETAIL_POINTS
        map_cols = st.columns(len(scenarios))
        picked_areas: list[tuple[int, str]] = []
        if has_geo and aggregate:
            areas = [shared(kind, key, compute) for (kind, key), compute in map(_areas_job, scenarios)]
            for i, (nm, ar) in enumerate(zip(names, areas)):
                if i == 0:  # the baseline: where every account is, coloured by the rep holding most ARR there
                    pts = ar
                    size = 4.0 + 16.0 * np.sqrt(pts["accounts"].to_numpy(dtype=float) / max(1.0, float(pts["accounts"].max())))
                    codes = _codes(pts["lead_rep_id"])
                    text = [f"<b>{plot_text(lb)}</b><br>{n:,} accounts · {W.money(v)} ARR<br>Most ARR: {plot_text(NAMES.get(r, r))} "
                            f"({sh:.0%} of the accounts) · {k} owner{'s' if k != 1 else ''}"
                            for lb, n, v, r, sh, k in zip(pts["label"], pts["accounts"], pts["arr"], pts["lead_rep_id"],
                                                          pts["lead_share"], pts["reps"])]
                    title = f"{plot_text(nm)}<br><sup>baseline: {len(pts):,} counties, by the owner of the most ARR</sup>"
                else:  # where accounts change hands, sized by the ARR moving, coloured by the rep receiving most
                    pts = ar[ar["moved"].to_numpy() > 0]
                    top = float(pts["moved_arr"].max()) if len(pts) else 1.0
                    size = 5.0 + 15.0 * np.sqrt(pts["moved_arr"].clip(lower=0).to_numpy(dtype=float) / max(top, 1.0))
                    codes = _codes(pts["top_receiver"])
                    text = [f"<b>{plot_text(lb)}</b><br>{n:,} of {t:,} accounts change hands · {W.money(v)} ARR<br>Most to: "
                            f"{plot_text(NAMES.get(r, r))} ({W.money(rv)})"
                            for lb, n, t, v, r, rv in zip(pts["label"], pts["moved"], pts["accounts"], pts["moved_arr"],
                                                          pts["top_receiver"].fillna(""), pts["top_receiver_arr"])]
                    title = (f"{plot_text(nm)}<br><sup>{int(pts['moved'].sum()):,} accounts change hands in {len(pts):,} "
                             f"counties · {W.money(pts['moved_arr'].sum())} ARR</sup>")
                fig = go.Figure(go.Scattermap(
                    lat=pts["lat"].to_numpy(dtype="float32"), lon=pts["lon"].to_numpy(dtype="float32"), mode="markers",
                    marker=dict(size=np.asarray(size, dtype="float32"), color=codes, cmin=-0.5, cmax=len(rep_order) + 0.5,
                                colorscale=rep_scale, showscale=False, opacity=0.75),
                    text=np.asarray(text, dtype=object), customdata=pts["area"].to_numpy(dtype=object),
                    hovertemplate="%{text}<extra></extra>"))
                fig.update_layout(map=dict(style="white-bg", center=map_center, zoom=map_zoom, layers=lines),
                                  height=map_h, margin=dict(l=0, r=0, t=58, b=0), clickmode="event+select",
                                  title=dict(text=title, font=dict(size=16 if present else 13)))
                with map_cols[i]:
                    sel = plotly_map(fig, key=f"cmp_amap_{i}", config={"scrollZoom": False}, clicks=True)
                    picked_areas += [(i, str(p.get("customdata"))) for p in sel if p.get("customdata") is not None]
                    if i and len(pts):
                        st.markdown(_receivers(pts["top_receiver"], pts["moved"]), unsafe_allow_html=True)
            st.caption(f"{n_accounts:,} accounts: each bubble is a county (its size: accounts on the baseline, ARR changing "
                       "hands on the others; its colour: the rep holding the most ARR there, or receiving the most). A rep "
                       "has the same colour on every map and page. Click a county to list its accounts that change hands "
                       "below; the moves table above has every account.")
        elif has_geo:
            frames = _dot_frames()
            arr_max = max([float(m.loc[m["moved"], A.arr].max()) for m in frames if m["moved"].any()] + [1.0])
            for i, (nm, m) in enumerate(zip(names, frames)):
                if i == 0:  # the baseline: every account, coloured by its owner
                    pts = m
                    title = f"{plot_text(nm)}<br><sup>baseline: every account by owner</sup>"
                    opacity = 0.6
                else:  # only what changes hands, sized by ARR, coloured by the receiving rep
                    pts = m[m["moved"].to_numpy()]
                    title = (f"{plot_text(nm)}<br><sup>{len(pts):,} accounts change hands · "
                             f"{W.money(pts[A.arr].sum())} ARR</sup>")
                    opacity = 0.85
                owner_names = [NAMES.get(str(r), str(r)) if pd.notna(r) else "(no owner)" for r in pts[S.rep_id]]
                if i == 0:
                    size = 4.0
                    text = [f"{plot_text(a)}<br>Owner: {plot_text(o)}" for a, o in zip(pts[A.name].astype(str), owner_names)]
                else:
                    size = (5.0 + 15.0 * np.sqrt(pts[A.arr].clip(lower=0).to_numpy(dtype=float) / arr_max)).astype("float32")
                    from_names = [NAMES.get(str(r), str(r)) if pd.notna(r) else "(no owner)" for r in pts["base_rep"]]
                    text = [f"{plot_text(a)}<br>{plot_text(f)} → <b>{plot_text(o)}</b><br>ARR {W.money(v)}"
                            for a, f, o, v in zip(pts[A.name].astype(str), from_names, owner_names, pts[A.arr])]
                # hover text as an array: plotly checks a list item by item (half the figure's build time)
                fig = go.Figure(go.Scattermap(
                    lat=pts[A.lat].to_numpy(dtype="float32"), lon=pts[A.lon].to_numpy(dtype="float32"), mode="markers",
                    marker=dict(size=size, color=_codes(pts[S.rep_id]), cmin=-0.5, cmax=len(rep_order) + 0.5,
                                colorscale=rep_scale, showscale=False, opacity=opacity),
                    text=np.asarray(text, dtype=object), hovertemplate="%{text}<extra></extra>"))
                fig.update_layout(map=dict(style="white-bg", center=map_center, zoom=map_zoom, layers=lines),
                                  height=map_h, margin=dict(l=0, r=0, t=58, b=0),
                                  title=dict(text=title, font=dict(size=16 if present else 13)))
                with map_cols[i]:
                    plotly_map(fig, key=f"cmp_map_{i}", config={"scrollZoom": False})
                    if i and len(pts):
                        st.markdown(_receivers(pts[S.rep_id], np.ones(len(pts))), unsafe_allow_html=True)
            st.caption("Left: the baseline, every account coloured by its owner. The others show only the accounts that change "
                       "hands against the baseline, sized by ARR and coloured by the rep who receives them. A rep has the "
                       "same colour on every map and page; hover a dot for the account and the reps.")
        if picked_areas:  # a county clicked on a map: its accounts that change hands (in that map's plan)
            names_by_area = _county_names()
            county = ds.accounts[[A.account_id, A.county]].astype("string") if A.county in ds.accounts.columns else None
            k_map = max(i for i, _ in picked_areas) or j  # the baseline's map: the plan compared in the table above
            picked = [a for i, a in picked_areas if i in (0, k_map)]
            if county is not None:
                in_area = set(county.loc[county[A.county].isin(picked).fillna(False).to_numpy(), A.account_id])
                mv = _diff(base, scenarios[k_map])  # kept per pair of plans
                sub = mv[mv["account_id"].astype("string").isin(in_area).to_numpy()]
                where = ", ".join(names_by_area.get(a, a) for a in dict.fromkeys(picked))
                st.markdown(f"**{len(sub):,} accounts change hands in {md(where)}** ({md(W.money(sub['arr'].sum()))} ARR), "
                            f"{md(base_name)} → {md(names[k_map])}:")
                st.dataframe(sub[["name", "from_name", "to_name", "arr", "reason", "account_id"]], hide_index=True,
                             height=min(320, 38 + 35 * max(1, len(sub))), width="stretch", key="cmp_area_moves",
                             column_config={"name": st.column_config.TextColumn("Account", width="medium"),
                                            "from_name": st.column_config.TextColumn(f"Owner in {base_name}"),
                                            "to_name": st.column_config.TextColumn(f"Owner in {names[k_map]}"),
                                            "arr": st.column_config.NumberColumn("ARR", format="$%,.0f"),
                                            "reason": st.column_config.TextColumn("Why", width="large"),
                                            "account_id": st.column_config.TextColumn("Account id")})

elif len(ds.accounts) > DETAIL_POINTS and A.county in ds.accounts.columns:
    # the county bubbles' numbers, worked out in the background while the maps tab is closed: opening it
    # then draws at once (0.1-0.2 s of the server's time a plan at 50,000 accounts)
    for (kind, key), compute in map(_areas_job, scenarios):
        background(kind, key, compute)

# ============================================================================ export
if tab_export.open:
    with tab_export:
        if present:
            st.info("The exports are hidden in the presentation view: turn it off (top of the page) to export.")
        else:
            exportable = [i for i, scn in enumerate(scenarios) if not (getattr(scn, "is_today", False))]
            if not exportable:
                st.info("Today's plan needs no export: pick a saved scenario to export its assignment.")
            else:
                opts = [names[i] for i in exportable]
                # The options are the plans' names and the widget is new whenever they change, so the box,
                # the preview and the file always name the same plan.
                pick_key = "cmp_exp_pick_" + format(zlib.crc32("\x1f".join(opts).encode()), "08x")
                want = KEEP.get("cmp_exp_pick_name")
                if pick_key not in st.session_state:
                    st.session_state[pick_key] = want if want in opts else opts[1 if exportable[0] == 0 and len(opts) > 1 else 0]
                e1, e2 = st.columns([2, 1])
                pick = e1.selectbox("Scenario to export", opts, key=pick_key)
                KEEP["cmp_exp_pick_name"] = pick
                k = names.index(pick)
                _init("cmp_exp_date", dt.date.today() + dt.timedelta(days=1))
                eff = e2.date_input("Effective date", key="cmp_exp_date")
                _keep("cmp_exp_date")
                scn = scenarios[k]
                try:
                    from territory_core.plan import export as EX

                    no_export = refusal("export")  # viewers get no owner file (and the core refuses them)
                    exp_cache = st.session_state.setdefault("_cmp_export_cache", {})
                    exp_key = (W.scenario_token(scn), str(eff), dataset_version(), bool(no_export))
                    if exp_key not in exp_cache:
                        exp_cache.clear()  # one plan's file at a time: the one in the box
                        exp_cache[exp_key] = pd.DataFrame(columns=EX.EXPORT_COLUMNS) if no_export else \
                            EX.assignment_export(scn, ds, eff, only_moved=False, access=current_access())
                    full_df = exp_cache[exp_key]
                    n_moved = int(full_df["previous_owner_id"].fillna("").ne(full_df["new_owner_id"].fillna("")).sum())
                    _init("cmp_exp_rows", "moved")
                    rows = st.radio("Rows in the files", ["moved", "all"], key="cmp_exp_rows", horizontal=True,
                                    format_func={"moved": f"Owner changes only ({n_moved:,} owner changes)",
                                                 "all": f"Every account ({len(full_df):,}, for a full reload)"}.get,
                                    help="Owner changes against today's owners: what a CRM upload needs. Every account: "
                                         "a full reload, unchanged owners included.")
                    _keep("cmp_exp_rows")
                    exp_df = full_df[full_df["previous_owner_id"].fillna("").ne(full_df["new_owner_id"].fillna(""))] \
                        if rows == "moved" else full_df
                    # new hires not yet in the CRM (TBH-...): their CRM user id, else their rows go to a separate file
                    ph = EX.placeholder_owners(exp_df)
                    owner_map = {}
                    if len(ph):
                        st.warning(md(f"{len(ph)} new owner(s) in this plan are placeholders for hires not yet in the CRM: "
                                      + ", ".join(f"{NAMES.get(r, r)} ({r}, {n:,} rows)" for r, n in ph.items())
                                      + ". Give each its CRM user id for the Salesforce file, or download their rows as "
                                        "a separate 'to assign' file."))
                        mcols = st.columns(min(3, len(ph)))
                        for i, r in enumerate(ph.index):
                            v = mcols[i % len(mcols)].text_input(f"CRM user id for {md(NAMES.get(r, r))} ({md(r)})",
                                                                 key=f"cmp_owner_map_{r}", placeholder="e.g. 0055g00000ABCDe")
                            if v.strip():
                                owner_map[r] = v.strip()
                        exp_df = EX.apply_owner_map(exp_df, owner_map)
                    ready, to_assign = EX.split_placeholders(exp_df)
                    stem = "".join(ch if ch.isalnum() else "_" for ch in scn.name).strip("_") or "scenario"
                    stem = f"{stem}_v{scn.version}" if scn.version else stem
                    st.markdown(f"Exporting **{md(pick)}**: {len(exp_df):,} rows, {n_moved:,} owner changes against "
                                f"today, effective {eff:%d %b %Y}. Files: `{stem}_…`.")
                    b1, b2, b3, b4 = st.columns(4)
                    # every file is made when its button is pressed, not on every rerun; a press does not rerun the
                    # page (a rerun raced the file's request: the button could stay disabled, spinning, for good)
                    b1.download_button("Assignment CSV", lambda: EX.to_csv_bytes(exp_df), file_name=f"{stem}_assignment.csv",
                                       mime="text/csv", key="cmp_dl_csv", icon=":material/download:",
                                       disabled=bool(no_export), help=md(no_export) or None, on_click="ignore")
                    b2.download_button("Assignment Excel", lambda: EX.to_excel_bytes(exp_df), file_name=f"{stem}_assignment.xlsx",
                                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                                       key="cmp_dl_xlsx", icon=":material/download:",
                                       disabled=bool(no_export), help=md(no_export) or None, on_click="ignore")
                    b3.download_button("Salesforce Data Loader CSV", lambda: EX.to_csv_bytes(EX.salesforce_loader(ready)),
                                       file_name=f"{stem}_salesforce.csv", mime="text/csv", key="cmp_dl_sf",
                                       icon=":material/download:", disabled=bool(no_export), on_click="ignore",
                                       help=md(no_export) or (md(f"Leaves out the {len(to_assign):,} rows whose new owner is "
                                                                 "still a placeholder (see 'To assign').") if len(to_assign) else None))
                    if len(to_assign) and not no_export:
                        st.download_button(f"To assign: {len(to_assign):,} rows owned by placeholders (CSV)",
                                           lambda: EX.to_csv_bytes(to_assign), file_name=f"{stem}_to_assign.csv", mime="text/csv",
                                           key="cmp_dl_to_assign", icon=":material/download:", on_click="ignore")
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
                                       icon=":material/download:", on_click="ignore")
                    if no_export:
                        st.caption(f"Owner files are disabled: {md(no_export)}")
                    st.caption(f"The HTML summary compares {md(pick)} with "
                               f"{md(names[base_i]) if base_i is not None else 'today' + chr(39) + 's plan'}. "
                               "Cells a spreadsheet would run as a formula are made inert.")
                    with st.expander(f"Preview: the first rows of {md(pick)}'s file"):
                        st.dataframe(exp_df.head(20), hide_index=True, width="stretch", key="cmp_exp_preview")
                except Exception as exc:
                    st.error(f"The export could not be prepared: {md(exc)}. Re-solve the scenario in the Scenario Editor "
                             "and try again.")
