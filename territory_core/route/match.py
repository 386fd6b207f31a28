"""Matching a record to accounts we have: by web domain, then by normalised company name.

- Domains: a website, URL or email is reduced to its registrable domain with the Public Suffix
  List (``publicsuffixlist``, shipped with the package: ``https://www.Sales.Acme.co.uk/x`` ->
  ``acme.co.uk``). Free mail providers (gmail.com, outlook.com, ...) never match: a gmail lead
  says nothing about the company.
- Company names: lower case, accents folded, ``&`` -> ``and``, punctuation dropped, legal forms
  (Inc, LLC, Corp, Ltd, GmbH, Holdings, ...) dropped. An exact normalised match first; then a fuzzy
  match with rapidfuzz's ``token_sort_ratio`` at or above :data:`NAME_THRESHOLD` (0-100) among the
  accounts whose normalised name starts with the same three letters (blocking keeps 100k records
  fast; a typo in the first three letters is not found).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np
import pandas as pd

NAME_THRESHOLD = 90.0  # rapidfuzz token_sort_ratio, 0-100: measured on the sample leads (scripts/bench_route.py)
BLOCK = 3  # fuzzy candidates share the first BLOCK letters of the normalised name

FREE_MAIL = frozenset("""
gmail.com googlemail.com yahoo.com yahoo.co.uk ymail.com hotmail.com hotmail.co.uk outlook.com live.com msn.com
aol.com icloud.com me.com mac.com proton.me protonmail.com gmx.com gmx.net gmx.de mail.com yandex.com yandex.ru
zoho.com zohomail.com fastmail.com hey.com tutanota.com web.de comcast.net verizon.net att.net sbcglobal.net
""".split())

LEGAL_FORMS = frozenset("""
inc incorporated llc llp lp ltd limited corp corporation co company plc gmbh ag sa sas sarl bv nv oy ab as aps
pty pte kk holdings holding
""".split())

_PUNCT = re.compile(r"[^0-9a-z ]+")
_SPACES = re.compile(r"\s+")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")


@lru_cache(maxsize=1)
def _psl():
    from publicsuffixlist import PublicSuffixList

    return PublicSuffixList()


@lru_cache(maxsize=200_000)
def normalize_domain(value) -> str:
    """The registrable domain of a website, URL, bare domain or email (``""`` when there is none,
    or when it is a free mail provider or an IP address)."""
    if value is None:
        return ""
    s = str(value).strip().lower()
    if not s or s in ("nan", "<na>", "none"):
        return ""
    if "@" in s:
        s = s.rsplit("@", 1)[1]
    s = _SCHEME.sub("", s)
    s = s.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0].split(":", 1)[0].strip(". ")
    if not s or "." not in s or s.replace(".", "").isdigit():
        return ""
    try:
        s = s.encode("idna").decode("ascii")
    except UnicodeError:
        pass
    reg = _psl().privatesuffix(s) or ""
    return "" if reg in FREE_MAIL else reg


@lru_cache(maxsize=200_000)
def normalize_company(value, keep_form: bool = False) -> str:
    """A company name for matching: ``"Acme Robotics, Inc."`` -> ``"acme robotics"`` (with
    ``keep_form``: ``"acme robotics inc"``, to tell apart accounts that differ only by it)."""
    if value is None:
        return ""
    s = unicodedata.normalize("NFKD", str(value)).encode("ascii", "ignore").decode("ascii").lower()
    s = s.replace("&", " and ").replace("'", "")
    s = _SPACES.sub(" ", _PUNCT.sub(" ", s)).strip()
    words = [w for w in s.split(" ") if w]
    while not keep_form and len(words) > 1 and words[-1] in LEGAL_FORMS:
        words.pop()
    if words and words[0] == "the" and len(words) > 1:
        words = words[1:]
    return " ".join(words)


def normalize_many(values: Iterable, fn) -> np.ndarray:
    """``fn`` over many values, each distinct value once."""
    s = pd.Series(list(values), dtype="object")
    s = s.where(s.notna(), None)
    uniq = pd.unique(s.astype("object"))
    table = {u: fn(u) for u in uniq}
    return s.map(table).to_numpy(dtype=object)


@dataclass(frozen=True)
class NameMatch:
    """The best account name for a query: ``key`` (the normalised account name) and ``score``
    (100 for an exact normalised match)."""

    key: str
    score: float


class NameIndex:
    """Normalised account names -> account positions, with fuzzy look-up."""

    def __init__(self, names: Iterable, threshold: float = NAME_THRESHOLD):
        self.threshold = float(threshold)
        keys = normalize_many(names, normalize_company)
        self.positions: dict[str, list[int]] = {}
        for i, k in enumerate(keys):
            if k:
                self.positions.setdefault(k, []).append(i)
        blocks: dict[str, list[str]] = {}
        for k in self.positions:
            blocks.setdefault(k[:BLOCK], []).append(k)
        self.blocks = {b: sorted(v) for b, v in blocks.items()}

    def match_many(self, queries: Iterable[str]) -> list[NameMatch | None]:
        """Best match per normalised query (None below the threshold). Ties in score go to the
        alphabetically first account name, so the result does not depend on the data's order."""
        from rapidfuzz import fuzz, process

        qs = list(queries)
        out: list[NameMatch | None] = [None] * len(qs)
        todo: dict[str, list[int]] = {}
        for i, q in enumerate(qs):
            if not q:
                continue
            if q in self.positions:
                out[i] = NameMatch(q, 100.0)
            else:
                todo.setdefault(q, []).append(i)
        by_block: dict[str, list[str]] = {}
        for q in todo:
            by_block.setdefault(q[:BLOCK], []).append(q)
        for b, qlist in by_block.items():
            choices = self.blocks.get(b)
            if not choices:
                continue
            scores = process.cdist(qlist, choices, scorer=fuzz.token_sort_ratio, score_cutoff=self.threshold,
                                   dtype=np.float32, workers=1)
            best = scores.argmax(axis=1)  # first maximum: choices are sorted, so ties are stable
            for qi, q in enumerate(qlist):
                s = float(scores[qi, best[qi]])
                if s >= self.threshold and s > 0:
                    m = NameMatch(choices[best[qi]], round(s, 1))
                    for i in todo[q]:
                        out[i] = m
        return out
