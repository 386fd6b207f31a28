"""AppTest of the Data page's import flow on a new user's own exports (issue 14 items 2, 3, 6, 10;
issue 11 item 7)."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from conftest import APP_PATH

FIX = Path(__file__).parent / "fixtures"
HS = FIX / "hubspot"


pytestmark = pytest.mark.usefixtures("app_shell_mode")  # app.py runs as on a real server


@pytest.fixture
def at():
    at = AppTest.from_file(APP_PATH, default_timeout=90).run()
    at.switch_page("pages/data.py").run()
    assert not at.exception
    return at


def upload(at, *files):
    up = at.file_uploader(key="data_upload")
    for name, data in files:
        up = up.upload(name, data, "text/csv")
    up.run()
    assert not at.exception, at.exception
    return at


def plain(text: str) -> str:
    return text.replace("\\", "")  # user text reaches Markdown escaped


def select(at, suffix):
    (hit,) = [s for s in at.selectbox if s.key and s.key.endswith(suffix)]
    return hit


def report(at):
    (df,) = [d.value for d in at.dataframe if "severity" in d.value.columns]
    return df


def expander_labels(at):
    return [plain(e.label) for e in at.expander]


def test_joined_name_columns_are_shown_and_a_wrong_name_mapping_is_explained(at):
    upload(at, ("companies.csv", (HS / "companies.csv").read_bytes()), ("owners.csv", (HS / "owners.csv").read_bytes()))
    first, last = select(at, "::reps::First name"), select(at, "::reps::Last name")
    # what is really used: both parts say they are joined into the rep name
    assert first.value == "(ignore)" and first.format_func(first.value) == "(joined into name)"
    assert last.format_func(last.value) == "(joined into name)"
    assert any("name is built by joining First name + Last name (e.g. 'Dana Whitfield')" in plain(c.value)
               for c in at.caption)
    assert "Column mapping (4 of 5 columns used)" in expander_labels(at)  # Owner ID, Team, First + Last
    assert not at.button(key="data_load").disabled
    # mapping First name -> name alone: every owner fails, and the error says which names and how built
    first.set_value("name").run()
    assert select(at, "::reps::First name").value == "name"  # the choice sticks
    assert select(at, "::reps::Last name").format_func("(ignore)") == "(ignore)"  # no longer joined
    assert "Column mapping (3 of 5 columns used)" in expander_labels(at)  # the count follows the choice
    rep = report(at)
    errs = rep[rep["severity"] == "error"]
    assert len(errs) == 15 and at.button(key="data_load").disabled
    fix = errs["fix"].iloc[0]
    assert errs["message"].iloc[0] == "Owner 'Dana Whitfield' matches no rep_id and no rep name in the reps file."
    assert "names built from the column 'First name' are 'Dana', 'Ken', 'Lucia', 'Marcus' and 1 more" in fix


def test_no_reps_says_what_is_missing_and_creates_reps_from_owner_names(at):
    upload(at, ("companies.csv", (HS / "companies.csv").read_bytes()))
    rep = report(at)
    assert any("name 5 owners" in m and "no reps file was given" in m for m in rep["message"])
    at.button(key="data_load").click().run()
    warn = " ".join(plain(w.value) for w in at.warning)
    assert "This dataset has no reps: its 15 accounts name 5 owners (e.g. 'Dana Whitfield'" in warn
    btn = at.button(key="data_reps_from_owners")
    assert btn.label == "Create 5 reps from the owner names (capacity 1 FTE each)"
    btn.click().run()
    assert not at.exception
    ds = at.session_state["dataset"]
    assert sorted(ds.reps["name"]) == sorted(["Dana Whitfield", "Ken Watanabe", "Lucia Fernández", "Marcus Lee",
                                              "Tom O'Brien"])
    assert ds.reps["capacity"].tolist() == [1.0] * 5 and ds.reps["active"].all()
    assert set(ds.accounts["owner_id"]) == set(ds.reps["rep_id"])
    assert any("Created 5 reps" in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "data_reps_from_owners"]  # nothing missing any more


def test_the_same_file_twice_is_named_and_ignored(at):
    data = (HS / "companies.csv").read_bytes()
    upload(at, ("companies.csv", data), ("companies (1).csv", data))
    assert any("companies (1).csv has the same content as companies.csv" in plain(w.value) for w in at.warning)
    assert len([s for s in at.selectbox if s.key and s.key.startswith("kind::")]) == 1
    assert not at.button(key="data_load").disabled


def test_uploader_limit_is_the_importers(at):
    from territory_core.ingest.importer import MAX_BYTES

    assert at.file_uploader(key="data_upload").proto.max_upload_size_mb == MAX_BYTES // 1_000_000 == 100


def test_a_wide_file_draws_dropdowns_only_for_the_columns_that_matter(at):
    header = ["Id", "Name", "BillingPostalCode", "ARR__c"] + [f"Custom_{i}__c" for i in range(296)]
    row = ["A1", "Acme", "02139", "1000"] + ["x"] * 296
    data = (",".join(header) + "\n" + ",".join(row) + "\n").encode()
    upload(at, ("wide.csv", data))
    maps = [s for s in at.selectbox if s.key and s.key.startswith("map::")]
    assert sorted(s.label for s in maps) == ["BillingPostalCode", "Id", "Name"]
    more = at.multiselect(key=[m.key for m in at.multiselect if m.key and m.key.startswith("mapmore::")][0])
    assert "297 not shown" in more.label
    more.select("ARR__c").run()
    select(at, "::accounts::ARR__c").set_value("arr").run()
    assert not at.exception and not at.button(key="data_load").disabled
    at.button(key="data_load").click().run()
    assert at.session_state["dataset"].accounts["arr"].tolist() == [1000.0]
