"""AppTest tests of the Scenario Editor page: each control path on the sample data, with a
small solver time limit and a throwaway SQLite database per test."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, shown

TIMEOUT = 120


def _west():
    """The sample's West region (10 reps, about 1,500 accounts): solves in a few seconds."""
    from territory_core.contract import A, O, P, R
    from territory_core.dataset import load_sample

    full = load_sample()
    reps = full.reps[full.reps[R.region] == "West"].reset_index(drop=True)
    acc = full.accounts[full.accounts[A.owner_id].isin(reps[R.rep_id])].reset_index(drop=True)
    return full.with_(reps=reps, accounts=acc, name="West (test)",
                      opportunities=full.opportunities[full.opportunities[O.account_id].isin(acc[A.account_id])],
                      account_products=full.account_products[full.account_products[P.account_id].isin(acc[A.account_id])])


WEST = None


def west():
    global WEST
    if WEST is None:
        WEST = _west()
    return WEST


def _solver_settings(tolerance: float = 0.2, respect_locks: bool = False, **kw):
    from territory_core.analyse.enrich import enrich_accounts
    from territory_core.solve.model import SolverSettings, default_metrics

    metrics = [{"column": m.column, "tolerance": tolerance, "weight": 1.0, "hard": True}
               for m in default_metrics(enrich_accounts(west()))]
    return SolverSettings.from_dict({**SolverSettings().to_dict(), "metrics": metrics, "time_limit": 8,
                                     "respect_locks": respect_locks, **kw})


@pytest.fixture
def db_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    monkeypatch.setenv("TERRITORY_DB_URL", url)
    monkeypatch.delenv("TERRITORY_TRUSTED_USER_HEADER", raising=False)
    return url


def _editor(settings=None, auto: bool = True) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["settings"] = {"solver": settings or _solver_settings()}
    at.session_state["dataset"] = west()
    at.run()
    at.switch_page("pages/scenario_editor.py").run()
    _ok(at)
    if not auto:
        at.toggle(key="se_auto").set_value(False).run()
    return at


def open_tab(at: AppTest, name: str) -> AppTest:
    """Open a tab of the editor (only the open tab is drawn)."""
    at.session_state["se_tabs"] = name
    at.run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r}: {[m.label for m in at.metric]}")


def _add_rep_leaves(at: AppTest, rep_id: str) -> None:
    at.selectbox(key="se_ev_kind").set_value("rep_leaves").run()
    at.selectbox(key="se_leave_rep").set_value(rep_id)
    at.button(key="FormSubmitter:se_f_leave-Add event").click().run()
    _ok(at)


def _busiest_rep() -> str:
    from territory_core.contract import A

    return str(west().accounts[A.owner_id].value_counts().index[0])


def test_opens_on_todays_plan(db_url):
    at = _editor()
    assert at.title[0].value == "Scenario Editor"
    assert _metric(at, "Moves") == "0"
    assert _metric(at, "Solver") == "Today's plan"
    labels = [t.label for t in at.tabs]
    for want in ("What-if events", "Manual moves & locks", "Balance settings", "Trade-off curve", "Save & history"):
        assert want in labels
    # the scenario is published for the other pages
    assert at.session_state["active_scenario"] is at.session_state["se_scn"]


def test_rep_leaves_resolve_and_undo(db_url):
    rep = _busiest_rep()
    at = _editor()
    _add_rep_leaves(at, rep)
    scn = at.session_state["se_scn"]
    assert [e["type"] for e in scn.events] == ["rep_leaves"]
    assert scn.events[0]["rep_id"] == rep
    # auto re-solve ran in a thread; the page waited for it and took the result
    assert scn.assignment is not None and scn.report["status"] in ("optimal", "feasible"), scn.report
    owners = scn.assignment["rep_id"].astype(str)
    assert (owners == rep).sum() == 0, "the leaving rep still owns accounts"
    moves = int(_metric(at, "Moves").replace(",", ""))
    assert moves >= int(scn.assignment["previous_rep_id"].astype(str).eq(rep).sum())
    assert _metric(at, "Solver") in ("Optimal", "Feasible")
    assert not at.session_state["se_dirty"]
    # undo goes back to no events and today's assignment
    at.button(key="se_undo_btn").click().run()
    _ok(at)
    scn = at.session_state["se_scn"]
    assert scn.events == ()
    assert _metric(at, "Moves") == "0"


def test_edit_without_auto_marks_dirty_then_resolve_button(db_url):
    rep = _busiest_rep()
    at = _editor(auto=False)
    _add_rep_leaves(at, rep)
    assert at.session_state["se_dirty"]
    assert any("Edited since the last solve" in i.value for i in at.info)
    assert _metric(at, "Moves") == "0"
    at.button(key="se_resolve").click().run()
    _ok(at)
    assert not at.session_state["se_dirty"]
    from territory_core.plan.scenarios import solve_scenario

    alone = solve_scenario(west(), at.session_state["se_scn"])  # the page's plan is the core's, exactly
    assert int(_metric(at, "Moves").replace(",", "")) == alone.report["moves"] > 0


def test_other_events_are_appended(db_url):
    at = _editor(auto=False)
    at.selectbox(key="se_ev_kind").set_value("new_hire").run()
    at.text_input(key="se_hire_name").set_value("Ana Lopez")
    at.selectbox(key="se_hire_ramp").set_value("50/75/100% by quarter")
    at.button(key="FormSubmitter:se_f_hire-Add event").click().run()
    _ok(at)
    ev = at.session_state["se_scn"].events[-1]
    assert ev["type"] == "new_hire" and ev["name"] == "Ana Lopez" and ev["ramp_schedule"] == [0.5, 0.75, 1.0]
    hire_id = ev["rep_id"]
    assert hire_id == "TBH-1" and ev["start_date"]  # a placeholder until the CRM user exists
    # bulk move: all Healthcare in CA to the new hire
    at.selectbox(key="se_ev_kind").set_value("bulk_move").run()
    at.multiselect(key="se_bulk_industry").select("Healthcare")
    at.multiselect(key="se_bulk_state").select("CA").run()
    at.selectbox(key="se_bulk_to").set_value(hire_id)
    at.button(key="se_bulk_add").click().run()
    _ok(at)
    ev = at.session_state["se_scn"].events[-1]
    assert ev == {"type": "bulk_move", "filter": {"industry": ["Healthcare"], "state": ["CA"]}, "to_rep_id": hire_id}
    # a capacity change
    at.selectbox(key="se_ev_kind").set_value("capacity_change").run()
    at.number_input(key="se_cap_val").set_value(0.6)
    at.button(key="FormSubmitter:se_f_cap-Add event").click().run()
    _ok(at)
    assert at.session_state["se_scn"].events[-1]["capacity"] == 0.6
    assert len(at.session_state["se_scn"].events) == 3
    # remove the first event
    at.button(key="se_ev_rm_0").click().run()
    _ok(at)
    assert [e["type"] for e in at.session_state["se_scn"].events] == ["bulk_move", "capacity_change"]


def test_new_hire_with_taken_id_is_refused(db_url):
    at = _editor(auto=False)
    at.selectbox(key="se_ev_kind").set_value("new_hire").run()
    at.text_input(key="se_hire_id").set_value("R001")
    at.button(key="FormSubmitter:se_f_hire-Add event").click().run()
    _ok(at)
    assert any("already taken" in e.value for e in at.error)
    assert at.session_state["se_scn"].events == ()


def test_manual_override_validation_and_apply(db_url):
    at = _editor(auto=False)
    open_tab(at, "Manual moves & locks")
    editor_key = at.session_state["se_ov_editor_key"]
    at.session_state[editor_key] = {"edited_rows": {}, "deleted_rows": [],
                                    "added_rows": [{"account_id": "NOPE", "rep_id": "R001", "lock": False}]}
    at.run()
    at.button(key="se_ov_apply").click().run()
    _ok(at)
    assert any("'NOPE' is not in the data" in shown(e.value) for e in at.error)
    assert at.session_state["se_scn"].overrides == ()
    editor_key = at.session_state["se_ov_editor_key"]
    at.session_state[editor_key] = {"edited_rows": {}, "deleted_rows": [],
                                    "added_rows": [{"account_id": "A00011", "rep_id": "R002", "lock": False},
                                                   {"account_id": "A00014", "lock": True}]}
    at.run()
    at.button(key="se_ov_apply").click().run()
    _ok(at)
    ov = at.session_state["se_scn"].overrides
    assert [(o["account_id"], o["rep_id"], o["lock"]) for o in ov][0] == ("A00011", "R002", False)
    assert ov[1]["lock"] is True and ov[1]["rep_id"]  # lock with no rep keeps today's owner


def test_balance_settings_apply(db_url):
    at = _editor(auto=False)
    open_tab(at, "Balance settings")
    tl = next(w for w in at.number_input if str(w.key).startswith("se_bal_tl_"))
    tl.set_value(5.0)
    submit = next(b for b in at.button if str(b.key).startswith("FormSubmitter:se_bal_"))
    submit.click().run()
    _ok(at)
    assert at.session_state["se_scn"].settings["solver"]["time_limit"] == 5.0
    # undo restores the previous settings
    at.button(key="se_undo_btn").click().run()
    assert at.session_state["se_scn"].settings["solver"]["time_limit"] == 8


def test_save_conflict_reload_copy_and_history(db_url):
    from territory_core.store.storage import ScenarioStore

    at = _editor(auto=False)
    open_tab(at, "Save & history")
    at.button(key="se_save").click().run()
    _ok(at)
    scn = at.session_state["se_scn"]
    assert scn.id and scn.version == 1 and scn.saved_by
    assert any("version 1" in s.value for s in at.success)
    store = ScenarioStore(db_url)
    assert store.list_scenarios()["id"].tolist() == [scn.id]
    # someone else saves version 2 meanwhile
    other = store.load(scn.id)
    store.save(other.with_(description="theirs"), user="someone.else@example.com", expected_version=1)
    # our save is refused, never overwriting
    at.button(key="se_save").click().run()
    _ok(at)
    assert any("someone.else@example.com" in shown(e.value) and "version 2" in e.value for e in at.error)
    assert int(store.list_scenarios()["latest_version"].iloc[0]) == 2
    # save as a copy keeps our work as a new scenario
    at.button(key="se_conflict_copy").click().run()
    _ok(at)
    copied = at.session_state["se_scn"]
    assert copied.id != scn.id and copied.version == 1 and copied.parent_id == scn.id
    assert len(store.list_scenarios()) == 2
    # reopen the first scenario's version 1 from the start panel, then conflict -> reload
    at.selectbox(key="se_start_id").set_value(scn.id).run()
    at.selectbox(key=f"se_start_ver_{scn.id}").set_value(1).run()
    at.button(key="se_open").click().run()
    _ok(at)
    assert at.session_state["se_scn"].id == scn.id and at.session_state["se_scn"].version == 1
    at.button(key="se_save").click().run()
    assert any("version 2" in e.value for e in at.error)
    at.button(key="se_conflict_reload").click().run()
    _ok(at)
    assert at.session_state["se_scn"].version == 2
    # history lists both versions with who saved them; reopen v1
    hist = [d for d in at.dataframe if "saved_by" in d.value.columns]
    assert hist and set(hist[0].value["version"]) == {1, 2}
    at.selectbox(key=f"se_hist_v_{scn.id}").set_value(1).run()
    at.button(key="se_hist_open").click().run()
    _ok(at)
    assert at.session_state["se_scn"].version == 1


def test_a_saved_scenario_resolved_shows_its_new_plan_here_and_on_compare(db_url):
    """Re-solving a saved version gives a plan the store does not hold: the page's figures and
    Compare's are the new plan's, never the stored version's (they once shared its cache key)."""
    from territory_core.plan.scenarios import scenario_kpis

    at = _editor(auto=False)
    open_tab(at, "Save & history")
    at.button(key="se_save").click().run()
    _ok(at)
    saved = at.session_state["se_scn"]
    assert saved.version == 1 and _metric(at, "Moves") == "0"
    open_tab(at, "What-if events")
    _add_rep_leaves(at, _busiest_rep())
    at.button(key="se_resolve").click().run()
    _ok(at)
    scn = at.session_state["se_scn"]
    assert (scn.id, scn.version) == (saved.id, 1)  # still an edit of version 1: saving it makes version 2
    moves = int(scenario_kpis(west(), scn)["moves"])
    assert moves > 0 and int(_metric(at, "Moves").replace(",", "")) == moves
    # Compare offers the editor's plan next to the stored version, and shows it first
    at.switch_page("pages/compare.py").run()
    _ok(at)
    second = at.selectbox(key="cmp_1_id")
    assert second.value == "__active__" and second.format_func(second.value) == \
        f"Editor: {saved.name} (edited from v1, not saved)"
    kpi = at.dataframe[0].value.set_index("KPI")
    assert kpi.loc["Moves", f"{saved.name} (v1 edited)"] == f"{moves:,}"


def test_infeasible_settings_offer_one_click_fix(db_url):
    # locked and named accounts already overfill some books: a 10% band cannot hold
    at = _editor(settings=_solver_settings(0.1, respect_locks=True, time_limit=40), auto=False)
    at.button(key="se_resolve").click().run()
    _ok(at)
    rep = at.session_state["se_failed"]
    assert rep["status"] in ("infeasible", "no_solution"), rep["status"]
    # one plan on the page: the last feasible one (today's) keeps its own report
    assert at.session_state["se_scn"].report["status"] == "current"
    fix_buttons = [b for b in at.button if str(b.key).startswith("se_fix_")]
    if rep["status"] == "infeasible" and not rep["fixes"]:
        # a busy machine: no re-solve finished within the time limit, so nothing is offered, and it says so
        assert not fix_buttons
        assert any("No single change was proven to give a plan within the time limit" in e
                   for e in rep["explanation"]), rep["explanation"]
    elif rep["status"] == "infeasible":
        assert fix_buttons, "an infeasible result should offer its proven fixes as buttons"
        assert all(f["verified"] for f in rep["fixes"])
        assert all(" moves, $" in b.label for b in fix_buttons)  # each with its cost
        before = at.session_state["se_scn"].settings["solver"]
        fix_buttons[0].click().run()
        _ok(at)
        assert at.session_state["se_scn"].settings["solver"] != before


def test_tradeoff_curve_pick_sets_tolerance(db_url):
    at = _editor(settings=_solver_settings(0.2, time_limit=10), auto=False)
    open_tab(at, "Trade-off curve")
    at.text_input(key="se_curve_tols").set_value("0.15, 0.3").run()
    at.button(key="se_curve_go").click().run()
    _ok(at)
    key, curve = at.session_state["se_curve"]
    assert list(curve["tolerance"]) == [0.15, 0.3]
    solved = curve[curve["status"].isin(["optimal", "feasible"])]
    assert len(solved), curve
    if len(solved) == 2:  # a looser band never needs more moves (up to the solver's gap)
        assert solved["moves"].iloc[1] <= solved["moves"].iloc[0] * 1.05 + 5
    fig = [el for el in at.get("plotly_chart") if "Fewest moves" in el.proto.spec]
    assert fig, "the curve is plotted"
    at.selectbox(key="se_curve_pick").set_value(0.3)
    at.button(key="se_curve_use").click().run()
    _ok(at)
    mets = at.session_state["se_scn"].settings["solver"]["metrics"]
    assert mets and all(m["tolerance"] == 0.3 for m in mets)


def test_bad_tolerances_are_explained(db_url):
    at = _editor(auto=False)
    open_tab(at, "Trade-off curve")
    at.text_input(key="se_curve_tols").set_value("0.1, lots").run()
    at.button(key="se_curve_go").click().run()
    _ok(at)
    assert any("Tolerances to try" in e.value for e in at.error)
    assert "se_curve" not in at.session_state


def test_loading_new_data_starts_a_fresh_scenario(db_url):
    rep = _busiest_rep()
    at = _editor(auto=False)
    _add_rep_leaves(at, rep)
    assert len(at.session_state["se_scn"].events) == 1
    # the Data page loads other data (ui.state.set_dataset bumps the version)
    smaller = west().with_(accounts=west().accounts.iloc[:600].reset_index(drop=True), name="Smaller")
    at.session_state["dataset"] = smaller
    at.session_state["dataset_version"] = 1
    at.run()
    _ok(at)
    scn = at.session_state["se_scn"]
    assert scn.events == () and len(scn.assignment) == 600
    assert any("New data was loaded" in i.value for i in at.info)


def _save_and_user(at: AppTest) -> str:
    open_tab(at, "Save & history")
    at.button(key="se_save").click().run()
    _ok(at)
    return at.session_state["se_scn"].saved_by


def test_saved_by_the_signed_in_oidc_user(db_url):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.user = {"is_logged_in": True, "email": "ana.lopez@example.com", "name": "Ana Lopez"}
    at.session_state["settings"] = {"solver": _solver_settings()}
    at.session_state["dataset"] = west()
    at.run()
    at.switch_page("pages/scenario_editor.py").run()
    open_tab(at, "Save & history")
    assert any("ana.lopez@example.com" in shown(c.value) for c in at.caption)
    assert _save_and_user(at) == "ana.lopez@example.com"


def test_saved_by_the_trusted_proxy_header_else_local_user(db_url, monkeypatch, loopback_server):
    import getpass

    import streamlit as st

    monkeypatch.setenv("TERRITORY_TRUSTED_USER_HEADER", "X-Forwarded-Email")
    monkeypatch.setattr(type(st.context), "headers",
                        property(lambda self: {"X-Forwarded-Email": "bo@corp.example", "Host": "x"}))
    at = _editor(auto=False)
    assert _save_and_user(at) == "bo@corp.example"
    # no header configured: the OS user, never blank
    monkeypatch.delenv("TERRITORY_TRUSTED_USER_HEADER")
    at.text_input(key=next(k.key for k in at.text_input if str(k.key).startswith("se_name_"))).set_value("Second")
    at.run()
    user = _save_and_user(at)
    assert user and user == getpass.getuser()


def test_handover_quota_and_fork_from_saved(db_url):
    from territory_core.store.storage import ScenarioStore

    at = _editor(auto=False)
    at.selectbox(key="se_ev_kind").set_value("segment_handover").run()
    seg = at.selectbox(key="se_ho_seg").options[0]
    at.selectbox(key="se_ho_from").set_value("R002")
    at.selectbox(key="se_ho_to").set_value("R003")
    at.button(key="FormSubmitter:se_f_handover-Add event").click().run()
    _ok(at)
    ev = at.session_state["se_scn"].events[-1]
    assert ev == {"type": "segment_handover", "segment": seg, "from_rep_id": "R002", "to_rep_id": "R003"}
    at.selectbox(key="se_ev_kind").set_value("quota_change").run()
    at.selectbox(key="se_cap_rep").set_value("R004")
    at.number_input(key="se_quota_val").set_value(2_000_000.0)
    at.button(key="FormSubmitter:se_f_cap-Add event").click().run()
    _ok(at)
    assert at.session_state["se_scn"].events[-1] == {"type": "quota_change", "rep_id": "R004", "quota": 2_000_000.0}
    saved = ScenarioStore(db_url).save(at.session_state["se_scn"], user="tester")
    at.run()
    at.selectbox(key="se_start_id").set_value(saved.id).run()
    at.text_input(key="se_start_name").set_value("Fork of it")
    at.button(key="se_fork").click().run()
    _ok(at)
    fork = at.session_state["se_scn"]
    assert fork.id is None and fork.parent_id == saved.id and fork.parent_version == 1
    assert fork.name == "Fork of it" and len(fork.events) == 2


def test_undo_after_save_keeps_the_scenario_in_the_store(db_url):
    from territory_core.store.storage import ScenarioStore

    at = _editor(auto=False)
    _add_rep_leaves(at, _busiest_rep())
    open_tab(at, "Save & history")
    at.button(key="se_save").click().run()
    first = at.session_state["se_scn"]
    assert first.version == 1
    at.button(key="se_undo_btn").click().run()  # undo the event added before the save
    _ok(at)
    scn = at.session_state["se_scn"]
    assert scn.events == () and scn.id == first.id and scn.version == 1
    at.button(key="se_save").click().run()
    _ok(at)
    assert at.session_state["se_scn"].id == first.id and at.session_state["se_scn"].version == 2
    assert len(ScenarioStore(db_url).list_scenarios()) == 1


def test_cancel_keeps_the_last_plan_and_offers_the_plan_found(db_url):
    import threading

    from territory_core.plan.scenarios import solve_scenario

    rep = _busiest_rep()
    at = _editor(auto=False)
    _add_rep_leaves(at, rep)
    edited = at.session_state["se_scn"]
    solved = solve_scenario(west(), edited)
    assert solved.assignment is not None
    # a solve the user cancelled after the solver had found this plan
    ev = threading.Event()
    ev.set()
    at.session_state["se_job"] = {"cancel": ev, "user_cancel": True, "done": True, "discard": False,
                                  "result": solved, "error": None, "phase": "done", "frac": 1.0, "t0": 0.0}
    at.run()
    _ok(at)
    assert _metric(at, "Solver") == "Today's plan"  # one plan on the page: the one kept
    assert any("Last feasible plan" in m.value and "cancelled" in m.value for m in at.markdown)
    assert _metric(at, "Moves") == "0", "the cancel must not apply the plan by itself"
    assert at.session_state["se_dirty"]
    assert any("Plan found before the cancel" in m.value for m in at.markdown)
    at.button(key="se_use_partial").click().run()
    _ok(at)
    assert int(_metric(at, "Moves").replace(",", "")) == solved.report["moves"] > 0
    assert _metric(at, "Solver") in ("Optimal", "Feasible")
    assert not at.session_state["se_dirty"]
    assert at.session_state["se_scn"].events == edited.events
    assert "se_partial" not in at.session_state
    # undo goes back to the plan that was kept, with the edits still there
    at.button(key="se_undo_btn").click().run()
    _ok(at)
    assert _metric(at, "Moves") == "0"
    assert at.session_state["se_scn"].events == edited.events


class _EndsMidRun(dict):
    """A solve job that reports "running" to the page's header and "done" after that, as when a
    cancel ends a solve while the page is being drawn."""

    def __init__(self, *a, running_reads: int, **kw):
        super().__init__(*a, **kw)
        self.reads = running_reads

    def __getitem__(self, key):
        if key == "done":
            self.reads -= 1
            return self.reads < 0
        return dict.__getitem__(self, key)


def test_a_solve_ending_while_the_page_draws_is_taken_not_left_running(db_url):
    import threading

    from territory_core.plan.scenarios import solve_scenario

    rep = _busiest_rep()
    at = _editor(auto=False)
    _add_rep_leaves(at, rep)
    solved = solve_scenario(west(), at.session_state["se_scn"])
    # "running" for the top-of-run check, the header and the Save button; done by the time the page
    # would wait for it
    at.session_state["se_job"] = _EndsMidRun(
        {"cancel": threading.Event(), "done": False, "discard": False, "result": solved, "error": None,
         "phase": "mip", "frac": 0.7, "t0": 0.0}, running_reads=3)
    at.run()
    _ok(at)
    assert at.session_state["se_job"].get("collected"), "the finished solve was left uncollected"
    assert int(_metric(at, "Moves").replace(",", "")) == solved.report["moves"] > 0
    assert not at.button(key="se_resolve").disabled, "Re-solve stays disabled as if still running"


def test_cancel_before_any_plan_keeps_the_shown_plan_and_invents_no_edits(db_url):
    import threading

    at = _editor()
    before = at.session_state["se_scn"]
    assert not at.session_state["se_dirty"]
    ev = threading.Event()
    ev.set()
    cancelled = before.with_(assignment=None, report={"status": "cancelled",
                                                      "status_text": "Cancelled before a solution was found"})
    at.session_state["se_job"] = {"cancel": ev, "user_cancel": True, "done": True, "discard": False,
                                  "result": cancelled, "error": None, "phase": "lp", "frac": 0.1, "t0": 0.0}
    at.run()
    _ok(at)
    assert _metric(at, "Solver") == "Today's plan"
    assert any("Cancelled: the plan above is kept." in i.value for i in at.info)
    assert _metric(at, "Moves") == "0"
    assert at.session_state["se_scn"].assignment is not None, "the plan shown before the solve is kept"
    assert not at.session_state["se_dirty"], "a cancel is not an edit"
    assert not any("Edited since the last solve" in i.value for i in at.info)
    assert any("kept from before this solve" in m.value for m in at.markdown)
    assert not [b for b in at.button if b.key == "se_use_partial"]


def test_balance_index_header_is_the_kpis_share_of_books_in_band(db_url):
    from territory_core.plan.scenarios import scenario_kpis

    at = _editor()
    _add_rep_leaves(at, _busiest_rep())
    scn = at.session_state["se_scn"]
    k = scenario_kpis(west(), scn)
    assert _metric(at, "Balance index") == f"{k['balance_index']:.0f} / 100"
    help_text = next(m for m in at.metric if m.label == "Balance index").help
    assert "inside their tolerance band" in help_text


def _sample_editor() -> AppTest:
    """The editor on the full sample with the planner's defaults (scope automatic)."""
    from territory_core.dataset import load_sample

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["dataset"] = load_sample()
    at.run()
    at.switch_page("pages/scenario_editor.py").run()
    _ok(at)
    return at


def test_priya_leaves_gives_the_smallest_change_with_its_cost_and_reasons(db_url):
    at = _sample_editor()
    _add_rep_leaves(at, "R004")
    scn = at.session_state["se_scn"]
    assert scn.report["status"] == "optimal" and scn.report["scope"] == "affected", scn.report.get("status_text")
    moved = scn.assignment[scn.assignment["moved"].astype(bool)]
    assert len(moved) == 168
    assert moved["previous_rep_id"].value_counts().to_dict() == {"R004": 143, "R041": 25}
    assert _metric(at, "Moves") == "168"
    text = " ".join(shown(m.value) for m in at.markdown)
    assert "Cost of this change" in text and "Accounts changing hands" in text and "168 of 6,000" in text
    assert "Priya Ramirez leaves" in text and "no backfill" in text
    reasons = set(moved["reason"])
    assert any(r.startswith("Re-homed: Priya Ramirez left.") for r in reasons)
    assert not any("R004" in r or "account_count" in r for r in reasons)
    # the same plan as the command line's --scope affected on the same data
    from dataclasses import replace as _r

    from territory_core.analyse.enrich import enrich_accounts
    from territory_core.dataset import load_sample
    from territory_core.solve.model import solve
    from territory_core.solve.settings import planning_defaults

    ds = load_sample()
    acc = enrich_accounts(ds)
    rp = ds.reps.copy()
    rp.loc[rp["rep_id"] == "R004", "active"] = False
    cli = solve(acc, rp, _r(planning_defaults(acc, rp), scope="affected"), opportunities=ds.opportunities)
    a = scn.assignment.set_index("account_id")["rep_id"].astype(str)
    b = cli.assignment.set_index("account_id")["rep_id"].astype(str)
    assert a.sort_index().equals(b.sort_index())


def test_team_rebalance_request_from_health_opens_a_scoped_scenario(db_url):
    at = _sample_editor()
    at.session_state["se_open_request"] = {"scope": "manager=Jennifer Gonzalez", "highlight": ["R003", "R005"],
                                           "name": "Rebalance Jennifer Gonzalez's team"}
    at.run()
    _ok(at)
    scn = at.session_state["se_scn"]
    assert scn.name == "Rebalance Jennifer Gonzalez's team"
    solver = scn.settings["solver"]
    assert solver["scope"] == "manager=Jennifer Gonzalez" and solver["bands"] == "absolute"
    assert at.session_state["se_highlight"] == ["R003", "R005"]
    assert at.session_state["se_dirty"] and "se_open_request" not in at.session_state
    at.button(key="se_resolve").click().run()
    _ok(at)
    scn = at.session_state["se_scn"]
    rep = scn.report
    assert rep["scope"] == "manager=Jennifer Gonzalez", rep.get("status_text")
    if scn.assignment is not None and rep["status"] in ("optimal", "feasible"):
        import pandas as pd
        from territory_core.dataset import load_sample

        reps = load_sample().reps
        team = set(reps.loc[reps["manager"] == "Jennifer Gonzalez", "rep_id"])
        gone = set(reps.loc[~reps["active"].astype(bool), "rep_id"])
        mv = scn.assignment[scn.assignment["moved"].astype(bool)]
        assert set(mv["previous_rep_id"]) <= team
        # the team's accounts move only among its reps; a rep of the team who left hands over to anyone
        stay = mv[~mv["previous_rep_id"].isin(gone)]
        assert len(stay) and set(stay["rep_id"]) <= team
