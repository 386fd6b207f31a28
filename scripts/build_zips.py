"""Write data/geo/zips.parquet: every US ZIP the ``zipcodes`` package knows, with its state, county
FIPS (matched to the shipped county boundaries), latitude, longitude and city.

    .venv/bin/python scripts/build_zips.py

The app reads this file (about 1 MB, 0.05 s) instead of the package's data, which takes 2 s to
turn into a table and keeps about 140 MB of Python objects in the server for good. Run it again
after upgrading ``zipcodes`` or the county boundaries (tests/test_geo.py checks that it is current).
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from territory_core.geo.zips import ZIPS_FILE, build_zip_table  # noqa: E402


def main() -> int:
    df = build_zip_table().reset_index(drop=True)
    df.to_parquet(ZIPS_FILE, index=False, compression="zstd")
    print(f"{ZIPS_FILE.relative_to(ROOT)}: {len(df):,} ZIPs, {ZIPS_FILE.stat().st_size / 1e6:.2f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
