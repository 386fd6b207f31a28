"""Generate the deterministic sample dataset under data/sample/ (fixed seed).

    .venv/bin/python scripts/make_sample.py [--seed 20261115] [--accounts 6000] [--out data/sample]

Writes canonical CSVs (accounts.csv, reps.csv, opportunities.csv, account_products.csv) that
``territory_core.dataset.load_sample()`` reads. What is in it:

- ~6,000 accounts on real US ZIP codes (``zipcodes`` package), weighted toward business
  centres (a ZIP's weight grows with the number of ZIPs in its county, i.e. metro density);
  state, county FIPS, lat/lon from the ZIP.
- ~15% of accounts in parent-child families up to 3 levels deep.
- Lognormal employees; annual revenue = employees x an industry's revenue per employee x noise,
  so the two agree; 14 industries.
- ~30% customers with arr; holdings across 3 product lines in account_products whose arr sums
  to the account's arr exactly.
- 2 years of opportunities ending 2026-11-15 (win rate ~25%, lognormal amounts and cycle
  lengths by segment), some open in late stages; accounts' open_pipeline = sum of open amounts.
- 40 reps in 4 regions x 3 segments: a few ramping, capacities 0.5-1.0, quotas, home ZIPs,
  specialties; one inactive rep still owning a few orphaned accounts. Current ownership is
  deliberately unbalanced (some reps hold 3x the book of others), as after years of drift.
- intent (0-100), some locked and named accounts, and an extra numeric column
  ``support_tickets`` (extra numeric columns are kept by the import).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from territory_core.geo import zips as geo  # noqa: E402
from territory_core.contract import A, O, P, R  # noqa: E402

SEED = 20261115
END = pd.Timestamp("2026-11-15")
START = END - pd.DateOffset(years=2)

REGIONS = {
    "West": "WA OR CA NV ID MT WY UT CO AZ NM AK HI".split(),
    "Central": "ND SD NE KS MN IA MO WI IL IN MI OH".split(),
    "East": "ME NH VT MA RI CT NY NJ PA DE MD DC VA WV".split(),
    "South": "TX OK AR LA MS AL TN KY GA FL SC NC".split(),
}
STATE_REGION = {s: r for r, ss in REGIONS.items() for s in ss}
HOME_ZIPS = {
    "West": ["94105", "90017", "98101", "80202", "85004", "97204", "92101", "84111", "95113", "89101"],
    "Central": ["60606", "55402", "43215", "63101", "48226", "53202", "46204", "64105", "44114", "68102"],
    "East": ["10017", "02110", "19103", "20005", "15222", "07102", "21202", "06103", "14202", "23219"],
    "South": ["30303", "75201", "77002", "33131", "28202", "37203", "78701", "32801", "70112", "73102"],
}
# industry: (share of accounts, revenue per employee USD)
INDUSTRIES = {
    "Software": (0.12, 260_000), "Financial Services": (0.09, 420_000), "Healthcare": (0.10, 150_000),
    "Manufacturing": (0.12, 220_000), "Retail": (0.08, 180_000), "Professional Services": (0.09, 160_000),
    "Construction": (0.06, 230_000), "Education": (0.05, 90_000), "Logistics": (0.06, 200_000),
    "Media": (0.04, 240_000), "Energy": (0.04, 600_000), "Telecommunications": (0.04, 380_000),
    "Hospitality": (0.05, 70_000), "Government": (0.06, 120_000),
}
PRODUCTS = ["Core Platform", "Analytics", "Integrations"]
OPEN_STAGES = ["Prospecting", "Qualification", "Needs Analysis", "Proposal", "Negotiation"]
SEGMENTS = ["Enterprise", "Mid-Market", "SMB"]

WORDS_A = ("Summit Pioneer Granite Harbor Cedar Blue Iron Silver North Bright Evergreen Atlas Beacon "
           "Crescent Falcon Keystone Liberty Maple Meridian Oak Pinnacle Prairie Redwood River Sterling "
           "Horizon Coastal Frontier Golden Heritage Lakeside Metro Patriot Quantum Rocky Sierra Vanguard "
           "Apex Bluewater Canyon Delta Echo Everest Fusion Lighthouse Northstar Orion Vertex Willow").split()
WORDS_B = {
    "Software": "Software Systems Labs Technologies Digital Cloud Data".split(),
    "Financial Services": "Capital Financial Bancorp Partners Investments Credit".split(),
    "Healthcare": "Health Medical Care Clinics Biosciences Diagnostics".split(),
    "Manufacturing": "Manufacturing Industries Components Fabrication Machining Works".split(),
    "Retail": "Retail Outfitters Market Stores Goods Supply".split(),
    "Professional Services": "Consulting Advisors Associates Group Partners".split(),
    "Construction": "Construction Builders Contracting Engineering Homes".split(),
    "Education": "Academy Learning Education Institute College".split(),
    "Logistics": "Logistics Freight Transport Shipping Distribution".split(),
    "Media": "Media Studios Publishing Broadcasting Entertainment".split(),
    "Energy": "Energy Power Resources Solar Utilities".split(),
    "Telecommunications": "Networks Communications Telecom Wireless Broadband".split(),
    "Hospitality": "Hospitality Hotels Resorts Dining Restaurants".split(),
    "Government": "County Services Authority Municipal Agency District".split(),
}
SUFFIX = ["Inc", "LLC", "Corp", "Co", "Ltd", "Holdings", ""]
FIRST = ("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard "
         "Susan Joseph Jessica Thomas Sarah Carlos Karen Daniel Lisa Matthew Nancy Anthony Betty Mark "
         "Sandra Priya Ashley Wei Emily Andrew Kimberly Joshua Donna Kenji Michelle Omar Carol Diego Amanda").split()
LAST = ("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez "
        "Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris "
        "Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Patel").split()


def _zip_pool() -> pd.DataFrame:
    z = geo.zip_table()
    z = z[(z["type"] == "STANDARD") & z["lat"].notna() & z["county"].notna() & z["state"].isin(STATE_REGION)]
    z = z.reset_index(drop=True)
    per_county = z.groupby("county")["zip"].transform("size")
    z["weight"] = per_county.astype(float) ** 0.7
    return z


def make_reps(rng: np.random.Generator, quota_scale: float = 1.0) -> pd.DataFrame:
    """The reps; ``quota_scale``: quotas grow with the book (a 50,000-account book's 40 reps carry
    50,000 / 6,000 times the quota, or their attainment reads 800%)."""
    rows = []
    n = 0
    names = set()
    per_region = {"Enterprise": 2, "Mid-Market": 3, "SMB": 5}
    industries = list(INDUSTRIES)
    for region in REGIONS:
        managers = {}
        for seg, k in per_region.items():
            for _ in range(k):
                n += 1
                while True:
                    nm = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
                    if nm not in names:
                        names.add(nm)
                        break
                mgr = managers.setdefault(seg if seg != "Mid-Market" else "Enterprise",
                                          f"{rng.choice(FIRST)} {rng.choice(LAST)}")
                cap = float(rng.choice([1.0, 1.0, 1.0, 1.0, 0.8, 0.75, 0.5]))
                base_quota = {"Enterprise": 1_600_000, "Mid-Market": 900_000, "SMB": 450_000}[seg]
                spec = ";".join(rng.choice(industries, size=int(rng.integers(1, 3)), replace=False)) \
                    if rng.random() < 0.45 else ""
                rows.append({
                    R.rep_id: f"R{n:03d}", R.name: nm,
                    R.role: {"Enterprise": "Enterprise AE", "Mid-Market": "Account Executive", "SMB": "SMB AE"}[seg],
                    R.manager: mgr, R.region: region, R.segment: seg, R.capacity: cap, R.ramp: 1.0,
                    R.quota: round(base_quota * quota_scale * cap * rng.uniform(0.9, 1.1), -4),
                    R.home_zip: str(rng.choice(HOME_ZIPS[region])), R.specialties: spec, R.active: True,
                })
    reps = pd.DataFrame(rows)
    # A few new hires ramping up.
    ramping = rng.choice(len(reps), size=5, replace=False)
    reps.loc[ramping, R.ramp] = [0.25, 0.4, 0.5, 0.6, 0.75]
    reps.loc[ramping, R.quota] = (reps.loc[ramping, R.quota] * reps.loc[ramping, R.ramp]).round(-4)
    # One rep left the company but still owns some accounts.
    reps.loc[len(reps)] = {R.rep_id: f"R{len(reps) + 1:03d}", R.name: "Former Rep (left 2026-06)", R.role: "Account Executive",
                           R.manager: reps.loc[0, R.manager], R.region: "Central", R.segment: "Mid-Market",
                           R.capacity: 0.0, R.ramp: 0.0, R.quota: 0.0, R.home_zip: "60606",
                           R.specialties: "", R.active: False}
    home = geo.zip_lookup(reps[R.home_zip])
    reps[R.home_lat] = home["lat"].to_numpy()
    reps[R.home_lon] = home["lon"].to_numpy()
    order = [R.rep_id, R.name, R.role, R.manager, R.region, R.segment, R.capacity, R.ramp, R.quota,
             R.home_zip, R.home_lat, R.home_lon, R.specialties, R.active]
    return reps[order]


def _company_names(rng, industries: np.ndarray) -> list[str]:
    seen: set[str] = set()
    out = []
    for ind in industries:
        for attempt in range(50):
            a = rng.choice(WORDS_A)
            b = rng.choice(WORDS_B[ind])
            s = rng.choice(SUFFIX)
            nm = f"{a} {b}" + (f" {s}" if s else "")
            if attempt > 10:
                nm = f"{a} {rng.choice(WORDS_A)} {b}" + (f" {s}" if s else "")
            if nm not in seen:
                break
        seen.add(nm)
        out.append(nm)
    return out


def make_accounts(rng: np.random.Generator, n: int, reps: pd.DataFrame) -> pd.DataFrame:
    zp = _zip_pool()
    pick = rng.choice(len(zp), size=n, p=(zp["weight"] / zp["weight"].sum()).to_numpy())
    loc = zp.iloc[pick].reset_index(drop=True)

    ind_names = list(INDUSTRIES)
    shares = np.array([INDUSTRIES[i][0] for i in ind_names])
    industry = rng.choice(ind_names, size=n, p=shares / shares.sum())
    employees = np.clip(np.round(np.exp(rng.normal(np.log(60), 1.55, size=n))), 2, 250_000)
    rpe = np.array([INDUSTRIES[i][1] for i in industry])
    revenue = np.round(employees * rpe * np.exp(rng.normal(0, 0.35, size=n)), -3)

    acc = pd.DataFrame({
        A.account_id: [f"A{i:05d}" for i in range(1, n + 1)],
        A.name: _company_names(rng, industry),
        A.parent_id: pd.array([pd.NA] * n, dtype="string"),
        A.industry: industry,
        A.employees: employees.astype(int),
        A.annual_revenue: revenue,
    })

    # Families: parents among the larger accounts, children (and grandchildren) smaller.
    order = np.argsort(-employees)
    n_fam = int(n * 0.045)
    parents = rng.choice(order[: n // 5], size=n_fam, replace=False)
    free = np.setdiff1d(np.arange(n), parents)
    rng.shuffle(free)
    fi = 0
    in_family = set(parents.tolist())
    parent_of = {}
    for p in parents:
        k = int(rng.integers(1, 4))
        kids = free[fi: fi + k]
        fi += k
        for c in kids:
            parent_of[c] = p
            in_family.add(c)
            if rng.random() < 0.25:  # grandchildren: 3 levels
                g = free[fi]
                fi += 1
                parent_of[g] = c
                in_family.add(g)
    ids = acc[A.account_id].to_numpy()
    for c, p in parent_of.items():
        acc.loc[c, A.parent_id] = ids[p]
        if rng.random() < 0.7:
            acc.loc[c, A.industry] = acc.loc[p, A.industry]
            base = acc.loc[p, A.name].split(" ")
            acc.loc[c, A.name] = f"{base[0]} {base[1]} {rng.choice(['West', 'East', 'South', 'North', 'Central', 'Labs', 'Services', 'International'])}"
        # children are smaller than their parent
        if acc.loc[c, A.employees] > acc.loc[p, A.employees]:
            acc.loc[c, A.employees] = max(2, int(acc.loc[p, A.employees] * rng.uniform(0.05, 0.5)))
            acc.loc[c, A.annual_revenue] = round(acc.loc[c, A.employees] * INDUSTRIES[acc.loc[c, A.industry]][1]
                                                 * float(np.exp(rng.normal(0, 0.3))), -3)
    # Duplicate names inside a family are fine in real CRMs, but keep ids unique.

    acc[A.city] = loc["city"].to_numpy()
    acc[A.state] = loc["state"].to_numpy()
    acc[A.zip] = loc["zip"].to_numpy()
    acc[A.county] = loc["county"].to_numpy()
    acc[A.country] = "US"
    acc[A.lat] = loc["lat"].to_numpy()
    acc[A.lon] = loc["lon"].to_numpy()

    emp = acc[A.employees].to_numpy(dtype=float)
    # Customers: ~30%, more likely when larger or in a family.
    logit = -0.95 + 0.28 * (np.log(emp) - np.log(60)) + 0.6 * np.isin(np.arange(n), list(in_family))
    is_cust = rng.random(n) < 1 / (1 + np.exp(-logit))
    arr = np.where(is_cust, np.round(1_800 * emp ** 0.62 * np.exp(rng.normal(0, 0.5, size=n)), -2), 0.0)
    arr = np.where(is_cust, np.maximum(arr, 3_000), 0.0)
    acc[A.arr] = arr
    acc[A.intent] = np.round(np.clip(rng.beta(2, 5, size=n) * 100 + is_cust * 8, 0, 100), 1)
    acc["support_tickets"] = np.where(is_cust, rng.poisson(np.clip(arr / 8_000, 0.5, 80)), 0)
    return acc


def assign_owners(rng, acc: pd.DataFrame, reps: pd.DataFrame) -> pd.Series:
    emp = acc[A.employees].to_numpy()
    seg = np.where(emp >= 1000, "Enterprise", np.where(emp >= 100, "Mid-Market", "SMB"))
    region = acc[A.state].map(STATE_REGION).to_numpy()
    active = reps[reps[R.active]]
    owner = np.empty(len(acc), dtype=object)
    for (rg, sg), grp in active.groupby([R.region, R.segment]):
        idx = np.where((region == rg) & (seg == sg))[0]
        if not len(idx):
            continue
        # Drift: uneven weights (some reps hold ~3x the book of others).
        w = np.exp(rng.normal(0, 0.7, size=len(grp)))
        w[0] *= 2.2
        w[-1] *= 0.5
        owner[idx] = rng.choice(grp[R.rep_id].to_numpy(), size=len(idx), p=w / w.sum())
    # Another kind of drift: 8% of accounts sit with a rep from another segment or region.
    drift = rng.random(len(acc)) < 0.08
    owner[drift] = rng.choice(active[R.rep_id].to_numpy(), size=int(drift.sum()))
    # Family members mostly follow the ultimate parent's owner.
    ids = acc[A.account_id].to_numpy()
    pos = {a: i for i, a in enumerate(ids)}
    par = acc[A.parent_id].to_numpy(dtype=object)
    for i in range(len(acc)):
        p = par[i]
        if isinstance(p, str) and rng.random() < 0.8:
            root = pos[p]
            while isinstance(par[root], str):
                root = pos[par[root]]
            owner[i] = owner[root]
    # Orphans: a few accounts still owned by the rep who left.
    inactive = reps.loc[~reps[R.active], R.rep_id].tolist()
    central_mm = np.where((region == "Central") & (seg == "Mid-Market") & ~np.array([isinstance(p, str) for p in par]))[0]
    orphaned = rng.choice(central_mm, size=min(25, len(central_mm)), replace=False)
    owner[orphaned] = inactive[0]
    return pd.Series(owner, index=acc.index, dtype="string")


def make_products(rng, acc: pd.DataFrame) -> pd.DataFrame:
    rows_a, rows_p, rows_v = [], [], []
    for aid, arr in zip(acc[A.account_id], acc[A.arr]):
        if arr <= 0:
            continue
        k = int(rng.choice([1, 1, 2, 2, 3]))
        prods = [PRODUCTS[0]] + list(rng.choice(PRODUCTS[1:], size=k - 1, replace=False))
        cents = int(round(arr * 100))
        shares = rng.dirichlet([3.0] + [1.2] * (k - 1))
        parts = np.floor(shares * cents).astype(np.int64)
        parts[0] += cents - parts.sum()
        for p, c in zip(prods, parts):
            rows_a.append(aid)
            rows_p.append(p)
            rows_v.append(c / 100)
    return pd.DataFrame({P.account_id: rows_a, P.product: rows_p, P.arr: rows_v})


def make_opportunities(rng, acc: pd.DataFrame, reps: pd.DataFrame) -> pd.DataFrame:
    n = len(acc)
    emp = acc[A.employees].to_numpy(dtype=float)
    cust = acc[A.arr].to_numpy() > 0
    lam = 0.55 + 0.9 * cust + 0.15 * np.log10(emp) + acc[A.intent].to_numpy() / 100
    counts = rng.poisson(lam)
    ai = np.repeat(np.arange(n), counts)
    m = len(ai)
    seg = np.where(emp[ai] >= 1000, 2, np.where(emp[ai] >= 100, 1, 0))
    cycle = np.round(np.exp(rng.normal(np.log(np.array([35, 70, 130])[seg]), 0.45))).astype(int)
    cycle = np.clip(cycle, 5, 420)
    span = (END - START).days + 240  # opportunities created up to 240 days before END stay open
    created = START + pd.to_timedelta(rng.integers(0, (END - START).days, size=m), unit="D")
    close = created + pd.to_timedelta(cycle, unit="D")
    is_closed = np.asarray(close <= END)
    # Win probability: higher for expansions, intent and smaller deals; overall ~25%.
    intent = acc[A.intent].to_numpy()[ai]
    p_win = 1 / (1 + np.exp(-(-1.45 + 0.7 * cust[ai] + 0.012 * (intent - 30) - 0.15 * seg)))
    won = is_closed & (rng.random(m) < p_win)
    base = np.array([9_000, 40_000, 140_000])[seg]
    amount = np.round(base * np.exp(rng.normal(0, 0.6, size=m)) * np.where(cust[ai], 0.7, 1.0), -2)
    late = rng.random(m)
    stage = np.where(won, "Closed Won", np.where(is_closed, "Closed Lost",
                     np.array(OPEN_STAGES)[np.minimum((late ** 0.7 * 5).astype(int), 4)]))
    owner = acc[A.owner_id].to_numpy(dtype=object)[ai]
    # Some history belongs to other reps (accounts changed hands).
    other = rng.random(m) < 0.12
    owner[other] = rng.choice(reps[R.rep_id].to_numpy(), size=int(other.sum()))
    product = np.where(cust[ai], rng.choice(PRODUCTS, size=m, p=[0.3, 0.4, 0.3]),
                       rng.choice(PRODUCTS, size=m, p=[0.75, 0.15, 0.1]))
    opp = pd.DataFrame({
        O.opportunity_id: [f"OP{i:06d}" for i in range(1, m + 1)],
        O.account_id: acc[A.account_id].to_numpy()[ai],
        O.owner_id: owner,
        O.stage: stage,
        O.amount: amount,
        O.created_date: created.strftime("%Y-%m-%d"),
        O.close_date: pd.DatetimeIndex(close).strftime("%Y-%m-%d"),
        O.is_closed: is_closed,
        O.is_won: won,
        O.product: product,
    })
    del span
    return opp.sort_values([O.created_date, O.opportunity_id]).reset_index(drop=True)


def make(seed: int = SEED, n_accounts: int = 6000) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    reps = make_reps(rng, quota_scale=n_accounts / 6000)
    acc = make_accounts(rng, n_accounts, reps)
    acc[A.owner_id] = assign_owners(rng, acc, reps)
    opp = make_opportunities(rng, acc, reps)
    open_amt = opp.loc[~opp[O.is_closed]].groupby(O.account_id)[O.amount].sum()
    acc[A.open_pipeline] = acc[A.account_id].map(open_amt).fillna(0.0).round(2)
    # Named accounts: each active Enterprise rep's three biggest customers (as a planner names them:
    # a few strategic logos per book, not every whale in the company); half of them, and a few
    # others, locked to their owner.
    active_owner = acc[A.owner_id].isin(reps.loc[reps[R.active] & (reps[R.segment] == "Enterprise"), R.rep_id])
    rank_in_book = acc[A.arr].where(acc[A.arr] > 0).groupby(acc[A.owner_id]).rank(ascending=False, method="first")
    named = active_owner & (rank_in_book <= 3)
    acc[A.named] = named
    locked = (named & (rng.random(n_accounts) < 0.5)) | (rng.random(n_accounts) < 0.01)
    acc[A.locked] = locked & acc[A.owner_id].isin(reps.loc[reps[R.active], R.rep_id])
    products = make_products(rng, acc)
    cols = [A.account_id, A.name, A.parent_id, A.industry, A.employees, A.annual_revenue, A.arr,
            A.open_pipeline, A.intent, A.city, A.state, A.zip, A.county, A.country, A.lat, A.lon,
            A.owner_id, A.locked, A.named, "support_tickets"]
    return {"accounts": acc[cols], "reps": reps, "opportunities": opp, "account_products": products}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Generate the sample dataset (deterministic).")
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--accounts", type=int, default=6000)
    ap.add_argument("--out", default=str(ROOT / "data" / "sample"))
    a = ap.parse_args(argv)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    tables = make(a.seed, a.accounts)
    for name, df in tables.items():
        df.to_csv(out / f"{name}.csv", index=False)
        print(f"{name}.csv: {len(df):,} rows, {(out / f'{name}.csv').stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
