"""Explanations a planner can read: why a problem has no plan (each limit stretched alone, the
smallest stretch that makes it feasible, the rep and the amount that break a band), and the reason
for each move in names and units."""
from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd

from ..text import amount, label, quantity
from .engine import Data, build_spec, solve_lp, solve_mip
from .prep import Prepared, _loads


def explain_infeasible(p: Prepared, settings, *, full_pool_pairs: int, exact_pairs: int, spec_deadline: float):
    """No single cause found up front: for each limit that could stretch (each hard band's
    tolerance, the move caps), solve an elastic model where only that limit may stretch, and
    report the smallest stretch that makes the problem feasible (one alternative per limit)."""
    expl: list[str] = []
    fixes: list[dict] = []
    knobs = [f"tol:{m}" for m in range(len(p.metric_names)) if p.hard[m] and p.M[:, m].sum() > 0]
    if settings.max_moves is not None:
        knobs.append("moves")
    if settings.max_arr_moved is not None:
        knobs.append("arr")
    if settings.max_moves_per_rep is not None:
        knobs.append("per_rep")
    data = Data(p)
    if int(p.elig.sum()) > full_pool_pairs:
        return (["No assignment satisfies every band, cap, lock and eligibility rule together (the LP relaxation "
                 "over every eligible pair is infeasible). Widen the tolerances or relax a cap; on a smaller "
                 "selection the solver can compute the smallest change."],
                [{"metric": p.metric_names[m], "tolerance": round(min(1.0, p.tol[m] * 2 + 0.01), 3),
                  "why": f"try doubling the {label(p.metric_names[m])} band"} for m in range(len(p.metric_names)) if p.hard[m]])
    pu, pr = np.nonzero(p.elig)
    pu, pr = pu.astype(np.int64), pr.astype(np.int64)
    tried = [(k,) for k in knobs]
    if len(knobs) > 1:
        tried.append(tuple(k for k in knobs if k.startswith("tol:")) or tuple(knobs))
    found = False
    for i, group in enumerate(tried):
        if found and i == len(tried) - 1 and len(tried) > 1:
            break  # the combined attempt is only for when no single knob works
        rem = spec_deadline - time.monotonic()
        if rem <= 0.2:
            break
        try:
            spec = build_spec(p, settings, elastic=group)
            share = max(0.5, rem / max(1, len(tried) - i))
            xsol = None
            if len(pu) <= exact_pairs:
                res = solve_mip(spec, data, pu, pr, time_limit=share, gap=1e-6,
                                solver="highs" if settings.solver == "highs" else "cbc", seed=settings.seed)
                sl, xsol = res.slack, res.x
                proof = "exact" if res.status == "optimal" else "enough"  # a plan: that stretch works
            else:
                lp = solve_lp(spec, data, pu, pr, deadline=time.monotonic() + share, seed=settings.seed, price_all=False)
                sl = lp.slack if lp.status == "optimal" else None
                proof = "at_least"  # the relaxation: no plan needs less
        except Exception as exc:  # the explanation must never hide the status
            expl.append(f"(Could not compute the smallest change: {exc})")
            continue
        if sl is None:
            continue
        found = True
        more = {"exact": "", "enough": " (enough; a little less may also do)", "at_least": " or more"}[proof]
        per_rep_need = 0
        for j, name in enumerate(spec.s_names):
            v = float(sl[j])
            if name.startswith("extra_gain_") or name.startswith("extra_lost_"):
                per_rep_need = max(per_rep_need, v)
                continue
            if v <= 1e-7:
                continue
            if name.startswith("extra_tol_"):
                m = int(name.rsplit("_", 1)[1])
                t = math.ceil((p.tol[m] + v) * 1000 - 1e-6) / 1000
                mname = p.metric_names[m]
                if p.bands == "no-worse":
                    who = _who_breaks(p, pu, pr, xsol, m)
                    expl.append(f"The {label(mname)} no-worse bands cannot all hold together with the other "
                                "settings: some rep must end farther from target than today." + who)
                else:
                    expl.append(f"The {label(mname)} bands (±{p.tol[m]:.1%}) cannot all be met together with the "
                                f"other settings; they need ±{t:.1%}{more}." + _who_breaks(p, pu, pr, xsol, m))
                fixes.append({"metric": mname, "tolerance": round(t, 3),
                              "why": f"widen the {label(mname)} band from ±{p.tol[m]:.1%} to ±{t:.1%}"})
            elif name == "extra_moves":
                need = int(math.ceil(settings.max_moves + v - 1e-6))
                expl.append(f"The move cap of {settings.max_moves} is too tight for the bands: "
                            f"{need}{more} moves are needed.")
                fixes.append({"max_moves": need, "why": f"raise the move cap to {need}"})
            elif name == "extra_arr":
                need = math.ceil(settings.max_arr_moved + v - 1e-6)
                expl.append(f"The cap on arr moved ({settings.max_arr_moved:,.0f}) is too tight: "
                            f"{need:,.0f}{more} must move.")
                fixes.append({"max_arr_moved": need, "why": f"raise the cap on ARR moved to ${need:,}"})
        if per_rep_need > 1e-7:
            need = int(math.ceil(settings.max_moves_per_rep + per_rep_need - 1e-6))
            expl.append(f"The per-rep move cap of {settings.max_moves_per_rep} is too tight: some rep must gain or "
                        f"lose {need}{more} accounts.")
            fixes.append({"max_moves_per_rep": need, "why": f"raise the per-rep move cap to {need}"})
    if not expl:
        expl.append("No assignment satisfies every band, cap, lock and eligibility rule together; "
                    "widen the tolerances or relax a cap.")
    return expl, fixes


def _who_breaks(p: Prepared, pu, pr, x, m: int, most: int = 3) -> str:
    """" Closest plan: Kenji Robinson ends $120k potential past his band, ..." from an elastic plan."""
    if x is None:
        return ""
    chosen = np.asarray(x) > 0.5
    rep_of_u = np.full(p.n_units, -1)
    rep_of_u[pu[chosen]] = pr[chosen]
    if (rep_of_u < 0).any():
        return ""
    load = np.bincount(rep_of_u, weights=p.M[:, m], minlength=len(p.rep_ids))
    over = np.where(p.active, np.maximum(load - p.upper[:, m], p.lower[:, m] - load), 0.0)
    worst = [int(r) for r in np.argsort(-over, kind="stable")[:most] if over[r] > 1e-6 * max(1.0, p.target[r, m])]
    if not worst:
        return ""
    parts = [f"{_rep_name(p, r)} {quantity(p.metric_names[m], over[r])} "
             f"{'over' if load[r] > p.upper[r, m] else 'under'} their band" for r in worst]
    return " Closest plan: " + "; ".join(parts) + "."


def _rep_name(p: Prepared, r: int) -> str:
    nm = p.rep_names[r] if p.rep_names is not None else None
    return str(nm) if nm not in (None, "") else str(p.rep_ids[r])


def _team_word(p: Prepared, r: int) -> str:
    if p.team_names is None or p.rep_team is None:
        return "the team"
    name = " ".join(s for s in str(p.team_names[p.rep_team[r]]).split(" | ") if s.strip())
    return name or "the team"


def _family(p: Prepared, u: int) -> str:
    return str(p.unit_name[u]) if p.unit_name is not None else str(p.unit_label[u])


def _reasons(p: Prepared, settings, rep_of: np.ndarray, moved: np.ndarray) -> list[str]:
    """One sentence per account a sales leader can read: names and units, no ids or column names.
    Deviations are today's books against the targets of the team as it will be."""
    prev = p.prev
    R, k = p.target.shape
    load0 = p.load0 if p.load0 is not None else _loads(p, prev)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel0 = np.where(p.target > 0, load0 / np.where(p.target > 0, p.target, 1) - 1, 0.0)
    names = [_rep_name(p, r) for r in range(R)]
    team = p.rep_team if p.rep_team is not None else np.zeros(R, dtype=int)

    # why a rep is a good home: the metric it is most under target on, and whether it had the most room
    room = []
    for r in range(R):
        if not p.active[r] or k == 0:
            room.append(f"{names[r]} takes it.")
            continue
        m = int(np.argmin(rel0[r]))
        mates = np.flatnonzero(p.active & (team == team[r]))
        most = rel0[r, m] <= rel0[mates, m].min() + 1e-12
        if rel0[r, m] < -1e-9:
            how = "had the most room" if most and len(mates) > 1 else "had room"
            where = f" in {_team_word(p, r)}" if p.team_names is not None else ""
            room.append(f"{names[r]} {how}{where} ({label(p.metric_names[m])} {-rel0[r, m]:.0%} under target).")
        else:
            room.append(f"{names[r]} can take it and stay within their band.")
    kept = {"locked": "locked", "named": "named account", "holdout": "late-stage open opportunity",
            "fixed": "manual override"}
    unit_prevs = pd.Series(prev).groupby(p.unit).nunique().to_numpy()
    rules = "eligibility rules" + (" or radius" if settings.max_radius_km is not None else "")
    out = []
    for i in range(len(prev)):
        u = p.unit[i]
        r = rep_of[i]
        kind = p.pin_kind[u]
        if prev[i] < 0:
            out.append(f"New owner: it had no owner among the active reps. {room[r]}")
            continue
        o = prev[i]
        if not moved[i]:
            out.append(f"Kept with {names[o]}: {kept[kind]}." if kind in kept else f"Kept with {names[o]}.")
            continue
        note = p.acc_note.get(i)
        if kind == "fixed":
            out.append(f"Moved by hand to {names[r]}.")
        elif not p.active[o]:
            extra = f" ({note})" if note else ""
            if p.unit_size[u] > 1 and kind == "scope":
                out.append(f"Re-homed with its family: {names[o]} left{extra}; the rest of the "
                           f"{_family(p, u)} family is with {names[r]}.")
            else:
                out.append(f"Re-homed: {names[o]} left{extra}. {room[r]}")
        elif p.rule_only is not None and not p.rule_only[u, o]:
            out.append(f"Moved: {names[o]} may not own it under the {rules}. {room[r]}")
        elif p.unit_size[u] > 1 and unit_prevs[u] > 1:
            out.append(f"Moved with its family ({_family(p, u)}) to {names[r]}.")
        elif settings.objective == "distance" and p.dist is not None:
            out.append(f"Closer: {names[r]} is {p.dist[u, r]:,.0f} km away, {names[o]} {p.dist[u, o]:,.0f} km.")
        elif k:
            m = int(np.argmax(rel0[o]))
            if rel0[o, m] > 1e-9:
                out.append(f"Rebalanced: {names[o]} was {rel0[o, m]:.0%} over target on {label(p.metric_names[m])} "
                           f"({amount(p.metric_names[m], load0[o, m])} vs {amount(p.metric_names[m], p.target[o, m])}). "
                           f"{room[r]}")
            else:
                out.append(f"Rebalanced to {names[r]}. {room[r]}")
        else:
            out.append(f"Moved to {names[r]}.")
    return out
