"""Corporate hierarchy: ultimate parent, depth and family size, robust to cycles and orphans."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..contract import A, X


def resolve_hierarchy(accounts: pd.DataFrame) -> pd.DataFrame:
    """Per account: ultimate_parent_id, depth, family_size, plus flags.

    Returns a frame indexed like ``accounts`` (same row order) with columns
    ``ultimate_parent_id``, ``depth``, ``family_size``, ``in_cycle`` (the account's chain of
    parents loops) and ``orphan`` (its parent_id names an account that is not in the data).
    A parent outside the data is treated as absent: the account heads its own family.
    Accounts in or under a cycle head their own family (validation reports the cycle).
    """
    ids = accounts[A.account_id].astype("string").to_numpy(dtype=object)
    n = len(ids)
    pos = pd.Series(np.arange(n), index=pd.Index(ids))
    pos = pos[~pos.index.duplicated()]
    if A.parent_id in accounts.columns:
        par_raw = accounts[A.parent_id].astype("string")
    else:
        par_raw = pd.Series(pd.NA, index=accounts.index, dtype="string")
    par_raw = par_raw.where(par_raw.str.strip().fillna("") != "", pd.NA)
    parent = pd.Series(par_raw.to_numpy(dtype=object)).map(pos).to_numpy()
    orphan = par_raw.notna().to_numpy() & np.isnan(parent)
    idx = np.arange(n)
    parent = np.where(np.isnan(parent), idx, parent).astype(np.int64)
    parent = np.where(parent == idx, idx, parent)  # self-parent counts as a root

    # Pointer doubling: after ceil(log2 n)+1 rounds anc[i] is the root when the chain ends.
    anc = parent.copy()
    for _ in range(max(1, int(np.ceil(np.log2(max(n, 2))))) + 1):
        anc = anc[anc]
    is_root = parent == idx
    bad = ~is_root[anc]  # chain never reaches a root: cycle or under a cycle
    root = np.where(bad, idx, anc)

    # Depth: walk down from roots level by level.
    depth = np.full(n, -1, dtype=np.int64)
    depth[is_root | bad] = 0
    eff_parent = np.where(bad, idx, parent)
    for _ in range(n):
        todo = depth < 0
        if not todo.any():
            break
        ready = todo & (depth[eff_parent] >= 0)
        if not ready.any():
            break
        depth[ready] = depth[eff_parent[ready]] + 1
    depth[depth < 0] = 0

    root_ids = ids[root]
    sizes = pd.Series(root_ids).map(pd.Series(root_ids).value_counts()).to_numpy()
    return pd.DataFrame(
        {
            X.ultimate_parent_id: pd.array(root_ids, dtype="string"),
            X.depth: depth,
            X.family_size: sizes.astype(np.int64),
            "in_cycle": bad,
            "orphan": orphan,
        },
        index=accounts.index,
    )


def find_cycles(accounts: pd.DataFrame) -> list[list[str]]:
    """Each parent cycle as the list of account ids on it (for validation messages)."""
    if A.parent_id not in accounts.columns or accounts.empty:
        return []
    parent = dict(zip(accounts[A.account_id].astype(str), accounts[A.parent_id].astype("string").fillna("")))
    seen: set[str] = set()
    cycles: list[list[str]] = []
    for start in parent:
        if start in seen:
            continue
        path: list[str] = []
        on_path: dict[str, int] = {}
        node = start
        while node and node in parent and node not in seen:
            if node in on_path:
                cycles.append(path[on_path[node]:])
                break
            on_path[node] = len(path)
            path.append(node)
            nxt = parent[node]
            if nxt == node:
                break
            node = nxt
        seen.update(path)
    return cycles
