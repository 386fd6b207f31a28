"""Compare for review meetings (issue 10, items 2-6, 14, 15): picks survive the presentation view,
moves and reasons are relative to the chosen baseline with rep names, the 3-way view is readable,
no arrow for no change, and a rep has one colour on every map."""
from __future__ import annotations

from test_compare_page import _charts, _compare, _moved, _reps, _tab, sample, store  # noqa: F401 (fixtures)
from territory_core.contract import A, S
from territory_core.plan.scenarios import Scenario


def _arr(x) -> list:
    """A plotly array from the figure JSON (plain list, or base64 "bdata" with a dtype)."""
    import base64

    import numpy as np

    if isinstance(x, dict) and "bdata" in x:
        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]).tolist()
    return list(x)


def _colours(fig) -> list[str]:
    """The colour of each dot of a one-trace map: its code on the trace's discrete colour scale."""
    m = fig["data"][0]["marker"]
    return [m["colorscale"][2 * int(c)][1] for c in _arr(m["color"])]


def _names(sample):
    return dict(zip(sample.reps["rep_id"].astype(str), sample.reps["name"].astype(str)))


def _moves(at):
    return next(d.value for d in at.dataframe if "from_name" in d.value.columns)


def _big_book(sample):
    """The sample with its accounts six times over (new ids): beyond 8,000, so the maps show county bubbles."""
    import dataclasses

    import pandas as pd

    copies = [sample.accounts.assign(account_id=sample.accounts["account_id"].astype(str) + f"-{k}") for k in range(1, 6)]
    return dataclasses.replace(sample, accounts=pd.concat([sample.accounts, *copies], ignore_index=True))


def test_presentation_view_keeps_every_pick(store, sample):
    big, small = _reps(sample)
    a = store.save(_moved(sample, big, small, 20, "Plan A"), user="t")
    b = store.save(_moved(sample, small, big, 8, "Plan B"), user="t")
    at = _compare(sample, cmp_0_id=a.id, cmp_1_id=b.id, cmp_tab="What changes hands")
    at.text_input(key="cmp_f_q").input("zzz").run()
    at.radio(key="cmp_flow_by").set_value("ARR").run()
    # another tab and back: the filters of the closed tab are kept (a run that does not draw a widget drops it)
    _tab(at, "Maps")
    _tab(at, "Per rep, against the target band")
    _tab(at, "What changes hands")
    assert at.text_input(key="cmp_f_q").value == "zzz" and at.radio(key="cmp_flow_by").value == "ARR"
    at.toggle(key="cmp_present").set_value(True).run()
    assert not at.exception, [e.message for e in at.exception]
    titles = " ".join(f["layout"].get("title", {}).get("text", "") for f in _charts(at))
    assert "Plan A v1" in titles and "Plan B v1" in titles
    at.run()  # a second run in presentation view: the widgets are gone from this run's state
    at.toggle(key="cmp_present").set_value(False).run()
    assert not at.exception, [e.message for e in at.exception]
    assert at.selectbox(key="cmp_0_id").value == a.id, "the baseline went back to today's plan"
    assert at.selectbox(key="cmp_1_id").value == b.id
    assert at.text_input(key="cmp_f_q").value == "zzz"
    assert at.radio(key="cmp_flow_by").value == "ARR"
    kpi = next(d.value for d in at.dataframe if "KPI" in d.value.columns)
    assert list(kpi.columns)[1:3] == ["Plan A v1", "Plan B v1"]


def test_moves_and_reasons_relative_to_the_baseline_with_names(store, sample):
    names = _names(sample)
    big, small = _reps(sample)
    a = _moved(sample, big, small, 30, "Hire plan")  # gives 30 of big's accounts to small
    moved_ids = a.assignment.loc[a.assignment[S.moved].astype(bool), S.account_id].astype(str).tolist()
    bb = Scenario.today(sample).assignment.copy()  # keeps everything with today's owners
    bb[S.reason] = "kept with " + bb[S.rep_id].astype(str)
    sa = store.save(a, user="t")
    sb = store.save(Scenario(name="Stay put", assignment=bb, report={"status": "current"}), user="t")
    at = _compare(sample, cmp_0_id=sa.id, cmp_1_id=sb.id, cmp_tab="What changes hands")
    mv = _moves(at)
    assert len(mv) == 30 and set(mv["account_id"]) == set(moved_ids)
    assert (mv["from_name"] == names[small]).all() and (mv["to_name"] == names[big]).all()
    assert (mv["reason"] == f"kept with {names[big]}, today's owner; Hire plan v1 gives it to {names[small]}").all()
    # searching a rep's first name finds their moves (reasons and owners hold names, not ids)
    first = names[big].split()[0]
    at.text_input(key="cmp_f_q").input(first).run()
    assert len(_moves(at)) == 30
    at.text_input(key="cmp_f_q").input(big).run()  # the id is not in the table any more
    assert len(_moves(at)) == 0
    # the From picker shows name, region and segment
    opts = at.multiselect(key="cmp_f_from").options
    rep = sample.reps.set_index("rep_id").loc[small]
    assert opts == [f"{rep['name']} · {rep['region']}, {rep['segment']} ({small})"]


def test_three_way_titles_fit_and_move_maps_show_only_moves(store, sample):
    big, small = _reps(sample)
    s1 = store.save(_moved(sample, big, small, 40, "A rather long scenario name for the review"), user="t")
    s2 = store.save(_moved(sample, small, big, 6, "Plan B"), user="t")
    at = _compare(sample, cmp_n=3, cmp_1_id=s1.id, cmp_2_id=s2.id)
    figs = _charts(at)  # the per-rep bars
    figs += _charts(_tab(at, "What changes hands"))
    figs += _charts(_tab(at, "Maps"))
    maps = [f for f in figs if f["data"][0]["type"] == "scattermap"]
    assert len(maps) == 3 and all(len(f["data"]) == 1 for f in maps)
    n_geo = int(sample.accounts[A.lat].notna().sum())
    assert len(_arr(maps[0]["data"][0]["lat"])) == n_geo  # the baseline: every account
    assert len(_arr(maps[1]["data"][0]["lat"])) == 40 and len(_arr(maps[2]["data"][0]["lat"])) == 6  # only the moves
    assert "<br><sup>40 accounts change hands" in maps[1]["layout"]["title"]["text"]
    # sized by ARR: bigger ARR, bigger dot
    sizes = _arr(maps[1]["data"][0]["marker"]["size"])
    assert min(sizes) >= 5 and max(sizes) <= 20 and len(set(sizes)) > 1
    # coloured by the receiving rep: one colour, small's, on the 40 moves to small
    assert len(set(_colours(maps[1]))) == 1
    for f in figs:  # titles break onto a second line instead of running out of the chart
        t = f["layout"].get("title", {}).get("text", "")
        assert len(t.split("<br>")[0]) <= 60, t


def test_no_arrow_for_no_change(store, sample):
    big, small = _reps(sample)
    same = store.save(Scenario(name="Same as today", assignment=Scenario.today(sample).assignment,
                               report={"status": "current"}), user="t")
    at = _compare(sample, cmp_1_id=same.id)
    bi = [m for m in at.metric if m.label == "Balance index"]
    assert len(bi) == 2 and all(m.delta is None or m.delta == "" for m in bi)
    kpi = next(d.value for d in at.dataframe if "KPI" in d.value.columns)
    deltas = kpi["Δ Same as today v1"]
    assert not deltas.str.contains("▲|▼|\\+0\\.0", regex=True).any(), list(deltas)
    assert (deltas[kpi["KPI"] == "Moves"] == "no change").all()


def test_the_shipped_rep_palette_is_colorcets_glasbey_dark():
    """ui.colors reads the palette from data/palettes (importing colorcet cost the server 10 MB): the
    file is colorcet's list, colour for colour (rebuild it with scripts/build_palette.py)."""
    import colorcet

    from ui.colors import PALETTE

    assert PALETTE == list(colorcet.palette["glasbey_dark"])
    assert len(PALETTE) == 256 and PALETTE[:2] == ["#d60000", "#8c3bff"]


def test_a_rep_has_one_colour_on_every_map(store, sample):
    from ui.colors import PALETTE, rep_colours

    big, small = _reps(sample)
    s1 = store.save(_moved(sample, big, small, 25, "Colours"), user="t")
    at = _compare(sample, cmp_1_id=s1.id, cmp_tab="Maps")
    maps = [f for f in _charts(at) if f["data"][0]["type"] == "scattermap"]
    colours = rep_colours(sample.reps["rep_id"])
    base_pts = maps[0]["data"][0]
    names_ = [t.split("Owner: ")[1] for t in base_pts["text"]]
    by_name = {n: c for n, c in zip(names_, _colours(maps[0]))}
    assert by_name[_names(sample)[small]] == colours[small] == _colours(maps[1])[0]
    assert len(set(colours.values())) == len(colours) and len(PALETTE) >= 41  # no colour repeats for 40+ reps
    # the Whitespace Map uses the same colour for the same rep, whatever the owner filter
    at.switch_page("pages/whitespace_map.py").run()
    at.multiselect(key="ws_owner").set_value([small, big]).run()
    assert not at.exception, [e.message for e in at.exception]
    ws = next(f for f in _charts(at) if f["data"][0]["type"] == "choroplethmap")
    pts = ws["data"][1]["marker"]
    bar = pts["colorbar"]["ticktext"]
    i = bar.index(_names(sample)[small])
    assert pts["colorscale"][2 * i][1] == colours[small]
    # a second filter (this rep and two others): the same colour again
    others = [r for r in sample.reps["rep_id"] if r not in (small, big)][:2]
    at.multiselect(key="ws_owner").set_value([*others, small]).run()
    ws = next(f for f in _charts(at) if f["data"][0]["type"] == "choroplethmap")
    pts = ws["data"][1]["marker"]
    i = pts["colorbar"]["ticktext"].index(_names(sample)[small])
    assert pts["colorscale"][2 * i][1] == colours[small]
    assert {pts["colorscale"][2 * j][1] for j in range(len(pts["colorbar"]["ticktext"]))} == \
        {colours[r] for r in [*others, small]}


def test_a_forked_scenario_names_its_parent(store, sample):
    from streamlit.testing.v1 import AppTest

    from conftest import ROOT

    big, small = _reps(sample)
    parent = store.save(_moved(sample, big, small, 5, "FY27 West plan"), user="t")
    fork = parent.with_(name="FY27 West plan (copy)", id=None, version=None, parent_id=parent.id, parent_version=1)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state["dataset"] = sample
    at.session_state["se_scn"] = fork
    at.session_state["se_dsv"] = (0, sample.name)
    at.run()
    at.switch_page("pages/scenario_editor.py").run()
    assert not at.exception, [e.message for e in at.exception]
    caps = [c.value for c in at.caption if c.value.startswith("From ")]
    assert caps and "FY27 West plan v1" in caps[0].replace("\\", ""), caps
    assert parent.id not in caps[0] and parent.id[:8] not in caps[0]


def test_click_a_county_on_a_map_lists_its_moves(store, sample):
    """Beyond 8,000 accounts the maps show a bubble per county (ui.plot_map, drawn in place); a click
    on one lists that county's accounts that change hands. A click made on an earlier figure counts
    for nothing."""
    import json
    import re

    from ui.format import md

    big_book = _big_book(sample)
    assert len(big_book.accounts) > 8000
    big, small = _reps(big_book)
    s1 = store.save(_moved(big_book, big, small, 40, "Bubbles"), user="t")
    at = _compare(big_book, cmp_1_id=s1.id, cmp_tab="Maps")
    el = next(e for e in at.get("bidi_component") if e.proto.id.endswith("-cmp_amap_1"))
    data = json.loads(el.proto.json)
    moved = json.loads(data["figure"])["data"][0]
    fips, text = moved["customdata"][0], moved["text"][0]
    n = int(re.search(r"([\d,]+) of [\d,]+ accounts change hands", text).group(1).replace(",", ""))
    assert not any("accounts change hands in" in m.value for m in at.markdown)  # nothing picked yet
    at.session_state["cmp_amap_1"] = {"picked": {"figure": data["token"], "points": [{"customdata": fips}]}}
    at.run()
    assert not at.exception, [e.message for e in at.exception]
    county = re.sub(r"<[^>]+>", "", text.split("<br>")[0])
    assert any(m.value.startswith(f"**{n:,} accounts change hands in {md(county)}**") for m in at.markdown)
    listed = next(d.value for d in at.dataframe if "from_name" in d.value.columns and "reason" in d.value.columns
                  and len(d.value) == n)
    assert (listed["to_name"] == _names(big_book)[small]).all()
    # the same pick on a figure that is no longer the one shown: nothing listed
    at.session_state["cmp_amap_1"] = {"picked": {"figure": "an earlier figure", "points": [{"customdata": fips}]}}
    at.run()
    assert not any(f"accounts change hands in {md(county)}" in m.value for m in at.markdown)


def test_county_numbers_are_worked_out_while_the_maps_tab_is_closed(store, sample):
    """On a book drawn as county bubbles, Compare's first open (another tab) starts each plan's county
    numbers in the background; the Maps tab then draws from them, computing nothing."""
    import time

    from ui.cache import CACHE

    big_book = _big_book(sample)
    big, small = _reps(big_book)
    s1 = store.save(_moved(big_book, big, small, 40, "Ahead"), user="t")
    CACHE.drop(lambda k: k[0] == "plan_areas")
    at = _compare(big_book, cmp_1_id=s1.id)
    assert at.session_state["cmp_tab"] != "Maps"

    def areas() -> int:
        with CACHE._lock:  # noqa: SLF001 - what the cache holds
            return sum(1 for k in CACHE._data if k[0] == "plan_areas")  # noqa: SLF001
    deadline = time.time() + 60
    while areas() < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert areas() == 2  # the baseline and the plan
    misses = CACHE.misses
    _tab(at, "Maps")
    assert CACHE.misses == misses
    assert sum(e.proto.id.endswith(("-cmp_amap_0", "-cmp_amap_1")) for e in at.get("bidi_component")) == 2
