"""Rules of engagement: the plan's routing rules written for reps, as Markdown and as HTML.

:func:`engagement_document` builds the content once (sections of paragraphs, lists and tables)
from a :class:`~territory_core.route.router.Router`; :meth:`EngagementDoc.markdown` and
:meth:`EngagementDoc.html` render it. Every name and note that comes from data is escaped
(``html.escape`` in HTML; Markdown punctuation backslash-escaped in Markdown), so a rep or
account name can never become markup or a link.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .match import NAME_THRESHOLD
from .router import RULE_LABELS, Router

_MD_SPECIAL = set("\\`*_{}[]<>|#~$!&=")
_AUTOLINK = re.compile(r"(?i)(://|www\.|@)")
_LEADING = re.compile(r"^(\s*)(?:([-+])|(\d+)([.)]))")
_ZWSP = "\u200b"  # zero-width space: breaks a bare URL or email autolink, invisible when read


def md_text(text) -> str:
    """Text as inert Markdown that still reads well raw: the characters that make emphasis, links,
    images, code, HTML, tables, headings and math are backslash-escaped, bare URLs and emails
    cannot autolink, a leading list marker stays text, and line breaks become spaces."""
    s = " ".join(str("" if text is None else text).split())
    s = "".join("\\" + ch if ch in _MD_SPECIAL else ch for ch in s)
    s = _AUTOLINK.sub(lambda m: {"://": ":" + _ZWSP + "//", "@": _ZWSP + "@"}.get(m.group(1), m.group(1)[:3] + _ZWSP + "."), s)
    return _LEADING.sub(lambda m: m.group(1) + ("\\" + m.group(2) if m.group(2) else m.group(3) + "\\" + m.group(4)), s)


@dataclass(frozen=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple, ...]


@dataclass(frozen=True)
class Section:
    title: str
    paragraphs: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()       # an ordered list
    table: Table | None = None
    note: str = ""                     # a line under the table


@dataclass(frozen=True)
class EngagementDoc:
    title: str
    subtitle: str
    sections: tuple[Section, ...] = field(default_factory=tuple)

    def markdown(self) -> str:
        out = [f"# {md_text(self.title)}", "", md_text(self.subtitle), ""]
        for s in self.sections:
            out += [f"## {md_text(s.title)}", ""]
            for p in s.paragraphs:
                out += [md_text(p), ""]
            for i, step in enumerate(s.steps, start=1):
                out.append(f"{i}. {md_text(step)}")
            if s.steps:
                out.append("")
            if s.table is not None:
                out.append("| " + " | ".join(md_text(c) for c in s.table.columns) + " |")
                out.append("|" + "---|" * len(s.table.columns))
                for r in s.table.rows:
                    out.append("| " + " | ".join(md_text(v) for v in r) + " |")
                out.append("")
            if s.note:
                out += [md_text(s.note), ""]
        return "\n".join(out)

    def html(self) -> str:
        e = html.escape
        body = [f"<h1>{e(self.title)}</h1>", f"<p class='sub'>{e(self.subtitle)}</p>"]
        for s in self.sections:
            body.append(f"<h2>{e(s.title)}</h2>")
            body += [f"<p>{e(p)}</p>" for p in s.paragraphs]
            if s.steps:
                body.append("<ol>" + "".join(f"<li>{e(step)}</li>" for step in s.steps) + "</ol>")
            if s.table is not None:
                head = "".join(f"<th>{e(str(c))}</th>" for c in s.table.columns)
                rows = "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in r) + "</tr>" for r in s.table.rows)
                body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
            if s.note:
                body.append(f"<p class='note'>{e(s.note)}</p>")
        css = ("body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;color:#1f2937;max-width:60rem;"
               "margin:2rem auto;padding:0 1rem;line-height:1.45}h1{font-size:1.6rem;margin-bottom:.2rem}"
               "h2{font-size:1.15rem;margin-top:1.8rem;border-bottom:1px solid #e5e7eb;padding-bottom:.2rem}"
               ".sub{color:#6b7280;margin-top:0}.note{color:#6b7280;font-size:.9rem}"
               "table{border-collapse:collapse;width:100%;font-size:.9rem;margin:.5rem 0}"
               "th,td{border:1px solid #e5e7eb;padding:.3rem .5rem;text-align:left;vertical-align:top}"
               "th{background:#f3f4f6}li{margin:.25rem 0}")
        return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{e(self.title)}</title>"
                f"<style>{css}</style></head><body>{''.join(body)}</body></html>")


def engagement_document(router: Router, *, generated_at: datetime | None = None,
                        contact: str = "RevOps") -> EngagementDoc:
    """The rules of engagement of the plan ``router`` was built from."""
    now = generated_at or datetime.now(timezone.utc)
    r = router
    steps = [
        "Named and locked accounts keep their owner. An account already in the plan stays with its planned "
        "owner, unless that rep has left.",
        "Family first: a new account whose parent (or whose parent's ultimate parent) is one of our accounts "
        "goes to the family's owner. A new account or lead whose web domain (website or work email) matches one "
        "of our accounts goes to that account's owner; free mail such as gmail.com never matches.",
        f"Leads: a lead whose company name matches one of our accounts goes to that account's owner. Names are "
        f"compared without case, punctuation and legal forms (Inc, LLC, Ltd ...); a near match counts at "
        f"{NAME_THRESHOLD:.0f} of 100 or more (rapidfuzz token sort ratio). Accounts with the same name are told "
        "apart by the full name, then the ZIP, then the state.",
        "Segment: the segment rules below decide the segment, so the team's segment (first matching rule wins).",
        ("Geography: " + ("the ZIP, then county, territory table decides the region. " if r.territories else "")
         + "otherwise the team holding most of the plan's accounts in the county decides (the state's when the "
         "county has none or is split evenly)." if r.geo_columns else
         "Geography: teams are not split by region, so the segment alone decides the team."),
        "Within the team, the rep with the most room against their capacity-weighted target gets it (target = "
        "the rep's capacity x ramp share of the team's accounts), round robin on ties. Inactive reps, "
        "placeholder seats (to be hired) and reps away on the routing date are skipped.",
        "Anything these rules cannot decide, and every conflict, goes to the exceptions queue with the reason.",
    ]
    team_cols = ", ".join(r.team_columns) or "none (one team)"
    sections = [Section("How a new account or lead gets its owner",
                        (f"Teams are reps sharing: {team_cols}. The steps are tried in this order; the first "
                         "that decides wins, and every decision is recorded with the rule and a one-line reason.",),
                        tuple(steps))]

    seg_rows = tuple((i + 1, rule.name, rule.describe(), rule.coverage_model) for i, rule in enumerate(r.rules.rules))
    sections.append(Section("Segments", ("New records have no ICP tier and hold no products yet, so rules on "
                                         "those do not match them.",),
                            table=Table(("Priority", "Segment", "Conditions", "Coverage"), seg_rows)))

    team_rows = []
    for key in sorted(r.teams):
        t = r.teams[key]
        for j, rid in enumerate(t.reps):
            status = r.blocked(rid) or "takes new records"
            status = status.replace(r.rep_label(rid) + " is ", "")
            team_rows.append((t.label, rid, r.rep_name.get(rid, rid), f"{t.share[j]:.0%}", f"{t.load[j]:,.0f}", status))
    sections.append(Section("Teams and reps", table=Table(("Team", "Rep id", "Rep", "Share of team", "Accounts in plan",
                                                           "Status"), tuple(team_rows))))

    if r.geo_columns:
        states: dict[str, list[str]] = {}
        for (state, seg), (tied, _top, _n) in sorted(r.state_geo.items(), key=lambda kv: str(kv[0][0])):
            if seg is not None or len(tied) != 1:
                continue
            states.setdefault(" | ".join(tied[0]), []).append(str(state))
        geo_rows = tuple((g, ", ".join(sorted(v))) for g, v in sorted(states.items()))
        paras = [f"Region is decided by place: {', '.join(r.geo_columns)}."]
        if r.territories:
            paras.append(f"A territory table maps {len(r.territories.zip):,} ZIP codes and {len(r.territories.county):,} "
                         "counties to territories; it decides first.")
        sections.append(Section("Geography", tuple(paras), table=Table(("Region", "States where it holds most accounts"),
                                                                       geo_rows)))

    split = sum(1 for owners in r.family_owners.values() if len(owners) > 1)
    families = sum(1 for n in r.family_size.values() if n > 1)
    sections.append(Section("Families", (
        "Every account under one ultimate parent has one owner: a new subsidiary joins its family's owner.",
        f"The plan has {families:,} families of two or more accounts; {split:,} of them are split between owners "
        "today. New members of a split family go to the queue until RevOps decides which owner keeps it.")))

    named = [(r.account_ids[i], r.account_name[i], r.rep_label(r.account_owner[i]))
             for i in range(len(r.account_ids)) if r.account_named[i]]
    locked = int(r.account_locked.sum())
    sections.append(Section("Named and locked accounts", (
        "Named accounts are strategic logos with a dedicated owner; locked accounts keep their owner in every "
        f"rebalance. Neither is re-routed. The plan has {len(named):,} named and {locked:,} locked accounts.",),
        table=Table(("Account id", "Account", "Owner"), tuple(sorted(named))) if named else None))

    if r.decision_rules:
        sections.append(Section("Decision rules from the queue", (
            "Rules RevOps made from queue decisions. They settle only what the plan's rules cannot; lower priority "
            "first.",), table=Table(("Rule", "Field", "Value", "Owner", "Priority", "Note"), tuple(
                (f"#{d.id}" if d.id else "", d.field, d.value, r.rep_label(d.rep_id), d.priority, d.note)
                for d in r.decision_rules))))
    if r.unavailable:
        sections.append(Section("Reps away", ("Reps away are skipped by routing on these dates; their accounts stay "
                                              "theirs.",), table=Table(("Rep", "From", "To", "Why"), tuple(
            (r.rep_label(u.rep_id), f"{u.start:%Y-%m-%d}", f"{u.end:%Y-%m-%d}", u.reason) for u in r.unavailable))))

    sections.append(Section("Exceptions", (
        f"{contact} works the exceptions queue: each record is assigned by hand, or the decision becomes a rule "
        "for records like it. Every decision is kept in the audit log with who, when, what and why.",),
        table=Table(("Rule code", "Meaning"), tuple(RULE_LABELS.items()))))
    sections.append(Section("Disputes", (
        "A rep who believes an account should be theirs files a claim with a reason on the Disputes page.",
        f"{contact} accepts or rejects each claim with a note the rep can read. An accepted claim becomes a locked "
        "override in the next version of the plan; a rejected one changes nothing.",
        "Until a claim is decided the account stays with its owner in the plan. Work on an account you do not own "
        "only with its owner's agreement.")))
    return EngagementDoc(f"Rules of engagement: {r.label}",
                         f"Effective {r.as_of:%d %B %Y}. Generated {now:%Y-%m-%d %H:%M} UTC from {r.label}.",
                         tuple(sections))
