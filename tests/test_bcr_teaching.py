"""Exercises of notebook 05: every worked solution passes its self-check; wrong answers get hints."""
from __future__ import annotations

import pytest

from hlt_replicate import bcr
from hlt_replicate import teaching_bcr as tb

EXERCISES = sorted(tb.EXERCISES)


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


def test_hand_arithmetic_of_expected_answers():
    assert tb.expected(1) == pytest.approx(250 * 10 * (1 + 50 / 150))   # £3,333
    assert tb.expected(2) == pytest.approx(875 * 1.12 / 4200)            # 23.3%
    assert tb.expected(3) == pytest.approx(400 / 4200)                   # 9.5%
    assert tb.expected(4) == 5


def test_targeted_hints():
    assert "per_completer" in tb.check(1, 3750).message
    assert "50 of every 150" in tb.check(1, 3325).message
    assert "share" in tb.check(2, 23.33).message
    assert "£400" in tb.check(3, 200 / 4200).message


def test_show_solution_is_hidden_html_and_code_matches():
    s = tb.show_solution(1)
    html = s._repr_html_()
    assert html.startswith("<details>") and "click to reveal" in html
    assert s.code == tb.EXERCISES[1].solution_code
    assert "Exercise 1" in repr(s)
    with pytest.raises(ValueError, match="exercise"):
        tb.show_solution(99)


def test_explanation_claims_hold():
    # exercise 4: with persistence 0.8 the discounted BCR never reaches 1
    r = bcr.hlt_bcr(0.04, 0.013, years=200, discounting=True, persistence=0.8)
    assert 0.98 < r.bcr_government < 1
    # exercise 1: BCR under Table 2's convention is 1.26
    assert bcr.format_printed(bcr.rand_result(4, dropout_convention="per_completer").bcr, 2) == "1.26"
