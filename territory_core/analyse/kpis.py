"""Territory health KPIs: per rep, rolled up by manager / segment / region, and over time.

Plain data in, plain data out: every function takes DataFrames in the contract's columns and
returns a DataFrame (or a dict of numbers). The Territory Health page only draws what these
functions return.

Definitions (the page's help text repeats them)
-----------------------------------------------
Period
    A calendar quarter, half or year containing the anchor date, or the trailing 12 months
    ending on the anchor. The anchor defaults to the data's "as of" date (latest opportunity
    created or closed), or today when there are no opportunities.
Two attributions
    *Sales results* (closed-won revenue, win rate, sales cycle, deal size) stay with **who sold
    them**: the opportunity's ``owner_id`` (today's account owner when the opportunity has none).
    A scenario's new assignment does not move history.
    *Book metrics* (accounts, arr, potential, whitespace, workload, open pipeline, untouched
    accounts) follow the **account's owner**: today's ``owner_id``, or the ``owner`` mapping of
    a scenario. Open pipeline moves with its account, because the new owner will work it.
Quota
    ``reps.quota`` is annual; it is pro-rated to the period (quarter 1/4, half 1/2, year and
    trailing 12 months 1). Attainment = closed-won revenue / pro-rated quota.
Pipeline coverage
    Open pipeline on the rep's book whose expected close date is in or after the period's start
    (stale deals, expected before the period, are left out) divided by the quota still to close
    (pro-rated quota - closed-won, at least 0). NaN when the quota is already met or unknown.
    Without an opportunities table, ``accounts.open_pipeline`` is the open pipeline.
Win rate
    Won / closed (won + lost) among deals closed in the period, by count and by amount.
Sales cycle
    Mean days from created to close of the deals won in the period.
Workload
    Sum over the rep's accounts of an account workload index: the enriched ``workload`` column
    when given; else a tier weight (A 2, B 1.5, C 1, D 0.5); else 1 per prospect and 1.5 per
    customer (arr > 0; customers also need account management). ``load_index`` = workload /
    fair share, where fair share = team workload x capacity x ramp / sum(capacity x ramp):
    1.0 is exactly the rep's share, 1.3 is 30% more than their share.
Untouched accounts
    Accounts on the book with no opportunity created in the ``untouched_months`` before the
    period's end (or the as-of date when earlier).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from datetime import date, datetime
from types import SimpleNamespace

import numpy as np
import pandas as pd

from ..contract import A, O, R, S, X
from ..frames import isin

# ---------------------------------------------------------------------------------------------
# Column names of the KPI frames (one place, like the contract).
K = SimpleNamespace(
    rep_id=R.rep_id, name=R.name, manager=R.manager, region=R.region, segment=R.segment,
    capacity=R.capacity, ramp=R.ramp, active=R.active,
    group="group",
    won_revenue="won_revenue", won_count="won_count", lost_count="lost_count",
    closed_count="closed_count", closed_amount="closed_amount",
    quota_annual="quota_annual", quota="quota", attainment="attainment",
    open_pipeline="open_pipeline", coverage_pipeline="coverage_pipeline",
    quota_to_close="quota_to_close", coverage="coverage",
    win_rate="win_rate", win_rate_amount="win_rate_amount",
    cycle_days_total="cycle_days_total", cycle_count="cycle_count", avg_cycle_days="avg_cycle_days",
    avg_deal_size="avg_deal_size",
    accounts="accounts", arr="arr", potential="potential", whitespace="whitespace",
    workload="workload", fair_workload="fair_workload", load_index="load_index",
    untouched="untouched", untouched_share="untouched_share",
    flags="flags", peer_group="peer_group", quota_to_date="quota_to_date",
)

#: KPI columns that add up across reps (rollups sum these, then recompute the ratios).
ADDITIVE = (
    K.won_revenue, K.won_count, K.lost_count, K.closed_count, K.closed_amount, K.quota_annual,
    K.quota, K.open_pipeline, K.coverage_pipeline, K.cycle_days_total, K.cycle_count,
    K.accounts, K.arr, K.potential, K.whitespace, K.workload, K.fair_workload, K.untouched,
    K.capacity, K.quota_to_date,
)

#: Human labels and formats of the KPIs (the page uses them for column headers and pickers).
KPI_LABELS = {
    K.won_revenue: "Closed-won revenue", K.quota: "Quota (period)", K.attainment: "Attainment",
    K.open_pipeline: "Open pipeline", K.coverage: "Pipeline coverage", K.win_rate: "Win rate (count)",
    K.win_rate_amount: "Win rate (amount)", K.avg_cycle_days: "Avg sales cycle (days)",
    K.avg_deal_size: "Avg deal size", K.accounts: "Accounts", K.arr: "ARR",
    K.potential: "Potential", K.whitespace: "Whitespace", K.workload: "Workload",
    K.load_index: "Workload vs fair share", K.untouched: "Untouched accounts",
    K.untouched_share: "Untouched share",
}

#: Metrics it makes sense to balance across reps (balance indices on the page).
BALANCE_METRICS = (K.accounts, K.arr, K.potential, K.whitespace, K.workload, K.open_pipeline,
                   K.won_revenue, K.quota)

#: The definitions above as Markdown, for the page's "How the numbers are made" panel.
DEFINITIONS_MD = """
- **Period**: a calendar quarter, half or year containing the chosen date, or the trailing 12 months. The
  default date is the data's *as of* date (last opportunity created or closed).
- **Who gets what**: *sales results* (closed-won, win rate, sales cycle, deal size) stay with **who sold
  them** (the opportunity owner). *Book metrics* (accounts, ARR, potential, whitespace, workload, open
  pipeline, untouched accounts) follow the **account's owner** in the chosen plan, so a scenario moves the
  book and its pipeline but not history.
- **Quota** is annual and pro-rated to the period (quarter 1/4, half 1/2). **Attainment** = closed-won /
  pro-rated quota.
- **Pipeline coverage** = open pipeline expected to close in or after the period's start / quota still to
  close (pro-rated quota - closed-won). *met* when nothing is left to close.
- **Win rate** = won / closed (won + lost) among deals closed in the period, by count (and by amount).
- **Sales cycle** = mean days from created to close of the deals won in the period.
- **Workload** = sum of an account workload index over the book (the scoring's `workload` when present,
  else tier A 2 / B 1.5 / C 1 / D 0.5, else customer 1.5 / prospect 1). **Load vs fair** = workload / fair
  share, fair share = team workload x capacity x ramp / sum(capacity x ramp).
- **Untouched** = accounts with no opportunity created in the look-back (default 6 months) before the
  period's end.
- **Rollups** sum the parts and recompute every ratio from the sums (never an average of ratios).
- **Balance indices**: coefficient of variation (std / mean), Gini (0 equal, 1 one rep holds all), max /
  min, and the share of reps within +-10% of their capacity-weighted target.
- **Quota suggestion**: a top-down number spread by a blend of each rep's share of potential and share of
  capacity x ramp (or either alone).
"""

PERIOD_KINDS = ("quarter", "half", "year", "t12m")
_PERIOD_MONTHS = {"quarter": 3, "half": 6, "year": 12, "t12m": 12}

TIER_WORKLOAD = {"A": 2.0, "B": 1.5, "C": 1.0, "D": 0.5}
PROSPECT_WORKLOAD = 1.0
CUSTOMER_WORKLOAD = 1.5


# ---------------------------------------------------------------------------------------------
# Periods
def _to_date(value) -> date:
    if value is None or (not isinstance(value, (str, date)) and pd.isna(value)):
        return date.today()
    if isinstance(value, str):
        return date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value


@dataclass(frozen=True)
class Period:
    """A reporting period. ``start`` inclusive, ``end`` exclusive (pandas Timestamps)."""

    kind: str = "quarter"
    anchor: date | None = None

    def __post_init__(self):
        if self.kind not in PERIOD_KINDS:
            raise ValueError(f"period kind must be one of {', '.join(PERIOD_KINDS)}, not {self.kind!r}")
        object.__setattr__(self, "anchor", _to_date(self.anchor))

    @property
    def start(self) -> pd.Timestamp:
        a = pd.Timestamp(self.anchor)
        if self.kind == "quarter":
            return pd.Timestamp(a.year, 3 * ((a.month - 1) // 3) + 1, 1)
        if self.kind == "half":
            return pd.Timestamp(a.year, 1 if a.month <= 6 else 7, 1)
        if self.kind == "year":
            return pd.Timestamp(a.year, 1, 1)
        return self.end - pd.DateOffset(months=12)

    @property
    def end(self) -> pd.Timestamp:
        if self.kind == "t12m":
            return pd.Timestamp(self.anchor) + pd.Timedelta(days=1)
        return self.start + pd.DateOffset(months=_PERIOD_MONTHS[self.kind])

    @property
    def year_fraction(self) -> float:
        """Share of an annual quota that belongs to this period."""
        return _PERIOD_MONTHS[self.kind] / 12.0

    def elapsed_fraction(self, as_of) -> float:
        """Share of the period gone by the end of ``as_of`` (0 before it starts, 1 once over)."""
        d = pd.Timestamp(_to_date(as_of)) + pd.Timedelta(days=1)
        total = (self.end - self.start).days
        return float(min(max((d - self.start).days / total, 0.0), 1.0)) if total > 0 else 1.0

    def in_progress(self, as_of) -> bool:
        return 0.0 < self.elapsed_fraction(as_of) < 1.0

    @property
    def label(self) -> str:
        s = self.start
        if self.kind == "quarter":
            return f"Q{(s.month - 1) // 3 + 1} {s.year}"
        if self.kind == "half":
            return f"H{1 if s.month == 1 else 2} {s.year}"
        if self.kind == "year":
            return f"Year {s.year}"
        return f"12 months to {self.anchor:%d %b %Y}"

    def contains(self, dates: pd.Series) -> pd.Series:
        d = pd.to_datetime(dates, errors="coerce")
        return ((d >= self.start) & (d < self.end)).fillna(False).astype(bool)

    def to_dict(self) -> dict:
        return {"kind": self.kind, "anchor": self.anchor.isoformat()}

    @classmethod
    def from_dict(cls, d: dict) -> "Period":
        return cls(kind=d.get("kind", "quarter"), anchor=d.get("anchor"))


def data_as_of(opportunities: pd.DataFrame | None, today: date | None = None) -> date:
    """The date the figures are as of: the data's latest fact (last opportunity created, or
    closed; open deals' close dates are expectations), never after today (a deal dated in the
    future is not a fact yet: see :func:`future_dated`). Today when there is nothing to go on.
    So a fresh export is as of today, and an older one (or the sample) as of its last deal."""
    today = today or date.today()
    if opportunities is None or opportunities.empty:
        return today
    dates = []
    if O.created_date in opportunities:
        dates.append(pd.to_datetime(opportunities[O.created_date], errors="coerce").max())
    if O.close_date in opportunities:
        closed = _closed_mask(opportunities)
        dates.append(pd.to_datetime(opportunities.loc[closed, O.close_date], errors="coerce").max())
    dates = [d for d in dates if pd.notna(d)]
    return min(max(dates).date(), today) if dates else today


def future_dated(opportunities: pd.DataFrame | None, today: date | None = None) -> dict:
    """Opportunities whose facts are dated after today: ``closed`` (closed deals with a close date
    after today), ``created`` (created after today), and the ``latest`` such date (or None). They
    count in the period they are dated in, so a warning should name them."""
    today = pd.Timestamp(today or date.today())
    out = {"closed": 0, "created": 0, "latest": None}
    if opportunities is None or opportunities.empty:
        return out
    latest = []
    if O.close_date in opportunities:
        close = pd.to_datetime(opportunities[O.close_date], errors="coerce")
        fut = _closed_mask(opportunities) & (close > today).fillna(False).to_numpy(dtype=bool)
        out["closed"] = int(fut.sum())
        if fut.any():
            latest.append(close[fut].max())
    if O.created_date in opportunities:
        created = pd.to_datetime(opportunities[O.created_date], errors="coerce")
        fut = (created > today).fillna(False).to_numpy(dtype=bool)
        out["created"] = int(fut.sum())
        if fut.any():
            latest.append(created[fut].max())
    out["latest"] = max(latest).date() if latest else None
    return out


def periods_available(opportunities: pd.DataFrame | None, as_of=None, max_quarters: int = 12) -> list[Period]:
    """Periods the data covers, most useful first: trailing 12 months to the as-of date, then
    quarters (newest first, at most ``max_quarters``), halves and years."""
    as_of = _to_date(as_of) if as_of is not None else data_as_of(opportunities)
    first = as_of
    if opportunities is not None and not opportunities.empty:
        ds = []
        for c in (O.created_date, O.close_date):
            if c in opportunities:
                ds.append(pd.to_datetime(opportunities[c], errors="coerce").min())
        ds = [d for d in ds if pd.notna(d)]
        if ds:
            first = min(min(ds).date(), as_of)
    out = [Period("t12m", as_of)]
    for kind in ("quarter", "half", "year"):
        p = Period(kind, as_of)
        n = 0
        while p.end > pd.Timestamp(first) and (kind != "quarter" or n < max_quarters):
            out.append(p)
            n += 1
            p = Period(kind, (p.start - pd.Timedelta(days=1)).date())
    return out


# ---------------------------------------------------------------------------------------------
# Helpers
def _bool(df: pd.DataFrame, col: str) -> pd.Series:
    if col not in df:
        return pd.Series(False, index=df.index)
    return df[col].astype("boolean").fillna(False).astype(bool)


def _closed_mask(opps: pd.DataFrame) -> pd.Series:
    return _bool(opps, O.is_closed) | _bool(opps, O.is_won)


def _str(s: pd.Series) -> pd.Series:
    s = s.astype("string").str.strip()
    return s.where(s != "", pd.NA)


def owner_series(owner, accounts: pd.DataFrame | None = None) -> pd.Series | None:
    """Normalise an owner mapping to a Series account_id -> rep_id. Accepts a Series (index
    account_id), a DataFrame with the assignment's ``account_id``/``rep_id`` columns, or None."""
    if owner is None:
        return None
    if isinstance(owner, pd.DataFrame):
        if S.account_id not in owner or S.rep_id not in owner:
            raise ValueError(f"an owner table needs the columns {S.account_id!r} and {S.rep_id!r}")
        owner = pd.Series(owner[S.rep_id].to_numpy(), index=owner[S.account_id].astype("string"))
    s = owner.copy()
    s.index = s.index.astype("string")
    s = _str(s)
    return s[~s.index.duplicated(keep="last")]


def account_owners(accounts: pd.DataFrame, owner=None) -> pd.Series:
    """rep_id per account (aligned to ``accounts``' rows): the ``owner`` mapping where it names
    the account, else today's ``owner_id``."""
    today = _str(accounts[A.owner_id]) if A.owner_id in accounts else pd.Series(pd.NA, index=accounts.index, dtype="string")
    own = owner_series(owner)
    if own is None:
        return today
    mapped = _str(pd.Series(accounts[A.account_id].astype("string").map(own).to_numpy(), index=accounts.index, dtype="string"))
    return mapped.fillna(today)


def _enriched_col(accounts: pd.DataFrame, enriched: pd.DataFrame | None, col: str) -> pd.Series | None:
    """Column ``col`` of ``enriched`` aligned to ``accounts`` by account_id (None if absent)."""
    src = None
    if enriched is not None and col in enriched.columns:
        src = enriched
    elif col in accounts.columns:
        return accounts[col]
    if src is None:
        return None
    if A.account_id in src.columns:
        m = pd.Series(src[col].to_numpy(), index=src[A.account_id].astype("string"))
    else:
        m = src[col].copy()
        m.index = m.index.astype("string")
    m = m[~m.index.duplicated()]
    return pd.Series(accounts[A.account_id].astype("string").map(m).to_numpy(), index=accounts.index)


def account_workload(accounts: pd.DataFrame, enriched: pd.DataFrame | None = None) -> pd.Series:
    """Workload index of each account (see the module docstring)."""
    w = _enriched_col(accounts, enriched, X.workload)
    if w is not None:
        w = pd.to_numeric(w, errors="coerce")
        if w.notna().any():
            return w.fillna(w.median()).astype(float)
    tier = _enriched_col(accounts, enriched, X.tier)
    if tier is not None and tier.notna().any():
        return tier.astype("string").str.upper().map(TIER_WORKLOAD).astype(float).fillna(TIER_WORKLOAD["C"])
    arr = pd.to_numeric(accounts.get(A.arr, pd.Series(0.0, index=accounts.index)), errors="coerce").fillna(0.0)
    return pd.Series(np.where(arr > 0, CUSTOMER_WORKLOAD, PROSPECT_WORKLOAD), index=accounts.index, dtype=float)


def _safe_div(num, den):
    num = pd.to_numeric(num, errors="coerce").astype(float)
    den = pd.to_numeric(den, errors="coerce").astype(float)
    out = num / den.where(den > 0)
    return out.where(np.isfinite(out))


def _months_before(ts: pd.Timestamp, months: int) -> pd.Timestamp:
    return ts - pd.DateOffset(months=int(months))


def _sales_owner(opps: pd.DataFrame, accounts: pd.DataFrame) -> pd.Series:
    """Who sold each opportunity: its owner_id, else today's owner of its account."""
    own = _str(opps[O.owner_id]) if O.owner_id in opps else pd.Series(pd.NA, index=opps.index, dtype="string")
    if own.isna().any() and A.owner_id in accounts:
        today = pd.Series(_str(accounts[A.owner_id]).to_numpy(), index=accounts[A.account_id].astype("string"))
        today = today[~today.index.duplicated()]
        fallback = pd.Series(opps[O.account_id].astype("string").map(today).to_numpy(), index=opps.index, dtype="string")
        own = own.fillna(fallback)
    return own


# ---------------------------------------------------------------------------------------------
# Per-rep KPIs
def rep_kpis(
    accounts: pd.DataFrame,
    reps: pd.DataFrame,
    opportunities: pd.DataFrame | None,
    period: Period | None = None,
    *,
    owner=None,
    enriched: pd.DataFrame | None = None,
    untouched_months: int = 6,
    as_of=None,
    pace_to_date: bool = False,
) -> pd.DataFrame:
    """One row per rep (every row of ``reps``, in order) with the KPIs named in ``K``.

    ``pace_to_date``: measure attainment against the quota pro-rated to the as-of date when the
    period is still running (``quota_to_date``); coverage always uses the whole period's quota.

    ``owner``: a scenario's assignment (Series account_id -> rep_id, or a frame with
    ``account_id``/``rep_id``); None means today's ``accounts.owner_id``. ``enriched``: the
    frame of ``enrich_accounts`` (potential, whitespace, tier, workload), optional.
    """
    opps = opportunities if opportunities is not None else pd.DataFrame(columns=[O.opportunity_id, O.account_id])
    as_of_d = _to_date(as_of) if as_of is not None else data_as_of(opps)
    period = period or Period("quarter", as_of_d)
    rep_ids = _str(reps[R.rep_id]).astype(object)
    out = pd.DataFrame({K.rep_id: rep_ids.to_numpy()})
    for c in (R.name, R.manager, R.region, R.segment):
        out[c] = reps[c].astype("string").to_numpy() if c in reps else pd.array([pd.NA] * len(reps), dtype="string")
    out[K.capacity] = pd.to_numeric(reps.get(R.capacity, 1.0), errors="coerce").fillna(1.0).to_numpy(dtype=float) if R.capacity in reps else 1.0
    out[K.ramp] = pd.to_numeric(reps[R.ramp], errors="coerce").fillna(1.0).to_numpy(dtype=float) if R.ramp in reps else 1.0
    out[K.active] = _bool(reps, R.active).to_numpy() if R.active in reps else True
    idx = pd.Index(out[K.rep_id])

    codes_cache: dict[int, np.ndarray] = {}

    def per_rep(values: pd.Series, keys: pd.Series) -> np.ndarray:
        """Sum ``values`` by rep (keys: rep_id per row; rows of unknown reps are dropped)."""
        codes = codes_cache.get(id(keys))
        if codes is None:
            first = ~idx.duplicated()
            c = idx[first].get_indexer(pd.Index(keys.astype(object).to_numpy()))
            codes = np.where(c >= 0, np.flatnonzero(first)[np.maximum(c, 0)], -1)
            codes_cache[id(keys)] = codes
        v = np.asarray(values, dtype=float)
        ok = codes >= 0
        return np.bincount(codes[ok], weights=v[ok], minlength=len(idx)).astype(float)

    # ---- book metrics (account owner) ----
    acc_owner = account_owners(accounts, owner)
    out[K.accounts] = per_rep(pd.Series(1.0, index=accounts.index), acc_owner)
    arr = pd.to_numeric(accounts[A.arr], errors="coerce").fillna(0.0) if A.arr in accounts else pd.Series(0.0, index=accounts.index)
    out[K.arr] = per_rep(arr, acc_owner)
    for col in (X.potential, X.whitespace):
        v = _enriched_col(accounts, enriched, col)
        if v is None or pd.to_numeric(v, errors="coerce").notna().sum() == 0:
            out[col] = np.nan
        else:
            out[col] = per_rep(pd.to_numeric(v, errors="coerce").fillna(0.0), acc_owner)
    wl = account_workload(accounts, enriched)
    out[K.workload] = per_rep(wl, acc_owner)
    # Fair share among peers: the reps selling to the same segment (see peer_groups), so a book
    # of 40 Enterprise accounts is compared with other Enterprise books, not with SMB ones.
    eff = out[K.capacity] * out[K.ramp]
    groups = peer_groups(out)
    g_wl = out[K.workload].groupby(groups).transform("sum")
    g_eff = eff.groupby(groups).transform("sum")
    out[K.fair_workload] = (g_wl * eff / g_eff.where(g_eff > 0)).astype(float)
    out[K.peer_group] = groups.to_numpy()
    out[K.load_index] = _safe_div(out[K.workload], out[K.fair_workload])

    # ---- opportunities ----
    has_opps = not opps.empty and O.account_id in opps
    if has_opps:
        o = opps
        closed = _closed_mask(o)
        won = _bool(o, O.is_won)
        amount = pd.to_numeric(o[O.amount], errors="coerce").fillna(0.0) if O.amount in o else pd.Series(0.0, index=o.index)
        close = pd.to_datetime(o[O.close_date], errors="coerce") if O.close_date in o else pd.Series(pd.NaT, index=o.index)
        created = pd.to_datetime(o[O.created_date], errors="coerce") if O.created_date in o else pd.Series(pd.NaT, index=o.index)
        in_p = period.contains(close)
        seller = _sales_owner(o, accounts)
        won_p = won & in_p
        closed_p = closed & in_p
        out[K.won_revenue] = per_rep(amount.where(won_p, 0.0), seller)
        out[K.won_count] = per_rep(won_p.astype(float), seller)
        out[K.closed_count] = per_rep(closed_p.astype(float), seller)
        out[K.lost_count] = out[K.closed_count] - out[K.won_count]
        out[K.closed_amount] = per_rep(amount.where(closed_p, 0.0), seller)
        cyc = (close - created).dt.days.astype(float)
        cyc_ok = won_p & cyc.notna() & (cyc >= 0)
        out[K.cycle_days_total] = per_rep(cyc.where(cyc_ok, 0.0), seller)
        out[K.cycle_count] = per_rep(cyc_ok.astype(float), seller)
        # open pipeline: book metric, follows the account's owner
        book_owner = pd.Series(accounts[A.account_id].astype("string").to_numpy(), index=accounts.index)
        acc_map = pd.Series(acc_owner.to_numpy(), index=book_owner.to_numpy())
        acc_map = acc_map[~acc_map.index.duplicated()]
        opp_book = pd.Series(o[O.account_id].astype("string").map(acc_map).to_numpy(), index=o.index, dtype="string")
        is_open = ~closed
        out[K.open_pipeline] = per_rep(amount.where(is_open, 0.0), opp_book)
        not_stale = close.isna() | (close >= period.start)
        out[K.coverage_pipeline] = per_rep(amount.where(is_open & not_stale, 0.0), opp_book)
        # untouched: no opportunity created in the N months before the reference date
        ref = min(period.end, pd.Timestamp(as_of_d) + pd.Timedelta(days=1))
        recent = (created >= _months_before(ref, untouched_months)) & (created < ref)
        touched_ids = set(o.loc[recent.fillna(False).astype(bool), O.account_id].astype("string").dropna())
    else:
        for c in (K.won_revenue, K.won_count, K.closed_count, K.lost_count, K.closed_amount,
                  K.cycle_days_total, K.cycle_count):
            out[c] = 0.0
        op = pd.to_numeric(accounts[A.open_pipeline], errors="coerce").fillna(0.0) if A.open_pipeline in accounts else pd.Series(0.0, index=accounts.index)
        out[K.open_pipeline] = per_rep(op, acc_owner)
        out[K.coverage_pipeline] = out[K.open_pipeline]
        touched_ids = set()
    untouched = pd.Series(~isin(accounts[A.account_id].astype("string"), touched_ids), index=accounts.index)
    out[K.untouched] = per_rep(untouched.astype(float), acc_owner)

    # ---- quota ----
    q = pd.to_numeric(reps[R.quota], errors="coerce").to_numpy(dtype=float) if R.quota in reps else np.full(len(reps), np.nan)
    out[K.quota_annual] = q
    out[K.quota] = q * period.year_fraction
    # Attainment is measured against the quota due by the as-of date when ``pace_to_date`` and the
    # period is still running (Q4 on 15 Nov: half of Q4's quota); else against the whole period's.
    elapsed = period.elapsed_fraction(as_of_d) if pace_to_date else 1.0
    out[K.quota_to_date] = out[K.quota] * elapsed
    _recompute_ratios(out)
    out.attrs.update({"period": period.to_dict(), "period_label": period.label, "as_of": as_of_d.isoformat(),
                      "untouched_months": int(untouched_months), "scenario": owner is not None,
                      "elapsed": float(elapsed)})
    return out


def unowned_accounts(accounts: pd.DataFrame, reps: pd.DataFrame, owner=None) -> pd.DataFrame:
    """Accounts whose owner (today's, or the ``owner`` mapping's) is empty or not a rep in
    ``reps``: they are on nobody's book, so no rep's KPIs count them. Columns account_id, name,
    owner_id (the unknown id or <NA>), arr."""
    own = account_owners(accounts, owner)
    known = set(_str(reps[R.rep_id]).dropna())
    bad = own.isna() | ~own.isin(known)
    out = pd.DataFrame({
        A.account_id: accounts.loc[bad.to_numpy(), A.account_id].astype("string").to_numpy(),
        A.name: accounts.loc[bad.to_numpy(), A.name].astype("string").to_numpy() if A.name in accounts else pd.NA,
        A.owner_id: own[bad].to_numpy(),
        A.arr: pd.to_numeric(accounts.loc[bad.to_numpy(), A.arr], errors="coerce").fillna(0.0).to_numpy() if A.arr in accounts else 0.0,
    })
    return out.reset_index(drop=True)


def _recompute_ratios(df: pd.DataFrame) -> pd.DataFrame:
    """Ratios from the additive columns (in place; used by rep_kpis and every rollup)."""
    df[K.attainment] = _safe_div(df[K.won_revenue], df[K.quota_to_date] if K.quota_to_date in df else df[K.quota])
    df[K.quota_to_close] = (df[K.quota] - df[K.won_revenue]).clip(lower=0)
    df[K.coverage] = _safe_div(df[K.coverage_pipeline], df[K.quota_to_close])
    df[K.win_rate] = _safe_div(df[K.won_count], df[K.closed_count])
    df[K.win_rate_amount] = _safe_div(df[K.won_revenue], df[K.closed_amount])
    df[K.avg_cycle_days] = _safe_div(df[K.cycle_days_total], df[K.cycle_count])
    df[K.avg_deal_size] = _safe_div(df[K.won_revenue], df[K.won_count])
    df[K.load_index] = _safe_div(df[K.workload], df[K.fair_workload])
    df[K.untouched_share] = _safe_div(df[K.untouched], df[K.accounts])
    return df


ROLLUP_BY = {"manager": R.manager, "segment": R.segment, "region": R.region}


def rollup_kpis(kpis: pd.DataFrame, reps: pd.DataFrame | None = None, by: str | None = "manager") -> pd.DataFrame:
    """KPIs by manager, segment or region (``by=None``: one row for the whole team).

    Additive columns are summed and every ratio is recomputed from the sums (attainment = sum
    won / sum quota, not the mean of the reps' attainments). The team's quota still to close is
    sum quota - sum won (at least 0). Potential / whitespace stay NaN when no rep has them.
    The group label comes from ``kpis`` (or ``reps`` when given, joined on rep_id); missing
    labels are "(none)". Returns one row per group with column ``group`` and ``reps``.
    """
    df = kpis.copy()
    if by is None:
        df[K.group] = "Team"
    else:
        if by not in ROLLUP_BY:
            raise ValueError(f"rollup by must be one of {', '.join(ROLLUP_BY)} or None, not {by!r}")
        col = ROLLUP_BY[by]
        if reps is not None and col in reps:
            lab = pd.Series(reps[col].astype("string").to_numpy(), index=_str(reps[R.rep_id]).to_numpy())
            lab = lab[~lab.index.duplicated()]
            df[K.group] = df[K.rep_id].map(lab)
        else:
            df[K.group] = df[col] if col in df else pd.NA
        df[K.group] = df[K.group].astype("string").fillna("(none)")
    add = [c for c in ADDITIVE if c in df]
    g = df.groupby(K.group, sort=True)
    out = g[add].sum(min_count=1)
    for c in (K.won_revenue, K.won_count, K.lost_count, K.closed_count, K.closed_amount,
              K.open_pipeline, K.coverage_pipeline, K.cycle_days_total, K.cycle_count, K.accounts,
              K.arr, K.workload, K.untouched):
        out[c] = out[c].fillna(0.0)
    out.insert(0, "reps", g.size())
    out = out.reset_index()
    return _recompute_ratios(out)


def team_summary(kpis: pd.DataFrame) -> dict:
    """The whole team as one dict (the page's summary cards)."""
    if kpis.empty:
        return {}
    return rollup_kpis(kpis, by=None).iloc[0].to_dict()


# ---------------------------------------------------------------------------------------------
# Balance
def capacity_targets(total: float, capacity, ramp=None) -> np.ndarray:
    """Each rep's fair share of ``total``: total x capacity x ramp / sum(capacity x ramp)."""
    cap = np.asarray(pd.to_numeric(pd.Series(capacity), errors="coerce").fillna(1.0), dtype=float)
    rmp = np.ones_like(cap) if ramp is None else np.asarray(pd.to_numeric(pd.Series(ramp), errors="coerce").fillna(1.0), dtype=float)
    eff = cap * rmp
    return total * eff / eff.sum() if eff.sum() > 0 else np.full_like(cap, np.nan)


def gini(values) -> float:
    """Gini coefficient of non-negative values (0 = all equal, 1 = one rep holds everything)."""
    v = np.sort(np.asarray(values, dtype=float))
    v = v[np.isfinite(v)]
    n = len(v)
    if n == 0 or v.sum() <= 0:
        return float("nan") if n == 0 else 0.0
    if (v < 0).any():
        raise ValueError("the Gini coefficient needs values >= 0")
    i = np.arange(1, n + 1)
    g = float((2 * (i * v).sum()) / (n * v.sum()) - (n + 1) / n)
    return min(max(g, 0.0), 1.0)  # rounding can leave -2e-16 for equal values


def balance_indices(values, targets=None, tolerance: float = 0.10) -> dict:
    """How evenly a metric is spread over reps.

    ``values``: one number per rep. ``targets``: each rep's fair share (e.g.
    ``capacity_targets(sum, capacity, ramp)``); None means equal shares (the mean).
    Returns ``n``, ``total``, ``mean``, ``cv`` (population standard deviation / mean), ``gini``,
    ``max_min`` (largest / smallest; inf when the smallest is 0 and the largest is not),
    ``within_tolerance`` (share of reps whose value is within +-``tolerance`` of their target)
    and ``tolerance``. Reps with a missing value are left out.
    """
    v = pd.to_numeric(pd.Series(np.asarray(values, dtype=float)), errors="coerce")
    t = None if targets is None else pd.Series(np.asarray(targets, dtype=float))
    keep = v.notna().to_numpy()
    if t is not None:
        if len(t) != len(v):
            raise ValueError(f"values ({len(v)}) and targets ({len(t)}) must have the same length")
        keep = keep & t.notna().to_numpy()
    v = v[keep].to_numpy(dtype=float)
    n = len(v)
    res = {"n": n, "total": float(v.sum()) if n else 0.0, "mean": float("nan"), "cv": float("nan"),
           "gini": float("nan"), "max_min": float("nan"), "within_tolerance": float("nan"),
           "tolerance": float(tolerance)}
    if n == 0:
        return res
    mean = v.mean()
    res["mean"] = float(mean)
    # on values scaled to at most 1: the same cv at any scale (tiny values' squares underflowed:
    # [0, 2.4e-160] gave 0.99985 where [0, 1.2e-160] gave 1.00002; both are exactly 1)
    top = np.abs(v).max()
    w = v / top if top > 0 else v
    res["cv"] = float(w.std(ddof=0) / w.mean()) if mean != 0 else float("nan")
    res["gini"] = gini(v) if (v >= 0).all() else float("nan")
    mx, mn = v.max(), v.min()
    with np.errstate(over="ignore"):
        res["max_min"] = float(np.float64(mx) / mn) if mn > 0 else (float("inf") if mx > 0 else float("nan"))
    tt = np.full(n, mean) if t is None else t[keep].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        dev = np.where(tt != 0, np.abs(v - tt) / np.abs(tt), np.where(v == tt, 0.0, np.inf))
    res["within_tolerance"] = float((dev <= tolerance + 1e-12).mean())
    return res


def kpi_balance(kpis: pd.DataFrame, metric: str, tolerance: float = 0.10) -> dict:
    """``balance_indices`` of one KPI column, with capacity x ramp weighted targets."""
    if metric not in kpis:
        raise ValueError(f"no KPI named {metric!r}")
    vals = pd.to_numeric(kpis[metric], errors="coerce")
    ok = vals.notna()
    tgt = capacity_targets(vals[ok].sum(), kpis.loc[ok, K.capacity], kpis.loc[ok, K.ramp])
    return balance_indices(vals[ok].to_numpy(), tgt, tolerance)


# ---------------------------------------------------------------------------------------------
# Health flags
FLAG_OVERLOADED = "overloaded"
FLAG_STARVED = "starved"
FLAG_LOW_COVERAGE = "low coverage"
FLAG_WIN_RATE = "win rate off team"
FLAG_QUOTA_FAIRNESS = "quota vs potential"
FLAG_UNTOUCHED = "untouched accounts"
SEVERITIES = ("high", "medium")


@dataclass(frozen=True)
class HealthThresholds:
    """Editable thresholds of the health flags (saved with a scenario via to_dict/from_dict).

    Calibrated against peers: workload and win rate are judged against the rep's segment peers
    (the reps selling to the same segment), so an Enterprise rep with 40 large accounts is not
    "starved" next to an SMB rep with 400. Each flag has a *medium* threshold (watch) and a
    *high* one (act now); the defaults keep red for the clear outliers (on the sample, 9 of the
    40 active reps get a high flag)."""

    overloaded_above: float = 1.50   # workload / fair share above this: overloaded (medium)
    overloaded_high: float = 2.50    # ... above this: high
    starved_below: float = 0.60      # workload / fair share below this: starved (medium)
    starved_high: float = 0.30       # ... below this: high
    min_coverage: float = 3.0        # pipeline coverage under this: low coverage (medium)
    coverage_high: float = 0.5       # ... under this: high (even winning every open deal misses by half)
    win_rate_gap: float = 0.15       # win rate more than this (0.15 = 15 points) from the segment peers'
    win_rate_gap_high: float = 0.25  # ... more than this, with at least min_closed_deals_high deals: high
    min_closed_deals: int = 8        # fewer closed deals than this: win rate not judged
    min_closed_deals_high: int = 15  # fewer than this: a win-rate flag is at most medium
    quota_potential_tolerance: float = 0.50  # quota share / potential share (among segment peers) outside 1 +- this
    quota_potential_high: float = 4.0  # ratio above this or below its inverse: high
    max_untouched_share: float = 0.80  # share of the book untouched for untouched_months above this (medium only)
    untouched_months: int = 6        # look-back of "untouched" (no opportunity created in N months)

    def __post_init__(self):
        for f in fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise ValueError(f"threshold {f.name} must be a number >= 0, not {v!r}")
        if self.starved_below >= self.overloaded_above:
            raise ValueError("starved_below must be lower than overloaded_above")
        # a "high" threshold looser than its medium one would never fire: clamp to the medium one
        object.__setattr__(self, "overloaded_high", max(self.overloaded_high, self.overloaded_above))
        object.__setattr__(self, "starved_high", min(self.starved_high, self.starved_below))
        object.__setattr__(self, "coverage_high", min(self.coverage_high, self.min_coverage))
        object.__setattr__(self, "win_rate_gap_high", max(self.win_rate_gap_high, self.win_rate_gap))
        object.__setattr__(self, "min_closed_deals_high", max(int(self.min_closed_deals_high), int(self.min_closed_deals)))
        object.__setattr__(self, "quota_potential_high", max(self.quota_potential_high, 1 + self.quota_potential_tolerance))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "HealthThresholds":
        names = {f.name: f.type for f in fields(cls)}
        kw = {}
        for k, v in (d or {}).items():
            if k in names:
                kw[k] = int(v) if k in ("min_closed_deals", "min_closed_deals_high", "untouched_months") else float(v)
        return cls(**kw)


def _fmt_pct(x: float) -> str:
    return f"{x:.0%}"


def _fmt_money(x: float) -> str:
    a = abs(float(x))
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"${x / div:,.1f}{unit}"
    return f"${x:,.0f}"


def _fte(capacity: float, ramp: float) -> str:
    """"a 0.75 FTE rep" / "a 1.0 FTE rep at 40% ramp"."""
    s = f"a {capacity:g} FTE rep" if capacity != 1 else "a 1.0 FTE rep"
    return s + (f" at {ramp:.0%} ramp" if ramp < 1 else "")


#: Minimum reps (with capacity) in a segment for its reps to be each other's peers.
MIN_PEERS = 3


def peer_groups(kpis: pd.DataFrame) -> pd.Series:
    """The peer group of each rep (aligned to ``kpis``): their segment when at least MIN_PEERS
    reps with capacity sell to it, else "team" (everyone). Workload fair shares and win rates are
    judged within these groups."""
    seg = kpis[K.segment].astype("string").str.strip() if K.segment in kpis else pd.Series(pd.NA, index=kpis.index, dtype="string")
    cap = pd.to_numeric(kpis.get(K.capacity, 1.0), errors="coerce").fillna(1.0) * \
        pd.to_numeric(kpis.get(K.ramp, 1.0), errors="coerce").fillna(1.0)
    with_cap = seg.where(cap > 0)
    n = with_cap.value_counts()
    big = set(n[n >= MIN_PEERS].index)
    return seg.where(seg.isin(big), "team").fillna("team").astype(str)


def _peer_words(group: str) -> str:
    return "the team" if group == "team" else f"the {group} reps"


def _quota_peers(kpis: pd.DataFrame) -> dict:
    """rep_id -> (label, quota total, potential total) of the peers a rep's quota is judged
    against: reps of the same segment when at least two of them have quota and potential,
    else the whole team. Reps without quota or potential are left out."""
    q = pd.to_numeric(kpis[K.quota], errors="coerce")
    p = pd.to_numeric(kpis[K.potential], errors="coerce")
    ok = q.notna() & p.notna() & (q > 0)
    if not ok.any() or p[ok].sum() <= 0:
        return {}
    team = ("the team's", float(q[ok].sum()), float(p[ok].sum()))
    seg = kpis[K.segment].astype("string") if K.segment in kpis else pd.Series(pd.NA, index=kpis.index, dtype="string")
    out = {}
    for i in kpis.index[ok]:
        s = seg.loc[i]
        peers = ok & (seg == s).fillna(False)
        if pd.notna(s) and peers.sum() >= 2 and p[peers].sum() > 0:
            out[kpis.at[i, K.rep_id]] = (f"the {s} reps'", float(q[peers].sum()), float(p[peers].sum()))
        else:
            out[kpis.at[i, K.rep_id]] = team
    return out


FLAG_COLUMNS = [K.rep_id, "flag", "severity", "reason", "score"]


def health_flags(kpis: pd.DataFrame, thresholds: HealthThresholds | None = None) -> pd.DataFrame:
    """One row per (rep, flag): ``rep_id``, ``flag``, ``severity`` ("high"/"medium"), ``reason``
    (plain words with units) and ``score`` (how far past the medium threshold: 1 = at it, 2 =
    twice as far; high flags get 10 more), worst first.

    Workload is judged against the fair share among the rep's segment peers (see ``rep_kpis``),
    win rate against the peers' win rate, quota against the peers' quota per dollar of potential.
    Flags whose inputs are missing are skipped (no potential: no quota-fairness flag; no quota:
    no coverage flag; too few closed deals: no win-rate flag).
    """
    t = thresholds or HealthThresholds()
    rows: list[tuple] = []
    if kpis.empty:
        return pd.DataFrame(columns=FLAG_COLUMNS)
    groups = peer_groups(kpis)
    peer_wr = {}
    for g, idx in groups.groupby(groups).groups.items():
        sub = kpis.loc[idx]
        won, closed = float(sub[K.won_count].sum()), float(sub[K.closed_count].sum())
        peer_wr[g] = (won / closed) if closed > 0 else float("nan")
    fair_peers = _quota_peers(kpis)
    months = kpis.attrs.get("untouched_months", t.untouched_months)

    def add(rid, flag, high, score, reason):
        rows.append((rid, flag, "high" if high else "medium", reason, float(score) + (10.0 if high else 0.0)))

    for i, r in zip(kpis.index, kpis.itertuples(index=False)):
        d = r._asdict()
        rid = d[K.rep_id]
        group = groups.loc[i]
        cap, ramp = float(d[K.capacity]), float(d[K.ramp])
        li = d[K.load_index]
        if d[K.accounts] > 0 and cap * ramp <= 0:
            add(rid, FLAG_OVERLOADED, True, 10.0,
                f"Owns {d[K.accounts]:,.0f} accounts ({_fmt_money(d[K.arr])} ARR) but has no capacity (0 FTE): "
                "a departed or inactive owner; hand the book over.")
        elif pd.notna(li):
            fair = d[K.fair_workload]
            unit = f"{d[K.workload]:,.0f} vs {fair:,.0f} workload points, fair share among {_peer_words(group)}"
            if li > t.overloaded_above:
                add(rid, FLAG_OVERLOADED, li > t.overloaded_high, (li - 1) / max(t.overloaded_above - 1, 1e-9),
                    f"Carries {_fmt_pct(li)} of a fair workload for {_fte(cap, ramp)} ({unit}).")
            elif li < t.starved_below:
                add(rid, FLAG_STARVED, li < t.starved_high, (1 - li) / max(1 - t.starved_below, 1e-9),
                    f"Carries only {_fmt_pct(li)} of a fair workload for {_fte(cap, ramp)} ({unit}): "
                    "room for more accounts.")
        cov = d[K.coverage]
        if pd.notna(cov) and cov < t.min_coverage:
            add(rid, FLAG_LOW_COVERAGE, cov < t.coverage_high, (t.min_coverage - cov) / max(t.min_coverage, 1e-9) * 2,
                f"Open pipeline covers {cov:.1f}x the quota still to close ({_fmt_money(d[K.coverage_pipeline])} "
                f"of pipeline for {_fmt_money(d[K.quota_to_close])} to close; target {t.min_coverage:g}x).")
        wr = d[K.win_rate]
        pwr = peer_wr.get(group, float("nan"))
        if pd.notna(wr) and pd.notna(pwr) and d[K.closed_count] >= t.min_closed_deals:
            gap = wr - pwr
            if abs(gap) > t.win_rate_gap:
                # winning more than the peers is worth a look, never an alarm
                high = gap < -t.win_rate_gap_high and d[K.closed_count] >= t.min_closed_deals_high
                word = "below" if gap < 0 else "above"
                add(rid, FLAG_WIN_RATE, high, abs(gap) / max(t.win_rate_gap, 1e-9),
                    f"Wins {_fmt_pct(wr)} of closed deals ({d[K.won_count]:.0f} of {d[K.closed_count]:.0f}) against "
                    f"{_fmt_pct(pwr)} for {_peer_words(group)}: {abs(gap) * 100:.0f} points {word}.")
        pot = d[K.potential]
        q = d[K.quota]
        peer = fair_peers.get(rid)
        if peer is not None and pd.notna(pot) and pd.notna(q):
            label, q_tot, p_tot = peer
            q_share, p_share = q / q_tot, pot / p_tot
            if p_share > 0:
                ratio = q_share / p_share
                if abs(ratio - 1) > t.quota_potential_tolerance:
                    high = ratio > t.quota_potential_high or ratio < 1 / t.quota_potential_high
                    word = "more" if ratio > 1 else "less"
                    add(rid, FLAG_QUOTA_FAIRNESS, high, abs(ratio - 1) / max(t.quota_potential_tolerance, 1e-9),
                        f"Carries {_fmt_pct(q_share)} of {label} quota but holds {_fmt_pct(p_share)} of "
                        f"its potential: {ratio:.2f}x the quota per dollar of potential ({word} than fair; "
                        f"tolerance +-{t.quota_potential_tolerance:.0%}).")
            elif q_share > 0:
                add(rid, FLAG_QUOTA_FAIRNESS, True, 5.0,
                    f"Carries {_fmt_pct(q_share)} of {label} quota with no potential in the book.")
        us = d[K.untouched_share]
        if pd.notna(us) and us > t.max_untouched_share:
            add(rid, FLAG_UNTOUCHED, False, (us - t.max_untouched_share) / max(1 - t.max_untouched_share, 1e-9) + 1,
                f"{d[K.untouched]:,.0f} of {d[K.accounts]:,.0f} accounts ({_fmt_pct(us)}) had no new opportunity "
                f"in the {months} months to the period's end (limit {_fmt_pct(t.max_untouched_share)}).")
    out = pd.DataFrame(rows, columns=FLAG_COLUMNS)
    return out.sort_values(["score", K.rep_id], ascending=[False, True], kind="mergesort").reset_index(drop=True)


def rep_flag_rank(flags: pd.DataFrame) -> pd.Series:
    """Worst flag score per rep_id (0 for reps without flags is left to the caller): sort a rep
    table by it, descending, to put the reps needing action first."""
    if flags.empty:
        return pd.Series(dtype=float)
    return flags.groupby(K.rep_id)["score"].max()


def flags_by_rep(flags: pd.DataFrame) -> pd.Series:
    """Comma-separated flag names per rep_id (for the rep table)."""
    if flags.empty:
        return pd.Series(dtype="string")
    return flags.groupby(K.rep_id)["flag"].agg(lambda s: ", ".join(s)).astype("string")


# ---------------------------------------------------------------------------------------------
# Quota suggestion
QUOTA_BASES = ("potential_capacity", "potential", "capacity")


def suggest_quotas(
    reps: pd.DataFrame,
    kpis: pd.DataFrame,
    top_down_total: float,
    by: str = "potential_capacity",
    potential_weight: float = 0.5,
) -> pd.DataFrame:
    """Spread an annual top-down number over the reps of ``kpis``.

    Each rep's share is ``potential_weight`` x (their share of potential) + (1 - weight) x (their
    share of capacity x ramp), for ``by="potential_capacity"``; ``by="potential"`` or
    ``"capacity"`` uses one of the two. Without potential (no scoring), capacity alone is used
    and ``basis`` says so. Returns rep_id, name, quota_today, suggested_quota, change,
    change_pct, share, basis; suggested quotas add up to ``top_down_total``.
    """
    if by not in QUOTA_BASES:
        raise ValueError(f"quota basis must be one of {', '.join(QUOTA_BASES)}, not {by!r}")
    if top_down_total is None or not math.isfinite(float(top_down_total)) or top_down_total < 0:
        raise ValueError("the top-down quota must be a number >= 0")
    if not 0 <= potential_weight <= 1:
        raise ValueError("potential_weight must be between 0 and 1")
    df = kpis[[K.rep_id, K.name, K.capacity, K.ramp, K.potential, K.quota_annual]].copy()
    eff = (df[K.capacity] * df[K.ramp]).astype(float)
    cap_share = eff / eff.sum() if eff.sum() > 0 else pd.Series(1.0 / max(len(df), 1), index=df.index)
    pot = pd.to_numeric(df[K.potential], errors="coerce")
    has_pot = pot.notna().any() and pot.fillna(0).sum() > 0
    basis = by
    if by == "capacity" or not has_pot:
        share = cap_share
        basis = "capacity" if by == "capacity" else "capacity (no potential available)"
    else:
        pot_share = pot.fillna(0.0) / pot.fillna(0.0).sum()
        w = 1.0 if by == "potential" else float(potential_weight)
        share = w * pot_share + (1 - w) * cap_share
    out = pd.DataFrame({
        K.rep_id: df[K.rep_id], K.name: df[K.name],
        "quota_today": df[K.quota_annual].astype(float),
        "share": share.astype(float),
        "suggested_quota": (share * float(top_down_total)).astype(float),
    })
    out["change"] = out["suggested_quota"] - out["quota_today"]
    out["change_pct"] = _safe_div(out["change"], out["quota_today"])
    out["basis"] = basis
    return out.reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Trends
def quarterly_trend(
    opportunities: pd.DataFrame | None,
    accounts: pd.DataFrame | None = None,
    *,
    reps: pd.DataFrame | None = None,
    rep_ids=None,
    quarters: int = 8,
    as_of=None,
    by: str = "team",
) -> pd.DataFrame:
    """Closed-won revenue, deals won / closed, win rate and new pipeline created, by quarter.

    Sales results stay with who sold them (opportunity owner_id, else today's account owner).
    ``rep_ids`` restricts to those reps (e.g. a manager's team); ``by="team"`` gives one row a
    quarter, ``by="rep"`` one row per rep and quarter (column rep_id). Last ``quarters`` quarters
    up to the as-of date, oldest first, with zero rows for empty quarters.
    """
    cols = ["quarter", "quarter_start", K.won_revenue, K.won_count, K.closed_count, K.win_rate, "pipeline_created"]
    as_of_d = _to_date(as_of) if as_of is not None else data_as_of(opportunities)
    last = Period("quarter", as_of_d)
    qs = []
    p = last
    for _ in range(max(int(quarters), 1)):
        qs.append(p)
        p = Period("quarter", (p.start - pd.Timedelta(days=1)).date())
    qs = qs[::-1]
    frame = pd.DataFrame({"quarter": [q.label for q in qs], "quarter_start": [q.start for q in qs]})
    if opportunities is None or opportunities.empty:
        o = pd.DataFrame({"_rep": pd.Series(dtype=object), "_close_q": pd.Series(dtype="datetime64[ns]"),
                          "_created_q": pd.Series(dtype="datetime64[ns]"), "_amount": pd.Series(dtype=float),
                          "_won": pd.Series(dtype=bool), "_closed": pd.Series(dtype=bool)})
    else:
        opp = opportunities
        acc = accounts if accounts is not None else pd.DataFrame(columns=[A.account_id, A.owner_id])
        o = pd.DataFrame({
            "_rep": _sales_owner(opp, acc).astype(object),
            "_close_q": pd.to_datetime(opp.get(O.close_date), errors="coerce").dt.to_period("Q").dt.start_time,
            "_created_q": pd.to_datetime(opp.get(O.created_date), errors="coerce").dt.to_period("Q").dt.start_time,
            "_amount": pd.to_numeric(opp.get(O.amount, 0.0), errors="coerce").fillna(0.0),
            "_won": _bool(opp, O.is_won), "_closed": _closed_mask(opp),
        })
    if rep_ids is not None:
        o = o[o["_rep"].isin(set(map(str, rep_ids)))]
    keys = ["_rep"] if by == "rep" else []
    closed = o[o["_closed"]]
    agg = closed.assign(_w_amt=closed["_amount"].where(closed["_won"], 0.0), _w=closed["_won"].astype(float), _c=1.0)
    agg = agg.groupby(keys + ["_close_q"])[["_w_amt", "_w", "_c"]].sum().reset_index()
    agg = agg.rename(columns={"_close_q": "quarter_start", "_w_amt": K.won_revenue, "_w": K.won_count, "_c": K.closed_count})
    cr = o.groupby(keys + ["_created_q"])["_amount"].sum().reset_index().rename(
        columns={"_created_q": "quarter_start", "_amount": "pipeline_created"})
    if by == "rep":
        ids = list(map(str, rep_ids)) if rep_ids is not None else sorted(set(o["_rep"].dropna()))
        if reps is not None and rep_ids is None:
            ids = _str(reps[R.rep_id]).dropna().tolist()
        grid = frame.merge(pd.DataFrame({"_rep": ids}), how="cross")
        res = grid.merge(agg, on=["_rep", "quarter_start"], how="left").merge(cr, on=["_rep", "quarter_start"], how="left")
        res = res.rename(columns={"_rep": K.rep_id})
        cols = [K.rep_id] + cols
    else:
        res = frame.merge(agg, on="quarter_start", how="left").merge(cr, on="quarter_start", how="left")
    for c in (K.won_revenue, K.won_count, K.closed_count, "pipeline_created"):
        res[c] = res[c].astype(float).fillna(0.0)
    res[K.win_rate] = _safe_div(res[K.won_count], res[K.closed_count])
    return res[cols].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Drill-down on one rep
def rep_accounts(
    accounts: pd.DataFrame,
    rep_id: str,
    opportunities: pd.DataFrame | None = None,
    *,
    owner=None,
    enriched: pd.DataFrame | None = None,
    period: Period | None = None,
    untouched_months: int = 6,
    as_of=None,
) -> pd.DataFrame:
    """The rep's book: account_id, name, state, arr, potential, whitespace, tier, workload,
    open_pipeline, last_opportunity (created), untouched. Sorted by whitespace (else arr)."""
    opps = opportunities if opportunities is not None else pd.DataFrame(columns=[O.account_id])
    as_of_d = _to_date(as_of) if as_of is not None else data_as_of(opps)
    period = period or Period("quarter", as_of_d)
    own = account_owners(accounts, owner)
    mine = own.fillna("") == str(rep_id)
    acc = accounts[mine.to_numpy()]
    out = pd.DataFrame({A.account_id: acc[A.account_id].astype("string").to_numpy(),
                        A.name: acc[A.name].astype("string").to_numpy() if A.name in acc else pd.NA})
    for c in (A.state, A.industry):
        out[c] = acc[c].astype("string").to_numpy() if c in acc else pd.NA
    out[A.arr] = pd.to_numeric(acc[A.arr], errors="coerce").fillna(0.0).to_numpy() if A.arr in acc else 0.0
    for c in (X.tier, X.potential, X.whitespace):
        v = _enriched_col(acc, enriched, c)
        out[c] = v.to_numpy() if v is not None else (np.nan if c != X.tier else pd.NA)
    out[X.workload] = account_workload(acc, enriched).to_numpy()
    if not opps.empty and O.account_id in opps:
        closed = _closed_mask(opps)
        amount = pd.to_numeric(opps.get(O.amount, 0.0), errors="coerce").fillna(0.0)
        aid = opps[O.account_id].astype("string")
        open_amt = amount.where(~closed, 0.0).groupby(aid).sum()
        created = pd.to_datetime(opps.get(O.created_date), errors="coerce")
        last = created.groupby(aid).max()
        out[A.open_pipeline] = out[A.account_id].map(open_amt).fillna(0.0).astype(float)
        out["last_opportunity"] = pd.to_datetime(out[A.account_id].map(last))
        ref = min(period.end, pd.Timestamp(as_of_d) + pd.Timedelta(days=1))
        lo = _months_before(ref, untouched_months)
        recent = created.where((created >= lo) & (created < ref))
        touched = set(aid[recent.notna()].dropna())
        out[K.untouched] = ~isin(out[A.account_id], touched)
    else:
        out[A.open_pipeline] = pd.to_numeric(acc.get(A.open_pipeline, 0.0), errors="coerce").fillna(0.0).to_numpy() if A.open_pipeline in acc else 0.0
        out["last_opportunity"] = pd.NaT
        out[K.untouched] = True
    sort = X.whitespace if pd.to_numeric(out[X.whitespace], errors="coerce").notna().any() else A.arr
    return out.sort_values(sort, ascending=False, na_position="last").reset_index(drop=True)


def rep_pipeline(opportunities: pd.DataFrame | None, accounts: pd.DataFrame, rep_id: str, *, owner=None) -> pd.DataFrame:
    """Open opportunities on the rep's book (accounts they own), largest first, with the
    account name and the deal's current owner."""
    cols = [O.opportunity_id, O.account_id, "account_name", O.owner_id, O.stage, O.amount, O.created_date,
            O.close_date, O.product]
    if opportunities is None or opportunities.empty:
        return pd.DataFrame(columns=cols)
    own = account_owners(accounts, owner)
    book = set(accounts.loc[(own.fillna("") == str(rep_id)).to_numpy(), A.account_id].astype("string"))
    o = opportunities[~_closed_mask(opportunities) & isin(opportunities[O.account_id].astype("string"), book)].copy()
    names = pd.Series(accounts[A.name].astype("string").to_numpy(), index=accounts[A.account_id].astype("string")) if A.name in accounts else pd.Series(dtype="string")
    names = names[~names.index.duplicated()]
    o["account_name"] = o[O.account_id].astype("string").map(names)
    for c in cols:
        if c not in o:
            o[c] = pd.NA
    return o[cols].sort_values(O.amount, ascending=False).reset_index(drop=True)
