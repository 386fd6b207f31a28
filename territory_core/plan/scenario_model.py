"""The scenario as data: :class:`Scenario` (its inputs as JSON dicts, what-if events, manual
overrides; its result; its storage metadata), placeholders for hires not yet in the CRM, and the
dataset fingerprint a saved plan is tied to. No solving here (see :mod:`.inputs`)."""
from __future__ import annotations

import copy
import hashlib
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..contract import ASSIGNMENT, A, S
from ..dataset import Dataset, coerce_types

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
    def today(cls, dataset: Dataset, *, settings: Mapping[str, dict] | None = None,
              fingerprint: str | None = None) -> "Scenario":
        """Today's plan as a scenario: every account stays with its current owner (A.owner_id).
        ``fingerprint``: :func:`dataset_fingerprint` of ``dataset`` when the caller has it."""
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
                   input_fingerprint=fingerprint or dataset_fingerprint(dataset))

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
