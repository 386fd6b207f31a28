"""The data contract: every canonical column is named here, once.

Other modules refer to columns through the namespaces below (``A.account_id``,
``R.capacity``, ``O.is_won`` ...) instead of writing the strings themselves, so a
rename happens in one place and a typo is an AttributeError, not a silent miss.

Tables
------
accounts (A)           one row per account (customer or prospect)
account_products (P)   optional, long form: what each account already buys
reps (R)               one row per rep (territory owner)
opportunities (O)      optional: pipeline and history, for KPIs and propensity
distances (D)          optional: account x rep distance or drive time
derived (X)            columns the core computes (scores, segment, family, ...)
assignment (S)         columns of a solved assignment / export
leads (L)              optional: inbound leads to route
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace

# Logical types. Import coerces to these pandas dtypes.
STR = "str"
FLOAT = "float"
INT = "int"
BOOL = "bool"
DATE = "date"

PANDAS_DTYPE = {STR: "string", FLOAT: "float64", INT: "Int64", BOOL: "boolean", DATE: "datetime64[ns]"}


@dataclass(frozen=True)
class Column:
    name: str
    dtype: str
    required: bool = False
    description: str = ""
    default: object = None
    # Header names used by common CRM exports (matched case- and punctuation-insensitively).
    aliases: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    keep_extra_numeric: bool = False

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")


ACCOUNTS = Table(
    "accounts",
    "One row per account: customers (arr > 0) and prospects.",
    (
        Column("account_id", STR, True, "Unique account id (Salesforce 15/18-char ids are matched).",
               aliases=("Id", "Account ID", "AccountId", "Record ID", "Company ID", "Account Id")),
        Column("name", STR, True, "Account name.",
               aliases=("Name", "Account Name", "Company name", "Company Name")),
        Column("parent_id", STR, False, "Parent account id (corporate hierarchy).",
               aliases=("ParentId", "Parent Account ID", "Parent Company ID", "Parent Company", "Parent Account Id")),
        Column("industry", STR, False, "Industry.", aliases=("Industry",)),
        Column("employees", FLOAT, False, "Number of employees.",
               aliases=("NumberOfEmployees", "Number of Employees", "Employees")),
        Column("annual_revenue", FLOAT, False, "Annual revenue of the company (USD).",
               aliases=("AnnualRevenue", "Annual Revenue")),
        Column("arr", FLOAT, False, "Recurring revenue from this customer today; 0 for prospects.", 0.0,
               aliases=("ARR", "Annual Recurring Revenue")),
        Column("open_pipeline", FLOAT, False, "Open pipeline amount on the account.", 0.0,
               aliases=("Open Pipeline", "Open Deal Amount")),
        Column("intent", FLOAT, False, "Buying intent score, 0-100.", aliases=("Intent", "Intent Score")),
        Column("city", STR, False, "City.", aliases=("BillingCity", "City", "Billing City")),
        Column("state", STR, False, "US state, 2-letter code (names are converted).",
               aliases=("BillingState", "State", "State/Region", "Billing State/Province", "BillingStateCode")),
        Column("zip", STR, False, "5-digit US ZIP code (ZIP+4 and lost leading zeros are fixed).",
               aliases=("BillingPostalCode", "Postal Code", "Zip", "ZIP", "Billing Zip/Postal Code", "Zip Code")),
        Column("county", STR, False, "County FIPS code (5 digits), filled from the ZIP when missing.",
               aliases=("County", "County FIPS")),
        Column("country", STR, False, "Country.", aliases=("BillingCountry", "Country", "Country/Region")),
        Column("lat", FLOAT, False, "Latitude, filled from the ZIP when missing.",
               aliases=("BillingLatitude", "Latitude")),
        Column("lon", FLOAT, False, "Longitude, filled from the ZIP when missing.",
               aliases=("BillingLongitude", "Longitude")),
        Column("owner_id", STR, False, "Current owner's rep_id.",
               aliases=("OwnerId", "Owner ID", "Company owner", "Company Owner", "Account Owner ID", "HubSpot Owner ID")),
        Column("locked", BOOL, False, "Keeps its owner in any rebalance.", False, aliases=("Locked",)),
        Column("named", BOOL, False, "Named account: keeps its owner and is flagged in segments.", False,
               aliases=("Named", "Named Account")),
        Column("website", STR, False, "Company website or domain (routing matches new records to it).",
               aliases=("Website", "Company Domain Name", "Domain", "Web Site")),
    ),
    key=("account_id",),
    keep_extra_numeric=True,
)

ACCOUNT_PRODUCTS = Table(
    "account_products",
    "Optional, long form: the product lines each account holds and their recurring revenue.",
    (
        Column("account_id", STR, True, "Account id.", aliases=("AccountId", "Account ID")),
        Column("product", STR, True, "Product line.", aliases=("Product", "Product Line", "ProductName")),
        Column("arr", FLOAT, False, "Recurring revenue on this product.", 0.0, aliases=("ARR",)),
    ),
    key=("account_id", "product"),
)

REPS = Table(
    "reps",
    "One row per rep (territory owner).",
    (
        Column("rep_id", STR, True, "Unique rep id (Salesforce User Id).",
               aliases=("Id", "User ID", "UserId", "Owner ID", "Rep ID")),
        Column("name", STR, True, "Rep name.", aliases=("Name", "Full Name", "Rep Name")),
        Column("role", STR, False, "Role (AE, SDR, AM, ...).", aliases=("UserRole.Name", "Role", "UserRoleId", "Title")),
        Column("manager", STR, False, "Manager's name or id.", aliases=("Manager.Name", "ManagerId", "Manager")),
        Column("region", STR, False, "Sales region.", aliases=("Region",)),
        Column("segment", STR, False, "Segment the rep sells to.", aliases=("Segment",)),
        Column("capacity", FLOAT, False, "Capacity in FTE.", 1.0, aliases=("Capacity", "FTE")),
        Column("ramp", FLOAT, False, "Productivity factor 0-1 (new hires ramp up).", 1.0, aliases=("Ramp",)),
        Column("quota", FLOAT, False, "Annual quota (USD).", aliases=("Quota",)),
        Column("home_zip", STR, False, "Home or office ZIP.", aliases=("PostalCode", "Home ZIP", "Zip")),
        Column("home_lat", FLOAT, False, "Home latitude, filled from home_zip.", aliases=("Latitude",)),
        Column("home_lon", FLOAT, False, "Home longitude, filled from home_zip.", aliases=("Longitude",)),
        Column("specialties", STR, False, "Industries the rep specialises in, semicolon-separated.",
               aliases=("Specialties",)),
        Column("active", BOOL, False, "Active rep.", True, aliases=("IsActive", "Active")),
        Column("placeholder", BOOL, False, "A seat to be hired (TBH): owns a book in plans, never routed to. "
               "Rep ids starting TBH- count as placeholders too.", False, aliases=("Placeholder", "TBH")),
    ),
    key=("rep_id",),
)

OPPORTUNITIES = Table(
    "opportunities",
    "Optional: opportunities, open and closed.",
    (
        Column("opportunity_id", STR, True, "Unique opportunity id.", aliases=("Id", "Opportunity ID", "Deal ID", "Record ID")),
        Column("account_id", STR, True, "Account id.", aliases=("AccountId", "Account ID", "Associated Company ID")),
        Column("owner_id", STR, False, "Opportunity owner's rep_id.", aliases=("OwnerId", "Owner ID", "Deal owner")),
        Column("stage", STR, False, "Stage name.", aliases=("StageName", "Stage", "Deal Stage")),
        Column("amount", FLOAT, False, "Amount (USD).", 0.0, aliases=("Amount",)),
        Column("created_date", DATE, False, "Created date.", aliases=("CreatedDate", "Create Date", "Created Date")),
        Column("close_date", DATE, False, "Close date (expected, when open).", aliases=("CloseDate", "Close Date")),
        Column("is_closed", BOOL, False, "Closed (won or lost).", False, aliases=("IsClosed", "Is Closed")),
        Column("is_won", BOOL, False, "Closed won.", False, aliases=("IsWon", "Is Won", "Is Closed Won")),
        Column("product", STR, False, "Product line.", aliases=("Product", "Product Line")),
    ),
    key=("opportunity_id",),
)

DISTANCES = Table(
    "distances",
    "Optional: distance or drive time from each account to each rep.",
    (
        Column("account_id", STR, True, "Account id."),
        Column("rep_id", STR, True, "Rep id."),
        Column("distance", FLOAT, True, "Distance (km) or drive time (minutes)."),
    ),
    key=("account_id", "rep_id"),
)

DERIVED = Table(
    "derived",
    "Columns the core computes; never expected in input files.",
    (
        Column("ultimate_parent_id", STR, description="Top of the account's corporate tree."),
        Column("depth", INT, description="Levels below the ultimate parent (0 = top)."),
        Column("family_size", INT, description="Accounts in the family."),
        Column("fit_score", FLOAT, description="Fit against the ideal customer profile, 0-100."),
        Column("propensity_score", FLOAT, description="Propensity to buy, 0-100."),
        Column("strategic_score", FLOAT, description="Strategic value, 0-100."),
        Column("potential_score", FLOAT, description="Weighted account potential score, 0-100."),
        Column("tier", STR, description="ICP tier A-D."),
        Column("potential", FLOAT, description="Estimated total addressable revenue (USD)."),
        Column("whitespace", FLOAT, description="Potential not yet bought (USD)."),
        Column("segment", STR, description="Segment from the segment rules."),
        Column("coverage_model", STR, description="dedicated or pooled."),
        Column("workload", FLOAT, description="Workload index of an account."),
        Column("account_count", FLOAT, description="1 per account (balance on book size)."),
    ),
)

ASSIGNMENT = Table(
    "assignment",
    "A solved assignment, one row per account.",
    (
        Column("account_id", STR, True),
        Column("rep_id", STR, True, "New owner."),
        Column("previous_rep_id", STR, False, "Owner before the change."),
        Column("moved", BOOL, False, "Owner changed."),
        Column("reason", STR, False, "Why the account moved or stayed."),
    ),
    key=("account_id",),
)

LEADS = Table(
    "leads",
    "Optional: inbound leads to route (web forms, lists, a CRM's Lead object).",
    (
        Column("lead_id", STR, True, "Unique lead id.", aliases=("Id", "Lead ID", "LeadId", "Record ID", "Contact ID")),
        Column("company", STR, False, "Company name as the lead gave it.",
               aliases=("Company", "Company Name", "Account Name", "Organization")),
        Column("email", STR, False, "The lead's email (its domain is matched to account websites).",
               aliases=("Email", "Email Address", "E-mail")),
        Column("domain", STR, False, "Company website or domain.",
               aliases=("Website", "Company Domain Name", "Domain", "Web Site")),
        Column("zip", STR, False, "5-digit US ZIP code.", aliases=("PostalCode", "Postal Code", "Zip", "ZIP", "Zip Code")),
        Column("state", STR, False, "US state, 2-letter code.", aliases=("State", "State/Region", "StateCode")),
        Column("country", STR, False, "Country.", aliases=("Country", "Country/Region", "CountryCode")),
        Column("employees", FLOAT, False, "Number of employees.",
               aliases=("NumberOfEmployees", "Number of Employees", "Employees", "Company Size")),
        Column("industry", STR, False, "Industry.", aliases=("Industry",)),
        Column("created_at", DATE, False, "When the lead arrived.",
               aliases=("CreatedDate", "Created Date", "Create Date", "Created At")),
    ),
    key=("lead_id",),
)

TABLES: dict[str, Table] = {t.name: t for t in (ACCOUNTS, ACCOUNT_PRODUCTS, REPS, OPPORTUNITIES, DISTANCES, LEADS)}

# Money columns (USD) per table. A re-import that leaves one unmapped after it was mapped before
# loads it as nothing, so the import asks first (territory_core.ingest.mapping.lost_money_columns).
MONEY: dict[str, tuple[str, ...]] = {
    "accounts": ("annual_revenue", "arr", "open_pipeline"),
    "reps": ("quota",),
    "opportunities": ("amount",),
    "account_products": ("arr",),
}


def _ns(table: Table) -> SimpleNamespace:
    return SimpleNamespace(**{c.name: c.name for c in table.columns})


# Column-name namespaces: A.account_id == "account_id", etc.
A = _ns(ACCOUNTS)
P = _ns(ACCOUNT_PRODUCTS)
R = _ns(REPS)
O = _ns(OPPORTUNITIES)  # noqa: E741
D = _ns(DISTANCES)
X = _ns(DERIVED)
S = _ns(ASSIGNMENT)
L = _ns(LEADS)


def describe_markdown() -> str:
    """The contract as Markdown tables (used by the README and the Data page)."""
    out = []
    for t in (*TABLES.values(), DERIVED):
        out.append(f"### {t.name}\n\n{t.description}\n\n| column | type | required | meaning |\n|---|---|---|---|")
        for c in t.columns:
            out.append(f"| `{c.name}` | {c.dtype} | {'yes' if c.required else ''} | {c.description} |")
        out.append("")
    return "\n".join(out)
