"""Small DataFrame helpers the core and the pages share."""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd


def isin(values, candidates: Iterable) -> np.ndarray:
    """Which of ``values`` (a Series, Index or array) are among ``candidates`` (a set, list, Index
    or Series): a numpy bool array, missing values never in. Text goes through Arrow's hash set:
    pandas' own ``isin`` on Arrow-backed text makes one Python object per candidate (0.24 s for
    50,000 account ids, against 4 ms here). Other types use pandas."""
    import pyarrow as pa
    import pyarrow.compute as pc

    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if not isinstance(candidates, (pd.Series, pd.Index, np.ndarray, list)):
        candidates = list(candidates)
    text = isinstance(s.dtype, pd.StringDtype) or s.dtype == object
    if text and len(s):
        try:
            left = pa.array(s.array) if isinstance(s.dtype, pd.StringDtype) else pa.array(s.to_numpy(), type=pa.string(), from_pandas=True)
            if isinstance(candidates, (pd.Series, pd.Index)) and isinstance(candidates.dtype, pd.StringDtype):
                right = pa.array(candidates.array)
            else:
                right = pa.array(np.asarray(candidates, dtype=object), type=pa.string(), from_pandas=True)
            if pa.types.is_large_string(left.type) != pa.types.is_large_string(right.type):
                left, right = left.cast(pa.large_string()), right.cast(pa.large_string())
            out = pc.is_in(left, value_set=right, skip_nulls=True)
            return out.fill_null(False).to_numpy(zero_copy_only=False).astype(bool, copy=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # not all text: pandas decides
            pass
    return s.isin(candidates).fillna(False).to_numpy(dtype=bool)
