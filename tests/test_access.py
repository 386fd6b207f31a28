"""Roles from the roles file, the manager's team view of the data, and the core refusing what a
role may not do (territory_core.store.access, storage.save, export.assignment_export)."""
from __future__ import annotations

import pandas as pd
import pytest

from territory_core.contract import A, O, P, R, S
from territory_core.store.access import (
    Access, PermissionDenied, RolesError, filter_dataset, load_roles, parse_roles, resolve_access,
    restrict_scenario, roles_path, team_rep_ids,
)

ROLES = """
default = "viewer"

[users]
"Ana@Example.com" = "admin"
"ben@example.com" = "planner"
"vic@example.com" = "viewer"
"jen@example.com" = { role = "manager", manager = "Jennifer Gonzalez" }
"""


@pytest.fixture(scope="module")
def sample():
    from territory_core.dataset import load_sample

    return load_sample()


def test_roles_resolve_ignoring_case_and_unlisted_users_get_the_default():
    cfg = parse_roles(ROLES, "roles.toml")
    assert resolve_access("ana@example.com", cfg).role == "admin"
    assert resolve_access(" BEN@example.com ", cfg).role == "planner"
    jen = resolve_access("jen@example.com", cfg)
    assert (jen.role, jen.manager, jen.team_only) == ("manager", "Jennifer Gonzalez", True)
    stranger = resolve_access("eve@example.com", cfg)
    assert stranger.role == "viewer" and "not listed" in stranger.source
    assert parse_roles('[users]\n"a" = "planner"').default_role == "viewer"  # default left out: viewer


def test_without_a_roles_file_everyone_is_a_planner():
    a = resolve_access("anyone", None)
    assert a.role == "planner" and a.can_save and a.can_export and not a.team_only


def test_rights_per_role():
    for role, can in (("viewer", False), ("planner", True), ("admin", True)):
        a = Access("u", role)
        assert a.can_save is can and a.can_export is can
    m = Access("u", "manager", "Jennifer Gonzalez")
    assert m.can_save and m.can_export and m.team_only
    v = Access("vic@example.com", "viewer", source="as listed in the roles file")
    assert v.refusal("save").startswith("vic@example.com has the viewer role (as listed in the roles file), "
                                        "which cannot save scenarios")
    with pytest.raises(PermissionDenied, match="cannot export owner files"):
        v.require("export")
    assert Access("u", "planner").refusal("export") is None


@pytest.mark.parametrize("text, words", [
    ('[users]\n"a" = "boss"', "role 'boss'; use one of viewer, planner, admin, manager"),
    ('[users]\n"a" = "manager"', "manager without a manager value"),
    ('[users]\n"a" = { role = "planner", manager = "X" }', "only role = \"manager\" takes one"),
    ('[users]\n"a" = "planner"\n"A" = "viewer"', "listed twice"),
    ('[users]\n"a" = { role = "manager", team = "X" }', "unknown keys ['team']"),
    ('default = "manager"', "default = 'manager'"),
    ('users = "a"', "users must be a table"),
    ('[user]\n"a" = "planner"', "unknown top-level keys ['user']"),
    ('[users\n"a" = "planner"', "is not valid TOML"),
])
def test_a_bad_roles_file_is_refused_with_the_reason(text, words):
    with pytest.raises(RolesError) as err:
        parse_roles(text, "roles.toml")
    assert words in str(err.value) and str(err.value).startswith("roles.toml")


def test_roles_path_env_then_default_file_then_none(tmp_path):
    assert roles_path(tmp_path, env={}) is None
    f = tmp_path / ".streamlit" / "roles.toml"
    f.parent.mkdir()
    f.write_text(ROLES)
    assert roles_path(tmp_path, env={}) == f
    assert load_roles(f).users["jen@example.com"] == ("manager", "Jennifer Gonzalez")
    other = tmp_path / "elsewhere.toml"
    assert roles_path(tmp_path, env={"TERRITORY_ROLES": str(other)}) == other
    with pytest.raises(RolesError, match="does not exist"):  # a named file that is missing: no silent planner
        load_roles(other)


def test_manager_sees_their_team_reps_and_accounts_only(sample):
    jen = Access("jen@example.com", "manager", " jennifer gonzalez ")
    view = filter_dataset(sample, jen)
    team = set(sample.reps.loc[sample.reps[R.manager] == "Jennifer Gonzalez", R.rep_id])
    assert len(team) == 6 and team_rep_ids(sample.reps, "JENNIFER GONZALEZ") == team
    assert set(view.reps[R.rep_id]) == team and len(view.reps) == 6
    assert len(view.accounts) == 692 and set(view.accounts[A.owner_id]) <= team
    kept = set(view.accounts[A.account_id])
    assert len(view.opportunities) == 1094 and set(view.opportunities[O.account_id]) <= kept
    assert len(view.account_products) == 517 and set(view.account_products[P.account_id]) <= kept
    assert view.name == "Sample data (6,000 accounts) · team of Jennifer Gonzalez"
    assert len(sample.accounts) == 6000  # the shared dataset is untouched
    for role in ("viewer", "planner", "admin"):
        assert filter_dataset(sample, Access("u", role)) is sample
    nobody = filter_dataset(sample, Access("u", "manager", "No Such Manager"))
    assert len(nobody.reps) == 0 and len(nobody.accounts) == 0


def test_a_stored_scenario_is_cut_to_the_team(sample):
    from territory_core.plan.scenarios import Scenario

    jen = Access("jen@example.com", "manager", "Jennifer Gonzalez")
    view = filter_dataset(sample, jen)
    full = Scenario.today(sample)
    full = full.with_(report={**full.report, "reps": [{"rep_id": r} for r in sample.reps[R.rep_id]]},
                      events=({"type": "new_hire", "rep_id": "NEW1", "name": "New"},))
    cut = restrict_scenario(full, view)
    assert len(cut.assignment) == 692 and set(cut.assignment[S.account_id]) == set(view.accounts[A.account_id])
    assert {r["rep_id"] for r in cut.report["reps"]} == set(view.reps[R.rep_id])  # NEW1 has no report row here
    assert len(full.assignment) == 6000  # the loaded scenario itself is untouched
    same = Scenario.today(view)
    assert restrict_scenario(same, view) is same


def test_the_store_refuses_a_viewer_and_writes_nothing(tmp_path, sample):
    from territory_core.plan.scenarios import Scenario
    from territory_core.store.storage import ScenarioStore

    store = ScenarioStore(f"sqlite:///{tmp_path / 's.db'}")
    try:
        scn = Scenario.today(sample).with_(name="Plan")
        with pytest.raises(PermissionDenied, match=r"viewer role \(.*\), which cannot save"):
            store.save(scn, user="vic@example.com", access=Access("vic@example.com", "viewer"))
        with pytest.raises(PermissionDenied):
            store.save_as_copy(scn, user="vic@example.com", access=Access("vic@example.com", "viewer"))
        assert len(store.list_scenarios()) == 0
        saved = store.save(scn, user="ben@example.com", access=Access("ben@example.com", "planner"))
        assert saved.version == 1 and len(store.list_scenarios()) == 1
    finally:
        store.close()


def test_owner_file_export_refuses_a_viewer_and_holds_a_managers_team_only(sample):
    from territory_core.plan import export as EX
    from territory_core.plan.scenarios import Scenario

    scn = Scenario.today(sample).with_(name="Plan")
    with pytest.raises(PermissionDenied, match="cannot export owner files"):
        EX.assignment_export(scn, sample, "2027-01-01", access=Access("vic@example.com", "viewer"))
    jen = Access("jen@example.com", "manager", "Jennifer Gonzalez")
    view = filter_dataset(sample, jen)
    # even given the whole plan, a manager's export holds their team's accounts only
    out = EX.assignment_export(scn, view, "2027-01-01", access=jen)
    assert len(out) == 692 and set(out["account_id"]) == set(view.accounts[A.account_id])
    assert set(out["new_owner_id"]) <= set(view.reps[R.rep_id])
    assert len(EX.assignment_export(scn, sample, "2027-01-01", access=Access("ben", "planner"))) == 6000
    assert isinstance(out, pd.DataFrame)
