"""Routing benchmark: batch speed, single-request latency through the running service, and the
lead matcher's match rate on the sample leads (with precision and recall against the truth
scripts/make_leads.py knows). Prints tables; asserts nothing.

    .venv/bin/python scripts/bench_route.py [--records 100000] [--requests 1000]
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import make_leads  # noqa: E402
from territory_core.dataset import load_sample  # noqa: E402
from territory_core.plan.scenarios import Scenario  # noqa: E402
from territory_core.route.records import prepare_records, read_records  # noqa: E402
from territory_core.route.router import Router  # noqa: E402


def table(rows: list[dict]) -> str:
    cols = list(rows[0])
    out = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    out += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for r in rows]
    return "\n".join(out)


def batch(router: Router, n: int, repeats: int = 3) -> list[dict]:
    leads, _ = make_leads.make(n=n, seed=7)
    accounts = load_sample().accounts.drop(columns=["owner_id"]).sample(n=n, replace=True, random_state=7)
    accounts["account_id"] = [f"NEW{i:07d}" for i in range(n)]
    rows = []
    for kind, frame in (("leads", leads), ("new accounts", accounts)):
        prep, route_s, cpu, res = [], [], [], None
        for _ in range(repeats):
            c0, t0 = time.process_time(), time.perf_counter()
            rec = prepare_records(frame, "lead" if kind == "leads" else "account")
            t1 = time.perf_counter()
            res = router.route(rec)
            t2 = time.perf_counter()
            prep.append(t1 - t0)
            route_s.append(t2 - t1)
            cpu.append(time.process_time() - c0)
        p, r = float(np.median(prep)), float(np.median(route_s))
        rows.append({"records": f"{n:,} {kind}", "prepare s": f"{p:.2f}", "route s": f"{r:.2f}",
                     "total s": f"{p + r:.2f}", "CPU s": f"{float(np.median(cpu)):.2f}", "records/s": f"{n / (p + r):,.0f}",
                     "routed": f"{len(res.routed):,}", "exceptions": f"{len(res.exceptions):,}",
                     "under 5 s": "yes" if p + r < 5 else "NO"})
    return rows


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def service(n: int) -> list[dict]:
    import requests

    leads = pd.read_csv(ROOT / "data" / "sample" / "leads.csv", dtype=str, keep_default_na=False)
    bodies = []
    for i in range(n):
        r = leads.iloc[i % len(leads)]
        b = {k: v for k, v in r.items() if v and k != "created_at"}
        b["lead_id"] = f"BENCH-{i}"
        if b.get("employees"):
            b["employees"] = float(b["employees"])
        bodies.append(b)
    tmp = Path(tempfile.mkdtemp())
    port = _free_port()
    env = {**os.environ, "TERRITORY_ROUTE_TOKEN": "bench", "TERRITORY_DB_URL": f"sqlite:///{tmp / 'bench.db'}"}
    a = load_sample().accounts
    pd.DataFrame({"account_id": a["account_id"], "rep_id": a["owner_id"]}).to_csv(tmp / "plan.csv", index=False)
    rows = []
    for queue in (False, True):
        args = [sys.executable, "-m", "territory_core", "serve", "--plan", str(tmp / "plan.csv"), "--port", str(port)]
        proc = subprocess.Popen(args + ([] if queue else ["--no-queue"]), cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if requests.get(base + "/health", timeout=1).ok:
                        break
                except requests.ConnectionError:
                    time.sleep(0.2)
            s = requests.Session()
            h = {"Authorization": "Bearer bench"}
            for b in bodies[:50]:  # warm up
                s.post(base + "/route", json=b, headers=h)
            lat = []
            cpu0 = _cpu_seconds(proc.pid)
            for b in bodies:
                t0 = time.perf_counter()
                resp = s.post(base + "/route", json=b, headers=h)
                lat.append(time.perf_counter() - t0)
                assert resp.status_code == 200, resp.text
            server_cpu = (_cpu_seconds(proc.pid) - cpu0) / n * 1000 if cpu0 is not None else float("nan")
            ms = np.array(lat) * 1000
            rows.append({"requests": f"{n:,}", "queue": "on (SQLite)" if queue else "off",
                         "p50 ms": f"{np.percentile(ms, 50):.1f}", "p95 ms": f"{np.percentile(ms, 95):.1f}",
                         "p99 ms": f"{np.percentile(ms, 99):.1f}", "max ms": f"{ms.max():.1f}",
                         "server CPU ms/request": f"{server_cpu:.2f}",
                         "p99 under 20 ms": "yes" if np.percentile(ms, 99) < 20 else "NO"})
        finally:
            proc.terminate()
            proc.wait(10)
    return rows


def in_process(router: Router, n: int) -> dict:
    leads = pd.read_csv(ROOT / "data" / "sample" / "leads.csv", dtype=str, keep_default_na=False)
    recs = [dict(r) for _, r in leads.iterrows()]
    lat, cpu = [], []
    for i in range(n):
        c0, t0 = time.process_time(), time.perf_counter()
        router.route_one(recs[i % len(recs)], kind="lead")
        lat.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    ms = np.array(lat) * 1000
    return {"requests": f"{n:,}", "queue": "in process (Router.route_one)", "p50 ms": f"{np.percentile(ms, 50):.2f}",
            "p95 ms": f"{np.percentile(ms, 95):.2f}", "p99 ms": f"{np.percentile(ms, 99):.2f}", "max ms": f"{ms.max():.2f}",
            "server CPU ms/request": f"{np.mean(cpu) * 1000:.2f} (CPU p99 {np.percentile(cpu, 99) * 1000:.2f})",
            "p99 under 20 ms": "yes" if np.percentile(ms, 99) < 20 else "NO"}


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def match_rate(router: Router) -> list[dict]:
    rr = read_records(ROOT / "data" / "sample" / "leads.csv")
    leads, truth = make_leads.make()
    res = router.route(rr.records)
    dec = pd.DataFrame([d.to_dict() for d in res.decisions]).merge(truth, left_on="record_id", right_on="lead_id")
    matched = dec["rule"].isin(["company_name", "domain"]) | (dec["exception"] == "family_conflict") | \
        ((dec["exception"] == "inactive_owner") & dec["rule"].isin(["company_name", "domain"]))
    dec["matched"] = matched
    # the account each match resolved to: from the reason's "(Axxxxx)" of a decided match
    dec["to"] = dec["reason"].str.extract(r"matches .*? \((A\d{5})\)")[0]
    known = dec["account_id"].notna()
    rows = []
    for label, sel in (("all sample leads", slice(None)), ("companies we have", known), ("new companies", ~known)):
        d = dec[sel]
        rows.append({"leads": label, "n": f"{len(d):,}", "matched": f"{int(d['matched'].sum()):,}",
                     "match rate": f"{d['matched'].mean():.1%}"})
    for v in ("exact", "legal_form", "shouted", "typo"):
        d = dec[dec["variant"] == v]
        rows.append({"leads": f"  written {v.replace('_', ' ')}", "n": f"{len(d):,}", "matched": f"{int(d['matched'].sum()):,}",
                     "match rate": f"{d['matched'].mean():.1%}"})
    decided = dec[dec["matched"] & dec["to"].notna()]
    right = int((decided["to"] == decided["account_id"]).sum())
    wrong_new = int(decided["account_id"].isna().sum())
    rows.append({"leads": "precision of decided matches", "n": f"{len(decided):,}", "matched": f"{right:,} right",
                 "match rate": f"{right / len(decided):.1%} ({wrong_new} new companies matched an account)"})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--skip-service", action="store_true")
    a = ap.parse_args(argv)
    ds = load_sample()
    load = os.getloadavg()
    print(f"Machine: {os.cpu_count()} cores, load average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} (1/5/15 min) "
          "when the run started: wall times grow with the load, CPU times much less.\n")
    t0 = time.perf_counter()
    router = Router.from_scenario(ds, Scenario.today(ds))
    print(f"Router compiled from today's plan (6,000 accounts, 40 reps) in {time.perf_counter() - t0:.2f} s.\n")
    print("Batch (median of 3; prepare = normalise, ZIP -> county, domains and names):\n")
    print(table(batch(router, a.records)) + "\n")
    print("Single requests on the sample leads (POST /route over HTTP keep-alive, one client):\n")
    rows = [in_process(router, a.requests)]
    if not a.skip_service:
        rows = service(a.requests) + rows
    print(table(rows) + "\n")
    print(f"Lead matching on data/sample/leads.csv (domain, then company name at rapidfuzz token_sort_ratio >= "
          f"{router.name_threshold:.0f}):\n")
    print(table(match_rate(router)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
