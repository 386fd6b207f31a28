"""Column mapping: which canonical column each file header feeds.

Headers are matched case- and punctuation-insensitively against, in order of priority:
the canonical name itself, the contract's aliases, then the extra Salesforce (Data Loader
API names and report labels) and HubSpot export headers below, then weaker fallbacks
(Shipping address when there is no Billing address). Each canonical column is fed by at
most one header. Custom fields (``ARR__c``) are mapped explicitly by the user:
``{"ARR__c": "arr"}``. A mapping is a plain ``dict[header, canonical | None]`` (None = ignore),
JSON-safe so scenarios and the CLI can carry it.
"""
from __future__ import annotations

import re
from typing import Iterable, Mapping

from ..contract import TABLES

IGNORE = None

# More headers seen in real exports, per table (on top of Column.aliases in the contract).
EXTRA_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "accounts": {
        "account_id": ("Account ID (18)", "Account ID 18", "Account_ID", "Company Record ID", "Salesforce ID",
                       "SFDC ID", "Account Number"),
        "name": ("Account", "Company", "Account Name (Legal)", "Organization", "Organisation"),
        "parent_id": ("Parent", "Parent Account", "Parent.Id", "Parent ID", "Parent Company Record ID"),
        "industry": ("Industry Type", "Vertical", "Sector"),
        "employees": ("Employee Count", "No. of Employees", "Headcount", "Company Size", "Number of employees"),
        "annual_revenue": ("Revenue", "Total Revenue", "Company Revenue"),
        "arr": ("Current ARR", "ARR (USD)", "Recurring Revenue", "Total ARR"),
        "open_pipeline": ("Pipeline", "Open Opportunity Amount", "Open Deal Value"),
        "intent": ("Intent Score (0-100)", "Buying Intent", "6sense Intent Score", "Bombora Intent"),
        "city": ("Billing City/Town", "Account City", "Town"),
        "state": ("Billing State", "Billing State/Province (text only)", "Account State", "Province", "Region/State",
                  "State/Province"),
        "zip": ("Postal Code", "Billing Postal Code", "Zip/Postal Code", "Postcode", "Zipcode", "Billing Zip"),
        "county": ("County Name", "County FIPS Code", "FIPS"),
        "country": ("Billing Country", "Account Country"),
        "lat": ("Lat", "Billing Latitude"),
        "lon": ("Lon", "Lng", "Long", "Billing Longitude"),
        "owner_id": ("Account Owner", "Owner", "Owner.Id", "Account Owner Id", "Company owner ID", "Rep ID"),
        "locked": ("Is Locked", "Do Not Reassign", "Locked__c"),
        "named": ("Named Account?", "Is Named", "Strategic Account", "Named_Account__c"),
    },
    "reps": {
        "rep_id": ("Owner Id", "Salesforce User ID", "Employee ID", "Rep", "Id (18)", "HubSpot Owner ID"),
        "name": ("User Name", "Full name", "Owner Name", "Owner", "Rep", "Account Owner"),
        "role": ("Role Name", "User Role", "Job Title", "UserRole", "Profile.Name"),
        "manager": ("Manager Name", "Reports To", "Manager ID"),
        "region": ("Territory", "Sales Region", "Division", "Area"),
        "segment": ("Sales Segment", "Market Segment", "Team"),
        "capacity": ("Capacity (FTE)",),
        "ramp": ("Ramp Factor", "Productivity"),
        "quota": ("Annual Quota", "Quota Amount", "Target"),
        "home_zip": ("Home Zip", "Home Postal Code", "Office ZIP", "Zip/Postal Code", "Postal Code", "Zip Code"),
        "home_lat": ("Home Latitude", "Lat"),
        "home_lon": ("Home Longitude", "Lon", "Lng"),
        "specialties": ("Specialty", "Industries", "Specialisation", "Specialization"),
        "active": ("Is Active", "Active User", "Status"),
    },
    "opportunities": {
        "opportunity_id": ("Opportunity Id", "Opportunity", "Deal Record ID", "Record ID"),
        "account_id": ("Account ID", "Account.Id", "Company ID", "Associated Company IDs", "Associated Company"),
        "owner_id": ("Opportunity Owner ID", "Opportunity Owner", "Owner", "Deal Owner ID", "HubSpot Owner ID"),
        "stage": ("Stage Name", "Pipeline Stage", "Dealstage"),
        "amount": ("Amount (converted)", "Deal Amount", "Total Contract Value", "Amount USD"),
        "created_date": ("Created On", "Date Created", "Createdate"),
        "close_date": ("Expected Close Date", "Closed Date"),
        "is_closed": ("Closed",),
        "is_won": ("Won",),
        "product": ("Product Family", "Product Name", "Line of Business"),
    },
    "account_products": {
        "account_id": ("Account", "Company ID", "Id"),
        "product": ("Product Family", "Product Code", "Name", "Line"),
        "arr": ("Recurring Revenue", "Amount", "ARR (USD)", "Annual Recurring Revenue"),
    },
}

# Weak matches used only when the stronger header for that column is absent.
FALLBACK_ALIASES: dict[str, dict[str, tuple[str, ...]]] = {
    "accounts": {
        "city": ("ShippingCity", "Shipping City", "MailingCity"),
        "state": ("ShippingState", "ShippingStateCode", "Shipping State/Province", "MailingState"),
        "zip": ("ShippingPostalCode", "Shipping Zip/Postal Code", "MailingPostalCode"),
        "country": ("ShippingCountry", "Shipping Country", "MailingCountry"),
        "lat": ("ShippingLatitude",),
        "lon": ("ShippingLongitude",),
    },
    "reps": {"home_zip": ("MailingPostalCode",)},
}


# Canonical columns a file may give in parts, joined when no single header feeds them:
# table -> canonical -> (normalised headers of the parts, in order; separator).
COMBINED: dict[str, dict[str, tuple[tuple[str, ...], str]]] = {
    "reps": {"name": (("firstname", "lastname"), " ")},
}
COMBINED_PART_ALIASES = {"firstname": ("firstname", "givenname", "first"),
                         "lastname": ("lastname", "surname", "familyname", "last")}


def combined_columns(headers: Iterable, mapping: Mapping[str, str | None], tname: str) -> dict[str, list[str]]:
    """Canonical columns built by joining several file columns: ``{"name": ["First name", "Last name"]}``
    for a HubSpot owners or Salesforce User file without a full-name column. Applies only when no
    header is mapped to the canonical column and the parts are left unmapped, so what the mapping
    view shows is what the import does."""
    out: dict[str, list[str]] = {}
    fed = {c for c in mapping.values() if c}
    for canon, (parts, _sep) in COMBINED.get(tname, {}).items():
        if canon in fed:
            continue
        found = []
        for part in parts:
            for h in headers:
                if norm_header(h) in COMBINED_PART_ALIASES.get(part, (part,)) and not mapping.get(h):
                    found.append(str(h))
                    break
        if found:
            out[canon] = found
    return out


def combined_separator(tname: str, canon: str) -> str:
    return COMBINED.get(tname, {}).get(canon, ((), " "))[1]


def describe_combined(combined: Mapping[str, list[str]]) -> dict[str, str]:
    """canonical -> "First name + Last name" (for the mapping view and messages)."""
    return {c: " + ".join(parts) for c, parts in combined.items()}


def norm_header(h) -> str:
    """Case- and punctuation-insensitive key: 'Billing Zip/Postal Code' -> 'billingzippostalcode'."""
    return re.sub(r"[^a-z0-9]", "", str(h).lower())


def _candidates(tname: str) -> list[tuple[int, str, str]]:
    """(priority, normalised header, canonical column); lower priority wins."""
    table = TABLES[tname]
    out = []
    for c in table.columns:
        out.append((0, norm_header(c.name), c.name))
        for a in c.aliases:
            out.append((1, norm_header(a), c.name))
        for a in EXTRA_ALIASES.get(tname, {}).get(c.name, ()):
            out.append((2, norm_header(a), c.name))
        for a in FALLBACK_ALIASES.get(tname, {}).get(c.name, ()):
            out.append((3, norm_header(a), c.name))
    return out


def guess_mapping(headers: Iterable, tname: str) -> dict[str, str | None]:
    """Best guess of the canonical column for each header of a ``tname`` file (None = ignore)."""
    headers = [str(h) for h in headers]
    cands = _candidates(tname)
    by_key: dict[str, list[tuple[int, str]]] = {}
    for prio, key, canon in cands:
        by_key.setdefault(key, []).append((prio, canon))
    proposals = []  # (priority, header position, header, canonical)
    for pos, h in enumerate(headers):
        for prio, canon in by_key.get(norm_header(h), []):
            proposals.append((prio, pos, h, canon))
    proposals.sort()
    taken: set[str] = set()
    used: set[str] = set()
    mapping: dict[str, str | None] = {h: None for h in headers}
    for prio, pos, h, canon in proposals:
        if canon in taken or h in used:
            continue
        mapping[h] = canon
        taken.add(canon)
        used.add(h)
    return mapping


def apply_overrides(mapping: Mapping[str, str | None], overrides: Mapping[str, str | None] | None,
                    tname: str) -> tuple[dict[str, str | None], list[str]]:
    """Apply user choices (``{"ARR__c": "arr", "Revenue__c": None}``) on top of a guess.
    A canonical column chosen by the user is taken away from any other header. Returns the new
    mapping and messages about overrides that could not apply (unknown canonical column)."""
    out = dict(mapping)
    problems = []
    if not overrides:
        return out, problems
    valid = set(TABLES[tname].names)
    lookup = {norm_header(h): h for h in out}
    for src, canon in overrides.items():
        h = src if src in out else lookup.get(norm_header(src))
        if h is None:
            continue  # the header is not in this file: the override is for another file
        if canon in (None, "", "ignore", "(ignore)"):
            out[h] = None
            continue
        if canon not in valid:
            problems.append(f"'{src}' is mapped to '{canon}', which is not a column of {tname} "
                            f"(columns: {', '.join(sorted(valid))}).")
            continue
        for other, c in out.items():
            if c == canon and other != h:
                out[other] = None
        out[h] = canon
    return out, problems


def parse_map_args(items: Iterable[str]) -> tuple[dict[str, str | None], list[str]]:
    """CLI ``--map SOURCE=canonical`` items -> ({source: canonical}, errors). ``SOURCE=`` ignores."""
    out: dict[str, str | None] = {}
    errors = []
    for item in items or []:
        if "=" not in item:
            errors.append(f"--map expects SOURCE=canonical, got '{item}'.")
            continue
        src, canon = item.split("=", 1)
        src, canon = src.strip(), canon.strip()
        if not src:
            errors.append(f"--map '{item}': the source column is empty.")
            continue
        out[src] = canon or None
    return out, errors


def guess_table(headers: Iterable) -> str:
    """Which table a file most likely is: 'accounts', 'reps', 'opportunities' or 'account_products'."""
    headers = [norm_header(h) for h in headers]
    hs = set(headers)
    score = {}
    for tname in ("accounts", "reps", "opportunities", "account_products"):
        m = guess_mapping(headers, tname)
        mapped = {c for c in m.values() if c}
        score[tname] = len(mapped) + 2 * len(mapped & set(TABLES[tname].required))
    # Strong signals
    if hs & {"stagename", "stage", "dealstage", "closedate", "isclosed", "iswon", "amount"} and \
            hs & {"accountid", "associatedcompanyid", "accountid18"}:
        score["opportunities"] += 6
    if hs & {"username", "email", "isactive", "userroleid", "userrolename", "managerid", "quota",
             "capacity", "ramp", "repid", "specialties"}:
        score["reps"] += 4
    if hs & {"billingpostalcode", "billingstate", "industry", "annualrevenue", "numberofemployees",
             "parentid", "companyname"}:
        score["accounts"] += 4
    if hs & {"product", "productline", "productname"} and len(hs) <= 5 and "accountid" in hs:
        score["account_products"] += 4
    order = ["accounts", "reps", "opportunities", "account_products"]
    return max(order, key=lambda t: (score[t], -order.index(t)))


def mapped_columns(mapping: Mapping[str, str | None]) -> dict[str, str]:
    """canonical -> header, for the headers that are mapped."""
    return {c: h for h, c in mapping.items() if c}


# --------------------------------------------------------------------------------------------
# Mapping memory: a source file is known by its header set; its mapping is remembered in the
# store (territory_core.store.datasets) and offered again on the next upload of the same export.
def header_key(headers: Iterable) -> str:
    """A stable key for a file's header set: the same export gives the same key whatever the
    order, case or punctuation of its headers (64 hex characters)."""
    import hashlib

    keys = sorted({norm_header(h) for h in headers if str(h) != "_row"})
    return hashlib.sha256("\x1f".join(keys).encode("utf-8")).hexdigest()


def with_saved(headers: Iterable, tname: str, saved: Mapping[str, str | None] | None) -> dict[str, str | None]:
    """The guess for ``headers`` with a remembered mapping on top: each header the saved mapping
    knows (matched like :func:`norm_header`) takes the saved choice, including "ignore"; a
    canonical column is fed by one header at most. Saved choices that are no longer columns of
    ``tname`` are left out."""
    mapping = guess_mapping(headers, tname)
    if not saved:
        return mapping
    valid = set(TABLES[tname].names)
    by_norm = {norm_header(h): c for h, c in saved.items()}
    chosen = {}
    for h in mapping:
        k = norm_header(h)
        if k in by_norm and (by_norm[k] is None or by_norm[k] in valid):
            chosen[h] = by_norm[k]
    for h, c in chosen.items():
        if c is not None:
            for other in mapping:
                if mapping[other] == c and other not in chosen:
                    mapping[other] = None
        mapping[h] = c
    return mapping


def lost_money_columns(saved: Mapping[str, str | None] | None, current: Mapping[str, str | None],
                       tname: str) -> list[tuple[str, str]]:
    """Money columns (contract.MONEY) a remembered mapping fed from a header of this file that
    the current mapping leaves without any header: [(canonical, header)]. Loading like that
    would load the column as nothing, so the import asks before it does."""
    from ..contract import MONEY

    if not saved:
        return []
    fed_now = {c for c in current.values() if c}
    present = {norm_header(h): h for h in current}
    lost = []
    for h, c in saved.items():
        if c in MONEY.get(tname, ()) and c not in fed_now and norm_header(h) in present:
            lost.append((c, present[norm_header(h)]))
    return sorted(set(lost))
