"""AppTest of the Data page: overview, upload, mapping change, report, load, sample button."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP_PATH, shown

FIX = Path(__file__).parent / "fixtures"
SF = FIX / "salesforce"


@pytest.fixture(autouse=True)
def navigation_mode(monkeypatch):
    """AppTest resets PagesManager.uses_pages_directory before every run, so each run starts in the
    old pages/-folder mode and a switched-to page runs without app.py. A real server switches once
    per process; model that, so app.py (and its sidebar) runs as it does in the browser."""
    from streamlit.runtime.pages_manager import PagesManager

    orig = PagesManager.__init__

    def init(self, *args, **kwargs):
        orig(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


@pytest.fixture
def at():
    at = AppTest.from_file(APP_PATH, default_timeout=60).run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    return at


def metrics(at):
    return {m.label: m.value for m in at.metric}


def upload(at, *files):
    up = at.file_uploader(key="data_upload")
    for f in files:
        up = up.upload(f.name, f.read_bytes(), "text/csv")
    up.run()
    assert not at.exception, at.exception
    return at


def frame_with(at, column):
    """The dataframe element whose table has ``column`` (AppTest dataframes carry no key)."""
    hits = [d.value for d in at.dataframe if column in d.value.columns]
    assert hits, [list(d.value.columns)[:5] for d in at.dataframe]
    return hits[0]


def select_by_suffix(at, suffix):
    hits = [s for s in at.selectbox if s.key and s.key.endswith(suffix)]
    assert len(hits) == 1, [s.key for s in at.selectbox]
    return hits[0]


def test_overview_shows_the_sample(at):
    m = metrics(at)
    assert m["Accounts"] == "6,000" and m["Active reps"] == "40" and m["Opportunities"].replace(",", "").isdigit()
    assert m["ARR"].startswith("$") and "M" in m["ARR"]
    assert len(at.dataframe) >= 2  # accounts and reps tables
    assert any("account_id" in md.value for md in at.markdown)  # the contract


def test_overview_chart_shows_todays_books_largest_first(at):
    """The Reps section's chart: one bar per active rep, its book's ARR, largest first, with its
    accounts on hover and the average as a line."""
    import json

    import pandas as pd

    from territory_core.dataset import load_sample

    ds = load_sample()
    arr = pd.to_numeric(ds.accounts["arr"], errors="coerce").fillna(0).groupby(ds.accounts["owner_id"].astype(str)).sum()
    active = ds.reps[ds.reps["active"].fillna(True).astype(bool)]
    want = active.assign(arr=active["rep_id"].astype(str).map(arr).fillna(0.0)).sort_values("arr", ascending=False)
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if "Books today" in json.loads(c.proto.spec)["layout"]["title"]["text"])
    bar = spec["data"][0]
    ys = bar["y"] if isinstance(bar["y"], list) else None
    if ys is None:  # plotly sends numeric arrays as typed binary
        import base64

        import numpy as np

        ys = np.frombuffer(base64.b64decode(bar["y"]["bdata"]), dtype=bar["y"]["dtype"]).tolist()
    assert len(bar["x"]) == len(active) == 40
    assert bar["x"][:3] == want["name"].head(3).tolist()
    assert ys == sorted(ys, reverse=True) and abs(ys[0] - float(want["arr"].iloc[0])) < 0.5
    assert spec["layout"]["shapes"][0]["y0"] == pytest.approx(float(want["arr"].mean()))


def test_overview_chart_counts_accounts_when_the_data_has_no_arr(at):
    """A book loaded without an ARR column: the chart shows accounts per rep and says why, not bars of $0."""
    import json

    upload(at, SF / "Account.csv", SF / "User.csv", SF / "Opportunity.csv")  # ARR__c left unmapped
    at.button(key="data_load").click().run()
    assert not at.exception
    spec = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                if "Books today" in json.loads(c.proto.spec)["layout"]["title"]["text"])
    assert spec["layout"]["title"]["text"] == "Books today: accounts (no ARR in this data) per active rep (7), largest first"
    assert spec["layout"]["yaxis"]["title"]["text"] == "Accounts"
    import base64

    import numpy as np

    y = spec["data"][0]["y"]
    ys = y if isinstance(y, list) else np.frombuffer(base64.b64decode(y["bdata"]), dtype=y["dtype"]).tolist()
    ds = at.session_state["dataset"]
    active = set(ds.reps.loc[ds.reps["active"].fillna(True).astype(bool), "rep_id"].astype(str))
    owned = int(ds.accounts["owner_id"].astype(str).isin(active).sum())
    assert ys == sorted(ys, reverse=True) and sum(ys) == owned == 24  # of the 25: those an active rep owns


def test_accounts_table_filters(at):
    at.text_input(key="data_q").input("summit").run()
    caption = " ".join(c.value for c in at.caption)
    assert "of 6,000 accounts" in caption and not caption.startswith("6,000 of")
    shown = frame_with(at, "account_id")
    assert len(shown) > 0 and shown["name"].str.lower().str.contains("summit").all()
    at.text_input(key="data_q").input("").run()
    at.multiselect(key="data_state").select("MA").run()
    shown = frame_with(at, "account_id")
    assert len(shown) > 0 and (shown["state"] == "MA").all()


def test_upload_without_map_then_map_arr_then_load(at):
    upload(at, SF / "Account.csv", SF / "User.csv", SF / "Opportunity.csv")
    kinds = {s.key.split("::")[1].split(":")[0]: s.value for s in at.selectbox if s.key and s.key.startswith("kind::")}
    assert kinds == {"Account.csv": "accounts", "User.csv": "reps", "Opportunity.csv": "opportunities"}
    arr = select_by_suffix(at, "::accounts::ARR__c")
    assert arr.value == "(ignore)"
    assert select_by_suffix(at, "::accounts::BillingPostalCode").value == "zip"
    # without ARR__c mapped: a warning that arr is missing, nothing blocks
    report = frame_with(at, "severity")
    assert (report["column"] == "arr").any() and set(report["severity"]) == {"warning", "info"}
    arr.set_value("arr").run()
    assert not at.exception
    report = frame_with(at, "severity")
    assert not (report["column"] == "arr").any()
    load = at.button(key="data_load")
    assert not load.disabled
    load.click().run()
    assert not at.exception
    assert at.session_state["dataset"].name.startswith("Account.csv")
    m = metrics(at)
    assert m["Accounts"] == "25" and m["Active reps"] == "7"
    assert any("Loaded 25 accounts" in s.value for s in at.success)
    sidebar = " ".join(shown(md.value) for md in at.sidebar.markdown)
    assert "Account.csv" in sidebar and "version 1" in sidebar  # the name is escaped user text


def test_errors_disable_load_and_keep_the_previous_dataset(at, tmp_path):
    bad = tmp_path / "accounts.csv"
    bad.write_text("account_id,name,employees\nA1,a,12\nA1,b,lots\n")
    upload(at, bad)
    report = frame_with(at, "severity")
    assert report["severity"].iloc[0] == "error"
    assert {"Duplicate account_id 'A1' (also on row 2).", "Text in the numeric column 'employees'."} <= set(report["message"])
    assert "None" not in report["row"].astype(str).tolist()
    assert at.button(key="data_load").disabled
    assert any("BLOCKED" in e.value for e in at.error)
    assert metrics(at)["Accounts"] == "6,000"  # the sample is still loaded


def test_mapping_a_wrong_column_reports_it(at, tmp_path):
    f = tmp_path / "accounts.csv"
    f.write_text("Id,Name,Notes\nA1,Acme,call back\nA2,Beta,vip\n")
    upload(at, f)
    assert not at.button(key="data_load").disabled
    select_by_suffix(at, "::accounts::Notes").set_value("employees").run()
    report = frame_with(at, "severity")
    assert (report["message"] == "Text in the numeric column 'employees'.").sum() == 2
    assert at.button(key="data_load").disabled
    # two columns on the same field is caught before checking
    select_by_suffix(at, "::accounts::Notes").set_value("name").run()
    assert any("both 'Name' and 'Notes'" in shown(e.value) for e in at.error)


def test_garbage_upload_shows_a_clear_error(at):
    at.file_uploader(key="data_upload").upload("junk.csv", bytes(range(256)) * 50, "text/csv").run()
    assert not at.exception
    errors = " ".join(shown(e.value) for e in at.error)
    assert "junk.csv" in errors and "binary" in errors
    assert any("still" in w.value for w in at.warning)
    assert metrics(at)["Accounts"] == "6,000"


def test_use_sample_button_restores_the_sample(at):
    upload(at, FIX / "hubspot" / "companies.csv")
    at.button(key="data_load").click().run()
    assert metrics(at)["Accounts"] == "15"
    at.button(key="data_use_sample").click().run()
    assert not at.exception
    assert metrics(at)["Accounts"] == "6,000"


def test_upload_only_reps_keeps_the_loaded_accounts(at, tmp_path):
    reps = tmp_path / "new_reps.csv"
    sample_reps = (Path(__file__).parent.parent / "data" / "sample" / "reps.csv").read_text()
    reps.write_text(sample_reps.replace("Enterprise AE", "Strategic AE"))
    upload(at, reps)
    assert at.checkbox(key="data_reuse").value is False  # off unless asked: never the old accounts silently
    assert any("No file is marked as accounts" in e.value for e in at.error)
    assert not [b for b in at.button if b.key == "data_load"]  # nothing to load yet
    at.checkbox(key="data_reuse").check().run()
    assert "6,000 accounts" in at.checkbox(key="data_reuse").label.replace("\\", "")  # says whose and how many
    assert any("Using the 6,000 accounts" in i.value.replace("\\", "") for i in at.info)
    assert at.button(key="data_load").disabled is False
    at.button(key="data_load").click().run()
    ds = at.session_state["dataset"]
    assert len(ds.accounts) == 6000 and len(ds.opportunities) > 8000
    assert (ds.reps["role"] == "Strategic AE").sum() == 8
    assert "support_tickets" in ds.accounts.columns  # extra numeric columns survive the round trip
    # loaded: the uploader starts empty again (the files are in), so nothing is left to check
    assert "data_upload_1" in at.session_state and "_data_result" not in at.session_state
    assert not [c for c in at.checkbox if c.key == "data_reuse"]
    assert not at.error
