"""ui.plot_map: the plotly.js it serves is the installed plotly package's, copied whole."""
from __future__ import annotations

from conftest import ROOT


def test_ensure_plotly_js_copies_the_installed_bundle_and_replaces_another(tmp_path):
    from ui.plot_map import ensure_plotly_js, plotly_js_source

    src = plotly_js_source().read_bytes()
    assert src.startswith(b"/**\n* plotly.js v")
    dest = tmp_path / "vendor" / "plotly.min.js"
    assert ensure_plotly_js(dest) == dest
    assert dest.read_bytes() == src
    dest.write_bytes(b"/* plotly.js of another version */")  # another plotly installed since
    ensure_plotly_js(dest)
    assert dest.read_bytes() == src
    assert [p.name for p in dest.parent.iterdir()] == ["plotly.min.js"]  # no copy left aside


def test_the_served_url_is_the_vendored_file():
    from ui.plot_map import PLOTLY_URL, VENDOR

    assert PLOTLY_URL.startswith("app/static/")  # relative: works under a server.baseUrlPath too
    assert ROOT / "static" / PLOTLY_URL.removeprefix("app/static/") == VENDOR
    assert VENDOR.exists()  # copied when the module was imported
    assert "static/vendor/" in (ROOT / ".gitignore").read_text().splitlines()
