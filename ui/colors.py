"""One colour per rep, everywhere: the Whitespace Map, Compare and any page that colours by owner.

The colour of a rep depends only on the active dataset's rep list (sorted by rep id), never on
which reps a filter or a scenario happens to show, so the same rep has the same colour on every
map, page and filter. New hires of a scenario (ids not in the dataset) come after, in id order.
The palette is colorcet's Glasbey "dark" set: 256 colours chosen to be told apart from each
other and from a white background, so 40+ owners do not repeat. It is shipped as a text file
(data/palettes, written by scripts/build_palette.py): importing colorcet costs the server 10 MB.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

PALETTE_FILE = Path(__file__).resolve().parent.parent / "data" / "palettes" / "glasbey_dark.txt"
PALETTE: list[str] = re.findall(r"^#[0-9a-fA-F]{6}$", PALETTE_FILE.read_text(encoding="utf-8"), re.M)
NO_OWNER = "#9ca3af"


def rep_colours(dataset_rep_ids: Iterable, extra_ids: Iterable = ()) -> dict[str, str]:
    """rep_id -> hex colour. ``dataset_rep_ids``: every rep of the active dataset (the order does
    not matter: colours follow the sorted ids); ``extra_ids``: ids outside it (new hires), which
    get the next colours in their own sorted order."""
    base = sorted({str(r) for r in dataset_rep_ids if r is not None and str(r) not in ("", "nan", "<NA>")})
    known = set(base)
    extra = sorted({str(r) for r in extra_ids if r is not None and str(r) not in known and str(r) not in ("", "nan", "<NA>")})
    return {r: PALETTE[i % len(PALETTE)] for i, r in enumerate(base + extra)}


def colour_of(rep_id, colours: dict[str, str]) -> str:
    """The rep's colour, grey for no owner or an unknown id."""
    if rep_id is None:
        return NO_OWNER
    return colours.get(str(rep_id), NO_OWNER)


def discrete_scale(colours: list[str]) -> list:
    """A plotly colorscale that maps integer codes 0..n-1 (with cmin=-0.5, cmax=n-0.5) to
    ``colours`` exactly, for one-trace maps with a labelled colour bar."""
    n = max(len(colours), 1)
    scale = []
    for i, c in enumerate(colours or [NO_OWNER]):
        scale += [[i / n, c], [(i + 1) / n, c]]
    return scale


def dataset_rep_colours(extra_ids: Iterable = ()) -> dict[str, str]:
    """:func:`rep_colours` for the active dataset (pages call this one)."""
    from territory_core.contract import R
    from ui.state import get_dataset

    reps = get_dataset().reps
    ids = reps[R.rep_id].astype(str).tolist() if reps is not None and R.rep_id in reps.columns else []
    return rep_colours(ids, extra_ids)
