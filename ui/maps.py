"""Map helpers the pages share: where the browser fetches the boundaries from.

The state and county boundaries are served once as static files (``[server] enableStaticServing``
and the copies under static/geo/, written by scripts/build_boundaries.py next to data/geo/), and
each figure names them by URL. plotly.js fetches a URL once per page load and keeps it
(window.PlotlyGeoAssets), so switching a map from states to counties sends a few kB of figure, not
1.9 MB of county shapes with every rerun. The URL is relative, so it also works under a
server.baseUrlPath.
"""
from __future__ import annotations

BOUNDARY_URLS = {"state": "app/static/geo/states.geojson", "county": "app/static/geo/counties.geojson"}


def boundary_url(level: str) -> str:
    """URL of the state or county boundaries (feature id: 2-letter state code / 5-digit FIPS)."""
    if level not in BOUNDARY_URLS:
        raise ValueError(f"level must be one of {', '.join(BOUNDARY_URLS)}, not {level!r}")
    return BOUNDARY_URLS[level]
