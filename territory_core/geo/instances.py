"""Generated territory-design instances in the style of Rios-Mercado and co-authors'
commercial territory design benchmarks (DU type): units scattered uniformly on a 500 x 500
plane, adjacency from their Delaunay triangulation (a planar graph, as between neighbouring
city blocks), and three activity measures drawn uniformly (number of customers in [4, 20],
sales volume in [15, 400], workload in [15, 100]), each to be balanced within +-5% of the mean.
Deterministic for a seed, so results can be re-checked."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MEASURES = ("customers", "sales", "workload")


@dataclass(frozen=True)
class Instance:
    name: str
    units: pd.DataFrame   # unit_id, x, y, customers, sales, workload
    edges: pd.DataFrame   # unit_a, unit_b
    territories: int
    tolerance: float = 0.05


def delaunay_edges(xy: np.ndarray) -> np.ndarray:
    from scipy.spatial import Delaunay

    tri = Delaunay(xy)
    s = tri.simplices
    e = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    e = np.sort(e, axis=1)
    return np.unique(e, axis=0)


def rios_mercado_instance(n: int, p: int, seed: int, tolerance: float = 0.05) -> Instance:
    rng = np.random.default_rng(seed)
    xy = np.round(rng.uniform(0, 500, size=(n, 2)), 2)
    ids = [f"U{i + 1:03d}" for i in range(n)]
    units = pd.DataFrame({
        "unit_id": ids, "x": xy[:, 0], "y": xy[:, 1],
        "customers": rng.integers(4, 21, size=n),
        "sales": rng.integers(15, 401, size=n),
        "workload": rng.integers(15, 101, size=n),
    })
    e = delaunay_edges(xy)
    edges = pd.DataFrame({"unit_a": [ids[a] for a in e[:, 0]], "unit_b": [ids[b] for b in e[:, 1]]})
    return Instance(f"DU{n}-p{p}-s{seed}", units, edges, p, tolerance)
