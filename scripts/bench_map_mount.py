"""What one map costs the browser to draw, and what the way st.plotly_chart hands over a new figure
adds to it. Prints a table; no assertions.

    .venv/bin/python scripts/bench_map_mount.py [--repeat 4]

st.plotly_chart (Streamlit 1.67) gives a chart an element id that hashes its figure, so each new
figure mounts a new chart: a new map, with its WebGL context, style and sources. Once mounted, the
chart hands plotly.js its figure a second time (a copy, with the theme applied), and plotly.js sets
every map source again on any Plotly.react, changed or not: each tile loads, then reloads. This
script measures that outside Streamlit, in headless chromium, on a page with the plotly.js the plotly
package ships, the shipped boundaries (static/geo) and figures like the Whitespace Map's (areas
shaded, 4,000 account points; counties with the state outlines over them):

- "one plot": Plotly.newPlot on a new element, until the map has loaded (what a map costs);
- "as mounted": newPlot, then Plotly.react with a copy of the figure (what a chart costs in the app);
- "in place": Plotly.react with the other level's figure on the map already drawn;
- "in place, own below": the figures as the Whitespace Map now makes them (each trace its own uid and
  ``below``, the state outlines at both levels): plotly.js no longer removes and adds again the
  layers of traces sharing one ``below``, which made MapLibre tile their sources twice;
- "in place, painted once": those figures as ui/plot_map.py draws them: the map keeps its last
  picture while the new figure's tiles come in, and paints once they are all in (``MAP_JS``);
- "one plot, the app's figures": "one plot" with those figures;
- "new map, painted twice": a new map as ui/plot_map.py draws it: its empty background, then nothing
  until its figure is in (and no paint transition: ``whiteBg``).

Beside each median: the map's tile loads and reloads, counted from the messages to MapLibre's worker.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench_browser import LAUNCH_ARGS, _free_port  # noqa: E402

PAGE = """<html><head><script>
window.__w = {};
const post = Worker.prototype.postMessage;
Worker.prototype.postMessage = function (m, ...r) {
  const t = (m && m.type) || '?'; window.__w[t] = (window.__w[t] || 0) + 1; return post.call(this, m, ...r); };
</script><script src="plotly.min.js"></script></head><body><div id="host"></div><script>
%(map_js)s
window.figs = null; fetch('figs.json').then(r => r.json()).then(j => { window.figs = j; });
const copy = f => JSON.parse(JSON.stringify(f));
const loaded = gd => new Promise(done => { const look = () => { const sp = gd._fullLayout.map._subplot;
  if (sp && sp.map && sp.map.loaded()) done(); else setTimeout(look, 20); }; setTimeout(look, 20); });
function fresh() { const host = document.getElementById('host'); const old = host.firstChild;
  if (old) { Plotly.purge(old); host.removeChild(old); }
  const gd = document.createElement('div'); host.appendChild(gd); return gd; }
window.run = async (how, level) => {
  window.__w = {}; const f = copy(figs[how.includes(',') ? 'app' : 'before'][level]); const t0 = performance.now();
  if (how === 'in place' || how === 'in place, own below') { const gd = document.getElementById('host').firstChild;
    await Plotly.react(gd, f.data, f.layout); await loaded(gd); }
  else if (how === 'in place, painted once') { const gd = document.getElementById('host').firstChild;
    adopt(gd); const drawn = Plotly.react(gd, f.data, f.layout); const release = hold(gd);
    await drawn.finally(release); await painted(gd); await loaded(gd); }
  else if (how === 'new map, painted twice') { const gd = fresh(); const drawn = Plotly.newPlot(gd, f.data, whiteBg(f.layout));
    const release = hold(gd); await drawn.finally(release); await painted(gd); await loaded(gd); }
  else { const gd = fresh(); await Plotly.newPlot(gd, f.data, f.layout);
    if (how === 'as mounted') { const g = copy(f); await Plotly.react(gd, g.data, g.layout); }
    await loaded(gd); }
  return [performance.now() - t0, window.__w.LT || 0, window.__w.RT || 0]; };
</script></body></html>"""


def figures(app: bool = False) -> dict:
    """The two figures like the Whitespace Map's (areas by a metric; points by owner): as it drew them
    before, or with ``app`` as it draws them now (each trace its own uid and ``below``, the state
    outlines at both levels)."""
    import numpy as np
    import plotly.graph_objects as go
    import plotly.io as pio

    from territory_core.contract import A
    from territory_core.dataset import load_sample

    acc = load_sample().accounts
    pts = acc[[A.lat, A.lon, A.owner_id]].dropna().head(4000)
    owners = {o: i for i, o in enumerate(sorted(pts[A.owner_id].unique()))}
    rng = np.random.default_rng(7)
    out = {}
    for level, name in (("state", "states"), ("county", "counties")):
        ids = [f["id"] for f in json.loads((ROOT / "static" / "geo" / f"{name}.geojson").read_text())["features"]]
        own = dict(uid="ws_areas", below="plotly-trace-layer-ws_points-fill") if app else {}
        fig = go.Figure(go.Choroplethmap(
            geojson=f"{name}.geojson", locations=ids, z=rng.random(len(ids)), colorscale="Blues",
            marker_line_width=0.4 if level == "state" else 0.1, marker_line_color="#888", marker_opacity=0.85, **own))
        fig.add_trace(go.Scattermap(
            lat=pts[A.lat].to_numpy(float), lon=pts[A.lon].to_numpy(float), mode="markers",
            marker=dict(size=6, color=pts[A.owner_id].map(owners).to_numpy(float), colorscale="Turbo", opacity=0.85),
            **(dict(uid="ws_points", below="") if app else {})))
        layers = [dict(sourcetype="geojson", source="states.geojson", type="line", color="#666", line=dict(width=0.6))]
        fig.update_layout(map=dict(style="white-bg", center=dict(lat=38.5, lon=-94.0), zoom=3.3,
                                   layers=layers if level == "county" or app else []),
                          height=580, width=1100, margin=dict(l=0, r=0, t=10, b=0), showlegend=False)
        out[level] = json.loads(pio.to_json(fig, remove_uids=False))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=4)
    args = ap.parse_args(argv)
    import plotly
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="map_mount_"))
    shutil.copy(Path(plotly.__file__).parent / "package_data" / "plotly.min.js", work)
    for name in ("states", "counties"):
        shutil.copy(ROOT / "static" / "geo" / f"{name}.geojson", work)
    (work / "figs.json").write_text(json.dumps({"before": figures(), "app": figures(app=True)}))
    from ui.plot_map import MAP_JS

    (work / "index.html").write_text(PAGE.replace("%(map_js)s", MAP_JS))
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"], cwd=work,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rows: dict[tuple[str, str], list] = {}
    try:
        time.sleep(1.0)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=LAUNCH_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"http://127.0.0.1:{port}/index.html")
            page.wait_for_function("() => window.figs !== null")
            for level in ("state", "county"):  # warm: the boundaries fetched, the code compiled
                page.evaluate("([h, l]) => run(h, l)", ["one plot", level])
            for _ in range(args.repeat):
                # the new-map rows first: the rows in place below start from the last map drawn here, as
                # mounted (a map made with the app's white-bg style object takes no "white-bg" string after)
                for how in ("one plot, the app's figures", "new map, painted twice", "one plot", "as mounted"):
                    for level in ("county", "state"):
                        rows.setdefault((how, level), []).append(page.evaluate("([h, l]) => run(h, l)", [how, level]))
                        page.wait_for_timeout(300)
                for how in ("in place", "in place, own below", "in place, painted once"):
                    if how != "in place":  # this way's state figure first (its uids), not measured
                        page.evaluate("() => { const f = copy(figs.app.state); const gd = document.getElementById('host').firstChild;"
                                      " return Plotly.react(gd, f.data, f.layout).then(() => loaded(gd)); }")
                    for level in ("county", "state"):  # after the loops above the map shows states
                        rows.setdefault((how, level), []).append(page.evaluate("([h, l]) => run(h, l)", [how, level]))
                        page.wait_for_timeout(300)
            browser.close()
    finally:
        server.terminate()
        shutil.rmtree(work, ignore_errors=True)
    print(f"| how the map is drawn | level | ms (median of {args.repeat}) | each run, ms | tile loads | tile reloads |")
    print("|---|---|---|---|---|---|")
    for (how, level), runs in rows.items():
        ms = [r[0] for r in runs]
        print(f"| {how} | {level} | {statistics.median(ms):,.0f} | {', '.join(f'{m:,.0f}' for m in ms)} | "
              f"{statistics.median(r[1] for r in runs):.0f} | {statistics.median(r[2] for r in runs):.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
