"""A plotly map that stays on the page: each new figure is drawn on the map already there.

``st.plotly_chart`` (Streamlit 1.67) names a chart by a hash of its figure, so every new figure mounts
a new chart: a new map, with its WebGL context and sources. Once mounted, the chart hands plotly.js
the figure a second time (a copy, with the theme), and plotly.js sets every map source again on any
``Plotly.react``: each tile loads, then reloads (scripts/bench_map_mount.py: the county map 1.0 s as one
plot, 1.8 s as Streamlit mounts it). :func:`plotly_map` draws the same figure through a Streamlit
component (``st.components.v2``, keyed, so a new figure keeps the element) that loads plotly.js once
per page and calls ``Plotly.react`` once per new figure. While plotly.js hands the new figure to a
map that has painted before, the map keeps its last picture and paints once every new tile is in
(``MAP_JS``; MapLibre would paint a frame per tile, each about the cost of the whole map in software
WebGL). ``prefetch`` loads GeoJSON a next figure names (another level's boundaries) when idle.

plotly.js comes from the installed plotly package (its ``package_data/plotly.min.js``), copied to
static/vendor/ (served by ``[server] enableStaticServing``; not in git) when the module is imported;
when an ``st.plotly_chart`` has already loaded Streamlit's own build (it sets ``window.Plotly`` too),
the maps use that one rather than load a second copy.
With ``clicks=True`` a click picks points (shift-click adds, a double click clears), as
``st.plotly_chart(on_select="rerun", selection_mode="points")`` did; the picks belong to the figure
they were made on. The Territory Map (box and lasso select) keeps ``st.plotly_chart``. Tests read a
drawn figure back with :func:`figure_of`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import plotly
import plotly.graph_objects as go
import streamlit as st

VENDOR = Path(__file__).resolve().parent.parent / "static" / "vendor" / "plotly.min.js"
PLOTLY_URL = "app/static/vendor/plotly.min.js"  # relative: works under a server.baseUrlPath too
COMPONENT = "territory_modeler.plotly_map"
CONFIG = {"scrollZoom": True, "displaylogo": False, "responsive": True, "showSendToCloud": False,
          "modeBarButtonsToRemove": ["lasso2d", "select2d", "sendDataToCloud"]}


def plotly_js_source() -> Path:
    """The plotly.js bundle the installed plotly package ships."""
    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def ensure_plotly_js(dest: Path = VENDOR) -> Path:
    """Copy the installed plotly.js to ``dest`` when it is missing or differs in size (another
    plotly version); a partial copy never shows (written aside, then renamed)."""
    src = plotly_js_source()
    if not dest.exists() or dest.stat().st_size != src.stat().st_size:
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        tmp.replace(dest)
    return dest


# How a plot's maps take a new figure (shared with scripts/bench_map_mount.py, which measures it).
MAP_JS = """
// The maps of a plot (MapLibre, one per map subplot); plotly.js has made them when Plotly.react returns.
function maps(gd) {
  const full = gd._fullLayout || {};
  return Object.keys(full).filter((k) => /^map[0-9]*$/.test(k) && full[k] && full[k]._subplot && full[k]._subplot.map)
    .map((k) => full[k]._subplot.map);
}
// A map plotly.js has drawn a first figure on: no 300 ms paint transition (MapLibre's default), which in
// software WebGL is one or two more frames of the whole map after each change (a map on whiteBg's style
// has none from the start; this covers any other style).
function adopt(gd) {
  maps(gd).forEach((map) => {
    map.__tmDrawn = true;
    if (map.style && map.style.stylesheet && !map.style.stylesheet.transition) map.style.stylesheet.transition = {duration: 0, delay: 0};
  });
}
// While plotly.js hands a new figure to maps it has drawn before, they paint nothing: the last picture
// stays until every tile of the new one is in, then it is painted once. MapLibre otherwise paints a frame
// per tile as each arrives, and in software WebGL each frame costs about as much as the whole map
// (scripts/bench_map_mount.py, "in place, painted once"). A new map paints its first frame (the empty
// background: held from that frame, a map stays blank for good) and is held from then on, until its first
// figure is in: 2 frames rather than 12 for the Whitespace Map. Pan and zoom paint as usual; HOLD_MS bounds a hold.
const HOLD_MS = 3000;
function hold(gd) {
  const held = maps(gd).filter((map) => map.painter);
  held.forEach(keepWorkers);
  const until = {};
  held.forEach((map) => {
    const painter = map.painter;
    if (!painter.__tmRender) {
      painter.__tmRender = painter.render;
      painter.render = function (...args) {
        if (map.__tmHeld && performance.now() < map.__tmHeld) return;
        return painter.__tmRender.apply(this, args);
      };
    }
    map.__tmHold = until;
    if (map.__tmDrawn) map.__tmHeld = performance.now() + HOLD_MS;
    else map.once('render', () => { if (map.__tmHold === until) map.__tmHeld = performance.now() + HOLD_MS; });
  });
  const timer = setTimeout(() => release(), HOLD_MS);
  function release() {  // a newer figure's hold is that figure's to release
    clearTimeout(timer);
    held.filter((map) => map.__tmHold === until).forEach((map) => { map.__tmHeld = 0; map.triggerRepaint(); });
  }
  return release;
}
// MapLibre ends its web workers when the last map of the page goes (leaving a page with maps), and the
// next page's first map starts them again: parsing and compiling their code costs that map 0.3 s or more.
// Like maplibregl.prewarm() (which plotly.js does not expose), one more holder keeps them for the page.
function keepWorkers(map) {
  const pool = map.style && map.style.dispatcher && map.style.dispatcher.workerPool;
  if (pool && typeof pool.acquire === 'function' && pool.active && !pool.active['territory-modeler']) {
    pool.acquire('territory-modeler');
  }
}
// plotly.js's "white-bg" style, with no paint transition from the start (MapLibre's default is 300 ms,
// and a new map then paints more frames as its layers fade in); one object, so plotly.js never sets the
// style again. whiteBg(layout) puts it in place of "white-bg" in each map subplot of a layout.
const WHITE_BG = {id: 'white-bg', version: 8, sources: {}, transition: {duration: 0, delay: 0},
  layers: [{id: 'white-bg', type: 'background', paint: {'background-color': '#FFFFFF'}}]};
function whiteBg(layout) {
  Object.keys(layout).filter((k) => /^map[0-9]*$/.test(k) && layout[k] && layout[k].style === 'white-bg')
    .forEach((k) => { layout[k] = Object.assign({}, layout[k], {style: WHITE_BG}); });
  return layout;
}
// Resolves once every map of the plot has painted (at once when it has none); release() asked for the frame.
function painted(gd) {
  return Promise.all(maps(gd).map((map) => new Promise((resolve) => {
    map.once('render', resolve);
    map.triggerRepaint();  // none when a frame is already asked for
  })));
}
// Load GeoJSON a next figure may name into plotly.js's own cache (window.PlotlyGeoAssets, keyed by the
// URL as the trace gives it), when the browser is idle: the first county map then waits for no download
// and no parse of 1.9 MB.
// Not marked 'pending' meanwhile: plotly.js gives up waiting on a pending URL after 5 s, where on a slow
// link its own fetch would just take longer; a figure that needs the file first fetches it itself.
function prefetch(urls) {
  const assets = window.PlotlyGeoAssets;
  if (!assets) return;
  urls.filter((url) => !assets[url]).forEach((url) => {
    const load = () => {
      if (assets[url]) return;
      fetch(url).then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then((geojson) => { if (!assets[url] || assets[url] === 'pending') assets[url] = geojson; })
        .catch(() => {});  // plotly.js fetches it itself when a figure needs it
    };
    (window.requestIdleCallback || ((f) => setTimeout(f, 200)))(load, {timeout: 2000});
  });
}
"""

# The element's root holds one div (.tm-plotly-map) with the plot. data-tm-state is "drawing" from a
# new figure until plotly.js has taken it, then "drawn" (the browser tests and benchmarks wait on it).
_JS = """
const URL = %(url)s;
const FULL = {width: 512, height: 512,
  path: 'M0 0h192v64H64v128H0zM320 0h192v192h-64V64H320zM0 320h64v128h128v64H0zM448 320h64v192H320v-64h128z'};
function plotly() {
  if (!window.__tmPlotly) {
    window.__tmPlotly = new Promise((resolve, reject) => {
      if (window.Plotly) { resolve(window.Plotly); return; }
      const s = document.createElement('script');
      s.src = URL;
      const fail = () => {  // not served (404), or served as something else (static serving off)
        window.__tmPlotly = null;
        reject(new Error('could not load ' + URL + ' (the app serves it with [server] enableStaticServing = true)'));
      };
      s.onload = () => (window.Plotly ? resolve(window.Plotly) : fail());
      s.onerror = fail;
      document.head.appendChild(s);
    });
  }
  return window.__tmPlotly;
}
%(helpers)s
export default function (component) {
  const { data, parentElement } = component;
  let gd = parentElement.querySelector('div.tm-plotly-map');
  if (!gd) {
    gd = document.createElement('div');
    gd.className = 'tm-plotly-map';
    parentElement.appendChild(gd);
    gd.__tmOnFull = () => {
      if (!window.Plotly || !gd._fullLayout) return;
      const full = document.fullscreenElement === gd;  // on leaving: the page's width again (autosize)
      window.Plotly.relayout(gd, full ? {width: window.innerWidth, height: window.innerHeight}
                                      : {width: null, height: gd.__tmHeight});
    };
    document.addEventListener('fullscreenchange', gd.__tmOnFull);
  }
  gd.__tmSet = component.setStateValue;  // the newest: a click reports through it
  gd.__tmToken = data.token;
  if (gd.__tmFigure !== data.figure) {
    const figure = data.figure;
    gd.__tmFigure = figure;
    gd.setAttribute('data-tm-state', 'drawing');
    plotly().then((Plotly) => {
      if (gd.__tmFigure !== figure) return;  // a newer figure came while plotly.js loaded
      const fig = JSON.parse(figure);
      const font = getComputedStyle(document.body).fontFamily;
      const layout = Object.assign({}, fig.layout, {autosize: true});
      layout.font = Object.assign({family: font}, layout.font || {});
      layout.hoverlabel = Object.assign({bgcolor: 'white', bordercolor: '#d5d7db',
                                         font: {family: font, color: '#31333f'}}, layout.hoverlabel || {});
      whiteBg(layout);
      gd.__tmHeight = layout.height;
      if (document.fullscreenElement === gd) Object.assign(layout, {width: window.innerWidth, height: window.innerHeight});
      if (gd.__tmConfigText !== data.config) {  // the same config object each time: a new one makes plotly.js build a new map
        gd.__tmConfigText = data.config;
        gd.__tmConfig = JSON.parse(data.config);
        gd.__tmConfig.modeBarButtonsToAdd = [{name: 'fullscreen', title: 'Full screen', icon: FULL, click: () => {
          if (document.fullscreenElement) document.exitFullscreen(); else gd.requestFullscreen();
        }}];
      }
      const drawn = Plotly.react(gd, fig.data, layout, gd.__tmConfig);
      const release = hold(gd);
      return drawn.finally(release).then(() => painted(gd)).then(() => {
        adopt(gd);
        if (gd.__tmFigure === figure) gd.setAttribute('data-tm-state', 'drawn');
        prefetch(data.prefetch || []);
        if (gd.__tmClicks || !data.clicks) return;
        gd.__tmClicks = true;  // the points plotly.js shows as selected after a click, with the figure's token
        const report = () => setTimeout(() => {
          const points = [];
          gd.data.forEach((trace, curve) => (trace.selectedpoints || []).forEach((i) => {
            const cd = trace.customdata ? trace.customdata[i] : null;
            points.push({curve: curve, point_index: i, customdata: cd === undefined ? null : cd});
          }));
          gd.__tmSet('picked', {figure: gd.__tmToken, points: points});
        }, 0);
        const clear = () => {  // a double click on the map: no point picked, none shown as picked
          Plotly.restyle(gd, {selectedpoints: [null]});
          gd.__tmSet('picked', {figure: gd.__tmToken, points: []});
        };
        gd.on('plotly_click', report);
        gd.on('plotly_doubleclick', clear);
        gd.on('plotly_deselect', clear);
      });
    }).catch((err) => {
      gd.setAttribute('data-tm-state', 'failed');
      gd.textContent = 'The map could not be drawn: ' + err.message;
    });
  }
  // run when the element leaves the page: free the map's WebGL context
  return () => setTimeout(() => {
    if (gd.isConnected) return;
    document.removeEventListener('fullscreenchange', gd.__tmOnFull);
    if (window.Plotly) window.Plotly.purge(gd);
  }, 0);
}
""" % {"url": json.dumps(PLOTLY_URL), "helpers": MAP_JS}

# While a figure is drawn the map keeps its last picture (MAP_JS): a label says a new one is coming.
_CSS = """
.tm-plotly-map { width: 100%; position: relative; }
.tm-plotly-map:fullscreen { background: white; }
.tm-plotly-map[data-tm-state="drawing"]::after {
  content: "Drawing the map\\2026"; position: absolute; top: 8px; left: 8px; z-index: 20; pointer-events: none;
  padding: 2px 8px; border-radius: 4px; background: rgba(255, 255, 255, 0.9); color: #31333f;
  font-size: 12px; box-shadow: 0 0 0 1px #d5d7db;
}
"""

try:
    ensure_plotly_js()
except OSError as exc:  # a read-only install: the maps say they could not load plotly.js
    logging.getLogger(__name__).error("cannot copy plotly.js to %s (%s): the maps will not draw", VENDOR, exc)
_render = st.components.v2.component(COMPONENT, js=_JS, css=_CSS, isolate_styles=False)


def plotly_map(fig: go.Figure, *, key: str, config: dict | None = None, clicks: bool = False,
               prefetch: tuple[str, ...] = ()) -> list[dict]:
    """Draw ``fig`` (a plotly map figure; its layout's height is the element's) where
    ``st.plotly_chart(fig, key=key)`` would, keeping the map from one figure to the next.

    ``prefetch``: GeoJSON URLs a next figure may name as a trace's ``geojson`` (another level's
    boundaries); the browser loads them once the map is drawn, so that figure does not wait for them.

    With ``clicks``: the points picked on this figure, each ``{"curve", "point_index", "customdata"}``
    (a click on another figure's points, before it changed, counts for nothing)."""
    spec = fig.to_json(remove_uids=False)  # a trace's own uid names its map layers (for another's `below`)
    token = hashlib.blake2b(spec.encode(), digest_size=8).hexdigest()
    data = {"figure": spec, "config": json.dumps({**CONFIG, **(config or {})}), "token": token, "clicks": clicks,
            "prefetch": list(prefetch)}
    if not clicks:
        _render(key=key, data=data, height=int(fig.layout.height or 450))
        return []
    res = _render(key=key, data=data, height=int(fig.layout.height or 450), default={"picked": None},
                  on_picked_change=lambda: None)
    picked = getattr(res, "picked", None) or {}
    return list(picked.get("points") or []) if picked.get("figure") == token else []


def figure_of(element) -> dict:
    """The figure of a :func:`plotly_map` element, as plotly JSON (AppTest: ``at.get("bidi_component")``)."""
    return json.loads(json.loads(element.proto.json)["figure"])
