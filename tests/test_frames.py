"""territory_core.frames.isin: the same answers as pandas' isin (missing values never in), as a
numpy bool array, for every kind of candidate list the core passes."""
import numpy as np
import pandas as pd
import pytest

from territory_core.frames import isin


@pytest.mark.parametrize("dtype", ["string", "str", object])
@pytest.mark.parametrize("cands", [{"a", "c"}, ["a", "c"], pd.Index(["a", "c"]), pd.Series(["c", "a"], dtype="string"),
                                   np.array(["a", "c"], dtype=object), frozenset({"c", "a", None})])
def test_text_matches_pandas(dtype, cands):
    s = pd.Series(["a", None, "b", "c", "a"], dtype=dtype)
    got = isin(s, cands)
    assert got.dtype == bool
    assert got.tolist() == [True, False, False, True, True]
    assert got.tolist() == s.isin(list(c for c in cands if c is not None)).fillna(False).tolist()


def test_empty_and_no_candidates():
    assert isin(pd.Series([], dtype="string"), {"a"}).tolist() == []
    assert isin(pd.Series(["a", "b"], dtype="string"), set()).tolist() == [False, False]


def test_numbers_and_mixed_candidates_go_through_pandas():
    assert isin(pd.Series([1, 2, 3]), {2, 3}).tolist() == [False, True, True]
    # a number among the candidates never equals text (as in pandas): only "2" matches
    assert isin(pd.Series(["1", "2"], dtype="string"), {1, "2"}).tolist() == [False, True]


def test_index_and_large_id_lists_agree_with_pandas():
    ids = pd.Series([f"0015g00000{i:08d}AAA" for i in range(60_000)], dtype="string")
    keep = ids.iloc[::3]
    got = isin(pd.Index(ids), keep)
    assert int(got.sum()) == 20_000
    assert got.tolist() == ids.isin(keep).tolist()
