"""Number formats the pages share (money and labels come from the core, so pages and reports agree)."""
from __future__ import annotations

import math
import re

from territory_core.text import amount, label, money  # noqa: F401 (pages use format.money etc.)


def pct(x, digits: int = 1) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "-"
    return "-" if math.isnan(x) else f"{x * 100:.{digits}f}%"


_MD_SPECIAL = set("\\`*_{}[]()#+-.!|<>~$:&=\"'^%@/;?,")
_WJ = "\u2060"  # WORD JOINER: zero width, not a word character for the autolink patterns
_AUTOLINK = re.compile(r"(?i)(?<=https)(?=\\:)|(?<=http)(?=\\:)|(?<=ftp)(?=\\:)|(?<=mailto)(?=\\:)"
                       r"|(?<=xmpp)(?=\\:)|(?<=www)(?=\\\.)|(?=\\@)")


def md(text) -> str:
    """User text (a name, a note, a header value) made inert for anything Streamlit renders as
    Markdown: st.markdown, captions, subheaders, metric labels and help, widget labels. Every ASCII
    punctuation mark is backslash-escaped (CommonMark shows it as itself), so no link, image,
    emphasis, :colour[...] directive, $math$ or bare-URL autolink can come from the text; line
    breaks become spaces. ``None`` gives ""."""
    if text is None:
        return ""
    s = " ".join(str(text).split())
    s = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in s)
    # GFM turns bare URLs and e-mail addresses into links after escapes are resolved, so escaping
    # cannot stop it: an invisible word joiner breaks the patterns ("http:", "www.", "a@b").
    return _AUTOLINK.sub(_WJ, s)


def plot_text(text) -> str:
    """User text made inert for plotly (titles, axis and legend labels, hover text, annotations),
    which reads a few HTML tags (<a href>, <b>, <br>): &, < and > become entities."""
    if text is None:
        return ""
    return (" ".join(str(text).split()).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))
