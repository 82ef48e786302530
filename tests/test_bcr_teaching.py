"""Lesson 05 (benefit-cost ratios, :mod:`hlt_replicate.lessons.ch05`): the exercises' expected
answers by hand arithmetic and their targeted hints, the business-case widget callback, and
the HLT application's use of the kit's own impact estimates (4-month survey, 12-month admin.).

The checks every lesson shares (each worked solution passes its self-check, wrong answers get
hints, solutions stay hidden) are in ``tests/test_teaching_notebooks.py``."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hlt_replicate import bcr, vocab
from hlt_replicate.impact import estimate_itt
from hlt_replicate.lessons import ch05
from hlt_replicate.teaching import View, load_trial, published

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_benefit_cost_ratios.ipynb"


@pytest.fixture(scope="module")
def data():
    return load_trial(0).data


@pytest.fixture(scope="module")
def impacts(data):
    return ch05.kit_employment_impacts(data)


def _break_even_years(impact: float, cost: float, value: float, rate: float = 0.035) -> int:
    total, t = 0.0, 0
    while total * impact * value / cost < 1:
        total += (1 + rate) ** -t
        t += 1
    return t


def test_hand_arithmetic_of_expected_answers(impacts):
    assert ch05.expected("ex1") == pytest.approx(250 * 10 * (1 + 50 / 150))   # £3,333
    assert ch05.expected("ex2") == pytest.approx(875 * 1.12 / 4200)            # 23.3%
    assert ch05.expected("ex3") == pytest.approx(400 / 4200)                   # 9.5%
    # exercise 4 uses the kit's WMCA 12-month estimate, £750 per participant and B + D = £4,200
    assert ch05.expected("ex4") == _break_even_years(impacts.loc["WMCA_OOW", "impact_12m"], 750, 3900 + 300)


def test_targeted_hints():
    assert "per_completer" in ch05.check("ex1", 3750).message
    assert "50 of every 150" in ch05.check("ex1", 3325).message
    assert "share" in ch05.check("ex2", 23.33).message
    assert "£400" in ch05.check("ex3", 200 / 4200).message
    assert "One year short" in ch05.check("ex4", ch05.expected("ex4") - 1).message
    assert "smallest" in ch05.check("ex4", ch05.expected("ex4") + 3).message
    assert not ch05.check("ex4", ch05.expected("ex4") + 0.5).correct  # a whole number of years


def test_show_solution_names_the_exercise():
    s = ch05.show_solution("ex1")
    assert "Exercise ex1" in repr(s) and "Worked solution, ex1" in s._repr_html_()
    with pytest.raises(ValueError, match="exercise"):
        ch05.show_solution("ex99")


def test_explanation_claims_hold(impacts):
    # exercise 1: BCR under Table 2's convention is 1.26
    assert bcr.format_printed(bcr.rand_result(4, dropout_convention="per_completer").bcr, 2) == "1.26"
    # exercise 4: the explanation is computed from the kit's estimate and states its numbers
    text = ch05.show_solution("ex4").explanation
    imp, se = impacts.loc["WMCA_OOW", ["impact_12m", "se_12m"]]
    assert f"{imp:.3f}" in text and f"year {ch05.expected('ex4')}" in text
    lim = bcr.hlt_bcr(imp, se, 750, years=500, discounting=True, persistence=0.8).bcr_government
    assert f"{lim:.2f}" in text
    assert ("never pays back" in text) == (lim < 1)


# -------------------------------------------------------------------------------------------
# the business-case widget
# -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("option", bcr.OPTIONS)
def test_business_case_view_shows_the_bcr_dashboard(option):
    controls = bcr.widget_controls(option)
    values = {k: w.value for k, w in controls.items()}
    v = ch05.business_case_view(option, **values)
    d = bcr.dashboard(option, **values)
    assert isinstance(v, View) and v.figure is not None and f"Option {option}" in v.title
    assert v.table["value"].to_dict() == dict(zip(d.table["quantity"], d.table["value"]))
    bad = ch05.business_case_view(option, **{**values, "dropout_rate": 1.5})  # an error row, not an exception
    assert list(bad.table.index) == ["error"]


# -------------------------------------------------------------------------------------------
# the kit's own impacts for the HLT application
# -------------------------------------------------------------------------------------------
def test_kit_impacts_are_the_kit_estimator(data, impacts):
    assert list(impacts.index) == list(vocab.GROUPS)
    resp = data[data[vocab.RESPONDED] == 1]
    for g in vocab.GROUPS:
        r4 = estimate_itt(resp, "paid_work", g)
        r12 = estimate_itt(data, "sustained_emp_12m", g, weights=None, baseline=False)
        assert impacts.loc[g, "impact_4m"] == pytest.approx(r4.impact)
        assert impacts.loc[g, "se_4m"] == pytest.approx(r4.se)
        assert impacts.loc[g, "impact_12m"] == pytest.approx(r12.impact)
        assert impacts.loc[g, "se_12m"] == pytest.approx(r12.se)
        assert impacts.loc[g, "base_12m"] == (data[vocab.GROUP] == g).sum()  # every recruit


def test_kit_impacts_beside_published_12_month(impacts):
    adm = published(section="admin_12m", statistic="impact").set_index("group")
    for g in vocab.GROUPS:
        assert impacts.loc[g, "impact_12m_published"] == adm.loc[g, "value"]
        assert impacts.loc[g, "kind_12m_published"] == adm.loc[g, "kind"]
        # the exact trial is calibrated to the published 12-month impacts (printed to 2 decimals)
        assert abs(impacts.loc[g, "impact_12m"] - adm.loc[g, "value"]) <= 0.005 + 1e-9
    assert impacts.loc["WMCA_OOW", "stars_12m"] == impacts.loc["WMCA_OOW", "stars_12m_published"]


def test_kit_impacts_computes_weights_when_missing(data, impacts):
    again = ch05.kit_employment_impacts(data.drop(columns=vocab.WEIGHT), groups=("SCR_IW",))
    assert again.loc["SCR_IW", "impact_4m"] == pytest.approx(impacts.loc["SCR_IW", "impact_4m"])


def test_bcr_impacts_feed_hlt_bcr_table(impacts):
    m = ch05.bcr_impacts(impacts)
    assert len(m) == 2 * len(vocab.GROUPS)
    label = f"WMCA OOW, {ch05.HORIZON_LABELS['12m']}"
    assert m[label] == pytest.approx((impacts.loc["WMCA_OOW", "impact_12m"], impacts.loc["WMCA_OOW", "se_12m"]))
    tab = bcr.hlt_bcr_table(m, cost_per_participant=ch05.ips_cost_per_participant())
    row = tab.set_index("label").loc[label]
    # the impact's SE carries into the BCR's interval: half-width = 1.96 x se x (B + D) / cost
    assert row["ci_high"] - row["bcr_government"] == pytest.approx(1.959964 * row["se"] * 4200 / 750, rel=1e-5)
    assert ch05.ips_cost_per_participant() == 750
    with pytest.raises(ValueError):
        ch05.bcr_impacts(impacts, horizons=("24m",))


def test_notebook_uses_the_kits_estimates():
    nb = json.loads(NOTEBOOK.read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "kit_employment_impacts" in code and "bcr_impacts(impacts)" in code
    assert "illustrative" not in code.lower()
    assert "0.013" not in code  # the old illustrative standard error
