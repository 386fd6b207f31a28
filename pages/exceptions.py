"""Exceptions queue: route new accounts or leads against a plan, and work what the rules could not
decide: assign a record, turn the decision into a rule, or dismiss it. Every decision goes to the
audit log. The work is done by territory_core.route and territory_core.store.routing."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from territory_core.route.router import DECISION_FIELDS, EXCEPTION_KINDS, RULE_LABELS, DecisionRule, RoutingError, normalize_value
from territory_core.store.routing import RoutingConflict, RoutingNotFound
from ui.format import md, pct
from ui.routing import KIND_LABELS, plan_picker, rep_options, router_for, routing_store, user
from ui.scenario_widgets import rep_label, rep_names
from ui.state import get_dataset

st.title("Exceptions queue")
st.caption("New accounts and leads get an owner by the plan's rules; what the rules cannot decide, and every conflict, "
           "waits here with its reason. Assign it, make the decision a rule for records like it, or dismiss it.")

ds = get_dataset()
names = rep_names(ds)
try:
    rs = routing_store()
except Exception as exc:  # noqa: BLE001
    st.error(f"The scenario database could not be opened ({md(exc)}). Check TERRITORY_DB_URL.")
    st.stop()

top = st.columns([2, 1, 3])
scn = plan_picker("exq_plan", container=top[0])
flash = st.session_state.pop("exq_flash", None)
if flash:
    st.success(md(flash))

t_queue, t_route, t_rules, t_away, t_audit = st.tabs(["Queue", "Route records", "Decision rules", "Reps away", "Audit log"])


def _done(msg: str) -> None:
    st.session_state["exq_flash"] = msg
    st.rerun()


def _fmt(rid) -> str:
    return rep_label(rid, names)


# ------------------------------------------------------------------------------------------------ route
with t_route:
    st.markdown("Route a file of new accounts or leads against the plan. Every row comes out routed or in the queue.")
    src = st.radio("Records", ["The sample leads (data/sample/leads.csv)", "Upload a file"], key="exq_src",
                   horizontal=True)
    up = st.file_uploader("Accounts or leads (CSV, Excel, Parquet)", key="exq_upload") if src == "Upload a file" else None
    if st.button("Route and queue the exceptions", type="primary", key="exq_route", disabled=scn is None):
        from territory_core.dataset import SAMPLE_DIR
        from territory_core.route.records import read_records

        source = up if up is not None else (SAMPLE_DIR / "leads.csv" if src.startswith("The sample") else None)
        if source is None:
            st.error("Choose a file first.")
        else:
            rr = read_records(source)
            router, err = router_for(scn)
            if rr.records is None:
                st.error("The file cannot be routed: " + md("; ".join(str(i[3]) for i in rr.issues[:3])))
            elif router is None:
                st.error(f"The plan's rules could not be compiled: {md(err)}")
            else:
                res = router.route(rr.records)
                name = getattr(source, "name", None) or str(source).rsplit("/", 1)[-1]
                run_id = rs.log_run(res, rr.records, user=user(), source=name, plan=scn)
                st.session_state["exq_last"] = (run_id, res.routed, res.exceptions, res.counts(), res.total)
                warn = len([i for i in rr.issues if i[0] == "error"])
                _done(f"Run #{run_id}: {len(res.routed):,} of {res.total:,} records routed ({len(res.routed) / res.total:.1%}), "
                      f"{len(res.exceptions):,} to the queue." + (f" {warn} values could not be read and count as unknown."
                                                                 if warn else ""))
    last = st.session_state.get("exq_last")
    if last:
        run_id, routed, exceptions, counts, total = last
        st.markdown(f"**Last run (#{run_id})**: {total:,} records")
        cnt = pd.DataFrame([(RULE_LABELS.get(k) or EXCEPTION_KINDS.get(k, k), n, n / total) for k, n in counts.items()],
                           columns=["outcome", "records", "share"]).sort_values("records", ascending=False)
        st.dataframe(cnt, hide_index=True, key="exq_counts",
                     column_config={"share": st.column_config.NumberColumn(format="percent")})
        st.dataframe(routed.head(1000), hide_index=True, key="exq_routed")
        b1, b2 = st.columns(2)
        b1.download_button("Routed records (CSV)", routed.to_csv(index=False).encode(), "routed.csv", "text/csv",
                           key="exq_dl_routed", on_click="ignore")
        b2.download_button("Exceptions (CSV)", exceptions.to_csv(index=False).encode(), "exceptions.csv", "text/csv",
                           key="exq_dl_exc", on_click="ignore")

# ------------------------------------------------------------------------------------------------ queue
with t_queue:
    stats = rs.stats()
    q = stats["queue"]
    m = st.columns(5)
    m[0].metric("Open", f"{q['open']:,}")
    m[1].metric("Assigned", f"{q['assigned']:,}")
    m[2].metric("Settled by a rule", f"{q['ruled']:,}")
    m[3].metric("Dismissed", f"{q['dismissed']:,}")
    m[4].metric("Exception rate", "no runs yet" if stats["exception_rate"] is None else pct(stats["exception_rate"]),
                help=f"{stats['exceptions']:,} of {stats['records']:,} records routed, all runs.")
    open_q = rs.queue("open")
    if open_q.empty:
        st.info("The queue is empty. Route records (tab *Route records*) or wait for the routing service.")
    else:
        kinds = sorted(open_q["kind"].unique())
        pick = st.multiselect("Show", kinds, default=kinds, format_func=lambda k: KIND_LABELS.get(k, k), key="exq_kinds")
        view = open_q[open_q["kind"].isin(pick)]
        st.dataframe(view[["id", "record_id", "kind", "reason", "candidates", "segment", "source", "created_at"]]
                     .assign(kind=view["kind"].map(lambda k: KIND_LABELS.get(k, k))), hide_index=True, key="exq_table",
                     height=min(420, 38 + 35 * len(view)))
        labels = {int(r.id): f"#{int(r.id)} · {r.record_id} · {KIND_LABELS.get(r.kind, r.kind)}" for r in view.itertuples()}
        if labels:
            eid = st.selectbox("Work on", list(labels), format_func=labels.get, key="exq_pick")
            try:
                ex = rs.exception(eid)
            except RoutingNotFound as exc:
                st.error(md(exc))
                st.stop()
            rec = ex["record"]
            st.markdown(f"**{md(ex['record_id'])}** · {md(rec.get('name') or '')} · "
                        f"{md(EXCEPTION_KINDS.get(ex['kind'], ex['kind']))}")
            st.info(md(ex["reason"]))
            shown = {k: v for k, v in rec.items() if v not in (None, "", False) and k not in ("row", "company_key")}
            st.dataframe(pd.DataFrame({"field": list(shown), "value": [str(v) for v in shown.values()]}),
                         hide_index=True, key="exq_record")
            cands = [c for c in (ex["candidates"] or "").split(";") if c]
            reps = rep_options(ds, first=cands)
            a_col, r_col, d_col = st.columns(3)
            with a_col.form(f"exq_assign_form_{eid}"):
                st.markdown("**Assign**")
                rep = st.selectbox("Rep", reps, format_func=_fmt, key=f"exq_assign_rep_{eid}")
                note = st.text_input("Note (why)", key=f"exq_assign_note_{eid}")
                if st.form_submit_button("Assign", type="primary"):
                    try:
                        rs.assign(eid, rep, user=user(), note=note)
                    except (RoutingConflict, RoutingNotFound, ValueError) as exc:
                        st.error(md(exc))
                    else:
                        _done(f"{ex['record_id']} assigned to {_fmt(rep)}.")
            with r_col.form(f"exq_rule_form_{eid}"):
                st.markdown("**Make it a rule**")
                values = {"domain": rec.get("domain"), "company": rec.get("name"), "zip": rec.get("zip"),
                          "county": rec.get("county"), "state": rec.get("state"), "industry": rec.get("industry"),
                          "country": rec.get("country"), "segment": ex.get("segment"), "record_id": ex["record_id"]}
                fields = [f for f in DECISION_FIELDS if values.get(f)]
                fld = st.selectbox("Records whose", fields, key=f"exq_rule_field_{eid}",
                                   format_func=lambda f: f"{f} is {normalize_value(f, values[f])}")
                rrep = st.selectbox("go to", reps, format_func=_fmt, key=f"exq_rule_rep_{eid}")
                prio = st.number_input("Priority (lower first)", 1, 1000, 100, key=f"exq_rule_prio_{eid}")
                rnote = st.text_input("Note (why)", key=f"exq_rule_note_{eid}")
                if st.form_submit_button("Make rule and assign"):
                    try:
                        rule = DecisionRule(fld, values[fld], rrep, int(prio), rnote)
                        rid = rs.make_rule(eid, rule, user=user())
                    except (RoutingError, RoutingConflict, RoutingNotFound, ValueError) as exc:
                        st.error(md(exc))
                    else:
                        _done(f"Rule #{rid}: {rule.describe()} goes to {_fmt(rrep)}; {ex['record_id']} assigned.")
            with d_col.form(f"exq_dismiss_form_{eid}"):
                st.markdown("**Dismiss**")
                dnote = st.text_input("Why (spam, duplicate, test record...)", key=f"exq_dismiss_note_{eid}")
                if st.form_submit_button("Dismiss"):
                    try:
                        rs.dismiss(eid, user=user(), note=dnote)
                    except (RoutingConflict, RoutingNotFound, ValueError) as exc:
                        st.error(md(exc))
                    else:
                        _done(f"{ex['record_id']} dismissed.")
    with st.expander("Decided exceptions"):
        done = rs.queue(["assigned", "ruled", "dismissed"], limit=1000)
        st.dataframe(done[["id", "record_id", "kind", "status", "rep_id", "decided_by", "decided_at", "note", "rule_id"]],
                     hide_index=True, key="exq_done")

# ------------------------------------------------------------------------------------------------ rules
with t_rules:
    st.markdown("Decision rules settle records the plan's rules cannot (no rule, a conflict, an owner who left); "
                "lower priority first. Make them from the queue, or here.")
    rules = rs.rules_frame()
    st.dataframe(rules, hide_index=True, key="exq_rules_table")
    with st.form("exq_add_rule"):
        c = st.columns([1, 2, 2, 1, 2])
        fld = c[0].selectbox("Field", DECISION_FIELDS, key="exq_new_field")
        val = c[1].text_input("Value", key="exq_new_value")
        rep = c[2].selectbox("Rep", rep_options(ds), format_func=_fmt, key="exq_new_rep")
        prio = c[3].number_input("Priority", 1, 1000, 100, key="exq_new_prio")
        note = c[4].text_input("Note", key="exq_new_note")
        if st.form_submit_button("Add rule"):
            try:
                rid = rs.add_rule(DecisionRule(fld, val, rep, int(prio), note), user=user())
            except (RoutingError, ValueError) as exc:
                st.error(md(exc))
            else:
                _done(f"Rule #{rid} added.")
    active = rules[rules["active"]] if len(rules) else rules
    if len(active):
        off = st.selectbox("Switch off a rule", active["id"].tolist(), key="exq_off_pick",
                           format_func=lambda i: f"#{i} " + " ".join(str(x) for x in active.loc[active['id'] == i,
                                                                                                ['field', 'value', 'rep_id']].iloc[0]))
        if st.button("Switch off", key="exq_off"):
            try:
                rs.deactivate_rule(int(off), user=user())
            except RoutingNotFound as exc:
                st.error(md(exc))
            else:
                _done(f"Rule #{off} switched off.")

# ------------------------------------------------------------------------------------------------ away
with t_away:
    st.markdown("Reps away are skipped by routing on those dates (their accounts stay theirs).")
    away = rs.unavailability()
    st.dataframe(pd.DataFrame([(u.id, _fmt(u.rep_id), u.start, u.end, u.reason) for u in away],
                              columns=["id", "rep", "from", "to", "why"]), hide_index=True, key="exq_away_table")
    with st.form("exq_away_form"):
        c = st.columns([2, 1, 1, 2])
        rep = c[0].selectbox("Rep", rep_options(ds), format_func=_fmt, key="exq_away_rep")
        start = c[1].date_input("From", key="exq_away_from")
        end = c[2].date_input("To", key="exq_away_to")
        why = c[3].text_input("Why", key="exq_away_why")
        if st.form_submit_button("Add"):
            try:
                rs.add_unavailability(rep, start, end, user=user(), reason=why)
            except (RoutingError, ValueError) as exc:
                st.error(md(exc))
            else:
                _done(f"{_fmt(rep)} away {start} to {end}.")
    if away:
        rm = st.selectbox("Remove", [u.id for u in away], key="exq_away_rm",
                          format_func=lambda i: next(f"{_fmt(u.rep_id)} {u.start} to {u.end}" for u in away if u.id == i))
        if st.button("Remove", key="exq_away_rm_btn"):
            rs.remove_unavailability(int(rm), user=user())
            _done("Removed.")

# ------------------------------------------------------------------------------------------------ audit
with t_audit:
    st.markdown("Every routing decision people made: who, when, what and why.")
    st.dataframe(rs.audit(), hide_index=True, key="exq_audit")
    runs = rs.runs()
    if len(runs):
        st.markdown("**Runs**")
        st.dataframe(runs, hide_index=True, key="exq_runs")
