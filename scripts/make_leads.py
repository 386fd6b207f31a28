"""Generate the deterministic sample leads, data/sample/leads.csv (fixed seed), from the committed
sample accounts (the other sample files are read, never changed).

    .venv/bin/python scripts/make_leads.py [--seed 20261201] [--leads 2000] [--out data/sample/leads.csv]

What is in it (columns of the data contract's leads table):

- 40% of the leads come from companies we already have, named as people type them: the exact
  account name, the legal form changed or dropped ("Summit Software Inc" -> "Summit Software, LLC"),
  shouted with punctuation ("SUMMIT SOFTWARE INC."), or with one typo after the third letter.
- 60% are new companies (names from the same word lists, not the name of an account we have).
- ZIPs on real US ZIP codes (the account's own for known companies); some leads give only a
  state, some no place at all, a few are from Canada.
- Work emails at the company's domain (``first.last@summitsoftware.com``), 15% at a free mail
  provider; 30% also fill in the website.
- employees and industry as a web form gets them (some blank), created over November 2026.

``make()`` also returns the truth (which account each lead really is), so
``scripts/bench_route.py`` can measure the matcher's precision and recall, not just its match rate.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import make_sample as ms  # noqa: E402
from territory_core.contract import A, L  # noqa: E402

SEED = 20261201
N_LEADS = 2000
FREE_MAIL = ["gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com"]
VARIANTS = ("exact", "legal_form", "shouted", "typo")
START = pd.Timestamp("2026-11-01")


def _slug(name: str) -> str:
    words = [w for w in re.sub(r"[^a-z0-9 ]", "", name.lower()).split() if w not in
             {"inc", "llc", "corp", "co", "ltd", "holdings"}]
    return "".join(words) or "company"


def _body_and_form(name: str) -> tuple[str, str]:
    parts = name.split()
    if len(parts) > 1 and parts[-1] in ms.SUFFIX:
        return " ".join(parts[:-1]), parts[-1]
    return name, ""


def _variant(rng, name: str, kind: str) -> str:
    body, form = _body_and_form(name)
    if kind == "exact":
        return name
    if kind == "legal_form":
        forms = [f for f in ("Inc.", "LLC", "Corp.", "Co.", "Ltd", "Incorporated", "") if f.rstrip(".") != form]
        new = forms[int(rng.integers(len(forms)))]
        return f"{body}, {new}" if new else body
    if kind == "shouted":
        return (name.upper() + ".") if form else name.upper()
    # one typo after the third letter: drop, double or swap a letter
    letters = [i for i, ch in enumerate(body) if ch.isalpha() and i >= 3]
    if not letters:
        return name
    i = letters[int(rng.integers(len(letters)))]
    op = int(rng.integers(3))
    if op == 0:
        body = body[:i] + body[i + 1:]
    elif op == 1:
        body = body[:i] + body[i] + body[i:]
    elif i + 1 < len(body) and body[i + 1].isalpha():
        body = body[:i] + body[i + 1] + body[i] + body[i + 2:]
    else:
        body = body[:i] + body[i + 1:]
    return f"{body} {form}".strip()


def _new_names(rng, n: int, taken: set[str]) -> tuple[list[str], list[str]]:
    inds = list(ms.INDUSTRIES)
    share = np.array([ms.INDUSTRIES[i][0] for i in inds])
    names, industries = [], []
    seen = set(taken)
    while len(names) < n:
        ind = inds[int(rng.choice(len(inds), p=share / share.sum()))]
        a = ms.WORDS_A[int(rng.integers(len(ms.WORDS_A)))]
        b = ms.WORDS_B[ind][int(rng.integers(len(ms.WORDS_B[ind])))]
        if rng.random() < 0.5:
            a = f"{a} {ms.WORDS_A[int(rng.integers(len(ms.WORDS_A)))]}"
        s = ms.SUFFIX[int(rng.integers(len(ms.SUFFIX)))]
        nm = f"{a} {b}" + (f" {s}" if s else "")
        key = _body_and_form(nm)[0].lower()
        if key in seen:
            continue
        seen.add(key)
        names.append(nm)
        industries.append(ind)
    return names, industries


def make(accounts: pd.DataFrame | None = None, n: int = N_LEADS, seed: int = SEED) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(leads, truth): the leads table, and per lead the account it really is (``account_id``,
    NA for a new company) and how its name was written (``variant``)."""
    rng = np.random.default_rng(seed)
    if accounts is None:
        accounts = pd.read_csv(ROOT / "data" / "sample" / "accounts.csv", dtype={A.zip: str, A.county: str})
    acc = accounts.reset_index(drop=True)
    n_known = int(round(n * 0.4))
    pick = rng.choice(len(acc), size=n_known, replace=len(acc) < n_known)
    known = acc.iloc[pick].reset_index(drop=True)
    taken = {_body_and_form(str(x))[0].lower() for x in acc[A.name]}
    new_names, new_inds = _new_names(rng, n - n_known, taken)
    zp = ms._zip_pool()
    zpick = rng.choice(len(zp), size=n - n_known, p=(zp["weight"] / zp["weight"].sum()).to_numpy())
    zloc = zp.iloc[zpick].reset_index(drop=True)

    rows, truth = [], []
    for i in range(n):
        is_known = i < n_known
        if is_known:
            a = known.iloc[i]
            kind = VARIANTS[int(rng.choice(4, p=[0.4, 0.25, 0.15, 0.2]))]
            company = _variant(rng, str(a[A.name]), kind)
            zip_, state = str(a[A.zip]) if pd.notna(a[A.zip]) else "", str(a[A.state]) if pd.notna(a[A.state]) else ""
            emp = float(a[A.employees]) if pd.notna(a[A.employees]) else np.nan
            emp = round(emp * float(rng.uniform(0.8, 1.25))) if np.isfinite(emp) else np.nan
            industry = str(a[A.industry]) if pd.notna(a[A.industry]) else ""
            truth.append((str(a[A.account_id]), kind))
            slug = _slug(str(a[A.name]))
        else:
            j = i - n_known
            company = new_names[j]
            zip_, state = str(zloc.at[j, "zip"]), str(zloc.at[j, "state"])
            emp = float(max(1, round(rng.lognormal(3.4, 1.4))))
            industry = new_inds[j]
            truth.append((None, "new"))
            slug = _slug(company)
        country = "US"
        r = rng.random()
        if r < 0.08:
            zip_ = ""  # a state only
        elif r < 0.12:
            zip_, state = "", ""  # no place given
        elif r < 0.14 and not is_known:
            zip_, state, country = "", "ON", "Canada"
        if rng.random() < 0.15:
            emp = np.nan
        if rng.random() < 0.05:
            industry = ""
        first = ms.FIRST[int(rng.integers(len(ms.FIRST)))]
        last = ms.LAST[int(rng.integers(len(ms.LAST)))]
        domain = f"{slug}.com"
        email_domain = FREE_MAIL[int(rng.integers(len(FREE_MAIL)))] if rng.random() < 0.15 else domain
        website = (f"https://www.{domain}" if rng.random() < 0.5 else domain) if rng.random() < 0.3 else ""
        created = START + pd.Timedelta(seconds=int(rng.integers(0, 30 * 86400)))
        rows.append({L.lead_id: "", L.company: company, L.email: f"{first}.{last}@{email_domain}".lower(),
                     L.domain: website, L.zip: zip_, L.state: state, L.country: country,
                     L.employees: emp, L.industry: industry, L.created_at: created})
    leads = pd.DataFrame(rows)
    truth_df = pd.DataFrame(truth, columns=["account_id", "variant"])
    order = np.argsort(leads[L.created_at].to_numpy(), kind="stable")
    leads = leads.iloc[order].reset_index(drop=True)
    truth_df = truth_df.iloc[order].reset_index(drop=True)
    ids = [f"L{k + 1:06d}" for k in range(n)]
    leads[L.lead_id] = ids
    truth_df.insert(0, "lead_id", ids)
    leads[L.created_at] = leads[L.created_at].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return leads[[c for c in L.__dict__.values()]], truth_df


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Generate the sample leads (deterministic).")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--leads", type=int, default=N_LEADS)
    ap.add_argument("--out", default=str(ROOT / "data" / "sample" / "leads.csv"))
    a = ap.parse_args(argv)
    leads, _truth = make(n=a.leads, seed=a.seed)
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    leads.to_csv(out, index=False)
    print(f"{out.name}: {len(leads):,} rows, {out.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
