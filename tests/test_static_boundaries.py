"""The boundaries the browser fetches (static/geo, served by enableStaticServing) are the shipped
ones (data/geo), byte for byte, and ui.maps names them."""
from __future__ import annotations

import tomllib

from conftest import ROOT


def test_static_boundaries_are_the_shipped_ones():
    from ui.maps import BOUNDARY_URLS

    for level, url in BOUNDARY_URLS.items():
        assert url.startswith("app/static/"), url  # relative: works under a server.baseUrlPath too
        served = ROOT / "static" / url.removeprefix("app/static/")
        shipped = ROOT / "data" / "geo" / served.name
        assert served.read_bytes() == shipped.read_bytes(), f"{served} differs from {shipped}: run scripts/build_boundaries.py"
    cfg = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert cfg["server"]["enableStaticServing"] is True
