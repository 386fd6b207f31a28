"""Territory Health: the page managers open every week.

Every number here comes from territory_core.analyse.kpis (rep_kpis, rollup_kpis, team_summary,
health_flags, kpi_balance, suggest_quotas, quarterly_trend, rep_accounts, rep_pipeline); the
page only filters, formats and draws.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from contextlib import contextmanager

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from territory_core.contract import A, O, R, X
from territory_core.analyse.kpis import (
    BALANCE_METRICS, DEFINITIONS_MD, KPI_LABELS, PERIOD_KINDS, QUOTA_BASES, HealthThresholds, K, Period, capacity_targets,
    data_as_of, flags_by_rep, future_dated, health_flags, kpi_balance, periods_available, quarterly_trend, rep_accounts,
    rep_flag_rank, rep_kpis, rep_pipeline, rollup_kpis, suggest_quotas, team_summary, unowned_accounts,
)
from ui.format import md, plot_text
from ui.notices import reps_notice
from ui.cache import shared
from ui.state import data_token, dataset_version, get_active_scenario, get_dataset, get_setting, set_setting

TODAY_LABEL = "Today's plan"
# The drill-down's column headers: labels and units, not column names.
DRILL_ACCOUNT_LABELS = {
    A.name: st.column_config.TextColumn("Account", width="medium"), X.tier: "Tier",
    X.whitespace: "Whitespace ($)", X.potential: "Potential ($)", A.arr: "ARR ($)", A.open_pipeline: "Open pipeline ($)",
    "last_opportunity": "Last opportunity created", "untouched": "Untouched", X.workload: "Workload (points)",
    A.state: "State", A.industry: "Industry", A.account_id: "Account id",
}
DRILL_PIPELINE_LABELS = {
    "account_name": st.column_config.TextColumn("Account", width="medium"), O.stage: "Stage", O.amount: "Amount ($)",
    O.close_date: "Expected close", O.owner_id: "Deal owner", O.product: "Product", O.created_date: "Created",
    O.opportunity_id: "Opportunity id",
}
KIND_LABELS = {"quarter": "Quarter", "half": "Half year", "year": "Year", "t12m": "Trailing 12 months"}
SEV_RANK = {"high": 2, "medium": 1}


# --------------------------------------------------------------------------------------------
# Formatting
def money(x) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)) or pd.isna(x):
        return "n/a"
    a = abs(x)
    sign = "-" if x < 0 else ""
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if a >= div:
            v = a / div
            return sign + (f"${v:,.0f}{unit}" if v >= 100 else (f"${v:.1f}{unit}" if v >= 10 else f"${v:.2f}{unit}"))
    return f"{sign}${a:,.0f}"


def pct(x) -> str:
    return "n/a" if x is None or pd.isna(x) or not math.isfinite(x) else f"{x:.0%}"


def times(x) -> str:
    return "met" if x is None or pd.isna(x) or x == math.inf else f"{x:.1f}x"


def days(x) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{x:,.0f} d"


def num(x) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{x:,.0f}"


def day(x) -> str:
    return "" if x is None or pd.isna(x) else f"{pd.Timestamp(x):%Y-%m-%d}"


def styled(df: pd.DataFrame, money_cols=(), pct_cols=(), **other):
    """A Styler with the page's number formats (Streamlit shows the Styler's text, sorts on values)."""
    fmt = {**{c: money for c in money_cols if c in df}, **{c: pct for c in pct_cols if c in df},
           **{c: f for c, f in other.items() if c in df}}
    for c in df.columns:
        if c not in fmt and pd.api.types.is_datetime64_any_dtype(df[c]):
            fmt[c] = day
    return df.style.format(fmt, na_rep="n/a")


@contextmanager
def guard(what: str):
    """Show a failure in one part of the page as a message, not a traceback; the rest still draws.
    (st.stop / st.rerun are BaseExceptions and pass through.)"""
    try:
        yield
    except Exception as exc:  # noqa: BLE001 - any data surprise becomes a message
        st.error(f"{what} could not be shown: {md(exc)}. The rest of the page is unaffected; "
                 "check the reps, accounts and opportunities on the Data page (validation names the rows to fix).")


# --------------------------------------------------------------------------------------------
# Cached core calls
def _enriched(settings: dict | None):
    """(Accounts with potential / whitespace / tier, or None when scoring is unavailable; the key
    of the settings they were scored with)."""
    try:
        from ui.cache import settings_key
        from ui.scenario_widgets import enriched_for, settings_dicts

        used = settings if settings else settings_dicts()
        key = f"{settings_key(used.get('scoring'))}|{settings_key(used.get('segment_rules'))}"
        e = enriched_for(used)
        return e, ("none" if e is None else key)
    except Exception:
        return None, "none"


def _scenario_reps(ds, scn):
    """The scenario's reps after its what-if events (new hires, leavers), else today's reps."""
    if scn is None:
        return ds.reps, None
    from territory_core.plan.scenarios import scenario_reps_checked

    reps, note = scenario_reps_checked(ds, scn)
    return reps, (md(note) if note else None)


def _token(scn) -> str:
    if scn is None:
        return "today"
    from ui.scenario_widgets import scenario_token

    return scenario_token(scn)


def _kpis(ds, reps, owner, enriched, plan: str, enriched_key: str, period_json: str,
          untouched_months: int) -> pd.DataFrame:
    """rep_kpis for the data, plan, scoring and period (the process-wide cache: every session on the
    same saved data shares it)."""
    period = Period.from_dict(json.loads(period_json))
    # A running period is measured against the quota due by the data's as-of date (pace), so
    # mid-quarter attainment is not read against the whole quarter's number.
    return shared("rep_kpis", (data_token(), plan, enriched_key, period_json, int(untouched_months)),
                  lambda: rep_kpis(ds.accounts, reps, ds.opportunities, period, owner=owner, enriched=enriched,
                                   untouched_months=untouched_months, pace_to_date=True),
                  spinner="Computing territory KPIs...")


def _trend(ds, rep_ids: tuple, quarters: int, as_of: str) -> pd.DataFrame:
    return shared("quarterly_trend", (data_token(), rep_ids, quarters, as_of),
                  lambda: quarterly_trend(ds.opportunities, ds.accounts, rep_ids=list(rep_ids), quarters=quarters,
                                          as_of=as_of))


# --------------------------------------------------------------------------------------------
st.title("Territory Health")
st.caption("Per-rep KPIs, health flags, balance and quota fit. Sales results (won revenue, win rate, cycle, "
           "deal size) stay with who sold them; book metrics (accounts, ARR, potential, pipeline, workload, "
           "untouched accounts) follow the account's owner in the chosen plan.")

with st.expander("How the numbers are made"):
    st.markdown(DEFINITIONS_MD)

ds = get_dataset()
reps_notice(ds, stop=True)  # no reps: says what is missing and how to add it, and stops
if ds.accounts is None or ds.accounts.empty:
    st.error("No accounts in the active dataset. Load an accounts file on the Data page.")
    st.stop()

thresholds: HealthThresholds = get_setting("health_thresholds", HealthThresholds)

# ---- plan and period -------------------------------------------------------------------------
active = get_active_scenario()
plans = [TODAY_LABEL]
scn_ok = active is not None and getattr(active, "assignment", None) is not None and not getattr(active, "is_today", False)
if scn_ok:
    plans.append(f"Scenario: {active.name}")

c_plan, c_kind, c_period, c_asof = st.columns([2, 1.3, 1.7, 1.1])
plan = c_plan.selectbox("Plan", plans, key="health_plan",
                        help="Today's owners, or the scenario being edited in the Scenario Editor.")
if active is not None and not scn_ok and not getattr(active, "is_today", False):
    c_plan.caption(f"Scenario {md(repr(active.name))} has no assignment yet: solve it in the Scenario Editor to see it here.")
kind = c_kind.selectbox("Period", PERIOD_KINDS, format_func=KIND_LABELS.get, key="health_period_kind")
opps = ds.opportunities if ds.opportunities is not None else pd.DataFrame()
today = dt.date.today()
data_date = data_as_of(opps, today)  # the data's latest fact, never after today
as_of = c_asof.date_input("As of", value=data_date, key=f"health_as_of_{dataset_version()}", format="YYYY-MM-DD",
                          help="The figures' date: today, or the data's last deal when the export is older "
                               "(never a date after today). Set another date to look back.") or data_date
fut = future_dated(opps, today)
if fut["closed"] or fut["created"]:
    parts = [f"{fut['closed']:,} closed deal{'s' if fut['closed'] != 1 else ''} with a close date after today"
             if fut["closed"] else "",
             f"{fut['created']:,} opportunit{'ies' if fut['created'] != 1 else 'y'} created after today"
             if fut["created"] else ""]
    st.warning(f"{' and '.join(p for p in parts if p)} (latest {fut['latest']:%d %b %Y}). Figures are as of "
               f"{as_of:%d %b %Y} at the latest, so those deals count only in the period they are dated in. "
               "Check their dates in the CRM.", icon=":material/event_busy:")
choices = [p for p in periods_available(opps, as_of=as_of) if p.kind == kind] or [Period(kind, as_of)]
period = c_period.selectbox("Which", choices, format_func=lambda p: p.label, key=f"health_period_{kind}")
as_of_note = ("today" if as_of == today else "the data's last deal" if as_of == data_date else "set by you")
elapsed = period.elapsed_fraction(as_of)
running = period.in_progress(as_of)
pace_words = (f"{period.label} is {elapsed:.0%} through on {as_of:%d %b %Y}: attainment is measured against the "
              f"quota due by then ({elapsed:.0%} of the period's)" if running else
              f"attainment against the whole {period.label} quota")
st.caption(f"Data as of {as_of:%d %b %Y} ({as_of_note}) · {period.label}: {period.start:%d %b %Y} to "
           f"{(period.end - pd.Timedelta(days=1)):%d %b %Y} · annual quotas pro-rated x{period.year_fraction:g} · "
           f"{pace_words}")
if opps.empty:
    st.info("No opportunities loaded: closed-won revenue, win rate and cycle are empty, and open pipeline comes "
            "from the accounts' open_pipeline column. Load opportunities on the Data page.")

scn = active if plan != TODAY_LABEL else None
reps_df, ev_warn = _scenario_reps(ds, scn)
if ev_warn:
    st.warning(ev_warn)
settings = dict(getattr(scn, "settings", {}) or {}) if scn is not None else None
enriched, enriched_key = _enriched(settings)
owner = scn.assignment if scn is not None else None

try:
    kp_all = _kpis(ds, reps_df, owner, enriched, _token(scn), enriched_key,
                   json.dumps(period.to_dict()), int(thresholds.untouched_months))
    flags_all = health_flags(kp_all, thresholds)
except (ValueError, KeyError, TypeError) as exc:
    st.error(f"The KPIs could not be computed from the active dataset: {md(exc)}. Check the reps, accounts and "
             "opportunities tables on the Data page (validation names the row and column to fix).")
    st.stop()
_unowned = unowned_accounts(ds.accounts, reps_df, owner)
if len(_unowned):
    _n = len(_unowned)
    with st.expander(f":material/warning: {_n:,} account{'s' if _n != 1 else ''} ({money(_unowned[A.arr].sum())} ARR) "
                     f"{'have' if _n != 1 else 'has'} no owner "
                     "among the reps, so no rep's KPIs count them. Assign them in the Scenario Editor or fix "
                     "accounts.owner_id on the Data page."):
        st.dataframe(styled(_unowned, (A.arr,)), hide_index=True, height=240)
if enriched is None:
    st.info("Scoring is not available for this data, so potential, whitespace and the quota-fairness flag are "
            "left out; workload counts customers 1.5 and prospects 1.")

# ---- filters -----------------------------------------------------------------------------------
def _opts(col):
    return sorted(kp_all[col].dropna().astype(str).unique().tolist()) if col in kp_all else []


f1, f2, f3, f4 = st.columns([1.4, 1, 1, 0.8])
sel_mgr = f1.multiselect("Manager", _opts(K.manager), key="health_f_manager", placeholder="All managers")
sel_seg = f2.multiselect("Segment", _opts(K.segment), key="health_f_segment", placeholder="All segments")
sel_reg = f3.multiselect("Region", _opts(K.region), key="health_f_region", placeholder="All regions")
only_active = f4.toggle("Active reps only", value=True, key="health_f_active")


def _filtered(frame: pd.DataFrame) -> pd.DataFrame:
    """The reps of ``frame`` that the filters keep (the same rule for the plan and for today)."""
    keep = pd.Series(True, index=frame.index)
    for col, sel in ((K.manager, sel_mgr), (K.segment, sel_seg), (K.region, sel_reg)):
        if sel:
            keep &= frame[col].astype(str).isin(sel)
    if only_active:
        keep &= frame[K.active].astype(bool) | (frame[K.accounts] > 0)
    return frame[keep]


# Reps needing action first: the worst flag's score, then the data's order.
_rank = rep_flag_rank(flags_all)
kp = _filtered(kp_all)
kp = kp.assign(_rank=kp[K.rep_id].map(_rank).fillna(0.0)).sort_values("_rank", ascending=False, kind="mergesort")
kp = kp.drop(columns="_rank").reset_index(drop=True)
flags = flags_all[flags_all[K.rep_id].isin(kp[K.rep_id])].reset_index(drop=True)
if kp.empty:
    st.warning("No reps match these filters. Clear a filter above.")
    st.stop()

# ---- summary cards -----------------------------------------------------------------------------
team = team_summary(kp)
n_flagged = flags[K.rep_id].nunique()
st.subheader(f"{'Filtered team' if (sel_mgr or sel_seg or sel_reg) else 'Team'}: {len(kp)} reps · {period.label}"
             + (f" · {md(scn.name)}" if scn is not None else ""))


def _team_scope() -> tuple[str, str] | None:
    """(scope, team words) of the filter that is set: one manager, else one region, else one
    segment; None when no filter names exactly one team."""
    for field, sel, words in (("manager", sel_mgr, "{}'s team"), ("region", sel_reg, "the {} region"),
                              ("segment", sel_seg, "the {} segment")):
        if len(sel) == 1:
            return f"{field}={sel[0]}", words.format(sel[0])
    return None


_scope = _team_scope()
if _scope is not None:
    _flagged = flags[K.rep_id].drop_duplicates().astype(str).tolist()  # worst first
    a1, a2 = st.columns([1, 3], vertical_alignment="center")
    if a1.button("Rebalance this team", key="health_rebalance", icon=":material/tune:", type="primary",
                 help="Opens the Scenario Editor on a new scenario that rebalances only this team's reps and "
                      "accounts, with the flagged reps highlighted."):
        st.session_state["se_open_request"] = {"scope": _scope[0], "highlight": _flagged,
                                               "name": f"Rebalance {_scope[1]}"}
        st.switch_page("pages/scenario_editor.py")
    a2.caption(f"Open the Scenario Editor scoped to {md(_scope[1])} ({len(kp)} reps), with the "
               f"{len(_flagged)} flagged rep{'s' if len(_flagged) != 1 else ''} highlighted.")
cards = [
    ("Closed-won", money(team[K.won_revenue]), (f"of {money(team[K.quota_to_date])} due by {as_of:%d %b} "
                                                 f"({money(team[K.quota])} for {period.label})") if running
     else f"of {money(team[K.quota])} quota"),
    ("Attainment", pct(team[K.attainment]), (f"won / quota due by {as_of:%d %b} ({elapsed:.0%} of {period.label})"
                                             if running else f"won / {period.label} quota")),
    ("Coverage", times(team[K.coverage]), f"{money(team[K.coverage_pipeline])} open / {money(team[K.quota_to_close])} to close"),
    ("Win rate", pct(team[K.win_rate]), f"{num(team[K.won_count])} won of {num(team[K.closed_count])} closed"),
    ("Avg sales cycle", days(team[K.avg_cycle_days]), f"avg deal {money(team[K.avg_deal_size])}"),
    ("Reps to act on", f"{flags.loc[flags['severity'] == 'high', K.rep_id].nunique()} of {len(kp)}",
     f"high flags; {n_flagged} reps with any flag ({len(flags)} flags)"),
]
# With a scenario, book metrics show their change against today's owners under the same filters
# (today's reps the filters keep, leavers included), so like is compared with like.
team_today = None
if scn is not None:
    kp_today = _filtered(_kpis(ds, ds.reps, None, enriched, "today", enriched_key,
                               json.dumps(period.to_dict()), int(thresholds.untouched_months)))
    team_today = team_summary(kp_today) if len(kp_today) else None


def _delta(col, fmt):
    if team_today is None or pd.isna(team.get(col)) or pd.isna(team_today.get(col)):
        return None
    d = team[col] - team_today[col]
    if fmt(abs(d)) in ("0", "$0"):
        return "no change vs today"
    return f"{'+' if d >= 0 else '-'}{fmt(abs(d))} vs today"


cards2 = [
    ("Accounts", num(team[K.accounts]), f"{pct(team[K.untouched_share])} untouched in {thresholds.untouched_months} mo", _delta(K.accounts, num)),
    ("ARR", money(team[K.arr]), "renewal base on the reps' books", _delta(K.arr, money)),
    ("Potential", money(team[K.potential]), "from scoring", _delta(K.potential, money)),
    ("Whitespace", money(team[K.whitespace]), "potential not yet bought", _delta(K.whitespace, money)),
    ("Open pipeline", money(team[K.open_pipeline]), "all open deals on the books", _delta(K.open_pipeline, money)),
    ("Load vs fair", pct(team[K.load_index]), "workload / fair share among segment peers; 100% = even", None),
]
for row in (cards, cards2):
    cols = st.columns(len(row))
    for c, (label, value, sub, *delta) in zip(cols, row):
        c.metric(label, value, delta=(delta[0] if delta else None), delta_color="off", border=True)
        c.caption(sub)

# ---- the rep table -----------------------------------------------------------------------------
fl_text = flags_by_rep(flags)
sev = flags.assign(_r=flags["severity"].map(SEV_RANK)).groupby(K.rep_id)["_r"].max() if len(flags) else pd.Series(dtype=float)
table = pd.DataFrame({
    # what needs action first, readable at 1440 px without scrolling sideways
    "Rep": kp[K.name].astype(str),
    "Flags": kp[K.rep_id].map(fl_text).fillna("").astype(str),
    "Load vs fair": kp[K.load_index],
    "Attainment": kp[K.attainment],
    "Flag count": kp[K.rep_id].map(flags[K.rep_id].value_counts()).fillna(0).astype(int).to_numpy(),
    "Rep ID": kp[K.rep_id].astype(str), "Manager": kp[K.manager].astype("string"),
    "Segment": kp[K.segment].astype("string"), "Region": kp[K.region].astype("string"),
    "Closed-won": kp[K.won_revenue], "Quota": kp[K.quota_to_date],
    "Open pipeline": kp[K.open_pipeline],
    # quota met (nothing left to close): infinite coverage, shown "met", sorts above every number
    "Coverage": kp[K.coverage].mask(kp[K.coverage].isna() & (kp[K.quota_to_close] == 0) & (kp[K.quota] > 0), math.inf),
    "Win rate": kp[K.win_rate],
    "Win rate ($)": kp[K.win_rate_amount], "Cycle (d)": kp[K.avg_cycle_days], "Avg deal": kp[K.avg_deal_size],
    "Accounts": kp[K.accounts], "ARR": kp[K.arr], "Potential": kp[K.potential], "Whitespace": kp[K.whitespace],
    "Workload": kp[K.workload], "Untouched": kp[K.untouched_share],
})
if team_today is not None:  # how the scenario changes each book
    _today_acc = kp_today.set_index(K.rep_id)[K.accounts]
    table.insert(table.columns.get_loc("Accounts") + 1, "Accounts vs today",
                 kp[K.accounts].to_numpy() - kp[K.rep_id].map(_today_acc).fillna(0).to_numpy())


def _bg_attain(v):
    if pd.isna(v):
        return ""
    return "background-color: #fecaca" if v < 0.5 else ("background-color: #fef3c7" if v < 0.9 else "background-color: #bbf7d0")


def _bg_cov(v):
    if pd.isna(v):
        return ""
    return ("background-color: #fecaca" if v < thresholds.coverage_high else
            "background-color: #fef3c7" if v < thresholds.min_coverage else "")


def _bg_load(v):
    if pd.isna(v):
        return ""
    if v > thresholds.overloaded_above or v < thresholds.starved_below:
        far = v > thresholds.overloaded_high or v < thresholds.starved_high
        return "background-color: #fecaca" if far else "background-color: #fef3c7"
    return ""


def _bg_untouched(v):
    return "background-color: #fef3c7" if pd.notna(v) and v > thresholds.max_untouched_share else ""


def _bg_flags(col):
    ranks = kp[K.rep_id].map(sev).fillna(0).to_numpy()
    return ["background-color: #fecaca" if r >= 2 else ("background-color: #fef3c7" if r >= 1 else "") for r in ranks]


styler = (table.style
          .map(_bg_attain, subset=["Attainment"]).map(_bg_cov, subset=["Coverage"])
          .map(_bg_load, subset=["Load vs fair"]).map(_bg_untouched, subset=["Untouched"])
          .apply(_bg_flags, subset=["Flags"], axis=0).apply(_bg_flags, subset=["Flag count"], axis=0)
          .format({**{c: money for c in ("Closed-won", "Quota", "Open pipeline", "Avg deal", "ARR", "Potential", "Whitespace")},
                   **{c: pct for c in ("Attainment", "Win rate", "Win rate ($)", "Load vs fair", "Untouched")},
                   "Coverage": times, "Cycle (d)": lambda v: "n/a" if pd.isna(v) else f"{v:,.0f}",
                   "Accounts": num, "Workload": lambda v: f"{v:,.1f}",
                   **({"Accounts vs today": lambda v: f"{v:+,.0f}"} if "Accounts vs today" in table else {})},
                  na_rep="n/a"))
st.markdown("**Reps**, those needing action first · click a header to sort, select a row to drill into the rep "
            "(tab *Rep drill-down*); colours: red = act now, amber = watch.")
event = st.dataframe(
    styler, hide_index=True, key="health_rep_table", on_select="rerun", selection_mode="single-row",
    column_config={  # number formats come from the Styler above; these add help and widths
        "Rep": st.column_config.TextColumn(pinned=True),
        "Quota": st.column_config.Column("Quota due" if running else "Quota",
                                         help=("Quota due by the as-of date (the period's quota x the share of the "
                                               "period gone)" if running else "Annual quota pro-rated to the period")),
        "Load vs fair": st.column_config.Column(help="Workload / fair share by capacity x ramp among the rep's "
                                                     "segment peers; 100% = a fair share"),
        "Untouched": st.column_config.Column(help=f"Share of accounts with no opportunity created in {thresholds.untouched_months} months"),
        "Coverage": st.column_config.Column(help="Open pipeline in/after the period / quota still to close; 'met' when nothing is left"),
        "Win rate ($)": st.column_config.Column(help="Won amount / closed amount"),
        "Flags": st.column_config.TextColumn(width="large", help="Worst first; the reasons are listed under "
                                                                   "'Flags, worst first'"),
        "Flag count": st.column_config.NumberColumn("Flags (n)", width="small"),
    },
)
_rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
_picked = kp[K.rep_id].iloc[_rows[0]] if _rows and _rows[0] < len(kp) else None
if _picked is not None and _picked != st.session_state.get("_health_row_pick"):
    st.session_state["health_drill_rep"] = _picked  # the drill-down selectbox below follows the row
    st.session_state["health_tab"] = "Rep drill-down"  # and its tab opens
st.session_state["_health_row_pick"] = _picked

with st.expander("Rollups by manager, segment and region"):
    by = st.segmented_control("Roll up by", ["manager", "segment", "region"], default="manager", key="health_rollup_by") or "manager"
    ru = rollup_kpis(kp, by=by)
    st.dataframe(styled(pd.DataFrame({
        by.title(): ru[K.group], "Reps": ru["reps"], "Closed-won": ru[K.won_revenue], "Quota": ru[K.quota],
        "Attainment": ru[K.attainment], "Coverage": ru[K.coverage], "Win rate": ru[K.win_rate],
        "Cycle (d)": ru[K.avg_cycle_days], "Accounts": ru[K.accounts], "ARR": ru[K.arr],
        "Whitespace": ru[K.whitespace], "Load vs fair": ru[K.load_index], "Untouched": ru[K.untouched_share],
    }), ("Closed-won", "Quota", "ARR", "Whitespace"), ("Attainment", "Win rate", "Load vs fair", "Untouched"),
        Coverage=times, **{"Cycle (d)": num, "Accounts": num}), hide_index=True, key="health_rollup_table")

_names = dict(zip(kp[K.rep_id], kp[K.name]))
_n_high = int((flags["severity"] == "high").sum())
with st.expander(f"Flags, worst first: {len(flags)} ({_n_high} high)", expanded=bool(sel_mgr or sel_seg or sel_reg)):
    if flags.empty:
        st.success("No rep is flagged with the current thresholds.")
    else:
        # st.table wraps long reasons instead of cutting them off; its cells are Markdown: escaped
        st.table(pd.DataFrame({
            "Rep": flags[K.rep_id].map(_names).fillna(flags[K.rep_id]).astype(str).map(md),
            "Flag": flags["flag"].astype(str).map(md),
            "Severity": flags["severity"].map({"high": "high: act now", "medium": "medium: watch"}),
            "Why": flags["reason"].astype(str).map(md),
        }).set_index("Rep"))

# ---- tabs ----------------------------------------------------------------------------------------
# Only the open tab is drawn: a first open draws four charts, not eight (issue 16). Picking a rep in the
# table above opens the drill-down.
t_charts, t_rep, t_bal, t_quota, t_thr, t_route = st.tabs(
    ["Charts", "Rep drill-down", "Balance", "Quota suggestion", "Thresholds", "Routing"],
    key="health_tab", on_change="rerun")

if t_charts.open:  # only the open tab is drawn (the others on a click)
    with t_charts, guard('The charts'):
        c1, c2 = st.columns(2)
        att = kp[[K.name, K.attainment]].dropna()
        if att.empty:
            c1.info("Attainment needs the reps' quota column (annual quota in USD): no rep has one. Map your quota "
                    "field (e.g. Quota__c) to quota when you import the reps file on the Data page.")
        else:
            fig = go.Figure(go.Histogram(x=att[K.attainment] * 100, xbins=dict(start=0, size=10), marker_color="#2563eb",
                                         hovertemplate="%{x}%: %{y} reps<extra></extra>"))
            fig.add_vline(x=100, line_dash="dash", line_color="#16a34a", annotation_text="100%")
            fig.update_layout(title=f"Attainment distribution ({len(att)} reps with a quota)", xaxis_title="Attainment (%)",
                              yaxis_title="Reps", height=360, margin=dict(l=10, r=10, t=50, b=10), bargap=0.05)
            c1.plotly_chart(fig, key="health_att_hist")

        sc = kp[[K.name, K.segment, K.potential, K.quota_annual]].dropna(subset=[K.potential, K.quota_annual])
        if sc.empty or sc[K.potential].sum() <= 0:
            missing = [w for w, ok in (("the reps' quota column", kp[K.quota_annual].notna().any()),
                                       ("account potential (from scoring: annual revenue or employees)",
                                        kp[K.potential].fillna(0).sum() > 0)) if not ok]
            c2.info("Potential versus quota needs " + " and ".join(missing or ["quotas and potential"]) + ".")
        else:
            fig = go.Figure()
            # reps without a segment are drawn too (the segment is only the colour)
            seg_of = sc[K.segment].astype("string").fillna("(no segment)").replace("", "(no segment)")
            for seg, g in sc.groupby(seg_of):
                fig.add_trace(go.Scatter(x=g[K.potential], y=g[K.quota_annual], mode="markers", name=plot_text(seg),
                                         text=[plot_text(n) for n in g[K.name]],
                                         marker=dict(size=10, line=dict(width=0.5, color="white")),
                                         hovertemplate="%{text}<br>potential $%{x:,.0f}<br>quota $%{y:,.0f}<extra></extra>"))
            ratio = sc[K.quota_annual].sum() / sc[K.potential].sum()
            xmax = float(sc[K.potential].max())
            fig.add_trace(go.Scatter(x=[0, xmax], y=[0, xmax * ratio], mode="lines", name="team quota / potential",
                                     line=dict(dash="dot", color="#6b7280")))
            fig.update_layout(title="Potential vs annual quota (fair line = team ratio)", xaxis_title="Potential ($)",
                              yaxis_title="Annual quota ($)", height=360, margin=dict(l=10, r=10, t=50, b=10))
            c2.plotly_chart(fig, key="health_pot_quota")

        c3, c4 = st.columns(2)
        cov = kp[[K.name, K.coverage, K.quota_to_close]].copy()
        cov = cov[cov[K.quota_to_close] > 0].sort_values(K.coverage, na_position="first")
        if cov.empty:
            c3.info("Every rep has met the period's quota (or has none): no coverage to show.")
        else:
            vals = cov[K.coverage].fillna(0.0)
            cap = max(4 * thresholds.min_coverage, 4.0)
            colours = ["#dc2626" if v < thresholds.coverage_high else "#f59e0b" if v < thresholds.min_coverage else "#16a34a" for v in vals]
            fig = go.Figure(go.Bar(x=vals.clip(upper=cap), y=cov[K.name].map(plot_text), orientation="h", marker_color=colours,
                                   text=[f"{v:.1f}x" for v in vals], textposition="outside", cliponaxis=False,
                                   customdata=vals, hovertemplate="%{y}: %{customdata:.1f}x<extra></extra>"))
            fig.add_vline(x=thresholds.min_coverage, line_dash="dash", annotation_text=f"target {thresholds.min_coverage:g}x",
                          annotation_position="bottom right")
            fig.update_layout(title=f"Pipeline coverage (reps with quota still to close; axis capped at {cap:g}x)",
                              xaxis=dict(title="Coverage (x)", range=[0, cap * 1.15]),
                              height=max(320, 20 * len(cov) + 90), margin=dict(l=10, r=30, t=50, b=10))
            c3.plotly_chart(fig, key="health_cov_bars")

        tr = _trend(ds, tuple(kp[K.rep_id]), 8, as_of.isoformat())
        fig = make_subplots(specs=[[{"secondary_y": True}]])
        fig.add_trace(go.Bar(x=tr["quarter"], y=tr[K.won_revenue], name="Closed-won", marker_color="#2563eb",
                             hovertemplate="%{x}: $%{y:,.0f}<extra></extra>"), secondary_y=False)
        fig.add_trace(go.Scatter(x=tr["quarter"], y=tr["pipeline_created"], name="Pipeline created", mode="lines+markers",
                                 line=dict(color="#9333ea")), secondary_y=False)
        fig.add_trace(go.Scatter(x=tr["quarter"], y=tr[K.win_rate] * 100, name="Win rate", mode="lines+markers",
                                 line=dict(color="#16a34a", dash="dot"), hovertemplate="%{x}: %{y:.0f}%<extra></extra>"),
                      secondary_y=True)
        wr_max = float((tr[K.win_rate] * 100).max()) if tr[K.win_rate].notna().any() else 50.0
        fig.update_layout(title=f"Trend by quarter to {as_of:%d %b %Y} (deals stay with who sold them)", height=420,
                          margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.15))
        fig.update_yaxes(title_text="$", secondary_y=False, rangemode="tozero")
        wr_top = max(wr_max * 1.3, 10)
        wr_step = 5 if wr_top <= 40 else 10 if wr_top <= 80 else 20
        fig.update_yaxes(title_text="Win rate", secondary_y=True, range=[0, wr_top], ticksuffix="%", showgrid=False,
                         tickmode="array", tickvals=list(range(0, int(wr_top) + 1, wr_step)))
        c4.plotly_chart(fig, key="health_trend")

if t_rep.open:  # only the open tab is drawn (the others on a click)
    with t_rep, guard('The rep drill-down'):
        rep_opts = kp[K.rep_id].tolist()
        from ui.scenario_widgets import rep_label, rep_names

        _labels = rep_names(ds, [scn] if scn is not None else [])
        if "health_drill_rep" not in st.session_state and st.session_state.get("_health_drill_keep") in rep_opts:
            st.session_state["health_drill_rep"] = st.session_state["_health_drill_keep"]  # back on this tab
        rid = st.selectbox("Rep", rep_opts, format_func=lambda r: rep_label(r, _labels), key="health_drill_rep")
        st.session_state["_health_drill_keep"] = rid
        if rid is not None:
            r = kp.set_index(K.rep_id).loc[rid]
            m = st.columns(6)
            m[0].metric("Closed-won", money(r[K.won_revenue]), help=f"quota {money(r[K.quota])}")
            m[1].metric("Attainment", pct(r[K.attainment]))
            m[2].metric("Coverage", times(r[K.coverage]))
            m[3].metric("Win rate", pct(r[K.win_rate]))
            m[4].metric("Accounts", num(r[K.accounts]), help=f"{num(r[K.untouched])} untouched")
            m[5].metric("Whitespace", money(r[K.whitespace]))
            _fte = f"{r[K.capacity]:g} FTE" + (f" at {r[K.ramp]:.0%} ramp" if r[K.ramp] < 1 else "")
            st.caption(f"Manager {md(r[K.manager])} · {md(r[K.segment])} · {md(r[K.region])} · {_fte} · workload "
                       f"{r[K.workload]:,.0f} points ({pct(r[K.load_index])} of a fair share among peers) · "
                       f"avg cycle {days(r[K.avg_cycle_days])} · avg deal {money(r[K.avg_deal_size])}")
            rf = flags[flags[K.rep_id] == rid]
            if rf.empty:
                st.success("No health flags for this rep with the current thresholds.")
            for fr in rf.itertuples():
                (st.error if fr.severity == "high" else st.warning)(f"**{md(fr.flag)}** ({fr.severity}): {md(fr.reason)}")
            book = rep_accounts(ds.accounts, rid, opps, owner=owner, enriched=enriched, period=period,
                                untouched_months=thresholds.untouched_months)
            pipe = rep_pipeline(opps, ds.accounts, rid, owner=owner)
            b1, b2 = st.columns([3, 2])
            b1.markdown(f"**Accounts ({len(book)})** · most whitespace first")
            b1.dataframe(styled(book, (A.arr, X.potential, X.whitespace, A.open_pipeline),
                                **{X.workload: lambda v: f"{v:.1f}", K.untouched: lambda v: "yes" if v else "no"}),
                         hide_index=True, key="health_drill_accounts", height=360,
                         column_order=[A.name, X.tier, X.whitespace, X.potential, A.arr, A.open_pipeline, "last_opportunity",
                                       K.untouched, X.workload, A.state, A.industry, A.account_id],
                         column_config=DRILL_ACCOUNT_LABELS)
            b2.markdown(f"**Open pipeline ({len(pipe)} deals, {money(pipe[O.amount].sum() if len(pipe) else 0)})**")
            _rep_name = dict(zip(reps_df[R.rep_id].astype(str), reps_df[R.name].astype(str)))
            pipe_view = pipe.drop(columns=[O.account_id]).assign(
                **{O.owner_id: [(_rep_name.get(str(o), str(o)) if pd.notna(o) else "") for o in pipe[O.owner_id]]})
            b2.dataframe(styled(pipe_view, (O.amount,)), hide_index=True,
                         key="health_drill_pipeline", height=360,
                         column_order=["account_name", O.stage, O.amount, O.close_date, O.owner_id, O.product,
                                       O.created_date, O.opportunity_id],
                         column_config=DRILL_PIPELINE_LABELS)
            ws = book.dropna(subset=[X.whitespace]).head(15) if book[X.whitespace].notna().any() else book.iloc[0:0]
            if len(ws):
                fig = go.Figure(go.Bar(x=ws[X.whitespace], y=ws[A.name].map(plot_text), orientation="h", marker_color="#0d9488",
                                       hovertemplate="%{y}: $%{x:,.0f}<extra></extra>"))
                fig.update_layout(title=f"Top whitespace accounts of {plot_text(r[K.name])}", yaxis=dict(autorange="reversed"),
                                  height=60 + 24 * len(ws), margin=dict(l=10, r=10, t=50, b=10), xaxis_title="Whitespace ($)")
                st.plotly_chart(fig, key="health_drill_ws")
            rt = _trend(ds, (rid,), 8, as_of.isoformat())
            fig = make_subplots(specs=[[{"secondary_y": True}]])
            fig.add_trace(go.Bar(x=rt["quarter"], y=rt[K.won_revenue], name="Closed-won", marker_color="#2563eb",
                                 hovertemplate="%{x}: $%{y:,.0f}<extra></extra>"), secondary_y=False)
            fig.add_trace(go.Scatter(x=rt["quarter"], y=rt[K.win_rate] * 100, name="Win rate", mode="lines+markers",
                                     line=dict(color="#16a34a", dash="dot"), hovertemplate="%{x}: %{y:.0f}%<extra></extra>"),
                          secondary_y=True)
            fig.update_layout(title=f"{plot_text(r[K.name])}: closed-won and win rate by quarter (deals they sold)", height=320,
                              margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.2))
            fig.update_yaxes(title_text="$", secondary_y=False, rangemode="tozero")
            fig.update_yaxes(title_text="Win rate", secondary_y=True, range=[0, 100], ticksuffix="%", showgrid=False,
                             tickmode="array", tickvals=[0, 25, 50, 75, 100])
            st.plotly_chart(fig, key="health_drill_trend")

if t_bal.open:  # only the open tab is drawn (the others on a click)
    with t_bal, guard('The balance indices'):
        avail = [m for m in BALANCE_METRICS if pd.to_numeric(kp[m], errors="coerce").notna().any()]
        metric = st.selectbox("Metric", avail, format_func=lambda m: KPI_LABELS.get(m, m), key="health_balance_metric")
        b = kpi_balance(kp, metric)
        bc = st.columns(4)
        bc[0].metric("Coefficient of variation", "n/a" if pd.isna(b["cv"]) else f"{b['cv']:.2f}", help="std / mean; 0 = even")
        bc[1].metric("Gini", "n/a" if pd.isna(b["gini"]) else f"{b['gini']:.2f}", help="0 = equal, 1 = one rep holds all")
        bc[2].metric("Max / min", "n/a" if pd.isna(b["max_min"]) else ("inf" if math.isinf(b["max_min"]) else f"{b['max_min']:.1f}x"))
        bc[3].metric("Within +-10% of target", pct(b["within_tolerance"]), help="target = total x capacity x ramp / sum(capacity x ramp)")
        vals = pd.to_numeric(kp[metric], errors="coerce")
        ok = vals.notna()
        tgt = capacity_targets(vals[ok].sum(), kp.loc[ok, K.capacity], kp.loc[ok, K.ramp])
        fig = go.Figure()
        fig.add_trace(go.Bar(x=kp.loc[ok, K.name].map(plot_text), y=vals[ok], name=KPI_LABELS.get(metric, metric), marker_color="#2563eb"))
        fig.add_trace(go.Scatter(x=kp.loc[ok, K.name].map(plot_text), y=tgt, mode="markers", name="capacity-weighted target",
                                 marker=dict(symbol="line-ew", size=18, line=dict(width=3, color="#dc2626"))))
        fig.update_layout(title=f"{KPI_LABELS.get(metric, metric)} per rep against the capacity-weighted target",
                          height=380, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=1.1))
        st.plotly_chart(fig, key="health_balance_chart")

if t_quota.open:  # only the open tab is drawn (the others on a click)
    with t_quota, guard('The quota suggestion'):
        today_total = float(pd.to_numeric(kp[K.quota_annual], errors="coerce").fillna(0).sum())
        q1, q2, q3 = st.columns([1.3, 1.3, 1])
        # keyed on the filtered reps: a new filter starts from their own quotas
        top = q1.number_input("Top-down annual number ($)", min_value=0.0, value=today_total, step=100_000.0,
                              format="%.0f", key=f"health_topdown_{len(kp)}_{int(today_total)}",
                              help="Defaults to the sum of the shown reps' annual quotas today.")
        basis_labels = {"potential_capacity": "Potential and capacity", "potential": "Potential only",
                        "capacity": "Capacity x ramp only"}
        basis = q2.selectbox("Spread by", QUOTA_BASES, key="health_quota_basis", format_func=basis_labels.get)
        weight = q3.slider("Weight on potential", 0.0, 1.0, 0.5, 0.05, key="health_quota_weight",
                           disabled=basis != "potential_capacity")
        try:
            sq = suggest_quotas(reps_df, kp, top, by=basis, potential_weight=weight)
        except ValueError as exc:
            st.error(f"Quota suggestion: {md(exc)}")
            sq = None
        if sq is not None:
            used = basis_labels.get(sq["basis"].iloc[0], sq["basis"].iloc[0])
            st.caption(f"Spread of {money(top)} over {len(sq)} reps by {used.lower()}; today's quotas add up to "
                       f"{money(today_total)}.")
            fig = go.Figure([go.Bar(x=sq[K.name].map(plot_text), y=sq["quota_today"], name="Today", marker_color="#94a3b8"),
                             go.Bar(x=sq[K.name].map(plot_text), y=sq["suggested_quota"], name="Suggested", marker_color="#2563eb")])
            fig.update_layout(barmode="group", height=360, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.1))
            st.plotly_chart(fig, key="health_quota_chart")
            st.dataframe(styled(sq.drop(columns=["basis"]).rename(columns={K.name: "rep"}), ("quota_today", "suggested_quota", "change"),
                                ("share", "change_pct")), hide_index=True, key="health_quota_table")

if t_thr.open:  # only the open tab is drawn (the others on a click)
    with t_thr, guard('The threshold editor'):
        st.markdown("Thresholds of the health flags, kept for this session. Workload and win rate are judged "
                    "against the rep's segment peers. Each flag turns **amber** (watch) past its first threshold and "
                    "**red** (act now) past its second; the defaults keep red for the clear outliers.")
        t = thresholds
        with st.form("health_thresholds_form"):
            a1, a2, a3 = st.columns(3)
            over = a1.number_input("Overloaded above (workload / fair share)", 0.0, 10.0, float(t.overloaded_above), 0.05)
            starve = a1.number_input("Starved below (workload / fair share)", 0.0, 10.0, float(t.starved_below), 0.05)
            cov_min = a2.number_input("Minimum pipeline coverage (x)", 0.0, 50.0, float(t.min_coverage), 0.5)
            gap = a2.number_input("Win rate gap to the peers (0.15 = 15 points)", 0.0, 1.0, float(t.win_rate_gap), 0.01)
            min_deals = a2.number_input("Closed deals needed to judge win rate", 0, 1000, int(t.min_closed_deals), 1)
            qtol = a3.number_input("Quota vs potential tolerance (0.50 = +-50%)", 0.0, 10.0, float(t.quota_potential_tolerance), 0.05)
            ushare = a3.number_input("Largest untouched share", 0.0, 1.0, float(t.max_untouched_share), 0.05)
            umonths = a3.number_input("Untouched look-back (months)", 1, 60, int(t.untouched_months), 1)
            st.markdown("**Red (act now) past these**")
            h1, h2, h3 = st.columns(3)
            over_h = h1.number_input("Overloaded: red above", 0.0, 20.0, float(t.overloaded_high), 0.05)
            starve_h = h1.number_input("Starved: red below", 0.0, 10.0, float(t.starved_high), 0.05)
            cov_h = h2.number_input("Coverage: red under (x)", 0.0, 50.0, float(t.coverage_high), 0.1)
            gap_h = h2.number_input("Win rate: red when this far below the peers", 0.0, 1.0, float(t.win_rate_gap_high), 0.01)
            deals_h = h2.number_input("... with at least this many closed deals", 0, 1000, int(t.min_closed_deals_high), 1)
            q_h = h3.number_input("Quota vs potential: red beyond (x, or 1 / x)", 1.0, 100.0, float(t.quota_potential_high), 0.5)
            c_apply, c_reset = st.columns([1, 5])
            apply = c_apply.form_submit_button("Apply", type="primary")
            reset = c_reset.form_submit_button("Reset to defaults")
        if apply or reset:
            try:
                new = HealthThresholds() if reset else HealthThresholds(
                    overloaded_above=over, starved_below=starve, min_coverage=cov_min, win_rate_gap=gap,
                    min_closed_deals=int(min_deals), quota_potential_tolerance=qtol, max_untouched_share=ushare,
                    untouched_months=int(umonths), overloaded_high=over_h, starved_high=starve_h, coverage_high=cov_h,
                    win_rate_gap_high=gap_h, min_closed_deals_high=int(deals_h), quota_potential_high=q_h)
            except ValueError as exc:
                st.error(f"Thresholds not applied: {md(exc)}. Fix the value and press Apply again.")
            else:
                set_setting("health_thresholds", new)
                st.rerun()

# Routing (exception rate, disputes, drift): a self-contained section of its own module, in its own tab
# (checking 50,000 accounts against a plan's rules takes seconds: only when asked for).
if t_route.open:
    from ui.routing import health_section

    with t_route:
        health_section()
