"""The router: a plan compiled into rules that give an owner to any new account or lead.

Order of decision (the first that decides wins; every decision has a ``rule`` and a one-line
``reason``):

0. **Named / locked** records keep their owner (the record's ``owner_id``, else its owner in the
   plan). **In the plan**: a record that is an account the plan assigns goes to its planned rep.
1. **Family first**: a record whose parent (or the parent's ultimate parent) is an account we
   have goes to the family's owner; else one whose web domain matches an account's website; else
   (leads) one whose company name matches an account's, exactly or fuzzily
   (:data:`~territory_core.route.match.NAME_THRESHOLD`).
2. **Segment rules** (the scenario's, first match wins) decide the segment, so the team's
   segment.
3. **Geography** decides the rest of the team (its region): the ZIP, then county -> territory
   table when one is given (:class:`Territories`), otherwise the team that holds most of the
   county's accounts in the plan (then the state's).
4. **Within the team**: the rep with the most room against their capacity-weighted target
   (``capacity x ramp`` share of the team's accounts, minus the accounts they hold), round robin
   on ties. Inactive reps, placeholders (``placeholder`` or an id starting ``TBH-``) and reps
   unavailable on the routing date are skipped.

What none of this decides goes to the exceptions queue with its reason, and so do conflicts: a
family or match whose accounts have different owners, a match to an account owned by a rep who
cannot take it (inactive, placeholder, away), two decision rules of equal priority that disagree,
and a county split evenly between teams. Before a record is queued, the decision rules RevOps made
from earlier queue decisions (:class:`DecisionRule`) are tried: they settle what the plan cannot.

Routing is deterministic: the same router and the same records give the same owners. A batch
(:meth:`Router.route`) starts from the plan's books each time; ``keep_state=True`` (the service)
carries the books routed so far into the next call.
"""
from __future__ import annotations

import gc
import math
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from typing import Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd

from ..contract import A, R, S, X
from ..dataset import Dataset
from ..text import printable
from .match import NAME_THRESHOLD, NameIndex, normalize_company, normalize_domain, normalize_many
from .records import RECORD_COLUMNS, prepare_records

PLACEHOLDER_PREFIX = "TBH-"

# Rule codes (the ``rule`` column).
RULE_LABELS = {
    "named": "Named account keeps its owner",
    "locked": "Locked account keeps its owner",
    "plan": "Assigned in the plan",
    "family": "Family: parent account's owner",
    "domain": "Web domain matches an account",
    "company_name": "Company name matches an account",
    "territory": "Geographic territory's rep",
    "segment_territory": "Segment + geographic territory, rep with most room",
    "segment_county": "Segment + county's team, rep with most room",
    "segment_state": "Segment + state's team, rep with most room",
    "segment": "Segment's team, rep with most room",
    "decision_rule": "Decision rule made from the queue",
}
# Exception kinds (the queue's ``kind``).
EXCEPTION_KINDS = {
    "no_rule": "No rule covers it",
    "family_conflict": "Family or match with different owners",
    "inactive_owner": "Owner cannot take it (inactive, placeholder or away)",
    "equal_priority": "Rules of equal priority disagree",
    "no_rep": "Team has no rep who can take it",
    "bad_record": "Record cannot be routed (id missing or repeated)",
}
DECISION_FIELDS = ("domain", "company", "zip", "county", "state", "industry", "country", "segment", "record_id")
ROUTED_COLUMNS = ["record_id", "rep_id", "team", "rule", "reason"]
EXCEPTION_COLUMNS = ["record_id", "row", "kind", "rule", "reason", "candidates", "segment", "team"]


class RoutingError(ValueError):
    """A router cannot be built from these inputs (message says what and how to fix)."""


@dataclass(frozen=True)
class DecisionRule:
    """A rule RevOps made from a queue decision: records whose ``field`` equals ``value`` go to
    ``rep_id``. Checked only when the plan's own rules end in an exception; lower ``priority``
    first; two matching rules of the same priority that name different reps are an exception."""

    field: str
    value: str
    rep_id: str
    priority: int = 100
    note: str = ""
    id: int | None = None

    def __post_init__(self):
        if self.field not in DECISION_FIELDS:
            raise RoutingError(f"A decision rule's field must be one of {', '.join(DECISION_FIELDS)}, not {self.field!r}.")
        object.__setattr__(self, "value", normalize_value(self.field, self.value))
        if not self.value:
            raise RoutingError(f"A decision rule on {self.field} needs a value.")
        if not str(self.rep_id or "").strip():
            raise RoutingError("A decision rule needs a rep.")
        object.__setattr__(self, "rep_id", str(self.rep_id).strip())
        object.__setattr__(self, "priority", int(self.priority))

    def describe(self) -> str:
        return f"{self.field} = {self.value}"


def normalize_value(fld: str, value) -> str:
    """A decision rule's value in the form records are compared in."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if fld == "domain":
        return normalize_domain(value)
    if fld == "company":
        return normalize_company(value)
    s = str(value).strip()
    if fld == "state":
        return s.upper()
    if fld in ("industry", "country", "segment"):
        return s.casefold()
    return s


@dataclass(frozen=True)
class Unavailability:
    """A rep away from ``start`` to ``end`` (both inclusive): skipped by routing on those dates."""

    rep_id: str
    start: date
    end: date
    reason: str = ""
    id: int | None = None

    def __post_init__(self):
        s, e = _as_date(self.start), _as_date(self.end)
        if s is None or e is None:
            raise RoutingError(f"Unavailability of {self.rep_id}: give a start and an end date (YYYY-MM-DD).")
        if e < s:
            raise RoutingError(f"Unavailability of {self.rep_id}: the end {e} is before the start {s}.")
        object.__setattr__(self, "start", s)
        object.__setattr__(self, "end", e)
        object.__setattr__(self, "rep_id", str(self.rep_id).strip())

    def covers(self, day: date) -> bool:
        return self.start <= day <= self.end


def _as_date(v) -> date | None:
    if v is None or v == "":
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    try:
        return pd.Timestamp(str(v)).date()
    except (ValueError, TypeError):
        return None


@dataclass(frozen=True)
class Territories:
    """Geographic territories as plain data: ZIP -> territory and county FIPS -> territory, and
    optionally territory -> rep. A territory may also be named by a rep id, a team label
    (``"West | SMB"``) or a value of a team column (``"West"``)."""

    zip: Mapping[str, str] = field(default_factory=dict)
    county: Mapping[str, str] = field(default_factory=dict)
    reps: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.zip or self.county)

    @classmethod
    def from_frame(cls, df: pd.DataFrame, level: str) -> "Territories":
        """From a table with a unit column (``zip``, ``county`` or ``unit_id``), ``territory``
        and optionally ``rep_id``. ``level``: ``"zip"`` or ``"county"`` (both are 5 digits)."""
        if level not in ("zip", "county"):
            raise RoutingError(f"Territory level must be 'zip' or 'county', not {level!r}.")
        cols = {str(c).strip().lower(): c for c in df.columns}
        unit = cols.get(level) or cols.get("unit_id") or cols.get("unit")
        terr = cols.get("territory")
        if unit is None or terr is None:
            raise RoutingError(f"A territory table needs a {level} (or unit_id) column and a territory column; "
                               f"found {', '.join(map(str, df.columns))}.")
        units = df[unit].astype("string").str.strip().str.zfill(5)
        names = df[terr].astype("string").str.strip()
        ok = units.notna() & names.notna() & (names != "")
        table = dict(zip(units[ok], names[ok]))
        reps = {}
        if "rep_id" in cols:
            rr = df[cols["rep_id"]].astype("string").str.strip()
            reps = {t: r for t, r in zip(names[ok & rr.notna()], rr[ok & rr.notna()]) if r}
        return cls(**{level: table}, reps=reps)


class Decision(NamedTuple):
    """One record's outcome. ``rep_id`` is None for an exception (``exception`` = its kind)."""

    record_id: str | None
    rep_id: str | None
    team: str
    rule: str
    reason: str
    row: int | None = None
    exception: str | None = None
    segment: str | None = None
    candidates: tuple[str, ...] = ()

    @property
    def routed(self) -> bool:
        return self.exception is None

    def to_dict(self) -> dict:
        d = self._asdict()
        d["candidates"] = list(self.candidates)
        return d


@dataclass(frozen=True)
class RouteResult:
    """A batch: ``routed`` (record_id, rep_id, team, rule, reason) and ``exceptions`` (record_id,
    row, kind, rule, reason, candidates, segment, team), together one row per input record;
    ``decisions`` in input order; ``seconds`` spent routing."""

    routed: pd.DataFrame
    exceptions: pd.DataFrame
    decisions: tuple[Decision, ...]
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return len(self.decisions)

    @property
    def exception_rate(self) -> float:
        return len(self.exceptions) / self.total if self.total else 0.0

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for d in self.decisions:
            k = d.exception or d.rule
            out[k] = out.get(k, 0) + 1
        return out


# ------------------------------------------------------------------------------------------------
@dataclass
class _Team:
    key: tuple
    label: str
    reps: list[str]                 # sorted rep ids in the team (active, incl. placeholders and reps away)
    share: list[float]              # capacity x ramp share of the team
    load: list[float]               # accounts held
    total: float
    index: dict[str, int]
    open: list[int]                 # positions of the reps who can take records now
    last: int = -1                  # round robin pointer (position of the last pick)

    def copy(self) -> "_Team":
        return replace(self, load=list(self.load))


class Router:
    """A plan compiled for routing. Build it with :meth:`from_scenario` or :meth:`from_plan`;
    route with :meth:`route` (a frame of records) or :meth:`route_one` (a dict)."""

    def __init__(self, accounts: pd.DataFrame, plan: pd.DataFrame, reps: pd.DataFrame, *,
                 segment_rules=None, team_columns: Sequence[str] | None = None,
                 regions: Mapping[str, tuple[str, ...]] | None = None,
                 territories: Territories | None = None, decision_rules: Iterable[DecisionRule] = (),
                 unavailable: Iterable[Unavailability] = (), as_of: date | str | None = None,
                 name_threshold: float = NAME_THRESHOLD, label: str = "the plan"):
        from ..analyse.segments import SegmentRules, default_rules

        self.label = str(label)
        self.as_of = _as_date(as_of) or date.today()
        self.rules = segment_rules if segment_rules is not None else default_rules()
        if isinstance(self.rules, Mapping):
            self.rules = SegmentRules.from_dict(self.rules)
        self.regions = dict(regions or {})
        self.territories = territories or Territories()
        self.decision_rules = tuple(sorted(decision_rules, key=lambda r: (r.priority, r.id or 0)))
        self.unavailable = tuple(unavailable)
        self.name_threshold = float(name_threshold)
        self._prepare_reps(reps, team_columns)
        self._prepare_accounts(accounts, plan)
        self._prepare_geography()
        self._teams_start = {k: t.copy() for k, t in self.teams.items()}
        self._geo_cache: dict[tuple, tuple] = {}
        self._narrow_cache: dict[tuple, tuple[list[int], str]] = {}

    # ------------------------------------------------------------------------------ building
    @classmethod
    def from_scenario(cls, dataset: Dataset, scenario, *, enriched: pd.DataFrame | None = None,
                      **options) -> "Router":
        """The router for a scenario: its assignment is the plan, its events set the reps (leavers
        inactive, new hires in), its segment rules and teams (solver ``balance_within``, else region
        + segment) decide. ``options``: territories, decision_rules, unavailable, as_of,
        name_threshold, and segment_rules / team_columns to replace the scenario's (see :class:`Router`)."""
        from ..analyse.segments import SegmentRules, sales_regions
        from ..plan.scenarios import EventError, apply_events, scenario_enriched, solver_settings
        from ..solve.model import default_teams

        if scenario.assignment is None:
            raise RoutingError(f"Scenario {scenario.label!r} has no assignment (it was not solved): "
                               "solve it, or route with today's plan.")
        settings = scenario.settings or {}
        if enriched is None and (settings.get("segment_rules") or settings.get("scoring")):
            enriched = scenario_enriched(dataset, scenario)
        accounts = enriched if enriched is not None else dataset.accounts
        try:
            reps = apply_events(dataset, scenario.events, enriched).reps
        except EventError as exc:
            raise RoutingError(f"Scenario {scenario.label!r}: {exc}") from None
        rules = options.pop("segment_rules", None)
        if rules is None and settings.get("segment_rules"):
            rules = SegmentRules.from_dict(settings["segment_rules"])
        teams = options.pop("team_columns", None)
        if teams is None:
            teams = tuple(solver_settings(scenario).balance_within) if settings.get("solver") else default_teams(reps)
        return cls(accounts, scenario.assignment, reps, segment_rules=rules, team_columns=teams,
                   regions=sales_regions(dataset.accounts, dataset.reps), label=scenario.label, **options)

    @classmethod
    def from_plan(cls, dataset: Dataset, plan, *, segment_rules=None, team_columns=None, name: str | None = None,
                  **options) -> "Router":
        """The router for a plan file (or frame) with ``account_id`` and ``rep_id`` columns
        (Salesforce ``Id``/``OwnerId`` work too) on ``dataset``'s accounts and reps."""
        from ..plan.scenarios import Scenario

        label = name
        if isinstance(plan, (str, Path)):
            label = label or Path(plan).stem
            plan = read_plan(plan)
        settings = {}
        if segment_rules is not None:
            settings["segment_rules"] = segment_rules.to_dict() if hasattr(segment_rules, "to_dict") else dict(segment_rules)
        if team_columns is not None:
            settings["solver"] = {"balance_within": list(team_columns)}
        sc = Scenario(name=label or "Plan", assignment=plan, settings=settings)
        return cls.from_scenario(dataset, sc, **options)

    def _prepare_reps(self, reps: pd.DataFrame, team_columns) -> None:
        reps = reps.copy()
        reps[R.rep_id] = reps[R.rep_id].astype("string").str.strip()
        reps = reps[reps[R.rep_id].notna()].drop_duplicates(R.rep_id)
        active = reps[R.active].astype("boolean").fillna(True).to_numpy(dtype=bool) if R.active in reps.columns \
            else np.ones(len(reps), dtype=bool)
        ph = reps[R.placeholder].astype("boolean").fillna(False).to_numpy(dtype=bool) if R.placeholder in reps.columns \
            else np.zeros(len(reps), dtype=bool)
        ids = reps[R.rep_id].astype(str).to_numpy()
        ph = ph | np.char.startswith(ids.astype(str), PLACEHOLDER_PREFIX)
        cap = (pd.to_numeric(reps.get(R.capacity, 1.0), errors="coerce") if R.capacity in reps.columns
               else pd.Series(1.0, index=reps.index)).fillna(1.0).to_numpy(dtype=float)
        ramp = (pd.to_numeric(reps[R.ramp], errors="coerce") if R.ramp in reps.columns
                else pd.Series(1.0, index=reps.index)).fillna(1.0).to_numpy(dtype=float)
        cols = [c for c in (team_columns if team_columns is not None else ()) if c in reps.columns]
        self.team_columns = tuple(cols)
        self.segment_column = R.segment if R.segment in self.team_columns else None
        self.geo_columns = tuple(c for c in self.team_columns if c != R.segment)
        names = reps[R.name].astype("string").fillna("").astype(str).to_numpy() if R.name in reps.columns else ids
        self.rep_name = dict(zip(ids, names))
        self.rep_active = dict(zip(ids, active))
        self.rep_placeholder = dict(zip(ids, ph))
        self.rep_weight = dict(zip(ids, np.clip(cap * ramp, 0, None)))
        vals = {c: reps[c].astype("string").str.strip().fillna("").astype(str).to_numpy() for c in self.team_columns}
        self.rep_team = {rid: tuple(vals[c][i] for c in self.team_columns) for i, rid in enumerate(ids)}
        self.rep_segment = dict(zip(ids, reps[R.segment].astype("string").str.strip().fillna("").astype(str)
                                    .to_numpy())) if R.segment in reps.columns else {}
        self._sellers = {v.casefold(): v for r, v in self.rep_segment.items() if self.rep_active.get(r) and v}
        self._seg_desc = [f"Segment {r.name} (rule {k + 1}: {r.describe()})" for k, r in enumerate(self.rules.rules)]
        self._labels: dict[tuple, str] = {}
        self._rule_of: dict[str, int] = {}
        for k, rule in enumerate(self.rules.rules):
            self._rule_of.setdefault(rule.name, k)
        self._emp_cuts = sorted({v for r in self.rules.rules for v in (r.min_employees, r.max_employees) if v is not None})
        self._rev_cuts = sorted({v for r in self.rules.rules for v in (r.min_revenue, r.max_revenue) if v is not None})
        self._seg_cache: dict[tuple, tuple[str, int]] = {}
        from ..analyse.segments import region_table

        table = region_table(self.regions)
        self._rule_sets = []
        for rule in self.rules.rules:  # each rule's states and industries as sets, for one record at a time
            allowed = None
            if rule.states or rule.regions:
                states = {x.upper() for x in rule.states}
                in_regions = {x for r in rule.regions for x in table.get(r.lower(), ())}
                allowed = states & in_regions if rule.states and rule.regions else states | in_regions
            self._rule_sets.append((rule, allowed, {i.lower() for i in rule.industries}))
        self.away: dict[str, Unavailability] = {}
        for u in self.unavailable:
            if u.covers(self.as_of) and u.rep_id not in self.away:
                self.away[u.rep_id] = u

    def _prepare_accounts(self, accounts: pd.DataFrame, plan: pd.DataFrame) -> None:
        from ..analyse.hierarchy import resolve_hierarchy

        acc = accounts.reset_index(drop=True)
        ids = acc[A.account_id].astype("string").str.strip().fillna("").astype(str).to_numpy()
        self.account_pos = {a: i for i, a in enumerate(ids) if a}
        self.account_ids = ids
        self.account_name = acc[A.name].astype("string").fillna("").astype(str).to_numpy() if A.name in acc.columns else ids
        if X.ultimate_parent_id in acc.columns:
            roots = acc[X.ultimate_parent_id].astype("string").fillna(pd.Series(ids, dtype="string")).astype(str).to_numpy()
        else:
            roots = resolve_hierarchy(acc)[X.ultimate_parent_id].astype(str).to_numpy()
        self.account_root = roots
        p = plan[[S.account_id, S.rep_id]].copy()
        p[S.account_id] = p[S.account_id].astype("string").str.strip()
        p = p.dropna(subset=[S.account_id]).drop_duplicates(S.account_id, keep="last")
        plan_map = dict(zip(p[S.account_id].astype(str), p[S.rep_id].astype("string").str.strip()))
        self.plan_rep = {a: (None if pd.isna(r) or not r else str(r)) for a, r in plan_map.items()}
        owner_today = acc[A.owner_id].astype("string").str.strip() if A.owner_id in acc.columns else pd.Series(pd.NA, index=acc.index, dtype="string")
        self.owner_today = owner_today.to_numpy(dtype=object, na_value=None)
        # the plan's owner per account (today's owner where the plan does not say)
        owner = np.array([self.plan_rep.get(a) or None for a in ids], dtype=object)
        miss = pd.isna(owner)
        owner[miss] = self.owner_today[miss]
        self.account_owner = owner
        self.account_named = acc[A.named].astype("boolean").fillna(False).to_numpy(dtype=bool) if A.named in acc.columns else np.zeros(len(acc), bool)
        self.account_locked = acc[A.locked].astype("boolean").fillna(False).to_numpy(dtype=bool) if A.locked in acc.columns else np.zeros(len(acc), bool)
        self.account_segment = acc[X.segment].astype("string").fillna("").astype(str).to_numpy() if X.segment in acc.columns else None
        # families: root -> {owner: count}
        fam: dict[str, dict[str, int]] = {}
        for root, o in zip(roots, owner):
            if o:
                d = fam.setdefault(root, {})
                d[o] = d.get(o, 0) + 1
        self.family_owners = fam
        self.family_size = pd.Series(roots).value_counts().to_dict()
        # web domains: domain -> account positions
        self.domain_pos: dict[str, list[int]] = {}
        if A.website in acc.columns:
            doms = normalize_many(acc[A.website].astype("string").to_numpy(dtype=object, na_value=None), normalize_domain)
            for i, d in enumerate(doms):
                if d:
                    self.domain_pos.setdefault(d, []).append(i)
        self.names = NameIndex(self.account_name, self.name_threshold)
        self.account_fullkey = normalize_many(self.account_name, lambda v: normalize_company(v, keep_form=True))
        self.account_zip = acc[A.zip].astype("string").str.strip().to_numpy(dtype=object, na_value=None) if A.zip in acc.columns else np.full(len(acc), None, dtype=object)
        # books and teams
        loads: dict[str, float] = {}
        for o in owner:
            if o:
                loads[o] = loads.get(o, 0.0) + 1.0
        teams: dict[tuple, _Team] = {}
        for rid in sorted(self.rep_active):
            if not self.rep_active[rid]:
                continue
            key = self.rep_team[rid]
            t = teams.get(key)
            if t is None:
                t = teams[key] = _Team(key, self.team_label(key), [], [], [], 0.0, {}, [])
            t.index[rid] = len(t.reps)
            t.reps.append(rid)
            t.load.append(loads.get(rid, 0.0))
        for t in teams.values():
            w = np.array([self.rep_weight[r] for r in t.reps], dtype=float)
            share = w / w.sum() if w.sum() > 0 else np.full(len(w), 1.0 / len(w))
            t.share = [float(x) for x in share]
            t.total = float(sum(t.load))
            t.open = [j for j, r in enumerate(t.reps) if self.blocked(r) is None]
        self.teams = teams
        self.account_county = acc[A.county].astype("string").str.strip().to_numpy(dtype=object, na_value=None) if A.county in acc.columns else np.full(len(acc), None, dtype=object)
        self.account_state = acc[A.state].astype("string").str.strip().str.upper().to_numpy(dtype=object, na_value=None) if A.state in acc.columns else np.full(len(acc), None, dtype=object)

    def _prepare_geography(self) -> None:
        """Per (county, segment) and (state, segment): the geo part of the teams holding most of
        the plan's accounts there (segment None: over all teams), as (tied geo values, their
        count, all accounts there)."""
        counts: dict[str, dict[tuple, dict[tuple, int]]] = {"county": {}, "state": {}}
        if self.geo_columns:
            seg_at = self.team_columns.index(self.segment_column) if self.segment_column else None
            geo_at = [k for k, c in enumerate(self.team_columns) if c != R.segment]
            for i, o in enumerate(self.account_owner):
                if not o or not self.rep_active.get(o, False) or o not in self.rep_team:
                    continue
                team = self.rep_team[o]
                geo = tuple(team[k] for k in geo_at)
                seg = team[seg_at] if seg_at is not None else None
                for level, unit in (("county", self.account_county[i]), ("state", self.account_state[i])):
                    if not unit:
                        continue
                    for key in ((unit, seg), (unit, None)) if seg is not None else ((unit, None),):
                        d = counts[level].setdefault(key, {})
                        d[geo] = d.get(geo, 0) + 1
        self.county_geo = {k: _top(d) for k, d in counts["county"].items()}
        self.state_geo = {k: _top(d) for k, d in counts["state"].items()}

    # ------------------------------------------------------------------------------ helpers
    def team_label(self, key: tuple) -> str:
        label = self._labels.get(key)
        if label is None:
            label = self._labels[key] = " | ".join(v or "(none)" for v in key) if key else "All reps"
        return label

    def rep_label(self, rid: str | None) -> str:
        if not rid:
            return "(nobody)"
        n = self.rep_name.get(rid)
        return f"{n} ({rid})" if n and n != rid else str(rid)

    def blocked(self, rid: str | None) -> str | None:
        """Why a rep cannot take a record now (None: they can)."""
        try:
            return self._blocked[rid]
        except KeyError:
            pass
        except AttributeError:
            self._blocked = {}
        why = self._blocked[rid] = self._why_blocked(rid)
        return why

    def _why_blocked(self, rid: str | None) -> str | None:
        if not rid:
            return "no owner"
        if rid not in self.rep_active:
            return f"{rid} is not in the reps table"
        if not self.rep_active[rid]:
            return f"{self.rep_label(rid)} is inactive"
        if self.rep_placeholder.get(rid):
            return f"{self.rep_label(rid)} is a placeholder seat (to be hired)"
        u = self.away.get(rid)
        if u is not None:
            return (f"{self.rep_label(rid)} is away {u.start:%Y-%m-%d} to {u.end:%Y-%m-%d}"
                    + (f" ({u.reason})" if u.reason else ""))
        return None

    def reset(self) -> None:
        """Back to the plan's books (forget what was routed with ``keep_state=True``)."""
        self.teams = {k: t.copy() for k, t in self._teams_start.items()}

    # ------------------------------------------------------------------------------ routing
    def route(self, records: pd.DataFrame, *, kind: str | None = None, keep_state: bool = False) -> RouteResult:
        """Route a frame of new accounts or leads (canonical columns, or the output of
        :func:`~territory_core.route.records.prepare_records`). Every input row comes out once,
        routed or as an exception, in input order."""
        import time

        t0 = time.perf_counter()
        rec = records if list(records.columns) == RECORD_COLUMNS else prepare_records(records, kind)
        if not keep_state:
            saved = self.teams
            self.reset()
        pause_gc = len(rec) > 1000 and gc.isenabled()  # 100k small objects: the collector only slows it down
        if pause_gc:
            gc.disable()
        try:
            decisions = self._route_prepared(rec)
        finally:
            if pause_gc:
                gc.enable()
            if not keep_state:
                self.teams = saved
        routed = [d for d in decisions if d.routed]
        exc = [d for d in decisions if not d.routed]
        rdf = pd.DataFrame({"record_id": [d.record_id for d in routed], "rep_id": [d.rep_id for d in routed],
                            "team": [d.team for d in routed], "rule": [d.rule for d in routed],
                            "reason": [d.reason for d in routed]}, columns=ROUTED_COLUMNS)
        edf = pd.DataFrame({"record_id": [d.record_id for d in exc], "row": [d.row for d in exc],
                            "kind": [d.exception for d in exc], "rule": [d.rule for d in exc],
                            "reason": [d.reason for d in exc], "candidates": [";".join(d.candidates) for d in exc],
                            "segment": [d.segment for d in exc], "team": [d.team for d in exc]},
                           columns=EXCEPTION_COLUMNS)
        return RouteResult(rdf, edf, tuple(decisions), time.perf_counter() - t0)

    def _route_prepared(self, rec: pd.DataFrame) -> list[Decision]:
        from ..analyse.segments import apply_segments

        n = len(rec)
        if n == 0:
            return []
        # segments of the records (an existing account keeps its enriched segment: it has a tier)
        seg_in = pd.DataFrame({A.account_id: rec["record_id"], A.state: rec["state"], A.industry: rec["industry"],
                               A.employees: rec["employees"], A.annual_revenue: rec["annual_revenue"],
                               A.named: rec["named"]})
        seg = apply_segments(seg_in, self.rules, None, self.regions)
        seg_name = seg[X.segment].astype("string").fillna("").astype(str).tolist()
        seg_rule = seg["rule_index"].to_numpy()
        seen: dict[str, int] = {}
        out: list[Decision] = []
        cols = {c: _clean(rec[c].tolist()) if c in _TEXT_COLUMNS else rec[c].tolist() for c in RECORD_COLUMNS}
        lead_matches = None
        if (rec["kind"] == "lead").any():
            keys = [k if kind == "lead" and not dom_hit else "" for k, kind, dom_hit in
                    zip(cols["company_key"], cols["kind"], [bool(d) and d in self.domain_pos for d in cols["domain"]])]
            lead_matches = self.names.match_many(keys)
        for i, values in enumerate(zip(*(cols[c] for c in RECORD_COLUMNS))):
            out.append(self._route_record(dict(zip(RECORD_COLUMNS, values)), seg_name[i] if seg_rule[i] >= 0 else "",
                                          int(seg_rule[i]), lead_matches[i] if lead_matches is not None else None, seen))
        return out

    def _route_record(self, rec_i: dict, segment: str, rule_i: int, match, seen: dict) -> Decision:
        rid = rec_i["record_id"]
        row = int(rec_i["row"])
        if rid is None or str(rid).strip() == "":
            return Decision(None, None, "", "input", f"Row {row}: no record id; add one so the decision "
                            "can be written back.", row, "bad_record")
        rid = str(rid)
        if rid in seen:
            return Decision(rid, None, "", "input", f"Row {row}: record id {printable(rid)} repeats row {seen[rid]}; "
                            "each record is routed once.", row, "bad_record")
        seen[rid] = row
        known = self.account_pos.get(rid) if rec_i["kind"] == "account" else None
        if known is not None and self.account_segment is not None and self.account_segment[known]:
            segment = self.account_segment[known]
            rule_i = self._rule_of.get(segment, rule_i)
        d = self._decide(rid, row, rec_i, known, segment, rule_i, match)
        if d.exception is not None and d.exception != "bad_record" and self.decision_rules:
            d = self._decision_rules(d, rec_i, segment)
        return d

    def route_one(self, record: Mapping, *, kind: str | None = None, keep_state: bool = True) -> Decision:
        """Route one record given as a dict of canonical fields (``lead_id`` or ``account_id``,
        ``company``/``name``, ``email``/``website``, ``zip``, ``employees``, ...), without pandas:
        the service's path. ``keep_state``: count it in the rep's book for the next records."""
        from .records import prepare_record

        rec = prepare_record(record, kind)
        segment, rule_i = self._segment_one(rec)
        match = None
        if rec["kind"] == "lead" and rec["company_key"] and not (rec["domain"] and rec["domain"] in self.domain_pos):
            match = self.names.match_many([rec["company_key"]])[0]
        saved = None if keep_state else {k: t.copy() for k, t in self.teams.items()}
        try:
            return self._route_record(rec, segment, rule_i, match, {})
        finally:
            if saved is not None:
                self.teams = saved

    def warm_up(self) -> None:
        """Load what the first single record would otherwise wait for (the ZIP table, the fuzzy
        matcher, the segment matcher), without counting anything. The service calls it before it
        listens."""
        from .records import _zip_places

        _zip_places()
        self.names.match_many(["warm up"])
        self.route_one({"lead_id": "warm-up", "company": "warm up", "zip": "10001", "employees": 10}, kind="lead",
                       keep_state=False)

    def _segment_one(self, rec: dict) -> tuple[str, int]:
        """The segment of one record, without pandas: the same conditions as
        :func:`~territory_core.analyse.segments.apply_segments` (a new record has no tier and holds
        no products, so rules on those never match it), cached by what the rules look at."""
        from bisect import bisect_right

        emp, rev = rec["employees"], rec["annual_revenue"]
        state = (rec["state"] or "").strip().upper()
        industry = (rec["industry"] or "").strip().lower()
        named = bool(rec["named"])
        key = (state, industry, named, -1 if math.isnan(emp) else bisect_right(self._emp_cuts, emp),
               -1 if math.isnan(rev) else bisect_right(self._rev_cuts, rev))
        hit = self._seg_cache.get(key)
        if hit is None:
            hit = ("", -1)
            for k, (rule, allowed, industries) in enumerate(self._rule_sets):
                if allowed is not None and state not in allowed:
                    continue
                if industries and industry not in industries:
                    continue
                if rule.tiers or rule.products:
                    continue
                if (rule.min_employees is not None and not emp >= rule.min_employees) or \
                        (rule.max_employees is not None and not emp < rule.max_employees) or \
                        (rule.min_revenue is not None and not rev >= rule.min_revenue) or \
                        (rule.max_revenue is not None and not rev < rule.max_revenue):
                    continue
                if rule.named is not None and named != rule.named:
                    continue
                hit = (rule.name, k)
                break
            self._seg_cache[key] = hit
        return hit

    # one record -----------------------------------------------------------------------------
    def _owner_decision(self, rid, row, rule, owner, why, segment, *, count: bool = True) -> Decision:
        block = self.blocked(owner)
        team = self.team_label(self.rep_team.get(owner, ())) if owner in self.rep_team else ""
        if block:
            return Decision(rid, None, team, rule, f"{why}, but {block}: decide who takes it.", row,
                            "inactive_owner", segment, (owner,) if owner else ())
        if count:  # an account already in the plan is already in its owner's book
            self._count(owner)
        return Decision(rid, owner, team, rule, f"{why}: {self.rep_label(owner)}.", row, None, segment)

    def _count(self, rid: str) -> None:
        t = self.teams.get(self.rep_team.get(rid, ()))
        j = t.index.get(rid) if t is not None else None
        if j is not None:
            t.load[j] += 1.0
            t.total += 1.0

    def _owners_of(self, positions: Iterable[int]) -> dict[str, int]:
        d: dict[str, int] = {}
        for p in positions:
            o = self.account_owner[p]
            if o:
                d[o] = d.get(o, 0) + 1
        return d

    def _narrow(self, pos: list[int], rec) -> tuple[list[int], str]:
        """Accounts sharing a company name with different owners: keep those whose full name (legal
        form included), then ZIP, then state is the record's, while that leaves any. Returns the
        positions and how they were narrowed (text for the reason)."""
        if len(pos) < 2 or len(self._owners_of(pos)) < 2:
            return pos, ""
        key = (tuple(pos), rec["name"], rec["zip"], rec["state"])
        hit = self._narrow_cache.get(key)
        if hit is None:
            hit = self._narrow_cache[key] = self._narrow_uncached(pos, rec)
        return hit

    def _narrow_uncached(self, pos: list[int], rec) -> tuple[list[int], str]:
        how = []
        full = normalize_company(rec["name"], keep_form=True) if rec["name"] else ""
        for label, value, arr in (("full name", full, self.account_fullkey), ("ZIP", rec["zip"], self.account_zip),
                                  ("state", rec["state"], self.account_state)):
            if not value:
                continue
            keep = [p for p in pos if arr[p] == value]
            if keep and len(keep) < len(pos):
                pos = keep
                how.append(label)
            if len(self._owners_of(pos)) < 2:
                break
        return pos, (f", the only one of the accounts with that name with the same {' and '.join(how)}" if how and len(pos) == 1
                     else (f", narrowed by {' and '.join(how)}" if how else ""))

    def _conflict(self, rid, row, rule, what, owners: dict[str, int], segment) -> Decision:
        parts = ", ".join(f"{self.rep_label(o)} ({n})" for o, n in sorted(owners.items(), key=lambda kv: (-kv[1], kv[0])))
        ask = "decide which owner the family keeps" if rule == "family" else "decide which account it is and who owns it"
        return Decision(rid, None, "", rule, f"{what} are owned by different reps: {parts}; {ask}.", row,
                        "family_conflict", segment, tuple(sorted(owners)))

    def _decide(self, rid, row, rec, known, segment, rule_i, match) -> Decision:
        # 0. named / locked keep their owner; in the plan
        named = bool(rec["named"]) or (known is not None and bool(self.account_named[known]))
        locked = bool(rec["locked"]) or (known is not None and bool(self.account_locked[known]))
        if named or locked:
            owner = rec["owner_id"] or (self.account_owner[known] if known is not None else None)
            what = "Named account" if named else "Locked account"
            if owner:
                return self._owner_decision(rid, row, "named" if named else "locked", owner,
                                            f"{what}: keeps its owner", segment, count=known is None)
        note = ""
        if known is not None and self.plan_rep.get(rid):
            planned = self.plan_rep[rid]
            if self.blocked(planned) is None:
                return self._owner_decision(rid, row, "plan", planned, f"Assigned in {self.label}", segment,
                                            count=False)
            note = f" (its planned owner cannot take it: {self.blocked(planned)})"
        # 1. family first
        parent = rec["parent_id"]
        root = None
        if known is not None and self.family_size.get(self.account_root[known], 1) > 1:
            root = self.account_root[known]
        elif parent and parent in self.account_pos:
            root = self.account_root[self.account_pos[parent]]
        if root is not None:
            owners = dict(self.family_owners.get(root, {}))
            if known is not None and self.account_owner[known] in owners:  # the record's own place in the family
                o = self.account_owner[known]
                owners[o] -= 1
                if owners[o] <= 0:
                    owners.pop(o)
            root_name = self.account_name[self.account_pos[root]] if root in self.account_pos else root
            what = f"Family of {root_name} ({root})"
            if len(owners) > 1:
                return self._conflict(rid, row, "family", f"{what}: its accounts", owners, segment)
            if len(owners) == 1:
                return self._owner_decision(rid, row, "family", next(iter(owners)), what + note, segment,
                                            count=known is None)
        dom = rec["domain"]
        pos = [p for p in self.domain_pos.get(dom, ()) if p != known] if dom else []  # not the account itself
        if pos:
            owners = self._owners_of(pos)
            first = pos[0]
            what = f"Web domain {dom} matches {self.account_name[first]} ({self.account_ids[first]})" + \
                (f" and {len(pos) - 1} more" if len(pos) > 1 else "")
            if len(owners) > 1:
                return self._conflict(rid, row, "domain", f"Web domain {dom}: the {len(pos)} accounts with it",
                                      owners, segment)
            if len(owners) == 1:
                return self._owner_decision(rid, row, "domain", next(iter(owners)), what, segment)
        if match is not None:
            pos, narrowed = self._narrow(self.names.positions.get(match.key, []), rec)
            owners = self._owners_of(pos)
            first = pos[0] if pos else None
            how = "exactly" if match.score >= 100 else f"at {match.score:.0f} of 100 (threshold {self.name_threshold:.0f})"
            what = (f"Company name {rec['name']!s} matches {self.account_name[first]} ({self.account_ids[first]}) {how}"
                    f"{narrowed}" if first is not None else f"Company name {rec['name']!s}")
            if len(owners) > 1:
                return self._conflict(rid, row, "company_name", f"Company name {rec['name']!s}: the {len(pos)} "
                                      "accounts with that name", owners, segment)
            if len(owners) == 1:
                return self._owner_decision(rid, row, "company_name", next(iter(owners)), what, segment)
        # 2. segment rules
        if not segment:
            return Decision(rid, None, "", "segment", f"No segment rule matches it{note}"
                            f" ({self._facts(rec)}); add a rule that covers it or assign it by hand.",
                            row, "no_rule", None)
        seg_desc = self._seg_desc[rule_i] if 0 <= rule_i < len(self._seg_desc) and \
            self.rules.rules[rule_i].name == segment else f"Segment {segment}"
        seg_val = None
        if self.rep_segment:
            sellers = self._sellers
            if segment.casefold() not in sellers:
                return Decision(rid, None, "", "segment", f"{seg_desc}, but no active rep sells to segment "
                                f"{segment}{note}.", row, "no_rule", segment)
            seg_val = sellers[segment.casefold()]
        # 3. geography and 4. within the team
        place = rec["county"] or rec["state"]  # the ZIP matters only for a ZIP table, or as the only place given
        key = (seg_val, rule_i, segment, rec["zip"] if self.territories.zip or not place else None, rec["county"],
               rec["state"])
        plan = self._geo_cache.get(key)
        if plan is None:
            plan = self._geo_cache[key] = self._team_plan(rec, seg_val, segment, seg_desc)
        if plan[0] == "exception":
            _, kind, rule, why, team_label, cands = plan
            return Decision(rid, None, team_label, rule, why + note + ".", row, kind, segment, cands)
        _, team_key, label, rule, why, direct, seg_filter = plan
        team = self.teams[team_key]
        if direct is not None:
            self._count(direct)
            return Decision(rid, direct, label, "territory", f"{why}: {self.rep_label(direct)}{note}.", row, None, segment)
        pick, room, tie = self._pick(team, seg_filter)
        if pick is None:
            why_not = "; ".join(self.blocked(r) or r for r in team.reps)
            return Decision(rid, None, label, "team", f"{why}; nobody in team {label} can take it ({why_not}){note}.",
                            row, "no_rep", segment, tuple(team.reps))
        self._count(pick)
        return Decision(rid, pick, label, rule,
                        f"{why}; {self.rep_label(pick)} has the most room in {label} ({room:+.1f} accounts against "
                        f"a capacity-weighted target{', round robin on a tie' if tie else ''}){note}.",
                        row, None, segment)

    def _team_plan(self, rec, seg_val, segment, seg_desc) -> tuple:
        """What geography says for a (segment, place): ("exception", kind, rule, why, team label,
        candidates) or ("team", team key, label, rule code, why, direct rep or None, segment filter)."""
        geo, geo_rule, geo_why, direct = self._geography(rec, seg_val)
        if geo is None:
            kind = "equal_priority" if geo_rule == "tie" else "no_rule"
            return ("exception", kind, "geography", f"{seg_desc}; {geo_why}", "", ())
        key = self._team_key(seg_val, geo)
        team = self.teams.get(key)
        label = self.team_label(key)
        if team is None:
            return ("exception", "no_rep", "team", f"{seg_desc}; {geo_why}; but team {label} has no active rep", label, ())
        if direct and len(direct) == 1 and direct[0] in team.index and self.blocked(direct[0]) is None:
            return ("team", key, label, "territory", geo_why, direct[0], None)
        rule = "segment" if not self.geo_columns else geo_rule
        return ("team", key, label, rule, f"{seg_desc}; {geo_why}", None, None if self.segment_column else seg_val)

    def _facts(self, rec) -> str:
        bits = []
        if rec["employees"] is not None and not (isinstance(rec["employees"], float) and math.isnan(rec["employees"])):
            bits.append(f"{rec['employees']:,.0f} employees")
        else:
            bits.append("employees unknown")
        if rec["industry"]:
            bits.append(f"industry {rec['industry']}")
        if rec["state"]:
            bits.append(f"state {rec['state']}")
        return ", ".join(bits)

    def _team_key(self, seg_val, geo: tuple) -> tuple:
        it = iter(geo)
        return tuple((seg_val or "") if c == R.segment else next(it, "") for c in self.team_columns)

    def _geography(self, rec, seg_val):
        """(geo values or None, rule code or "tie"/"none", why, direct reps)."""
        if not self.geo_columns:
            return (), "segment", "teams are not split by geography", None
        t = self.territories
        for level, unit, table in (("ZIP", rec["zip"], t.zip), ("county", rec["county"], t.county)):
            if unit and table and unit in table:
                name = table[unit]
                geo, direct = self._territory_geo(name, seg_val)
                if geo is None:
                    return None, "none", f"{level} {unit} is in territory {name}, which names no rep or team", None
                rep = f" (rep {self.rep_label(direct[0])})" if direct else ""
                return geo, "segment_territory", f"{level} {unit} is in territory {name}{rep}", direct
        segkey = seg_val if self.segment_column else None
        county_tie = ""
        for level, unit, table, code in (("county", rec["county"], self.county_geo, "segment_county"),
                                         ("state", rec["state"], self.state_geo, "segment_state")):
            if not unit:
                continue
            hit = table.get((unit, segkey))
            if hit is None:
                continue
            tied, top, total = hit
            if len(tied) > 1:
                names = " and ".join(self.team_label(self._team_key(seg_val, g)) for g in tied)
                tie = f"{level} {unit} is split evenly between teams {names} ({top} of {total} accounts each)"
                if level == "county":
                    county_tie = tie
                    continue  # the state decides
                return None, "tie", tie, None
            where = f"{level} {unit}" + ((f" ({county_tie})" if county_tie else
                                          f" (no planned {segment_word(seg_val)}account in county {rec['county']})")
                                         if level == "state" and rec["county"] else "")
            return tied[0], code, (f"{where} is mostly team {self.team_label(self._team_key(seg_val, tied[0]))} "
                                   f"({top} of {total} accounts)"), None
        if not (rec["zip"] or rec["county"] or rec["state"]):
            return None, "none", "it has no ZIP, county or state, so geography cannot place it", None
        where = ", ".join(f"{k} {rec[k]}" for k in ("county", "state") if rec[k]) or \
            f"ZIP {rec['zip']}, not a US ZIP code we know"
        return None, "none", f"the plan has no {segment_word(seg_val)}account near it ({where})", None

    def _territory_geo(self, name: str, seg_val):
        rep = self.territories.reps.get(name) or (name if name in self.rep_team else None)
        if rep and rep in self.rep_team:
            team = self.rep_team[rep]
            geo = tuple(v for c, v in zip(self.team_columns, team) if c != R.segment)
            same_seg = not self.segment_column or not seg_val or self.rep_segment.get(rep, "").casefold() == seg_val.casefold()
            return geo, ((rep,) if same_seg else None)
        low = name.strip().casefold()
        for key in self.teams:
            if self.team_label(key).casefold() == low:
                return tuple(v for c, v in zip(self.team_columns, key) if c != R.segment), None
        if len(self.geo_columns) == 1:
            for key in self.teams:
                g = tuple(v for c, v in zip(self.team_columns, key) if c != R.segment)
                if g[0].casefold() == low:
                    return g, None
        return None, None

    def _pick(self, team: _Team, seg_val: str | None = None):
        """The rep with the most room (share x team total - accounts held) among those who can
        take a record (and sell to ``seg_val`` when teams are not split by segment); round robin
        from the last pick on ties. Returns (rep, room, tie)."""
        best, best_room, tied = -1, -math.inf, []
        share, load, total, reps = team.share, team.load, team.total, team.reps
        for j in team.open:
            if seg_val and self.rep_segment.get(reps[j], "").casefold() != seg_val.casefold():
                continue
            room = share[j] * total - load[j]
            if room > best_room + 1e-9:
                best, best_room, tied = j, room, [j]
            elif room >= best_room - 1e-9:
                tied.append(j)
        if best < 0:
            return None, 0.0, False
        if len(tied) > 1:
            after = [j for j in tied if j > team.last]
            best = after[0] if after else tied[0]
        team.last = best
        return reps[best], best_room, len(tied) > 1

    def _decision_rules(self, d: Decision, rec, segment) -> Decision:
        values = {"domain": rec["domain"] or "", "company": rec["company_key"] or "", "zip": rec["zip"] or "",
                  "county": rec["county"] or "", "state": (rec["state"] or "").upper(),
                  "industry": (rec["industry"] or "").casefold(), "country": (rec["country"] or "").casefold(),
                  "segment": (segment or "").casefold(), "record_id": d.record_id or ""}
        hits = [r for r in self.decision_rules if values.get(r.field) and values[r.field] == r.value]
        if not hits:
            return d
        top = hits[0].priority
        same = [r for r in hits if r.priority == top]
        reps = sorted({r.rep_id for r in same})
        if len(reps) > 1:
            rules = "; ".join(f"#{r.id or '?'} {r.describe()} -> {self.rep_label(r.rep_id)}" for r in same)
            return Decision(d.record_id, None, d.team, "decision_rule",
                            f"Decision rules of equal priority {top} disagree ({rules}); first: {d.reason}",
                            d.row, "equal_priority", d.segment, tuple(reps))
        r = same[0]
        block = self.blocked(r.rep_id)
        label = f"Decision rule #{r.id or '?'} ({r.describe()}" + (f", {r.note}" if r.note else "") + ")"
        if block:
            return Decision(d.record_id, None, d.team, "decision_rule", f"{label} names a rep who cannot take it: "
                            f"{block}; first: {d.reason}", d.row, "inactive_owner", d.segment, (r.rep_id,))
        self._count(r.rep_id)
        team = self.team_label(self.rep_team.get(r.rep_id, ()))
        return Decision(d.record_id, r.rep_id, team, "decision_rule",
                        f"{label}: {self.rep_label(r.rep_id)} (the plan's rules: {EXCEPTION_KINDS[d.exception].lower()}).",
                        d.row, None, d.segment)


_TEXT_COLUMNS = frozenset({"record_id", "kind", "name", "parent_id", "domain", "company_key", "zip", "county", "state",
                           "country", "industry", "owner_id"})


def _clean(values: list) -> list:
    """Missing text (None, NaN, pd.NA, "") as None."""
    return [None if v is None or v is pd.NA or v != v or v == "" else v for v in values]


def _top(counts: Mapping[tuple, int]) -> tuple[list[tuple], int, int]:
    top = max(counts.values())
    return sorted(g for g, n in counts.items() if n == top), top, sum(counts.values())


def segment_word(seg_val) -> str:
    return f"{seg_val} " if seg_val else ""


def read_plan(path) -> pd.DataFrame:
    """A plan file (CSV/TSV/xlsx/Parquet) as an assignment frame: account_id and rep_id
    (``Id``/``AccountId`` and ``OwnerId``/``new_owner_id`` headers work too). Raises
    :class:`RoutingError` naming the problem."""
    from ..contract import ASSIGNMENT
    from ..dataset import coerce_types
    from ..ingest.importer import read_table
    from ..ingest.mapping import norm_header
    from ..ingest.normalize import normalize_ids

    r = read_table(str(path), "accounts")
    if r.frame is None:
        msg = "; ".join(str(i[3]) for i in r.issues) or "unreadable"
        raise RoutingError(f"Plan file {path}: {msg}")
    keys = {norm_header(c): c for c in r.frame.columns if c != "_row"}
    acc = next((keys[k] for k in ("accountid", "id") if k in keys), None)
    rep = next((keys[k] for k in ("repid", "newownerid", "ownerid") if k in keys), None)
    if acc is None or rep is None:
        raise RoutingError(f"Plan file {path} needs an account_id column and a rep_id column (found: "
                           f"{', '.join(list(keys.values())[:12])}).")
    df = pd.DataFrame({S.account_id: normalize_ids(r.frame[acc]), S.rep_id: normalize_ids(r.frame[rep])})
    blank = df[S.account_id].isna() | df[S.rep_id].isna()
    if blank.any():
        rows = ", ".join(str(int(x)) for x in r.frame.loc[blank.to_numpy(), "_row"].head(5))
        raise RoutingError(f"Plan file {path}: blank account or rep id on line(s) {rows}; fill or delete them.")
    dup = df[S.account_id].duplicated()
    if dup.any():
        raise RoutingError(f"Plan file {path}: account {df[S.account_id][dup].iloc[0]} appears more than once.")
    return coerce_types(df, ASSIGNMENT)
