"""AppTest of the Whitespace Map page: renders, filters, product line, county level, settings."""
import pytest
from streamlit.testing.v1 import AppTest

from conftest import page_figures
from territory_core.contract import X
from territory_core.dataset import load_sample
from territory_core.analyse.enrich import enrich_accounts
from territory_core.analyse.scoring import ProductModel, ScoringConfig

PAGE = "pages/whitespace_map.py"


@pytest.fixture(scope="module")
def enriched():
    return enrich_accounts(load_sample())


def open_page(settings=None):
    at = AppTest.from_file("../app.py", default_timeout=60)
    if settings:
        at.session_state["settings"] = settings
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception[0].value
    return at


def open_tab(at, name):
    """Below the map only the open tab is drawn: open another one as a click on it does."""
    at.session_state["ws_tab"] = name
    at.run()
    assert not at.exception, at.exception[0].value
    return at


def frame(at, column):
    """The first table on the page with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def arr(v):
    """A plotly JSON array, plain or binary-encoded ({"bdata", "dtype"})."""
    if isinstance(v, dict) and "bdata" in v:
        import base64

        import numpy as np

        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
    return v


figures = page_figures


def test_renders_map_points_and_heatmap(enriched):
    at = open_page()
    assert metric(at, "Accounts") == f"{len(enriched):,}"
    assert not at.error
    figs = figures(at)
    assert len(figs) == 1  # the map; the heatmap is in a tab of its own, drawn when opened
    assert [t.label for t in at.tabs] == ["Largest whitespace", "Under- and over-served", "Corporate families",
                                         "Industry x size"]
    assert not any("vs_median" in d.value.columns for d in at.dataframe)  # closed tabs draw nothing
    m = figs[0]
    types = [t["type"] for t in m["data"]]
    assert types == ["choroplethmap", "scattermap"]  # one trace for areas, one for all points
    assert m["layout"]["map"]["style"] == "white-bg"
    locs = set(m["data"][0]["locations"])
    assert locs == set(enriched["state"].dropna())
    # points: the 4,000 accounts with the most whitespace of the sample's 6,000, said under the map
    lat = arr(m["data"][1]["lat"])
    assert len(enriched) == 6000 and len(lat) == 4000
    cut = enriched[X.whitespace].nlargest(4000).min()
    scores = arr(m["data"][1]["customdata"]).reshape(-1, 4)
    assert scores[:, 3].min() == pytest.approx(cut, rel=1e-6)  # customdata: score, potential, ARR, whitespace
    assert any("Points: the 4,000 accounts with the most whitespace of the 6,000 in view" in c.value
               for c in at.caption)
    # the largest whitespace accounts, and whitespace by product line: the first tab, open
    top = frame(at, "potential_score")
    assert len(top) == 50 and top["whitespace"].is_monotonic_decreasing
    assert top["whitespace"].iloc[0] == pytest.approx(enriched[X.whitespace].max(), abs=1)
    byp = frame(at, "holders").set_index("product")
    assert list(byp.index) == ScoringConfig().product_names
    assert byp.loc["Core Platform", "holders"] == int((load_sample().account_products["product"] == "Core Platform").sum())
    assert (byp["penetration"].between(0, 1)).all()
    # the under/over-served table lists every state
    open_tab(at, "Under- and over-served")
    assert len(frame(at, "vs_median")) == enriched["state"].nunique()
    assert not any("potential_score" in d.value.columns for d in at.dataframe)
    open_tab(at, "Industry x size")
    (m2, hm) = figures(at)
    assert hm["data"][0]["type"] == "heatmap"
    assert len(hm["data"][0]["y"]) == enriched["industry"].nunique()
    # corporate families are valued as the whole tree
    open_tab(at, "Corporate families")
    fam = next(d.value for d in at.dataframe if "family_whitespace" in d.value.columns)
    assert 0 < len(fam) <= 25 and (fam[X.family_size] > 1).all()
    top = fam.iloc[0]
    tree = enriched[enriched[X.ultimate_parent_id] == top[X.ultimate_parent_id]]
    assert len(tree) == top[X.family_size]
    assert top["family_whitespace"] == pytest.approx(tree[X.whitespace].sum(), abs=1)
    assert top["family_whitespace"] == fam["family_whitespace"].max()


def test_segment_filter_and_product_line(enriched):
    at = open_page()
    at.multiselect(key="ws_segment").set_value(["Enterprise"]).run()
    assert not at.exception
    n = int((enriched[X.segment] == "Enterprise").sum())
    assert metric(at, "Accounts") == f"{n:,}"
    figs = figures(at)
    assert len(arr(figs[0]["data"][1]["lat"])) == min(n, 4000)
    before = metric(at, "Potential")
    at.selectbox(key="ws_product").set_value("Analytics").run()
    assert not at.exception
    assert metric(at, "Potential") != before
    # colour points by segment: still one points trace
    at.radio(key="ws_colour").set_value("segment").run()
    assert [t["type"] for t in figures(at)[0]["data"]] == ["choroplethmap", "scattermap"]


def test_county_level_and_metric(enriched):
    at = open_page()
    at.radio(key="ws_level").set_value("county").run()
    at.selectbox(key="ws_metric").set_value("coverage").run()
    assert not at.exception
    m = figures(at)[0]
    locs = m["data"][0]["locations"]
    assert all(len(x) == 5 and x.isdigit() for x in locs)
    assert len(locs) == enriched["county"].dropna().nunique()
    assert m["layout"]["map"]["layers"], "state outlines over counties"
    open_tab(at, "Under- and over-served")
    at.selectbox(key="ws_by").set_value("segment").run()
    assert set(frame(at, "vs_median")["group"]) == set(enriched[X.segment])


def test_empty_filter_shows_a_warning_not_a_traceback(enriched):
    ct = enriched.groupby([X.segment, X.tier]).size().unstack(fill_value=0)
    empty = [(s, t) for s in ct.index for t in "ABCD" if ct.loc[s].get(t, 0) == 0]
    if not empty:
        pytest.skip("every segment x tier has accounts")
    seg, tier = empty[0]
    at = open_page()
    at.multiselect(key="ws_segment").set_value([seg]).run()
    at.multiselect(key="ws_tier").set_value([tier]).run()
    assert not at.exception
    assert any("No account matches" in w.value for w in at.warning)
    assert not figures(at)


def test_uses_the_active_scoring_settings(enriched):
    base = ScoringConfig()
    double = base.with_(products=tuple(ProductModel(m.product, m.price_per_seat * 2, m.adoption) for m in base.products))
    at1 = open_page()
    at2 = open_page({"scoring": double})
    assert metric(at1, "Potential") != metric(at2, "Potential")
    # settings restored from a saved scenario as plain dicts work the same
    from territory_core.analyse.segments import default_rules

    at3 = open_page({"scoring": double.to_dict(), "segment_rules": default_rules().to_dict()})
    assert metric(at3, "Potential") == metric(at2, "Potential")


def tiny_dataset(with_geo: bool):
    import numpy as np
    import pandas as pd

    from territory_core.contract import ACCOUNT_PRODUCTS, ACCOUNTS, OPPORTUNITIES, REPS
    from territory_core.dataset import Dataset, coerce_types, empty_frame

    cols = {"account_id": ["a", "b", "c"], "name": ["A", "B", "C"], "parent_id": ["b", "a", None]}  # a cycle
    if with_geo:
        cols.update(state=["CA", "NY", None], employees=[10.0, 5000.0, np.nan], lat=[34.0, 40.7, np.nan],
                    lon=[-118.0, -74.0, np.nan], owner_id=["r1", None, "r2"])
    acc = coerce_types(pd.DataFrame(cols), ACCOUNTS)
    return Dataset(acc, empty_frame(REPS), empty_frame(OPPORTUNITIES), empty_frame(ACCOUNT_PRODUCTS), name="tiny")


@pytest.mark.parametrize("with_geo", [False, True])
def test_sparse_data_warns_instead_of_failing(with_geo):
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.session_state["dataset"] = tiny_dataset(with_geo)
    at.session_state["dataset_version"] = 1000 + with_geo
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception[0].value
    assert metric(at, "Accounts") == "3"
    if with_geo:
        assert figures(at)[0]["data"][0]["locations"] == ["CA", "NY"]
    else:
        assert any("No account has a known state" in w.value for w in at.warning)
    at.radio(key="ws_level").set_value("county").run()
    assert not at.exception
    assert any("No account has a known county" in w.value for w in at.warning)
    for name in ("Under- and over-served", "Corporate families", "Industry x size"):
        open_tab(at, name)
    open_tab(at, "Under- and over-served")
    at.selectbox(key="ws_by").set_value("industry").run()
    assert not at.exception


def test_owners_from_the_active_scenario(enriched):
    import pandas as pd

    from territory_core.contract import S
    from territory_core.plan.scenarios import Scenario

    plan = pd.DataFrame({S.account_id: enriched["account_id"], S.rep_id: "R001"})
    at = AppTest.from_file("../app.py", default_timeout=60)
    at.session_state["active_scenario"] = Scenario(name="All to one", assignment=plan)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception[0].value
    open_tab(at, "Under- and over-served")
    today = frame(at, "vs_median")
    assert today["covering_reps"].max() > 1
    at.radio(key="ws_owners").set_value("scenario").run()
    assert not at.exception
    svc = frame(at, "vs_median")
    assert (svc["covering_reps"] == 1).all()
    assert at.multiselect(key="ws_owner").options == ["Carlos Lee · West, Enterprise (R001)"]  # name, region, segment
