"""AppTest of stored datasets in the pages: the Data page saves each load as a dataset version,
remembers mappings across sessions and asks before a money column loads as nothing, lists saved
datasets and sets one active; a scenario saved on uploaded data reopens on that data in a new
session (Compare, Scenario Editor); Re-solve on the newest data saves the next version."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from conftest import shown, APP_PATH
from test_data_page import metrics, navigation_mode, select_by_suffix, upload  # noqa: F401 (fixture)
from test_scenario_editor_page import db_url  # noqa: F401 (fixture: a fresh SQLite store for the app)

SF = Path(__file__).parent / "fixtures" / "salesforce"
TIMEOUT = 180


def team_tables(n_reps: int = 4, per_rep: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One team (West, Mid-Market) of ``n_reps`` reps with ``per_rep`` alike accounts each: today's
    books are balanced, and when a rep leaves the others can take their accounts within the
    editor's default bands (a solve of a fraction of a second)."""
    reps = pd.DataFrame({"rep_id": [f"TR{i}" for i in range(1, n_reps + 1)],
                         "name": [f"Team Rep {i}" for i in range(1, n_reps + 1)],
                         "region": "West", "segment": "Mid-Market", "capacity": 1.0, "quota": 800_000.0,
                         "active": True})
    acc = pd.DataFrame([{"account_id": f"TA{i:04d}", "name": f"Team Account {i}",
                         "industry": ["Software", "Retail", "Healthcare"][i % 3], "employees": 200 + 10 * (i % 5),
                         "annual_revenue": 5e6 + 1e5 * (i % 4), "arr": 10_000.0 * (1 + i % 2), "state": "CA",
                         "zip": "94105", "owner_id": f"TR{1 + i % n_reps}"} for i in range(n_reps * per_rep)])
    return acc, reps


def team_files(folder: Path) -> tuple[Path, Path]:
    acc, reps = team_tables()
    acc.to_csv(folder / "team_accounts.csv", index=False)
    reps.to_csv(folder / "team_reps.csv", index=False)
    return folder / "team_accounts.csv", folder / "team_reps.csv"


def team_dataset():
    from territory_core.ingest.importer import load_files

    acc, reps = team_tables()
    res = load_files(accounts=acc.to_csv(index=False).encode(), reps=reps.to_csv(index=False).encode(),
                     name="Team upload")
    assert res.ok, res.report.to_text()
    return res.dataset


def _session(page: str = "pages/data.py", **state) -> AppTest:
    """A new browser session (fresh session state) on ``page``."""
    at = AppTest.from_file(APP_PATH, default_timeout=TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    at.switch_page(page).run()
    _ok(at)
    return at


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


def _by_suffix(items, suffix: str):
    hits = [w for w in items if w.key and w.key.endswith(suffix)]
    assert len(hits) == 1, [w.key for w in items]
    return hits[0]


def _sidebar(at: AppTest) -> str:
    return " ".join(m.value for m in at.sidebar.markdown) + " " + " ".join(c.value for c in at.sidebar.caption)


ARR = 1_368_500.5  # ARR__c of tests/fixtures/salesforce/Account.csv


# ---------------------------------------------------------------------------------------------- Data page
def test_mapping_is_remembered_across_sessions_and_each_load_is_a_version(db_url):
    from territory_core.store.datasets import DatasetStore

    at = _session()
    upload(at, SF / "Account.csv", SF / "User.csv", SF / "Opportunity.csv")
    assert not any("saved mapping" in c.value for c in at.caption)  # nothing remembered yet
    select_by_suffix(at, "::accounts::ARR__c").set_value("arr").run()
    assert at.radio(key="data_save_how").value == "new"
    at.button(key="data_load").click().run()
    _ok(at)
    ds = at.session_state["dataset"]
    assert ds.dataset_id and ds.version == 1 and float(ds.accounts["arr"].sum()) == ARR
    assert any("Saved as dataset Account" in s.value for s in at.success)
    assert "version 1" in _sidebar(at)

    # another session, another day: the same export, nothing mapped by hand
    at2 = _session()
    upload(at2, SF / "Account.csv", SF / "User.csv", SF / "Opportunity.csv")
    assert select_by_suffix(at2, "::accounts::ARR__c").value == "arr"
    assert sum("Using your saved mapping from" in c.value for c in at2.caption) == 3  # one per file
    at2.radio(key="data_save_how").set_value("version").run()
    assert at2.selectbox(key="data_save_of").value == ds.dataset_id
    at2.button(key="data_load").click().run()
    _ok(at2)
    ds2 = at2.session_state["dataset"]
    assert (ds2.dataset_id, ds2.version) == (ds.dataset_id, 2) and float(ds2.accounts["arr"].sum()) == ARR
    with DatasetStore(db_url) as store:
        vers = store.versions(ds.dataset_id)
        assert vers["version"].tolist() == [2, 1] and vers["accounts"].tolist() == [25, 25]
        assert store.info(ds.dataset_id).mapping["accounts"]["ARR__c"] == "arr"
        assert store.info(ds.dataset_id).sources[0]["file"] == "Account.csv"


def test_a_remembered_money_column_is_never_dropped_without_asking(db_url):
    at = _session()
    upload(at, SF / "Account.csv", SF / "User.csv")
    select_by_suffix(at, "::accounts::ARR__c").set_value("arr").run()
    at.button(key="data_load").click().run()
    _ok(at)

    at2 = _session()
    upload(at2, SF / "Account.csv", SF / "User.csv")
    select_by_suffix(at2, "::accounts::ARR__c").set_value("(ignore)").run()
    assert any("Last time **ARR\\_\\_c** was loaded as **arr**" in w.value for w in at2.warning)
    assert at2.button(key="data_load").disabled  # a blocking question
    _by_suffix(at2.button, "::arr::remap").click().run()  # "Map ARR__c to arr again"
    _ok(at2)
    assert select_by_suffix(at2, "::accounts::ARR__c").value == "arr"
    assert not at2.button(key="data_load").disabled
    assert not any("Last time" in w.value for w in at2.warning)

    select_by_suffix(at2, "::accounts::ARR__c").set_value("(ignore)").run()
    assert at2.button(key="data_load").disabled
    _by_suffix(at2.checkbox, "::arr::ok").check().run()  # "Load without arr": an answer
    assert not at2.button(key="data_load").disabled
    at2.radio(key="data_save_how").set_value("version").run()
    at2.button(key="data_load").click().run()
    _ok(at2)
    assert float(at2.session_state["dataset"].accounts["arr"].sum()) == 0.0
    at3 = _session()  # the answer is remembered: no question next time
    upload(at3, SF / "Account.csv", SF / "User.csv")
    assert select_by_suffix(at3, "::accounts::ARR__c").value == "(ignore)"
    assert not at3.button(key="data_load").disabled


def test_saved_datasets_list_and_make_active_for_new_sessions(db_url, tmp_path):
    accounts, reps = team_files(tmp_path)
    at = _session()
    upload(at, accounts, reps)
    name = at.text_input(key="data_save_name::team_accounts.csv + team_reps.csv")
    name.set_value("Team book").run()
    at.button(key="data_load").click().run()
    _ok(at)
    at.button(key="data_use_sample").click().run()  # this session back on the sample
    assert metrics(at)["Accounts"] == "6,000"
    table = [d.value for d in at.dataframe if "dataset" in d.value.columns][0]
    assert table[["dataset", "version", "accounts", "reps"]].values.tolist() == [["Team book", 1, 240, 4]]
    assert table["active"].tolist() == [""]
    assert _session().session_state["dataset"].name.startswith("Sample")  # nothing marked: the sample

    team_id = _store_id(db_url, "Team book")
    assert at.selectbox(key="data_pick").options == ["Sample data (built in)", "Team book"]
    at.selectbox(key="data_pick").set_value(team_id).run()
    at.button(key="data_make_active").click().run()
    _ok(at)
    assert at.session_state["dataset"].label == "Team book v1" and metrics(at)["Accounts"] == "240"
    new = _session()  # someone opening the app now
    assert new.session_state["dataset"].label == "Team book v1"
    assert "Team book" in _sidebar(new) and "version 1" in _sidebar(new)
    assert metrics(new)["Accounts"] == "240"


def _store_id(url: str, name: str) -> str:
    from territory_core.store.datasets import DatasetStore

    with DatasetStore(url) as store:
        return store.resolve(name)


# ---------------------------------------------------------------------------------------------- scenarios on their data
def _add_rep_leaves(at: AppTest, rep_id: str) -> None:
    at.selectbox(key="se_ev_kind").set_value("rep_leaves").run()
    at.selectbox(key="se_leave_rep").set_value(rep_id)
    at.button(key="FormSubmitter:se_f_leave-Add event").click().run()
    _ok(at)


def _save(at: AppTest, name: str) -> None:
    at.session_state["se_tabs"] = "Save & history"  # the editor draws only its open tab
    at.run()
    name_box = [t for t in at.text_input if t.key and t.key.startswith("se_name_")][0]
    name_box.set_value(name).run()
    at.button(key="se_save").click().run()
    _ok(at)


def test_a_scenario_saved_on_uploaded_data_reopens_on_it_in_a_new_session(db_url):
    from territory_core.store.datasets import DatasetStore

    at = _session("pages/scenario_editor.py", dataset=team_dataset())  # uploaded, never saved
    _add_rep_leaves(at, "TR1")
    scn = at.session_state["se_scn"]
    book = int((team_dataset().accounts["owner_id"] == "TR1").sum())
    # a rep leaving moves only their book (the editor's automatic scope)
    assert scn.report["status"] == "optimal" and scn.report["moves"] == book
    _save(at, "Team plan")
    assert any("The data was saved as dataset Team upload v1" in shown(i.value) for i in at.info)
    saved = at.session_state["se_scn"]
    assert saved.version == 1 and saved.dataset_version == 1
    with DatasetStore(db_url) as store:
        assert store.info(saved.dataset_id).name == "Team upload"
        assert store.store.load(saved.id).dataset_id == saved.dataset_id

    # a colleague's new session starts on the sample; Compare opens the plan on its own data
    cmp = _session("pages/compare.py")
    assert cmp.selectbox(key="cmp_1_id").value == saved.id
    assert any("Opened the data Team plan v1 was solved on: Team upload v1" in shown(i.value) for i in cmp.info)
    assert cmp.session_state["dataset"].label == "Team upload v1"
    assert not any("different data" in w.value for w in cmp.warning)
    assert any(shown(m.value).startswith("**Team plan v1**") for m in cmp.markdown)  # the second plan's column
    # and the Scenario Editor (another new session) opens it for editing on that data too
    ed = _session("pages/scenario_editor.py")
    ed.selectbox(key="se_start_id").set_value(saved.id).run()
    ed.button(key="se_open").click().run()
    _ok(ed)
    assert any("Opened the data Team plan v1 was solved on" in shown(i.value) for i in ed.info)
    assert not any("different data" in w.value for w in ed.warning)
    assert ed.session_state["se_scn"].id == saved.id
    book = int((team_dataset().accounts["owner_id"] == "TR1").sum())
    assert [m.value for m in ed.metric if m.label == "Moves"] == [str(book)]


def test_resolve_on_the_newest_data_saves_the_next_version(db_url):
    from territory_core.store.datasets import DatasetStore

    at = _session("pages/scenario_editor.py", dataset=team_dataset())
    _add_rep_leaves(at, "TR1")
    _save(at, "Team plan")
    saved = at.session_state["se_scn"]
    with DatasetStore(db_url) as store:  # the CRM export of next month: two more accounts for TR2
        ds = store.load(saved.dataset_id)
        more = pd.concat([ds.accounts, ds.accounts.iloc[:2].assign(account_id=["TA9000", "TA9001"], owner_id="TR2")],
                         ignore_index=True)
        v2 = store.add_version(saved.dataset_id, ds.with_(accounts=more), user="ops")
    assert v2.version == 2

    ed = _session("pages/scenario_editor.py")
    ed.selectbox(key="se_start_id").set_value(saved.id).run()
    ed.button(key="se_open").click().run()
    _ok(ed)
    assert any("A newer version of this plan's data exists: Team upload v2" in shown(i.value) for i in ed.info)
    ed.button(key="se_newest").click().run()
    _ok(ed)
    cur = ed.session_state["se_scn"]
    assert (cur.id, cur.version, cur.dataset_version) == (saved.id, 2, 2)
    assert len(cur.assignment) == 242 and ed.session_state["dataset"].label == "Team upload v2"
    assert any("Re-solved on Team upload v2: saved Team plan as version 2" in shown(s.value) for s in ed.success)
    assert not any("newer version" in shown(i.value) for i in ed.info)
    with DatasetStore(db_url) as store:
        assert store.store.load(saved.id, 1).dataset_version == 1  # the first version stays on v1
        assert store.store.history(saved.id)["note"].tolist()[0] == "Re-solved on Team upload v2"


def test_an_unreachable_store_still_loads_data_for_the_session(monkeypatch):
    monkeypatch.setenv("TERRITORY_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    at = _session()
    assert metrics(at)["Accounts"] == "6,000"  # the sample
    assert any("saved datasets could not be read" in w.value for w in at.sidebar.warning)
    assert any("saved datasets could not be read" in e.value for e in at.error)  # the Saved datasets tab
    upload(at, SF / "Account.csv", SF / "User.csv")
    assert any("for this session only" in w.value for w in at.warning)
    at.button(key="data_load").click().run()
    _ok(at)
    assert metrics(at)["Accounts"] == "25" and at.session_state["dataset"].dataset_id is None
    assert any("for this session only (not saved in the store)" in s.value for s in at.success)
    assert "not saved in the store" in _sidebar(at)
