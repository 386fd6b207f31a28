"""Validation: a report of every problem, with row, column, a plain message and a fix.

Blocking errors stop a dataset from loading; warnings do not. Row numbers are file rows: the
header is row 1, the first data row is row 2 (what a spreadsheet shows).

``check_tables`` runs every check on normalised canonical tables; the importer calls it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from ..contract import FLOAT, INT, TABLES, A, O, P, R
from ..frames import isin
from ..analyse.hierarchy import find_cycles
from .ids import keys as id_keys

ERROR = "error"
WARNING = "warning"
INFO = "info"  # a fix made on the way in (ids matched, ZIP+4 cut, states converted), with its count
# At most this many issues of one kind (same table, column, message) are listed one by one;
# the rest are summarised in one line.
MAX_PER_KIND = 20


@dataclass(frozen=True)
class Issue:
    severity: str  # "error" (blocks loading), "warning" or "info" (a fix made on the way in)
    table: str
    row: int | None  # file row (header = 1); None when the issue is about a whole column/file
    column: str | None
    message: str
    fix: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def where(self) -> str:
        parts = [self.table]
        if self.row is not None:
            parts.append(f"row {self.row}")
        if self.column:
            parts.append(f"column '{self.column}'")
        return ", ".join(parts)


@dataclass
class ValidationReport:
    issues: list[Issue] = field(default_factory=list)

    def add(self, severity: str, table: str, row, column, message: str, fix: str = "") -> None:
        self.issues.append(Issue(severity, table, None if row is None else int(row), column, message, fix))

    def error(self, table: str, row, column, message: str, fix: str = "") -> None:
        self.add(ERROR, table, row, column, message, fix)

    def warning(self, table: str, row, column, message: str, fix: str = "") -> None:
        self.add(WARNING, table, row, column, message, fix)

    def info(self, table: str, column, message: str, fix: str = "") -> None:
        """A fix made on the way in, with its count ("312 ZIP+4 codes cut to 5 digits")."""
        self.add(INFO, table, None, column, message, fix)

    def add_rows(self, severity: str, table: str, rows, column, message: str, fix: str = "",
                 limit: int = MAX_PER_KIND) -> None:
        """One issue per row for the first ``limit`` rows, then one summary line for the rest."""
        rows = [int(r) for r in rows]
        for r in rows[:limit]:
            self.add(severity, table, r, column, message, fix)
        if len(rows) > limit:
            self.add(severity, table, None, column,
                     f"{message} (and {len(rows) - limit:,} more rows like this)", fix)

    def extend(self, other: "ValidationReport | list[Issue]") -> None:
        self.issues.extend(other.issues if isinstance(other, ValidationReport) else other)

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == ERROR]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == WARNING]

    @property
    def infos(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == INFO]

    @property
    def ok(self) -> bool:
        """True when nothing blocks loading (warnings allowed)."""
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """Errors first, then warnings; columns severity, table, row, column, message, fix."""
        cols = ["severity", "table", "row", "column", "message", "fix"]
        if not self.issues:
            return pd.DataFrame({c: pd.Series(dtype="Int64" if c == "row" else "string") for c in cols})
        df = pd.DataFrame([i.to_dict() for i in self.issues], columns=cols)
        df["row"] = df["row"].astype("Int64")
        order = df["severity"].map({ERROR: 0, WARNING: 1, INFO: 2}).fillna(3)
        df = df.assign(_o=order, _i=np.arange(len(df))).sort_values(["_o", "_i"]).drop(columns=["_o", "_i"])
        return df.reset_index(drop=True)

    def to_display_frame(self) -> pd.DataFrame:
        """:meth:`to_frame` for people: the row as text, "whole file" or "whole column" where an
        issue is about more than one row (never "None")."""
        df = self.to_frame()
        more = df["message"].astype(str).str.contains("more rows like this", regex=False).to_numpy()
        where = np.where(more, "more rows",
                         np.where(df["column"].fillna("").astype(str) != "", "whole column", "whole file"))
        row = df["row"].astype("string")
        df["row"] = row.where(df["row"].notna(), pd.Series(where, index=df.index, dtype="string"))
        return df

    def summary(self) -> str:
        e, w, n = len(self.errors), len(self.warnings), len(self.infos)
        verdict = "OK: nothing blocks loading" if self.ok else "BLOCKED: fix the errors before loading"
        fixed = f", {n} fix{'es' if n != 1 else ''} made on the way in" if n else ""
        return f"{verdict} ({e} error{'s' if e != 1 else ''}, {w} warning{'s' if w != 1 else ''}{fixed})"

    def to_text(self, max_issues: int | None = None) -> str:
        lines = []
        for i, issue in enumerate(self.to_frame().itertuples(index=False)):
            if max_issues is not None and i >= max_issues:
                lines.append(f"... and {len(self.issues) - max_issues} more")
                break
            where = [issue.table]
            if not pd.isna(issue.row):
                where.append(f"row {issue.row}")
            if isinstance(issue.column, str) and issue.column:
                where.append(f"column '{issue.column}'")
            line = f"{issue.severity.upper():7} {', '.join(where)}: {issue.message}"
            if issue.fix:
                line += f"\n        fix: {issue.fix}"
            lines.append(line)
        lines.append(self.summary())
        return "\n".join(lines)


def _rows(df: pd.DataFrame, mask) -> np.ndarray:
    """File row numbers of the rows selected by ``mask`` (``_row`` column, else index + 2)."""
    mask = np.asarray(mask, dtype=bool)
    if "_row" in df.columns:
        return df["_row"].to_numpy()[mask]
    return (np.arange(len(df)) + 2)[mask]


def _blank(s: pd.Series) -> np.ndarray:
    return s.isna().to_numpy() | (s.astype("string").str.strip().fillna("") == "").to_numpy()


def check_required_columns(df: pd.DataFrame, tname: str, report: ValidationReport, source_headers=None) -> bool:
    table = TABLES[tname]
    missing = [c for c in table.required if c not in df.columns]
    for c in missing:
        col = table.column(c)
        hint = f" (recognised headers: {', '.join(col.aliases[:5])})" if col.aliases else ""
        have = f" The file's columns are: {', '.join(map(str, source_headers))[:300]}." if source_headers is not None else ""
        report.error(tname, None, c, f"Required column '{c}' is missing.{have}",
                     f"Add a '{c}' column or map one of your columns to '{c}'{hint}.")
    return not missing


def _check_unique_key(df, tname, col, report, what):
    blank = _blank(df[col])
    if blank.any():
        report.add_rows(ERROR, tname, _rows(df, blank), col, f"Empty {what}.",
                        f"Give every row a {what}, or delete the row.")
    ids = df[col].astype("string")
    key = id_keys(ids)  # the 15- and 18-character ids of one Salesforce record are one id
    dup = key.duplicated(keep=False).to_numpy() & ~blank
    if dup.any():
        first = {}
        rows = _rows(df, np.ones(len(df), bool))
        for k, v, r in zip(key[dup], ids[dup], rows[dup]):
            first.setdefault(k, (r, v))
        later = [(r, v, k) for r, v, k in zip(rows[dup], ids[dup].to_numpy(), key[dup].to_numpy()) if first[k][0] != r]
        for r, v, k in later[:MAX_PER_KIND]:
            r0, v0 = first[k]
            same = "" if v == v0 else f" as '{v0}'"
            report.error(tname, r, col, f"Duplicate {what} '{v}' (also on row {r0}{same}).",
                         "Ids must be unique: remove the duplicate row or give it its own id.")
        if len(later) > MAX_PER_KIND:
            report.error(tname, None, col, f"Duplicate {what}s (and {len(later) - MAX_PER_KIND:,} more rows like this).",
                         "Ids must be unique.")


def _range_warnings(df, tname, report):
    table = TABLES[tname]
    for c in table.columns:
        if c.name not in df.columns or c.dtype not in (FLOAT, INT):
            continue
        s = pd.to_numeric(df[c.name], errors="coerce")
        if c.name in (A.employees, A.annual_revenue, A.arr, A.open_pipeline, O.amount, R.quota, R.capacity):
            neg = (s < 0).fillna(False).to_numpy()
            if neg.any():
                report.add_rows(WARNING, tname, _rows(df, neg), c.name, f"Negative {c.name}.",
                                f"Check the value; negative {c.name} is treated as is and may skew totals.")
    if tname == "reps":
        for c in (R.ramp,):
            if c in df.columns:
                s = pd.to_numeric(df[c], errors="coerce")
                bad = ((s < 0) | (s > 1)).fillna(False).to_numpy()
                if bad.any():
                    report.add_rows(WARNING, tname, _rows(df, bad), c, "Ramp outside 0-1.",
                                    "Ramp is a productivity factor between 0 and 1 (0.5 = half productive).")
        if R.capacity in df.columns:
            s = pd.to_numeric(df[R.capacity], errors="coerce")
            bad = (s > 2).fillna(False).to_numpy()
            if bad.any():
                report.add_rows(WARNING, tname, _rows(df, bad), R.capacity, "Capacity above 2 FTE.",
                                "Capacity is in FTE (1.0 = one full-time rep).")


def check_accounts(df: pd.DataFrame, report: ValidationReport) -> None:
    t = "accounts"
    _check_unique_key(df, t, A.account_id, report, "account_id")
    if A.name in df.columns:
        blank = _blank(df[A.name])
        if blank.any():
            report.add_rows(WARNING, t, _rows(df, blank), A.name, "Empty account name.",
                            "Fill the name; the account id is shown instead.")
    if A.parent_id in df.columns and len(df):
        ids = set(df[A.account_id].dropna().astype(str))
        par = df[A.parent_id].astype("string")
        has = ~_blank(par)
        outside = has & ~par.isin(ids).fillna(False).to_numpy()
        if outside.any():
            report.add_rows(WARNING, t, _rows(df, outside), A.parent_id,
                            "Parent account is not in the file: the account heads its own family.",
                            "Include the parent account in the file, or clear parent_id.")
        self_par = has & (par == df[A.account_id].astype("string")).fillna(False).to_numpy()
        if self_par.any():
            report.add_rows(WARNING, t, _rows(df, self_par), A.parent_id,
                            "Account is its own parent (ignored).", "Clear parent_id on this row.")
        cycles = find_cycles(df[[A.account_id, A.parent_id]])
        if cycles:
            pos = dict(zip(df[A.account_id].astype(str), _rows(df, np.ones(len(df), bool))))
            for cyc in cycles[:MAX_PER_KIND]:
                if len(cyc) < 2:
                    continue
                chain = " -> ".join(cyc + [cyc[0]])
                report.error(t, pos.get(cyc[0]), A.parent_id, f"Parent cycle: {chain}.",
                             "A parent chain must end at a top account: clear parent_id on one of these rows.")
    _range_warnings(df, t, report)


def check_reps(df: pd.DataFrame, report: ValidationReport) -> None:
    t = "reps"
    _check_unique_key(df, t, R.rep_id, report, "rep_id")
    if R.name in df.columns:
        blank = _blank(df[R.name])
        if blank.any():
            report.add_rows(WARNING, t, _rows(df, blank), R.name, "Empty rep name.", "Fill the rep's name.")
    _range_warnings(df, t, report)


def check_opportunities(df: pd.DataFrame, report: ValidationReport) -> None:
    t = "opportunities"
    _check_unique_key(df, t, O.opportunity_id, report, "opportunity_id")
    blank = _blank(df[O.account_id])
    if blank.any():
        report.add_rows(WARNING, t, _rows(df, blank), O.account_id, "Opportunity has no account (ignored in KPIs).",
                        "Fill AccountId, or remove the row.")
    if O.is_won in df.columns and O.is_closed in df.columns:
        bad = (df[O.is_won].fillna(False).astype(bool) & ~df[O.is_closed].fillna(False).astype(bool)).to_numpy()
        if bad.any():
            report.add_rows(WARNING, t, _rows(df, bad), O.is_won, "Won but not closed: treated as closed.",
                            "Set IsClosed to true on won opportunities.")
    today = pd.Timestamp.today().normalize() + pd.Timedelta(days=1)  # after today, whatever the hour
    if O.close_date in df.columns:
        closed = pd.Series(False, index=df.index)
        for c in (O.is_closed, O.is_won):
            if c in df.columns:
                closed |= df[c].fillna(False).astype(bool)
        fut = (closed & (pd.to_datetime(df[O.close_date], errors="coerce") >= today)).fillna(False).to_numpy()
        if fut.any():
            report.add_rows(WARNING, t, _rows(df, fut), O.close_date,
                            "Closed deal with a close date after today: it counts in the period it is dated in, "
                            "not in today's figures.",
                            "Check the close date (a typo, or an expected date left on a closed deal); the "
                            "figures are as of today at the latest.")
    if O.created_date in df.columns:
        fut = (pd.to_datetime(df[O.created_date], errors="coerce") >= today).fillna(False).to_numpy()
        if fut.any():
            report.add_rows(WARNING, t, _rows(df, fut), O.created_date, "Created date after today.",
                            "Check the created date; the figures are as of today at the latest.")
    if O.created_date in df.columns and O.close_date in df.columns:
        bad = (df[O.close_date] < df[O.created_date]).fillna(False).to_numpy()
        if bad.any():
            report.add_rows(WARNING, t, _rows(df, bad), O.close_date, "Close date before created date.",
                            "Check the dates; cycle length is not computed for this row.")
    _range_warnings(df, t, report)


def check_products(df: pd.DataFrame, report: ValidationReport) -> None:
    t = "account_products"
    for c in (P.account_id, P.product):
        blank = _blank(df[c])
        if blank.any():
            report.add_rows(ERROR, t, _rows(df, blank), c, f"Empty {c}.", f"Fill {c} or delete the row.")
    dup = df.duplicated([P.account_id, P.product], keep="first").to_numpy()
    if dup.any():
        report.add_rows(WARNING, t, _rows(df, dup), P.product,
                        "Same account and product twice: the amounts are added up.", "Merge the rows.")
    _range_warnings(df, t, report)


def _looks_like_names(values) -> bool:
    """Owner values that read as people's names ('Dana Whitfield') rather than ids."""
    vals = [str(v) for v in values][:50]
    return bool(vals) and sum(1 for v in vals if " " in v.strip() and not any(ch.isdigit() for ch in v)) * 2 >= len(vals)


def _unknown_owners(acc, reps, unknown, report, rep_names_from: str | None) -> None:
    """One error per account whose owner matches no rep, saying how owners are matched (rep_id,
    then rep name) and, for owner names, which rep names there were and how they were built."""
    own = acc[A.owner_id].astype("string")
    vals = own[unknown].astype(str).to_numpy()
    rows = _rows(acc, unknown)
    names = reps[R.name].dropna().astype(str).tolist() if R.name in reps.columns else []
    ids = reps[R.rep_id].dropna().astype(str).tolist()
    if _looks_like_names(vals) and names:
        how = f" built from {rep_names_from}" if rep_names_from else ""
        fix = (f"Owners are matched to rep_id, then to rep names. The reps file's names{how} are "
               + ", ".join(f"'{n}'" for n in names[:4]) + (f" and {len(names) - 4:,} more" if len(names) > 4 else "")
               + ". Map the reps file's full-name column to name (First name and Last name columns are joined "
               "into the name when neither is mapped), add the owner to the reps file, or clear owner_id.")
        what = "matches no rep_id and no rep name in the reps file"
    else:
        fix = ("Owners are matched to rep_id (e.g. " + ", ".join(f"'{i}'" for i in ids[:3])
               + "). Add the owner to the reps file, fix the id, or clear owner_id to leave the account unassigned.")
        what = "matches no rep_id in the reps file"
    for r, v in list(zip(rows, vals))[:MAX_PER_KIND]:
        report.error("accounts", r, A.owner_id, f"Owner '{v}' {what}.", fix)
    if len(vals) > MAX_PER_KIND:
        report.error("accounts", None, A.owner_id, f"{len(vals) - MAX_PER_KIND:,} more owners {what} "
                     f"({len(set(vals)):,} different owners in all).", fix)


def check_cross(tables: dict[str, pd.DataFrame], report: ValidationReport, rep_names_from: str | None = None) -> None:
    """Checks across tables: owners against reps, opportunities and products against accounts.
    ``rep_names_from`` says how the reps' names were built ("column 'Full name'"), for messages."""
    acc = tables.get("accounts")
    reps = tables.get("reps")
    opp = tables.get("opportunities")
    prod = tables.get("account_products")
    acc_ids = set(acc[A.account_id].dropna().astype(str)) if acc is not None and A.account_id in acc else set()
    if reps is not None and len(reps) and R.rep_id in reps and acc is not None and A.owner_id in acc:
        rep_ids = set(reps[R.rep_id].dropna().astype(str))
        own = acc[A.owner_id].astype("string")
        has = ~_blank(own)
        unknown = has & ~own.isin(rep_ids).fillna(False).to_numpy()
        if unknown.any():
            _unknown_owners(acc, reps, unknown, report, rep_names_from)
        if R.active in reps.columns:
            inactive = set(reps.loc[~reps[R.active].fillna(True).astype(bool), R.rep_id].astype(str))
            orphan = has & own.isin(inactive).fillna(False).to_numpy()
            if orphan.any():
                report.warning("accounts", None, A.owner_id,
                               f"{int(orphan.sum()):,} accounts are owned by inactive reps (orphaned).",
                               "They are reassigned when you rebalance; lock none of them.")
        none = ~has
        if none.any() and none.mean() > 0:
            report.warning("accounts", None, A.owner_id, f"{int(none.sum()):,} accounts have no owner.",
                           "Unowned accounts are assigned when you rebalance.")
    if opp is not None and len(opp) and acc is not None:
        a = opp[O.account_id].astype("string")
        has = ~_blank(a)
        unknown = has & ~isin(a, acc_ids)
        if unknown.any():
            report.add_rows(ERROR, "opportunities", _rows(opp, unknown), O.account_id,
                            "Opportunity's account_id is not in the accounts file.",
                            "Export opportunities and accounts together, or remove these rows.")
        if reps is not None and len(reps) and O.owner_id in opp.columns:
            rep_ids = set(reps[R.rep_id].dropna().astype(str))
            own = opp[O.owner_id].astype("string")
            unk = ~_blank(own) & ~own.isin(rep_ids).fillna(False).to_numpy()
            if unk.any():
                report.warning("opportunities", None, O.owner_id,
                               f"{int(unk.sum()):,} opportunities are owned by someone not in the reps file.",
                               "Fine for history of reps who left; KPIs by rep skip them.")
    if prod is not None and len(prod) and acc is not None:
        a = prod[P.account_id].astype("string")
        unknown = ~_blank(a) & ~isin(a, acc_ids)
        if unknown.any():
            report.add_rows(WARNING, "account_products", _rows(prod, unknown), P.account_id,
                            "Product holding for an account that is not in the accounts file (ignored).",
                            "Export both files from the same system.")
        if A.arr in acc.columns and P.arr in prod.columns:
            sums = prod.groupby(prod[P.account_id].astype("string"))[P.arr].sum()
            arr = acc.set_index(acc[A.account_id].astype("string"))[A.arr]
            both = sums.index.intersection(arr.index)
            diff = (sums[both] - arr.reindex(both).fillna(0)).abs() > 1.0
            if diff.any():
                report.warning("account_products", None, P.arr,
                               f"Product arr does not add up to the account's arr on {int(diff.sum()):,} accounts.",
                               "Whitespace uses the product rows; check the two exports are from the same day.")


def check_tables(tables: dict[str, pd.DataFrame], report: ValidationReport | None = None,
                 rep_names_from: str | None = None) -> ValidationReport:
    """Run every check on normalised canonical tables (keys accounts, reps, opportunities,
    account_products). Tables missing a required column are reported and skipped."""
    report = report if report is not None else ValidationReport()
    ok = {}
    for tname, fn in (("accounts", check_accounts), ("reps", check_reps),
                      ("opportunities", check_opportunities), ("account_products", check_products)):
        df = tables.get(tname)
        if df is None:
            continue
        if not check_required_columns(df, tname, report):
            continue
        fn(df, report)
        ok[tname] = df
    if "accounts" in ok:
        check_cross(ok, report, rep_names_from)
    return report

