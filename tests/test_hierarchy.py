import pandas as pd

from territory_core.contract import A, X
from territory_core.analyse.hierarchy import find_cycles, resolve_hierarchy


def frame(rows):
    return pd.DataFrame(rows, columns=[A.account_id, A.parent_id]).astype("string")


def test_three_level_family_resolves_to_top_with_depths():
    df = frame([("c", "b"), ("b", "a"), ("a", None), ("z", None)])
    h = resolve_hierarchy(df)
    assert list(h[X.ultimate_parent_id]) == ["a", "a", "a", "z"]
    assert list(h[X.depth]) == [2, 1, 0, 0]
    assert list(h[X.family_size]) == [3, 3, 3, 1]
    assert not h["in_cycle"].any()


def test_parent_outside_file_is_an_orphan_heading_its_own_family():
    df = frame([("a", "missing"), ("b", "a")])
    h = resolve_hierarchy(df)
    assert list(h["orphan"]) == [True, False]
    assert list(h[X.ultimate_parent_id]) == ["a", "a"]
    assert list(h[X.depth]) == [0, 1]


def test_cycles_are_flagged_and_do_not_hang():
    df = frame([("a", "b"), ("b", "c"), ("c", "a"), ("d", "a"), ("e", "e"), ("f", None)])
    h = resolve_hierarchy(df)
    assert list(h["in_cycle"]) == [True, True, True, True, False, False]
    # accounts in or under a cycle head their own family
    assert list(h[X.ultimate_parent_id])[:4] == ["a", "b", "c", "d"]
    assert h.loc[4, X.ultimate_parent_id] == "e"  # self-parent is simply a root
    cycles = find_cycles(df)
    assert len(cycles) == 1 and sorted(cycles[0]) == ["a", "b", "c"]


def test_no_parent_column_and_empty_frames():
    h = resolve_hierarchy(pd.DataFrame({A.account_id: ["x", "y"]}))
    assert list(h[X.ultimate_parent_id]) == ["x", "y"]
    assert resolve_hierarchy(frame([])).empty
    assert find_cycles(frame([])) == []


def test_long_chain_depth():
    n = 300
    rows = [(f"n{i}", f"n{i-1}" if i else None) for i in range(n)]
    h = resolve_hierarchy(frame(rows))
    assert h[X.depth].tolist() == list(range(n))
    assert set(h[X.ultimate_parent_id]) == {"n0"}
