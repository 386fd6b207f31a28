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
