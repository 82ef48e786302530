"""Lesson 04 (multiple testing, :mod:`hlt_replicate.lessons.ch04`): the exercises' expected
answers and targeted hints, widget callbacks and the claims the notebook makes.

Each widget callback returns a View with the expected parts (run small so the file stays
fast). The checks every lesson shares (each worked solution passes its self-check, wrong
answers get hints, solutions stay hidden) are in ``tests/test_teaching_notebooks.py``.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hlt_replicate import multiple_testing as mt
from hlt_replicate import vocab
from hlt_replicate.lessons import ch04 as L
from hlt_replicate.teaching import View, load_trial


@pytest.fixture(scope="module")
def data():
    return load_trial(0).data


@pytest.fixture(scope="module")
def decisions(data):
    return L.sap_all(data)


# -------------------------------------------------------------------------------------------
# exercises
# -------------------------------------------------------------------------------------------
def test_ex1_independent_fwer():
    k = len(vocab.SECONDARY_OUTCOMES)
    assert L.expected("ex1") == pytest.approx(1 - 0.95**k)
    assert "union bound" in L.check("ex1", 0.05 * k).message
    assert "complement" in L.check("ex1", 0.95**k).message


def test_ex2_toy_step_down_and_its_hints():
    ps, p = L.toy_resamples(), L.TOY_P
    # independent route: successive minima over B and C only
    q = np.minimum(ps["B"], ps["C"])
    share = float((q <= p["B"]).mean())
    a_share = float((ps.min(axis=1) <= p["A"]).mean())
    assert L.expected("ex2") == pytest.approx(max(share, a_share, p["B"]))
    single = float((ps.min(axis=1) <= p["B"]).mean())
    marginal = float((ps["B"] <= p["B"]).mean())
    # the three readings differ, so the hints can tell them apart; the explanation's numbers hold
    assert len({round(L.expected("ex2"), 9), round(single, 9), round(marginal, 9)}) == 3
    assert (L.expected("ex2"), single, marginal) == pytest.approx((0.15, 0.25, 0.10))
    assert "single-step" in L.check("ex2", single).message
    assert "unadjusted" in L.check("ex2", marginal).message


def test_ex3_and_ex4_follow_the_sap_results(decisions):
    gap = [d for d in decisions.values() if d.gap_exceeds]
    assert L.expected("ex3") == pytest.approx(min(d.wy["p_wy"].min() for d in gap))
    assert L.expected("ex3") > 0.05  # the rule does not trigger
    assert "below the 5-point threshold" in L.check("ex3", decisions["WMCA_OOW"].wy["p_wy"].min()).message
    p = decisions["WMCA_OOW"].wy.loc["bl_eq5d", "p_wy"]
    assert L.expected("ex4") == math.ceil(p * (1 - p) / 0.001**2)
    assert "0.05" in L.check("ex4", 47_500).message


# -------------------------------------------------------------------------------------------
# 1 · why adjust
# -------------------------------------------------------------------------------------------
def test_fwer_curve():
    v = L.fwer_curve(10)
    assert isinstance(v, View) and v.figure is not None
    assert v.table.loc[1, "unadjusted FWER"] == pytest.approx(0.05)
    assert (v.table["Bonferroni (α/k each)"] <= 0.05 + 1e-9).all()
    assert L.fwer_independent(9) == pytest.approx(1 - 0.95**9)


def test_simulation_null_and_effects():
    null = L.simulate_error_rates(trials=60, k=4, rho=0.3, reps=100, seed=1)
    assert list(null.index) == list(L.PROCEDURES)
    assert null["power"].isna().all()
    assert null.loc["unadjusted", "FWER"] >= null.loc["Holm", "FWER"] >= 0
    assert null.loc["Bonferroni", "FWER"] <= null.loc["Holm", "FWER"] + 1e-12  # Holm rejects whenever Bonferroni does
    eff = L.simulate_error_rates(trials=60, k=4, rho=0.3, n_effects=2, effect=0.8, reps=100, seed=1)
    assert (eff["power"] > 0).all()
    assert eff.loc["unadjusted", "power"] >= eff.loc["Westfall–Young", "power"] >= eff.loc["Bonferroni", "power"] - 0.05
    every = L.simulate_error_rates(trials=5, k=3, n_effects=3, effect=0.5, reps=50)
    assert every["FWER"].isna().all()
    with pytest.raises(ValueError):
        L.simulate_error_rates(k=3, n_effects=4)


def test_simulation_is_reproducible():
    a = L.simulate_error_rates(trials=20, k=3, reps=50, seed=3)
    b = L.simulate_error_rates(trials=20, k=3, reps=50, seed=3)
    pd.testing.assert_frame_equal(a, b)


def test_fwer_view_and_controls():
    v = L.fwer_view(k=3, rho=0.0, n_effects=1, effect=0.5, n=80, trials=20, reps=50)
    assert isinstance(v, View) and v.figure is not None and "1 with an effect" in v.title
    clipped = L.fwer_view(k=3, n_effects=9, trials=5, reps=50)  # n_effects above k is clipped
    assert clipped.table["FWER"].isna().all()
    controls = L.fwer_controls()
    assert set(controls) == {"k", "rho", "n_effects", "effect", "n"}
    assert not controls["k"].continuous_update


# -------------------------------------------------------------------------------------------
# 2 · secondary outcomes and stars
# -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def wy_small(data):
    return L.secondary_wy_all(data, reps=300, groups=("SCR_IW", "SCR"))


def test_secondary_wy_matches_impact_estimates(data, wy_small):
    from hlt_replicate.impact import estimate_itt

    resp = data[data[vocab.RESPONDED] == 1]
    for g in ("SCR_IW", "SCR"):
        for o in ("jsse", "work16"):
            r = estimate_itt(resp, o, g)
            assert wy_small[g].loc[o, "coef"] == pytest.approx(r.impact, rel=1e-9)
            assert wy_small[g].loc[o, "se"] == pytest.approx(r.se, rel=1e-9)
    assert list(wy_small["SCR_IW"].index) == list(vocab.SECONDARY_OUTCOMES)
    assert wy_small["SCR"].attrs["strata"] == [vocab.GROUP]  # pooled: permute within trial group


def test_secondary_view_and_table(wy_small):
    v = L.secondary_view(wy_small, "SCR_IW", "footnote_15")
    assert isinstance(v, View) and v.figure is not None
    t = v.table
    assert t.index.name == "SCR IW" and len(t) == len(vocab.SECONDARY_OUTCOMES)
    assert t["impact"].notna().all()
    # the printed stars come from the targets file
    assert t.loc[vocab.OUTCOMES["jsse"].label, "stars (printed)"] == "***"
    assert (t["p Westfall–Young"] >= t["p unadjusted"] - 1e-12).all()
    assert (t["p Bonferroni"] >= t["p Holm"] - 1e-12).all()
    with pytest.raises(ValueError):
        L.secondary_table(wy_small["SCR_IW"], "SCR_IW", "stars_everywhere")
    assert set(L.secondary_controls()) == {"group", "convention"}


def test_star_comparison(wy_small):
    comp = L.star_comparison(wy_small)
    assert len(comp) == 2 * len(vocab.SECONDARY_OUTCOMES)
    assert comp.loc[(comp.group == "SCR") & (comp.outcome == "lifesat"), "excluded"].item()  # t4-12-lifesat-row
    agree = L.star_agreement(comp)
    assert agree.shape == (2, 2) and (agree.to_numpy() <= (~comp.excluded).sum()).all()
    assert L.best_convention(comp) in ("section_4_3", "footnote_15")


# -------------------------------------------------------------------------------------------
# 3 · Table 4-5 and the SAP rule
# -------------------------------------------------------------------------------------------
def test_response_gaps(data):
    t = L.response_gaps(data)
    assert list(t.index) == [vocab.GROUP_LABELS[g] for g in vocab.GROUPS]
    assert (t["gap (ppt)"].round(1) - t["gap printed"]).abs().max() < 0.051
    assert list(t["gap > 5?"]) == [True, True, False]


def test_table_4_5_text_layout(decisions):
    text = L.format_table_4_5(decisions)
    lines = text.splitlines()
    assert len(lines) == 2 + len(vocab.TABLE_4_5_OUTCOMES)
    assert "SCR IW" in lines[0] and lines[1].count("P-val") == 3
    assert "-0.000" not in text


def test_table_4_5_vs_published(decisions):
    vs = L.table_4_5_vs_published(decisions)
    assert len(vs) == 5 * 3 * 3
    ok = vs[vs.inconsistency == ""]
    assert ok[ok.column != "P-val"].match.all()
    assert set(vs.loc[vs.row == "SWEMWBS", "inconsistency"]) == {"t4-5-swemwbs-duplicate"}
    side = L.table_4_5_side_by_side(vs)
    assert side.shape == (5, 9) and side.loc["SWEMWBS"].str.endswith("†").all()


@pytest.mark.parametrize("threshold, alpha", [(5, 0.05), (3, 0.3), (7, 0.5), (0, 0.95)])
def test_apply_sap_rule_agrees_with_sap_decision_rule(data, decisions, threshold, alpha):
    restated = L.apply_sap_rule(decisions, threshold, alpha)
    for g in vocab.GROUPS:
        d = mt.sap_decision_rule(data, g, threshold_ppt=threshold, alpha=alpha, reps=L.TABLE_4_5_REPS, seed=0) \
            if (threshold, alpha) != (5, 0.05) else decisions[g]
        assert restated.loc[vocab.GROUP_LABELS[g], "rule triggers"] == d.decision


def test_sap_rule_view(decisions):
    v = L.sap_rule_view(decisions, 5, 0.05)
    assert "triggers in 0 group" in v.title and v.figure is not None
    v2 = L.sap_rule_view(decisions, 3, 0.3)
    assert v2.table["rule triggers"].any()
    assert set(L.sap_controls()) == {"threshold_ppt", "alpha"}


# -------------------------------------------------------------------------------------------
# 4 · subgroups; 5 · Monte Carlo error
# -------------------------------------------------------------------------------------------
def test_subgroup_family(data):
    v = L.subgroup_family(data, "WMCA_OOW", outcomes=("eq5d", "jsse"))
    summary = v.tables["How big the family is"]["count"]
    assert summary["subgroup impacts tested"] == len(v.tables["Subgroup impacts (binary outcomes in ppt)"])
    assert summary["interaction tests"] == 2 * len(vocab.SUBGROUP_DIMENSIONS)
    assert summary["Holm-adjusted p < 0.05"] <= summary["raw p < 0.05"]


def test_interaction_family_on_sampled_trial():
    v = L.interaction_family(load_trial(0, "sampled").data, groups=("SCR_IW",), outcomes=("jsse",))
    counts = v.table["count"]
    assert counts["interaction tests"] == len(vocab.SUBGROUP_DIMENSIONS)
    assert counts["Holm-adjusted p < 0.05"] <= counts["raw p < 0.05"]


def test_mc_spread_is_binomial(data):
    v = L.mc_spread(data, "WMCA_OOW", reps_list=(100, 400), total=8_000)
    t = v.table
    assert list(t.index) == [100, 400] and list(t["runs"]) == [80, 20]
    # the spread of independent runs is the binomial Monte Carlo s.e. (loose: few runs)
    ratio = t["s.d. over runs"] / t["MC s.e. sqrt(p(1-p)/B)"]
    assert ((ratio > 0.5) & (ratio < 1.6)).all(), t
    with pytest.raises(ValueError):
        L.mc_spread(data, reps_list=(5_000,), total=8_000)
