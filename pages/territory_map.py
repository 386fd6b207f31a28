"""Territory Map: design contiguous, compact, balanced territories from counties, ZIP areas or
states, see them on the map, carve them by hand (box or lasso select, then assign), and take
them out: boundaries (GeoJSON, GeoPackage), ZIP/county rules, and a scenario for Compare.

The page draws; territory_core.geo does the work (workflow.prepare / design / check_plan,
territories.dissolve / assignment_rules / design_scenario). Maps draw offline: one
``Choroplethmap`` trace over the units (their geojson sent once), territory outlines as a line
layer, unit centres as a selectable point trace.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from territory_core.contract import A, R
from territory_core.geo import workflow as W
from territory_core.geo.design import DesignError
from territory_core.geo.territories import (assignment_rules, boundaries_bytes, design_scenario,
                                            team_territories)
from territory_core.geo.units import UnitsError, numeric_columns
from ui.format import md, plot_text
from ui.state import dataset_version, get_dataset

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd",
           "#e6550d", "#31a354", "#756bb1", "#636363"]
LEVELS = {"county": "Counties", "zip": "ZIP areas", "state": "States"}
KEY = "tm_design"  # session state: the current design (plain data)


class _Shared(dict):
    """A geojson dict plotly need not deep-copy (it is never modified)."""

    def __deepcopy__(self, memo):
        return self

    def __copy__(self):
        return self


@st.cache_resource(show_spinner="Building units and their adjacency...", max_entries=4)
def _inputs(_accounts, key: tuple, level: str, measures: tuple) -> W.GeoInputs:
    return W.prepare(_accounts, level, measures=list(measures))


@st.cache_resource(show_spinner=False, max_entries=4)
def _unit_geojson(_inputs, key: tuple) -> dict:
    gj = json.loads(_inputs.units[["unit_id", "geometry"]].to_json(drop_id=True))
    for f in gj["features"]:
        f["id"] = f["properties"]["unit_id"]
        f["properties"] = {}
    return _Shared(gj)


def _scale(n: int) -> list:
    out = []
    for i in range(n):
        c = PALETTE[i % len(PALETTE)]
        out += [[i / n, c], [(i + 1) / n, c]]
    return out


ds = get_dataset()
st.title("Territory Map")
st.caption("Design territories from places: each unit (county, ZIP area or state) in exactly one territory, "
           "every territory in one piece, balanced within your tolerances, compact or close to today's map.")

acc_all = ds.accounts
reps = ds.reps
teams = pd.DataFrame()
if len(reps) and {R.region, R.segment} <= set(reps.columns):
    teams = reps[[R.region, R.segment]].astype(str).drop_duplicates().sort_values([R.region, R.segment])
team_labels = [f"{r} · {s}" for r, s in zip(teams.get(R.region, []), teams.get(R.segment, []))]

with st.form("tm_form"):
    c1, c2, c3 = st.columns([1, 1.4, 1.4])
    level = c1.selectbox("Units", list(LEVELS), format_func=LEVELS.get, key="tm_level")
    mode_opts = (["One per rep of a team"] if team_labels else []) + ["A number"]
    mode = c2.radio("Territories", mode_opts, key="tm_mode", horizontal=True)
    team = c2.selectbox("Team", team_labels, key="tm_team", disabled=not team_labels) if team_labels else None
    n_terr = c2.number_input("Number of territories", 2, 200, 8, key="tm_n")
    numeric = numeric_columns(acc_all)
    opts = ["accounts"] + [c for c in numeric if c != "accounts"]
    meas = c3.multiselect("Balance", opts, default=["accounts"], key="tm_measures",
                          help="Each chosen measure (summed over the accounts in a unit) stays within its "
                               "territory's target x (1 ± tolerance); targets follow rep capacity when territories are reps.")
    tol = c3.slider("Tolerance ±", 0.02, 0.6, 0.2, 0.01, key="tm_tol")
    d1, d2, d3, d4 = st.columns(4)
    objective = d1.radio("Objective", ["compactness", "disruption"], key="tm_objective",
                         help="compactness: least sum of distances to each territory's centre unit; "
                              "disruption: fewest units moved from today's owners (needs reps)")
    fixed = d2.checkbox("Centre on reps' home ZIPs", key="tm_fixed")
    tlim = d3.slider("Time limit (s)", 5, 120, 30, key="tm_time")
    method = d4.selectbox("Method", ["auto", "exact", "heuristic"], key="tm_method")
    go_btn = st.form_submit_button("Design territories", type="primary")

if go_btn:
    try:
        if not meas:
            raise DesignError("Choose at least one measure to balance.")
        by_team = mode == "One per rep of a team" and team is not None
        acc = acc_all
        team_ids = None
        if by_team:
            rg, sg = team.split(" · ", 1)
            sel = reps[(reps[R.region].astype(str) == rg) & (reps[R.segment].astype(str) == sg)]
            team_ids = sel[R.rep_id].astype(str).tolist()
            if A.owner_id in acc.columns:
                acc = acc[acc[A.owner_id].astype(str).isin(team_ids)]
        if acc.empty:
            raise DesignError("No accounts in scope: this team owns no accounts.")
        m_cols = tuple(m for m in meas if m != "accounts")
        key = (id(ds), dataset_version(), team, mode)
        inputs = _inputs(acc, key, level, m_cols)
        current = None
        if by_team:
            tt = W.rep_territories(reps, inputs, team_ids, fix_centres=fixed)
            current = W.today_map(acc, inputs, tt["territory"])
        else:
            if fixed:
                raise DesignError("Centres on home ZIPs need territories tied to reps: choose 'One per rep of a team'.")
            if objective == "disruption":
                raise DesignError("Disruption is measured against today's owners: choose 'One per rep of a team'.")
            tt = pd.DataFrame({"territory": [f"T{i + 1}" for i in range(int(n_terr))], "share": 1.0 / int(n_terr)})
        balance = {m: float(tol) for m in meas}
        with st.spinner("Designing territories..."):
            model = W.design(inputs, territories=tt, balance=balance, objective=objective, current=current,
                             time_limit=float(tlim), method=method)
        st.session_state[KEY] = {
            "key": key, "level": level, "measures": m_cols, "balance": balance, "territories": tt,
            "labels": model.labels_.copy() if model.labels_ is not None else None,
            "report": model.report_, "team_ids": team_ids, "names": dict(zip(reps[R.rep_id].astype(str), reps[R.name].astype(str))) if R.name in reps.columns else {},
            "acc_index": acc.index, "carves": 0, "message": None,
        }
    except (DesignError, UnitsError) as exc:
        st.error(md(str(exc)))

state = st.session_state.get(KEY)
if not state:
    st.info("Choose the units, the territories and what to balance, then press **Design territories**.")
    st.stop()

acc = acc_all.loc[acc_all.index.intersection(state["acc_index"])]
inputs = _inputs(acc, state["key"], state["level"], state["measures"])
rep = state["report"]
names = state["names"]
tt = state["territories"]
tnames = tt["territory"].astype(str).tolist()
label_of = lambda t: names.get(t, t)

status = rep.get("status")
text = rep.get("status_text", status)
if status in ("optimal", "feasible"):
    st.success(md(text))
elif status == "out_of_band":
    st.warning(md(text))
else:
    st.error(md(text))
for n in rep.get("notes", []) + list(inputs.notes):
    st.caption(md(n))

if state["labels"] is None:
    st.stop()
labels: pd.Series = state["labels"]

m1, m2, m3, m4, m5 = st.columns(5)
m1.metric("Units", f"{len(labels):,}")
m2.metric("Territories", f"{len(tnames)}")
m3.metric("Objective", "-" if rep.get("objective") is None else f"{rep['objective']:,.4g}")
m4.metric("Gap to bound", "-" if rep.get("gap") is None else f"{rep['gap']:.2%}")
m5.metric("Carves", f"{state['carves']}")

check = W.check_plan(inputs, labels, tt, state["balance"])
if state.get("message"):
    st.info(md(state["message"]))
if state["carves"]:
    if check["ok"]:
        st.success("After carving: every territory is in one piece and within its bands.")
    else:
        st.warning("After carving, this broke:\n\n" + "\n\n".join("- " + md(b) for b in check["broken"]))

# ------------------------------------------------------------------------------ the map
plan = pd.DataFrame({"unit_id": labels.index.astype(str), "territory": labels.to_numpy()})
plan["centre"] = ""
gj_units = _unit_geojson(inputs, state["key"] + (state["level"],))
tidx = {t: i for i, t in enumerate(tnames)}
z = plan["territory"].map(tidx).to_numpy(dtype=float)
uf = W.unit_frame(inputs, labels)
hover = ("<b>" + uf["name"].map(plot_text) + "</b> (" + uf["unit_id"].astype(str) + ")<br>Territory: "
         + uf["territory"].fillna("").map(lambda t: plot_text(label_of(t)))
         + "<br>Accounts: " + uf["accounts"].map("{:,.0f}".format)).to_numpy(dtype=object)
n = len(tnames)
fig = go.Figure(go.Choroplethmap(
    geojson=gj_units, locations=plan["unit_id"].to_numpy(dtype=object), z=z, zmin=-0.5, zmax=n - 0.5,
    colorscale=_scale(n), marker_line_width=0.15, marker_line_color="#ffffff", marker_opacity=0.8,
    hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", name="Units",
    colorbar=dict(title=dict(text="Territory", side="top"), tickvals=list(range(n)),
                  ticktext=[plot_text(label_of(t)) for t in tnames], thickness=10, len=1.0, x=1.0,
                  xanchor="right", tickfont=dict(size=10)) if n <= 45 else None,
    showscale=n <= 45,
))
shapes = W.shapes(inputs, plan)
outline = json.loads(shapes[["territory", "geometry"]].to_json(drop_id=True))
fig.add_trace(go.Scattermap(  # unit centres: what box and lasso select
    lat=uf["lat"].to_numpy(dtype=float), lon=uf["lon"].to_numpy(dtype=float), mode="markers",
    marker=dict(size=4, color="#333", opacity=0.35), customdata=uf["unit_id"].to_numpy(dtype=object),
    hovertext=hover, hovertemplate="%{hovertext}<extra></extra>", name="Unit centres",
))
lab_pts = shapes.set_index("territory").reindex(tnames)
fig.add_trace(go.Scattermap(  # territory labels: a marker per territory with its name on hover
    lat=lab_pts["label_lat"].to_numpy(dtype=float), lon=lab_pts["label_lon"].to_numpy(dtype=float),
    mode="markers", marker=dict(size=14, color=[PALETTE[i % len(PALETTE)] for i in range(n)], opacity=1.0),
    hovertext=[plot_text(f"{label_of(t)}: {int(u)} units") for t, u in zip(tnames, lab_pts["units"].fillna(0))],
    hovertemplate="%{hovertext}<extra></extra>", name="Territories",
))
# frame the bulk of the units (Alaska, Hawaii and far islands do not shrink the mainland)
qlat, qlon = uf["lat"].quantile([0.03, 0.97]), uf["lon"].quantile([0.03, 0.97])
lat0, lon0 = float(qlat.mean()), float(qlon.mean())
span = max(float(qlat.iloc[1] - qlat.iloc[0]), float(qlon.iloc[1] - qlon.iloc[0]) / 1.6, 0.5)
zoom = float(np.clip(np.log2(360.0 / span) - 1.3, 1.5, 9))
fig.update_layout(
    map=dict(style="white-bg", center=dict(lat=lat0, lon=lon0), zoom=zoom,
             layers=[dict(source=outline, type="line", color="#111", line=dict(width=1.6))]),
    height=600, margin=dict(l=0, r=0, t=10, b=0), showlegend=False, dragmode="select",
)
left, right = st.columns([2.2, 1])
with left:
    event = st.plotly_chart(fig, width="stretch", key="tm_map", on_select="rerun",
                            selection_mode=("box", "lasso"), config={"scrollZoom": True})
    st.caption("Outlines: territories (dissolved units). Large dots: one per territory (hover for its name). "
               "Select units with the box or lasso tool, then assign them below.")

with right:
    st.subheader("Balance")
    tab = check["table"]
    for m, tolv in state["balance"].items():
        dev = tab[f"{m}_deviation"].to_numpy(dtype=float)
        colors = np.where(np.abs(dev) <= tolv + 1e-9, "#2ca02c", "#d62728")
        bf = go.Figure(go.Bar(y=[plot_text(label_of(t)) for t in tab["territory"]], x=dev * 100, orientation="h",
                              marker_color=colors, hovertemplate="%{y}: %{x:.1f}%<extra></extra>"))
        bf.add_vrect(x0=-tolv * 100, x1=tolv * 100, fillcolor="#2ca02c", opacity=0.08, line_width=0)
        bf.update_layout(title=dict(text=plot_text(f"{m}: % from target (band ±{tolv:.0%})"), font=dict(size=13)),
                         height=max(160, 24 * len(tab) + 70), margin=dict(l=0, r=10, t=35, b=20),
                         xaxis=dict(ticksuffix="%"), yaxis=dict(autorange="reversed"))
        st.plotly_chart(bf, width="stretch", key=f"tm_bal_{m}")
    pieces = tab[tab["pieces"] != 1]
    if len(pieces):
        st.caption(md("In pieces or empty: " + ", ".join(f"{label_of(t)} ({p})" for t, p in zip(pieces["territory"], pieces["pieces"]))))

# ------------------------------------------------------------------------------ carving
sel_units = []
try:
    pts = event.selection.points if event is not None else []
except AttributeError:
    pts = (event or {}).get("selection", {}).get("points", [])
for p in pts or []:
    cd = p.get("customdata") if isinstance(p, dict) else None
    if isinstance(cd, list):
        cd = cd[0] if cd else None
    if cd is not None:
        sel_units.append(str(cd))
sel_units = sorted(set(sel_units) & set(labels.index.astype(str)))
st.subheader("Carve")
c1, c2, c3 = st.columns([1.2, 1.2, 1])
c1.markdown(f"**{len(sel_units):,}** unit(s) selected" + (
    ": " + md(", ".join(sel_units[:8])) + (" ..." if len(sel_units) > 8 else "") if sel_units else
    " (use the box or lasso tool on the map)"))
to_t = c2.selectbox("Assign the selection to", tnames, format_func=label_of, key="tm_to")
if c3.button("Assign selected units", disabled=not sel_units, key="tm_assign"):
    new = labels.copy()
    before = new.loc[sel_units].value_counts()
    new.loc[sel_units] = to_t
    state["labels"] = new
    state["carves"] += 1
    moved = int((before.index != to_t).astype(int) @ before.to_numpy()) if len(before) else 0
    state["message"] = f"Moved {moved} unit(s) to {label_of(to_t)}."
    st.session_state[KEY] = state
    st.rerun()

# ------------------------------------------------------------------------------ out
st.subheader("Take it out")
plan_full = plan.copy()
centre_of = {}
rules = assignment_rules(inputs.units, plan_full, inputs.level)
o1, o2, o3, o4 = st.columns(4)
o1.download_button("Boundaries (GeoJSON)", boundaries_bytes(shapes, "geojson"), "territories.geojson",
                   "application/geo+json", key="tm_dl_geojson", on_click="ignore")
o2.download_button("Boundaries (GeoPackage)", boundaries_bytes(shapes, "gpkg"), "territories.gpkg",
                   "application/geopackage+sqlite3", key="tm_dl_gpkg", on_click="ignore")
o3.download_button("ZIP / county rules (CSV)", rules.to_csv(index=False).encode(), "territory_rules.csv",
                   "text/csv", key="tm_dl_rules", on_click="ignore")
o4.download_button("Unit plan (CSV)", uf[["unit_id", "name", "territory"]].to_csv(index=False).encode(),
                   "territory_plan.csv", "text/csv", key="tm_dl_plan", on_click="ignore")
st.caption(md(f"{(rules['key_type'] == 'zip').sum():,} ZIP and {(rules['key_type'] == 'county').sum():,} county rules: "
              "a new account falls into the territory of its ZIP, else its county, else its state."))

if state.get("team_ids"):
    s1, s2 = st.columns([2, 1])
    sc_name = s1.text_input("Scenario name", value=f"Territory design {len(tnames)} territories", key="tm_sc_name")
    if s2.button("Save as scenario", key="tm_save"):
        from ui.scenario_widgets import current_user_name, get_store

        scope = pd.Series(acc_all.index.isin(acc.index), index=acc_all.index)
        scn = design_scenario(ds, plan_full, inputs.placement, name=sc_name, report=rep, scope=scope)
        try:
            saved = get_store().save(scn, user=current_user_name(), note="Territory Map design")
            st.success(md(f"Saved '{saved.name}' v{saved.version}: {scn.report['moves']:,} account moves. "
                          "Open it in Compare or the Scenario Editor."))
        except Exception as exc:  # storage says what happened; never a traceback on the page
            st.error(md(f"Not saved: {exc}"))
