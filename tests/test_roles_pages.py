"""AppTests of roles on the pages: a viewer's Save and owner-file exports are disabled with the
reason; a manager sees only their team's reps and accounts on Health, the Scenario Editor and
Compare, and in the exported bytes; the sign-in gate, a broken roles file and the trusted-header
mode on a non-loopback server stop the app with the reason."""
from __future__ import annotations

import io

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from conftest import ROOT, shown

TIMEOUT = 120
ROLES = """
default = "viewer"

[users]
"ben@example.com" = "planner"
"vic@example.com" = "viewer"
"jen@example.com" = { role = "manager", manager = "Jennifer Gonzalez" }
"""


@pytest.fixture(scope="module")
def west():
    from test_scenario_editor_page import west

    return west()


@pytest.fixture
def roles(tmp_path, monkeypatch):
    f = tmp_path / "roles.toml"
    f.write_text(ROLES)
    monkeypatch.setenv("TERRITORY_ROLES", str(f))
    monkeypatch.setenv("TERRITORY_DB_URL", f"sqlite:///{tmp_path / 'scenarios.db'}")
    monkeypatch.delenv("TERRITORY_TRUSTED_USER_HEADER", raising=False)
    return f


@pytest.fixture
def files(monkeypatch):
    """Download buttons' file bytes by file name (callables for files made on click)."""
    from streamlit.runtime.media_file_manager import MediaFileManager

    got: dict[str, object] = {}
    real_add, real_deferred = MediaFileManager.add, MediaFileManager.add_deferred

    def add(self, data, mimetype, coordinates, file_name=None, is_for_static_download=False):
        if file_name:
            got[file_name] = data
        return real_add(self, data, mimetype, coordinates, file_name, is_for_static_download)

    def add_deferred(self, fn, mimetype, coordinates, file_name=None, **kw):
        got[file_name] = fn
        return real_deferred(self, fn, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add", add)
    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return got


def _bytes(data) -> bytes:
    """A download button's file: bytes, or the callable that makes them on click."""
    return data() if callable(data) else data


def _app(ds, email: str, page: str | None = None, **state) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.user = {"is_logged_in": True, "email": email}
    at.session_state["dataset"] = ds
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.message for e in at.exception]
    return at


def _team(ds, manager="Jennifer Gonzalez"):
    from territory_core.contract import A, R

    reps = set(ds.reps.loc[ds.reps[R.manager] == manager, R.rep_id].astype(str))
    accounts = set(ds.accounts.loc[ds.accounts[A.owner_id].astype(str).isin(reps), A.account_id].astype(str))
    return reps, accounts


def _two_team_moves(ds):
    """A plan that moves 10 accounts inside Jennifer Gonzalez's team and 7 inside Betty Anderson's."""
    from territory_core.contract import S
    from territory_core.plan.scenarios import Scenario

    today = Scenario.today(ds)
    asg = today.assignment.copy()
    for manager, n in (("Jennifer Gonzalez", 10), ("Betty Anderson", 7)):
        reps = sorted(_team(ds, manager)[0])
        idx = asg.index[asg[S.rep_id].astype(str) == reps[0]][:n]
        asg.loc[idx, S.rep_id] = reps[1]
        asg.loc[idx, S.moved] = True
        asg.loc[idx, S.reason] = "Balance"
    return Scenario(name="Both teams", assignment=asg, report={"status": "optimal", "moves": 17, "gap": 0.0})


def _save(ds, scn):
    import os

    from territory_core.store.storage import ScenarioStore

    store = ScenarioStore(os.environ["TERRITORY_DB_URL"])
    try:
        return store.save(scn, user="ben@example.com")
    finally:
        store.close()


def test_viewer_cannot_save_or_export_owner_files(roles, west, files):
    at = _app(west, "vic@example.com")
    assert any("vic@example.com" in shown(c.value) and "viewer" in c.value for c in at.sidebar.caption)
    at.switch_page("pages/scenario_editor.py").run()
    at.session_state["se_tabs"] = "Save & history"  # the editor draws only its open tab
    at.run()
    save = at.button(key="se_save")
    assert save.disabled and "viewer role (as listed in the roles file), which cannot save scenarios" in shown(save.help)

    saved = _save(west, _two_team_moves(west))
    at = _app(west, "vic@example.com", "pages/compare.py", cmp_1_id=saved.id, cmp_tab="Export")
    buttons = {b.proto.label: b.proto for b in at.get("download_button")}
    for label in ("Assignment CSV", "Assignment Excel", "Salesforce Data Loader CSV"):
        assert buttons[label].disabled and "cannot export owner files" in shown(buttons[label].help)
    assert not buttons["One-page summary (HTML)"].disabled  # a report, not an owner file
    got = _bytes(files.get("Both_teams_v1_assignment.csv", b""))  # a disabled button may register no file
    assert got == b"" or len(pd.read_csv(io.BytesIO(got))) == 0
    assert any("Owner files are disabled" in c.value for c in at.caption)

    # a planner gets both
    at = _app(west, "ben@example.com", "pages/scenario_editor.py")
    at.session_state["se_tabs"] = "Save & history"
    at.run()
    assert not at.button(key="se_save").disabled


def test_manager_sees_only_their_team_on_every_page_and_export(roles, west, files):
    from territory_core.contract import A, R, S

    reps, accounts = _team(west)
    assert len(reps) == 5 and 0 < len(accounts) < len(west.accounts)
    saved = _save(west, _two_team_moves(west))  # saved by a planner, over the whole West

    at = _app(west, "jen@example.com")
    assert any("team of Jennifer Gonzalez" in shown(m.value) for m in at.sidebar.markdown)
    at.switch_page("pages/health.py").run()
    table = next(d.value for d in at.dataframe if "Rep ID" in d.value.columns)
    assert set(table["Rep ID"]) == reps
    assert at.multiselect(key="health_f_manager").options == ["Jennifer Gonzalez"]

    at = _app(west, "jen@example.com", "pages/scenario_editor.py")
    scn = at.session_state["se_scn"]
    assert set(scn.assignment[S.account_id].astype(str)) == accounts
    assert set(at.selectbox(key="se_leave_rep").options) == {f"{n} · {g}, {s} ({r})" for r, n, g, s in zip(
        west.reps[R.rep_id], west.reps[R.name], west.reps[R.region], west.reps[R.segment]) if r in reps}

    at = _app(west, "jen@example.com", "pages/compare.py", cmp_1_id=saved.id, cmp_exp_rows="all",
              cmp_tab="What changes hands")
    moves = next(d.value for d in at.dataframe if "from_name" in d.value.columns)
    assert len(moves) == 10 and set(moves["account_id"]) <= accounts
    kpi = next(d.value for d in at.dataframe if "KPI" in d.value.columns)
    assert kpi.loc[kpi["KPI"] == "Active reps", "Both teams v1"].iloc[0] == "5"
    at.session_state["cmp_tab"] = "Export"  # the files: the Export tab, drawn when open
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    csv = pd.read_csv(io.BytesIO(_bytes(files["Both_teams_v1_assignment.csv"])), dtype=str, keep_default_na=False)
    assert set(csv["account_id"]) == accounts and len(csv) == len(accounts)
    assert (csv["previous_owner_id"] != csv["new_owner_id"]).sum() == 10
    assert set(csv["new_owner_id"]) <= reps
    sf = pd.read_csv(io.BytesIO(_bytes(files["Both_teams_v1_salesforce.csv"])), dtype=str)
    assert len(sf) == len(accounts)
    outsiders = set(west.accounts[A.account_id].astype(str)) - accounts
    html = files["Both_teams_v1_summary.html"]().decode("utf-8")
    assert not any(f">{a}<" in html for a in list(outsiders)[:200])


def test_sign_in_gate_when_auth_is_configured(roles, west):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.secrets["auth"] = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 32,
                          "client_id": "c", "client_secret": "s",
                          "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}
    at.session_state["dataset"] = west
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    assert [b.label for b in at.button] == ["Sign in"]
    assert not at.dataframe and not at.metric  # no page ran


def test_broken_roles_file_stops_the_app(roles, west):
    roles.write_text('[users]\n"jen@example.com" = "manager"\n')
    at = _app(west, "jen@example.com")
    assert any("roles file cannot be used" in shown(e.value) and "manager without a manager value" in shown(e.value)
               for e in at.error)
    assert not at.dataframe and not at.metric


def test_trusted_header_mode_refuses_a_server_open_to_the_network(roles, west, monkeypatch, server_address):
    monkeypatch.delenv("TERRITORY_ROLES")
    monkeypatch.setenv("TERRITORY_TRUSTED_USER_HEADER", "X-Forwarded-Email")
    server_address("0.0.0.0")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.session_state["dataset"] = west
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    msg = shown(at.error[0].value)
    assert "will not run in trusted-header mode" in msg and "--server.address 127.0.0.1" in msg
    assert not at.dataframe and not at.metric
    server_address("127.0.0.1")  # behind a same-host proxy: the app runs
    at.run()
    assert not at.error and at.metric
