"""Property tests: random bytes and malformed tables only ever produce validation issues."""
import io

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from territory_core.ingest.importer import load_files
from territory_core.ingest.validate import ValidationReport

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HEADERS = ["account_id", "name", "parent_id", "employees", "annual_revenue", "arr", "intent", "state", "zip",
           "county", "lat", "lon", "owner_id", "locked", "Id", "BillingPostalCode", "ARR__c", "", "name"]
CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "NA", "null", "1,234", "$5", "(3)", "02139-4307", "2139", "California", "yes", "true",
                     "A1", "A2", "R1", "-1e309", "nan", "inf", "\x00", "\"", ",", ";", "\n", "1.2.3", "99999"]),
    st.integers(-10**12, 10**12).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
)


def check(res):
    assert isinstance(res.report, ValidationReport)
    # the importer's last-resort catch means a bug: every problem must be a real validation issue
    assert not any("Unexpected problem" in i.message for i in res.report.issues), res.report.to_text()
    if not res.report.ok:
        assert res.dataset is None
    if res.dataset is not None:
        assert res.dataset.accounts["account_id"].is_unique
    res.report.to_frame()
    res.report.to_text()


@SETTINGS
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(data):
    check(load_files(accounts=data))


@SETTINGS
@given(st.binary(max_size=400), st.sampled_from(["x.xlsx", "x.parquet", "x.csv", "x.tsv"]))
def test_random_bytes_with_binary_names_never_raise(data, name):
    buf = io.BytesIO(b"PK\x03\x04" + data if name.endswith("xlsx") else b"PAR1" + data if name.endswith("parquet") else data)
    buf.name = name
    check(load_files(accounts=buf))


@SETTINGS
@given(
    st.lists(st.sampled_from(HEADERS), min_size=1, max_size=8),
    st.lists(st.lists(CELL, min_size=0, max_size=10), max_size=15),
    st.sampled_from([",", ";", "\t", "|"]),
)
def test_malformed_tables_never_raise(headers, rows, sep):
    lines = [sep.join(headers)] + [sep.join(r) for r in rows]
    data = "\n".join(lines).encode("utf-8", errors="replace")
    check(load_files(accounts=data))


@SETTINGS
@given(
    st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=10),
    st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=10),
)
def test_malformed_related_tables_never_raise(rep_rows, opp_rows):
    acc = "account_id,name,owner_id\nA1,a,R1\nA2,b,R2\nA2,c,R3\n"
    reps = pd.DataFrame(rep_rows, columns=["rep_id", "name", "capacity"]).to_csv(index=False)
    opps = pd.DataFrame(opp_rows, columns=["opportunity_id", "account_id", "amount"]).to_csv(index=False)
    check(load_files(accounts=acc.encode(), reps=reps.encode(), opportunities=opps.encode(),
                     account_products=b"account_id,product,arr\nA1,x,1\n"))
