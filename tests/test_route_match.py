"""Matching: registrable domains, company names, fuzzy look-up with a stated threshold."""
from __future__ import annotations

import pytest

from territory_core.route.match import NAME_THRESHOLD, NameIndex, normalize_company, normalize_domain


@pytest.mark.parametrize("value, expected", [
    ("https://www.Sales.Acme.co.uk/about?x=1", "acme.co.uk"),
    ("ana@mail.acme.com", "acme.com"),
    ("acme.com:8080", "acme.com"),
    ("bob@gmail.com", ""),      # free mail says nothing about the company
    ("192.168.1.10", ""),
    ("localhost", ""),
    ("", ""),
    (None, ""),
])
def test_normalize_domain(value, expected):
    assert normalize_domain(value) == expected


@pytest.mark.parametrize("value, expected", [
    ("Acme Robotics, Inc.", "acme robotics"),
    ("ACME ROBOTICS LLC", "acme robotics"),
    ("The Smith & Jones Co.", "smith and jones"),
    ("Café Zürich GmbH", "cafe zurich"),
    ("Inc", "inc"),   # a name that is only a legal form stays
])
def test_normalize_company(value, expected):
    assert normalize_company(value) == expected
    assert normalize_company("Acme Robotics, Inc.", keep_form=True) == "acme robotics inc"


def test_fuzzy_threshold_and_blocking():
    idx = NameIndex(["Summit Software Inc", "Summit Systems LLC", "Harbor Health"])
    exact, typo, near, other, blocked = idx.match_many(["summit software", "summit sofware", "summit soft",
                                                        "harbour health", "hrabor health"])
    assert exact.key == "summit software" and exact.score == 100
    assert typo.key == "summit software" and NAME_THRESHOLD <= typo.score < 100
    assert near is None  # 85 < 90
    assert other.key == "harbor health"
    assert blocked is None  # a typo in the first three letters is not looked for


def test_sample_leads_are_made_deterministically(tmp_path):
    """data/sample/leads.csv is exactly what scripts/make_leads.py writes (from the committed sample)."""
    import subprocess
    import sys

    from conftest import ROOT

    out = tmp_path / "leads.csv"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "make_leads.py"), "--out", str(out)], check=True,
                   capture_output=True, timeout=300)
    assert out.read_bytes() == (ROOT / "data" / "sample" / "leads.csv").read_bytes()
