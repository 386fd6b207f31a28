"""The people side of routing: disputes that become overrides, routing accuracy (drift since the
plan was made) and recalibration scenarios. Plain data in and out; the store keeps the trail.

- :func:`file_claim` checks a rep's claim on an account before the store files it.
- :func:`apply_disputes` turns accepted claims into overrides
  (``{"account_id", "rep_id", "lock", "reason"}``) of the next version of the plan;
  :func:`save_disputes_version` saves that version and marks the claims applied.
- :func:`routing_drift` compares today's owners with what the plan's rules give.
- :func:`recalibration_scenario` / :func:`add_to_recalibration` keep today's owners of drifted
  accounts in a child scenario of the plan, to re-solve around them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd

from ..contract import ASSIGNMENT, A, R, S
from ..dataset import Dataset, coerce_types

OWNER_RULES = ("named", "locked", "plan", "family", "domain", "company_name", "territory", "decision_rule")
RECALIBRATION_SUFFIX = " recalibration"


class WorkflowError(ValueError):
    """A claim, decision or recalibration that cannot be made (message says why and what to do)."""


# ------------------------------------------------------------------------------------------------ claims
def plan_owner(plan, account_id: str) -> str | None:
    a = plan.assignment
    if a is None:
        return None
    hit = a.loc[a[S.account_id].astype("string") == str(account_id), S.rep_id]
    return None if hit.empty or pd.isna(hit.iloc[0]) else str(hit.iloc[0])


def check_rep(dataset: Dataset, rep_id: str, what: str = "rep") -> str:
    """The rep id if the rep exists, is active and is not a placeholder; else WorkflowError."""
    from .router import PLACEHOLDER_PREFIX

    rid = str(rep_id or "").strip()
    reps = dataset.reps
    row = reps.loc[reps[R.rep_id].astype("string") == rid]
    if not rid or row.empty:
        raise WorkflowError(f"The {what} {rid or '(none)'} is not in the reps table: pick a rep from the list.")
    r = row.iloc[0]
    if R.active in row.columns and not bool(pd.Series([r[R.active]]).astype("boolean").fillna(True).iloc[0]):
        raise WorkflowError(f"The {what} {rid} is inactive and cannot own accounts: pick an active rep.")
    ph = R.placeholder in row.columns and bool(pd.Series([r[R.placeholder]]).astype("boolean").fillna(False).iloc[0])
    if ph or rid.startswith(PLACEHOLDER_PREFIX):
        raise WorkflowError(f"The {what} {rid} is a placeholder seat (to be hired): pick a rep who is here.")
    return rid


def file_claim(rs, dataset: Dataset, plan, account_id: str, claimant_rep_id: str, reason: str, *, user: str) -> int:
    """File a claim after checking it: the account exists, the claimant is an active rep who
    does not already own it in the plan, and there is a reason. Returns the dispute id."""
    aid = str(account_id or "").strip()
    if not aid or not (dataset.accounts[A.account_id].astype("string") == aid).any():
        raise WorkflowError(f"Account {aid or '(none)'} is not in the data: search for it by name or id.")
    rep = check_rep(dataset, claimant_rep_id, "claimant")
    owner = plan_owner(plan, aid)
    if owner == rep:
        raise WorkflowError(f"{rep} already owns {aid} in {plan.label}: nothing to claim.")
    if not str(reason or "").strip():
        raise WorkflowError("A claim needs a reason: why should this rep own the account?")
    return rs.claim(aid, rep, str(reason).strip(), user=user, owner_rep_id=owner, plan=plan)


# ------------------------------------------------------------------------------------------------ overrides
def _with_overrides(dataset: Dataset, plan, new: list[dict], *, note: str):
    """The next version of ``plan``: ``new`` overrides added (replacing earlier ones for the same
    accounts), the assignment updated for them and the report saying it was not re-solved."""
    from ..plan.scenarios import EventError, apply_events, apply_overrides

    if plan.assignment is None:
        raise WorkflowError(f"{plan.label} has no assignment: solve it first.")
    by_acc = {str(o["account_id"]): dict(o) for o in plan.overrides}
    for o in new:
        by_acc[str(o["account_id"])] = dict(o)
    overrides = tuple(by_acc.values())
    try:
        apply_overrides(apply_events(dataset, plan.events), overrides)
    except EventError as exc:
        raise WorkflowError(f"Cannot add these overrides to {plan.label}: {exc}") from None
    asg = plan.assignment.copy()
    asg[S.account_id] = asg[S.account_id].astype("string")
    ids = asg[S.account_id].astype(str)
    for o in new:
        m = (ids == str(o["account_id"])).to_numpy()
        if not m.any():
            continue
        asg.loc[m, S.rep_id] = o["rep_id"]
        asg.loc[m, S.reason] = o["reason"]
    if S.previous_rep_id in asg.columns:
        asg[S.moved] = (asg[S.rep_id].astype("string").fillna("") != asg[S.previous_rep_id].astype("string").fillna(""))
    asg = coerce_types(asg, ASSIGNMENT)
    report = dict(plan.report or {})
    report["notes"] = list(report.get("notes") or []) + [note]
    report.update(status="edited", status_text=f"Edited after the solve: {note} (not re-solved; re-solve to rebalance)",
                  moves=int(asg[S.moved].fillna(False).sum()) if S.moved in asg.columns else report.get("moves"))
    return plan.with_(overrides=overrides, assignment=asg, report=report)


def apply_disputes(dataset: Dataset, plan, disputes: pd.DataFrame):
    """The next version of ``plan`` with each accepted dispute as a locked override to its
    claimant. ``disputes``: rows of :meth:`RoutingStore.disputes` (accepted, not yet applied)."""
    acc = disputes[disputes["status"] == "accepted"]
    if acc.empty:
        raise WorkflowError("No accepted dispute to apply.")
    new = [{"account_id": str(r.account_id), "rep_id": str(r.claimant_rep_id), "lock": True,
            "reason": f"Dispute #{int(r.id)} accepted: {str(r.note or '').strip() or str(r.reason)}"}
           for r in acc.sort_values("id").itertuples()]
    nxt = _with_overrides(dataset, plan, new, note=f"{len(new)} accepted dispute(s) saved as overrides")
    if plan.id is None:  # today's plan: the next version is a new scenario
        nxt = nxt.with_(name=f"{plan.name} with accepted disputes", id=None, version=None)
    return nxt


def pending_disputes(rs, plan) -> pd.DataFrame:
    """Accepted disputes filed against ``plan`` (its scenario, any version; today's plan: those
    filed against it) that no version holds yet."""
    d = rs.disputes("accepted")
    d = d[d["applied_scenario_id"].isna()]
    sid = getattr(plan, "id", None)
    return d[d["scenario_id"].isna()] if sid is None else d[d["scenario_id"] == sid]


def save_disputes_version(store, rs, dataset: Dataset, plan, *, user: str):
    """Save the next version of ``plan`` holding its accepted disputes; mark them applied.
    Returns the saved scenario."""
    pend = pending_disputes(rs, plan)
    nxt = apply_disputes(dataset, plan, pend)
    saved = store.save(nxt, user=user, note=f"{len(pend)} accepted dispute(s) as overrides")
    rs.mark_applied(pend["id"].tolist(), saved.id, saved.version, user=user)
    return saved


# ------------------------------------------------------------------------------------------------ drift
@dataclass(frozen=True)
class Drift:
    """Routing accuracy: ``checked`` accounts the rules decide, ``accurate`` of them owned today by
    the rep the rules give (or a rep of the team they give), ``undecided`` that go to the queue;
    ``drifted``: account_id, name, owner_today, expected, rule, reason, arr (largest ARR first)."""

    checked: int
    accurate: int
    undecided: int
    drifted: pd.DataFrame

    @property
    def accuracy(self) -> float | None:
        return self.accurate / self.checked if self.checked else None

    @property
    def drift_share(self) -> float | None:
        return 1 - self.accuracy if self.checked else None


def routing_drift(dataset: Dataset, router) -> Drift:
    """Every account routed by the plan's rules (``router``), compared with its owner today: an
    owner-level decision (plan, named, locked, family, ...) must name today's owner; a team-level
    one (segment + geography) must name today's owner's team."""
    acc = dataset.accounts.reset_index(drop=True)
    res = router.route(acc, kind="account")
    owner = acc[A.owner_id].astype("string").str.strip().to_numpy(dtype=object, na_value=None) if A.owner_id in acc.columns \
        else np.full(len(acc), None, dtype=object)
    rows, accurate, checked, undecided = [], 0, 0, 0
    arr = pd.to_numeric(acc[A.arr], errors="coerce").fillna(0.0).to_numpy() if A.arr in acc.columns else np.zeros(len(acc))
    for i, d in enumerate(res.decisions):
        if not d.routed:
            undecided += 1
            continue
        checked += 1
        today = owner[i]
        if d.rule in OWNER_RULES:
            ok = today == d.rep_id
            expected = router.rep_label(d.rep_id)
        else:
            ok = today is not None and router.team_label(router.rep_team.get(today, ())) == d.team and \
                router.rep_active.get(today, False)
            expected = f"team {d.team}"
        if ok:
            accurate += 1
        else:
            rows.append((d.record_id, str(acc.at[i, A.name]) if A.name in acc.columns else "", today,
                         router.rep_label(today) if today else "(nobody)", d.rep_id if d.rule in OWNER_RULES else None,
                         expected, d.rule, d.reason, float(arr[i])))
    drifted = pd.DataFrame(rows, columns=["account_id", "name", "owner_today", "owner_today_label", "expected_rep_id",
                                          "expected", "rule", "reason", "arr"])
    drifted = drifted.sort_values(["arr", "account_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    return Drift(checked, accurate, undecided, drifted)


def recalibration_scenario(dataset: Dataset, plan, account_ids: Iterable[str], *, base=None):
    """A scenario that keeps today's owner for ``account_ids`` (as overrides) on top of ``plan``
    (or of ``base``, an earlier recalibration of it). Accounts whose owner today is missing or
    cannot own accounts are skipped. Returns (scenario, skipped ids with why)."""
    from ..plan.scenarios import Scenario

    acc = dataset.accounts
    owner = dict(zip(acc[A.account_id].astype(str), acc[A.owner_id].astype("string"))) if A.owner_id in acc.columns else {}
    new, skipped = [], []
    for aid in dict.fromkeys(str(a) for a in account_ids):
        rep = owner.get(aid)
        if rep is None or pd.isna(rep):
            skipped.append((aid, "has no owner today"))
            continue
        try:
            check_rep(dataset, str(rep), "owner")
        except WorkflowError as exc:
            skipped.append((aid, str(exc)))
            continue
        new.append({"account_id": aid, "rep_id": str(rep), "lock": False,
                    "reason": f"Recalibration: the owner changed since {plan.label}"})
    if not new:
        raise WorkflowError("None of these accounts has an owner today who can keep it: " +
                            "; ".join(f"{a} {w}" for a, w in skipped[:5]))
    start = base if base is not None else Scenario(
        name=plan.name + RECALIBRATION_SUFFIX, parent_id=plan.id, parent_version=plan.version,
        settings=plan.settings, events=plan.events, overrides=plan.overrides, assignment=plan.assignment,
        report=plan.report, description=f"Today's owners of accounts that drifted from {plan.label}.")
    sc = _with_overrides(dataset, start, new, note=f"{len(new)} drifted account(s) keep today's owner")
    return sc, skipped


def add_to_recalibration(store, dataset: Dataset, plan, account_ids: Iterable[str], *, user: str):
    """Add drifted accounts to the plan's recalibration scenario (created on first use, a new
    version after). Returns (saved scenario, skipped)."""
    base = None
    if plan.id is not None:
        lst = store.list_scenarios()
        hit = lst[(lst["parent_id"] == plan.id) & (lst["name"] == plan.name + RECALIBRATION_SUFFIX)]
        if len(hit):
            base = store.load(str(hit["id"].iloc[0]))
    sc, skipped = recalibration_scenario(dataset, plan, account_ids, base=base)
    saved = store.save(sc, user=user, note=f"Drifted accounts from {plan.label} keep today's owner")
    return saved, skipped
