"""Account scoring: an explainable 0-100 potential score, ICP tiers and whitespace in USD.

The score is a weighted mean of three components, each 0-100:

- **fit**: industry weight and employee / revenue size against an editable ideal customer
  profile (ICP);
- **propensity**: buying intent, engagement (open pipeline) and the win rate in similar accounts
  (same industry and size band) from the opportunity history;
- **strategic**: named flag, size of the corporate family and company scale (revenue percentile).

Tiers A-D come from editable score thresholds. Potential (USD) per product line is
``seats x adoption x price per seat`` (seats = employees, or revenue / revenue per employee when
employees are missing), editable per segment; whitespace is potential minus what the account
already buys (``account_products`` per product, ``arr`` for what is not broken down by product).

Everything is vectorised: 50k accounts score in well under a second.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd

from ..contract import A, O, P, X

# Extra derived columns (not in the contract's X namespace).
TOTAL_ARR = "total_arr"  # the account's ARR: at least the sum of its product ARR
SIZE_BAND = "size_band"  # employee size band label

SIZE_BANDS: tuple[tuple[str, float, float], ...] = (
    ("1-49", 0, 50),
    ("50-249", 50, 250),
    ("250-999", 250, 1000),
    ("1k-4.9k", 1000, 5000),
    ("5k+", 5000, np.inf),
)
SIZE_BAND_NAMES = tuple(b[0] for b in SIZE_BANDS)
TIERS = ("A", "B", "C", "D")


def size_band(employees: pd.Series) -> pd.Series:
    """Employee size band label per account ("unknown" when employees are missing)."""
    e = pd.to_numeric(employees, errors="coerce").to_numpy(dtype=float)
    edges = [b[1] for b in SIZE_BANDS[1:]]
    codes = np.searchsorted(np.asarray(edges), np.nan_to_num(e, nan=-1), side="right")
    labels = np.asarray(SIZE_BAND_NAMES, dtype=object)[codes]
    labels = np.where(np.isnan(e), "unknown", labels)
    return pd.Series(labels, index=employees.index, dtype="string")


@dataclass(frozen=True)
class ProductModel:
    """How much one product line is worth in an account: seats x adoption x price per seat.

    ``segment`` empty: the default for every segment; a segment name: overrides the default of the
    same product for accounts in that segment.
    """

    product: str
    price_per_seat: float
    adoption: float
    segment: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ProductModel":
        return cls(
            product=str(d["product"]),
            price_per_seat=float(d.get("price_per_seat", 0.0)),
            adoption=float(d.get("adoption", 0.0)),
            segment=str(d.get("segment") or ""),
        )


DEFAULT_INDUSTRY_WEIGHTS: dict[str, float] = {
    "Software": 1.0,
    "Technology": 1.0,
    "Financial Services": 0.9,
    "Banking": 0.9,
    "Insurance": 0.8,
    "Healthcare": 0.8,
    "Telecommunications": 0.8,
    "Professional Services": 0.7,
    "Media": 0.6,
    "Manufacturing": 0.6,
    "Retail": 0.5,
    "Transportation": 0.5,
    "Logistics": 0.5,
    "Energy": 0.5,
    "Education": 0.4,
    "Hospitality": 0.3,
    "Construction": 0.3,
    "Government": 0.3,
    "Non-Profit": 0.2,
    "Agriculture": 0.2,
}

DEFAULT_PRODUCTS: tuple[ProductModel, ...] = (
    ProductModel("Core Platform", 500.0, 0.9),
    ProductModel("Analytics", 200.0, 0.75),
    ProductModel("Integrations", 180.0, 0.75),
)


@dataclass(frozen=True)
class ScoringConfig:
    """The editable ideal customer profile and whitespace model. Frozen; ``to_dict``/``from_dict``
    are JSON-safe so scenarios can save it."""

    # --- fit -----------------------------------------------------------------------------------
    industry_weights: tuple[tuple[str, float], ...] = tuple(DEFAULT_INDUSTRY_WEIGHTS.items())
    other_industry_weight: float = 0.3  # industries not listed (and missing industry)
    ideal_employees: tuple[float, float] = (100.0, 5_000.0)
    ideal_revenue: tuple[float, float] = (10e6, 1e9)
    fit_industry_weight: float = 0.5
    fit_employees_weight: float = 0.25
    fit_revenue_weight: float = 0.25
    # --- propensity ----------------------------------------------------------------------------
    intent_weight: float = 0.5
    engagement_weight: float = 0.25
    win_history_weight: float = 0.25
    engagement_scale: float = 50_000.0  # open pipeline (USD) at which engagement is ~63%
    win_prior_strength: float = 10.0  # closed opps of pseudo-evidence at the overall win rate
    # --- strategic -----------------------------------------------------------------------------
    named_weight: float = 0.4
    family_weight: float = 0.3
    scale_weight: float = 0.3
    family_size_full: int = 20  # a family this big scores 100 on the family part
    # --- overall score and tiers ---------------------------------------------------------------
    fit_weight: float = 0.5
    propensity_weight: float = 0.3
    strategic_weight: float = 0.2
    tier_thresholds: tuple[float, float, float] = (62.0, 52.0, 40.0)  # A >=, B >=, C >=; else D
    # --- whitespace ----------------------------------------------------------------------------
    products: tuple[ProductModel, ...] = DEFAULT_PRODUCTS
    revenue_per_employee: float = 250_000.0  # to estimate seats when employees are missing

    # helpers ------------------------------------------------------------------------------------
    @property
    def industry_weight_map(self) -> dict[str, float]:
        return {str(k): float(v) for k, v in self.industry_weights}

    @property
    def product_names(self) -> list[str]:
        out: list[str] = []
        for m in self.products:
            if m.product not in out:
                out.append(m.product)
        return out

    def with_(self, **changes) -> "ScoringConfig":
        return replace(self, **changes)

    def validate(self) -> list[str]:
        """Problems with the settings, as messages a user can act on (empty: fine)."""
        errs = []
        lo, hi = self.ideal_employees
        if not (0 <= lo < hi):
            errs.append(f"Ideal employees: the range {lo:g}-{hi:g} must be increasing and non-negative.")
        lo, hi = self.ideal_revenue
        if not (0 <= lo < hi):
            errs.append(f"Ideal revenue: the range {lo:g}-{hi:g} must be increasing and non-negative.")
        a, b, c = self.tier_thresholds
        if not (100 >= a >= b >= c >= 0):
            errs.append(f"Tier thresholds must satisfy 100 >= A ({a:g}) >= B ({b:g}) >= C ({c:g}) >= 0.")
        for name, ws in (
            ("Score", (self.fit_weight, self.propensity_weight, self.strategic_weight)),
            ("Fit", (self.fit_industry_weight, self.fit_employees_weight, self.fit_revenue_weight)),
            ("Propensity", (self.intent_weight, self.engagement_weight, self.win_history_weight)),
            ("Strategic", (self.named_weight, self.family_weight, self.scale_weight)),
        ):
            if min(ws) < 0 or sum(ws) <= 0:
                errs.append(f"{name} component weights must be >= 0 and not all 0 (got {', '.join(f'{w:g}' for w in ws)}).")
        for m in self.products:
            if m.price_per_seat < 0 or not (0 <= m.adoption <= 1):
                errs.append(f"Product {m.product!r}{' in segment ' + repr(m.segment) if m.segment else ''}: "
                            f"price per seat must be >= 0 and adoption between 0 and 1.")
        return errs

    def to_dict(self) -> dict:
        d = {k: v for k, v in asdict(self).items() if k not in ("industry_weights", "products")}
        d["industry_weights"] = self.industry_weight_map
        d["ideal_employees"] = list(self.ideal_employees)
        d["ideal_revenue"] = list(self.ideal_revenue)
        d["tier_thresholds"] = list(self.tier_thresholds)
        d["products"] = [m.to_dict() for m in self.products]
        return d

    @classmethod
    def from_dict(cls, d: dict | None) -> "ScoringConfig":
        if not d:
            return cls()
        base = cls()
        kw = {}
        for k, v in d.items():
            if k == "industry_weights":
                items = v.items() if isinstance(v, dict) else v
                kw[k] = tuple((str(i), float(w)) for i, w in items)
            elif k == "products":
                kw[k] = tuple(ProductModel.from_dict(m) for m in v)
            elif k in ("ideal_employees", "ideal_revenue", "tier_thresholds"):
                kw[k] = tuple(float(x) for x in v)
            elif k == "family_size_full":
                kw[k] = int(v)
            elif hasattr(base, k):
                kw[k] = float(v)
        return replace(base, **kw)


# --------------------------------------------------------------------------------------------
# components
# --------------------------------------------------------------------------------------------

def _num(df: pd.DataFrame, col: str, default=np.nan) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), default, dtype=float)
    return pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _bool(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.zeros(len(df), dtype=bool)
    return df[col].fillna(False).astype(bool).to_numpy()


def _range_fit(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """1 inside [lo, hi]; outside, falls off linearly in log10 distance (0 at 10x away).
    Missing values score 0.5 (unknown: neither in nor out)."""
    lo = max(float(lo), 1e-9)
    hi = max(float(hi), lo)
    with np.errstate(divide="ignore", invalid="ignore"):
        lv = np.log10(np.maximum(v, 1e-9))
        dist = np.where(lv < np.log10(lo), np.log10(lo) - lv, np.where(lv > np.log10(hi), lv - np.log10(hi), 0.0))
    out = np.clip(1.0 - dist, 0.0, 1.0)
    return np.where(np.isnan(v), 0.5, out)


def _wmean(parts: list[np.ndarray], weights: list[float]) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    w = np.where(w < 0, 0.0, w)
    s = w.sum()
    if s <= 0:
        w = np.ones_like(w)
        s = w.sum()
    out = np.zeros_like(parts[0], dtype=float)
    for p, wi in zip(parts, w):
        out += p * wi
    return out / s


def account_positions(accounts: pd.DataFrame, ids: pd.Series) -> np.ndarray:
    """Row position in ``accounts`` of each id in ``ids`` (-1 when not an account; the first
    row when an id is duplicated). One factorize of both columns: fast on 50k+ rows."""
    acc = accounts[A.account_id].astype("string").reset_index(drop=True)
    vals = pd.Series(ids).astype("string").reset_index(drop=True)
    n = len(acc)
    codes, uniq = pd.factorize(pd.concat([acc, vals], ignore_index=True))
    first = np.full(len(uniq) + 1, -1, dtype=np.int64)
    ac = codes[:n]
    rev = np.arange(n)[::-1]
    first[ac[::-1]] = rev  # the first occurrence wins (assigned last)
    first[-1] = -1  # code -1 (missing id) -> -1
    return first[codes[n:]]


def _win_history(accounts: pd.DataFrame, opportunities: pd.DataFrame | None, cfg: ScoringConfig,
                 band: pd.Series) -> tuple[np.ndarray, np.ndarray, float]:
    """Smoothed win rate of closed opportunities in accounts of the same industry and size band.

    Returns (component 0-1, group win rate, overall win rate). The component is the group rate
    relative to twice the overall rate (the overall rate scores 0.5)."""
    n = len(accounts)
    if opportunities is None or opportunities.empty or O.is_closed not in opportunities.columns:
        return np.full(n, 0.5), np.full(n, np.nan), float("nan")
    opp = opportunities[[O.account_id, O.is_closed, O.is_won]].copy()
    opp = opp[opp[O.is_closed].fillna(False).astype(bool)]
    if opp.empty:
        return np.full(n, 0.5), np.full(n, np.nan), float("nan")
    ind = (accounts[A.industry].astype("string").fillna("(none)") if A.industry in accounts.columns
           else pd.Series("(none)", index=accounts.index, dtype="string"))
    # Integer group codes (industry x band) and positions: far faster than string maps at 50k.
    ind_codes, _ = pd.factorize(ind)
    band_codes, band_u = pd.factorize(band)
    gcode = ind_codes.astype(np.int64) * max(len(band_u), 1) + band_codes
    pos = account_positions(accounts, opp[O.account_id])
    ok = pos >= 0
    won = opp[O.is_won].fillna(False).astype(bool).to_numpy()
    overall = float(won.mean())
    ng = int(gcode.max()) + 1 if n else 1
    g_sum = np.bincount(gcode[pos[ok]], weights=won[ok].astype(float), minlength=ng)
    g_cnt = np.bincount(gcode[pos[ok]], minlength=ng).astype(float)
    k = float(cfg.win_prior_strength)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = (g_sum + k * overall) / (g_cnt + k)
    group_rate = rate[gcode]
    group_rate = np.where(np.isnan(group_rate), overall, group_rate)
    comp = np.clip(group_rate / (2 * overall), 0, 1) if overall > 0 else np.full(n, 0.5)
    return comp, group_rate, overall


def _family_size(accounts: pd.DataFrame) -> np.ndarray:
    if X.family_size in accounts.columns:
        return _num(accounts, X.family_size, 1.0)
    from .hierarchy import resolve_hierarchy

    return resolve_hierarchy(accounts)[X.family_size].to_numpy(dtype=float)


def score_components(accounts: pd.DataFrame, opportunities: pd.DataFrame | None = None,
                     config: ScoringConfig | None = None) -> pd.DataFrame:
    """Every input and sub-score behind the score (0-1 parts, 0-100 components), same index.

    Columns: industry_fit, employees_fit, revenue_fit, intent, engagement, win_rate_similar,
    overall_win_rate, win_history, named, family_size, family, scale, size_band, and the X score
    columns fit_score, propensity_score, strategic_score, potential_score, tier."""
    cfg = config or ScoringConfig()
    n = len(accounts)
    wmap = cfg.industry_weight_map
    if A.industry in accounts.columns:
        ind = accounts[A.industry].astype("string")
        lower = {k.lower(): v for k, v in wmap.items()}
        industry_fit = ind.str.lower().map(lower).to_numpy(dtype=float, na_value=np.nan)
    else:
        industry_fit = np.full(n, np.nan)
    industry_fit = np.clip(np.where(np.isnan(industry_fit), cfg.other_industry_weight, industry_fit), 0, 1)
    emp = _num(accounts, A.employees)
    rev = _num(accounts, A.annual_revenue)
    employees_fit = _range_fit(emp, *cfg.ideal_employees)
    revenue_fit = _range_fit(rev, *cfg.ideal_revenue)
    fit = 100 * _wmean([industry_fit, employees_fit, revenue_fit],
                       [cfg.fit_industry_weight, cfg.fit_employees_weight, cfg.fit_revenue_weight])

    intent = np.clip(np.nan_to_num(_num(accounts, A.intent), nan=0.0) / 100.0, 0, 1)
    pipeline = np.nan_to_num(_num(accounts, A.open_pipeline, 0.0), nan=0.0)
    engagement = 1 - np.exp(-np.maximum(pipeline, 0) / max(cfg.engagement_scale, 1e-9))
    band = size_band(accounts[A.employees]) if A.employees in accounts.columns else pd.Series(
        "unknown", index=accounts.index, dtype="string")
    win_hist, win_rate, overall = _win_history(accounts, opportunities, cfg, band)
    propensity = 100 * _wmean([intent, engagement, win_hist],
                              [cfg.intent_weight, cfg.engagement_weight, cfg.win_history_weight])

    named = _bool(accounts, A.named).astype(float)
    fam_size = _family_size(accounts)
    family = np.clip(np.log(np.maximum(fam_size, 1)) / np.log(max(cfg.family_size_full, 2)), 0, 1)
    scale_src = np.where(np.isnan(rev), emp * cfg.revenue_per_employee, rev)
    scale = pd.Series(scale_src).rank(pct=True).to_numpy(dtype=float, na_value=np.nan)
    scale = np.nan_to_num(scale, nan=0.0)
    strategic = 100 * _wmean([named, family, scale], [cfg.named_weight, cfg.family_weight, cfg.scale_weight])

    score = _wmean([fit, propensity, strategic], [cfg.fit_weight, cfg.propensity_weight, cfg.strategic_weight])
    ta, tb, tc = cfg.tier_thresholds
    tier = np.where(score >= ta, "A", np.where(score >= tb, "B", np.where(score >= tc, "C", "D")))
    return pd.DataFrame(
        {
            "industry_fit": industry_fit, "employees_fit": employees_fit, "revenue_fit": revenue_fit,
            "intent": intent, "open_pipeline": pipeline, "engagement": engagement,
            "win_rate_similar": win_rate, "overall_win_rate": overall, "win_history": win_hist,
            "named": named, "family_size": fam_size, "family": family, "scale": scale,
            SIZE_BAND: band.to_numpy(),
            X.fit_score: fit, X.propensity_score: propensity, X.strategic_score: strategic,
            X.potential_score: score, X.tier: pd.array(tier, dtype="string"),
        },
        index=accounts.index,
    )


# --------------------------------------------------------------------------------------------
# whitespace
# --------------------------------------------------------------------------------------------

def _product_matrices(accounts: pd.DataFrame, cfg: ScoringConfig, segments: pd.Series | None):
    """Price and adoption per account x modelled product (n x k), with segment overrides."""
    names = cfg.product_names
    n, k = len(accounts), len(names)
    price = np.zeros((n, k))
    adopt = np.zeros((n, k))
    col = {p: j for j, p in enumerate(names)}
    for m in cfg.products:
        if not m.segment:
            price[:, col[m.product]] = m.price_per_seat
            adopt[:, col[m.product]] = m.adoption
    if segments is not None:
        seg = pd.Series(segments).astype("string").fillna("").to_numpy(dtype=object)
        for m in cfg.products:
            if m.segment:
                mask = seg == m.segment
                price[mask, col[m.product]] = m.price_per_seat
                adopt[mask, col[m.product]] = m.adoption
    return names, price, adopt


def _seats(accounts: pd.DataFrame, cfg: ScoringConfig) -> np.ndarray:
    emp = _num(accounts, A.employees)
    rev = _num(accounts, A.annual_revenue)
    est = rev / max(cfg.revenue_per_employee, 1e-9)
    return np.nan_to_num(np.where(np.isnan(emp), est, emp), nan=0.0).clip(min=0)


def _held(accounts: pd.DataFrame, account_products: pd.DataFrame | None, names: list[str]):
    """ARR per account x modelled product (n x k) and ARR in products outside the model (n)."""
    n = len(accounts)
    held = np.zeros((n, len(names)))
    other = np.zeros(n)
    if account_products is None or account_products.empty:
        return held, other
    ap = account_products[[P.account_id, P.product, P.arr]].copy()
    ap[P.arr] = pd.to_numeric(ap[P.arr], errors="coerce").fillna(0.0)
    rows = account_positions(accounts, ap[P.account_id]).astype(float)
    rows[rows < 0] = np.nan
    cols = pd.Index(list(names), dtype=object).get_indexer(
        ap[P.product].astype("string").to_numpy(dtype=object, na_value=None)).astype(float)
    cols[cols < 0] = np.nan
    vals = ap[P.arr].to_numpy(dtype=float)
    ok = ~np.isnan(rows)
    inm = ok & ~np.isnan(cols)
    np.add.at(held, (rows[inm].astype(int), cols[inm].astype(int)), vals[inm])
    outm = ok & np.isnan(cols)
    np.add.at(other, rows[outm].astype(int), vals[outm])
    return held, other


def _whitespace_parts(accounts, account_products, cfg, segments):
    names, price, adopt = _product_matrices(accounts, cfg, segments)
    seats = _seats(accounts, cfg)
    modelled = seats[:, None] * adopt * price
    held, other = _held(accounts, account_products, names)
    pot_p = np.maximum(modelled, held)
    acc_arr = np.nan_to_num(_num(accounts, A.arr, 0.0), nan=0.0)
    total_arr = np.maximum(acc_arr, held.sum(axis=1) + other)
    potential = np.maximum(pot_p.sum(axis=1) + other, total_arr)
    whitespace = potential - total_arr
    return names, pot_p, held, potential, total_arr, whitespace


def whitespace_by_product(accounts: pd.DataFrame, account_products: pd.DataFrame | None = None,
                          config: ScoringConfig | None = None, segments: pd.Series | None = None) -> pd.DataFrame:
    """Long form, one row per account x modelled product: account_id, product, potential, arr,
    whitespace (= potential - arr, >= 0). ``segments`` (aligned with accounts) picks the
    per-segment product models."""
    cfg = config or ScoringConfig()
    names, pot_p, held, *_ = _whitespace_parts(accounts, account_products, cfg, segments)
    n, k = pot_p.shape
    ids = accounts[A.account_id].astype("string").to_numpy(dtype=object)
    return pd.DataFrame({
        A.account_id: pd.array(np.repeat(ids, k), dtype="string"),
        P.product: pd.array(np.tile(np.asarray(names, dtype=object), n), dtype="string"),
        X.potential: pot_p.ravel(),
        P.arr: held.ravel(),
        X.whitespace: (pot_p - held).ravel(),
    })


def potential_and_whitespace(accounts: pd.DataFrame, account_products: pd.DataFrame | None = None,
                             config: ScoringConfig | None = None, segments: pd.Series | None = None) -> pd.DataFrame:
    """Per account (same index): potential, whitespace and total_arr (USD), without the scores."""
    cfg = config or ScoringConfig()
    *_, potential, total_arr, whitespace = _whitespace_parts(accounts, account_products, cfg, segments)
    return pd.DataFrame({X.potential: potential, X.whitespace: whitespace, TOTAL_ARR: total_arr},
                        index=accounts.index)


def score_accounts(accounts: pd.DataFrame, opportunities: pd.DataFrame | None = None,
                   account_products: pd.DataFrame | None = None, config: ScoringConfig | None = None,
                   segments: pd.Series | None = None, details: bool = False) -> pd.DataFrame:
    """Scores, tier, potential and whitespace per account, indexed like ``accounts``.

    Columns: fit_score, propensity_score, strategic_score, potential_score (0-100), tier (A-D),
    potential (USD), whitespace (USD) and ``total_arr`` (the account's ARR, at least its product
    ARR). ``segments`` (optional, aligned with accounts) applies per-segment product models.
    ``details=True`` adds every component input (see :func:`score_components`)."""
    cfg = config or ScoringConfig()
    comp = score_components(accounts, opportunities, cfg)
    *_, potential, total_arr, whitespace = _whitespace_parts(accounts, account_products, cfg, segments)
    cols = [X.fit_score, X.propensity_score, X.strategic_score, X.potential_score, X.tier]
    out = comp if details else comp[cols]
    out = out.copy()
    out[X.potential] = potential
    out[X.whitespace] = whitespace
    out[TOTAL_ARR] = total_arr
    return out


def explain_account(accounts: pd.DataFrame, account_id: str, opportunities: pd.DataFrame | None = None,
                    account_products: pd.DataFrame | None = None, config: ScoringConfig | None = None,
                    segments: pd.Series | None = None, details: pd.DataFrame | None = None) -> dict:
    """One account's breakdown: ``{"account": {...}, "components": DataFrame, "products": DataFrame}``.

    ``components`` has one row per input: component, input, value (as shown), part (0-1), weight
    within the component, and the component's score and weight in the total. Scores are computed
    over all ``accounts`` (the revenue percentile and win rates need the whole book); pass
    ``details`` (``score_accounts(..., details=True)`` for the same inputs) to reuse them.
    Raises KeyError when the id is not in the accounts."""
    cfg = config or ScoringConfig()
    ids = accounts[A.account_id].astype("string")
    hit = np.flatnonzero((ids == str(account_id)).fillna(False).to_numpy())
    if not len(hit):
        raise KeyError(f"account {account_id!r} is not in the data")
    i = int(hit[0])
    sc = details if details is not None else score_accounts(accounts, opportunities, account_products, cfg,
                                                             segments, details=True)
    r = sc.iloc[i]
    a = accounts.iloc[i]

    def fmt_money(v):
        if pd.isna(v):
            return "n/a"
        for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if abs(v) >= div:
                return f"${v / div:,.3g}{suf}"
        return f"${v:,.0f}"

    def fmt_num(v):
        return "n/a" if pd.isna(v) else f"{v:,.0f}"

    ind = a.get(A.industry)
    ind_txt = "n/a" if pd.isna(ind) else str(ind)
    win_txt = ("no closed opportunities" if pd.isna(r["win_rate_similar"]) else
               f"{r['win_rate_similar']:.0%} in {ind_txt} / {r[SIZE_BAND]} (overall {r['overall_win_rate']:.0%})")
    rows = [
        ("fit", "industry", ind_txt, r["industry_fit"], cfg.fit_industry_weight),
        ("fit", "employees", f"{fmt_num(a.get(A.employees))} (ideal {cfg.ideal_employees[0]:,.0f}-{cfg.ideal_employees[1]:,.0f})",
         r["employees_fit"], cfg.fit_employees_weight),
        ("fit", "annual revenue", f"{fmt_money(a.get(A.annual_revenue))} (ideal {fmt_money(cfg.ideal_revenue[0])}-{fmt_money(cfg.ideal_revenue[1])})",
         r["revenue_fit"], cfg.fit_revenue_weight),
        ("propensity", "intent", f"{r['intent'] * 100:.0f} / 100", r["intent"], cfg.intent_weight),
        ("propensity", "engagement (open pipeline)", fmt_money(r["open_pipeline"]), r["engagement"], cfg.engagement_weight),
        ("propensity", "win rate in similar accounts", win_txt, r["win_history"], cfg.win_history_weight),
        ("strategic", "named account", "yes" if r["named"] else "no", r["named"], cfg.named_weight),
        ("strategic", "corporate family size", f"{r['family_size']:.0f} accounts", r["family"], cfg.family_weight),
        ("strategic", "company scale (revenue percentile)", f"{r['scale'] * 100:.0f}th percentile", r["scale"], cfg.scale_weight),
    ]
    comp_score = {"fit": r[X.fit_score], "propensity": r[X.propensity_score], "strategic": r[X.strategic_score]}
    comp_w = {"fit": cfg.fit_weight, "propensity": cfg.propensity_weight, "strategic": cfg.strategic_weight}
    total_w = sum(max(w, 0) for w in comp_w.values()) or 1.0
    df = pd.DataFrame(rows, columns=["component", "input", "value", "part", "weight"])
    df["component_score"] = df["component"].map(comp_score)
    df["component_weight"] = df["component"].map(lambda c: max(comp_w[c], 0) / total_w)
    # points: the component's contribution to the total, split by the input's share of it
    wsum = df.groupby("component")["weight"].transform(lambda w: w.clip(lower=0).sum())
    share = (df["part"] * df["weight"].clip(lower=0)) / wsum.replace(0, np.nan)
    df["points"] = 100 * share.fillna(0) * df["component_weight"]
    seg = None if segments is None else pd.Series(segments).iloc[i:i + 1].reset_index(drop=True)
    prod = whitespace_by_product(accounts.iloc[i:i + 1], account_products, cfg, seg)
    return {
        "account": {
            "account_id": str(a[A.account_id]), "name": str(a.get(A.name, "")),
            X.potential_score: float(r[X.potential_score]), X.tier: str(r[X.tier]),
            X.fit_score: float(r[X.fit_score]), X.propensity_score: float(r[X.propensity_score]),
            X.strategic_score: float(r[X.strategic_score]),
            X.potential: float(r[X.potential]), X.whitespace: float(r[X.whitespace]),
            "arr": float(r[TOTAL_ARR]),
        },
        "components": df,
        "products": prod.drop(columns=[A.account_id]),
    }
