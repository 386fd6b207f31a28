"""``python -m territory_core route`` end to end, and the ``serve`` service with a real HTTP client
against a running server (a uvicorn subprocess on a free port)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from territory_core.contract import A
from territory_core.dataset import save_dir
from territory_core.plan.scenarios import Scenario
from territory_core.store.routing import RoutingStore
from territory_core.store.storage import ScenarioStore

from test_route_router import plan_dataset

ROOT = Path(__file__).resolve().parent.parent


def cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "territory_core", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("route_cli")
    ds = plan_dataset()
    save_dir(ds, tmp / "data")
    pd.DataFrame({"account_id": ds.accounts[A.account_id], "rep_id": ds.accounts[A.owner_id]}).to_csv(tmp / "plan.csv", index=False)
    leads = pd.DataFrame([
        {"Lead ID": "L1", "Company": "Sun Shop Inc.", "Email": "x@sunshop.com", "Zip": "94105", "Employees": "10"},
        {"Lead ID": "L2", "Company": "Acme anything", "Email": "bob@acme.com", "Zip": "10001", "Employees": "12"},
        {"Lead ID": "L3", "Company": "Texas Tacos", "Email": "t@gmail.com", "State": "TX", "Employees": "many"},
        {"Lead ID": "", "Company": "No id", "Zip": "94105"},
        {"Lead ID": "L1", "Company": "Repeated", "Zip": "94105"},
        {"Lead ID": "L6", "Company": "New Bakery", "Zip": "94105", "Employees": "4"},
    ])
    leads.to_csv(tmp / "leads.csv", index=False)
    (tmp / "rules.toml").write_text('[routing]\nas_of = "2026-12-01"\n\n[[decision]]\nfield = "state"\nvalue = "tx"\n'
                                    'rep_id = "E1"\npriority = 10\nnote = "Texas pilot"\n', encoding="utf-8")
    return tmp


def test_route_with_a_plan_file_loses_nothing(files):
    t = files
    r = cli("route", "--plan", t / "plan.csv", "--accounts", t / "data/accounts.csv", "--reps", t / "data/reps.csv",
            "--rules", t / "rules.toml", "--input", t / "leads.csv", "--out", t / "routed.csv",
            "--exceptions", t / "exc.csv")
    assert r.returncode == 0, r.stderr
    routed, exc = pd.read_csv(t / "routed.csv", dtype=str), pd.read_csv(t / "exc.csv", dtype=str)
    assert list(routed.columns) == ["record_id", "rep_id", "team", "rule", "reason"]
    assert len(routed) + len(exc) == 6
    got = dict(zip(routed["record_id"], zip(routed["rep_id"], routed["rule"])))
    assert got["L1"] == ("W1", "company_name") and got["L2"] == ("WE", "domain")
    assert got["L3"] == ("E1", "decision_rule")  # no geography for Texas; the rules file's decision rule settles it
    assert got["L6"][1] == "segment_county"
    assert exc["kind"].tolist() == ["bad_record", "bad_record"] and exc["row"].tolist() == ["4", "5"]
    assert exc["company"].tolist() == ["No id", "Repeated"]  # the input row travels with its exception
    assert "Routed 4 of 6 leads (66.7%)" in r.stdout
    assert "row 4 column employees" in r.stderr and "routed with that value unknown" in r.stderr


def test_route_usage_and_data_errors(files, capsys):
    from territory_core.__main__ import main

    t = files
    base = ["--accounts", str(t / "data/accounts.csv"), "--reps", str(t / "data/reps.csv"), "--out", str(t / "o.csv")]

    def run(*args):
        code = main(["route", *map(str, args)])
        return code, capsys.readouterr().err

    code, err = run(*base, "--input", t / "leads.csv")
    assert code == 2 and "--plan FILE or --scenario NAME" in err
    code, err = run("--plan", t / "nope.csv", *base, "--input", t / "leads.csv")
    assert code == 2 and "plan file not found" in err
    (t / "bad.toml").write_text("[routing]\nteams = 'region'\n")
    code, err = run("--plan", t / "plan.csv", *base, "--rules", t / "bad.toml", "--input", t / "leads.csv")
    assert code == 2 and "teams must be a list" in err
    (t / "noid.csv").write_text("colour,size\nred,1\n")
    code, err = run("--plan", t / "plan.csv", *base, "--input", t / "noid.csv")
    assert code == 1 and "has no account_id column" in err and "Traceback" not in err


def test_route_a_saved_scenario_into_the_queue(files):
    t = files
    url = f"sqlite:///{t / 'cli.db'}"
    store = ScenarioStore(url)
    ds = plan_dataset()
    store.save(Scenario.today(ds).with_(name="FY27 plan"), user="ana")
    r = cli("route", "--scenario", "FY27 plan", "--db", url, "--data", t / "data", "--input", t / "leads.csv",
            "--out", t / "routed2.csv", "--queue", "--user", "cli tester", "--as-of", "2026-12-01")
    assert r.returncode == 0, r.stderr
    assert Path(t / "routed2.exceptions.csv").is_file()
    rs = RoutingStore(store)
    q = rs.queue()
    assert sorted(q["kind"]) == ["bad_record", "bad_record", "no_rule"]  # Texas: no decision rule this time
    runs = rs.runs()
    assert (runs.loc[0, "records"], runs.loc[0, "by"], runs.loc[0, "plan_label"]) == (6, "cli tester", "FY27 plan v1")
    store.close()


# ------------------------------------------------------------------------------------------------ service
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def service(files):
    t = files
    port = _free_port()
    url = f"sqlite:///{t / 'svc.db'}"
    env = {**os.environ, "TERRITORY_ROUTE_TOKEN": "t0ken-for-tests", "TERRITORY_DB_URL": url}
    log = open(t / "svc.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "territory_core", "serve", "--plan", str(t / "plan.csv"), "--data",
                             str(t / "data"), "--as-of", "2026-12-01", "--port", str(port)],
                            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                if requests.get(base + "/health", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail("the service did not start: " + (t / "svc.log").read_text()[-2000:])
                time.sleep(0.3)
        yield base, url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


AUTH = {"Authorization": "Bearer t0ken-for-tests"}


def test_service_routes_a_lead(service):
    base, _ = service
    with requests.Session() as s:
        r = s.post(base + "/route", json={"lead_id": "W-1", "company": "SUN SHOP", "zip": 94105, "employees": 10},
                   headers=AUTH, timeout=60)
        assert r.status_code == 200
        body = r.json()
        assert (body["routed"], body["rep_id"], body["rep_name"], body["rule"]) == (True, "W1", "Wendy One", "company_name")
        assert "Sun Shop (S1)" in body["reason"] and body["exception"] is None
        # a webhook without a JSON content type still works
        r = s.post(base + "/route", data='{"account_id": "NEW-1", "name": "Kid Co", "parent_id": "P1"}',
                   headers={**AUTH, "Content-Type": "text/plain"}, timeout=60)
        assert r.status_code == 200 and (r.json()["rep_id"], r.json()["rule"]) == ("WE", "family")


def test_service_refuses_without_the_token(service):
    base, _ = service
    assert requests.post(base + "/route", json={"lead_id": "x"}, timeout=60).status_code == 401
    r = requests.post(base + "/route", json={"lead_id": "x"}, headers={"Authorization": "Bearer wrong"}, timeout=60)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("body, field, words", [
    ('{"lead_id": "L", "employees": "many"}', "employees", "valid number"),
    ('{"lead_id": "L", "zipcode": "94105"}', "zipcode", "Unknown field"),
    ('{"lead_id": "L", "named": "perhaps"}', "named", "valid boolean"),
    ('{"lead_id": "L", "employees": -4}', "employees", "0 or more"),
    ('{"company": "No id"}', "lead_id", "lead_id (a lead) or account_id"),
    ('{"lead_id": ', None, "not valid JSON"),
    ('[1, 2]', None, "one JSON object"),
])
def test_service_bad_json_is_400_naming_the_field(service, body, field, words):
    base, _ = service
    r = requests.post(base + "/route", data=body, headers={**AUTH, "Content-Type": "application/json"}, timeout=60)
    assert r.status_code == 400
    assert r.json()["field"] == field and words in r.json()["error"]


def test_service_exception_goes_to_the_queue(service):
    base, url = service
    r = requests.post(base + "/route", json={"lead_id": "NOWHERE-1", "company": "Placeless"}, headers=AUTH, timeout=60)
    body = r.json()
    assert r.status_code == 200 and body["routed"] is False and body["exception"] == "no_rule" and body["queued"] is True
    store = ScenarioStore(url)
    try:
        rs = RoutingStore(store)
        for _ in range(50):  # written after the response was sent
            q = rs.queue()
            if "NOWHERE-1" in set(q["record_id"]):
                break
            time.sleep(0.1)
        row = q.set_index("record_id").loc["NOWHERE-1"]
        assert row["kind"] == "no_rule" and row["source"] == "POST /route"
    finally:
        store.close()
