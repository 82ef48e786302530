"""hlt_replicate.multiple_testing: Westfall–Young resampling, closed-form corrections, the SAP
decision rule. The vectorised engine is checked against a brute-force statsmodels loop on the
same resamples; raw p-values against estimate_itt; closed forms against statsmodels and R."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from _fake_trial import make_fake_trial
from hlt_replicate import vocab
from hlt_replicate import multiple_testing as mt
from hlt_replicate._checks import InputError
from hlt_replicate.impact import estimate_itt
from hlt_replicate.weighting import ipw_weights

COV_TYPES = ("HC0", "HC1", "HC2", "HC3")


# --------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------
def _small(n=160, seed=1, missing=True):
    """Generic data: 3 outcomes (one with an effect, one with 15 % missing), a numeric and a
    categorical control, weights, a stratum."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "treat": rng.permutation(np.arange(n) % 2),
            "x": rng.normal(size=n),
            "cat": rng.choice(["a", "b", "c"], n),
            "w": rng.uniform(0.5, 2.0, n),
            "block": rng.choice(["s1", "s2", "s3"], n),
        }
    )
    het = 1 + 0.8 * (df["x"] > 0)  # heteroskedastic errors
    for k in range(3):
        df[f"y{k}"] = 0.4 * df["x"] + het * rng.normal(size=n) + (0.45 * df["treat"] if k == 0 else 0)
    if missing:
        df.loc[rng.choice(n, n * 15 // 100, replace=False), "y1"] = np.nan
        df.loc[rng.choice(n, 5, replace=False), "y2"] = np.nan
    return df


@pytest.fixture(scope="module")
def small():
    return _small()


@pytest.fixture(scope="module")
def trial():
    df = make_fake_trial(1500, seed=11)
    df[vocab.WEIGHT] = ipw_weights(df)
    return df


def _independent_X(rows: pd.DataFrame, treat_values, controls_num, controls_cat):
    """Design built with pandas.get_dummies, not the kit (base levels may differ: the
    treatment coefficient does not depend on them)."""
    parts = [
        pd.Series(1.0, index=rows.index, name="const"),
        pd.Series(np.asarray(treat_values, float), index=rows.index, name="treat"),
        rows[list(controls_num)].astype(float),
        pd.get_dummies(rows[list(controls_cat)], drop_first=True, dtype=float),
    ]
    return pd.concat(parts, axis=1).to_numpy()


def _brute_p_star(df, outcomes, perm_matrix, cov_type, controls_num=("x",), controls_cat=("cat",)):
    """One statsmodels WLS(...).fit(cov_type=...) per outcome per resample (permuted treatment)."""
    t = df["treat"].to_numpy(float)
    out = np.empty((len(perm_matrix), len(outcomes)))
    for b, perm in enumerate(perm_matrix):
        tp = t[perm]
        for j, o in enumerate(outcomes):
            keep = df[o].notna().to_numpy()
            rows = df[keep]
            X = _independent_X(rows, tp[keep], controls_num, controls_cat)
            fit = sm.WLS(rows[o].to_numpy(), X, weights=rows["w"].to_numpy()).fit(cov_type=cov_type, use_t=True)
            out[b, j] = fit.pvalues[1]
    return out


# --------------------------------------------------------------------------------------
# the vectorised engine equals a brute-force loop
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_permutation_engine_equals_statsmodels_loop(small, cov_type):
    outcomes = ["y0", "y1", "y2"]
    rng = np.random.default_rng(7)
    perms = np.array([rng.permutation(len(small)) for _ in range(25)])
    det = mt.westfall_young_details(small, outcomes, "treat", ["x", "cat"], "w", permutations=perms, cov_type=cov_type)
    brute = _brute_p_star(small, outcomes, perms, cov_type)
    np.testing.assert_allclose(det.p_star, brute, rtol=1e-10, atol=1e-14)
    # the adjustment applied to the brute-force draws gives the same adjusted p-values
    np.testing.assert_array_equal(det.table["p_wy"].to_numpy(), mt.wy_adjust(det.table["p"], brute))
    # and the observed p-values are statsmodels' too
    for j, o in enumerate(outcomes):
        rows = small[small[o].notna()]
        X = _independent_X(rows, rows["treat"], ["x"], ["cat"])
        fit = sm.WLS(rows[o].to_numpy(), X, weights=rows["w"].to_numpy()).fit(cov_type=cov_type, use_t=True)
        assert det.table.loc[o, "coef"] == pytest.approx(fit.params[1], rel=1e-12)
        assert det.table.loc[o, "se"] == pytest.approx(fit.bse[1], rel=1e-10)
        assert det.table.loc[o, "p"] == pytest.approx(fit.pvalues[1], rel=1e-10)


def test_permutations_as_treatment_vectors_equal_indices(small):
    rng = np.random.default_rng(3)
    perms = np.array([rng.permutation(len(small)) for _ in range(10)])
    vectors = small["treat"].to_numpy()[perms]
    a = mt.westfall_young_details(small, ["y0", "y1"], "treat", ["x"], "w", permutations=perms)
    b = mt.westfall_young_details(small, ["y0", "y1"], "treat", ["x"], "w", permutations=vectors)
    np.testing.assert_array_equal(a.p_star, b.p_star)


def test_identity_permutation_reproduces_observed(small):
    ident = np.arange(len(small))[None, :]
    det = mt.westfall_young_details(small, ["y0", "y1", "y2"], "treat", ["x", "cat"], "w", permutations=ident)
    np.testing.assert_allclose(det.coef_star[0], det.table["coef"], rtol=1e-12)
    np.testing.assert_allclose(det.p_star[0], det.table["p"], rtol=1e-10)
    # a resample equal to the observed assignment counts as "at or below" despite rounding
    assert (det.table["p_resampled"] == 1.0).all()


@pytest.mark.parametrize("cov_type", ["HC1", "HC3"])
def test_bootstrap_engine_equals_statsmodels_on_duplicated_rows(small, cov_type):
    """The null-imposed bootstrap: t* = (b* - b_hat) / se*, each replicate a WLS on the drawn rows."""
    outcomes = ["y0", "y1", "y2"]
    rng = np.random.default_rng(5)
    idx = rng.integers(0, len(small), size=(15, len(small)))
    det = mt.westfall_young_details(
        small, outcomes, "treat", ["x", "cat"], "w", method="bootstrap", bootstrap_indices=idx, cov_type=cov_type
    )
    for b in range(len(idx)):
        boot = small.iloc[idx[b]].reset_index(drop=True)
        for j, o in enumerate(outcomes):
            rows = boot[boot[o].notna()]
            X = _independent_X(rows, rows["treat"], ["x"], ["cat"])
            fit = sm.WLS(rows[o].to_numpy(), X, weights=rows["w"].to_numpy()).fit(cov_type=cov_type, use_t=True)
            t = (fit.params[1] - det.table.loc[o, "coef"]) / fit.bse[1]
            assert det.t_star[b, j] == pytest.approx(t, rel=1e-9, abs=1e-11)
            p = 2 * __import__("scipy").stats.t.sf(abs(t), fit.df_resid)
            assert det.p_star[b, j] == pytest.approx(p, rel=1e-8, abs=1e-13)


def test_bootstrap_drops_a_control_level_absent_from_a_replicate():
    """A rare category missing from a bootstrap sample is dropped (pseudo-inverse), as Stata
    would omit it; the treatment coefficient is that of the regression without it."""
    df = _small(n=80, seed=4, missing=False)
    df.loc[0, "cat"] = "rare"
    idx = np.arange(80)[None, :].repeat(2, axis=0)
    idx[:, 0] = 1  # row 0 (the only 'rare') not drawn
    det = mt.westfall_young_details(df, ["y0"], "treat", ["x", "cat"], "w", method="bootstrap", bootstrap_indices=idx)
    boot = df.iloc[idx[0]]
    X = _independent_X(boot, boot["treat"], ["x"], ["cat"])
    fit = sm.WLS(boot["y0"].to_numpy(), X, weights=boot["w"].to_numpy()).fit(cov_type="HC1")
    assert det.coef_star[0, 0] == pytest.approx(fit.params[1], rel=1e-9)
    assert det.se_star[0, 0] == pytest.approx(fit.bse[1], rel=1e-8)


# --------------------------------------------------------------------------------------
# raw p-values are estimate_itt's
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "group,cov_type,dist", [("SCR_IW", "HC1", "t"), ("SCR", "HC3", "normal"), ("OOW_pooled", "HC1", "t")]
)
def test_raw_pvalues_equal_estimate_itt(trial, group, cov_type, dist):
    outcomes = ["eq5d", "swemwbs", "jsse", "paid_work", "gse"]
    res = mt.westfall_young(
        trial, outcomes, vocab.TREAT, vocab.SAP_CONTROLS, vocab.WEIGHT, reps=200,
        group=group, baseline=True, cov_type=cov_type, dist=dist,
    )
    for o in outcomes:
        itt = estimate_itt(trial, o, group, cov_type=cov_type, dist=dist)
        assert res.loc[o, "coef"] == itt.impact
        assert res.loc[o, "se"] == itt.se
        assert res.loc[o, "p"] == itt.p
        assert res.loc[o, "nobs"] == itt.nobs


def test_each_outcome_uses_its_own_rows(small):
    res = mt.westfall_young(small, ["y0", "y1", "y2"], "treat", ["x"], "w", reps=100)
    assert res["nobs"].tolist() == [int(small[o].notna().sum()) for o in ["y0", "y1", "y2"]]
    for o in ["y0", "y1", "y2"]:
        alone = mt.westfall_young(small, [o], "treat", ["x"], "w", reps=100)
        assert alone.loc[o, "p"] == res.loc[o, "p"]
        # one hypothesis: the adjusted p-value is the marginal resampling p-value (floored)
        assert alone.loc[o, "p_wy"] == max(alone.loc[o, "p_resampled"], alone.loc[o, "p"])


# --------------------------------------------------------------------------------------
# properties of the adjustment
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def big_run():
    """Six outcomes, two with effects, correlated through a common factor; B = 10,000."""
    rng = np.random.default_rng(21)
    n = 300
    df = pd.DataFrame({"treat": rng.permutation(np.arange(n) % 2), "x": rng.normal(size=n), "w": rng.uniform(0.5, 2, n)})
    common = rng.normal(size=n)
    outcomes = [f"y{k}" for k in range(6)]
    for k, o in enumerate(outcomes):
        df[o] = 0.5 * common + 0.3 * df["x"] + rng.normal(size=n) + [0.3, 0.2, 0, 0, 0, 0][k] * df["treat"]
    args = (df, outcomes, "treat", ["x"], "w", 10_000)
    down = mt.westfall_young(*args)
    single = mt.westfall_young(*args, step="single")
    raw = mt.westfall_young(*args, floor_at_raw=False)
    return down, single, raw


def test_adjusted_never_below_raw_and_monotone_with_10000_reps(big_run):
    down, single, raw = big_run
    assert down.attrs["reps"] == 10_000
    for res in (down, single):
        assert (res["p_wy"] >= res["p"]).all()
        ordered = res.sort_values("p", kind="mergesort")["p_wy"].to_numpy()
        assert (np.diff(ordered) >= 0).all()
        assert (res["p_wy"] <= 1).all()
    # without the floor, a share below the raw p-value is only Monte Carlo noise
    assert (raw["p_wy"] >= raw["p"] - 4 * np.sqrt(raw["p"] * (1 - raw["p"]) / 10_000) - 1e-4).all()
    # free step-down is never less powerful than single-step minP (same draws, same seed)
    assert (down["p_wy"] <= single["p_wy"] + 1e-12).all()
    # single-step minP: the most significant hypothesis gets the same value in both
    i = down["p"].idxmin()
    assert down.loc[i, "p_wy"] == single.loc[i, "p_wy"]


def test_wy_adjust_by_hand():
    """Algorithms 2.5 and 2.8 on a 4-resample example worked by hand."""
    p = np.array([0.04, 0.01, 0.30])
    p_star = np.array(
        [
            [0.50, 0.20, 0.02],  # minima from the least significant end (order 2,1,3 -> p .01,.04,.30)
            [0.03, 0.60, 0.90],
            [0.70, 0.005, 0.40],
            [0.10, 0.80, 0.25],
        ]
    )
    # ordered by p: h2 (0.01), h1 (0.04), h3 (0.30). Successive minima per resample:
    # r1: q3=.02, q1=min(.02,.50)=.02, q2=min(.02,.20)=.02
    # r2: q3=.90, q1=.03, q2=min(.03,.60)=.03
    # r3: q3=.40, q1=.40, q2=.005
    # r4: q3=.25, q1=.10, q2=.10
    # h2: q2 <= .01 in r3 -> 1/4; h1: q1 <= .04 in r1, r2 -> 2/4; h3: q3 <= .30 in r1, r4 -> 2/4
    np.testing.assert_allclose(mt.wy_adjust(p, p_star, floor_at_raw=False), [0.5, 0.25, 0.5])
    # single step: minima over all = .02, .03, .005, .10 -> h2: 1/4, h1: 3/4, h3: 4/4
    np.testing.assert_allclose(mt.wy_adjust(p, p_star, "single", floor_at_raw=False), [0.75, 0.25, 1.0])
    # monotonicity is enforced: a later share below an earlier one is raised to it
    # (p = .01, .02; shares r1 = 1/2 from q1 = .005, .9 and r2 = 0 from q2 = .9, .9)
    p_star2 = np.array([[0.005, 0.9], [0.9, 0.9]])
    np.testing.assert_allclose(mt.wy_adjust([0.01, 0.02], p_star2, floor_at_raw=False), [0.5, 0.5])
    # the floor: a share of 0 is raised to the raw p-value
    np.testing.assert_allclose(mt.wy_adjust([0.001], np.array([[0.5], [0.7]])), [0.001])


def test_reproducible_and_independent_of_chunk_size(small):
    args = (small, ["y0", "y1", "y2"], "treat", ["x", "cat"], "w", 300)
    a = mt.westfall_young_details(*args, seed=42)
    b = mt.westfall_young_details(*args, seed=42, chunk_size=64)
    c = mt.westfall_young_details(*args, seed=42, chunk_size=1000)
    d = mt.westfall_young_details(*args, seed=43)
    # the same draws whatever the chunking (products of other shapes may differ in the last bit)
    np.testing.assert_allclose(a.p_star, b.p_star, rtol=1e-12)
    np.testing.assert_allclose(a.p_star, c.p_star, rtol=1e-12)
    for col in ("p", "p_wy", "p_resampled"):
        np.testing.assert_array_equal(a.table[col], b.table[col])
        np.testing.assert_array_equal(a.table[col], c.table[col])
    assert not np.allclose(a.p_star, d.p_star)


def test_threaded_evaluation_equals_serial(monkeypatch):
    """Large runs split each chunk over worker threads; the result is the serial one."""
    df = _small(n=700, seed=9)
    args = (df, ["y0", "y1", "y2"], "treat", ["x", "cat"], "w", 3000)
    monkeypatch.setattr(mt, "_WORKERS", 1)
    serial = mt.westfall_young_details(*args, seed=5)
    monkeypatch.setattr(mt, "_WORKERS", 2)
    threaded = mt.westfall_young_details(*args, seed=5)
    monkeypatch.setattr(mt, "_PREFETCH", False)
    no_prefetch = mt.westfall_young_details(*args, seed=5)
    for other in (threaded, no_prefetch):
        np.testing.assert_allclose(other.p_star, serial.p_star, rtol=1e-12)
        np.testing.assert_array_equal(other.table["p_wy"], serial.table["p_wy"])


def test_permutation_within_strata_keeps_stratum_counts():
    rng = np.random.default_rng(0)
    t = np.array([1, 1, 0, 0, 0, 1, 0, 1, 1, 0, 0, 0], float)
    strata = [np.array([0, 1, 2, 3]), np.array([4, 5, 6, 7, 8]), np.array([9, 10, 11])]
    T = mt._permuted_block(rng, t, strata, 200)
    for pos in strata:
        assert (T[:, pos].sum(axis=1) == t[pos].sum()).all()
    # every arrangement within the middle stratum appears (it is a real shuffle)
    assert len({tuple(r) for r in T[:, strata[1]]}) == 10  # C(5, 3)


def test_permutations_are_uniform():
    """Each of the C(6, 2) = 15 arrangements of 2 treated among 6 is equally likely, and every
    position is treated with probability n1 / n."""
    rng = np.random.default_rng(1)
    t = np.array([1, 1, 0, 0, 0, 0], float)
    T = mt._permuted_block(rng, t, [np.arange(6)], 30_000)
    assert (T.sum(axis=1) == 2).all()
    _, counts = np.unique(T, axis=0, return_counts=True)
    assert len(counts) == 15
    expected = 30_000 / 15
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 36.1  # 99.9 % point of chi-square with 14 df
    big = mt._permuted_block(rng, (np.arange(400) < 130).astype(float), [np.arange(400)], 2000)
    freq = big.mean(axis=0)
    assert np.abs(freq - 130 / 400).max() < 5 * np.sqrt(0.325 * 0.675 / 2000)


def test_strata_change_the_draws_but_not_the_raw_results(small):
    args = (small, ["y0", "y1"], "treat", ["x"], "w", 400)
    a = mt.westfall_young(*args)
    b = mt.westfall_young(*args, strata="block")
    pd.testing.assert_series_equal(a["p"], b["p"])
    assert not a["p_resampled"].equals(b["p_resampled"])
    assert b.attrs["strata"] == ["block"]


def test_bootstrap_method_runs_and_is_sensible():
    df = _small(n=300, seed=8)
    df["y0"] += 0.5 * df["treat"]  # a clear effect on y0
    res = mt.westfall_young(df, ["y0", "y1", "y2"], "treat", ["x", "cat"], "w", reps=400, method="bootstrap", strata="block")
    assert res.attrs["method"] == "bootstrap"
    assert (res["p_wy"] >= res["p"]).all()
    # the strong effect on y0 survives the adjustment, the null outcomes do not
    assert res.loc["y0", "p_wy"] < 0.05 < res.loc["y2", "p_wy"]


def test_output_contract(small):
    res = mt.westfall_young(small, ["y0", "y2"], "treat", reps=50)
    assert list(res.index) == ["y0", "y2"] and res.index.name == "outcome"
    for col in ("coef", "se", "p", "p_wy", "p_wy_mcse", "p_bonferroni", "p_holm", "p_sidak", "p_bh"):
        assert col in res
    assert res.attrs["reps"] == 50 and res.attrs["method"] == "permutation" and res.attrs["step"] == "down"
    # no controls, no weights: the plain regression on treat
    rows = small[["y0", "treat"]]
    fit = sm.OLS(rows["y0"], sm.add_constant(rows["treat"])).fit(cov_type="HC1", use_t=True)
    assert res.loc["y0", "p"] == pytest.approx(fit.pvalues["treat"], rel=1e-10)
    none = mt.westfall_young(small, "y0", "treat", reps=20, corrections=())
    assert not any(c.startswith("p_") and c not in ("p_resampled", "p_wy", "p_wy_mcse") for c in none)


def test_progress_bar(small, capsys):
    res = mt.westfall_young(small, ["y0"], "treat", reps=128, progress=True, chunk_size=64)
    assert res.attrs["reps"] == 128


# --------------------------------------------------------------------------------------
# closed-form corrections
# --------------------------------------------------------------------------------------
#: A p-vector with a tie, out of order. Reference values computed BY HAND from the
#: definitions in R's stats::p.adjust (R was not available on this machine):
#:   holm:       pmin(1, cummax((n - i + 1) * p[o]))[ro], o = order(p)
#:   hochberg:   pmin(1, cummin((n - i + 1) * p[o]))[ro], o = order(p, decreasing = TRUE), i = n:1
#:   BH:         pmin(1, cummin(n / i * p[o]))[ro],       same o, i
#:   BY:         as BH times q = sum(1 / (1:n)) = 363/140
#:   bonferroni: pmin(1, n * p)
#: Šidák is not in p.adjust: 1 - (1 - p)^n.
P_REF = np.array([0.04, 0.001, 0.03, 0.20, 0.012, 0.03, 0.70])
R_REF = {
    "bonferroni": [0.28, 0.007, 0.21, 1.0, 0.084, 0.21, 1.0],
    "holm": [0.15, 0.007, 0.15, 0.40, 0.072, 0.15, 0.70],
    "hochberg": [0.12, 0.007, 0.12, 0.40, 0.072, 0.12, 0.70],
    "bh": [0.056, 0.007, 0.0525, 0.7 / 3, 0.042, 0.0525, 0.70],
    "by": [0.1452, 0.01815, 0.136125, 0.605, 0.1089, 0.136125, 1.0],
}


@pytest.mark.parametrize("method", sorted(R_REF))
def test_closed_form_matches_r_p_adjust(method):
    np.testing.assert_allclose(mt.adjust_pvalues(P_REF, method), R_REF[method], rtol=1e-12)


def test_sidak_by_definition():
    np.testing.assert_allclose(mt.adjust_pvalues(P_REF, "sidak"), 1 - (1 - P_REF) ** len(P_REF), rtol=1e-12)


@pytest.mark.parametrize("method,sm_name", [(k, v) for k, v in mt.CLOSED_FORM.items()])
def test_closed_form_equals_statsmodels(method, sm_name):
    rng = np.random.default_rng(2)
    for p in (P_REF, rng.uniform(size=12) ** 2, np.array([0.5])):
        np.testing.assert_allclose(mt.adjust_pvalues(p, method), multipletests(p, method=sm_name)[1], rtol=1e-14)


def test_closed_form_table_and_wy_table_columns(small):
    res = mt.westfall_young(small, ["y0", "y1", "y2"], "treat", ["x"], "w", reps=50)
    for col, name in [("p_bonferroni", "bonferroni"), ("p_holm", "holm"), ("p_sidak", "sidak"), ("p_bh", "fdr_bh")]:
        np.testing.assert_allclose(res[col], multipletests(res["p"], method=name)[1], rtol=1e-14)
    tab = mt.closed_form_corrections(res["p"], ["holm", "BH", "holm-sidak"])
    assert list(tab.columns) == ["p", "p_holm", "p_bh", "p_holm_sidak"]
    assert list(tab.index) == ["y0", "y1", "y2"]


# --------------------------------------------------------------------------------------
# Monte Carlo error
# --------------------------------------------------------------------------------------
def test_monte_carlo_error(small):
    res = mt.westfall_young(small, ["y0", "y1", "y2"], "treat", ["x"], "w", reps=1000)
    mc = mt.monte_carlo_error(res)
    np.testing.assert_allclose(mc["mcse"], np.sqrt(res["p_wy"] * (1 - res["p_wy"]) / 1000))
    np.testing.assert_allclose(res["p_wy_mcse"], mc["mcse"])
    assert ((mc["ci_low"] <= mc["p_wy"]) & (mc["p_wy"] <= mc["ci_high"])).all()
    zero = mt.monte_carlo_error([0.0], reps=1000)
    assert zero["mcse"].iloc[0] == 0 and zero["ci_high"].iloc[0] == pytest.approx(1 - 0.025 ** (1 / 1000))
    assert mt.reps_for_precision(0.005, 0.05) == 1900
    assert mt.reps_for_precision(0.01, 0.5) == 2500


# --------------------------------------------------------------------------------------
# the SAP decision rule
# --------------------------------------------------------------------------------------
def test_sap_decision_rule_layout_and_raw_values(trial):
    res = mt.sap_decision_rule(trial, "SCR_IW", reps=500, seed=1)
    assert list(res.table.columns) == ["Diff.", "S.E.", "P-val", "P-val (raw)", "Base"]
    assert list(res.table.index) == ["Looking for work", "Job search self-efficacy", "Number of barriers", "EQ5D5L", "SWEMWBS"]
    resp = trial[trial[vocab.RESPONDED] == 1]
    for o, label in zip(vocab.TABLE_4_5_OUTCOMES, res.table.index):
        itt = estimate_itt(resp, o, "SCR_IW", baseline=False)
        assert res.table.loc[label, "Diff."] == itt.impact
        assert res.table.loc[label, "S.E."] == itt.se
        assert res.table.loc[label, "P-val (raw)"] == itt.p
        assert res.table.loc[label, "P-val"] >= itt.p
    rows = trial[trial[vocab.GROUP] == "SCR_IW"]
    rates = rows.groupby(vocab.TREAT)[vocab.RESPONDED].mean()
    assert res.response_gap_ppt == pytest.approx(100 * (rates[1] - rates[0]))
    assert res.gap_exceeds == (abs(res.response_gap_ppt) > 5)
    assert res.decision == (res.gap_exceeds and res.imbalance)
    assert isinstance(res.reason, str) and "percentage points" in res.reason


def _imbalanced(trial, shift):
    df = trial.copy()
    resp_t = (df[vocab.RESPONDED] == 1) & (df[vocab.TREAT] == 1)
    df.loc[resp_t, "bl_jsse"] = df.loc[resp_t, "bl_jsse"] + shift
    return df


def test_sap_decision_rule_triggers_only_with_both_conditions(trial):
    df = _imbalanced(trial, 0.6)  # treatment respondents look different at baseline
    big_gap = mt.sap_decision_rule(df, "SCR", threshold_ppt=0.0, reps=300)
    assert big_gap.imbalance and big_gap.gap_exceeds and big_gap.decision
    assert "triggers" in big_gap.reason and "Job search self-efficacy" in big_gap.reason
    no_gap = mt.sap_decision_rule(df, "SCR", threshold_ppt=100, reps=300)
    assert no_gap.imbalance and not no_gap.gap_exceeds and not no_gap.decision
    assert "does not trigger" in no_gap.reason
    balanced = mt.sap_decision_rule(trial, "SCR", threshold_ppt=0.0, reps=300)
    assert not balanced.decision or balanced.imbalance
    # pooled group: trial-group indicators are in the regressions, like estimate_itt
    resp = trial[trial[vocab.RESPONDED] == 1]
    itt = estimate_itt(resp, "bl_eq5d", "SCR", baseline=False)
    assert balanced.table.loc["EQ5D5L", "Diff."] == itt.impact


def test_sap_decision_rule_bad_input(trial):
    with pytest.raises(InputError, match="alpha"):
        mt.sap_decision_rule(trial, "SCR_IW", alpha=1.5, reps=10)
    with pytest.raises(InputError, match="threshold_ppt"):
        mt.sap_decision_rule(trial, "SCR_IW", threshold_ppt=-1, reps=10)
    with pytest.raises(ValueError, match="unknown group"):
        mt.sap_decision_rule(trial, "Narnia", reps=10)
    with pytest.raises(InputError, match="missing column"):
        mt.sap_decision_rule(trial.drop(columns=[vocab.RESPONDED]), "SCR_IW", reps=10)


# --------------------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------------------
def _bad(small, **kw):
    args = dict(data=small, outcomes=["y0", "y1"], treat="treat", controls=["x"], weights="w", reps=20)
    args.update(kw)
    return mt.westfall_young(**args)


@pytest.mark.parametrize(
    "kw,match",
    [
        (dict(outcomes=["y0", "nope"]), "missing column.*'nope'"),
        (dict(controls=["x", "nope"]), "missing column.*'nope'"),
        (dict(weights="nope"), "missing column.*'nope'"),
        (dict(strata="nope"), "missing column.*'nope'"),
        (dict(method="jackknife"), "method='jackknife' is not one of"),
        (dict(step="up"), "step='up' is not one of"),
        (dict(cov_type="HC9"), "cov_type='HC9'"),
        (dict(dist="cauchy"), "dist='cauchy'"),
        (dict(reps=0), "reps must be >= 1"),
        (dict(reps=-5), "reps must be >= 1"),
        (dict(reps=2.5), "reps must be a positive integer"),
        (dict(reps=True), "reps must be a positive integer"),
        (dict(outcomes=[]), "outcomes is empty"),
        (dict(outcomes=["y0", "y0"]), "more than once"),
        (dict(outcomes=["y0", "treat"]), "also listed as an outcome"),
        (dict(controls=["x", "treat"]), "also listed as a control"),
        (dict(outcomes=["y0", "cat"]), "must be numeric"),
        (dict(chunk_size=0), "chunk_size"),
        (dict(seed=-1), "seed"),
        (dict(corrections=["magic"]), "correction 'magic'"),
        (dict(progress="yes"), "progress"),
        (dict(permutations=np.zeros((3, 7), int)), r"permutations must be a \(resamples × 160\)"),
        (dict(permutations=np.full((3, 160), 2.0)), "permutation of 0..N-1"),
        (dict(method="bootstrap", permutations=np.zeros((3, 160))), "permutations= is for method='permutation'"),
        (dict(bootstrap_indices=np.zeros((3, 160), int)), "bootstrap_indices= is for method='bootstrap'"),
        (dict(method="bootstrap", bootstrap_indices=np.full((2, 160), 999)), "row positions"),
    ],
)
def test_bad_input_raises_clear_error(small, kw, match):
    with pytest.raises(InputError, match=match):
        _bad(small, **kw)


def test_bad_data_values(small):
    df = small.copy()
    df.loc[3, "treat"] = 2
    with pytest.raises(InputError, match="'treat' must be 0/1"):
        _bad(df)
    df = small.copy()
    df["treat"] = 1
    with pytest.raises(InputError, match="no control"):
        _bad(df)
    df = small.copy()
    df.loc[5, "w"] = -1.0
    with pytest.raises(InputError, match="non-positive"):
        _bad(df)
    df = small.copy()
    df.loc[2, "block"] = None
    with pytest.raises(InputError, match="strata column 'block'"):
        _bad(df, strata="block")
    with pytest.raises(InputError, match="DataFrame"):
        _bad(small.to_numpy())
    with pytest.raises(InputError, match="group_indicators=False"):
        _bad(small.assign(group=np.where(np.arange(len(small)) % 2, "A", "B")))


def test_bad_input_helpers():
    with pytest.raises(InputError, match="outside"):
        mt.adjust_pvalues([0.2, 1.5])
    with pytest.raises(InputError, match="missing"):
        mt.adjust_pvalues([0.2, np.nan])
    with pytest.raises(InputError, match="correction"):
        mt.adjust_pvalues([0.2], "fisher")
    with pytest.raises(InputError, match="p_star"):
        mt.wy_adjust([0.1, 0.2], np.zeros((5, 3)))
    with pytest.raises(InputError, match="reps"):
        mt.monte_carlo_error([0.1], reps=0)
    with pytest.raises(InputError, match="mcse"):
        mt.reps_for_precision(0.0)


def test_resamples_where_a_model_cannot_be_fitted_are_dropped_with_a_warning():
    """An outcome observed on 5 rows: some permutations put all 5 in one arm; those resamples
    are dropped for every model (the resamples stay shared) and counted in attrs."""
    rng = np.random.default_rng(3)
    n = 60
    df = pd.DataFrame({"treat": rng.permutation(np.arange(n) % 2), "y_big": rng.normal(size=n)})
    df["y_small"] = np.nan
    rows = np.r_[np.flatnonzero(df["treat"] == 1)[:2], np.flatnonzero(df["treat"] == 0)[:3]]
    df.loc[rows, "y_small"] = rng.normal(size=5)
    with pytest.warns(RuntimeWarning, match="resamples dropped"):
        det = mt.westfall_young_details(df, ["y_big", "y_small"], "treat", reps=600, seed=1)
    dropped = int((~det.valid).sum())
    assert 5 < dropped < 80  # about 5 % of 600 expected
    assert det.table.attrs["reps"] == 600 - dropped and det.table.attrs["reps_requested"] == 600
    assert np.isfinite(det.p_star[det.valid]).all()
