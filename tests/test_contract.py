import pandas as pd

from territory_core import contract
from territory_core.contract import A, R, TABLES
from territory_core.dataset import coerce_types, empty_frame


def test_every_column_is_named_once_per_table_and_namespaces_match():
    for t in TABLES.values():
        assert len(t.names) == len(set(t.names)), t.name
    assert A.account_id == "account_id" and R.capacity == "capacity"


def test_required_columns():
    assert contract.ACCOUNTS.required == ["account_id", "name"]
    assert contract.REPS.required == ["rep_id", "name"]
    assert set(contract.OPPORTUNITIES.required) == {"opportunity_id", "account_id"}


def test_coerce_types_adds_defaults_and_casts():
    df = coerce_types(pd.DataFrame({A.account_id: ["1"], A.name: ["Acme"], A.arr: ["12.5"], A.locked: ["yes"]}),
                      contract.ACCOUNTS)
    assert df[A.arr].iloc[0] == 12.5
    assert bool(df[A.locked].iloc[0]) is True
    assert df[A.open_pipeline].iloc[0] == 0.0  # default
    reps = coerce_types(pd.DataFrame({R.rep_id: ["r"], R.name: ["Ana"]}), contract.REPS)
    assert reps[R.capacity].iloc[0] == 1.0 and reps[R.ramp].iloc[0] == 1.0 and bool(reps[R.active].iloc[0])


def test_empty_frame_has_all_columns():
    assert list(empty_frame(contract.REPS).columns) == contract.REPS.names


def test_markdown_lists_every_table():
    md = contract.describe_markdown()
    for t in TABLES:
        assert f"### {t}" in md
