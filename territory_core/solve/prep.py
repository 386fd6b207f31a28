"""Solver input preparation: units (accounts or families), metric values, targets and bands,
eligibility, pins (locks, holdouts, manual overrides), disruption weights and distances.

Everything here is plain numpy/pandas; ``solver_engine`` turns a ``Prepared`` into a model.
Inputs are sorted by id first so that the same data gives the same model (determinism).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from ..contract import A, D, O, R, X
from ..analyse.hierarchy import resolve_hierarchy
from ..geo.zips import haversine_km
from ..text import label, quantity
from .settings import parse_scope



@dataclass
class Prepared:
    acc_ids: np.ndarray            # (n,) object, sorted
    rep_ids: np.ndarray            # (R,) object, sorted
    rep_names: np.ndarray          # (R,) object
    active: np.ndarray             # (R,) bool
    share: np.ndarray              # (R,) capacity x ramp share of the total (0 for inactive)
    prev: np.ndarray               # (n,) int rep index of today's owner, -1 when none/unknown
    unit: np.ndarray               # (n,) int unit index
    n_units: int
    unit_label: np.ndarray         # (U,) object: family id or account id
    unit_size: np.ndarray          # (U,) accounts in the unit
    metric_names: list[str]
    M_acc: np.ndarray              # (n, k) metric values per account
    M: np.ndarray                  # (U, k) metric values per unit
    tol: np.ndarray                # (k,)
    mweight: np.ndarray            # (k,)
    hard: np.ndarray               # (k,) bool
    target: np.ndarray             # (R, k)
    lower: np.ndarray              # (R, k)
    upper: np.ndarray              # (R, k)
    w_acc: np.ndarray              # (n,) disruption weight per account
    arr_acc: np.ndarray            # (n,) arr per account
    W: np.ndarray                  # (U,) disruption weight per unit
    ARR: np.ndarray                # (U,) arr per unit
    elig: np.ndarray               # (U, R) bool: unit may go to rep (pins applied)
    rule_elig: np.ndarray          # (U, R) bool: before pins (for explanations)
    pin: np.ndarray                # (U,) int rep index or -1
    pin_kind: np.ndarray           # (U,) object: "", "locked", "named", "holdout", "fixed"
    # sparse "previous owner" info per unit: (unit, rep, accounts, weight, arr) rows
    prev_u: np.ndarray
    prev_r: np.ndarray
    prev_n: np.ndarray
    prev_w: np.ndarray
    prev_arr: np.ndarray
    dist: np.ndarray | None        # (U, R) summed distance per unit, or None
    notes: list[str] = field(default_factory=list)       # plain-words remarks (split families, ...)
    acc_note: dict[int, str] = field(default_factory=dict)  # account index -> reason override
    problems: list[str] = field(default_factory=list)    # input problems making the run infeasible
    fixes: list[dict] = field(default_factory=list)
    # balancing within teams: each unit's team (-1: the shared pool) and each rep's team
    unit_team: np.ndarray | None = None
    rep_team: np.ndarray | None = None
    team_names: np.ndarray | None = None   # (G,) label of each team, e.g. "West | Mid-Market"
    unit_name: np.ndarray | None = None    # (U,) the family's top account's name (or the account's)
    # stability: today's loads (R, k), the band rule, the scope, and who it opened
    load0: np.ndarray | None = None
    bands: str = "absolute"
    scope: str = "all"
    needs_book: np.ndarray | None = None   # (R,) active reps with an empty book today (new hires)
    rule_only: np.ndarray | None = None    # (U, R) eligibility from the rules and radius alone (None: no rules)
    tiebreak: float = 0.0                  # weight of balance among plans with the fewest moves


def _str_col(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.array([None] * len(df), dtype=object)
    s = df[col].astype("string").str.strip()
    s = s.where(s.fillna("") != "", pd.NA)
    return s.astype(object).where(s.notna(), None).to_numpy(dtype=object)


def _bool_col(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.zeros(len(df), dtype=bool)
    s = df[col]
    if s.dtype == object or str(s.dtype).startswith("string"):
        s = s.map(lambda v: v if isinstance(v, (bool, np.bool_)) or pd.isna(v)
                  else str(v).strip().lower() in ("true", "1", "yes", "y", "t"))
    return s.astype("boolean").fillna(False).to_numpy(dtype=bool)


def _num_col(df: pd.DataFrame, col: str, default: float) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), float(default))
    return pd.to_numeric(df[col], errors="coerce").fillna(default).to_numpy(dtype=float)


def metric_values(accounts: pd.DataFrame, column: str) -> np.ndarray:
    """Per-account values of a balance metric; ``account_count`` is 1 per account when absent."""
    if column == X.account_count and column not in accounts.columns:
        return np.ones(len(accounts))
    if column not in accounts.columns:
        numeric = [c for c in accounts.columns if pd.api.types.is_numeric_dtype(accounts[c])]
        raise ValueError(
            f"Balance metric {column!r} is not a column of the accounts (numeric columns: "
            f"{', '.join(map(str, numeric)) or 'none'}); pick one of those or add the column.")
    v = pd.to_numeric(accounts[column], errors="coerce")
    if v.notna().sum() == 0 and len(v):
        raise ValueError(f"Balance metric {column!r} has no numeric values; fill it or pick another column.")
    v = v.fillna(0.0).to_numpy(dtype=float)
    if not np.isfinite(v).all():
        bad = int(np.argmax(~np.isfinite(v)))
        raise ValueError(f"Balance metric {column!r} is not a finite number ({v[bad]}) for account "
                         f"{accounts[A.account_id].iloc[bad]}; fix the value in the data.")
    with np.errstate(over="ignore"):
        total = float(np.sum(v))
    if not math.isfinite(total) or total > 1e15:
        bad = int(np.argmax(np.abs(v)))
        raise ValueError(f"Balance metric {column!r} adds up to more than 10^15 (account "
                         f"{accounts[A.account_id].iloc[bad]} has {v[bad]:.3g}); the values look wrong, fix them "
                         "in the data.")
    if (v < 0).any():
        bad = int(np.argmax(v < 0))
        raise ValueError(f"Balance metric {column!r} is negative for account "
                         f"{accounts[A.account_id].iloc[bad]}; balance metrics must be 0 or more.")
    return v


def account_distances(acc: pd.DataFrame, reps: pd.DataFrame, acc_ids, rep_ids,
                      distances: pd.DataFrame | None) -> np.ndarray | None:
    """(n, R) distance matrix from a user matrix, else haversine from lat/lon; NaN where unknown."""
    n, nr = len(acc_ids), len(rep_ids)
    if distances is not None and len(distances):
        for c in (D.account_id, D.rep_id, D.distance):
            if c not in distances.columns:
                raise ValueError(f"The distance matrix needs columns account_id, rep_id, distance; {c!r} is missing.")
        ai = pd.Index(acc_ids).get_indexer(distances[D.account_id].astype(str))
        ri = pd.Index(rep_ids).get_indexer(distances[D.rep_id].astype(str))
        dv = pd.to_numeric(distances[D.distance], errors="coerce").to_numpy(dtype=float)
        ok = (ai >= 0) & (ri >= 0) & np.isfinite(dv)
        out = np.full((n, nr), np.nan)
        out[ai[ok], ri[ok]] = dv[ok]
        return out
    have = all(c in acc.columns for c in (A.lat, A.lon)) and all(c in reps.columns for c in (R.home_lat, R.home_lon))
    if not have:
        return None
    alat, alon = _num_col(acc, A.lat, np.nan), _num_col(acc, A.lon, np.nan)
    rlat, rlon = _num_col(reps, R.home_lat, np.nan), _num_col(reps, R.home_lon, np.nan)
    if not (np.isfinite(alat).any() and np.isfinite(rlat).any()):
        return None
    return haversine_km(alat[:, None], alon[:, None], rlat[None, :], rlon[None, :])


def _rule_matrix(acc: pd.DataFrame, reps: pd.DataFrame, rule) -> np.ndarray:
    """(n, R) bool for one eligibility rule. Missing values on either side do not restrict."""
    if rule.account_field not in acc.columns:
        raise ValueError(f"Eligibility rule uses account field {rule.account_field!r}, which the accounts do not have.")
    if rule.rep_field not in reps.columns:
        raise ValueError(f"Eligibility rule uses rep field {rule.rep_field!r}, which the reps do not have.")
    av = [None if v is None else str(v).strip().lower() for v in _str_col(acc, rule.account_field)]
    rv = [None if v is None else str(v).strip().lower() for v in _str_col(reps, rule.rep_field)]
    n, nr = len(av), len(rv)
    codes, uniq = pd.factorize(pd.Series(av, dtype=object), use_na_sentinel=True)
    out = np.ones((n, nr), dtype=bool)
    for j, r in enumerate(rv):
        if r is None:
            continue
        if rule.mode == "contains":
            allowed = {p.strip() for p in r.replace(",", ";").split(";") if p.strip()}
        else:
            allowed = {r}
        ok_u = np.array([u in allowed for u in uniq] + [True])  # last: NA code (-1)
        out[:, j] = ok_u[codes]
    return out


def prepare(accounts: pd.DataFrame, reps: pd.DataFrame, settings, metrics, *,
            distances: pd.DataFrame | None = None, opportunities: pd.DataFrame | None = None,
            fixed: Mapping[str, str] | None = None) -> Prepared:
    if accounts is None or len(accounts) == 0:
        raise ValueError("There are no accounts to assign.")
    if reps is None or len(reps) == 0:
        raise ValueError("There are no reps to assign accounts to: the dataset has no reps. Upload a reps file on "
                         "the Data page, or create reps from the accounts' owner names there (capacity 1 FTE each).")
    for df, col, what in ((accounts, A.account_id, "accounts"), (reps, R.rep_id, "reps")):
        if col not in df.columns:
            raise ValueError(f"The {what} table has no {col!r} column.")
        ids = df[col].astype("string")
        if ids.isna().any():
            raise ValueError(f"The {what} table has {int(ids.isna().sum())} row(s) without {col}.")
        dup = ids[ids.duplicated()]
        if len(dup):
            raise ValueError(f"The {what} table repeats {col} {dup.iloc[0]!r}; ids must be unique.")

    acc = accounts.assign(_k=accounts[A.account_id].astype(str)).sort_values("_k", kind="stable").reset_index(drop=True)
    rp = reps.assign(_k=reps[R.rep_id].astype(str)).sort_values("_k", kind="stable").reset_index(drop=True)
    acc_ids = acc["_k"].to_numpy(dtype=object)
    rep_ids = rp["_k"].to_numpy(dtype=object)
    n, nr = len(acc_ids), len(rep_ids)
    rep_pos = pd.Index(rep_ids)

    active = ~np.zeros(nr, dtype=bool)
    if R.active in rp.columns:
        a = rp[R.active]
        if a.dtype == object or str(a.dtype).startswith("string"):
            a = a.map(lambda v: v if isinstance(v, (bool, np.bool_)) or pd.isna(v)
                      else str(v).strip().lower() in ("true", "1", "yes", "y", "t"))
        active = a.astype("boolean").fillna(True).to_numpy(dtype=bool)
    cap = np.clip(_num_col(rp, R.capacity, 1.0), 0, None)
    ramp = np.clip(_num_col(rp, R.ramp, 1.0), 0, None)
    for col, v in ((R.capacity, cap), (R.ramp, ramp)):
        if not np.isfinite(v).all():
            bad = int(np.argmax(~np.isfinite(v)))
            raise ValueError(f"Rep {rep_ids[bad]} has {col} {v[bad]}; {col} must be a finite number "
                             f"({'FTE, e.g. 1.0' if col == R.capacity else 'a share between 0 and 1'}).")
    wr = np.where(active, cap * ramp, 0.0)
    if wr.sum() <= 0:
        raise ValueError("No active rep has capacity: set active, capacity and ramp on at least one rep.")
    share = wr / wr.sum()

    owner = _str_col(acc, A.owner_id) if A.owner_id in acc.columns else np.array([None] * n, dtype=object)
    prev = rep_pos.get_indexer(pd.Index([o if o is not None else "\x00" for o in owner]))
    notes: list[str] = []
    acc_note: dict[int, str] = {}
    unknown = np.array([o is not None for o in owner]) & (prev < 0)
    if unknown.any():
        notes.append(f"{int(unknown.sum())} account(s) name an owner that is not in the reps table; they are "
                     f"treated as unowned (e.g. {owner[np.argmax(unknown)]!r}).")

    # metrics
    names = [m.column for m in metrics]
    M_acc = np.column_stack([metric_values(acc, c) for c in names]) if names else np.zeros((n, 0))
    tol = np.array([max(0.0, float(m.tolerance)) for m in metrics])
    mweight = np.array([float(m.weight) for m in metrics])
    hard = np.array([bool(m.hard) for m in metrics], dtype=bool)
    total = M_acc.sum(axis=0)
    target = share[:, None] * total[None, :]
    lower = target * (1 - tol)[None, :]
    upper = target * (1 + tol)[None, :]

    # disruption weight
    wcol = settings.disruption_weight_column
    if wcol in (None, "", "count", X.account_count):
        w_acc = np.ones(n)
    else:
        if wcol not in acc.columns:
            raise ValueError(f"Disruption weight column {wcol!r} is not a column of the accounts.")
        w_acc = np.clip(pd.to_numeric(acc[wcol], errors="coerce").fillna(0).to_numpy(dtype=float), 0, None)
    arr_acc = np.clip(_num_col(acc, A.arr, 0.0), 0, None)

    # eligibility
    el_acc = np.ones((n, nr), dtype=bool)
    for rule in settings.eligibility or ():
        el_acc &= _rule_matrix(acc, rp, rule)
    dist_acc = None
    if settings.use_distance or settings.max_radius_km is not None or settings.objective in ("distance",):
        dist_acc = account_distances(acc, rp, acc_ids, rep_ids, distances)
        if dist_acc is None and (settings.use_distance or settings.objective == "distance"):
            raise ValueError("Distance is on but there is neither a distance matrix nor lat/lon on accounts and "
                             "home_lat/home_lon on reps.")
    if settings.max_radius_km is not None and dist_acc is not None:
        el_acc &= ~(dist_acc > float(settings.max_radius_km))  # unknown distance does not exclude
    # what the rules and radius alone exclude (reasons name a rule only when one really excluded a rep)
    rules_acc = el_acc.copy() if (settings.eligibility or settings.max_radius_km is not None) else None

    # pins: fixed overrides > locks/named/holdouts
    pin_acc = np.full(n, -1)
    pin_kind_acc = np.array([""] * n, dtype=object)
    problems: list[str] = []
    fixes: list[dict] = []
    if settings.respect_locks:
        locked = _bool_col(acc, A.locked)
        named = _bool_col(acc, A.named)
        hold = np.zeros(n, dtype=bool)
        stages = {s.strip().lower() for s in (settings.holdout_stages or ()) if str(s).strip()}
        if stages and opportunities is not None and len(opportunities) and O.account_id in opportunities.columns \
                and O.stage in opportunities.columns:
            op = opportunities
            closed = _bool_col(op, O.is_closed) if O.is_closed in op.columns else np.zeros(len(op), dtype=bool)
            st = op[O.stage].astype("string").str.strip().str.lower().fillna("")
            late = (~closed) & st.isin(stages).to_numpy()
            hold_ids = set(op.loc[late, O.account_id].astype(str))
            hold = np.isin(acc_ids, list(hold_ids))
        for mask, kind in ((hold, "holdout"), (named, "named"), (locked, "locked")):
            ok = mask & (prev >= 0)
            ok_active = ok & active[np.clip(prev, 0, None)]
            pin_acc[ok_active] = prev[ok_active]
            pin_kind_acc[ok_active] = kind
            lost = ok & ~ok_active
            for i in np.flatnonzero(lost)[:1000]:
                acc_note[int(i)] = f"{kind} but its owner {rep_ids[prev[i]]} is inactive, so it had to move"
            if lost.any():
                notes.append(f"{int(lost.sum())} {kind} account(s) belong to inactive reps and cannot keep their owner.")
    if fixed:
        keys = [str(k) for k in fixed]
        ai = pd.Index(acc_ids).get_indexer(keys)
        bad = [k for k, i in zip(keys, ai) if i < 0]
        if bad:
            raise ValueError(f"Manual override names account {bad[0]!r}, which is not in the accounts"
                             f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}.")
        vals = [str(fixed[k]) for k in fixed]
        ri = rep_pos.get_indexer(vals)
        badr = [v for v, i in zip(vals, ri) if i < 0]
        if badr:
            raise ValueError(f"Manual override names rep {badr[0]!r}, which is not in the reps table.")
        for k, i, j in zip(keys, ai, ri):
            if not active[j]:
                problems.append(f"Account {k} is fixed to rep {rep_ids[j]}, who is inactive; inactive reps get no accounts.")
                pass  # the fix is in the overrides, not a setting: the explanation says which
                continue
            pin_acc[i] = j
            pin_kind_acc[i] = "fixed"

    # scope: which accounts may change hands (the rest keep their owner, pinned as "scope")
    scope_kind, scope_field, scope_value = parse_scope(settings.scope)
    if scope_kind == "auto":
        raise ValueError("scope 'auto' is decided by the scenario (or solve()); prepare needs all, affected or FIELD=VALUE.")
    owner_ok = (prev >= 0) & active[np.clip(prev, 0, None)]
    owner_ok &= el_acc[np.arange(n), np.clip(prev, 0, None)] if n else owner_ok
    must_move = ~owner_ok | (pin_kind_acc == "fixed")
    in_team_part = np.zeros(n, dtype=bool)  # FIELD=VALUE scope: accounts that move only among the chosen reps
    scope_reps = np.zeros(nr, dtype=bool)   # reps whose books the scope opens
    needs_book = np.zeros(nr, dtype=bool)   # active reps with an empty book today (new hires)
    if scope_kind != "all":
        owned_now = np.bincount(prev[prev >= 0], minlength=nr)
        needs_book = active & (owned_now == 0) & (wr > 0)
        if scope_kind == "reps":
            if scope_field not in rp.columns:
                raise ValueError(f"Scope {settings.scope!r}: the reps table has no {scope_field!r} column "
                                 f"(columns: {', '.join(c for c in rp.columns if c != '_k')}).")
            vals = rp[scope_field].astype("string").str.strip().str.casefold()
            scope_reps = vals.eq(scope_value.strip().casefold()).fillna(False).to_numpy(dtype=bool)
            if not (scope_reps & active).any():
                known = sorted(set(rp[scope_field].dropna().astype(str)))[:12]
                raise ValueError(f"Scope {settings.scope!r}: no active rep has {scope_field} = {scope_value!r}; "
                                 f"values in the reps table: {', '.join(known) or 'none'}.")
            in_sel = (prev >= 0) & scope_reps[np.clip(prev, 0, None)]
            # accounts of the chosen reps move only among the chosen reps; those that must change hands
            # anyway (a chosen rep who left) may go to anyone who can take them, as with "affected"
            el_acc[in_sel & ~must_move] &= scope_reps[None, :]
            in_team_part = in_sel & ~must_move
            movable = must_move | in_sel
        else:
            movable = must_move.copy()
        if needs_book.any() and settings.balance_within:
            # a new hire's book is carved from its own team: teammates' accounts may move to it
            key = rp[list(settings.balance_within)].astype("string").fillna("").agg(" | ".join, axis=1).to_numpy(object) \
                if all(f in rp.columns for f in settings.balance_within) else np.array([""] * nr, dtype=object)
            hire_teams = set(key[needs_book])
            mates = np.array([k in hire_teams for k in key]) & active
            movable |= (prev >= 0) & mates[np.clip(prev, 0, None)]
            scope_reps |= mates
        elif needs_book.any():
            movable[:] = True  # no teams: anyone's accounts may move to the new rep
        keep = ~movable & (pin_acc < 0) & owner_ok
        pin_acc[keep] = prev[keep]
        pin_kind_acc[keep] = "scope"

    # units
    if settings.keep_families and A.parent_id in acc.columns and acc[A.parent_id].notna().any():
        fam = resolve_hierarchy(acc)[X.ultimate_parent_id].astype(str).to_numpy(dtype=object)
    else:
        fam = acc_ids.copy()
    # a family that spans the edge of a FIELD=VALUE scope: its part with the chosen reps stays together
    # among them, the rest stays where it is (moving it across the edge would leave the scope)
    if in_team_part.any():
        fam_s = pd.Series(fam, dtype=object)
        edge = set(fam_s[~in_team_part]) & set(fam_s[in_team_part])
        if edge:
            cut = in_team_part & fam_s.isin(edge).to_numpy()
            fam = np.where(cut, np.char.add(fam.astype(str), "\x02").astype(object), fam)
            notes.append(f"{len(edge)} famil{'y' if len(edge) == 1 else 'ies'} span the chosen reps and others: the "
                         "part with the chosen reps is kept together among them; the rest stays where it is.")
    # a family whose accounts are pinned to different reps cannot stay together: split it
    pins = pd.DataFrame({"f": fam, "p": pin_acc, "scope": pin_kind_acc == "scope"})
    npins = pins[pins.p >= 0].groupby("f")["p"].nunique()
    split = set(npins[npins > 1].index)
    if split:
        n_locks = pins[(pins.p >= 0) & ~pins.scope].groupby("f")["p"].nunique()
        by_pin = sorted(set(n_locks[n_locks > 1].index))
        by_scope = len(split) - len(by_pin)
        if by_pin:
            notes.append(f"{len(by_pin)} famil{'y' if len(by_pin) == 1 else 'ies'} have accounts locked or fixed to "
                         f"different reps, so they are not kept together (e.g. {by_pin[0]}).")
        if by_scope:
            notes.append(f"{by_scope} famil{'y' if by_scope == 1 else 'ies'} already span several reps today and stay "
                         "as they are: only the accounts in the rebalance's scope move.")
        sm = np.isin(fam, list(split))
        fam = np.where(sm, np.char.add("\x01", acc_ids.astype(str)).astype(object), fam)
    unit, labels = pd.factorize(pd.Series(fam, dtype=object), sort=True)
    unit = unit.astype(np.int64)
    U = len(labels)
    unit_label = np.array([str(x).lstrip("\x01").rstrip("\x02") for x in labels], dtype=object)
    acc_name = _str_col(acc, A.name)
    name_of = dict(zip(acc_ids, acc_name))
    unit_name = np.array([name_of.get(x) or x for x in unit_label], dtype=object)
    unit_size = np.bincount(unit, minlength=U)
    M = np.zeros((U, M_acc.shape[1]))
    np.add.at(M, unit, M_acc)
    W = np.bincount(unit, weights=w_acc, minlength=U)
    ARR = np.bincount(unit, weights=arr_acc, minlength=U)

    # teams: balance within groups of reps (e.g. region + segment) instead of across everyone
    team_ok = unit_team = rep_team = team_names = None
    if settings.balance_within:
        target, team_ok, unit_team, rep_team, team_names = _team_targets(rp, settings.balance_within, wr, prev,
                                                                         pin_acc, unit, U, M_acc)
        lower = target * (1 - tol)[None, :]
        upper = target * (1 + tol)[None, :]
    bands = settings.effective_bands
    load0 = np.zeros_like(target)
    hp0 = prev >= 0
    for m in range(M_acc.shape[1]):
        load0[:, m] = np.bincount(prev[hp0], weights=M_acc[hp0, m], minlength=nr)
    # no-worse: a rep inside its band stays inside; one outside may not end farther from its target
    # than today (targets as the team will be: leavers gone, hires' ramped capacity added). It applies
    # to every rep with bands="no-worse", and always to the reps a FIELD=VALUE scope leaves out (their
    # books are not being rebalanced). A rep with an empty book today (a new hire) must reach its band.
    no_worse = np.zeros(nr, dtype=bool)
    if bands == "no-worse":
        no_worse[:] = True
    elif scope_kind == "reps":
        no_worse = ~scope_reps
    no_worse &= ~needs_book
    if no_worse.any():
        half = np.maximum(target * tol[None, :], np.abs(load0 - target))
        lower = np.where(no_worse[:, None], np.clip(target - half, 0, None), lower)
        upper = np.where(no_worse[:, None], target + half, upper)
    pin = np.full(U, -1)
    pin_kind = np.array([""] * U, dtype=object)
    has = pin_acc >= 0
    pin[unit[has]] = pin_acc[has]
    pin_kind[unit[has]] = pin_kind_acc[has]
    if no_worse.any() and len(names):
        # what stays pinned to a rep (its kept book, plus family members that must join it) can
        # put it past its no-worse band: then the band is what it must carry, and the note says so
        pinned = np.zeros_like(target)
        pu_ = np.flatnonzero(pin >= 0)
        for m in range(len(names)):
            pinned[:, m] = np.bincount(pin[pu_], weights=M[pu_, m], minlength=nr)
        over = (active & no_worse)[:, None] & (pinned > upper * (1 + 1e-9) + 1e-9)
        who = np.flatnonzero(over.any(axis=1))
        for r in who[:5]:
            parts = ", ".join(quantity(names[m], pinned[r, m] - upper[r, m]) for m in np.flatnonzero(over[r]))
            notes.append(f"{_rep_word(rep_ids, rp, r)} ends {parts} past the no-worse band: accounts that must join "
                         "this rep (family members of accounts it keeps, or moves fixed by an event or by hand) "
                         "cannot go elsewhere.")
        if len(who) > 5:
            notes.append(f"... and {len(who) - 5} more reps end past their no-worse band for the same reason.")
        upper = np.where(over, pinned, upper)

    # previous-owner rows (unit, rep) with accounts / weight / arr kept if the unit goes to rep
    hp = prev >= 0
    pf = pd.DataFrame({"u": unit[hp], "r": prev[hp], "n": 1, "w": w_acc[hp], "a": arr_acc[hp]})
    pg = pf.groupby(["u", "r"], sort=True).sum().reset_index()

    # unit eligible for a rep when every account is
    order = np.argsort(unit, kind="stable")
    starts = np.searchsorted(unit[order], np.arange(U))
    rule_elig = np.logical_and.reduceat(el_acc[order], starts, axis=0) if n else np.ones((U, nr), dtype=bool)
    rule_only = None
    if rules_acc is not None:
        rule_only = np.logical_and.reduceat(rules_acc[order], starts, axis=0) if n else np.ones((U, nr), dtype=bool)
    rule_elig = rule_elig & active[None, :]
    if team_ok is not None:
        rule_elig &= team_ok
    elig = rule_elig.copy()
    pu = np.flatnonzero(pin >= 0)
    elig[pu, :] = False
    elig[pu, pin[pu]] = True

    dist = None
    if dist_acc is not None and (settings.use_distance or settings.objective in ("distance", "mix")):
        d = np.nan_to_num(dist_acc, nan=0.0)
        dist = np.add.reduceat(d[order], starts, axis=0)

    return Prepared(
        acc_ids=acc_ids, rep_ids=rep_ids, rep_names=_str_col(rp, R.name), active=active, share=share,
        prev=prev, unit=unit, n_units=U, unit_label=unit_label, unit_size=unit_size, metric_names=names,
        M_acc=M_acc, M=M, tol=tol, mweight=mweight, hard=hard, target=target, lower=lower, upper=upper,
        w_acc=w_acc, arr_acc=arr_acc, W=W, ARR=ARR, elig=elig, rule_elig=rule_elig, pin=pin, pin_kind=pin_kind,
        prev_u=pg["u"].to_numpy(np.int64), prev_r=pg["r"].to_numpy(np.int64), prev_n=pg["n"].to_numpy(float),
        prev_w=pg["w"].to_numpy(float), prev_arr=pg["a"].to_numpy(float), dist=dist,
        notes=notes, acc_note=acc_note, problems=problems, fixes=fixes, unit_team=unit_team, rep_team=rep_team,
        team_names=team_names, unit_name=unit_name, load0=load0, bands=bands, scope=scope_kind if scope_kind != "reps" else str(settings.scope),
        needs_book=needs_book, rule_only=rule_only, tiebreak=_tiebreak(settings, scope_kind, active, len(names)),
    )


def _tiebreak(settings, scope_kind: str, active: np.ndarray, k: int) -> float:
    """Balance as a tie-break among plans with the fewest moves: on for any scope narrower than a
    full rebalance (where many plans move the same accounts and the split between reps is free),
    small enough that a whole move always costs more than any balance gain (each rep-metric's
    relative deviation is weighted 0.5 / (reps x metrics))."""
    if settings.balance_tiebreak is not None:
        return float(settings.balance_tiebreak)
    if scope_kind == "all" or settings.objective != "disruption" or k == 0:
        return 0.0
    return 0.5 / max(1, int(active.sum()) * k)


# ---------------------------------------------------------------- infeasibility diagnosis

def _team_targets(rp: pd.DataFrame, fields, wr: np.ndarray, prev: np.ndarray, pin_acc: np.ndarray,
                  unit: np.ndarray, U: int, M_acc: np.ndarray):
    """Targets and eligibility when balancing within teams of reps sharing ``fields`` (rep columns).

    A unit belongs to the team of its accounts' owner (its pin, else today's owner; the most common
    team for a family spread over several). Units with no owner, or whose team has no active capacity
    (everyone left), form a pool shared by all teams in proportion to their capacity. A unit with a
    pinned account (locked, named, holdout, override) belongs to its pin's team. A rep's target is
    its capacity x ramp share of its team's total plus its team's part of the pool; a unit may only go
    to reps of its own team (pool units: anyone). Returns (target, ok, unit_team, rep_team, team_names)."""
    missing = [f for f in fields if f not in rp.columns]
    if missing:
        raise ValueError(f"Balance within: the reps table has no {missing[0]!r} column.")
    key = rp[list(fields)].astype("string").fillna("").agg(" | ".join, axis=1).to_numpy(dtype=object)
    team, team_names = pd.factorize(pd.Series(key, dtype=object), sort=True)
    G = int(team.max()) + 1
    cap_g = np.bincount(team, weights=wr, minlength=G)
    owner_acc = np.where(pin_acc >= 0, pin_acc, prev)
    acc_team = np.where(owner_acc >= 0, team[np.clip(owner_acc, 0, None)], -1)
    acc_team = np.where((acc_team >= 0) & (cap_g[np.clip(acc_team, 0, None)] > 0), acc_team, -1)
    # one team per unit: the most common among its owned accounts
    df = pd.DataFrame({"u": unit, "g": acc_team})
    df = df[df.g >= 0]
    unit_team = np.full(U, -1)
    if len(df):
        counts = df.groupby(["u", "g"]).size().reset_index(name="c").sort_values(["u", "c", "g"],
                                                                                 ascending=[True, False, True])
        first = counts.drop_duplicates("u")
        unit_team[first.u.to_numpy()] = first.g.to_numpy()
    # a pinned unit (locked, named, holdout, override) lands on its pin: it is that team's book
    has_pin = pin_acc >= 0
    if has_pin.any():
        pin_team = team[pin_acc[has_pin]]
        live = cap_g[pin_team] > 0
        unit_team[unit[has_pin][live]] = pin_team[live]
    acc_team = unit_team[unit]
    k = M_acc.shape[1]
    tot_g = np.zeros((G, k))
    owned = acc_team >= 0
    np.add.at(tot_g, acc_team[owned], M_acc[owned])
    pool = M_acc[~owned].sum(axis=0)
    tot_g += (cap_g / cap_g.sum())[:, None] * pool[None, :]
    rep_share_in_team = np.where(cap_g[team] > 0, wr / np.where(cap_g[team] > 0, cap_g[team], 1), 0.0)
    target = rep_share_in_team[:, None] * tot_g[team]
    ok = (unit_team[:, None] < 0) | (unit_team[:, None] == team[None, :])
    return target, ok, unit_team, team, np.asarray(team_names, dtype=object)


def _rep_word(rep_ids, rp: pd.DataFrame | None, r: int, names=None) -> str:
    """"Kenji Robinson (R003)", or the id alone when the rep has no name."""
    if names is not None:
        nm = names[r]
    else:
        nm = rp[R.name].iloc[r] if rp is not None and R.name in rp.columns else None
    nm = "" if nm is None or pd.isna(nm) else str(nm).strip()
    return f"{nm} ({rep_ids[r]})" if nm and nm != str(rep_ids[r]) else str(rep_ids[r])


def _fmt(v: float) -> str:
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:,.2f}M"
    if a >= 1e4:
        return f"{v / 1e3:,.1f}k"
    if a >= 100:
        return f"{v:,.0f}"
    return f"{v:,.4g}"


def diagnose(p: Prepared, settings) -> tuple[list[str], list[dict]]:
    """Checks that prove infeasibility before any solve, in plain words, with the smallest
    setting change that removes each cause. Empty lists: no obvious cause found."""
    out: list[str] = list(p.problems)
    fixes: list[dict] = list(p.fixes)
    U, nr = p.elig.shape
    none = ~p.elig.any(axis=1)
    if none.any():
        idx = np.flatnonzero(none)
        ex = ", ".join(str(p.unit_label[i]) for i in idx[:5])
        why = []
        if settings.eligibility:
            why.append("the eligibility rules")
        if settings.max_radius_km is not None:
            why.append("the radius")
        if settings.balance_within:
            why.append("their team")
        if parse_scope(settings.scope)[0] == "reps":
            why.append("the rebalance's scope")
        out.append(f"{len(idx)} account(s) or famil(ies) have no active rep who may take them under "
                   f"{' and '.join(why) or 'these settings'}: {ex}{' ...' if len(idx) > 5 else ''}. Add a rep who "
                   "may own them, or loosen what restricts them.")
        if settings.max_radius_km is not None:
            fixes.append({"max_radius_km": None, "why": "drop the radius limit so every account has a rep"})
        if settings.eligibility:
            fixes.append({"eligibility": [], "why": "drop the eligibility rules so every account has a rep"})
    flagged: set[int] = set()
    groups = _rep_groups(p)
    for m, name in enumerate(p.metric_names):
        if not p.hard[m]:
            continue
        tol = p.tol[m]
        T = p.target[:, m]
        v = p.M[:, m]
        need = tol
        # whales: a unit bigger than the band of every rep it may go to
        big = np.where(p.elig, v[:, None] > p.upper[:, m][None, :] * (1 + 1e-9) + 1e-9, True)
        whales = np.flatnonzero(big.all(axis=1) & ~none)
        flagged.update(int(u) for u in whales)
        for u in whales[:3]:
            reps = np.flatnonzero(p.elig[u])
            j = reps[np.argmax(T[reps])]
            size = f"{v[u] / p.upper[j, m]:.1f}x the band's upper end ({quantity(name, p.upper[j, m])})" if p.upper[j, m] > 0 \
                else "while the band is empty (no capacity)"
            out.append(f"{_rep_word(p.rep_ids, None, j, p.rep_names)} cannot stay within its {label(name)} band: "
                       f"{_unit_word(p, u)} alone is {quantity(name, v[u])}, {size}; no eligible rep can take it within {tol:.0%}.")
        if len(whales):
            req = max(float(np.min(np.where(p.elig[u] & (T > 0), v[u] / np.where(T > 0, T, 1) - 1, np.inf)))
                      for u in whales)
            need = max(need, req)
        # pinned load above the band
        pl = np.zeros(nr)
        pu = np.flatnonzero(p.pin >= 0)
        np.add.at(pl, p.pin[pu], v[pu])
        over = np.flatnonzero(pl > p.upper[:, m] * (1 + 1e-9) + 1e-9)
        pinned_over = set(int(j) for j in over)
        for j in over[:3]:
            who = _rep_word(p.rep_ids, None, j, p.rep_names)
            if T[j] <= 0:
                out.append(f"{who} has no capacity (capacity x ramp is 0), so its book should be empty, but its "
                           f"locked, named, holdout or fixed accounts total {quantity(name, pl[j])}. Give the rep "
                           "capacity, or let those accounts move.")
            else:
                out.append(f"{who}'s locked, named, holdout or fixed accounts already total {quantity(name, pl[j])}, "
                           f"above its band's upper end {quantity(name, p.upper[j, m])} ({pl[j] / T[j]:.2f}x the target).")
        if len(over) > 3:
            out.append(f"... and {len(over) - 3} more rep(s) whose locked or fixed {name} is above the band.")
        pos = [j for j in over if T[j] > 0]  # widening cannot help a rep with no capacity
        if pos:
            need = max(need, float(np.max(pl[pos] / T[pos] - 1)))
        if len(over):
            if settings.respect_locks and not any("respect_locks" in f for f in fixes):
                fixes.append({"respect_locks": False, "why": "let locked, named and holdout accounts move"})
        said = 0
        # groups of reps with the same eligible accounts: pool too small / forced too big
        for g, any_g, only_g in groups:
            pool = float(v[any_g].sum())
            lo = float(p.lower[g, m].sum())
            Tg = float(T[g].sum())
            if pool < lo * (1 - 1e-9) - 1e-9:
                said += 1
                if said > 3:
                    need = max(need, 1 - pool / Tg if Tg > 0 else need)
                    continue
                names = ", ".join(map(str, p.rep_ids[g][:6])) + (" ..." if len(g) > 6 else "")
                out.append(f"These {len(g)} rep(s) ({names}) may only own accounts whose {label(name)} totals {quantity(name, pool)}, "
                           f"less than the {quantity(name, lo)} their bands need (targets {quantity(name, Tg)}).")
                need = max(need, 1 - pool / Tg if Tg > 0 else need)
            forced = float(v[only_g].sum())
            hi = float(p.upper[g, m].sum())
            if forced > hi * (1 + 1e-9) + 1e-9:
                need = max(need, forced / Tg - 1 if Tg > 0 else need)
                if len(g) == 1 and int(g[0]) in pinned_over:
                    continue  # same fact as the locked-load message above
                said += 1
                if said > 3:
                    continue
                names = ", ".join(map(str, p.rep_ids[g][:6])) + (" ..." if len(g) > 6 else "")
                out.append(f"Accounts that only these {len(g)} rep(s) ({names}) may own total {quantity(name, forced)}, "
                           f"more than the {quantity(name, hi)} their bands allow (targets {quantity(name, Tg)}).")
                need = max(need, forced / Tg - 1 if Tg > 0 else need)
        if need > tol + 1e-12 and math.isfinite(need):
            t = math.ceil(need * 1000 - 1e-6) / 1000 + 0.001
            fixes.append({"metric": name, "tolerance": round(t, 3),
                          "why": f"widen the {label(name)} band from ±{tol:.1%} to ±{t:.1%}"})
    # units that fit some rep on each metric alone but no rep on all metrics at once
    hm = [m for m in range(len(p.metric_names)) if p.hard[m] and p.M[:, m].sum() > 0]
    if len(hm) > 1:
        # over eligible pairs only (a dense units x reps x metrics array is too big at scale)
        eu, er = np.nonzero(p.elig)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.stack([np.where(p.upper[er, m] > 0, p.M[eu, m] / p.upper[er, m],
                                       np.where(p.M[eu, m] > 0, np.inf, 0.0)) for m in hm], axis=1)
        worst_pair = ratio.max(axis=1)
        order = np.lexsort((er, worst_pair, eu))  # per unit, its best (least over) eligible rep first
        first = order[np.r_[True, eu[order][1:] != eu[order][:-1]]] if len(order) else order
        best_pair = np.full(U, -1)
        best_pair[eu[first]] = first
        worst_min = np.full(U, np.inf)
        worst_min[eu[first]] = worst_pair[first]
        combo = np.flatnonzero(~none & (worst_min > 1 + 1e-9))
        combo = np.array([u for u in combo if int(u) not in flagged], dtype=int)
        need_tol: dict[int, float] = {}
        for i, u in enumerate(combo):
            k_ = int(best_pair[u])
            j = int(er[k_])
            over_m = [(hm[q], ratio[k_, q]) for q in range(len(hm)) if ratio[k_, q] > 1 + 1e-9]
            for m, _ in over_m:
                T = p.target[j, m]
                if T > 0:
                    need_tol[m] = max(need_tol.get(m, 0.0), float(p.M[u, m] / T - 1))
            if i < 3:
                parts = ", ".join(f"{p.metric_names[m]} ({r_:.2f}x the band's upper end)" for m, r_ in over_m)
                out.append(f"{_unit_word(p, u)[0].upper() + _unit_word(p, u)[1:]} fits no eligible rep's bands on "
                           f"every metric at once; the closest, rep {p.rep_ids[j]}, would be over on {parts}.")
        if len(combo) > 3:
            out.append(f"... and {len(combo) - 3} more account(s) or families like that.")
        for m, t in need_tol.items():
            if t > p.tol[m]:
                t = math.ceil(t * 1000 - 1e-6) / 1000 + 0.001
                fixes = [f for f in fixes if f.get("metric") != p.metric_names[m] or f.get("tolerance", 0) >= t]
                if not any(f.get("metric") == p.metric_names[m] for f in fixes):
                    fixes.append({"metric": p.metric_names[m], "tolerance": round(t, 3),
                                  "why": f"widen the {label(p.metric_names[m])} band from ±{p.tol[m]:.1%} to ±{t:.1%}"})
        if len(combo) and settings.keep_families and (p.unit_size[combo] > 1).any():
            fixes.append({"keep_families": False, "why": "let families be split across reps"})
    # disruption caps against forced moves
    forced_moves = _forced_moves(p)
    if settings.max_moves is not None and forced_moves > settings.max_moves:
        out.append(f"At least {forced_moves} account(s) must move (their owner is inactive, missing or not eligible), "
                   f"more than the cap of {settings.max_moves} moves.")
        fixes.append({"max_moves": int(forced_moves), "why": f"raise the move cap to {forced_moves}"})
    return out, fixes


def _rep_groups(p: Prepared) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Reps that may own exactly the same units, as (reps, units any of them may own, units only they
    may own), for groups that are not everyone and have an active rep. O(units x reps)."""
    U, nr = p.elig.shape
    if U == 0 or nr == 0:
        return []
    packed = np.packbits(p.elig, axis=0)  # each rep's column of eligible units, 8 to a byte
    codes, _ = pd.factorize(pd.Series([packed[:, j].tobytes() for j in range(nr)]))
    ne = p.elig.sum(axis=1)
    out = []
    for c in range(int(codes.max()) + 1):
        g = np.flatnonzero(codes == c)
        if len(g) == nr or not p.active[g].any():
            continue
        cnt = p.elig[:, g].sum(axis=1) if len(g) > 1 else p.elig[:, g[0]].astype(int)
        out.append((g, cnt > 0, (cnt > 0) & (cnt == ne)))
    return out


def _unit_word(p: Prepared, u: int) -> str:
    """"the Acme Holdings family (3 accounts)" or "account Acme Corp" (names, else ids)."""
    name = p.unit_name[u] if p.unit_name is not None else p.unit_label[u]
    if p.unit_size[u] > 1:
        return f"the {name} family ({p.unit_size[u]} accounts)"
    return f"account {name}"


def _forced_moves(p: Prepared) -> int:
    keepable = np.zeros(p.n_units)
    ok = p.elig[p.prev_u, p.prev_r]
    np.maximum.at(keepable, p.prev_u[ok], p.prev_n[ok])
    return int(round(float((p.unit_size - keepable).sum())))


def _loads(p: Prepared, rep_of_acc: np.ndarray) -> np.ndarray:
    """Each rep's load per metric (reps x metrics) when account i goes to rep rep_of_acc[i] (-1: nobody)."""
    R = len(p.rep_ids)
    out = np.zeros((R, len(p.metric_names)))
    ok = rep_of_acc >= 0
    for m in range(len(p.metric_names)):
        out[:, m] = np.bincount(rep_of_acc[ok], weights=p.M_acc[ok, m], minlength=R)
    return out
