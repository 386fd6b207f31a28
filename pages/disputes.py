"""Disputes: a rep claims an account with a reason; RevOps accepts or rejects it with a note; the
accepted claims become overrides in the next version of the plan. The work is done by
territory_core.route.workflow and territory_core.store.routing."""
from __future__ import annotations

import streamlit as st

from territory_core.contract import A
from territory_core.route.workflow import WorkflowError, file_claim, pending_disputes, plan_owner, save_disputes_version
from territory_core.store.routing import RoutingConflict, RoutingNotFound
from ui import scenario_widgets as W
from ui.format import md
from ui.routing import plan_picker, rep_options, routing_store, user
from ui.state import get_dataset

st.title("Disputes")
st.caption("A rep who believes an account should be theirs files a claim with a reason. RevOps accepts or rejects it "
           "with a note; accepted claims become locked overrides in the next version of the plan.")

ds = get_dataset()
names = W.rep_names(ds)
try:
    rs = routing_store()
except Exception as exc:  # noqa: BLE001
    st.error(f"The scenario database could not be opened ({md(exc)}). Check TERRITORY_DB_URL.")
    st.stop()

scn = plan_picker("dsp_plan", container=st.columns([2, 4])[0])
flash = st.session_state.pop("dsp_flash", None)
if flash:
    st.success(md(flash))


def _done(msg: str) -> None:
    st.session_state["dsp_flash"] = msg
    st.rerun()


def _fmt(rid) -> str:
    return W.rep_label(rid, names)


acc = ds.accounts
t_claim, t_open, t_apply, t_hist = st.tabs(["File a claim", "Open claims", "Accepted: next version", "History"])

with t_claim:
    if scn is None:
        st.info("Pick a plan to claim accounts in.")
    else:
        q = st.text_input("Find the account (name or id)", key="dsp_find")
        hits = acc
        if q.strip():
            s = q.strip()
            hits = acc[acc[A.name].astype(str).str.contains(s, case=False, regex=False)
                       | acc[A.account_id].astype(str).str.contains(s, case=False, regex=False)]
        hits = hits.head(200)
        if hits.empty:
            st.warning(f"No account matches {md(q)}.")
        else:
            labels = {str(r[A.account_id]): f"{r[A.account_id]} · {r[A.name]} · owner in the plan: "
                      f"{_fmt(plan_owner(scn, str(r[A.account_id])))}" for _, r in hits.iterrows()}
            with st.form("dsp_claim_form"):
                aid = st.selectbox("Account", list(labels), format_func=labels.get, key="dsp_account")
                rep = st.selectbox("Claimed by", rep_options(ds), format_func=_fmt, key="dsp_claimant")
                why = st.text_area("Reason", key="dsp_reason", placeholder="e.g. I sourced the opportunity; the buyer "
                                   "moved from my account Acme West")
                if st.form_submit_button("File the claim", type="primary"):
                    try:
                        did = file_claim(rs, ds, scn, aid, rep, why, user=user())
                    except (WorkflowError, RoutingConflict, ValueError) as exc:
                        st.error(md(exc))
                    else:
                        _done(f"Claim #{did} filed: {_fmt(rep)} on {aid}.")

with t_open:
    open_d = rs.disputes("open")
    if open_d.empty:
        st.info("No open claims.")
    else:
        view = open_d.assign(account=open_d["account_id"].map(
            dict(zip(acc[A.account_id].astype(str), acc[A.name].astype(str)))),
            claimant=open_d["claimant_rep_id"].map(_fmt), owner=open_d["owner_rep_id"].map(_fmt))
        st.dataframe(view[["id", "account_id", "account", "claimant", "owner", "reason", "created_by", "created_at"]],
                     hide_index=True, key="dsp_open_table")
        labels = {int(r.id): f"#{int(r.id)} · {r.account_id} · {_fmt(r.claimant_rep_id)}" for r in open_d.itertuples()}
        with st.form("dsp_decide_form"):
            did = st.selectbox("Claim", list(labels), format_func=labels.get, key="dsp_pick")
            note = st.text_area("Note to the rep (why)", key="dsp_note")
            c1, c2 = st.columns(2)
            accept = c1.form_submit_button("Accept", type="primary")
            reject = c2.form_submit_button("Reject")
            if accept or reject:
                try:
                    rs.decide(int(did), bool(accept), user=user(), note=note)
                except (RoutingConflict, RoutingNotFound, ValueError) as exc:
                    st.error(md(exc))
                else:
                    _done(f"Claim #{did} {'accepted' if accept else 'rejected'}.")

with t_apply:
    if scn is None:
        st.info("Pick a plan.")
    else:
        pend = pending_disputes(rs, scn)
        if pend.empty:
            st.info(f"No accepted claim on {md(scn.label)} waits for a new version.")
        else:
            st.markdown(f"{len(pend):,} accepted claim(s) on **{md(scn.label)}** become locked overrides in its next "
                        "version (not re-solved: re-solve it in the Scenario Editor to rebalance around them).")
            st.dataframe(pend.assign(claimant=pend["claimant_rep_id"].map(_fmt), owner=pend["owner_rep_id"].map(_fmt))[
                ["id", "account_id", "claimant", "owner", "note", "decided_by", "decided_at"]], hide_index=True,
                key="dsp_pending")
            if st.button(f"Save the next version of {scn.label}", type="primary", key="dsp_apply"):
                try:
                    saved = save_disputes_version(W.get_store(), rs, ds, scn, user=user())
                except Exception as exc:  # noqa: BLE001 - conflicts, bad overrides: a message
                    st.error(f"Not saved: {md(exc)}")
                else:
                    _done(f"Saved {saved.label} with {len(pend)} override(s) from accepted claims.")

with t_hist:
    hist = rs.disputes(["accepted", "rejected"])
    st.dataframe(hist.assign(claimant=hist["claimant_rep_id"].map(_fmt), owner=hist["owner_rep_id"].map(_fmt))[
        ["id", "account_id", "claimant", "owner", "status", "reason", "note", "decided_by", "decided_at",
         "applied_version"]], hide_index=True, key="dsp_hist",
        column_config={"applied_version": st.column_config.NumberColumn("saved in version")})
