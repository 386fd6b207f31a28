"""Saved scenarios for the browser tests and benchmarks of Compare (hand-made assignments, so no
solver time): "West backfill" (a new hire in the West takes part of Kenji Robinson's book) and
"No backfill, wider bands" (the same accounts go to Priya Ramirez instead)."""
from __future__ import annotations

from territory_core.contract import S
from territory_core.dataset import Dataset
from territory_core.plan.scenarios import Scenario

HIRE = {"type": "new_hire", "rep_id": "R099", "name": "Ana Backfill", "region": "West", "segment": "Mid-Market",
        "capacity": 1.0, "ramp": 0.5}


def _plan(ds: Dataset, name: str, to_rep: str, every: int, events=()) -> Scenario:
    today = Scenario.today(ds)
    asg = today.assignment.copy()
    mine = asg.index[asg[S.rep_id].astype(str) == "R003"]
    idx = mine[::every]
    asg.loc[idx, S.rep_id] = to_rep
    asg.loc[idx, S.moved] = True
    asg.loc[idx, S.reason] = f"moved to {to_rep}: R003 was +239% against its workload target"
    asg.loc[~asg.index.isin(idx), S.reason] = "kept with " + asg.loc[~asg.index.isin(idx), S.rep_id].astype(str)
    return Scenario(name=name, assignment=asg, events=tuple(events),
                    report={"status": "optimal", "moves": int(len(idx)), "gap": 0.0},
                    settings={"solver": {"metrics": [{"column": "arr", "tolerance": 0.1, "weight": 1, "hard": True}]}})


def seed(url: str, ds: Dataset) -> dict[str, str]:
    """Save the two plans into the store at ``url``; returns name -> id."""
    from territory_core.store.storage import ScenarioStore

    store = ScenarioStore(url)
    try:
        a = store.save(_plan(ds, "West backfill", "R099", 3, events=[HIRE]), user="bench")
        b = store.save(_plan(ds, "No backfill, wider bands", "R004", 2), user="bench")
        return {a.name: a.id, b.name: b.id}
    finally:
        store.close()


__all__ = ["seed", "HIRE"]
