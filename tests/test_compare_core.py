"""Compare's core (issue 10): moves and reasons relative to the chosen baseline, with rep names."""
from __future__ import annotations

import pytest

from territory_core.contract import A, S
from territory_core.dataset import load_sample
from territory_core.plan.scenarios import Scenario, diff_scenarios, name_reps, scenario_rep_names

HIRE = {"type": "new_hire", "rep_id": "R099", "name": "Ana Backfill", "region": "West", "segment": "Mid-Market"}


@pytest.fixture(scope="module")
def ds():
    return load_sample()


def _plan(ds, name, moves: dict[str, str], reasons: dict[str, str], events=(), version=1):
    today = Scenario.today(ds)
    asg = today.assignment.copy()
    for aid, rid in moves.items():
        i = asg.index[asg[S.account_id] == aid][0]
        asg.loc[i, S.rep_id] = rid
        asg.loc[i, S.moved] = True
    for aid, why in reasons.items():
        asg.loc[asg.index[asg[S.account_id] == aid][0], S.reason] = why
    return Scenario(name=name, assignment=asg, events=tuple(events), version=version, id=name)


def test_moves_are_relative_to_the_chosen_baseline_with_names(ds):
    acc = ds.accounts
    kenji = acc[acc[A.owner_id] == "R003"][A.account_id].astype(str).tolist()
    x, y, z = kenji[0], kenji[1], kenji[2]
    hire = _plan(ds, "West backfill", {x: "R099", y: "R099", z: "R099"},
                 {x: "moved to R099: R003 was +239% against its workload target"}, events=[HIRE])
    # the other plan keeps x with Kenji (today's owner), gives y to Priya Ramirez, and z to the hire too
    other = _plan(ds, "No backfill", {y: "R004", z: "R099"},
                  {x: "kept with R003", y: "moved to R004: R003 was +239% against its workload target"},
                  events=[HIRE])
    names = scenario_rep_names(ds, hire, other)
    assert names["R099"] == "Ana Backfill" and names["R003"] == "Kenji Robinson"
    d = diff_scenarios(hire, other, acc, names=names).set_index("account_id")
    assert set(d.index) == {x, y}  # z goes to the hire in both plans: not a change against this baseline
    assert d.loc[x, "from_name"] == "Ana Backfill" and d.loc[x, "to_name"] == "Kenji Robinson"
    assert d.loc[x, "reason"] == "kept with Kenji Robinson, today's owner; West backfill v1 gives it to Ana Backfill"
    assert d.loc[y, "reason"] == ("moved to Priya Ramirez: Kenji Robinson was +239% against its workload target; "
                                  "West backfill v1 gives it to Ana Backfill instead")
    # searching a rep's name finds their moves
    assert d["reason"].str.contains("Priya", regex=False).sum() == 1
    # against today's plan, the scenario's own reason, with names
    t = diff_scenarios(Scenario.today(ds), hire, acc, names=names).set_index("account_id")
    assert t.loc[x, "reason"] == "moved to Ana Backfill: Kenji Robinson was +239% against its workload target"
    # without names: unchanged behaviour (the scenario's own reason, ids)
    plain = diff_scenarios(hire, other, acc).set_index("account_id")
    assert plain.loc[x, "reason"] == "kept with R003" and "from_name" not in plain.columns


def test_name_reps_replaces_whole_ids_only():
    names = {"R1": "Ann", "R10": "Bob"}
    assert name_reps("moved to R10: R1 was +5%; R100 stays", names) == "moved to Bob: Ann was +5%; R100 stays"
    assert name_reps(None, names) is None


def test_html_summary_names_its_baseline_and_says_no_change(ds):
    from territory_core.plan.export import scenario_summary_html
    from territory_core.plan.scenarios import scenario_kpis

    acc = ds.accounts
    kenji = acc[acc[A.owner_id] == "R003"][A.account_id].astype(str).tolist()[:3]
    base = _plan(ds, "No backfill", {a: "R004" for a in kenji}, {}, version=2)
    same = base.with_(name="Same again", id="same", version=1)
    html = scenario_summary_html(ds, same, scenario_kpis(ds, same), baseline=base, baseline_kpis=scenario_kpis(ds, base))
    assert "baseline: No backfill v2" in html and "<th>Baseline: No backfill v2</th>" in html
    assert "no change vs No backfill v2" in html and "+0.0" not in html
    assert "No account changes owner against No backfill v2" in html
    plain = scenario_summary_html(ds, base, scenario_kpis(ds, base))
    assert "baseline: Today&#x27;s plan" in plain and "Biggest moves against Today&#x27;s plan" in plain
    moves = plain.split("Biggest moves")[1]
    assert "<td>Priya Ramirez</td>" in moves and "<td>R004</td>" not in moves
