"""hlt_replicate.weighting and hlt_replicate.balance: propensity model, IPW, trimming, raking,
diagnostics, baseline tables (Tables 4-1..4-4)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.proportion import proportions_ztest

from _fake_trial import make_fake_trial
from hlt_replicate import balance, vocab
from hlt_replicate import weighting as wt
from hlt_replicate._checks import InputError
from hlt_replicate.impact import control_matrix


@pytest.fixture(scope="module")
def trial():
    df = make_fake_trial(1500, seed=2)
    df[vocab.WEIGHT] = wt.ipw_weights(df)
    return df


# --- propensity model ----------------------------------------------------------------------
def test_logit_fit_matches_statsmodels_logit():
    rng = np.random.default_rng(0)
    X = np.column_stack([np.ones(500), rng.normal(size=500), rng.binomial(1, 0.4, 500)])
    y = rng.binomial(1, 1 / (1 + np.exp(-(X @ [0.2, 0.8, -0.5]))))
    ref = sm.Logit(y, X).fit(disp=0)
    np.testing.assert_allclose(wt.logit_fit(X, y), ref.params, rtol=1e-8)


@pytest.mark.parametrize("pooled", [None, {}])
def test_response_propensity_is_a_logit_within_each_group(trial, pooled):
    """statsmodels' Logit on the same design: by default the first intake period recoded
    to the second (RESPONSE_POOLED_LEVELS), with ``pooled={}`` every level its own."""
    p = wt.response_propensity(trial) if pooled is None else wt.response_propensity(trial, pooled=pooled)
    for g, part in trial.groupby(vocab.GROUP):
        if pooled is None:
            assert (part["cohort"] == "May 2018-Jun 2018").sum() > 5  # the pooling has something to do
            part = part.assign(cohort=part["cohort"].where(part["cohort"] != "May 2018-Jun 2018", "Jul 2018-Sep 2018"))
        Xc, names = control_matrix(part, wt.RESPONSE_COVARIATES)
        assert ("cohort[Jul 2018-Sep 2018]" in names) == (pooled == {})  # the base level: the first present
        X = np.column_stack([np.ones(len(part)), part[vocab.TREAT], Xc])
        ref = sm.Logit(part[vocab.RESPONDED].to_numpy(float), X).fit(disp=0)
        np.testing.assert_allclose(p.loc[part.index], ref.predict(X), rtol=1e-7)


def test_pooling_the_first_intake_period_changes_the_weights_and_bad_pools_are_named(trial):
    pooled, separate = wt.ipw_weights(trial), wt.ipw_weights(trial, pooled={})
    resp = trial[vocab.RESPONDED] == 1
    assert not np.allclose(pooled[resp], separate[resp])
    view = wt.pooled_covariates(trial, ["cohort", "age"])
    assert list(view.columns) == ["cohort", "age"] and "May 2018-Jun 2018" not in set(view["cohort"])
    with pytest.raises(InputError, match=r"\['May 2018'\] are not levels of 'cohort'"):
        wt.ipw_weights(trial, pooled={"cohort": {"May 2018": "Jul 2018-Sep 2018"}})
    with pytest.raises(InputError, match="'age' is not a categorical covariate"):
        wt.response_propensity(trial, pooled={"age": {"40": "41"}})


def test_ipw_weights_mean_one_per_group_nan_for_nonrespondents(trial):
    w = trial[vocab.WEIGHT]
    resp = trial[vocab.RESPONDED] == 1
    assert w[~resp].isna().all() and (w[resp] > 0).all()
    np.testing.assert_allclose(w[resp].groupby(trial.loc[resp, vocab.GROUP]).mean(), 1.0)


def test_ipw_weights_keep_the_randomised_split_between_arms(trial):
    """Default ``normalise="arm"``: within each group the arms' weight totals stand as the
    randomised counts do; within an arm the weights are proportional to 1 / p, as with
    ``"group"``, which scales by group alone (and so lets the arms' totals drift)."""
    p = wt.response_propensity(trial)
    resp = trial[vocab.RESPONDED] == 1
    plain = wt.ipw_weights(trial, normalise="group")
    np.testing.assert_allclose(plain[resp].groupby(trial.loc[resp, vocab.GROUP]).mean(), 1.0)
    drift = 0.0
    for (g, arm), part in trial.groupby([vocab.GROUP, vocab.TREAT]):
        r = part.index[part[vocab.RESPONDED] == 1]
        grp = trial[trial[vocab.GROUP] == g]
        g_resp = grp[vocab.RESPONDED] == 1
        share = trial.loc[r, vocab.WEIGHT].sum() / trial.loc[g_resp[g_resp].index, vocab.WEIGHT].sum()
        assert share == pytest.approx(len(part) / len(grp), rel=1e-12), (g, arm)
        ratio = trial.loc[r, vocab.WEIGHT] * p.loc[r]
        np.testing.assert_allclose(ratio, ratio.iloc[0], rtol=1e-12)  # w proportional to 1 / p within the arm
        drift = max(drift, abs(plain[r].sum() / plain[g_resp[g_resp].index].sum() - len(part) / len(grp)))
    assert drift > 1e-4  # the two conventions differ
    with pytest.raises(InputError, match="normalise"):
        wt.ipw_weights(trial, normalise="cell")


def test_response_model_errors(trial):
    bad = trial.copy()
    bad.loc[bad[vocab.GROUP] == "SCR_IW", vocab.RESPONDED] = 1
    with pytest.raises(InputError, match="a response model needs both"):
        wt.response_propensity(bad)
    with pytest.raises(InputError, match="missing column"):
        wt.response_propensity(trial.drop(columns="age"))
    bad = trial.copy()
    bad.loc[bad.index[0], vocab.RESPONDED] = 2
    with pytest.raises(InputError, match="must be 0/1"):
        wt.ipw_weights(bad)


def test_response_model_errors_name_the_covariate_and_group(trial):
    """A response model that cannot be fitted says which covariate, in which group, and why."""
    bad = trial.copy()
    bad["age2"] = bad["age"] * 2
    with pytest.raises(InputError, match=r"response model in group='\w+' is collinear: 'age2'"):
        wt.response_propensity(bad, [*wt.RESPONSE_COVARIATES, "age2"])
    bad = trial.copy()
    bad.loc[bad.index[0], vocab.TREAT] = 2
    with pytest.raises(InputError, match="'treat' must be 0/1"):
        wt.response_propensity(bad)
    bad = trial.copy()
    bad[vocab.TREAT] = bad[vocab.TREAT].astype(float)
    bad.loc[bad.index[0], vocab.TREAT] = np.nan
    with pytest.raises(InputError, match="'treat' has 1 missing"):
        wt.ipw_weights(bad)
    bad = trial.copy()
    bad.loc[bad[vocab.GROUP] == "WMCA_OOW", vocab.TREAT] = 1
    with pytest.raises(InputError, match="no control.*in group='WMCA_OOW'"):
        wt.response_propensity(bad)
    one = trial[trial[vocab.GROUP] == "SCR_IW"].copy()  # a level only respondents have
    one["rare"] = 0
    one.loc[one[one[vocab.RESPONDED] == 1].index[:3], "rare"] = 1
    with pytest.raises(InputError, match="'rare' = 1 has outcome 1 \\(perfect prediction\\)"):
        wt.response_propensity(one, [*wt.RESPONSE_COVARIATES, "rare"])


def test_weight_diagnostics_errors(trial):
    with pytest.raises(InputError, match="no \\(non-missing\\) values"):
        wt.kish_deff(np.full(4, np.nan))
    with pytest.raises(InputError, match="no \\(non-missing\\) values"):
        wt.weight_summary(pd.Series(np.full(4, np.nan)))
    with pytest.raises(InputError, match="missing column.*'weight'"):
        wt.rake_to_population(trial.drop(columns=vocab.WEIGHT), vocab.WEIGHT, ["female"])
    one = trial.copy()
    one.loc[one[vocab.GROUP] == "SCR_IW", vocab.TREAT] = 1
    one[vocab.WEIGHT] = 1.0
    with pytest.raises(InputError, match="no control.*respondents of 'SCR_IW'"):
        wt.asmd_table(one, "SCR_IW", ["age"])


# --- trimming, normalisation ---------------------------------------------------------------
def test_trim_cap_keeps_totals_and_caps():
    rng = np.random.default_rng(1)
    w = pd.Series(np.concatenate([rng.lognormal(0, 1, 200), [np.nan] * 5]))
    by = pd.Series(np.where(np.arange(205) % 2, "a", "b"))
    out = wt.trim_weights(w, "cap", k=2.5, by=by)
    assert out.isna().sum() == 5
    ok = w.notna()
    for g in ("a", "b"):
        m = ok & (by == g)
        assert out[m].sum() == pytest.approx(w[m].sum())
        assert out[m].max() <= 2.5 * w[m].mean() * (1 + 1e-9)
    # untrimmed weights are all scaled by one common factor (proportional redistribution)
    m = ok & (by == "a") & (out < 2.5 * w[ok & (by == "a")].mean() * (1 - 1e-9))
    ratio = out[m] / w[m]
    np.testing.assert_allclose(ratio, ratio.iloc[0])
    assert ratio.iloc[0] > 1


def test_trim_percentile_hand_example():
    w = pd.Series([1.0, 1.0, 1.0, 1.0, 6.0])
    # upper quantile 0.75 of w is 1.0 -> everything capped at 1 leaves no room: infeasible
    with pytest.raises(InputError, match="bounds too tight"):
        wt.trim_weights(w, "percentile", upper=0.75)
    w = pd.Series([1.0, 2.0, 3.0, 4.0, 10.0])  # total 20
    out = wt.trim_weights(w, "percentile", upper=0.75)  # bound 4.0
    # 10 -> 4 frees 6; the others (1,2,3,4) scaled by 16/10 -> 1.6, 3.2, 4.8, 6.4; cap again…
    assert out.sum() == pytest.approx(20.0)
    assert out.max() == pytest.approx(4.0)
    np.testing.assert_allclose(out, [4.0, 4.0, 4.0, 4.0, 4.0])  # only solution with max 4, total 20
    w = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 30.0])
    out = wt.trim_weights(w, "percentile", upper=0.9, lower=0.1)
    lo, hi = np.quantile(w, 0.1), np.quantile(w, 0.9)
    assert out.sum() == pytest.approx(w.sum())
    assert out.min() >= lo - 1e-9 and out.max() <= hi + 1e-9


def test_trim_and_normalise_errors():
    with pytest.raises(InputError, match="k >= 1"):
        wt.trim_weights([1.0, 2.0], "cap", k=0.5)
    with pytest.raises(InputError, match="method"):
        wt.trim_weights([1.0, 2.0], "median")
    with pytest.raises(InputError, match="non-positive"):
        wt.trim_weights([1.0, -2.0], "cap")
    with pytest.raises(InputError, match="no entry"):
        wt.normalise_weights([1.0, 2.0], by=["a", "b"], totals={"a": 3})


def test_normalise_weights():
    w = pd.Series([1.0, 3.0, 2.0, np.nan, 6.0])
    by = ["a", "a", "b", "b", "b"]
    out = wt.normalise_weights(w, by)
    np.testing.assert_allclose(out, [0.5, 1.5, 0.5, np.nan, 1.5])
    out = wt.normalise_weights(w, by, totals={"a": 10, "b": 4})
    np.testing.assert_allclose(out, [2.5, 7.5, 1.0, np.nan, 3.0])


# --- raking --------------------------------------------------------------------------------
def test_rake_hand_verified_ipf():
    # 2x2 sample, one person per cell, unit weights. Targets: sex 60/40, age 30/70.
    d = pd.DataFrame({"sex": ["m", "m", "f", "f"], "age": ["y", "o", "y", "o"]})
    out = wt.rake(d, np.ones(4), {"sex": {"m": 0.6, "f": 0.4}, "age": {"y": 0.3, "o": 0.7}})
    # with one person per cell, IPF converges to the independence table: w_ij ∝ p_i q_j
    np.testing.assert_allclose(out.to_numpy() / out.sum(), [0.18, 0.42, 0.12, 0.28], atol=1e-8)
    assert out.sum() == pytest.approx(4.0)
    # first IPF sweep by hand: sex step -> m: 1.2, f: 0.8; age step: y total 2.0 -> 1.2, o total 2.0 -> 2.8
    one = wt.rake(d, np.ones(4), {"sex": {"m": 0.6, "f": 0.4}}, max_iter=1)
    np.testing.assert_allclose(one, [1.2, 1.2, 0.8, 0.8])
    # IPF keeps the cross-product ratio of the start (Deming & Stephan 1940): start 1,2,3,4
    # (ratio 1*4/(2*3) = 2/3), margins 50/50 -> cells a, 5-a, 5-a, a with (a/(5-a))^2 = 2/3.
    out = wt.rake(d, [1.0, 2.0, 3.0, 4.0], {"sex": {"m": 1, "f": 1}, "age": {"y": 1, "o": 1}})
    r = np.sqrt(2 / 3)
    a = 5 * r / (1 + r)
    np.testing.assert_allclose(out, [a, 5 - a, 5 - a, a], rtol=1e-8)


def test_rake_reaches_margins_with_nonuniform_start():
    rng = np.random.default_rng(4)
    d = pd.DataFrame({"a": rng.choice(["x", "y", "z"], 300), "b": rng.choice([0, 1], 300)})
    w0 = rng.uniform(0.5, 2, 300)
    tgt = {"a": pd.Series({"x": 0.5, "y": 0.3, "z": 0.2}), "b": pd.Series({0: 0.45, 1: 0.55})}
    out = wt.rake(d, w0, tgt)
    for col, shares in tgt.items():
        got = out.groupby(d[col]).sum() / out.sum()
        np.testing.assert_allclose(got[shares.index], shares, atol=1e-8)
    assert out.sum() == pytest.approx(w0.sum())


def test_rake_errors():
    d = pd.DataFrame({"a": ["x", "y", "x"]})
    with pytest.raises(InputError, match="no .*target share"):
        wt.rake(d, np.ones(3), {"a": {"x": 1.0}})
    with pytest.raises(InputError, match="no respondents"):
        wt.rake(d, np.ones(3), {"a": {"x": 0.5, "y": 0.3, "z": 0.2}})
    with pytest.raises(InputError, match="missing column"):
        wt.rake(d, np.ones(3), {"b": {"x": 1.0}})
    with pytest.raises(InputError, match="missing value"):
        wt.rake(d, [1.0, np.nan, 1.0], {"a": {"x": 0.5, "y": 0.5}})


def test_rake_to_population_hits_each_cells_margins(trial):
    w = wt.rake_to_population(trial, vocab.WEIGHT, ("female", "qual"))
    resp = trial[vocab.RESPONDED] == 1
    assert w[~resp].isna().all()
    for (g, t), cell in trial.groupby([vocab.GROUP, vocab.TREAT]):
        r = cell[cell[vocab.RESPONDED] == 1]
        pop = cell["qual"].value_counts(normalize=True)
        got = w[r.index].groupby(r["qual"]).sum() / w[r.index].sum()
        np.testing.assert_allclose(got[pop.index], pop, atol=1e-7)
        assert w[r.index].sum() == pytest.approx(trial.loc[r.index, vocab.WEIGHT].sum())


def test_survey_weights_pipeline(trial):
    w = wt.survey_weights(trial, trim="cap", k=1.5)
    resp = trial[vocab.RESPONDED] == 1
    for g, part in w[resp].groupby(trial.loc[resp, vocab.GROUP]):
        assert part.mean() == pytest.approx(1.0)
        assert part.max() <= 1.5 + 1e-9
    w2 = wt.survey_weights(trial, rake_columns=("female",))
    assert w2[resp].notna().all() and w2[~resp].isna().all()


# --- diagnostics ---------------------------------------------------------------------------
def test_kish_deff_and_ess_hand_values():
    w = [1.0, 1.0, 2.0, 4.0, np.nan]
    assert wt.kish_deff(w) == pytest.approx(4 * 22 / 64)
    assert wt.effective_sample_size(w) == pytest.approx(64 / 22)
    s = wt.weight_summary(pd.Series([1.0, 1.0, 2.0, 4.0]), by=["a", "a", "b", "b"])
    assert s.loc["a", "deff"] == pytest.approx(1.0)
    assert s.loc["All", "ess"] == pytest.approx(64 / 22)
    with pytest.raises(InputError, match="non-positive"):
        wt.kish_deff([1.0, 0.0])


def _table_4_1_frame() -> pd.DataFrame:
    """Recruits with the counts of Table 4-1 (randomised and respondents per group × arm)."""
    counts = {("SCR_IW", 1): (1260, 780), ("SCR_IW", 0): (1259, 683), ("SCR_OOW", 1): (1799, 1057),
              ("SCR_OOW", 0): (1792, 944), ("WMCA_OOW", 1): (1837, 1007), ("WMCA_OOW", 0): (1838, 936)}
    parts = [pd.DataFrame({vocab.GROUP: g, vocab.TREAT: t, vocab.RESPONDED: np.r_[np.ones(r), np.zeros(n - r)].astype(int)})
             for (g, t), (n, r) in counts.items()]
    return pd.concat(parts, ignore_index=True)


def test_response_rates_reproduce_table_4_1():
    rates = wt.response_rates(_table_4_1_frame())
    np.testing.assert_allclose(rates["rate_T"].round(1)[:3], [61.9, 58.8, 54.8])
    np.testing.assert_allclose(rates["rate_C"].round(1)[:3], [54.2, 52.7, 50.9])
    assert rates.loc["Total", "randomised"] == 9785 and rates.loc["Total", "respondents"] == 5407
    assert round(rates.loc["Total", "rate"], 1) == 55.3
    assert (rates["p"][:3] < 0.05).all()  # "in all cases, it is statistically significant" (§4.2.1)
    # cross-check: chi-square without correction == two-sample z test of proportions
    z, p = proportions_ztest([780, 683], [1260, 1259])
    assert rates.loc["SCR_IW", "p"] == pytest.approx(p)
    assert rates.loc["SCR_IW", "chi2"] == pytest.approx(z**2)
    shown = wt.format_response_table(rates)
    assert shown.loc["Respondent %", ("SCR IW", "T")] == "61.9"
    assert shown.loc["Total randomised", ("Total", "")] == "9,785"


def test_response_rates_one_arm_error():
    f = _table_4_1_frame()
    with pytest.raises(InputError, match="no control"):
        wt.response_rates(f[~((f[vocab.GROUP] == "SCR_IW") & (f[vocab.TREAT] == 0))])


def test_asmd_table(trial):
    a = wt.asmd_table(trial, "SCR_IW", compare="arms")
    assert {"variable", "level", "before", "after"} <= set(a.columns)
    row = a[a["variable"] == "age"].iloc[0]
    s = trial[(trial[vocab.GROUP] == "SCR_IW") & (trial[vocab.RESPONDED] == 1)]
    x1, x0 = s.loc[s[vocab.TREAT] == 1, "age"], s.loc[s[vocab.TREAT] == 0, "age"]
    assert row["before"] == pytest.approx(abs(x1.mean() - x0.mean()) / np.sqrt((x1.var(ddof=0) + x0.var(ddof=0)) / 2))
    # response depends on age, sex and ethnicity: weighting brings respondents closer to the population
    p = wt.asmd_table(trial, None, variables=("age", "female", "nonwhite"), compare="population")
    assert p["after"].mean() < p["before"].mean()
    with pytest.raises(InputError, match="compare"):
        wt.asmd_table(trial, compare="both")


# --- balance tables (Tables 4-2..4-4) ------------------------------------------------------
def test_balance_numeric_p_matches_statsmodels(trial):
    t = balance.balance_table(trial, "SCR_OOW")
    s = trial[(trial[vocab.GROUP] == "SCR_OOW") & (trial[vocab.RESPONDED] == 1)]
    X = sm.add_constant(s[vocab.TREAT].to_numpy(float))
    for v in ("age", "female", "bl_eq5d"):
        ref = sm.WLS(s[v].to_numpy(float), X, weights=s[vocab.WEIGHT]).fit(cov_type="HC1", use_t=True)
        row = t[t["variable"] == v].iloc[0]
        assert row["p"] == pytest.approx(ref.pvalues[1], rel=1e-6)
        assert row["diff"] == pytest.approx(ref.params[1], rel=1e-9)
        w = s[vocab.WEIGHT]
        assert row["control"] == pytest.approx(np.average(s.loc[s.treat == 0, v], weights=w[s.treat == 0]))
    assert t[t["variable"] == "age"].iloc[0]["population"] == pytest.approx(trial.loc[trial[vocab.GROUP] == "SCR_OOW", "age"].mean())


@pytest.mark.parametrize("weighted", [False, True])
def test_balance_block_wald_matches_clustered_stacked_regression(trial, weighted):
    """The joint test of a categorical block equals the person-clustered Wald test of a stacked
    regression (level indicators on [1, treat], one equation per level)."""
    s = trial[(trial[vocab.GROUP] == "WMCA_OOW") & (trial[vocab.RESPONDED] == 1)]
    w = s[vocab.WEIGHT].to_numpy() if weighted else np.ones(len(s))
    levels = list(vocab.QUAL_LEVELS)[:-1]
    t = s[vocab.TREAT].to_numpy(float)
    n, q = len(s), len(levels)
    ys, Xs, ws, gs = [], [], [], []
    for j, lv in enumerate(levels):
        ys.append((s["qual"] == lv).to_numpy(float))
        Xj = np.zeros((n, 2 * q))
        Xj[:, 2 * j], Xj[:, 2 * j + 1] = 1, t
        Xs.append(Xj)
        ws.append(w)
        gs.append(np.arange(n))
    ref = sm.WLS(np.concatenate(ys), np.vstack(Xs), weights=np.concatenate(ws)).fit(
        cov_type="cluster", cov_kwds={"groups": np.concatenate(gs), "use_correction": False}
    )
    R = np.zeros((q, 2 * q))
    R[np.arange(q), 2 * np.arange(q) + 1] = 1
    wald_ref = float(ref.wald_test(R, scalar=True, use_f=False).statistic)
    D = np.column_stack(ys)
    d, V, stat, p = balance.diff_test(D, t, w if weighted else None, cov_type="HC0", dist="normal")
    np.testing.assert_allclose(d, ref.params[1::2], rtol=1e-9)
    assert stat == pytest.approx(wald_ref, rel=1e-7)
    assert p == pytest.approx(stats.chi2.sf(wald_ref, q))
    # one column: the F test is the squared regression t test
    d1, _, s1, p1 = balance.diff_test(D[:, 0], t, w, cov_type="HC1", dist="t")
    ref1 = sm.WLS(D[:, 0], sm.add_constant(t), weights=w).fit(cov_type="HC1", use_t=True)
    assert s1 == pytest.approx(ref1.tvalues[1] ** 2) and p1 == pytest.approx(ref1.pvalues[1])


def test_balance_table_layout_and_suppression(trial):
    t = wt.weighted_baseline_table(trial, "SCR_IW")
    assert list(t["label"][:5]) == ["Age", "Female", "Non-white", "Partner", "Dep. children"]
    block = t[(t["variable"] == "qual") & (t["kind"] == "block")].iloc[0]
    assert 0 <= block["p"] <= 1
    levels = t[(t["variable"] == "area") & (t["kind"] == "level")]
    assert len(levels) == 9 and levels["sample"].sum() == pytest.approx(1.0)
    assert (levels.set_index("level").loc[["Dudley", "Wolverhampton"], "population"] == 0).all()
    f = balance.format_balance_table(t, suppress_below=10)
    assert f.columns[1] == "4-month sample, weighted"
    assert f.index[-1] == "Base"
    assert f.loc["Base", "Full 4-month population"] == "500"
    small = t[(t["kind"] == "level") & (t["n_control"] > 0) & (t["n_control"] < 10)]
    if len(small):
        assert "(-)" in f["4-month sample (Control), weighted"].to_numpy()
    unweighted = balance.balance_table(trial, "SCR_IW", weights=None)
    assert not unweighted.attrs["weighted"]
    assert "weighted" not in balance.format_balance_table(unweighted).columns[1]


def test_balance_std_diff_matches_descrstatsw(trial):
    """The std. diff. column, weighted and not, against statsmodels' DescrStatsW:
    (mean_T - mean_C) / sqrt((var_T + var_C) / 2), population (ddof 0) weighted variances
    (Austin 2009), for a numeric row and a categorical level."""
    from statsmodels.stats.weightstats import DescrStatsW

    resp = trial[(trial[vocab.GROUP] == "SCR_OOW") & (trial[vocab.RESPONDED] == 1)]
    for weights in (vocab.WEIGHT, None):
        tab = balance.balance_table(trial, "SCR_OOW", weights=weights)
        for var, level in (("age", None), ("health", "MH"), ("female", None)):
            row = tab[(tab["variable"] == var) & ((tab["level"] == level) if level else (tab["kind"] != "level"))].iloc[0]
            x = (resp[var] == level).astype(float) if level else resp[var].astype(float)
            w = resp[vocab.WEIGHT] if weights else pd.Series(1.0, index=resp.index)
            arm = [DescrStatsW(x[resp[vocab.TREAT] == a], weights=w[resp[vocab.TREAT] == a], ddof=0) for a in (1, 0)]
            expected = (arm[0].mean - arm[1].mean) / np.sqrt((arm[0].var + arm[1].var) / 2)
            assert row["std_diff"] == pytest.approx(expected, rel=1e-10), (var, level, weights)


def test_balance_table_errors(trial):
    bad = trial.copy()
    bad.loc[(bad[vocab.RESPONDED] == 1).idxmax(), vocab.WEIGHT] = 0.0
    with pytest.raises(InputError, match="non-positive"):
        balance.balance_table(bad, None)
    bad = trial.copy()
    bad.loc[(bad[vocab.RESPONDED] == 1).idxmax(), vocab.WEIGHT] = np.nan
    with pytest.raises(InputError, match="missing value"):
        balance.balance_table(bad, None)
    with pytest.raises(InputError, match="no control"):
        balance.balance_table(trial[trial[vocab.TREAT] == 1], "SCR_IW")
    with pytest.raises(InputError, match="missing column"):
        balance.balance_table(trial.drop(columns="partner"), "SCR_IW")
    bad = trial.copy()
    bad.loc[bad.index[0], "qual"] = "PhD"
    with pytest.raises(InputError, match="unexpected level"):
        balance.balance_table(bad, None)


def test_response_model_missing_covariate_gets_a_level_of_its_own(trial):
    """A covariate with missing values: a dummy for them, as statsmodels' Logit with a NaN
    level; ``missing="error"`` refuses."""
    d = trial.copy()
    rng = np.random.default_rng(4)
    d.loc[rng.random(len(d)) < 0.05, "qual"] = np.nan
    p = wt.response_propensity(d, ("age", "qual"))
    rows = d[d[vocab.GROUP] == "SCR_IW"]
    qual = pd.get_dummies(rows["qual"], dummy_na=True, dtype=float)
    X = pd.concat([pd.Series(1.0, index=rows.index), rows[vocab.TREAT].astype(float), rows["age"], qual.iloc[:, 1:]], axis=1)
    ref = sm.Logit(rows[vocab.RESPONDED].to_numpy(float), X.to_numpy()).fit(disp=0)
    assert np.allclose(p[rows.index], ref.predict(X.to_numpy()), atol=1e-8)
    with pytest.raises(InputError, match="'qual' has .* missing value"):
        wt.response_propensity(d, ("age", "qual"), missing="error")
    assert wt.ipw_weights(d, ("age", "qual")).notna().sum() == int(d[vocab.RESPONDED].sum())


def test_rake_missing_values_are_a_level_of_their_own(trial):
    """Raking with item non-response: the missing values are a margin level of their own
    (population_margins gives it its share); a margin without that level refuses them."""
    d = trial.copy()
    rng = np.random.default_rng(9)
    d.loc[rng.random(len(d)) < 0.04, "qual"] = np.nan
    w = wt.rake_to_population(d, vocab.WEIGHT, ("female", "qual"))
    for (g, arm), cell in d.groupby([vocab.GROUP, vocab.TREAT]):
        resp = cell[cell[vocab.RESPONDED] == 1]
        pop = cell["qual"].isna().mean()
        assert np.average(resp["qual"].isna(), weights=w[resp.index]) == pytest.approx(pop, abs=1e-8)
    r = d[d[vocab.RESPONDED] == 1]
    with pytest.raises(InputError, match=r"'qual' has \d+ missing value\(s\); give its margin a share for the level '\(missing\)'"):
        wt.rake(r, np.ones(len(r)), {"qual": {"below_gcse": 0.2, "gcse": 0.3, "a_level": 0.3, "post_a_level": 0.2}})
