"""Segment rules: an ordered list of conditions over account fields, first match wins.

A :class:`SegmentRule` matches an account when every condition it sets holds (conditions left
empty match anything): geography (states and/or regions: the data's own sales regions, else US
Census regions), industries, employee and
revenue bands (min inclusive, max exclusive), ICP tiers, a product held, and the named flag. Each
rule names a segment and its coverage model ("dedicated" or "pooled", with a target number of
accounts per rep). Several rules may name the same segment (an OR of conditions).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..contract import A, P, X
from ..frames import isin
from .scoring import TOTAL_ARR

COVERAGE_MODELS = ("dedicated", "pooled")
RULE_INDEX = "rule_index"  # 0-based index of the first matching rule, -1 for none
ACCOUNTS_PER_REP = "accounts_per_rep"  # the segment's target accounts per rep
UNSEGMENTED = "(unsegmented)"

CENSUS_REGIONS: dict[str, tuple[str, ...]] = {
    "Northeast": ("CT", "ME", "MA", "NH", "RI", "VT", "NJ", "NY", "PA"),
    "Midwest": ("IL", "IN", "MI", "OH", "WI", "IA", "KS", "MN", "MO", "NE", "ND", "SD"),
    "South": ("DE", "DC", "FL", "GA", "MD", "NC", "SC", "VA", "WV", "AL", "KY", "MS", "TN",
              "AR", "LA", "OK", "TX"),
    "West": ("AZ", "CO", "ID", "MT", "NV", "NM", "UT", "WY", "AK", "CA", "HI", "OR", "WA"),
}
US_STATES = frozenset(s for v in CENSUS_REGIONS.values() for s in v) | {"PR", "GU", "VI", "AS", "MP"}
STATE_REGION = {s: r for r, v in CENSUS_REGIONS.items() for s in v}


def region_table(sales_regions: dict[str, tuple[str, ...]] | None = None) -> dict[str, frozenset[str]]:
    """Region name (lower case) -> states: the data's sales regions first (see
    :func:`sales_regions`), then the US Census regions for names the data does not use."""
    out = {k.lower(): frozenset(v) for k, v in CENSUS_REGIONS.items()}
    for k, v in (sales_regions or {}).items():
        out[str(k).lower()] = frozenset(str(x).upper() for x in v)
    return out


def sales_regions(accounts: pd.DataFrame, reps: pd.DataFrame | None) -> dict[str, tuple[str, ...]]:
    """The company's own regions as states, read from the data: each state goes to the region
    of the reps who own most of its accounts (reps.region). Empty when the data has no rep
    regions. Lets a rule say "Central" when that is what the sales team calls it."""
    from ..contract import R

    if (reps is None or reps.empty or R.region not in reps.columns or A.owner_id not in accounts.columns
            or A.state not in accounts.columns):
        return {}
    reg = pd.Series(reps[R.region].astype("string").str.strip().to_numpy(),
                    index=reps[R.rep_id].astype("string").to_numpy())
    reg = reg[~reg.index.duplicated() & reg.notna() & (reg != "")]
    if reg.empty:
        return {}
    df = pd.DataFrame({"state": accounts[A.state].astype("string").str.strip().str.upper(),
                       "region": accounts[A.owner_id].astype("string").map(reg)}).dropna()
    if df.empty:
        return {}
    top = df.groupby(["state", "region"]).size().reset_index(name="n").sort_values(
        ["state", "n", "region"], ascending=[True, False, True]).drop_duplicates("state")
    return {str(r): tuple(sorted(g["state"].astype(str))) for r, g in top.groupby("region")}


def _tup(v) -> tuple[str, ...]:
    if v is None:
        return ()
    if isinstance(v, str):
        v = [x for x in v.replace(";", ",").split(",")]
    out = []
    for x in v:
        if x is None or (isinstance(x, float) and np.isnan(x)):
            continue
        s = str(x).strip()
        if s and s not in out:
            out.append(s)
    return tuple(out)


def _opt_float(v) -> float | None:
    if v is None or v == "":
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else f


def _opt_bool(v) -> bool | None:
    if v is None or v == "" or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    s = str(v).strip().lower()
    if s in ("true", "yes", "y", "1", "named"):
        return True
    if s in ("false", "no", "n", "0", "not named"):
        return False
    return None


@dataclass(frozen=True)
class SegmentRule:
    name: str
    states: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # sales regions in the data (reps.region), else US Census regions
    industries: tuple[str, ...] = ()
    min_employees: float | None = None
    max_employees: float | None = None
    min_revenue: float | None = None
    max_revenue: float | None = None
    tiers: tuple[str, ...] = ()
    products: tuple[str, ...] = ()  # holds any of these product lines
    named: bool | None = None
    coverage_model: str = "pooled"
    accounts_per_rep: int = 100

    @property
    def is_catch_all(self) -> bool:
        return not (self.states or self.regions or self.industries or self.tiers or self.products
                    or self.named is not None or self.min_employees is not None or self.max_employees is not None
                    or self.min_revenue is not None or self.max_revenue is not None)

    def describe(self) -> str:
        """The conditions in words, e.g. "employees 250-1,999, tier A or B"."""
        parts = []
        if self.named is not None:
            parts.append("named" if self.named else "not named")
        if self.regions:
            parts.append("region " + " or ".join(self.regions))
        if self.states:
            parts.append("state " + ", ".join(self.states))
        if self.industries:
            parts.append("industry " + " or ".join(self.industries))
        for label, lo, hi, money in (("employees", self.min_employees, self.max_employees, False),
                                     ("revenue", self.min_revenue, self.max_revenue, True)):
            f = (lambda x: f"${x:,.0f}") if money else (lambda x: f"{x:,.0f}")
            if lo is not None and hi is not None:
                parts.append(f"{label} {f(lo)} to under {f(hi)}")
            elif lo is not None:
                parts.append(f"{label} >= {f(lo)}")
            elif hi is not None:
                parts.append(f"{label} < {f(hi)}")
        if self.tiers:
            parts.append("tier " + " or ".join(self.tiers))
        if self.products:
            parts.append("holds " + " or ".join(self.products))
        return ", ".join(parts) if parts else "every remaining account"

    def static_problems(self, regions: dict[str, frozenset[str]] | None = None) -> list[str]:
        """Reasons this rule can never match any data (empty: it can). ``regions``: the region
        table in use (:func:`region_table`; Census regions when None)."""
        table = regions or region_table()
        out = []
        if self.min_employees is not None and self.max_employees is not None and self.min_employees >= self.max_employees:
            out.append(f"employees from {self.min_employees:,.0f} to under {self.max_employees:,.0f} is an empty range")
        if self.min_revenue is not None and self.max_revenue is not None and self.min_revenue >= self.max_revenue:
            out.append(f"revenue from {self.min_revenue:,.0f} to under {self.max_revenue:,.0f} is an empty range")
        bad_t = [t for t in self.tiers if t not in ("A", "B", "C", "D")]
        if bad_t and len(bad_t) == len(self.tiers):
            out.append(f"tier {', '.join(bad_t)} is not a tier (use A, B, C or D)")
        bad_r = [r for r in self.regions if r.lower() not in table]
        if bad_r and len(bad_r) == len(self.regions):
            names = sorted({k.title() for k in table})
            out.append(f"region {', '.join(bad_r)} is not one of {', '.join(names)}")
        bad_s = [s for s in self.states if s.upper() not in US_STATES]
        if bad_s and len(bad_s) == len(self.states):
            out.append(f"state {', '.join(bad_s)} is not a 2-letter US state code")
        if self.states and self.regions:
            allowed = {s for r in self.regions for s in table.get(r.lower(), ())}
            if allowed and not any(s.upper() in allowed for s in self.states):
                out.append("none of its states lies in its regions")
        if self.coverage_model not in COVERAGE_MODELS:
            out.append(f"coverage model {self.coverage_model!r} is not dedicated or pooled")
        return out

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("states", "regions", "industries", "tiers", "products"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "SegmentRule":
        apr = _opt_float(d.get("accounts_per_rep"))
        cm = str(d.get("coverage_model") or "pooled").strip().lower()
        return cls(
            name=str(d.get("name") or "").strip(),
            states=tuple(s.upper() for s in _tup(d.get("states"))),
            regions=_tup(d.get("regions")),
            industries=_tup(d.get("industries")),
            min_employees=_opt_float(d.get("min_employees")),
            max_employees=_opt_float(d.get("max_employees")),
            min_revenue=_opt_float(d.get("min_revenue")),
            max_revenue=_opt_float(d.get("max_revenue")),
            tiers=tuple(t.upper() for t in _tup(d.get("tiers"))),
            products=_tup(d.get("products")),
            named=_opt_bool(d.get("named")),
            coverage_model=cm,
            accounts_per_rep=int(apr) if apr and apr > 0 else 100,
        )


@dataclass(frozen=True)
class SegmentRules:
    """Ordered rules; the first that matches an account gives its segment."""

    rules: tuple[SegmentRule, ...] = field(default_factory=tuple)

    def __len__(self) -> int:
        return len(self.rules)

    def __iter__(self):
        return iter(self.rules)

    @property
    def segment_names(self) -> list[str]:
        out: list[str] = []
        for r in self.rules:
            if r.name not in out:
                out.append(r.name)
        return out

    def to_dict(self) -> dict:
        return {"rules": [r.to_dict() for r in self.rules]}

    @classmethod
    def from_dict(cls, d) -> "SegmentRules":
        if not d:
            return cls()
        items = d.get("rules", []) if isinstance(d, dict) else d
        return cls(tuple(SegmentRule.from_dict(r) for r in items))

    @classmethod
    def default(cls) -> "SegmentRules":
        return default_rules()

    def to_frame(self) -> pd.DataFrame:
        """One row per rule, editable in a table (lists as comma-separated text)."""
        rows = []
        for i, r in enumerate(self.rules):
            d = r.to_dict()
            for k in ("states", "regions", "industries", "tiers", "products"):
                d[k] = ", ".join(d[k])
            d["named"] = {True: "yes", False: "no", None: "any"}[r.named]
            rows.append({"priority": i + 1, **d})
        cols = ["priority", "name", "named", "regions", "states", "industries", "min_employees", "max_employees",
                "min_revenue", "max_revenue", "tiers", "products", "coverage_model", "accounts_per_rep"]
        return pd.DataFrame(rows, columns=cols)

    @classmethod
    def from_frame(cls, df: pd.DataFrame) -> "SegmentRules":
        """Rules from an edited table: sorted by ``priority`` (ties keep table order); rows with
        no name are dropped."""
        if df is None or df.empty:
            return cls()
        d = df.copy()
        if "priority" in d.columns:
            d["_p"] = pd.to_numeric(d["priority"], errors="coerce").fillna(1e9)
            d["_o"] = np.arange(len(d))
            d = d.sort_values(["_p", "_o"], kind="stable")
        rules = []
        for rec in d.to_dict("records"):
            rec = {k: (None if (not isinstance(v, (list, tuple)) and pd.isna(v)) else v) for k, v in rec.items()}
            if not str(rec.get("name") or "").strip():
                continue
            if str(rec.get("named") or "").strip().lower() == "any":
                rec["named"] = None
            rules.append(SegmentRule.from_dict(rec))
        return cls(tuple(rules))


def default_rules() -> SegmentRules:
    """Strategic (named accounts), Enterprise (600+ employees), Mid-Market (100+) and SMB (the rest);
    fits the sample data, where reps' segments split at about these sizes."""
    return SegmentRules((
        SegmentRule("Strategic", named=True, coverage_model="dedicated", accounts_per_rep=15),
        SegmentRule("Enterprise", min_employees=600, coverage_model="dedicated", accounts_per_rep=40),
        SegmentRule("Mid-Market", min_employees=100, coverage_model="pooled", accounts_per_rep=150),
        SegmentRule("SMB", coverage_model="pooled", accounts_per_rep=300),
    ))


# --------------------------------------------------------------------------------------------
# matching
# --------------------------------------------------------------------------------------------

class _Cols:
    """Account columns prepared once for matching many rules."""

    def __init__(self, accounts: pd.DataFrame, account_products: pd.DataFrame | None):
        n = len(accounts)
        self.n = n

        def s(col):
            if col in accounts.columns:
                return accounts[col].astype("string").str.strip().to_numpy(dtype=object, na_value="")
            return np.full(n, "", dtype=object)

        def f(col):
            if col in accounts.columns:
                return pd.to_numeric(accounts[col], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            return np.full(n, np.nan)

        self.state = pd.Series(s(A.state)).str.upper().to_numpy(dtype=object)
        self.industry_l = pd.Series(s(A.industry)).str.lower().to_numpy(dtype=object)
        self.tier = s(X.tier)
        self.emp = f(A.employees)
        self.rev = f(A.annual_revenue)
        self.named = (accounts[A.named].fillna(False).astype(bool).to_numpy() if A.named in accounts.columns
                      else np.zeros(n, dtype=bool))
        self.ids = accounts[A.account_id].astype("string").to_numpy(dtype=object)
        self._ap = account_products
        self._held: dict[str, np.ndarray] = {}

    def holds(self, product: str) -> np.ndarray:
        key = product.lower()
        if key not in self._held:
            ap = self._ap
            if ap is None or ap.empty:
                self._held[key] = np.zeros(self.n, dtype=bool)
            else:
                m = ap[P.product].astype("string").str.strip().str.lower() == key
                if P.arr in ap.columns:
                    m &= pd.to_numeric(ap[P.arr], errors="coerce").fillna(0).to_numpy() > 0
                ids = set(ap.loc[m.fillna(False).to_numpy(), P.account_id].astype(str))
                self._held[key] = isin(pd.Series(self.ids), ids)
        return self._held[key]


def _match(rule: SegmentRule, c: _Cols, regions: dict[str, frozenset[str]]) -> np.ndarray:
    m = np.ones(c.n, dtype=bool)
    if rule.states or rule.regions:
        states = {s.upper() for s in rule.states}
        region_states = {s for r in rule.regions for s in regions.get(r.lower(), ())}
        if rule.states and rule.regions:
            allowed = states & region_states
        else:
            allowed = states | region_states
        m &= pd.Series(c.state).isin(allowed).to_numpy()
    if rule.industries:
        m &= pd.Series(c.industry_l).isin({i.lower() for i in rule.industries}).to_numpy()
    with np.errstate(invalid="ignore"):
        if rule.min_employees is not None:
            m &= c.emp >= rule.min_employees
        if rule.max_employees is not None:
            m &= c.emp < rule.max_employees
        if rule.min_revenue is not None:
            m &= c.rev >= rule.min_revenue
        if rule.max_revenue is not None:
            m &= c.rev < rule.max_revenue
    if rule.tiers:
        m &= pd.Series(c.tier).isin(set(rule.tiers)).to_numpy()
    if rule.products:
        held = np.zeros(c.n, dtype=bool)
        for p in rule.products:
            held |= c.holds(p)
        m &= held
    if rule.named is not None:
        m &= c.named == rule.named
    return m


def rule_masks(accounts: pd.DataFrame, rules: SegmentRules,
               account_products: pd.DataFrame | None = None,
               regions: dict[str, tuple[str, ...]] | None = None) -> np.ndarray:
    """Boolean matrix (rules x accounts): which accounts each rule matches on its own."""
    c = _Cols(accounts, account_products)
    if not len(rules):
        return np.zeros((0, c.n), dtype=bool)
    table = region_table(regions)
    return np.vstack([_match(r, c, table) for r in rules.rules])


def apply_segments(accounts: pd.DataFrame, rules: SegmentRules,
                   account_products: pd.DataFrame | None = None,
                   regions: dict[str, tuple[str, ...]] | None = None) -> pd.DataFrame:
    """Segment per account, indexed like ``accounts``: X.segment, X.coverage_model, accounts_per_rep
    and ``rule_index`` (0-based index of the first matching rule, -1 when none matched; the
    segment is then "(unsegmented)" and the coverage model missing).

    Tier conditions use an ``X.tier`` column on ``accounts`` (see enrich_accounts); product
    conditions need ``account_products``; region names resolve through ``regions`` (the data's
    sales regions, :func:`sales_regions`) and then the US Census regions."""
    n = len(accounts)
    masks = rule_masks(accounts, rules, account_products, regions)
    if masks.shape[0]:
        any_m = masks.any(axis=0)
        first = np.where(any_m, masks.argmax(axis=0), -1)
    else:
        first = np.full(n, -1)
    names = np.asarray([r.name for r in rules.rules] + [UNSEGMENTED], dtype=object)
    cov = np.asarray([r.coverage_model for r in rules.rules] + [None], dtype=object)
    apr = np.asarray([float(r.accounts_per_rep) for r in rules.rules] + [np.nan], dtype=float)
    return pd.DataFrame(
        {
            X.segment: pd.array(names[first], dtype="string"),
            X.coverage_model: pd.array(cov[first], dtype="string"),
            ACCOUNTS_PER_REP: apr[first],
            RULE_INDEX: first.astype(np.int64),
        },
        index=accounts.index,
    )


@dataclass(frozen=True)
class RuleWarning:
    """One finding about the rules. kind: never_matches | no_accounts | shadowed | overlap |
    unsegmented | invalid; level: "error" or "warning" or "info"."""

    kind: str
    level: str
    message: str
    rule_index: int | None = None  # 0-based

    def __str__(self) -> str:
        return self.message


def check_rules(accounts: pd.DataFrame, rules: SegmentRules,
                account_products: pd.DataFrame | None = None, max_overlaps: int = 10,
                regions: dict[str, tuple[str, ...]] | None = None) -> list[RuleWarning]:
    """Rules that can never match, rules that match nothing in this data, rules shadowed by
    earlier ones (every account they match is taken before), overlaps where an earlier rule takes
    accounts from a later one, and the count of unsegmented accounts."""
    out: list[RuleWarning] = []
    for i, r in enumerate(rules.rules):
        label = f"Rule {i + 1} ({r.name or 'no name'})"
        if not r.name:
            out.append(RuleWarning("invalid", "error", f"{label} has no segment name: give it one.", i))
        for p in r.static_problems(region_table(regions)):
            out.append(RuleWarning("never_matches", "error", f"{label} can never match: {p}.", i))
    masks = rule_masks(accounts, rules, account_products, regions)
    n = masks.shape[1] if masks.ndim == 2 else len(accounts)
    taken = np.zeros(n, dtype=bool)
    static_bad = {w.rule_index for w in out if w.kind == "never_matches"}
    overlaps = []
    for i, r in enumerate(rules.rules):
        m = masks[i]
        label = f"Rule {i + 1} ({r.name or 'no name'})"
        cnt = int(m.sum())
        if i in static_bad:
            pass
        elif cnt == 0:
            out.append(RuleWarning("no_accounts", "warning",
                                   f"{label} matches no account in this data ({r.describe()}).", i))
        else:
            won = m & ~taken
            if not won.any():
                earlier = [j + 1 for j in range(i) if (masks[j] & m).any()]
                out.append(RuleWarning(
                    "shadowed", "warning",
                    f"{label} is shadowed: {'all ' + format(cnt, ',') + ' accounts' if cnt != 1 else 'the one account'} "
                    f"it matches {'are' if cnt != 1 else 'is'} taken by rule"
                    f"{'s' if len(earlier) > 1 else ''} {', '.join(map(str, earlier))} first. "
                    "Move it up or narrow the earlier rules.", i))
            elif not r.is_catch_all:
                for j in range(i):
                    if rules.rules[j].name == r.name:
                        continue  # same segment: overlap does not change the result
                    k = int((masks[j] & m).sum())
                    if k:
                        overlaps.append(RuleWarning(
                            "overlap", "info",
                            f"Rules {j + 1} ({rules.rules[j].name}) and {i + 1} ({r.name}) overlap on "
                            f"{k:,} account{'s' if k != 1 else ''}; rule {j + 1} wins {'them' if k != 1 else 'it'}.", i))
        taken |= m
    out.extend(overlaps[:max_overlaps])
    if len(overlaps) > max_overlaps:
        out.append(RuleWarning("overlap", "info", f"... and {len(overlaps) - max_overlaps} more overlaps."))
    uns = int((~taken).sum())
    if uns:
        out.append(RuleWarning(
            "unsegmented", "warning",
            f"{uns:,} of {n:,} accounts match no rule and are unsegmented. Add a last rule with no "
            "conditions to catch them.", None))
    return out


def segment_summary(accounts: pd.DataFrame, segments: pd.DataFrame | None = None,
                    rules: SegmentRules | None = None) -> pd.DataFrame:
    """Per segment (in rule order, "(unsegmented)" last): accounts, potential, arr, whitespace,
    current reps (distinct owners), coverage model, target accounts per rep and the reps that
    target implies, accounts per current rep.

    ``accounts`` is an enriched frame (with X.segment, X.potential, ...) or raw accounts with
    ``segments`` from :func:`apply_segments`."""
    df = accounts
    if segments is not None:
        df = accounts.copy()
        for c in segments.columns:
            df[c] = segments[c]
    if X.segment not in df.columns:
        raise ValueError("segment_summary needs a segment column: call apply_segments or enrich_accounts first")

    def col(name):
        return pd.to_numeric(df[name], errors="coerce").fillna(0.0) if name in df.columns else pd.Series(0.0, index=df.index)

    arr_col = TOTAL_ARR if TOTAL_ARR in df.columns else A.arr
    g = pd.DataFrame({
        "segment": df[X.segment].astype("string").fillna(UNSEGMENTED),
        "potential": col(X.potential), "arr": col(arr_col), "whitespace": col(X.whitespace),
        "owner": df[A.owner_id].astype("string") if A.owner_id in df.columns else pd.Series(pd.NA, index=df.index, dtype="string"),
    }).groupby("segment", sort=False).agg(
        accounts=("potential", "size"), potential=("potential", "sum"), arr=("arr", "sum"),
        whitespace=("whitespace", "sum"), current_reps=("owner", "nunique"))
    order = (rules.segment_names if rules is not None else []) + [UNSEGMENTED]
    if rules is not None:
        g = g.reindex([s for s in order if s in g.index or s != UNSEGMENTED])
        g[["accounts", "potential", "arr", "whitespace", "current_reps"]] = g[
            ["accounts", "potential", "arr", "whitespace", "current_reps"]].fillna(0)
        first = {}
        for r in rules.rules:
            first.setdefault(r.name, r)
        g["coverage_model"] = [first[s].coverage_model if s in first else None for s in g.index]
        g["accounts_per_rep"] = [float(first[s].accounts_per_rep) if s in first else np.nan for s in g.index]
        g["reps_needed"] = np.ceil(g["accounts"] / g["accounts_per_rep"])
    g["accounts_per_current_rep"] = g["accounts"] / g["current_reps"].replace(0, np.nan)
    g["accounts"] = g["accounts"].astype(int)
    g["current_reps"] = g["current_reps"].astype(int)
    g.index.name = "segment"
    return g.reset_index()
