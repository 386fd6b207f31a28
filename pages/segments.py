"""Segment Builder: ordered segment rules (first match wins) with a live summary, plus the ICP &
scoring settings and one account's score breakdown. Both save into the active scenario's settings.
"""
from __future__ import annotations

import json

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from territory_core.contract import A, X
from territory_core.analyse.scoring import ProductModel, ScoringConfig, explain_account, potential_and_whitespace
from territory_core.analyse.segments import (CENSUS_REGIONS, COVERAGE_MODELS, UNSEGMENTED, SegmentRules, apply_segments,
                                     check_rules, default_rules, sales_regions, segment_summary)
from ui.format import md, money, plot_text
from ui.cache import enriched_frame, settings_key, shared
from ui.state import data_token, get_dataset, get_setting, set_setting

EDITOR = "seg_rules_editor"
BASE = "seg_rules_base"


def _scored(ds, scoring: dict, rules: SegmentRules) -> pd.DataFrame:
    """Accounts with hierarchy, scores and tiers (segments are applied live on top): the process-wide
    scoring cache, with the saved rules (what every other page uses); without rules when the saved
    ones cannot apply (the rules editor then says why)."""
    try:
        return enriched_frame(ds, scoring, rules.to_dict())
    except Exception:
        return enriched_frame(ds, scoring, SegmentRules().to_dict())


def _details(ds, scored_df, seg, scoring: dict, rules_json: str) -> pd.DataFrame:
    """Every score input per account (for the breakdown), computed once per settings."""
    from territory_core.analyse.scoring import score_accounts

    return shared("score_details", (data_token(), settings_key(scoring), rules_json),
                  lambda: score_accounts(scored_df, ds.opportunities, ds.account_products,
                                         ScoringConfig.from_dict(scoring), seg, details=True))


def _regions(ds) -> dict:
    """The data's sales regions (state lists by reps' region), for region conditions."""
    return shared("sales_regions", (data_token(),), lambda: sales_regions(ds.accounts, ds.reps))


UNSEG_COLS = (A.account_id, A.name, A.state, A.industry, A.employees, A.annual_revenue, X.tier, A.named, A.owner_id,
              X.potential)


def _segmented(ds, scored_df, scoring: dict, rules_json: str):
    """For a rule set (cached per rules, for the process): the segment per account (a Series), the
    summary, the rule warnings, and the unsegmented accounts (first 500) with their count. Small
    results only: a cached copy of the whole frame per rule set would cost ~30 MB each at 50k
    accounts."""
    def compute():
        rules = SegmentRules.from_dict(json.loads(rules_json))
        cfg = ScoringConfig.from_dict(scoring)
        df = scored_df.copy()
        regions = _regions(ds)
        seg = apply_segments(df, rules, ds.account_products, regions)
        for c in seg.columns:
            df[c] = seg[c]
        if any(m.segment for m in cfg.products):
            pw = potential_and_whitespace(df, ds.account_products, cfg, df[X.segment])
            for c in pw.columns:
                df[c] = pw[c]
        warnings = check_rules(df, rules, ds.account_products, regions=regions)
        summary = segment_summary(df, rules=rules)
        uns = df[(df[X.segment] == UNSEGMENTED).fillna(False).to_numpy()]
        unseg = uns[[c for c in UNSEG_COLS if c in uns.columns]].head(500)
        return df[X.segment], summary, warnings, unseg, len(uns)

    return shared("segmented", (data_token(), settings_key(scoring), rules_json), compute)


st.title("Segment Builder")
ds = get_dataset()
if ds.accounts.empty:
    st.warning("The active dataset has no accounts. Load data on the **Data** page.")
    st.stop()

scoring: ScoringConfig = get_setting("scoring", ScoringConfig)
saved_rules: SegmentRules = get_setting("segment_rules", default_rules)
# Settings restored from a saved scenario may arrive as plain dicts: accept those too.
if not isinstance(scoring, ScoringConfig):
    scoring = ScoringConfig.from_dict(scoring if isinstance(scoring, dict) else None)
if not isinstance(saved_rules, SegmentRules):
    saved_rules = SegmentRules.from_dict(saved_rules if isinstance(saved_rules, (dict, list)) else None) or default_rules()
s_dict = scoring.to_dict()
try:
    scored = _scored(ds, s_dict, saved_rules)
except Exception as exc:
    st.error(f"Could not score the accounts: {md(exc)}. Check the ICP & scoring tab or the accounts on the Data page.")
    st.stop()

tab_rules, tab_icp = st.tabs(["Segment rules", "ICP & scoring"])

# =============================================================================== segment rules
with tab_rules:
    own_regions = _regions(ds)
    region_names = list(own_regions) + [r for r in CENSUS_REGIONS if r not in own_regions]
    st.caption("Rules apply top to bottom; the first rule an account matches gives its segment. Empty cells match "
               "anything. Lists are comma-separated (states: `CA, NY`; regions: "
               f"{md(', '.join(region_names))}; tiers: `A, B`). Employee and revenue bands include the minimum and "
               "exclude the maximum. Several rules may name the same segment. Change **priority** to reorder, "
               "add rows at the bottom, select rows and press Delete to remove them.")
    if BASE not in st.session_state:
        st.session_state[BASE] = saved_rules.to_frame()

    def _reset_editor(rules: SegmentRules) -> None:
        st.session_state[BASE] = rules.to_frame()
        st.session_state.pop(EDITOR, None)

    def _save() -> None:
        pending = st.session_state.get("seg_pending")
        if pending is None:
            return
        set_setting("segment_rules", pending)
        _reset_editor(pending)
        st.session_state["seg_flash"] = f"Saved {len(pending)} rules to the active scenario."

    industries = sorted(ds.accounts[A.industry].dropna().astype(str).unique()) if A.industry in ds.accounts.columns else []
    edited = st.data_editor(
        st.session_state[BASE], key=EDITOR, num_rows="dynamic", hide_index=True, width="stretch",
        column_config={
            "priority": st.column_config.NumberColumn("Priority", help="Lower runs first.", step=1, width="small"),
            "name": st.column_config.TextColumn("Segment", required=True),
            "named": st.column_config.SelectboxColumn("Named", options=["any", "yes", "no"], default="any"),
            "regions": st.column_config.TextColumn(
                "Regions", help=("Sales regions in the data (the region of the reps owning most of a state's "
                                 "accounts): " + md("; ".join(f"{r}: {' '.join(v)}" for r, v in own_regions.items()))
                                 + ". US Census regions: " + ", ".join(CENSUS_REGIONS)) if own_regions
                else "US Census regions: " + ", ".join(CENSUS_REGIONS)),
            "states": st.column_config.TextColumn("States", help="2-letter codes, comma-separated."),
            "industries": st.column_config.TextColumn("Industries", help="In the data: " + md(", ".join(industries))),
            "min_employees": st.column_config.NumberColumn("Min employees", min_value=0, step=1),
            "max_employees": st.column_config.NumberColumn("Max employees (excl.)", min_value=0, step=1),
            "min_revenue": st.column_config.NumberColumn("Min revenue", min_value=0, format="$%.0f"),
            "max_revenue": st.column_config.NumberColumn("Max revenue (excl.)", min_value=0, format="$%.0f"),
            "tiers": st.column_config.TextColumn("Tiers", help="A, B, C or D"),
            "products": st.column_config.TextColumn("Holds product", help="Any of these product lines."),
            "coverage_model": st.column_config.SelectboxColumn("Coverage", options=list(COVERAGE_MODELS), default="pooled"),
            "accounts_per_rep": st.column_config.NumberColumn("Accounts per rep", min_value=1, step=1, default=100),
        },
    )
    try:
        rules = SegmentRules.from_frame(edited)
    except Exception as exc:  # defensive: the editor's types make this unlikely
        st.error(f"Could not read the rules table: {md(exc)}. Fix the highlighted row or reset the rules.")
        rules = saved_rules
    st.session_state["seg_pending"] = rules
    dirty = rules != saved_rules

    b1, b2, b3, b4 = st.columns([1.2, 1, 1, 3])
    b1.button("Save to scenario", type="primary", on_click=_save, disabled=not dirty, key="seg_save")
    b2.button("Undo changes", on_click=_reset_editor, args=(saved_rules,), disabled=not dirty, key="seg_undo")
    b3.button("Default rules", on_click=_reset_editor, args=(default_rules(),), key="seg_defaults")
    b4.download_button("Download rules (JSON)", json.dumps(rules.to_dict(), indent=2), "segment_rules.json",
                       "application/json", key="seg_download", on_click="ignore")
    if msg := st.session_state.pop("seg_flash", None):
        st.success(msg)
    elif dirty:
        st.info("Unsaved changes: the summary below shows the edited rules. **Save to scenario** keeps them.")

    if not len(rules):
        st.warning("No rules: every account is unsegmented. Add a row with a segment name, or press **Default rules**.")
    seg_col, summary, warnings, uns, n_uns = _segmented(ds, scored, s_dict, json.dumps(rules.to_dict(), sort_keys=True))

    errs = [w for w in warnings if w.level == "error"]
    warns = [w for w in warnings if w.level == "warning"]
    infos = [w for w in warnings if w.level == "info"]
    for w in errs:
        st.error(md(w.message))
    for w in warns:
        st.warning(md(w.message))
    if infos:
        with st.expander(f"{len(infos)} overlaps (first match wins)"):
            for w in infos:
                st.markdown("- " + md(w.message))
    if not errs and not warns:
        st.success("Every rule matches accounts of its own and every account has a segment.")

    st.subheader("Segments")
    st.dataframe(
        summary.round({"potential": 0, "arr": 0, "whitespace": 0}), hide_index=True, width="stretch",
        column_config={
            "segment": "Segment", "accounts": st.column_config.NumberColumn("Accounts", format="%d"),
            "potential": st.column_config.NumberColumn("Potential ($)", format="localized"),
            "arr": st.column_config.NumberColumn("ARR ($)", format="localized"),
            "whitespace": st.column_config.NumberColumn("Whitespace ($)", format="localized"),
            "current_reps": st.column_config.NumberColumn("Current reps", help="Distinct owners today."),
            "coverage_model": "Coverage", "accounts_per_rep": st.column_config.NumberColumn("Target per rep"),
            "reps_needed": st.column_config.NumberColumn("Reps at target", format="%d"),
            "accounts_per_current_rep": st.column_config.NumberColumn("Accounts per current rep", format="%.0f"),
        },
    )
    bar = go.Figure()
    seg_labels = summary["segment"].map(plot_text)
    bar.add_bar(x=seg_labels, y=summary["arr"], name="ARR", marker_color="#2ca02c")
    bar.add_bar(x=seg_labels, y=summary["whitespace"], name="Whitespace", marker_color="#1f77b4")
    bar.update_layout(barmode="stack", height=280, margin=dict(l=0, r=0, t=10, b=0), yaxis_tickformat="$.2s",
                      yaxis_title="Potential = ARR + whitespace", legend=dict(orientation="h", y=1.1, x=0))
    st.plotly_chart(bar, width="stretch", key="seg_bar")

    st.subheader(f"Unsegmented accounts ({n_uns:,})")
    if not n_uns:
        st.caption("None: every account matches a rule.")
    else:
        st.dataframe(uns, hide_index=True, width="stretch", height=260)
        if n_uns > len(uns):
            st.caption(f"First {len(uns):,} of {n_uns:,}.")

# =============================================================================== ICP & scoring
with tab_icp:
    st.caption("The ideal customer profile and whitespace model behind potential scores, tiers and whitespace on "
               "every page. **Apply to scenario** saves them in the active scenario's settings.")
    cfg = scoring
    with st.form("icp_form"):
        st.markdown("**Score = weighted mean of three components (0-100)**")
        w1, w2, w3 = st.columns(3)
        fit_w = w1.number_input("Fit weight", 0.0, 10.0, float(cfg.fit_weight), 0.05, key="icp_fit_w")
        prop_w = w2.number_input("Propensity weight", 0.0, 10.0, float(cfg.propensity_weight), 0.05, key="icp_prop_w")
        strat_w = w3.number_input("Strategic weight", 0.0, 10.0, float(cfg.strategic_weight), 0.05, key="icp_strat_w")
        st.markdown("**Tier thresholds** (score at least)")
        t1, t2, t3 = st.columns(3)
        ta = t1.number_input("A", 0.0, 100.0, float(cfg.tier_thresholds[0]), 1.0, key="icp_ta")
        tb = t2.number_input("B", 0.0, 100.0, float(cfg.tier_thresholds[1]), 1.0, key="icp_tb")
        tc = t3.number_input("C (below: D)", 0.0, 100.0, float(cfg.tier_thresholds[2]), 1.0, key="icp_tc")
        st.markdown("**Ideal size** (full fit inside the range, less the further outside)")
        e1, e2, e3, e4 = st.columns(4)
        emp_lo = e1.number_input("Employees from", 0.0, None, float(cfg.ideal_employees[0]), 10.0, key="icp_emp_lo")
        emp_hi = e2.number_input("Employees to", 0.0, None, float(cfg.ideal_employees[1]), 10.0, key="icp_emp_hi")
        rev_lo = e3.number_input("Revenue from ($M)", 0.0, None, float(cfg.ideal_revenue[0]) / 1e6, 1.0, key="icp_rev_lo")
        rev_hi = e4.number_input("Revenue to ($M)", 0.0, None, float(cfg.ideal_revenue[1]) / 1e6, 1.0, key="icp_rev_hi")
        i1, i2 = st.columns(2)
        wmap = cfg.industry_weight_map
        data_inds = sorted(ds.accounts[A.industry].dropna().astype(str).unique()) if A.industry in ds.accounts.columns else []
        ind_rows = [{"industry": i, "weight": wmap.get(i, cfg.other_industry_weight)} for i in data_inds]
        ind_rows += [{"industry": i, "weight": w} for i, w in wmap.items() if i not in data_inds]
        i1.markdown("**Industry fit** (0-1)")
        ind_df = i1.data_editor(pd.DataFrame(ind_rows, columns=["industry", "weight"]), key="icp_industries",
                                num_rows="dynamic", hide_index=True, width="stretch", height=300,
                                column_config={"weight": st.column_config.NumberColumn(min_value=0.0, max_value=1.0, step=0.05)})
        other_w = i1.number_input("Other industries", 0.0, 1.0, float(cfg.other_industry_weight), 0.05, key="icp_other")
        i2.markdown("**Whitespace model**: seats x adoption x price per seat, per product line; a row with a "
                    "segment overrides the default for that segment")
        prod_df = i2.data_editor(
            pd.DataFrame([m.to_dict() for m in cfg.products], columns=["product", "segment", "price_per_seat", "adoption"]),
            key="icp_products", num_rows="dynamic", hide_index=True, width="stretch",
            column_config={
                "product": st.column_config.TextColumn("Product line", required=True, width="small"),
                "segment": st.column_config.TextColumn("Segment", help="Empty: every segment.", width="small"),
                "price_per_seat": st.column_config.NumberColumn("$/seat", min_value=0.0, format="$%.0f", width="small",
                                                                help="Price per seat per year."),
                "adoption": st.column_config.NumberColumn("Adoption", min_value=0.0, max_value=1.0, step=0.05,
                                                          width="small", help="Share of employees who would use it."),
            })
        with st.expander("Inputs inside each component"):
            s1, s2, s3 = st.columns(3)
            s1.caption("Fit")
            f_ind = s1.number_input("Industry", 0.0, 10.0, float(cfg.fit_industry_weight), 0.05, key="icp_f_ind")
            f_emp = s1.number_input("Employees", 0.0, 10.0, float(cfg.fit_employees_weight), 0.05, key="icp_f_emp")
            f_rev = s1.number_input("Revenue", 0.0, 10.0, float(cfg.fit_revenue_weight), 0.05, key="icp_f_rev")
            s2.caption("Propensity")
            p_int = s2.number_input("Intent", 0.0, 10.0, float(cfg.intent_weight), 0.05, key="icp_p_int")
            p_eng = s2.number_input("Engagement (open pipeline)", 0.0, 10.0, float(cfg.engagement_weight), 0.05, key="icp_p_eng")
            p_win = s2.number_input("Wins in similar accounts", 0.0, 10.0, float(cfg.win_history_weight), 0.05, key="icp_p_win")
            s3.caption("Strategic")
            g_nam = s3.number_input("Named", 0.0, 10.0, float(cfg.named_weight), 0.05, key="icp_g_nam")
            g_fam = s3.number_input("Family size", 0.0, 10.0, float(cfg.family_weight), 0.05, key="icp_g_fam")
            g_scl = s3.number_input("Company scale", 0.0, 10.0, float(cfg.scale_weight), 0.05, key="icp_g_scl")
        # The flag set by the callback survives a rerun (a plain submit value does not).
        st.form_submit_button("Apply to scenario", type="primary", key="icp_apply",
                              on_click=lambda: st.session_state.__setitem__("icp_submitted", True))
    submitted = st.session_state.pop("icp_submitted", False)
    def _reset_scoring() -> None:
        set_setting("scoring", ScoringConfig())
        for k in [k for k in st.session_state if str(k).startswith("icp_") and k not in ("icp_search", "icp_account")]:
            del st.session_state[k]
        st.session_state["icp_flash"] = "Default scoring settings restored."

    st.button("Default scoring settings", key="icp_reset", on_click=_reset_scoring)
    if submitted:
        problems = []
        try:
            inds = ind_df.dropna(subset=["industry"])
            inds = inds[inds["industry"].astype(str).str.strip() != ""]
            prods = prod_df.dropna(subset=["product"])
            prods = prods[prods["product"].astype(str).str.strip() != ""]
            models = tuple(ProductModel.from_dict({
                "product": str(r["product"]).strip(), "segment": "" if pd.isna(r["segment"]) else str(r["segment"]).strip(),
                "price_per_seat": 0.0 if pd.isna(r["price_per_seat"]) else r["price_per_seat"],
                "adoption": 0.0 if pd.isna(r["adoption"]) else r["adoption"]}) for r in prods.to_dict("records"))
            if not models:
                problems.append("Whitespace model: add at least one product line with a price and an adoption rate.")
            new = cfg.with_(
                fit_weight=fit_w, propensity_weight=prop_w, strategic_weight=strat_w,
                tier_thresholds=(ta, tb, tc), ideal_employees=(emp_lo, emp_hi), ideal_revenue=(rev_lo * 1e6, rev_hi * 1e6),
                industry_weights=tuple((str(r["industry"]).strip(), float(0.0 if pd.isna(r["weight"]) else r["weight"]))
                                       for r in inds.to_dict("records")),
                other_industry_weight=other_w, products=models or cfg.products,
                fit_industry_weight=f_ind, fit_employees_weight=f_emp, fit_revenue_weight=f_rev,
                intent_weight=p_int, engagement_weight=p_eng, win_history_weight=p_win,
                named_weight=g_nam, family_weight=g_fam, scale_weight=g_scl,
            )
            problems += new.validate()
        except (TypeError, ValueError) as exc:
            problems.append(f"Could not read the settings: {exc}")
        if problems:
            for p in problems:
                st.error(md(p) + " Nothing was applied; fix it and press Apply again.")
        elif new != cfg:
            set_setting("scoring", new)
            for k in ("icp_industries", "icp_products"):  # the tables restart from the applied settings
                st.session_state.pop(k, None)
            st.session_state["icp_flash"] = "Scoring settings applied to the active scenario."
            st.rerun()
    if msg := st.session_state.pop("icp_flash", None):
        st.success(msg)

    st.subheader("Tiers")
    tiers = scored[X.tier].value_counts().reindex(["A", "B", "C", "D"]).fillna(0).astype(int)
    tc1, tc2, tc3, tc4 = st.columns(4)
    for col, (t, n) in zip((tc1, tc2, tc3, tc4), tiers.items()):
        col.metric(f"Tier {t} ({n / max(len(scored), 1):.0%} of accounts)", f"{n:,}")

    st.subheader("An account's breakdown")
    q = st.text_input("Find an account (name or id)", key="icp_search", placeholder="e.g. Frontier or A00001")
    pool = scored
    if q.strip():
        hit = (scored[A.name].astype("string").str.contains(q.strip(), case=False, regex=False).fillna(False)
               | (scored[A.account_id].astype("string") == q.strip()).fillna(False))
        pool = scored[hit.to_numpy()]
    pool = pool.nlargest(200, X.potential_score)
    if pool.empty:
        st.warning(f"No account matches {md(repr(q))}. Try part of the name or the exact account id.")
    else:
        labels = dict(zip(pool[A.account_id].astype(str),
                          pool[A.name].astype(str) + " (" + pool[A.account_id].astype(str) + ") · tier " + pool[X.tier].astype(str)))
        acc_id = st.selectbox("Account", list(labels), format_func=labels.get, key="icp_account",
                              help="The 200 best-scored accounts matching the search.")
        saved_json = json.dumps(saved_rules.to_dict(), sort_keys=True)
        seg_now = _segmented(ds, scored, s_dict, saved_json)[0]
        det = _details(ds, scored, seg_now, s_dict, saved_json)
        ex = explain_account(scored, acc_id, ds.opportunities, ds.account_products, scoring, seg_now, details=det)
        a = ex["account"]
        m1, m2, m3, m4, m5 = st.columns(5)
        m1.metric(f"Potential score (tier {a[X.tier]})", f"{a[X.potential_score]:.0f}")
        m2.metric("Fit", f"{a[X.fit_score]:.0f}")
        m3.metric("Propensity", f"{a[X.propensity_score]:.0f}")
        m4.metric("Strategic", f"{a[X.strategic_score]:.0f}")
        m5.metric(f"Whitespace (of {money(a[X.potential])})", money(a[X.whitespace]))
        comp = ex["components"].copy()
        comp["part"] = comp["part"] * 100
        st.dataframe(comp[["component", "input", "value", "part", "weight", "points"]], hide_index=True, width="stretch",
                     column_config={"part": st.column_config.ProgressColumn("Sub-score", min_value=0, max_value=100, format="%.0f"),
                                    "weight": st.column_config.NumberColumn("Weight in component", format="%.2f"),
                                    "points": st.column_config.NumberColumn("Points of the score", format="%.1f")})
        st.caption("Points add up to the potential score: each input's sub-score x its share of the component x the "
                   "component's weight.")
        st.dataframe(ex["products"].round(0), hide_index=True, width="stretch",
                     column_config={"potential": st.column_config.NumberColumn("Potential ($)", format="localized"),
                                    "arr": st.column_config.NumberColumn("ARR ($)", format="localized"),
                                    "whitespace": st.column_config.NumberColumn("Whitespace ($)", format="localized")})
