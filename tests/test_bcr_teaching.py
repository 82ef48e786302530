"""Exercises of notebook 05: every worked solution passes its self-check; wrong answers get hints.
The HLT application uses the kit's own impact estimates (4-month survey, 12-month admin.)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from hlt_replicate import bcr, vocab
from hlt_replicate import teaching_bcr as tb
from hlt_replicate.impact import estimate_itt
from hlt_replicate.teaching import load_trial, published

EXERCISES = sorted(tb.EXERCISES)
NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "05_benefit_cost_ratios.ipynb"


@pytest.fixture(scope="module")
def data():
    return load_trial(0).data


@pytest.fixture(scope="module")
def impacts(data):
    return tb.kit_employment_impacts(data)


def test_there_are_two_to_four_exercises():
    assert 2 <= len(EXERCISES) <= 4


@pytest.mark.parametrize("n", EXERCISES)
def test_worked_solution_passes_self_check(n):
    ans = tb.solution(n)
    res = tb.check(n, ans)
    assert res.correct, res.message
    assert bool(res) and "correct" in repr(res)


@pytest.mark.parametrize("n", EXERCISES)
def test_wrong_answers_fail_with_a_hint(n):
    x = tb.expected(n)
    for wrong in (x * 1.5 + 1, -1, "not a number", float("nan")):
        res = tb.check(n, wrong)
        assert not res.correct
        assert "✗" in res.message
    assert "Hint" in tb.check(n, x * 1.5 + 1).message


def _break_even_years(impact: float, cost: float, value: float, rate: float = 0.035) -> int:
    total, t = 0.0, 0
    while total * impact * value / cost < 1:
        total += (1 + rate) ** -t
        t += 1
    return t


def test_hand_arithmetic_of_expected_answers(impacts):
    assert tb.expected(1) == pytest.approx(250 * 10 * (1 + 50 / 150))   # £3,333
    assert tb.expected(2) == pytest.approx(875 * 1.12 / 4200)            # 23.3%
    assert tb.expected(3) == pytest.approx(400 / 4200)                   # 9.5%
    # exercise 4 uses the kit's WMCA 12-month estimate, £750 per participant and B + D = £4,200
    assert tb.expected(4) == _break_even_years(impacts.loc["WMCA_OOW", "impact_12m"], 750, 3900 + 300)


def test_targeted_hints():
    assert "per_completer" in tb.check(1, 3750).message
    assert "50 of every 150" in tb.check(1, 3325).message
    assert "share" in tb.check(2, 23.33).message
    assert "£400" in tb.check(3, 200 / 4200).message
    assert "One year short" in tb.check(4, tb.expected(4) - 1).message


def test_show_solution_is_hidden_html_and_code_matches():
    s = tb.show_solution(1)
    html = s._repr_html_()
    assert html.startswith("<details>") and "click to reveal" in html
    assert s.code == tb.EXERCISES[1].solution_code
    assert "Exercise 1" in repr(s)
    with pytest.raises(ValueError, match="exercise"):
        tb.show_solution(99)


def test_explanation_claims_hold(impacts):
    # exercise 1: BCR under Table 2's convention is 1.26
    assert bcr.format_printed(bcr.rand_result(4, dropout_convention="per_completer").bcr, 2) == "1.26"
    # exercise 4: the explanation is computed from the kit's estimate and states its numbers
    text = tb.show_solution(4).explanation
    imp, se = impacts.loc["WMCA_OOW", ["impact_12m", "se_12m"]]
    assert f"{imp:.3f}" in text and f"year {tb.expected(4)}" in text
    lim = bcr.hlt_bcr(imp, se, 750, years=500, discounting=True, persistence=0.8).bcr_government
    assert f"{lim:.2f}" in text
    assert ("never pays back" in text) == (lim < 1)


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
    again = tb.kit_employment_impacts(data.drop(columns=vocab.WEIGHT), groups=("SCR_IW",))
    assert again.loc["SCR_IW", "impact_4m"] == pytest.approx(impacts.loc["SCR_IW", "impact_4m"])


def test_bcr_impacts_feed_hlt_bcr_table(impacts):
    m = tb.bcr_impacts(impacts)
    assert len(m) == 2 * len(vocab.GROUPS)
    label = f"WMCA OOW, {tb.HORIZON_LABELS['12m']}"
    assert m[label] == pytest.approx((impacts.loc["WMCA_OOW", "impact_12m"], impacts.loc["WMCA_OOW", "se_12m"]))
    tab = bcr.hlt_bcr_table(m, cost_per_participant=tb.ips_cost_per_participant())
    row = tab.set_index("label").loc[label]
    # the impact's SE carries into the BCR's interval: half-width = 1.96 x se x (B + D) / cost
    assert row["ci_high"] - row["bcr_government"] == pytest.approx(1.959964 * row["se"] * 4200 / 750, rel=1e-5)
    assert tb.ips_cost_per_participant() == 750
    with pytest.raises(ValueError):
        tb.bcr_impacts(impacts, horizons=("24m",))


def test_notebook_uses_the_kits_estimates():
    nb = json.loads(NOTEBOOK.read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert "kit_employment_impacts" in code and "bcr_impacts(impacts)" in code
    assert "illustrative" not in code.lower()
    assert "0.013" not in code  # the old illustrative standard error
