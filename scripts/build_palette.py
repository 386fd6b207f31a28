"""Write data/palettes/glasbey_dark.txt, the rep palette, from colorcet (a build-time dependency only:
importing colorcet costs the server 10 MB and 0.2 s for one list of 256 colours)."""
from __future__ import annotations

from pathlib import Path

import colorcet

OUT = Path(__file__).resolve().parent.parent / "data" / "palettes" / "glasbey_dark.txt"


def main() -> int:
    OUT.parent.mkdir(parents=True, exist_ok=True)
    colours = list(colorcet.palette["glasbey_dark"])
    OUT.write_text("# colorcet " + colorcet.__version__ + ' palette["glasbey_dark"], one colour a line '
                   "(scripts/build_palette.py)\n" + "\n".join(colours) + "\n", encoding="utf-8")
    print(f"{len(colours)} colours -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
