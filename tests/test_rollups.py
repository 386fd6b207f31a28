"""Family roll-ups over the corporate hierarchy, including cycles and orphans."""
import numpy as np
import pandas as pd
import pytest

from territory_core.contract import A, O, X
from territory_core.dataset import Dataset
from territory_core.analyse.enrich import enrich_accounts
from territory_core.analyse.rollups import add_family_columns, family_rollups


@pytest.fixture
def tree():
    # p <- c1 <- g1 ; p <- c2 ; x <-> y (cycle) ; o's parent "ghost" is not in the data ; s alone
    return pd.DataFrame({
        A.account_id: ["p", "c1", "g1", "c2", "x", "y", "o", "s"],
        A.name: ["Parent", "Child1", "Grand", "Child2", "X", "Y", "Orphan", "Solo"],
        A.parent_id: [None, "p", "c1", "p", "y", "x", "ghost", ""],
        A.state: ["CA", "NY", "TX", "CA", "WA", "WA", "OR", "OR"],
        A.employees: [1000.0, 100.0, 10.0, np.nan, 5.0, 5.0, 50.0, 1.0],
        A.arr: [10.0, 20.0, 30.0, 0.0, 1.0, 2.0, 3.0, 4.0],
        A.owner_id: ["r1", "r2", "r2", "r3", "r1", "r1", None, "r1"],
        X.potential: [100.0, 200.0, 300.0, 50.0, 1.0, 1.0, 1.0, 1.0],
        X.whitespace: [90.0, 180.0, 270.0, 50.0, 0.0, 0.0, 0.0, 0.0],
    })


OPPS = pd.DataFrame({O.opportunity_id: ["1", "2", "3", "4"], O.account_id: ["g1", "c2", "x", "zzz"],
                     O.amount: [5.0, 7.0, 1.0, 99.0], O.is_closed: [True, False, True, False],
                     O.is_won: [True, False, False, False]})


def test_family_rollups(tree):
    f = family_rollups(tree, OPPS).set_index(X.ultimate_parent_id)
    p = f.loc["p"]
    assert p["parent_name"] == "Parent"
    assert p["family_size"] == 4 and p["max_depth"] == 2
    assert p["arr"] == 60 and p["potential"] == 650 and p["whitespace"] == 590
    assert p["employees"] == 1110  # the missing count is 0
    assert p["opportunities"] == 2 and p["won_amount"] == 5 and p["open_pipeline_opps"] == 7
    assert p["states"] == 3 and p["owners"] == 3
    # the opportunity on an unknown account is ignored
    assert f["opportunities"].sum() == 3
    # largest potential first
    assert f.index[0] == "p"


def test_cycles_and_orphans_head_their_own_family(tree):
    f = family_rollups(tree).set_index(X.ultimate_parent_id)
    assert f.loc["x", "family_size"] == 1 and f.loc["y", "family_size"] == 1
    assert f.loc["x", "in_cycle"] == 1
    assert f.loc["o", "family_size"] == 1 and f.loc["o", "orphans"] == 1
    assert f.loc["s", "family_size"] == 1
    assert f["family_size"].sum() == len(tree)
    assert len(f) == 5


def test_family_columns_per_account(tree):
    fam = add_family_columns(tree, OPPS)
    assert list(fam.index) == list(tree.index)
    assert (fam.loc[0:3, "family_arr"] == 60).all()
    assert fam.loc[2, "family_potential"] == 650 and fam.loc[2, "family_opportunities"] == 2
    assert fam.loc[4, "family_arr"] == 1 and fam.loc[5, "family_arr"] == 2


def test_enrich_includes_hierarchy_and_families(tree):
    ds = Dataset(tree.drop(columns=[X.potential, X.whitespace]), pd.DataFrame(), OPPS, pd.DataFrame())
    e = enrich_accounts(ds)
    assert list(e.index) == list(tree.index)
    assert list(e[X.ultimate_parent_id]) == ["p", "p", "p", "p", "x", "y", "o", "s"]
    assert list(e[X.depth]) == [0, 1, 2, 1, 0, 0, 0, 0]
    fam_pot = e.groupby(X.ultimate_parent_id)[X.potential].sum()
    assert e.loc[0, "family_potential"] == pytest.approx(fam_pot["p"])
    for c in (X.tier, X.segment, X.coverage_model, X.potential, X.whitespace, X.potential_score):
        assert c in e.columns
