"""What-if events (a rep leaves, a hire joins, capacity and quota changes, handovers, bulk moves)
and manual overrides, applied to a dataset: :func:`apply_events` gives the reps and the forced
moves a solve starts from, with a reason for each."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

from ..contract import A, R, X
from ..dataset import Dataset
from .scenario_model import EVENT_LABELS, EVENT_TYPES, EventError, is_placeholder, ramp_of

# --------------------------------------------------------------------------------------------
# Events
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True, eq=False)
class EventResult:
    """Solver inputs after applying the what-if events.

    ``fixed``: account_id -> rep_id forced by bulk moves and handovers; ``reasons``: account_id ->
    why it is fixed; ``notes``: one plain sentence per event.
    """

    reps: pd.DataFrame
    accounts: pd.DataFrame
    fixed: dict[str, str]
    notes: list[str]
    reasons: dict[str, str] = field(default_factory=dict)


def describe_event(event: Mapping, rep_names: Mapping[str, str] | None = None) -> str:
    """One line in plain words, e.g. ``"Rep leaves: Bob Smith (R07)"``."""
    names = rep_names or {}

    def rep(rid):
        rid = "" if rid is None else str(rid)
        n = names.get(rid)
        return f"{n} ({rid})" if n and n != rid else rid or "?"

    t = event.get("type")
    if t == "rep_leaves":
        return f"Rep leaves: {rep(event.get('rep_id'))}"
    if t == "new_hire":
        rid = str(event.get("rep_id") or "")
        who = f"{event.get('name') or rid} ({rid}{', to be named in the CRM' if is_placeholder(rid) else ''})"
        try:
            ramp = ramp_of(event)
        except (TypeError, ValueError):
            ramp = 1.0
        sched = event.get("ramp_schedule")
        if sched:
            how = f"ramp {'/'.join(f'{float(v) * 100:.0f}' for v in sched)}% by quarter ({ramp:.0%} in year one)"
        else:
            how = f"ramp {ramp:.0%}"
        start = f", starts {event['start_date']}" if event.get("start_date") else ""
        return f"New hire: {who}{start}, {how}, capacity {float(event.get('capacity', 1.0) or 1.0):g}"
    if t == "capacity_change":
        return f"Capacity change: {rep(event.get('rep_id'))} to {event.get('capacity')}"
    if t == "quota_change":
        return f"Quota change: {rep(event.get('rep_id'))} to {event.get('quota')}"
    if t == "segment_handover":
        return (f"Segment {event.get('segment')!s} moves from {rep(event.get('from_rep_id'))} "
                f"to {rep(event.get('to_rep_id'))}")
    if t == "bulk_move":
        f = ", ".join(f"{k} = {'/'.join(map(str, v)) if isinstance(v, (list, tuple)) else v}"
                      for k, v in (event.get("filter") or {}).items())
        return f"Bulk move: accounts with {f or '(no filter)'} to {rep(event.get('to_rep_id'))}"
    return f"Unknown event {t!r}"


def _num(event: Mapping, key: str, where: str, *, default=None, minimum=None, maximum=None) -> float:
    v = event.get(key, default)
    try:
        v = float(v)
    except (TypeError, ValueError):
        raise EventError(f"{where}: {key} must be a number, got {event.get(key)!r}.") from None
    if math.isnan(v) or (minimum is not None and v < minimum) or (maximum is not None and v > maximum):
        rng = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"at least {minimum:g}"
        raise EventError(f"{where}: {key} must be {rng}, got {event.get(key)!r}.")
    return v


def _match(series: pd.Series, value) -> pd.Series:
    values = list(value) if isinstance(value, (list, tuple, set)) else [value]
    if pd.api.types.is_bool_dtype(series):
        want = {str(v).strip().lower() in ("true", "1", "yes", "y", "t") for v in values}
        return series.isin(list(want)).fillna(False).astype(bool)
    if pd.api.types.is_numeric_dtype(series):
        nums = pd.to_numeric(pd.Series(values), errors="coerce").dropna().tolist()
        return series.isin(nums).fillna(False).astype(bool)
    want = {str(v).strip().casefold() for v in values if v is not None}
    return series.astype("string").str.strip().str.casefold().isin(want).fillna(False).astype(bool)


def filter_mask(accounts: pd.DataFrame, flt: Mapping) -> pd.Series:
    """Accounts matching a bulk-move filter ``{field: value | [values]}`` (all fields must match;
    text compared case- and space-insensitively, numbers and booleans by value). Raises
    :class:`EventError` for a field that is not an account column. Use it to preview a bulk move:
    it is the exact rule :func:`apply_events` applies."""
    sel = pd.Series(True, index=accounts.index)
    for fld, val in (flt or {}).items():
        if fld not in accounts.columns:
            raise EventError(f"filter field {fld!r} is not an account column; "
                             f"use one of {', '.join(map(str, accounts.columns[:25]))}.")
        sel &= _match(accounts[fld], val)
    return sel


def apply_events(dataset: Dataset, events, enriched: pd.DataFrame | None = None) -> EventResult:
    """Apply what-if events in order; return the reps and accounts to give the solver and the
    forced assignments. Raises :class:`EventError` naming the event (1-based) that cannot apply."""
    reps = dataset.reps.copy()
    if R.active not in reps.columns:
        reps[R.active] = True
    reps[R.active] = reps[R.active].astype("boolean").fillna(True)
    for col, default in ((R.capacity, 1.0), (R.ramp, 1.0)):
        if col not in reps.columns:
            reps[col] = default
    accounts = (enriched if enriched is not None else dataset.accounts).copy()
    acc_ids = accounts[A.account_id].astype("string")
    owner = accounts[A.owner_id].astype("string") if A.owner_id in accounts.columns else pd.Series(pd.NA, index=accounts.index, dtype="string")
    fixed: dict[str, str] = {}
    reasons: dict[str, str] = {}
    notes: list[str] = []

    def rep_index():
        return {str(r): i for i, r in zip(reps.index, reps[R.rep_id].astype("string"))}

    def names():
        return dict(zip(reps[R.rep_id].astype(str), reps[R.name].astype("string").fillna("").astype(str)))

    def need_rep(rid, where, *, active=True) -> str:
        rid = "" if rid is None else str(rid).strip()
        idx = rep_index()
        if not rid:
            raise EventError(f"{where}: no rep chosen. Pick a rep from the list.")
        if rid not in idx:
            raise EventError(f"{where}: rep {rid!r} is not in the reps table. Pick a rep from the list "
                             "or add a new-hire event first.")
        if active and not bool(reps.at[idx[rid], R.active]):
            raise EventError(f"{where}: rep {rid!r} is inactive (left or disabled), so it cannot receive "
                             "accounts. Choose an active rep.")
        return rid

    for i, ev in enumerate(events or (), start=1):
        if not isinstance(ev, Mapping):
            raise EventError(f"Event {i}: expected a dict with a 'type', got {type(ev).__name__}.")
        t = ev.get("type")
        where = f"Event {i} ({EVENT_LABELS.get(t, t)})"
        if t not in EVENT_TYPES:
            raise EventError(f"Event {i}: unknown type {t!r}; use one of {', '.join(EVENT_TYPES)}.")
        if t == "rep_leaves":
            rid = need_rep(ev.get("rep_id"), where, active=False)
            reps.loc[reps[R.rep_id].astype("string") == rid, R.active] = False
            book = (owner == rid).fillna(False).to_numpy()
            released = []
            for col in (A.locked, A.named):
                if col in accounts.columns:
                    m = book & accounts[col].astype("boolean").fillna(False).to_numpy(dtype=bool)
                    if m.any():
                        released.append(f"{int(m.sum())} {col}")
                        accounts.loc[m, col] = False
            # Forced moves onto the leaving rep are void.
            for aid in [a for a, r in fixed.items() if r == rid]:
                fixed.pop(aid)
                reasons.pop(aid, None)
            msg = f"{describe_event(ev, names())}: {int(book.sum())} accounts to redistribute"
            if released:
                msg += f" (released {', '.join(released)} so they can move)"
            notes.append(msg + ".")
        elif t == "new_hire":
            rid = str(ev.get("rep_id") or "").strip()
            if not rid:
                raise EventError(f"{where}: give the new hire a rep_id (e.g. their CRM user id).")
            if rid in rep_index():
                raise EventError(f"{where}: rep_id {rid!r} already exists; choose an unused id.")
            cap = _num(ev, "capacity", where, default=1.0, minimum=0.0, maximum=10.0)
            if ev.get("ramp_schedule"):
                sched = ev["ramp_schedule"]
                if not isinstance(sched, (list, tuple)) or not all(
                        isinstance(v, (int, float)) and 0 <= float(v) <= 1 for v in sched):
                    raise EventError(f"{where}: ramp_schedule must be a list of quarterly productivity shares "
                                     f"between 0 and 1, e.g. [0.25, 0.5, 0.75, 1.0]; got {sched!r}.")
                ramp = ramp_of(ev)
            else:
                ramp = _num(ev, "ramp", where, default=1.0, minimum=0.0, maximum=1.0)
            if ev.get("start_date"):
                try:
                    pd.Timestamp(str(ev["start_date"]))
                except (TypeError, ValueError):
                    raise EventError(f"{where}: start_date {ev['start_date']!r} is not a date; write YYYY-MM-DD.") from None
            row = {c: pd.NA for c in reps.columns}
            row.update({R.rep_id: rid, R.name: str(ev.get("name") or rid), R.capacity: cap, R.ramp: ramp,
                        R.active: True})
            for key, col in (("region", R.region), ("segment", R.segment), ("role", R.role),
                             ("manager", R.manager), ("specialties", R.specialties)):
                if ev.get(key) not in (None, ""):
                    row[col] = str(ev[key])
            if ev.get("quota") not in (None, ""):
                row[R.quota] = _num(ev, "quota", where, minimum=0.0)
            z = str(ev.get("home_zip") or "").strip()
            if z:
                z = z.split("-")[0].zfill(5)[:5]
                row[R.home_zip] = z
                lat, lon = _zip_latlon(z)
                if lat is not None:
                    row[R.home_lat], row[R.home_lon] = lat, lon
            new = pd.DataFrame([row])
            for c in reps.columns:
                try:
                    if pd.api.types.is_numeric_dtype(reps[c]) and not pd.api.types.is_bool_dtype(reps[c]):
                        new[c] = pd.to_numeric(new[c], errors="coerce").astype(reps[c].dtype)
                    else:
                        new[c] = new[c].astype(reps[c].dtype)
                except (TypeError, ValueError):
                    pass
            reps = pd.concat([reps, new], ignore_index=True)
            notes.append(f"{describe_event(ev, names())}: a book sized by capacity x ramp "
                         f"({cap * ramp:.2f} FTE) is carved from the others.")
        elif t == "capacity_change":
            rid = need_rep(ev.get("rep_id"), where, active=False)
            cap = _num(ev, "capacity", where, minimum=0.0, maximum=10.0)
            reps.loc[reps[R.rep_id].astype("string") == rid, R.capacity] = cap
            notes.append(f"{describe_event(ev, names())}.")
        elif t == "quota_change":
            rid = need_rep(ev.get("rep_id"), where, active=False)
            q = _num(ev, "quota", where, minimum=0.0)
            if R.quota not in reps.columns:
                reps[R.quota] = np.nan
            reps.loc[reps[R.rep_id].astype("string") == rid, R.quota] = q
            notes.append(f"{describe_event(ev, names())}.")
        elif t == "segment_handover":
            src = need_rep(ev.get("from_rep_id"), where, active=False)
            dst = need_rep(ev.get("to_rep_id"), where)
            seg = ev.get("segment")
            if seg in (None, ""):
                raise EventError(f"{where}: choose the segment that changes hands.")
            mine = (owner == src).fillna(False)
            if X.segment in accounts.columns:
                sel = mine & _match(accounts[X.segment], seg)
                how = f"accounts in segment {seg}"
            else:
                rseg = reps.loc[reps[R.rep_id].astype("string") == src, R.segment] if R.segment in reps.columns else pd.Series(dtype="string")
                same = len(rseg) and str(rseg.iloc[0]).strip().casefold() == str(seg).strip().casefold()
                sel = mine if same else mine & False
                how = "the whole book (accounts carry no segment; the rep's segment matches)" if same else \
                    "no accounts (accounts carry no segment column and the rep sells another segment)"
            ids = acc_ids[sel].tolist()
            for aid in ids:
                fixed[str(aid)] = dst
                reasons[str(aid)] = f"Segment {seg} handed over from {src} to {dst}"
            notes.append(f"{describe_event(ev, names())}: {len(ids)} accounts ({how}).")
            if R.segment in reps.columns:
                reps.loc[reps[R.rep_id].astype("string") == dst, R.segment] = reps.loc[
                    reps[R.rep_id].astype("string") == dst, R.segment].fillna(str(seg))
        elif t == "bulk_move":
            dst = need_rep(ev.get("to_rep_id"), where)
            flt = ev.get("filter") or {}
            if not isinstance(flt, Mapping) or not flt:
                raise EventError(f"{where}: give at least one filter, e.g. {{'industry': 'Healthcare', 'state': 'TX'}}.")
            try:
                sel = filter_mask(accounts, flt)
            except EventError as exc:
                raise EventError(f"{where}: {exc}") from None
            ids = acc_ids[sel].tolist()
            for aid in ids:
                fixed[str(aid)] = dst
                reasons[str(aid)] = f"Bulk move: {describe_event(ev, names()).split(': ', 1)[1]}"
            notes.append(f"{describe_event(ev, names())}: {len(ids)} accounts match.")
    reps = reps.reset_index(drop=True)
    return EventResult(reps=reps, accounts=accounts.reset_index(drop=True), fixed=fixed, notes=notes,
                       reasons=reasons)


_ZIP_CACHE: dict[str, tuple[float | None, float | None]] = {}


def _zip_latlon(z: str) -> tuple[float | None, float | None]:
    if z in _ZIP_CACHE:
        return _ZIP_CACHE[z]
    out: tuple[float | None, float | None] = (None, None)
    try:
        from ..geo.zips import zip_lookup

        m = zip_lookup([str(z).strip()[:5]]).iloc[0]
        if pd.notna(m["lat"]) and pd.notna(m["lon"]):
            out = (float(m["lat"]), float(m["lon"]))
    except Exception:  # unknown ZIP: no coordinates
        pass
    _ZIP_CACHE[z] = out
    return out


def apply_overrides(ev: EventResult, overrides, accounts_ids=None) -> tuple[dict[str, str], dict[str, str]]:
    """Events' fixed assignments plus manual moves and locks (overrides win). Returns (fixed, reasons).
    Raises :class:`EventError` for an unknown account or an unknown or inactive rep."""
    fixed = dict(ev.fixed)
    reasons = dict(ev.reasons)
    known = set(ev.accounts[A.account_id].astype(str)) if accounts_ids is None else set(accounts_ids)
    active = dict(zip(ev.reps[R.rep_id].astype(str), ev.reps[R.active].astype("boolean").fillna(True)))
    for i, o in enumerate(overrides or (), start=1):
        aid = str(o.get("account_id") or "").strip()
        rid = str(o.get("rep_id") or "").strip()
        where = f"Manual override row {i}"
        if not aid or aid not in known:
            raise EventError(f"{where}: account {aid!r} is not in the accounts table. Fix the account id or delete the row.")
        if not rid or rid not in active:
            raise EventError(f"{where} (account {aid}): rep {rid!r} is not in the reps table. Pick a rep from the list.")
        if not bool(active[rid]):
            raise EventError(f"{where} (account {aid}): rep {rid!r} is inactive (left), so cannot own it. Pick an active rep.")
        fixed[aid] = rid
        why = str(o.get("reason") or "").strip()
        reasons[aid] = ("Locked by hand" if o.get("lock") else "Moved by hand") + (f": {why}" if why else "")
    return fixed, reasons
