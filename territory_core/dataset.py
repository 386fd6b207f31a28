"""The loaded dataset: canonical tables as plain pandas DataFrames."""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from .contract import ACCOUNTS, ACCOUNT_PRODUCTS, OPPORTUNITIES, PANDAS_DTYPE, REPS, TABLES, BOOL, DATE, Table

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "data"
SAMPLE_DIR = DATA_DIR / "sample"
GEO_DIR = DATA_DIR / "geo"


@dataclass(frozen=True)
class Dataset:
    """Canonical tables. ``opportunities``/``account_products``/``distances`` may be empty frames.

    ``dataset_id``/``version``: where it is stored (territory_core.store.datasets), None when it
    was never saved (the sample, or data just read from files)."""

    accounts: pd.DataFrame
    reps: pd.DataFrame
    opportunities: pd.DataFrame
    account_products: pd.DataFrame
    distances: pd.DataFrame | None = None
    name: str = "dataset"
    dataset_id: str | None = None
    version: int | None = None

    @property
    def label(self) -> str:
        """``"Name v3"`` for a stored dataset, else its name."""
        return f"{self.name} v{self.version}" if self.version else self.name

    def with_(self, **changes) -> "Dataset":
        """A copy with ``changes``. Changing a table drops the stored identity (the copy is no longer
        the stored version) unless ``dataset_id``/``version`` are given too."""
        if set(changes) & {"accounts", "reps", "opportunities", "account_products", "distances"}:
            changes.setdefault("dataset_id", None)
            changes.setdefault("version", None)
        return replace(self, **changes)

    @property
    def summary(self) -> dict:
        return {
            "accounts": len(self.accounts),
            "reps": len(self.reps),
            "opportunities": len(self.opportunities),
            "account_products": len(self.account_products),
        }


def empty_frame(table: Table) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=PANDAS_DTYPE[c.dtype]) for c in table.columns})


def coerce_types(df: pd.DataFrame, table: Table) -> pd.DataFrame:
    """Cast already-clean canonical columns to the contract's dtypes and add missing optional
    columns with their defaults. Messy input goes through ``territory_core.ingest.importer`` first."""
    df = df.copy()
    for c in table.columns:
        if c.name not in df.columns:
            df[c.name] = pd.Series([c.default] * len(df), index=df.index)
        s = df[c.name]
        if c.dtype == BOOL:
            s = s.map(lambda v: v if isinstance(v, bool) or pd.isna(v) else str(v).strip().lower() in ("true", "1", "yes", "y", "t"))
            if c.default is not None:
                s = s.fillna(c.default)
            df[c.name] = s.astype("boolean")
        elif c.dtype == DATE:
            df[c.name] = pd.to_datetime(s, errors="coerce")
        elif c.dtype == "str":
            df[c.name] = s.astype("string")
        else:
            s = pd.to_numeric(s, errors="coerce")
            if c.default is not None:
                s = s.fillna(c.default)
            df[c.name] = s.astype(PANDAS_DTYPE[c.dtype])
    return df


def _read_csv(path: Path, table: Table) -> pd.DataFrame:
    if not path.exists():
        return empty_frame(table)
    str_cols = {c.name: "string" for c in table.columns if c.dtype == "str"}
    return coerce_types(pd.read_csv(path, dtype=str_cols, keep_default_na=True), table)


def load_dir(path: str | Path, name: str | None = None) -> Dataset:
    """Load canonical CSVs (accounts.csv, reps.csv, opportunities.csv, account_products.csv)."""
    path = Path(path)
    return Dataset(
        accounts=_read_csv(path / "accounts.csv", ACCOUNTS),
        reps=_read_csv(path / "reps.csv", REPS),
        opportunities=_read_csv(path / "opportunities.csv", OPPORTUNITIES),
        account_products=_read_csv(path / "account_products.csv", ACCOUNT_PRODUCTS),
        name=name or path.name,
    )


def load_sample() -> Dataset:
    """The committed sample (``data/sample``), made by ``python -m scripts.make_sample``."""
    return load_dir(SAMPLE_DIR, name="Sample data (6,000 accounts)")


def save_dir(ds: Dataset, path: str | Path) -> None:
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    for tname in TABLES:
        df = getattr(ds, tname, None)
        if isinstance(df, pd.DataFrame) and len(df.columns):
            # CRLF line ends: pandas then quotes any field holding a bare CR, so the file reads back.
            df.to_csv(path / f"{tname}.csv", index=False, lineterminator="\r\n")
