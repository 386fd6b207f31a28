"""Every page on a new user's own, thinner data (issue 14 items 3, 5, 8, 9): no reps, reps with no
segment or quota, no locations, deals dated in the future. No exception, no Python exception name,
and every chart either draws or says which column would fill it."""
import base64
import json
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import shown, APP_PATH
from territory_core.ingest.importer import load_files
from territory_core.ingest.owners import add_reps_for_owners

FIX = Path(__file__).parent / "fixtures"
PAGES = ["pages/data.py", "pages/health.py", "pages/whitespace_map.py", "pages/segments.py",
         "pages/scenario_editor.py", "pages/compare.py"]
EXC_NAME = re.compile(r"\b[A-Z][A-Za-z]*(Error|Exception)\b|Traceback")


pytestmark = pytest.mark.usefixtures("app_shell_mode")  # app.py runs as on a real server


def app_with(ds):
    at = AppTest.from_file(APP_PATH, default_timeout=120)
    at.session_state["dataset"] = ds
    at.session_state["dataset_version"] = 1000 + len(ds.accounts) + len(ds.reps)
    return at.run()


def texts(at) -> str:
    out = []
    for kind in ("error", "warning", "info", "markdown", "caption", "success"):
        out += [e.value for e in getattr(at, kind)]
    return "\n".join(out).replace("\\", "")


def charts(at) -> list[dict]:
    """Every plotly figure on the page (AppTest keeps them as unknown elements with a JSON spec)."""
    out, stack = [], [at._tree]
    while stack:
        node = stack.pop()
        spec = getattr(getattr(node, "proto", None), "spec", None)
        if isinstance(spec, str) and spec.startswith("{"):
            out.append(json.loads(spec))
        ch = getattr(node, "children", None)
        if isinstance(ch, dict):
            stack.extend(ch.values())
    return out


def values(v) -> list:
    """A plotly array, plain or base64-packed ({"bdata", "dtype"})."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"]).tolist()
    return list(v)


def title(fig) -> str:
    t = fig.get("layout", {}).get("title")
    return (t.get("text") if isinstance(t, dict) else t) or ""


# pages that draw only their open tab below the top: every tab is visited
TAB_KEYS = {"pages/compare.py": "cmp_tab", "pages/whitespace_map.py": "ws_tab"}


def visit_every_page(at):
    seen = {}
    for p in PAGES:
        at.switch_page(p).run()
        assert not at.exception, (p, [e.value for e in at.exception])
        body = texts(at)
        for label in [t.label for t in at.tabs] if p in TAB_KEYS else []:
            at.session_state[TAB_KEYS[p]] = label
            at.run()
            assert not at.exception, (p, label, [e.value for e in at.exception])
            body += "\n" + texts(at)
        assert not EXC_NAME.search(body), (p, EXC_NAME.search(body).group(0), body[:2000])
        seen[p] = body
    return seen


@pytest.fixture(scope="module")
def no_reps():
    return load_files(accounts=FIX / "hubspot" / "companies.csv").dataset


def test_every_page_says_plainly_that_there_are_no_reps(no_reps):
    at = app_with(no_reps)
    seen = visit_every_page(at)
    for p in ("pages/health.py", "pages/scenario_editor.py", "pages/compare.py", "pages/whitespace_map.py"):
        assert "This dataset has no reps: its 15 accounts name 5 owners" in seen[p], p
    assert "create 5 reps from the owner names below" in seen["pages/data.py"]
    # re-solving says what is missing, with no exception name
    at.switch_page("pages/scenario_editor.py").run()
    at.button(key="se_resolve").click().run()
    for _ in range(60):
        if any("The solve could not run" in shown(e.value) for e in at.error):
            break
        at.run()
    err = " ".join(shown(e.value) for e in at.error)
    assert "The solve could not run: There are no reps to assign accounts to" in err and "ValueError" not in err


def test_owners_that_are_not_reps_are_named_on_every_page():
    ds = load_files(accounts=FIX / "hubspot" / "companies.csv").dataset
    ds, _ = add_reps_for_owners(ds)
    reps = ds.reps[ds.reps["rep_id"] != "Tom O'Brien"].reset_index(drop=True)  # one owner left out
    at = app_with(ds.with_(reps=reps))
    seen = visit_every_page(at)
    for p in ("pages/health.py", "pages/scenario_editor.py", "pages/compare.py"):
        assert "2 accounts are owned by 1 owner who is not in the reps file (e.g. 'Tom O'Brien')" in seen[p], p


@pytest.fixture(scope="module")
def salesforce():
    res = load_files(accounts=FIX / "salesforce" / "Account.csv", reps=FIX / "salesforce" / "User.csv",
                     opportunities=FIX / "salesforce" / "Opportunity.csv",
                     mapping={"ARR__c": "arr", "Quota__c": "quota"})
    assert res.report.ok
    return res.dataset


def test_potential_vs_quota_draws_reps_without_a_segment(salesforce):
    assert salesforce.reps["segment"].isna().all()  # the Salesforce User export has no segment
    at = app_with(salesforce)
    at.switch_page("pages/health.py").run()
    assert not at.exception
    (fig,) = [f for f in charts(at) if title(f).startswith("Potential vs annual quota")]
    dots = [t for t in fig["data"] if t.get("mode") == "markers"]
    assert [t["name"] for t in dots] == ["(no segment)"]
    assert len(values(dots[0]["x"])) == salesforce.reps["quota"].notna().sum() == 7  # every rep with a quota


def test_charts_without_quota_or_opportunities_say_which_column_fills_them():
    ds = load_files(accounts=b"account_id,name,owner_id\nA1,a,R1\nA2,b,R2\nA3,c,R1\n",
                    reps=b"rep_id,name\nR1,Ann\nR2,Bob\n").dataset
    at = app_with(ds)
    seen = visit_every_page(at)
    assert "Attainment needs the reps' quota column" in seen["pages/health.py"]
    assert "Potential versus quota needs the reps' quota column" in seen["pages/health.py"]
    assert "The maps need the accounts' locations" in seen["pages/compare.py"]
    at.switch_page("pages/health.py").run()
    assert not [f for f in charts(at) if title(f).startswith("Attainment distribution")]  # no empty histogram


def test_health_is_as_of_today_and_warns_about_deals_dated_in_the_future(salesforce):
    opps = salesforce.opportunities.copy()
    closed = opps.index[opps["is_closed"].fillna(False).astype(bool)][:2]
    soon = pd.Timestamp(date.today() + timedelta(days=13))
    opps.loc[closed, "close_date"] = soon
    at = app_with(salesforce.with_(opportunities=opps))
    at.switch_page("pages/health.py").run()
    assert not at.exception
    as_of = [d for d in at.date_input if d.label == "As of"][0]
    assert as_of.value == date.today()
    warn = " ".join(w.value for w in at.warning)
    assert f"2 closed deals with a close date after today (latest {soon:%d %b %Y})" in warn
    assert any(f"Data as of {date.today():%d %b %Y} (today)" in c.value for c in at.caption)


def test_whitespace_heatmap_uses_one_money_style(salesforce):
    at = app_with(salesforce)
    at.switch_page("pages/whitespace_map.py").run()
    at.session_state["ws_tab"] = "Industry x size"  # the heatmap's tab, drawn when open
    at.run()
    assert not at.exception
    (hm,) = [f for f in charts(at) if f["data"] and f["data"][0].get("type") == "heatmap"]
    bar = hm["data"][0]["colorbar"]
    assert bar["ticktext"][0] == "$0" and all(t.startswith("$") and not t.endswith("G") for t in bar["ticktext"])
    cells = [v for row in hm["data"][0]["text"] for v in row if v]
    suffixes = {t[-1] for t in bar["ticktext"] + cells if t[-1].isalpha()}
    assert suffixes <= {"k", "M", "B"}
