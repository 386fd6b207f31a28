"""Plain-array building blocks of territory design: distances, the adjacency graph and
contiguity checks. No geopandas here: the design model works on numbers and indices."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

EARTH_KM = 6371.0088


def unit_vectors(lat, lon) -> np.ndarray:
    la, lo = np.radians(np.asarray(lat, float)), np.radians(np.asarray(lon, float))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


@dataclass(frozen=True)
class Distances:
    """Distances between units: planar (Euclidean on x, y), great-circle (km on lat, lon) or an
    explicit matrix from every unit to a set of centre units (``cols``: their unit indices)."""

    kind: str                     # "planar" | "great_circle" | "matrix"
    xy: np.ndarray | None = None  # (n, 2): x, y or lat, lon
    matrix: np.ndarray | None = None
    cols: np.ndarray | None = None

    @property
    def n(self) -> int:
        return len(self.xy) if self.xy is not None else len(self.matrix)

    def centres_allowed(self) -> np.ndarray | None:
        """Units that may be centres (None: any unit)."""
        return None if self.kind != "matrix" else self.cols

    def between(self, rows, cols) -> np.ndarray:
        """len(rows) x len(cols) distances."""
        rows = np.asarray(rows, dtype=int)
        cols = np.asarray(cols, dtype=int)
        if self.kind == "matrix":
            pos = {int(c): k for k, c in enumerate(self.cols)}
            try:
                ci = np.array([pos[int(c)] for c in cols], dtype=int)
            except KeyError as exc:
                raise ValueError(f"no distances to unit index {exc.args[0]}: with a distance matrix "
                                 "only its centre units can be centres") from None
            return self.matrix[np.ix_(rows, ci)]
        a, b = self.xy[rows], self.xy[cols]
        if self.kind == "planar":
            return np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1])
        la1, lo1 = np.radians(a[:, 0])[:, None], np.radians(a[:, 1])[:, None]
        la2, lo2 = np.radians(b[:, 0])[None, :], np.radians(b[:, 1])[None, :]
        h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
        return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))

    def pairwise(self, rows, cols) -> np.ndarray:
        """Elementwise distance between rows[k] and cols[k]."""
        rows = np.asarray(rows, dtype=int)
        cols = np.asarray(cols, dtype=int)
        if self.kind == "matrix":
            pos = np.full(self.n, -1)
            pos[self.cols] = np.arange(len(self.cols))
            return self.matrix[rows, pos[cols]]
        a, b = self.xy[rows], self.xy[cols]
        if self.kind == "planar":
            return np.hypot(a[:, 0] - b[:, 0], a[:, 1] - b[:, 1])
        la1, lo1, la2, lo2 = (np.radians(v) for v in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
        h = np.sin((la2 - la1) / 2) ** 2 + np.cos(la1) * np.cos(la2) * np.sin((lo2 - lo1) / 2) ** 2
        return 2 * EARTH_KM * np.arcsin(np.sqrt(np.clip(h, 0.0, 1.0)))

    def points(self) -> np.ndarray:
        """Points in a space where Euclidean distance is monotone in this distance (for KD-trees)."""
        if self.kind == "planar":
            return self.xy
        if self.kind == "great_circle":
            return unit_vectors(self.xy[:, 0], self.xy[:, 1])
        raise ValueError("no coordinates with a distance matrix")

    def to_chord(self, d: np.ndarray) -> np.ndarray:
        """A distance as the KD-tree's Euclidean radius in :meth:`points` space."""
        if self.kind == "great_circle":
            return 2 * np.sin(np.minimum(np.asarray(d, float) / EARTH_KM, np.pi) / 2)
        return np.asarray(d, float)


class Graph:
    """Undirected adjacency over n units, as CSR arrays (indptr, nbr)."""

    def __init__(self, n: int, a, b):
        a = np.asarray(a, dtype=int)
        b = np.asarray(b, dtype=int)
        keep = a != b
        a, b = a[keep], b[keep]
        self.n = n
        m = csr_matrix((np.ones(2 * len(a)), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(n, n))
        m.sum_duplicates()
        self.m = m
        self.indptr = m.indptr
        self.nbr = m.indices
        self.a, self.b = a, b

    def neighbours(self, i: int) -> np.ndarray:
        return self.nbr[self.indptr[i]:self.indptr[i + 1]]

    def components(self, mask: np.ndarray | None = None) -> tuple[int, np.ndarray]:
        """Connected components of the whole graph or of the units in ``mask``."""
        if mask is None:
            return connected_components(self.m, directed=False)
        idx = np.flatnonzero(mask)
        sub = self.m[idx][:, idx]
        k, lab = connected_components(sub, directed=False)
        out = np.full(self.n, -1)
        out[idx] = lab
        return k, out

    def pieces(self, labels: np.ndarray, t) -> list[np.ndarray]:
        """The connected pieces of territory ``t`` (unit index arrays), largest first."""
        k, lab = self.components(labels == t)
        if k <= 1:
            return [np.flatnonzero(labels == t)] if k == 1 else []
        parts = [np.flatnonzero(lab == c) for c in range(k)]
        return sorted(parts, key=len, reverse=True)

    def boundary(self, members: np.ndarray) -> np.ndarray:
        """Units outside ``members`` adjacent to one of them."""
        inside = np.zeros(self.n, dtype=bool)
        inside[members] = True
        nb = np.concatenate([self.neighbours(i) for i in members]) if len(members) else np.zeros(0, int)
        nb = np.unique(nb)
        return nb[~inside[nb]]

    def stays_connected_without(self, labels: np.ndarray, i: int) -> bool:
        """Whether territory labels[i] stays in one piece when unit i leaves it (a search from one
        of i's same-territory neighbours must reach the others without passing through i)."""
        t = labels[i]
        nb = self.neighbours(i)
        same = nb[labels[nb] == t]
        if len(same) <= 1:
            return True
        targets = set(int(v) for v in same[1:])
        seen = {int(i), int(same[0])}
        stack = [int(same[0])]
        nbr, ptr = self.nbr, self.indptr
        while stack:
            u = stack.pop()
            for v in nbr[ptr[u]:ptr[u + 1]]:
                v = int(v)
                if v in seen or labels[v] != t:
                    continue
                seen.add(v)
                targets.discard(v)
                if not targets:
                    return True
                stack.append(v)
        return not targets


def contiguous(graph: Graph | None, labels: np.ndarray, territories) -> dict:
    """{territory: number of pieces} (1 = contiguous; 0 = empty)."""
    out = {}
    for t in territories:
        out[t] = len(graph.pieces(labels, t)) if graph is not None else (1 if (labels == t).any() else 0)
    return out
