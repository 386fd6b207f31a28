"""Scenarios: a rebalancing plan as plain data that can be saved, reloaded, diffed and re-solved.

A :class:`Scenario` holds its inputs (settings as JSON dicts, what-if events, manual overrides),
its result (the assignment and the solver's report) and, once saved, its storage metadata.

What-if events are plain dicts with a ``type`` key::

    {"type": "rep_leaves", "rep_id": "R07"}
    {"type": "new_hire", "rep_id": "R99", "name": "Ana", "region": "West", "segment": "Mid-Market",
     "capacity": 1.0, "ramp": 0.5, "quota": 800000, "home_zip": "94107"}
    {"type": "capacity_change", "rep_id": "R03", "capacity": 0.6}
    {"type": "quota_change", "rep_id": "R03", "quota": 1200000}
    {"type": "segment_handover", "segment": "Enterprise", "from_rep_id": "R01", "to_rep_id": "R02"}
    {"type": "bulk_move", "filter": {"industry": "Healthcare", "state": ["TX"]}, "to_rep_id": "R99"}

:func:`apply_events` turns them into solver inputs, :func:`solve_scenario` runs the optimizer,
:func:`diff_scenarios` lists the accounts that change hands between two scenarios and
:func:`scenario_kpis` measures a scenario (balance per metric, moves, coverage, travel).
"""
from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd

from ..contract import ASSIGNMENT, A, R, S, X
from ..dataset import Dataset, coerce_types
from ..analyse.kpis import gini
from ..geo.zips import haversine_km
from ..text import COLUMN_LABELS, label

EVENT_TYPES = ("rep_leaves", "new_hire", "capacity_change", "quota_change", "segment_handover", "bulk_move")
SETTING_KEYS = ("scoring", "segment_rules", "solver")
TODAY_NAME = "Today's plan"

# Human labels for the event types (pages may use them in lists).
EVENT_LABELS = {
    "rep_leaves": "Rep leaves",
    "new_hire": "New hire joins",
    "capacity_change": "Capacity change",
    "quota_change": "Quota change",
    "segment_handover": "Segment changes hands",
    "bulk_move": "Bulk move by filter",
}


# A new hire not yet in the CRM gets a placeholder id (TBH-1, TBH-2, ...): flagged on every page and
# refused by the CRM owner export until it is mapped to a real user id.
PLACEHOLDER_PREFIX = "TBH-"


def is_placeholder(rep_id) -> bool:
    """True for a placeholder rep id (a hire to be named in the CRM), e.g. "TBH-1"."""
    return str(rep_id or "").strip().upper().startswith(PLACEHOLDER_PREFIX)


def next_placeholder(taken) -> str:
    """The first free placeholder id: TBH-1, TBH-2, ..."""
    have = {str(x).strip().upper() for x in taken}
    n = 1
    while f"{PLACEHOLDER_PREFIX}{n}" in have:
        n += 1
    return f"{PLACEHOLDER_PREFIX}{n}"


DEFAULT_RAMP_SCHEDULE = (0.25, 0.5, 0.75, 1.0)


def ramp_of(event: Mapping) -> float:
    """A new hire's productivity over their first year (what their book is sized by): the mean of the
    quarterly ramp schedule over four quarters (1.0 after the schedule ends), else ``ramp``, else 1."""
    sched = event.get("ramp_schedule")
    if sched:
        q = [min(1.0, max(0.0, float(v))) for v in list(sched)[:4]]
        q += [1.0] * (4 - len(q))
        return sum(q) / 4.0
    r = event.get("ramp")
    return 1.0 if r in (None, "") else float(r)


class EventError(ValueError):
    """A what-if event or manual override cannot be applied (message says which, why and how to fix)."""


def _json_safe(value: Any) -> Any:
    """Deep copy of ``value`` as JSON-safe plain data (tuples become lists, numpy scalars plain)."""
    if isinstance(value, Mapping):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        v = float(value)
        return None if math.isnan(v) else v
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, (pd.Timestamp, datetime)):
        return value.isoformat()
    if hasattr(value, "to_dict") and callable(value.to_dict) and not isinstance(value, pd.DataFrame):
        return _json_safe(value.to_dict())
    return copy.deepcopy(value)


@dataclass(frozen=True, eq=False)
class Scenario:
    """A rebalancing scenario. Frozen: change it with :meth:`with_`.

    ``assignment`` columns: S.account_id, S.rep_id, S.previous_rep_id, S.moved, S.reason.
    Storage metadata (``id``, ``version``, ``saved_by``, ``saved_at``) is filled by
    :class:`territory_core.store.storage.ScenarioStore`; ``input_fingerprint`` by :func:`solve_scenario`.
    ``dataset_id``/``dataset_version``: the stored dataset version it was solved on (None for the
    sample or data that was never stored; see territory_core.store.datasets).
    """

    name: str
    parent_id: str | None = None
    parent_version: int | None = None
    settings: Mapping[str, dict] = field(default_factory=dict)
    events: tuple[dict, ...] = ()
    overrides: tuple[dict, ...] = ()
    assignment: pd.DataFrame | None = None
    report: dict | None = None
    description: str = ""
    id: str | None = None
    version: int | None = None
    saved_by: str | None = None
    saved_at: datetime | None = None
    input_fingerprint: str | None = None
    dataset_id: str | None = None
    dataset_version: int | None = None

    def __post_init__(self):
        # Normalise to plain JSON data so a saved and reloaded scenario is the same thing.
        settings = {}
        for k, v in dict(self.settings or {}).items():
            settings[str(k)] = _json_safe(v)
        object.__setattr__(self, "settings", settings)
        object.__setattr__(self, "events", tuple(_json_safe(dict(e)) for e in (self.events or ())))
        object.__setattr__(self, "overrides", tuple(_json_safe(dict(o)) for o in (self.overrides or ())))
        if self.report is not None:
            object.__setattr__(self, "report", _json_safe(self.report))
        object.__setattr__(self, "name", str(self.name or "").strip() or "Untitled scenario")
        object.__setattr__(self, "description", str(self.description or ""))

    def with_(self, **changes) -> "Scenario":
        return replace(self, **changes)

    @property
    def is_today(self) -> bool:
        return self.id is None and self.name == TODAY_NAME and not self.events and not self.overrides

    @property
    def is_solved(self) -> bool:
        return self.assignment is not None

    @property
    def label(self) -> str:
        """Short label, e.g. ``"West rebalance v3"``."""
        return f"{self.name} v{self.version}" if self.version else self.name

    @classmethod
    def today(cls, dataset: Dataset, *, settings: Mapping[str, dict] | None = None) -> "Scenario":
        """Today's plan as a scenario: every account stays with its current owner (A.owner_id)."""
        acc = dataset.accounts
        owner = acc[A.owner_id].astype("string") if A.owner_id in acc.columns else pd.Series(pd.NA, index=acc.index, dtype="string")
        assignment = pd.DataFrame({
            S.account_id: acc[A.account_id].astype("string").to_numpy(),
            S.rep_id: owner.to_numpy(),
            S.previous_rep_id: owner.to_numpy(),
            S.moved: False,
            S.reason: "Today's plan",
        })
        assignment = coerce_types(assignment, ASSIGNMENT)
        report = {"status": "current", "status_text": "Today's plan (not optimised)", "moves": 0,
                  "arr_moved": 0.0}
        return cls(name=TODAY_NAME, settings=settings or {}, assignment=assignment, report=report,
                   input_fingerprint=dataset_fingerprint(dataset))

    def to_dict(self) -> dict:
        """JSON-safe inputs and metadata (no assignment)."""
        return {
            "name": self.name, "parent_id": self.parent_id, "parent_version": self.parent_version,
            "settings": _json_safe(self.settings), "events": _json_safe(self.events),
            "overrides": _json_safe(self.overrides), "report": _json_safe(self.report),
            "description": self.description, "id": self.id, "version": self.version,
            "saved_by": self.saved_by, "saved_at": _json_safe(self.saved_at),
            "input_fingerprint": self.input_fingerprint,
            "dataset_id": self.dataset_id, "dataset_version": self.dataset_version,
        }


# --------------------------------------------------------------------------------------------
# Fingerprint
# --------------------------------------------------------------------------------------------

def dataset_fingerprint(dataset: Dataset) -> str:
    """A short stable hash of the accounts and reps (what a solve depends on)."""
    h = hashlib.sha256()
    for df in (dataset.accounts, dataset.reps):
        if df is None:
            continue
        d = df.reindex(sorted(df.columns), axis=1).reset_index(drop=True)
        h.update(("|".join(map(str, d.columns))).encode())
        if len(d):
            try:
                hashed = pd.util.hash_pandas_object(d, index=False)
            except TypeError:  # unhashable cells (lists...): fall back to their text
                hashed = pd.util.hash_pandas_object(d.astype("string"), index=False)
            h.update(hashed.to_numpy().tobytes())
    return h.hexdigest()[:16]


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


# --------------------------------------------------------------------------------------------
# Solve
# --------------------------------------------------------------------------------------------

def solver_settings(scenario: Scenario, accounts: pd.DataFrame | None = None, reps: pd.DataFrame | None = None):
    """The scenario's SolverSettings as saved; with none saved, the planning defaults for these
    accounts and reps (the editor's starting point), else the solver's plain defaults."""
    from ..solve.settings import SolverSettings, planning_defaults

    d = (scenario.settings or {}).get("solver")
    if d:
        return SolverSettings.from_dict(d)
    if accounts is not None and reps is not None:
        return planning_defaults(accounts, reps)
    return SolverSettings()


@dataclass(frozen=True, eq=False)
class Enrichment:
    """Accounts with derived columns (scores, potential, whitespace, segment) for a scenario's
    scoring and segment settings; ``error`` says why they could not be computed (``accounts`` is
    then the plain accounts)."""
    accounts: pd.DataFrame
    error: str | None = None


def enrich_scenario(dataset: Dataset, scenario: Scenario) -> Enrichment:
    """Score and segment the accounts with the scenario's own "scoring" and "segment_rules"
    settings (defaults for a missing one). Never raises: a failure comes back as ``error``."""
    from ..analyse.enrich import enrich_accounts
    from ..analyse.scoring import ScoringConfig
    from ..analyse.segments import SegmentRules

    st = scenario.settings or {}
    try:
        scoring = ScoringConfig.from_dict(st["scoring"]) if st.get("scoring") else None
        rules = SegmentRules.from_dict(st["segment_rules"]) if st.get("segment_rules") else None
        return Enrichment(enrich_accounts(dataset, scoring, rules))
    except Exception as exc:  # bad saved settings or data the scorer cannot use: said, never hidden
        return Enrichment(dataset.accounts, f"{exc}")


def scenario_enriched(dataset: Dataset, scenario: Scenario) -> pd.DataFrame | None:
    """The enriched accounts, or None when scoring fails (see :func:`enrich_scenario` for why)."""
    e = enrich_scenario(dataset, scenario)
    return None if e.error else e.accounts


@dataclass(frozen=True, eq=False)
class SolveInputs:
    """What the optimizer gets for a scenario: the accounts (enriched, after events), the reps as
    the team will be (leavers inactive, hires added), the resolved settings (scope "auto" decided,
    metrics checked), the forced assignments with their reasons, and what the user must be told."""
    accounts: pd.DataFrame
    reps: pd.DataFrame
    settings: Any
    fixed: dict[str, str]
    reasons: dict[str, str]
    notes: list[str]
    warnings: list[str]
    distances: pd.DataFrame | None = None
    opportunities: pd.DataFrame | None = None


def scenario_inputs(dataset: Dataset, scenario: Scenario, enriched: pd.DataFrame | None = None) -> SolveInputs:
    """The one path from a scenario to solver inputs, used by the editor's re-solve, the trade-off
    curve, Territory Health, Compare and the command line. ``enriched``: accounts already enriched
    for the scenario's scoring settings (a page's cache); computed here when None. Raises
    :class:`EventError` when an event or a manual override cannot apply."""
    from dataclasses import replace as _replace

    from ..solve.settings import Metric, parse_scope

    warnings: list[str] = []
    if enriched is None:
        e = enrich_scenario(dataset, scenario)
        enriched = e.accounts
        if e.error:
            warnings.append(f"Scoring failed on this data ({e.error}); potential, whitespace and segments are "
                            "not available for this plan.")
    ev = apply_events(dataset, scenario.events, enriched)
    fixed, reasons = apply_overrides(ev, scenario.overrides)
    settings = solver_settings(scenario, ev.accounts, ev.reps)
    kind, _, _ = parse_scope(settings.scope)
    if kind == "auto":
        settings = _replace(settings, scope="affected" if (scenario.events or scenario.overrides) else "all")
    # a balance metric the accounts do not have (potential when scoring failed): say what is balanced instead
    metrics = []
    for m in settings.metrics:
        if m.column in ev.accounts.columns or m.column == X.account_count:
            metrics.append(m)
            continue
        alt = A.annual_revenue if m.column in (X.potential, X.whitespace) and A.annual_revenue in ev.accounts.columns \
            and pd.to_numeric(ev.accounts[A.annual_revenue], errors="coerce").notna().any() else None
        if alt and not any(x.column == alt for x in settings.metrics):
            metrics.append(Metric(alt, m.tolerance, m.weight, m.hard))
            warnings.append(f"{label(m.column)} is not available, so this plan balances {label(alt).lower()} "
                            "instead.")
        else:
            warnings.append(f"{label(m.column)} is not a column of these accounts, so it is not balanced.")
    if tuple(metrics) != tuple(settings.metrics):
        settings = _replace(settings, metrics=tuple(metrics))
    opp = dataset.opportunities if dataset.opportunities is not None and len(dataset.opportunities) else None
    dist = dataset.distances if dataset.distances is not None and len(dataset.distances) else None
    return SolveInputs(accounts=ev.accounts, reps=ev.reps, settings=settings, fixed=fixed, reasons=reasons,
                       notes=list(ev.notes), warnings=warnings, distances=dist, opportunities=opp)


def solve_scenario(dataset: Dataset, scenario: Scenario, *, enriched: pd.DataFrame | None = None,
                   progress: Callable[[str, float], None] | None = None, cancel=None) -> Scenario:
    """Solve a scenario through :func:`scenario_inputs` and return it with ``assignment``, ``report``
    and ``input_fingerprint`` filled. Raises :class:`EventError` when an event or override cannot
    apply. Same dataset + scenario inputs -> same assignment. When the solver finds no assignment
    (infeasible, cancelled early) the returned scenario has ``assignment=None`` and its ``report``
    (status, explanation, fixes) says why."""
    from ..solve.model import solve

    inp = scenario_inputs(dataset, scenario, enriched)
    res = solve(inp.accounts, inp.reps, inp.settings, distances=inp.distances, opportunities=inp.opportunities,
                fixed=inp.fixed or None, progress=progress, cancel=cancel)
    reasons = inp.reasons
    assignment = res.assignment.copy() if res.assignment is not None else None
    if assignment is not None and len(assignment) and reasons:
        ids = assignment[S.account_id].astype(str)
        why = ids.map(reasons)
        has = why.notna().to_numpy()
        if S.reason not in assignment.columns:
            assignment[S.reason] = pd.Series(pd.NA, index=assignment.index, dtype="string")
        assignment[S.reason] = assignment[S.reason].astype("string")
        assignment.loc[has, S.reason] = why[has].astype("string").to_numpy()
    if assignment is not None and len(assignment) == 0 and len(inp.accounts):
        assignment = None  # infeasible, cancelled before a solution, ...: the report says why
    if assignment is not None:
        assignment = coerce_types(assignment, ASSIGNMENT)
    report = dict(res.to_report_dict())
    report["notes"] = list(inp.warnings) + list(inp.notes) + [n for n in (report.get("notes") or []) if n not in inp.notes]
    report["warnings"] = list(inp.warnings)
    report["fixed"] = len(inp.fixed)
    report["scope"] = inp.settings.scope
    report["bands"] = inp.settings.effective_bands
    return scenario.with_(assignment=assignment, report=report, input_fingerprint=dataset_fingerprint(dataset))


def curve_point_scenario(dataset: Dataset, scenario: Scenario, tolerance: float, time_limit: float,
                         enriched: pd.DataFrame | None = None) -> Scenario:
    """The scenario one point of its trade-off curve solves: every balance metric at +-tolerance and
    the fewest moves (solve it with :func:`solve_scenario` to get that point's plan alone)."""
    from ..solve.curve import point_settings

    inp = scenario_inputs(dataset, scenario, enriched)
    s = point_settings(inp.settings, inp.accounts, tolerance, time_limit)
    return scenario.with_(settings={**(scenario.settings or {}), "solver": s.to_dict()})


def scenario_curve(dataset: Dataset, scenario: Scenario, tolerances, *, time_limit_each: float,
                   enriched: pd.DataFrame | None = None, workers: int | None = None, progress=None,
                   cancel=None) -> pd.DataFrame:
    """The scenario's trade-off curve through the same inputs as its re-solve (events, overrides,
    scope, distances): see :func:`territory_core.solve.curve.tradeoff_curve`."""
    from ..solve.curve import tradeoff_curve

    inp = scenario_inputs(dataset, scenario, enriched)
    return tradeoff_curve(inp.accounts, inp.reps, inp.settings, tolerances, distances=inp.distances,
                          opportunities=inp.opportunities, fixed=inp.fixed or None, time_limit_each=time_limit_each,
                          workers=workers, progress=progress, cancel=cancel)


# --------------------------------------------------------------------------------------------
# Diff and KPIs
# --------------------------------------------------------------------------------------------

def _need_assignment(sc: Scenario) -> pd.DataFrame:
    if sc.assignment is None:
        status = (sc.report or {}).get("status_text")
        raise ValueError(f"Scenario {sc.name!r} has no assignment yet" + (f" ({status})" if status else "")
                         + ": re-solve it first.")
    return sc.assignment


def scenario_rep_names(dataset: Dataset, *scenarios: Scenario) -> dict[str, str]:
    """rep_id -> name for the dataset's reps and the new hires of ``scenarios``' events."""
    frames = [dataset.reps]
    for sc in scenarios:
        if sc is not None and sc.events:
            try:
                frames.append(apply_events(dataset, sc.events).reps)
            except EventError:
                pass
    out: dict[str, str] = {}
    for reps in frames:
        if reps is None or R.rep_id not in reps.columns:
            continue
        ids = reps[R.rep_id].astype("string").fillna("").astype(str)
        nm = reps[R.name].astype("string") if R.name in reps.columns else ids
        for i, n in zip(ids, nm):
            if i and i not in out:
                out[i] = str(n) if pd.notna(n) and str(n).strip() else i
    return out


def name_reps(text, names: Mapping[str, str]):
    """``text`` with every rep id of ``names`` (as a whole word) replaced by the rep's name, so
    "moved to R012: R003 was +23% against its arr target" reads with names and can be searched
    by name. Missing text is returned as is."""
    if text is None or (not isinstance(text, str) and pd.isna(text)) or not names:
        return text
    return _names_pattern(names).sub(lambda m: names.get(m.group(0), m.group(0)), str(text))


_PATTERN_CACHE: dict[int, tuple[Mapping, Any]] = {}


def _names_pattern(names: Mapping[str, str]):
    import re

    hit = _PATTERN_CACHE.get(id(names))
    if hit is not None and hit[0] is names:
        return hit[1]
    ids = sorted((str(k) for k in names if str(k)), key=len, reverse=True)
    pat = re.compile(r"(?<![\w-])(?:" + "|".join(re.escape(i) for i in ids) + r")(?![\w-])") if ids else re.compile(r"(?!x)x")
    if len(_PATTERN_CACHE) > 32:
        _PATTERN_CACHE.clear()
    _PATTERN_CACHE[id(names)] = (names, pat)
    return pat


def _why(reason) -> str:
    """The cause part of a solver reason ("moved to R1: R3 was +20% ..." -> "R3 was +20% ...")."""
    if reason is None or (not isinstance(reason, str) and pd.isna(reason)):
        return ""
    r = str(reason).strip()
    if r.startswith("moved to ") and ": " in r:
        return r.split(": ", 1)[1]
    return r


def baseline_reasons(base_label: str, today, from_rep, to_rep, reason, names: Mapping[str, str]) -> list[str]:
    """Why each account changes hands between a baseline and a scenario, relative to the
    baseline, with rep names. ``today``: today's owner per account; ``from_rep``: the baseline's
    owner; ``to_rep``: the scenario's; ``reason``: the scenario's own reason (relative to today)."""
    def nm(r):
        if r is None or (not isinstance(r, str) and pd.isna(r)) or str(r) == "":
            return "nobody"
        return names.get(str(r), str(r))

    out = []
    for t, f, to, why in zip(today, from_rep, to_rep, reason):
        t = None if t is None or (not isinstance(t, str) and pd.isna(t)) else str(t)
        f = None if f is None or (not isinstance(f, str) and pd.isna(f)) else str(f)
        to = None if to is None or (not isinstance(to, str) and pd.isna(to)) else str(to)
        w = name_reps(_why(why), names)
        if f == t:  # the baseline keeps today's owner: the scenario's own reason says why it moves
            out.append(name_reps(str(why), names) if isinstance(why, str) and why.strip() else f"moved to {nm(to)}")
        elif to == t:  # the baseline moved it; this plan leaves it where it is today
            extra = f" ({w.removeprefix('kept: ')})" if w.startswith("kept: ") else ""
            out.append(f"kept with {nm(t)}, today's owner{extra}; {base_label} gives it to {nm(f)}")
        else:  # both move it away from today's owner, to different reps: this plan's reason first
            own = f"moved to {nm(to)}" + (f": {w}" if w and not w.startswith("kept") else "")
            out.append(f"{own}; {base_label} gives it to {nm(f)} instead")
    return out


def diff_scenarios(a: Scenario, b: Scenario, accounts: pd.DataFrame, *,
                   names: Mapping[str, str] | None = None) -> pd.DataFrame:
    """Accounts owned by a different rep in ``b`` than in ``a``: columns account_id, name,
    from_rep_id, to_rep_id, arr, reason (``b``'s reason), largest arr first.

    With ``names`` (rep_id -> name, e.g. :func:`scenario_rep_names`), also ``from_name`` and
    ``to_name``, and the reason is relative to ``a`` (the baseline) with rep names instead of ids
    (:func:`baseline_reasons`); ``today_rep_id`` is today's owner."""
    aa = _need_assignment(a)[[S.account_id, S.rep_id]].rename(columns={S.rep_id: "from_rep_id"})
    bb = _need_assignment(b)
    cols = [S.account_id, S.rep_id] + ([S.reason] if S.reason in bb.columns else []) + \
        ([S.previous_rep_id] if S.previous_rep_id in bb.columns else [])
    bb = bb[cols].rename(columns={S.rep_id: "to_rep_id"})
    for d in (aa, bb):
        d[S.account_id] = d[S.account_id].astype("string")
    m = aa.merge(bb, on=S.account_id, how="outer")
    fr = m["from_rep_id"].astype("string").fillna("")
    to = m["to_rep_id"].astype("string").fillna("")
    m = m[fr != to].copy()
    info = accounts[[A.account_id, A.name] + ([A.arr] if A.arr in accounts.columns else [])].copy()
    info[A.account_id] = info[A.account_id].astype("string")
    info = info.drop_duplicates(A.account_id)
    m = m.merge(info, on=S.account_id, how="left")
    if A.arr not in m.columns:
        m[A.arr] = 0.0
    if S.reason not in m.columns:
        m[S.reason] = pd.NA
    out = pd.DataFrame({
        "account_id": m[S.account_id].astype("string"),
        "name": m[A.name].astype("string"),
        "from_rep_id": m["from_rep_id"].astype("string"),
        "to_rep_id": m["to_rep_id"].astype("string"),
        "arr": pd.to_numeric(m[A.arr], errors="coerce").fillna(0.0).astype(float),
        "reason": m[S.reason].astype("string"),
    })
    if names is not None:
        today = m[S.previous_rep_id].astype("string") if S.previous_rep_id in m.columns else \
            pd.Series(pd.NA, index=m.index, dtype="string")
        if A.owner_id in accounts.columns:
            own = accounts[[A.account_id, A.owner_id]].copy()
            own[A.account_id] = own[A.account_id].astype("string")
            own = own.drop_duplicates(A.account_id).set_index(A.account_id)[A.owner_id].astype("string")
            today = today.fillna(pd.Series(m[S.account_id].astype("string").map(own).to_numpy(), index=m.index,
                                           dtype="string"))
        out["today_rep_id"] = today.to_numpy()
        out["from_name"] = [names.get(str(r), str(r)) if pd.notna(r) else "(nobody)" for r in out["from_rep_id"]]
        out["to_name"] = [names.get(str(r), str(r)) if pd.notna(r) else "(nobody)" for r in out["to_rep_id"]]
        out["reason"] = pd.array(baseline_reasons(a.label, out["today_rep_id"], out["from_rep_id"], out["to_rep_id"],
                                                  out["reason"], names), dtype="string")
    return out.sort_values(["arr", "account_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def _team_key(reps: pd.DataFrame, fields) -> pd.Series:
    cols = [f for f in fields if f in reps.columns]
    if not cols or reps.empty:
        return pd.Series("", index=reps.index, dtype="string")
    return reps[cols].astype("string").fillna("").agg(" ".join, axis=1).str.strip()


def change_cost(dataset: Dataset, baseline: Scenario, scenario: Scenario,
                accounts: pd.DataFrame | None = None) -> dict:
    """What a plan costs against a baseline (today's plan or another scenario), in the terms a sales
    leader signs on (JSON-safe dict):

    - ``accounts_moved`` / ``accounts``, ``arr_moved`` / ``arr``, ``arr_kept_share`` (share of ARR
      that keeps its owner), ``pipeline_moved`` (open pipeline changing hands);
    - ``reps_gaining``, ``reps_losing``, ``max_gain`` / ``max_loss`` ({rep_id, name, accounts}: the
      most accounts any one rep gains or loses);
    - ``hires``: per rep active in the plan but not in the baseline ({rep_id, name, placeholder,
      ramp, quota, ramp_gap = quota x (1 - first-year ramp), accounts});
    - ``leavers``: per rep active in the baseline but not in the plan ({rep_id, name, team, capacity
      (FTE x ramp), quota, backfilled by a hire in the same team}); ``capacity_gap`` (FTE) and
      ``quota_gap`` over the leavers without a backfill.
    """
    acc = accounts if accounts is not None else dataset.accounts
    a0 = _need_assignment(baseline)[[S.account_id, S.rep_id]].rename(columns={S.rep_id: "before"})
    a1 = _need_assignment(scenario)[[S.account_id, S.rep_id]].rename(columns={S.rep_id: "after"})
    for d in (a0, a1):
        d[S.account_id] = d[S.account_id].astype("string")
    m = a1.merge(a0, on=S.account_id, how="left")
    info = acc[[A.account_id] + [c for c in (A.arr, A.open_pipeline) if c in acc.columns]].copy()
    info[A.account_id] = info[A.account_id].astype("string")
    m = m.merge(info.drop_duplicates(A.account_id), left_on=S.account_id, right_on=A.account_id, how="left")
    arr = pd.to_numeric(m[A.arr], errors="coerce").fillna(0.0) if A.arr in m.columns else pd.Series(0.0, index=m.index)
    pipe = pd.to_numeric(m[A.open_pipeline], errors="coerce").fillna(0.0) if A.open_pipeline in m.columns \
        else pd.Series(0.0, index=m.index)
    before = m["before"].astype("string").fillna("")
    after = m["after"].astype("string").fillna("")
    moved = (before != after).to_numpy()
    reps1 = scenario_reps(dataset, scenario)
    reps0 = scenario_reps(dataset, baseline)
    names = dict(zip(reps0[R.rep_id].astype(str), reps0[R.name].astype("string").fillna("").astype(str)))
    names.update(zip(reps1[R.rep_id].astype(str), reps1[R.name].astype("string").fillna("").astype(str)))
    gains = after[moved].value_counts()
    losses = before[moved & (before != "").to_numpy()].value_counts()

    def top(counts):
        if not len(counts):
            return None
        counts = counts.sort_index().sort_values(ascending=False, kind="mergesort")
        rid = str(counts.index[0])
        return {"rep_id": rid, "name": names.get(rid) or rid, "accounts": int(counts.iloc[0])}

    def active_ids(reps):
        act = reps[R.active].astype("boolean").fillna(True) if R.active in reps.columns else pd.Series(True, index=reps.index)
        return set(reps.loc[act.to_numpy(dtype=bool), R.rep_id].astype(str))

    on0, on1 = active_ids(reps0), active_ids(reps1)
    teams = _balance_teams(dataset, scenario) or tuple(c for c in (R.region, R.segment) if c in reps1.columns)
    r1 = reps1.assign(_team=_team_key(reps1, teams).to_numpy()).set_index(reps1[R.rep_id].astype(str))
    r0 = reps0.assign(_team=_team_key(reps0, teams).to_numpy()).set_index(reps0[R.rep_id].astype(str))
    hire_ev = {str(e.get("rep_id")): e for e in scenario.events if e.get("type") == "new_hire"}

    def num(df, rid, col, default=0.0):
        try:
            v = float(df.at[rid, col]) if col in df.columns else default
        except (TypeError, ValueError, KeyError):
            return default
        return default if math.isnan(v) else v

    hires = []
    for rid in sorted(on1 - on0):
        quota = num(r1, rid, R.quota)
        ramp = ramp_of(hire_ev[rid]) if rid in hire_ev else num(r1, rid, R.ramp, 1.0)
        hires.append({"rep_id": rid, "name": names.get(rid) or rid, "placeholder": is_placeholder(rid),
                      "team": str(r1.at[rid, "_team"]), "ramp": ramp, "quota": quota,
                      "ramp_gap": quota * (1.0 - ramp), "accounts": int((after == rid).sum())})
    hire_teams = {h["team"] for h in hires}
    leavers = []
    for rid in sorted(on0 - on1):
        cap = num(r0, rid, R.capacity, 1.0) * num(r0, rid, R.ramp, 1.0)
        team = str(r0.at[rid, "_team"]) if rid in r0.index else ""
        leavers.append({"rep_id": rid, "name": names.get(rid) or rid, "team": team, "capacity": cap,
                        "quota": num(r0, rid, R.quota), "backfilled": team in hire_teams,
                        "accounts": int((before == rid).sum())})
    arr_total = float(arr.sum())
    out = {
        "baseline": baseline.label, "accounts": int(len(m)), "accounts_moved": int(moved.sum()),
        "arr": arr_total, "arr_moved": float(arr[moved].sum()),
        "arr_kept_share": float(arr[~moved].sum() / arr_total) if arr_total > 0 else 1.0,
        "pipeline_moved": float(pipe[moved].sum()),
        "reps_gaining": int(len(gains)), "reps_losing": int(len(losses)),
        "max_gain": top(gains), "max_loss": top(losses), "hires": hires, "leavers": leavers,
        "capacity_gap": float(sum(lv["capacity"] for lv in leavers if not lv["backfilled"])),
        "quota_gap": float(sum(lv["quota"] for lv in leavers if not lv["backfilled"])),
    }
    return _json_safe(out)


def cost_rows(cost: Mapping) -> list[tuple[str, str]]:
    """The cost of a change as (label, words) rows for the editor, Compare and the HTML summary."""
    from ..text import money

    rows = [("Against", str(cost.get("baseline") or "today's plan")),
            ("Accounts changing hands", f"{cost.get('accounts_moved', 0):,} of {cost.get('accounts', 0):,}"),
            ("ARR changing hands", f"{money(cost.get('arr_moved', 0))} ({1 - float(cost.get('arr_kept_share', 1)):.1%} "
                                   f"of ARR; {float(cost.get('arr_kept_share', 1)):.1%} keeps its owner)"),
            ("Open pipeline changing hands", money(cost.get("pipeline_moved", 0))),
            ("Reps affected", f"{cost.get('reps_gaining', 0)} gain accounts, {cost.get('reps_losing', 0)} lose accounts")]
    g, lo = cost.get("max_gain"), cost.get("max_loss")
    if g or lo:
        parts = []
        if g:
            parts.append(f"{g['name']} gains {g['accounts']:,}")
        if lo:
            parts.append(f"{lo['name']} loses {lo['accounts']:,}")
        rows.append(("Largest change for one rep", "; ".join(parts)))
    for h in cost.get("hires") or []:
        flag = " (placeholder: map to a CRM user before export)" if h.get("placeholder") else ""
        rows.append((f"New hire {h['name']}{flag}",
                     f"{h['accounts']:,} accounts; ramp {h['ramp']:.0%} in year one; ramp gap {money(h['ramp_gap'])} "
                     f"of {money(h['quota'])} quota"))
    for lv in cost.get("leavers") or []:
        if lv.get("backfilled"):
            rows.append((f"{lv['name']} leaves", f"{lv['accounts']:,} accounts re-homed; backfilled in {lv['team'] or 'the team'}"))
        else:
            rows.append((f"{lv['name']} leaves", f"{lv['accounts']:,} accounts re-homed; no backfill: "
                                                 f"{lv['capacity']:.2g} FTE and {money(lv['quota'])} quota uncovered"))
    return rows


def _metric_columns(accounts: pd.DataFrame, extra=()) -> list[str]:
    cols = []
    for c in (A.arr, X.potential, X.whitespace, A.open_pipeline, X.workload, *extra):
        if c in cols or c == X.account_count:
            continue
        if c in accounts.columns and pd.to_numeric(accounts[c], errors="coerce").fillna(0).abs().sum() > 0:
            cols.append(c)
    cols.append(X.account_count)
    return cols


def balance_metrics(scenario: Scenario, accounts: pd.DataFrame, tolerance: float = 0.10) -> list[tuple[str, float]]:
    """The (column, tolerance) pairs the balance index is judged on: the scenario's solver metrics
    (its settings, else the metrics its last solve used), else the solver's defaults for these
    accounts at ``tolerance``."""
    metrics = ((scenario.settings or {}).get("solver") or {}).get("metrics") or \
        (((scenario.report or {}).get("settings") or {}).get("metrics"))
    out: list[tuple[str, float]] = []
    for m in metrics or ():
        if isinstance(m, Mapping) and m.get("column"):
            try:
                tol = float(m.get("tolerance", 0.05))
            except (TypeError, ValueError):
                tol = 0.05
            out.append((str(m["column"]), tol))
    if not out:
        try:
            from ..solve.model import default_metrics

            out = [(m.column, float(tolerance)) for m in default_metrics(accounts, tolerance)]
        except Exception:  # solver not importable: ARR and book size
            out = [(A.arr, float(tolerance)), (X.account_count, float(tolerance))]
    return [(c, t) for c, t in out if c == X.account_count or c in accounts.columns]


def rep_loads(dataset: Dataset, scenario: Scenario, enriched: pd.DataFrame | None = None,
              metrics: list[str] | None = None, *, _reps: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per active rep and metric: rep_id, name, metric, value, target, deviation (value/target - 1).
    Targets split each metric's total by capacity x ramp over the scenario's active reps (after
    its events: leavers excluded, new hires included), team by team when it balances within teams
    (default: region + segment when it has no solver settings). ``metrics``: account columns (and
    ``account_count``); default: arr, potential, whitespace, open pipeline, workload when present,
    the scenario's balance metrics, and account count."""
    asg = _need_assignment(scenario)
    reps = _reps if _reps is not None else scenario_reps(dataset, scenario, enriched)
    accounts = enriched if enriched is not None else dataset.accounts
    if metrics is None:
        metrics = _metric_columns(accounts, [c for c, _ in balance_metrics(scenario, accounts)])
    else:
        metrics = [c for c in dict.fromkeys(metrics) if c in accounts.columns]
    acc = accounts[[A.account_id] + [c for c in metrics if c != X.account_count]].copy()
    acc[X.account_count] = 1.0
    acc[A.account_id] = acc[A.account_id].astype("string")
    acc = acc.drop_duplicates(A.account_id)
    a = asg[[S.account_id, S.rep_id]].copy()
    a[S.account_id] = a[S.account_id].astype("string")
    a[S.rep_id] = a[S.rep_id].astype("string")
    m = acc.merge(a, left_on=A.account_id, right_on=S.account_id, how="left", suffixes=("", "_asg"))
    active = reps[reps[R.active].astype("boolean").fillna(True)].copy()
    active[R.rep_id] = active[R.rep_id].astype("string")
    cap = pd.to_numeric(active[R.capacity], errors="coerce").fillna(1.0) * pd.to_numeric(active[R.ramp], errors="coerce").fillna(1.0)
    share = cap / cap.sum() if cap.sum() > 0 else pd.Series(1.0 / max(len(active), 1), index=active.index)
    rids = active[R.rep_id].astype(str).to_numpy()
    names = active[R.name].astype("string").fillna(pd.Series(rids, index=active.index, dtype="string")).astype(str).to_numpy()
    share = share.to_numpy(dtype=float)
    on_active = m[S.rep_id].isin(rids).fillna(False).to_numpy(dtype=bool)
    # Balanced within teams (the scenario's balance_within, or the default region + segment teams
    # when it has no solver settings): a rep's target is its share of its own team's book.
    # no active rep, no team (a row-join over an empty frame gives a frame, not team labels)
    teams = [c for c in _balance_teams(dataset, scenario) if c in active.columns] if len(active) else []
    if teams:
        team = pd.factorize(active[teams].astype("string").fillna("").agg(" | ".join, axis=1))[0]
        cap_np = cap.to_numpy(dtype=float)
        cap_team = np.bincount(team, weights=cap_np)[team]
        share = np.where(cap_team > 0, cap_np / np.where(cap_team > 0, cap_team, 1.0), 0.0)
    frames = []
    for metric in metrics:
        vals = pd.to_numeric(m[metric], errors="coerce").fillna(0.0)
        per = vals.groupby(m[S.rep_id]).sum().reindex(rids).fillna(0.0).to_numpy(dtype=float)
        if teams:
            tgt = np.bincount(team, weights=per)[team] * share
        else:
            tgt = float(vals.to_numpy(dtype=float)[on_active].sum()) * share
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = np.where(tgt > 0, per / np.where(tgt > 0, tgt, 1.0) - 1.0, 0.0)
        frames.append(pd.DataFrame({"rep_id": rids, "name": names, "metric": metric, "value": per, "target": tgt,
                                    "deviation": dev}))
    if not frames:
        return pd.DataFrame(columns=["rep_id", "name", "metric", "value", "target", "deviation"])
    return pd.concat(frames, ignore_index=True)


def _balance_teams(dataset: Dataset, scenario: Scenario) -> tuple[str, ...]:
    from ..solve.model import default_teams

    if (scenario.settings or {}).get("solver"):
        return tuple(solver_settings(scenario).balance_within)
    return default_teams(dataset.reps)


def scenario_reps(dataset: Dataset, scenario: Scenario, enriched: pd.DataFrame | None = None) -> pd.DataFrame:
    """The reps as the scenario's team will be: after its events (leavers inactive, new hires added
    with their ramp), with active, capacity and ramp filled. The dataset's reps when an event cannot
    apply (:func:`scenario_reps_checked` says why)."""
    return scenario_reps_checked(dataset, scenario, enriched)[0]


def scenario_reps_checked(dataset: Dataset, scenario: Scenario,
                          enriched: pd.DataFrame | None = None) -> tuple[pd.DataFrame, str | None]:
    """(:func:`scenario_reps`, None), or (today's reps, why the scenario's events could not apply)."""
    note = None
    if not scenario.events:
        reps = dataset.reps.copy()
    else:
        try:
            return apply_events(dataset, scenario.events, enriched).reps, None
        except EventError as exc:
            reps = dataset.reps.copy()
            note = f"The scenario's events could not be applied ({exc}); showing today's reps."
    if R.active not in reps.columns:
        reps[R.active] = True
    reps[R.active] = reps[R.active].astype("boolean").fillna(True)
    for col in (R.capacity, R.ramp):
        if col not in reps.columns:
            reps[col] = 1.0
    return reps, note


def scenario_kpis(dataset: Dataset, scenario: Scenario, enriched: pd.DataFrame | None = None, *,
                  tolerance: float = 0.10) -> dict:
    """Plain-number KPIs of a scenario (JSON-safe dict):

    - ``balance``: per metric ``{"cv", "max_deviation", "mean_abs_deviation", "within_tolerance",
      "tolerance", "gini", "min", "max", "mean"}`` (targets by capacity x ramp; deviation =
      value/target - 1; cv of value/target; within_tolerance = share of reps within +-tolerance of
      target, the metric's solver tolerance for balance metrics, else ``tolerance``);
    - ``balance_index``: 0-100, the share of (rep, metric) books within their band over the
      ``balance_metrics`` (the scenario's solver metrics, else the solver's defaults at
      ``tolerance``): 100 = every book in its band;
    - ``moves``, ``arr_moved``, ``moved_pct``; ``accounts``, ``reps`` (active), ``coverage`` (share of
      accounts owned by an active rep), ``unassigned``;
    - ``accounts_per_rep`` and ``whitespace_per_rep`` ({"mean", "min", "max"}; whitespace when known);
    - ``travel_km_mean``/``travel_km_total``/``travel_known`` when account and rep coordinates are known;
    - ``status``/``status_text``/``gap`` from the solver report when there is one.
    """
    asg = _need_assignment(scenario)
    accounts = enriched if enriched is not None else dataset.accounts
    reps_after = scenario_reps(dataset, scenario, enriched)
    loads = rep_loads(dataset, scenario, enriched, _reps=reps_after)
    bm = dict(balance_metrics(scenario, accounts, tolerance))
    balance = {}
    cvs = []
    for metric, g in loads.groupby("metric", sort=False):
        tol = bm.get(metric, tolerance)
        tgt = g["target"].to_numpy(dtype=float)
        val = g["value"].to_numpy(dtype=float)
        ok = tgt > 0
        norm = val[ok] / tgt[ok] if ok.any() else np.array([1.0])
        cv = float(np.std(norm) / np.mean(norm)) if np.mean(norm) > 0 else 0.0
        dev = g["deviation"].to_numpy(dtype=float)
        within = float((np.abs(dev) <= tol + 1e-9).mean()) if len(dev) else 1.0
        balance[metric] = {"cv": cv, "max_deviation": float(np.max(np.abs(dev))) if len(dev) else 0.0,
                           "within_tolerance": within, "tolerance": float(tol), "gini": gini(np.clip(val, 0, None)),
                           "mean_abs_deviation": float(np.mean(np.abs(dev))) if len(dev) else 0.0,
                           "min": float(val.min()) if len(val) else 0.0, "max": float(val.max()) if len(val) else 0.0,
                           "mean": float(val.mean()) if len(val) else 0.0}
        if metric in bm:
            cvs.append(within)
    bal_idx = 100.0 * float(np.mean(cvs)) if cvs else 100.0

    a = asg.copy()
    a[S.account_id] = a[S.account_id].astype("string")
    rep_now = a[S.rep_id].astype("string")
    acc = accounts.copy()
    acc[A.account_id] = acc[A.account_id].astype("string")
    acc = acc.drop_duplicates(A.account_id).set_index(A.account_id)
    prev = acc[A.owner_id].astype("string").reindex(a[S.account_id]).to_numpy() if A.owner_id in acc.columns else a.get(S.previous_rep_id)
    prev = pd.Series(prev, index=a.index, dtype="string")
    moved = (rep_now.fillna("") != prev.fillna("")).to_numpy()
    arr = pd.to_numeric(acc[A.arr], errors="coerce").fillna(0.0).reindex(a[S.account_id]).fillna(0.0).to_numpy() if A.arr in acc.columns else np.zeros(len(a))
    active_ids = set(loads["rep_id"].astype(str))
    covered = rep_now.fillna("").isin(active_ids).to_numpy()
    counts = loads[loads["metric"] == X.account_count]["value"]
    out: dict[str, Any] = {
        "accounts": int(len(a)),
        "reps": int(len(active_ids)),
        "moves": int(moved.sum()),
        "arr_moved": float(arr[moved].sum()),
        "moved_pct": float(moved.mean()) if len(a) else 0.0,
        "coverage": float(covered.mean()) if len(a) else 1.0,
        "unassigned": int((~covered).sum()),
        "balance": balance,
        "balance_index": bal_idx,
        "balance_metrics": list(bm),
        "tolerance": float(tolerance),
        "accounts_per_rep": {"mean": float(counts.mean()) if len(counts) else 0.0,
                             "min": float(counts.min()) if len(counts) else 0.0,
                             "max": float(counts.max()) if len(counts) else 0.0},
    }
    ws = loads[loads["metric"] == X.whitespace]["value"]
    if len(ws):
        out["whitespace_per_rep"] = {"mean": float(ws.mean()), "min": float(ws.min()), "max": float(ws.max())}
    # Travel: account to its rep's home, great-circle km.
    if {A.lat, A.lon} <= set(acc.columns):
        reps = reps_after
        if {R.home_lat, R.home_lon} <= set(reps.columns):
            home = reps.assign(**{R.rep_id: reps[R.rep_id].astype("string")}).drop_duplicates(R.rep_id).set_index(R.rep_id)
            hl = pd.to_numeric(home[R.home_lat], errors="coerce").reindex(rep_now).to_numpy(dtype=float)
            ho = pd.to_numeric(home[R.home_lon], errors="coerce").reindex(rep_now).to_numpy(dtype=float)
            al = pd.to_numeric(acc[A.lat], errors="coerce").reindex(a[S.account_id]).to_numpy(dtype=float)
            ao = pd.to_numeric(acc[A.lon], errors="coerce").reindex(a[S.account_id]).to_numpy(dtype=float)
            known = ~(np.isnan(hl) | np.isnan(ho) | np.isnan(al) | np.isnan(ao))
            if known.any():
                km = haversine_km(al[known], ao[known], hl[known], ho[known])
                out["travel_km_mean"] = float(km.mean())
                out["travel_km_total"] = float(km.sum())
                out["travel_known"] = float(known.mean())
    rep = scenario.report or {}
    for k in ("status", "status_text", "gap"):
        if k in rep:
            out[k] = rep[k]
    return _json_safe(out)


METRIC_LABELS = COLUMN_LABELS  # the contract's labels (territory_core.text)


def kpi_rows(kpis: Mapping) -> list[tuple[str, str]]:
    """KPIs as (label, formatted value) rows for tables and the HTML summary."""
    on = ", ".join(METRIC_LABELS.get(m, m) for m in kpis.get("balance_metrics") or ())
    rows = [("Balance index", f"{kpis.get('balance_index', 0):.0f} / 100 (share of books in their band"
             + (f" on {on})" if on else ")")),
            ("Moves", f"{kpis.get('moves', 0):,} ({kpis.get('moved_pct', 0):.1%} of accounts)"),
            ("ARR moved", f"${kpis.get('arr_moved', 0):,.0f}"),
            ("Active reps", f"{kpis.get('reps', 0):,}"),
            ("Coverage", f"{kpis.get('coverage', 0):.1%} ({kpis.get('unassigned', 0):,} without an active owner)")]
    apr = kpis.get("accounts_per_rep") or {}
    rows.append(("Accounts per rep", f"{apr.get('mean', 0):,.0f} (min {apr.get('min', 0):,.0f}, max {apr.get('max', 0):,.0f})"))
    if "whitespace_per_rep" in kpis:
        w = kpis["whitespace_per_rep"]
        rows.append(("Whitespace per rep", f"${w['mean']:,.0f} (min ${w['min']:,.0f}, max ${w['max']:,.0f})"))
    for m, b in (kpis.get("balance") or {}).items():
        rows.append((f"{METRIC_LABELS.get(m, m)} balance",
                     f"{b.get('within_tolerance', 0):.0%} of reps within +-{b.get('tolerance', 0.1):.0%}, CV {b['cv']:.1%}, worst {b['max_deviation']:.0%} off"))
    if "travel_km_mean" in kpis:
        rows.append(("Travel to accounts", f"{kpis['travel_km_mean']:,.0f} km on average"))
    if kpis.get("status_text"):
        rows.append(("Solver", str(kpis["status_text"])))
    return rows
