"""AppTest tests of the Compare page: scenarios saved straight into a throwaway SQLite database
(hand-made assignments, so these tests do not depend on solver timing)."""
from __future__ import annotations

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, page_figures, shown

TIMEOUT = 90


@pytest.fixture(scope="module")
def sample():
    """The sample's West region (about 1,500 accounts): enough for every chart, quick to draw."""
    from test_scenario_editor_page import west

    return west()


def _moved(sample, from_rep: str, to_rep: str, n: int, name: str):
    """Today's plan with the first n accounts of from_rep given to to_rep."""
    from territory_core.contract import S
    from territory_core.plan.scenarios import Scenario

    today = Scenario.today(sample)
    asg = today.assignment.copy()
    idx = asg.index[asg[S.rep_id].astype(str) == from_rep][:n]
    asg.loc[idx, S.rep_id] = to_rep
    asg.loc[idx, S.moved] = True
    asg.loc[idx, S.reason] = f"Handed to {to_rep} for balance"
    return Scenario(name=name, assignment=asg, report={"status": "optimal", "moves": int(len(idx)), "gap": 0.0},
                    settings={"solver": {"metrics": [{"column": "arr", "tolerance": 0.1, "weight": 1, "hard": True}]}})


@pytest.fixture
def store(tmp_path, monkeypatch, sample):
    from territory_core.store.storage import ScenarioStore

    url = f"sqlite:///{tmp_path / 'scenarios.db'}"
    monkeypatch.setenv("TERRITORY_DB_URL", url)
    st_ = ScenarioStore(url)
    yield st_
    st_.close()


def _reps(sample):
    from territory_core.contract import A

    vc = sample.accounts[A.owner_id].value_counts()
    return str(vc.index[0]), str(vc.index[-1])


def _compare(sample, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["dataset"] = sample
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    at.switch_page("pages/compare.py").run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _tab(at: AppTest, name: str) -> AppTest:
    """Open a tab below the key figures, as a click on it does (only the open tab is drawn)."""
    at.session_state["cmp_tab"] = name
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _bytes(v) -> bytes:
    """A download's content: made on click (a callable) or ready (bytes)."""
    return v() if callable(v) else v


_charts = page_figures


def test_compare_today_with_a_saved_scenario(store, sample):
    big, small = _reps(sample)
    saved = store.save(_moved(sample, big, small, 40, "Shift to small"), user="tester")
    at = _compare(sample, cmp_1_id=saved.id)
    assert not at.exception, [e.message for e in at.exception]
    kpi = next(d.value for d in at.dataframe if "KPI" in d.value.columns)
    assert list(kpi.columns) == ["KPI", "Today's plan", "Shift to small v1", "Δ Shift to small v1"]
    moves_row = kpi[kpi["KPI"] == "Moves"].iloc[0]
    assert moves_row["Today's plan"] == "0" and moves_row["Shift to small v1"] == "40"
    assert moves_row["Δ Shift to small v1"].startswith("+40")
    # below the key figures, one tab at a time: the per-rep bars first
    assert [t.label for t in at.tabs] == ["Per rep, against the target band", "What changes hands", "Maps", "Export"]
    figs = _charts(at)
    types = [f["data"][0]["type"] for f in figs]
    assert types.count("bar") == 2 and "box" in types
    assert "sankey" not in types and "scattermap" not in types and not at.get("download_button")  # closed tabs
    # the per-rep bars carry the target band of the scenario's tolerance
    bars = [f for f in figs if f["data"][0]["type"] == "bar"]
    assert "±10%" in bars[1]["data"][1]["name"]
    _tab(at, "What changes hands")
    assert any("40 accounts" in m.value for m in at.markdown)
    moves = next(d.value for d in at.dataframe if "from_name" in d.value.columns)
    small_name = sample.reps.set_index("rep_id").loc[small, "name"]
    assert len(moves) == 40 and (moves["to_name"] == small_name).all()
    sankey = next(f for f in _charts(at) if f["data"][0]["type"] == "sankey")
    assert sum(sankey["data"][0]["link"]["value"]) == pytest.approx(40)
    assert not any(f["data"][0]["type"] in ("bar", "scattermap") for f in _charts(at))
    _tab(at, "Maps")
    maps = [f for f in _charts(at) if f["data"][0]["type"] == "scattermap"]
    assert len(maps) == 2 and all(len(f["data"]) == 1 for f in maps), "one trace per map"
    assert all(f["layout"]["map"]["style"] == "white-bg" for f in maps)


def test_moves_filters_and_flow_by_arr(store, sample):
    big, small = _reps(sample)
    vc = sample.accounts["owner_id"].value_counts()
    third = str(vc.index[1])
    a = _moved(sample, big, small, 30, "Two way")
    from territory_core.contract import S

    asg = a.assignment
    idx = asg.index[asg[S.previous_rep_id].astype(str) == third][:10]
    asg.loc[idx, S.rep_id] = small
    saved = store.save(a.with_(assignment=asg), user="tester")
    at = _compare(sample, cmp_1_id=saved.id, cmp_tab="What changes hands")
    moves = next(d.value for d in at.dataframe if "from_name" in d.value.columns)
    assert len(moves) == 40
    third_name = sample.reps.set_index("rep_id").loc[third, "name"]
    at.multiselect(key="cmp_f_from").select(third).run()
    moves = next(d.value for d in at.dataframe if "from_name" in d.value.columns)
    assert len(moves) == 10 and (moves["from_name"] == third_name).all()
    assert any("Showing 10 of 40" in c.value for c in at.caption)
    at.radio(key="cmp_flow_by").set_value("ARR").run()
    sankey = next(f for f in _charts(at) if f["data"][0]["type"] == "sankey")
    at.multiselect(key="cmp_f_from").set_value([]).run()
    moves = next(d.value for d in at.dataframe if "from_name" in d.value.columns)
    assert sum(sankey["data"][0]["link"]["value"]) == pytest.approx(float(moves["arr"].sum()))


def test_four_scenarios_versions_and_presentation(store, sample):
    big, small = _reps(sample)
    s1 = store.save(_moved(sample, big, small, 20, "Plan A"), user="tester")
    store.save(_moved(sample, big, small, 35, "Plan A").with_(id=s1.id, version=1), user="tester", expected_version=1)
    s2 = store.save(_moved(sample, small, big, 5, "Plan B"), user="tester")
    at = _compare(sample, cmp_n=4, cmp_1_id=s1.id, cmp_2_id=s1.id, cmp_3_id=s2.id)
    at.selectbox(key=f"cmp_1_ver_{s1.id}").set_value(1)
    at.selectbox(key=f"cmp_2_ver_{s1.id}").set_value(2).run()
    assert not at.exception, [e.message for e in at.exception]
    kpi = next(d.value for d in at.dataframe if "KPI" in d.value.columns)
    assert {"Plan A v1", "Plan A v2", "Plan B v1"} <= set(kpi.columns)
    row = kpi[kpi["KPI"] == "Moves"].iloc[0]
    assert (row["Plan A v1"], row["Plan A v2"], row["Plan B v1"]) == ("20", "35", "5")
    _tab(at, "Maps")
    maps = [f for f in _charts(at) if f["data"][0]["type"] == "scattermap"]
    assert len(maps) == 4
    # presentation view: no pickers, filters or downloads; the figures stay
    at.toggle(key="cmp_present").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    assert len(at.selectbox) == 0 and len(at.multiselect) == 0
    assert len(at.get("download_button")) == 0
    figs = _charts(at)
    assert len([f for f in figs if f["data"][0]["type"] == "scattermap"]) == 4
    assert any("Plan A v2" in f["layout"].get("title", {}).get("text", "") for f in figs)
    _tab(at, "Export")  # the exports wait for the presentation view to end
    assert len(at.get("download_button")) == 0
    assert any("hidden in the presentation view" in i.value for i in at.info)
    at.toggle(key="cmp_present").set_value(False).run()
    assert len(at.selectbox) > 0 and len(at.get("download_button")) == 4


def test_export_downloads(store, sample, monkeypatch):
    """The four downloads carry the real files: CSV and Excel with every account, the Data Loader
    file with Id/OwnerId, and a self-contained HTML summary (Excel and HTML are made on click)."""
    import io

    from streamlit.runtime.media_file_manager import MediaFileManager

    files: dict[str, object] = {}
    real_add, real_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def add(self, data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        if file_name:
            files[file_name] = data
        return real_add(self, data, mimetype, coordinates, file_name, is_for_static_download)

    def add_deferred(self, fn, mimetype, coordinates, file_name=None, **kw):
        files[file_name] = fn
        return real_deferred(self, fn, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add", add)
    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    big, small = _reps(sample)
    moved = _moved(sample, big, small, 25, "Export me")
    asg = moved.assignment
    asg.loc[asg.index[0], "reason"] = "=HYPERLINK(\"http://evil\")"
    saved = store.save(moved.with_(assignment=asg), user="tester")
    at = _compare(sample, cmp_1_id=saved.id, cmp_tab="Export")
    labels = [d.proto.label for d in at.get("download_button")]
    assert labels == ["Assignment CSV", "Assignment Excel", "Salesforce Data Loader CSV", "One-page summary (HTML)"]
    # a press downloads without rerunning the page: the press's rerun raced the file's request, and in a CI
    # run the button stayed disabled (spinning) for good
    assert all(d.proto.ignore_rerun for d in at.get("download_button"))
    assert not at.error, [e.value for e in at.error]
    names = sorted(files)
    assert names == ["Export_me_v1_assignment.csv", "Export_me_v1_assignment.xlsx", "Export_me_v1_salesforce.csv",
                     "Export_me_v1_summary.html"], names
    # a CRM upload defaults to the owner changes (issue 14 item 7); every account on request
    moved_only = pd.read_csv(io.BytesIO(_bytes(files["Export_me_v1_salesforce.csv"])), dtype=str)
    assert len(moved_only) == 25
    assert any("25 owner changes" in o for o in at.radio(key="cmp_exp_rows").options)
    at.radio(key="cmp_exp_rows").set_value("all").run()
    csv = pd.read_csv(io.BytesIO(_bytes(files["Export_me_v1_assignment.csv"])), dtype=str, keep_default_na=False)
    assert len(csv) == len(sample.accounts) and csv["account_id"].is_unique
    assert (csv["previous_owner_id"] != csv["new_owner_id"]).sum() == 25
    assert (csv["new_owner_id"] == small).sum() == (sample.accounts["owner_id"] == small).sum() + 25
    assert csv["reason"].str.startswith("=").sum() == 0 and csv["reason"].str.startswith("'=").sum() == 1
    xlsx = pd.read_excel(io.BytesIO(files["Export_me_v1_assignment.xlsx"]()), dtype=str)
    assert list(xlsx.columns) == list(csv.columns) and len(xlsx) == len(csv)
    sf = pd.read_csv(io.BytesIO(_bytes(files["Export_me_v1_salesforce.csv"])), dtype=str)
    assert list(sf.columns) == ["Id", "OwnerId"] and len(sf) == len(csv)
    html = files["Export_me_v1_summary.html"]().decode("utf-8")
    assert "Export me" in html and "<html" in html.lower()
    assert "cdn." not in html.lower() and 'src="http' not in html.lower()


def test_only_todays_plan_says_what_to_do(store, sample):
    at = _compare(sample, cmp_tab="Export")
    assert not at.exception
    # both slots default to today's plan: comparing it with itself shows 0 moves, and no export
    assert any("no export" in i.value.lower() or "pick a saved scenario" in i.value.lower() for i in at.info)
    assert any(i.value.startswith("Every column shows the same plan") for i in at.info)
    # a saved scenario in the second column: a real comparison, no such note
    big, small = _reps(sample)
    s1 = store.save(_moved(sample, big, small, 5, "Real change"), user="tester")
    at = _compare(sample, cmp_1_id=s1.id)
    assert not any(i.value.startswith("Every column shows the same plan") for i in at.info)


def test_scenario_solved_on_other_data_is_flagged(store, sample):
    from territory_core.plan.scenarios import dataset_fingerprint

    big, small = _reps(sample)
    other = _moved(sample, big, small, 5, "Old data").with_(input_fingerprint="0" * 16)
    saved = store.save(other, user="tester")
    at = _compare(sample, cmp_1_id=saved.id)
    assert not at.exception
    assert any("solved on different data" in w.value for w in at.warning)
    same = store.save(_moved(sample, big, small, 5, "Same data").with_(input_fingerprint=dataset_fingerprint(sample)),
                      user="tester")
    at.run()
    at.selectbox(key="cmp_1_id").set_value(same.id).run()
    assert not any("solved on different data" in w.value for w in at.warning)


def test_export_only_moved_rows(store, sample, monkeypatch):
    import io

    from streamlit.runtime.media_file_manager import MediaFileManager

    files = {}
    real_deferred = MediaFileManager.add_deferred

    def add_deferred(self, fn, mimetype, coordinates, file_name=None, **kw):
        files[file_name] = fn
        return real_deferred(self, fn, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    big, small = _reps(sample)
    saved = store.save(_moved(sample, big, small, 12, "Few moves"), user="tester")
    at = _compare(sample, cmp_1_id=saved.id, cmp_tab="Export")  # owner changes only by default
    assert not at.exception, [e.message for e in at.exception]
    csv = pd.read_csv(io.BytesIO(_bytes(files["Few_moves_v1_assignment.csv"])), dtype=str)
    assert len(csv) == 12 and (csv["new_owner_id"] == small).all() and (csv["previous_owner_id"] == big).all()
    assert at.radio(key="cmp_exp_rows").value == "moved"
    assert at.radio(key="cmp_exp_rows").options[0] == "Owner changes only (12 owner changes)"
    assert any("Few moves v1" in m.value and "12 owner changes" in m.value for m in at.markdown)


def test_unreachable_database_is_explained(monkeypatch, sample):
    monkeypatch.setenv("TERRITORY_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    at = _compare(sample)
    assert not at.exception
    assert any("scenario database could not be read" in e.value for e in at.error)
    at.switch_page("pages/scenario_editor.py").run()
    assert not at.exception, [e.message for e in at.exception]
    # said on the editor's first view (its Save tab is drawn only when opened), naming the setting to fix
    assert any("TERRITORY_DB_URL" in shown(e.value) for e in at.error)
