"""Owners and reps: what is missing when a dataset has no reps, or owners that match no rep, and
how to fill it.

A HubSpot companies export names its owners ("Dana Whitfield") and has no reps file; a Salesforce
report may carry owners who left. Every page asks :func:`rep_coverage` and says plainly what is
missing; the Data page offers :func:`add_reps_for_owners` (one rep per owner, capacity 1 FTE)."""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..contract import A, R, REPS
from ..dataset import Dataset, coerce_types


@dataclass(frozen=True)
class RepCoverage:
    """How the accounts' owners meet the reps."""
    reps: int
    active_reps: int
    accounts: int
    owned_accounts: int  # accounts with an owner
    unmatched_accounts: int  # accounts whose owner is not a rep
    unmatched_owners: tuple[str, ...]  # those owners, most accounts first

    @property
    def ok(self) -> bool:
        return self.active_reps > 0 and self.unmatched_accounts == 0

    @property
    def can_create(self) -> bool:
        """Reps can be made from the owners (there are owners that are not reps)."""
        return bool(self.unmatched_owners)

    def message(self, on_data_page: bool = False) -> str | None:
        """What is missing and how to add it, in plain words; None when nothing is. ``on_data_page``:
        worded for the page that has the upload and the button."""
        eg = ", ".join(f"'{o}'" for o in self.unmatched_owners[:3])
        n_own = len(self.unmatched_owners)
        there = "below" if on_data_page else "there"
        where = "U" if on_data_page else "On the Data page, u"
        create = (f"or create {n_own:,} rep{'s' if n_own != 1 else ''} from the owner names {there} "
                  "(capacity 1 FTE each; edit them afterwards)")
        if self.reps == 0:
            if self.owned_accounts:
                return (f"This dataset has no reps: its {self.accounts:,} accounts name {n_own:,} owner"
                        f"{'s' if n_own != 1 else ''} (e.g. {eg}), but no reps file was loaded, so there are no "
                        f"territories to measure or balance. {where}pload a reps file (rep_id and name at least), "
                        f"{create}.")
            return ("This dataset has no reps and its accounts have no owners, so there are no territories yet. "
                    f"{where}pload a reps file (rep_id and name at least) and the accounts' owner column "
                    "(owner_id), then rebalance to assign every account.")
        if self.active_reps == 0:
            return ("No rep in this dataset is active, so no account can be assigned. Mark reps active in the "
                    "reps file (IsActive = true) and load it again" + ("." if on_data_page else " on the Data page."))
        if self.unmatched_accounts:
            return (f"{self.unmatched_accounts:,} account{'s are' if self.unmatched_accounts != 1 else ' is'} owned "
                    f"by {n_own:,} owner{'s' if n_own != 1 else ''} who {'are' if n_own != 1 else 'is'} not in the "
                    f"reps file (e.g. {eg}); they count as unassigned. {where[:-1]}{'A' if on_data_page else 'a'}dd them to the "
                    f"reps file, {create}.")
        return None


def rep_coverage(ds: Dataset) -> RepCoverage:
    reps, acc = ds.reps, ds.accounts
    rep_ids = set(reps[R.rep_id].dropna().astype(str)) if R.rep_id in reps.columns else set()
    if R.active in reps.columns and len(reps):
        active = int(reps[R.active].astype("boolean").fillna(True).sum())
    else:
        active = len(reps)
    own = acc[A.owner_id].astype("string").str.strip() if A.owner_id in acc.columns else pd.Series(pd.NA, index=acc.index,
                                                                                                  dtype="string")
    own = own.mask(own == "")
    has = own.notna()
    unmatched = has & ~own.isin(rep_ids).fillna(False)
    counts = own[unmatched].value_counts()
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return RepCoverage(reps=len(reps), active_reps=active, accounts=len(acc), owned_accounts=int(has.sum()),
                       unmatched_accounts=int(unmatched.sum()), unmatched_owners=tuple(str(k) for k, _ in order))


def reps_for_owners(owners, capacity: float = 1.0) -> pd.DataFrame:
    """One active rep per owner value: rep_id and name are the owner value (a name stays a name,
    an id stays an id), capacity ``capacity`` FTE, ramp 1. Contract-typed reps rows."""
    owners = [str(o) for o in dict.fromkeys(owners) if str(o).strip()]
    df = pd.DataFrame({R.rep_id: owners, R.name: owners, R.capacity: float(capacity), R.ramp: 1.0, R.active: True})
    return coerce_types(df, REPS)


def add_reps_for_owners(ds: Dataset, capacity: float = 1.0) -> tuple[Dataset, list[str]]:
    """The dataset with a rep for every owner that matches no rep (capacity ``capacity`` FTE, active),
    and the owners added. Existing reps are kept as they are."""
    cov = rep_coverage(ds)
    added = list(cov.unmatched_owners)
    if not added:
        return ds, []
    new = reps_for_owners(added, capacity)
    reps = ds.reps
    both = pd.concat([reps, new[[c for c in new.columns]]], ignore_index=True) if len(reps) else new
    both = coerce_types(both, REPS)
    order = REPS.names + [c for c in both.columns if c not in REPS.names]
    return ds.with_(reps=both[order].reset_index(drop=True)), added
