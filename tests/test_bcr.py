"""The benefit-cost model: validation, undefined values, rounding, conventions, appraisal, HLT."""
from __future__ import annotations

import math

import numpy as np
import pytest

from hlt_replicate import bcr
from hlt_replicate.bcr.model import BCRInputs, Undefined, appraisal_factor, evaluate, format_printed, round_half_up


def base(**kw) -> BCRInputs:
    d = dict(cost_per_participant=875.0, net_employment_effect=0.25, saving_exchequer=3900.0, saving_health=300.0,
             dropout_rate=0.12, dropout_convention="per_completer")
    d.update(kw)
    return BCRInputs(**d)


# ---------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    ({"cost_per_participant": -1.0}, r"cost_per_participant must be in \(0, inf\) \(got -1\)"),
    ({"cost_per_participant": 0.0}, r"cost_per_participant must be > 0 \(got 0\).*undefined"),
    ({"net_employment_effect": 0.0}, r"net_employment_effect must be in \(0, 1\]"),
    ({"net_employment_effect": 1.2}, r"net_employment_effect must be in \(0, 1\]"),
    ({"net_employment_effect": -0.1}, r"net_employment_effect must be in \(0, 1\]"),
    ({"dropout_rate": 1.0}, r"dropout_rate must be in \[0, 1\) \(got 1\)"),
    ({"dropout_rate": 1.5}, r"dropout_rate must be in \[0, 1\)"),
    ({"dropout_rate": -0.1}, r"dropout_rate must be in \[0, 1\)"),
    ({"share_jsa": 0.8, "share_ssp": 0.3}, r"share_jsa \+ share_ssp must be <= 1"),
    ({"saving_exchequer": -5.0}, r"saving_exchequer must be in \[0, inf\)"),
    ({"sustained_share": 1.5}, r"sustained_share must be in \[0, 1\]"),
    ({"years": 0}, r"years must be an integer >= 1"),
    ({"years": 2.5}, r"years must be an integer >= 1"),
    ({"discount_rate": -0.01}, r"discount_rate must be in \[0, 1\)"),
    ({"persistence": 1.1}, r"persistence must be in \[0, 1\]"),
    ({"dropout_convention": "share"}, r"dropout_convention must be one of"),
    ({"cost_per_participant": float("nan")}, r"cost_per_participant must be a finite number"),
])
def test_invalid_inputs_raise_clear_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        base(**kw)


def test_replace_revalidates():
    with pytest.raises(ValueError, match="dropout_rate"):
        base().replace(dropout_rate=1.0)


def test_evaluate_many_validates_arrays():
    with pytest.raises(ValueError, match="net_employment_effect"):
        bcr.evaluate_many(base(), net_employment_effect=np.array([0.1, 0.0]))
    with pytest.raises(ValueError, match="cannot vary"):
        bcr.evaluate_many(base(), label=np.array([1.0]))


# ---------------------------------------------------------------------------------------
# undefined values
# ---------------------------------------------------------------------------------------
def test_no_effect_gives_undefined_not_nan():
    r = evaluate(base(net_employment_effect=None))
    for v in (r.bcr, r.bcr_government, r.cost_per_outcome, r.participants_per_outcome, r.value("net_benefit")):
        assert isinstance(v, Undefined)
        assert not (isinstance(v, float) and (math.isnan(v) or math.isinf(v)))
    assert format_printed(r.bcr) == "?"
    s = r.summary()
    assert s.loc[s.quantity == "bcr", "value"].iloc[0] == r.bcr
    assert not bool(r.bcr)
    assert f"{r.bcr:.2f}".startswith("undefined")


def test_per_specialist_needs_scale():
    v = evaluate(base()).value("cost", "per_specialist")
    assert isinstance(v, Undefined)
    with pytest.raises(ValueError, match="basis"):
        evaluate(base()).value("cost", "per_year")
    with pytest.raises(ValueError, match="unknown quantity"):
        evaluate(base()).value("profit")


# ---------------------------------------------------------------------------------------
# arithmetic
# ---------------------------------------------------------------------------------------
def test_conventions_formulae():
    d, e = 0.2, 0.25
    a = evaluate(base(dropout_rate=d, dropout_convention="per_starter"))
    b = evaluate(base(dropout_rate=d, dropout_convention="per_completer"))
    assert a.participants_per_outcome == pytest.approx(1 / e / (1 - d))
    assert b.participants_per_outcome == pytest.approx(1 / e * (1 + d))
    # conventions agree at d = 0 and the per_starter one always needs more participants
    z = [evaluate(base(dropout_rate=0, dropout_convention=c)).bcr for c in bcr.DROPOUT_CONVENTIONS]
    assert z[0] == pytest.approx(z[1])
    assert a.bcr < b.bcr


def test_bcr_scale_invariance_and_identities():
    r = bcr.rand_result(1)
    # the BCR is the same per specialist, per participant and per outcome
    for basis in ("per_specialist", "per_participant", "per_outcome"):
        assert r.value("saving_total", basis) / r.value("cost", basis) == pytest.approx(r.bcr)
        assert r.value("saving_government", basis) / r.value("cost", basis) == pytest.approx(r.bcr_government)
        assert r.value("net_benefit", basis) == pytest.approx(r.value("saving_total", basis) - r.value("cost", basis))
    assert r.value("saving_total") == pytest.approx(
        r.value("saving_exchequer") + r.value("saving_ssp") + r.value("saving_health"))
    assert r.value("outcomes_jsa", "per_specialist") + r.value("outcomes_ssp", "per_specialist") == pytest.approx(35)


def test_bcr_linear_in_effect_and_inverse_in_cost():
    r = evaluate(base())
    assert evaluate(base(net_employment_effect=0.5)).bcr == pytest.approx(2 * r.bcr)
    assert evaluate(base(cost_per_participant=1750)).bcr == pytest.approx(r.bcr / 2)


def test_sustained_share_scales_b_and_d_only():
    r1 = bcr.rand_result(1, sustained_share=1.0)
    assert r1.value("saving_exchequer") == pytest.approx(0.7 * 7800)
    assert r1.value("saving_health") == pytest.approx(600)
    assert r1.value("saving_ssp") == pytest.approx(0.3 * 1225)


def test_round_half_up():
    assert round_half_up(12862.5) == 12863
    assert round_half_up(43912.5 - 1e-11) == 43913  # float noise counts as a half
    assert round_half_up(43912.4999) == 43912
    assert round_half_up(1.0714, 2) == 1.07
    assert round_half_up(1.125, 2) == 1.13
    assert round_half_up(-2.5) == -3
    assert format_printed(118912.5) == "118,913"
    assert format_printed(4.48, 2) == "4.48"


# ---------------------------------------------------------------------------------------
# Green Book appraisal
# ---------------------------------------------------------------------------------------
def test_appraisal_factor():
    assert appraisal_factor() == 1.0
    assert appraisal_factor(3) == pytest.approx(3)
    assert appraisal_factor(3, 0.035) == pytest.approx(1 + 1 / 1.035 + 1 / 1.035**2)
    assert appraisal_factor(3, 0.035, discount_first_year=True) == pytest.approx(1 / 1.035 + 1 / 1.035**2 + 1 / 1.035**3)
    assert appraisal_factor(4, 0.0, 0.5) == pytest.approx(1 + 0.5 + 0.25 + 0.125)
    v = appraisal_factor(np.array([1, 2, 3]), 0.0, 1.0)
    assert np.allclose(v, [1, 2, 3])


def test_defaults_reproduce_rand_and_discounting_switch():
    i = bcr.rand_inputs(2)
    assert i.years == 1 and not i.discounting and i.discount_rate == bcr.GREEN_BOOK_DISCOUNT_RATE == 0.035
    assert evaluate(i).appraisal_factor == 1.0
    # switching discounting on with one year changes nothing (year 0 undiscounted) ...
    assert evaluate(i.replace(discounting=True)).bcr == pytest.approx(evaluate(i).bcr)
    # ... unless the first year is discounted
    assert evaluate(i.replace(discounting=True, discount_first_year=True)).bcr == pytest.approx(evaluate(i).bcr / 1.035)
    r5 = evaluate(i.replace(years=5, discounting=True, persistence=0.8))
    assert r5.bcr == pytest.approx(evaluate(i).bcr * sum(0.8**t / 1.035**t for t in range(5)))


# ---------------------------------------------------------------------------------------
# HLT application
# ---------------------------------------------------------------------------------------
def test_hlt_defaults_come_from_rand_data():
    import inspect

    sig = inspect.signature(bcr.hlt_bcr)
    assert sig.parameters["cost_per_participant"].default == bcr.rand_input_value("summary", "ips_cost_per_participant")
    assert sig.parameters["saving_exchequer"].default == bcr.rand_input_value(1, "saving_exchequer")
    assert sig.parameters["saving_health"].default == bcr.rand_input_value(1, "saving_health")
    assert sig.parameters["saving_ssp"].default == bcr.rand_input_value(1, "saving_ssp")
    assert sig.parameters["sustained_share"].default == bcr.rand_input_value(1, "sustained_share")


def test_hlt_bcr_point_and_delta_interval():
    r = bcr.hlt_bcr(0.04, 0.013)
    assert r.bcr_government == pytest.approx(0.04 * 4200 / 750)
    assert r.se_bcr_government == pytest.approx(0.013 * 4200 / 750)
    z = 1.959963984540054
    assert r.ci_bcr_government_delta[0] == pytest.approx(r.bcr_government - z * r.se_bcr_government)
    assert r.ci_bcr_government_delta[1] == pytest.approx(r.bcr_government + z * r.se_bcr_government)
    # the simulation agrees with the (exact) delta interval when the cost is fixed
    assert r.ci_bcr_government_sim[0] == pytest.approx(r.ci_bcr_government_delta[0], abs=0.01)
    assert r.ci_bcr_government_sim[1] == pytest.approx(r.ci_bcr_government_delta[1], abs=0.01)
    assert r.break_even_impact == pytest.approx(750 / 4200)
    assert r.break_even_cost == pytest.approx(0.04 * 4200)
    assert r.cost_per_outcome == pytest.approx(750 / 0.04)
    lo, hi = r.ci_cost_per_outcome
    assert lo == pytest.approx(750 / (0.04 + z * 0.013)) and hi == pytest.approx(750 / (0.04 - z * 0.013))
    assert r.summary().shape[0] == 11


def test_hlt_bcr_equals_model_with_impact_as_outcomes_per_participant():
    r = bcr.hlt_bcr(0.1, 0.02, cost_per_participant=500, years=3, discounting=True, persistence=0.9)
    m = evaluate(bcr.BCRInputs(cost_per_participant=500, net_employment_effect=0.1, saving_exchequer=3900,
                               saving_health=300, years=3, discounting=True, persistence=0.9))
    assert r.bcr_government == pytest.approx(m.bcr_government)


def test_hlt_probability_above_one():
    r = bcr.hlt_bcr(750 / 4200, 0.02)  # impact exactly at break-even
    assert r.p_bcr_government_above_1 == pytest.approx(0.5)
    assert r.p_bcr_government_above_1_sim == pytest.approx(0.5, abs=0.02)


def test_hlt_nonpositive_impact_and_wide_interval():
    r = bcr.hlt_bcr(-0.01, 0.01)
    assert r.bcr_government < 0  # a BCR below zero is defined: the scheme loses money
    assert isinstance(r.cost_per_outcome, Undefined)
    assert isinstance(r.break_even_cost, Undefined)
    r2 = bcr.hlt_bcr(0.01, 0.01)
    assert isinstance(r2.ci_cost_per_outcome, Undefined)
    s = r2.summary()
    assert isinstance(s.loc[s.quantity == "cost_per_outcome", "low"].iloc[0], Undefined)


def test_hlt_cost_uncertainty_widens_interval():
    a = bcr.hlt_bcr(0.04, 0.013)
    b = bcr.hlt_bcr(0.04, 0.013, cost_range=(500, 1000))
    assert (b.ci_bcr_government_sim[1] - b.ci_bcr_government_sim[0]) > (a.ci_bcr_government_sim[1] - a.ci_bcr_government_sim[0])
    assert bcr.hlt_bcr(0.04, 0.013, seed=1).ci_bcr_government_sim == bcr.hlt_bcr(0.04, 0.013, seed=1).ci_bcr_government_sim


@pytest.mark.parametrize("args, kw, match", [
    ((0.04, 0.01), {"cost_per_participant": 0}, "cost_per_participant must be > 0"),
    ((0.04, 0.01), {"cost_per_participant": -10}, "cost_per_participant must be > 0"),
    ((4.0, 0.01), {}, r"impact must be a share in \[-1, 1\]"),
    ((0.04, -0.01), {}, "se must be >= 0"),
    ((0.04, 0.01), {"level": 1.0}, "level"),
    ((0.04, 0.01), {"share_jsa": 0.8, "share_ssp": 0.5}, "share_jsa"),
    ((0.04, 0.01), {"cost_range": (0, 100)}, "cost_range"),
])
def test_hlt_validation(args, kw, match):
    with pytest.raises(ValueError, match=match):
        bcr.hlt_bcr(*args, **kw)


def test_hlt_bcr_table():
    t = bcr.hlt_bcr_table({"a": (0.04, 0.013), "b": (0.02, 0.01)})
    assert list(t.label) == ["a", "b"]
    assert t.bcr_government.tolist() == pytest.approx([0.04 * 5.6, 0.02 * 5.6])
    t2 = bcr.hlt_bcr_table([("a", 0.04, 0.013)], cost_per_participant=1000)
    assert t2.bcr_government.iloc[0] == pytest.approx(0.04 * 4.2)
