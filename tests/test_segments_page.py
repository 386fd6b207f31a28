"""AppTest of the Segment Builder page: rules editor, live summary, warnings, save; ICP panel."""
import pytest
from streamlit.testing.v1 import AppTest

from conftest import shown

from territory_core.analyse.scoring import ScoringConfig
from territory_core.analyse.segments import UNSEGMENTED, SegmentRules, default_rules

PAGE = "pages/segments.py"
EDITOR = "seg_rules_editor"


def open_page():
    at = AppTest.from_file("../app.py", default_timeout=60).run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception[0].value
    return at


def edit(at, edited=None, added=None, deleted=None):
    at.session_state[EDITOR] = {"edited_rows": edited or {}, "added_rows": added or [], "deleted_rows": deleted or []}
    at.run()
    assert not at.exception, at.exception[0].value


def frame(at, column):
    """The first table (dataframe or data editor) on the page with this column."""
    return next(d.value for d in at.dataframe if column in d.value.columns)


def summary(at):
    return frame(at, "current_reps").set_index("segment")


def texts(els):
    return " | ".join(shown(e.value) for e in els)  # messages quote rule names: escaped Markdown


def test_default_rules_render_clean():
    at = open_page()
    s = summary(at)
    assert list(s.index) == [r.name for r in default_rules()]
    assert s["accounts"].sum() == 6000
    assert not at.error and not at.warning
    assert "Every rule matches" in texts(at.success)
    assert at.button(key="seg_save").disabled  # nothing to save yet


def test_edit_rule_flags_and_saves():
    at = open_page()
    ent_before = summary(at).loc["Enterprise", "accounts"]
    # Enterprise needs 100k employees: no account matches any more
    edit(at, edited={1: {"min_employees": 100000}})
    assert "Rule 2 (Enterprise) matches no account" in texts(at.warning)
    s = summary(at)
    assert s.loc["Enterprise", "accounts"] == 0
    assert s.loc["Mid-Market", "accounts"] > 0 and s["accounts"].sum() == 6000
    assert ent_before > 0
    assert "Unsaved changes" in texts(at.info)
    at.button(key="seg_save").click().run()
    assert not at.exception
    saved = at.session_state["settings"]["segment_rules"]
    assert isinstance(saved, SegmentRules)
    assert saved.rules[1].min_employees == 100000
    assert "Saved 4 rules" in texts(at.success)
    # the editor starts from the saved rules (no double-applied edits)
    assert summary(at).loc["Enterprise", "accounts"] == 0


def test_delete_reorder_and_add():
    at = open_page()
    # delete the SMB catch-all: the small accounts are unsegmented and listed
    edit(at, deleted=[3])
    assert "unsegmented" in texts(at.warning)
    s = summary(at)
    assert s.loc[UNSEGMENTED, "accounts"] > 0
    assert len(frame(at, "account_id")) == min(500, s.loc[UNSEGMENTED, "accounts"])
    # reorder: the catch-all first shadows every later rule
    edit(at, edited={3: {"priority": 0}})
    w = texts(at.warning)
    assert "Rule 2 (Strategic) is shadowed" in w and "Rule 4 (Mid-Market) is shadowed" in w
    assert summary(at).loc["SMB", "accounts"] == 6000
    # add a rule that can never match: an error names it
    edit(at, added=[{"priority": 5, "name": "Broken", "min_employees": 500, "max_employees": 100}])
    assert "Rule 5 (Broken) can never match" in texts(at.error)
    # undo restores the saved rules
    at.button(key="seg_undo").click().run()
    assert not at.warning and not at.error


def test_icp_panel_applies_and_rejects_bad_settings():
    at = open_page()
    a_before = next(m.value for m in at.metric if m.label.startswith("Tier A"))
    at.number_input(key="icp_ta").set_value(75.0)
    submit = next(b for b in at.button if b.label == "Apply to scenario")
    submit.click().run()
    assert not at.exception
    cfg = at.session_state["settings"]["scoring"]
    assert isinstance(cfg, ScoringConfig) and cfg.tier_thresholds[0] == 75.0
    a_after = next(m.value for m in at.metric if m.label.startswith("Tier A"))
    assert int(a_after.replace(",", "")) < int(a_before.replace(",", ""))
    # B above A is refused with a message; nothing is applied
    at.number_input(key="icp_tb").set_value(90.0)
    next(b for b in at.button if b.label == "Apply to scenario").click().run()
    assert not at.exception
    assert "Tier thresholds" in texts(at.error)
    assert at.session_state["settings"]["scoring"].tier_thresholds == (75.0, 52.0, 40.0)


def test_account_breakdown_and_search():
    at = open_page()
    comp = frame(at, "component")
    assert set(comp["component"]) == {"fit", "propensity", "strategic"}
    score = float(next(m.value for m in at.metric if m.label.startswith("Potential score")))
    assert comp["points"].sum() == pytest.approx(score, abs=0.6)
    at.text_input(key="icp_search").set_value("zzzz-no-such-account").run()
    assert not at.exception
    assert "No account matches" in texts(at.warning)


def test_icp_product_models_and_reset():
    at = open_page()
    before = summary(at).loc[["Enterprise", "SMB"], "potential"]
    # a segment override for Enterprise doubles its Core Platform price
    at.session_state["icp_products"] = {"edited_rows": {}, "deleted_rows": [], "added_rows": [
        {"product": "Core Platform", "segment": "Enterprise", "price_per_seat": 1000.0, "adoption": 0.9}]}
    at.button(key="icp_apply").click().run()
    assert not at.exception, at.exception[0].value
    cfg = at.session_state["settings"]["scoring"]
    seg_models = [m for m in cfg.products if m.segment]
    assert len(seg_models) == 1 and seg_models[0].price_per_seat == 1000.0
    assert len(frame(at, "price_per_seat")) == len(cfg.products)  # no double-applied rows
    # the Enterprise segment's potential goes up on the rules tab summary; SMB's does not
    after = summary(at).loc[["Enterprise", "SMB"], "potential"]
    assert after["Enterprise"] > before["Enterprise"] * 1.3
    assert after["SMB"] == pytest.approx(before["SMB"])
    assert "Scoring settings applied" in texts(at.success)
    at.button(key="icp_reset").click().run()
    assert at.session_state["settings"]["scoring"] == ScoringConfig()
    assert at.number_input(key="icp_ta").value == ScoringConfig().tier_thresholds[0]


def test_sparse_data_shows_rule_warnings():
    from test_whitespace_page import tiny_dataset

    at = AppTest.from_file("../app.py", default_timeout=60)
    at.session_state["dataset"] = tiny_dataset(True)
    at.session_state["dataset_version"] = 2000
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception[0].value
    w = texts(at.warning)
    assert "Rule 1 (Strategic) matches no account" in w
    assert summary(at)["accounts"].sum() == 3


def test_region_rule_uses_the_data_sales_regions():
    at = open_page()
    edit(at, added=[{"priority": 0, "name": "Central MM", "regions": "Central", "min_employees": 100,
                     "coverage_model": "pooled", "accounts_per_rep": 120}])
    assert not at.error, texts(at.error)
    s = summary(at)
    assert s.loc["Central MM", "accounts"] > 0
    assert s["accounts"].sum() == 6000
    edit(at, added=[{"priority": 0, "name": "Nowhere", "regions": "Atlantis"}])
    assert "Rule 1 (Nowhere) can never match: region Atlantis is not one of" in texts(at.error)
