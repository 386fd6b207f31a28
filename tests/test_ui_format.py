"""The pages' shared number formats."""
import math

from ui.format import money, pct


def test_money_suffixes_digits_and_missing_values():
    assert money(1_370_000) == "$1.4M" and money(1_370_000, digits=2) == "$1.37M"
    assert money(2.5e9) == "$2.5B" and money(12_345) == "$12.3k" and money(950) == "$950"
    assert money(-1_500_000) == "-$1.5M"
    for bad in (None, "x", math.nan, math.inf):
        assert money(bad) == "-"
    assert pct(0.1234) == "12.3%" and pct(None) == "-"


def test_md_escapes_every_markdown_construct_and_breaks_autolinks():
    from ui.format import md

    s = md("![b](http://h/x.png) [c](http://x) :red[x] $x$ **b** www.x.com a@b.com\nnext")
    # every punctuation mark is backslash-escaped, so nothing parses as a link, image or directive
    assert "\\!\\[b\\]\\(" in s and "\\:red\\[x\\]" in s and "\\$x\\$" in s and "\\*\\*b\\*\\*" in s
    # bare URLs and e-mails: GFM links them after escapes resolve; a word joiner breaks the pattern
    assert "http\u2060\\:\\/\\/h" in s and "www\u2060\\.x" in s and "a\u2060\\@b" in s
    assert "\n" not in s and md(None) == ""
    # plain words are untouched
    assert md("Ana Lopez 2") == "Ana Lopez 2"


def test_plot_text_escapes_plotly_tags():
    from ui.format import plot_text

    assert plot_text('<a href="http://x">P</a> & <b>') == '&lt;a href="http://x"&gt;P&lt;/a&gt; &amp; &lt;b&gt;'
