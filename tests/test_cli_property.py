"""Property test (issue 11 item 15, command-line half): on small random books, with zero, empty,
infinite and absurd capacities and metrics, locks on inactive reps, and random flags, `validate`
and `solve` exit only 0, 1 or 2, and never through the last-resort "unexpected" handler."""
import contextlib
import io

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from territory_core.__main__ import main

GOOD = st.sampled_from(["0", "1", "2.5", "", "NaN", "1,000", "120000", "0.5"])
CAPACITY = st.sampled_from(["0", "1", "1", "0.5", "", "NaN"])
BAD = st.sampled_from(["inf", "-inf", "1e308", "abc", "1e12"])
BOOL = st.sampled_from(["true", "false", "", "maybe"])
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@st.composite
def books(draw):
    messy = draw(st.integers(0, 3)) == 0  # a quarter of the books have non-finite or absurd cells
    num = st.one_of(GOOD, BAD) if messy else GOOD
    n_reps = draw(st.sampled_from([0, 1, 2, 3, 3, 4]))
    reps = pd.DataFrame({
        "rep_id": [f"R{i}" for i in range(n_reps)],
        "name": [f"Rep {i}" for i in range(n_reps)],
        "capacity": [draw(st.one_of(CAPACITY, BAD) if messy else CAPACITY) for _ in range(n_reps)],
        "active": [draw(st.sampled_from(["true", "true", "false", ""] + (["maybe"] if messy else [])))
                   for _ in range(n_reps)],
        "region": [draw(st.sampled_from(["East", "West", ""])) for _ in range(n_reps)],
    })
    n_acc = draw(st.integers(1, 8))
    owners = [f"R{i}" for i in range(max(n_reps, 1))] * 3 + ["", "Nobody" if messy else ""]
    acc = pd.DataFrame({
        "account_id": [f"A{i}" for i in range(n_acc)],
        "name": [f"Acct {i}" for i in range(n_acc)],
        "owner_id": [draw(st.sampled_from(owners)) for _ in range(n_acc)],
        "arr": [draw(num) for _ in range(n_acc)],
        "annual_revenue": [draw(num) for _ in range(n_acc)],
        "industry": [draw(st.sampled_from(["Tech", "Retail", ""])) for _ in range(n_acc)],
        "locked": [draw(BOOL) for _ in range(n_acc)],
    })
    return acc, reps


FLAGS = st.lists(st.sampled_from([
    ["--balance", "arr:0.1"], ["--balance", "arr:0"], ["--balance", "industry:0.1"], ["--balance", "nosuch:0.1"],
    ["--balance", "account_count:0.5", "annual_revenue:0.2"], ["--max-moves", "-5"], ["--max-moves", "0"],
    ["--mip-gap", "-1"], ["--mip-gap", "0.5"], ["--max-arr-moved", "-1"], ["--balance-within", "region"],
    ["--no-locks"], ["--objective", "balance"], ["--keep-families"], ["--max-moves-per-rep", "1"],
]), max_size=3)


def run_cli(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's own usage errors
            code = exc.code
    return code, err.getvalue()


INF_BOOK = (  # an infinite ARR reached the solver and ended in "unexpected PulpError" before
    pd.DataFrame({"account_id": ["A0", "A1", "A2"], "name": ["a", "b", "c"], "owner_id": ["R0", "R1", "R0"],
                  "arr": ["inf", "5", "1"], "annual_revenue": ["10", "10", "10"], "industry": ["Tech"] * 3,
                  "locked": ["", "", ""]}),
    pd.DataFrame({"rep_id": ["R0", "R1"], "name": ["x", "y"], "capacity": ["1", "1"], "active": ["true", "true"],
                  "region": ["East", "East"]}),
)


@SETTINGS
@given(books(), FLAGS)
@example(INF_BOOK, [["--balance", "arr:0.1"]])
@example(INF_BOOK, [["--max-moves", "-5"]])
def test_validate_and_solve_exit_only_0_1_or_2(tmp_path, book, flags):
    acc, reps = book
    a, r = tmp_path / "accounts.csv", tmp_path / "reps.csv"
    acc.to_csv(a, index=False)
    reps.to_csv(r, index=False)
    code, err = run_cli(["validate", str(a), "--reps", str(r)])
    assert code in (0, 1), err
    assert "unexpected" not in err.lower(), err
    code, err = run_cli(["solve", "--accounts", str(a), "--reps", str(r), "--time-limit", "5", "--quiet"]
                        + [x for f in flags for x in f])
    assert code in (0, 1, 2), err
    assert "unexpected" not in err.lower(), err  # capacity 0 with a locked account is explained too
