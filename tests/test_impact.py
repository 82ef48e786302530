"""hlt_replicate.impact (ITT, participation, tables, subgroups, Bloom) and hlt_replicate.charts,
each cross-checked against an independent route."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from linearmodels.iv import IV2SLS
from matplotlib.figure import Figure
from statsmodels.stats.multitest import multipletests

from _fake_trial import make_fake_trial
from hlt_replicate import charts, vocab
from hlt_replicate import impact as im
from hlt_replicate._checks import InputError
from hlt_replicate.weighting import ipw_weights


@pytest.fixture(scope="module")
def trial():
    df = make_fake_trial(1800, seed=5)
    df[vocab.WEIGHT] = ipw_weights(df)
    return df


def _independent_design(data, group, outcome, baseline=None, controls=vocab.SAP_CONTROLS, group_dummies=True):
    """y, X (treat first after const), w built with pandas.get_dummies, not the kit."""
    rows = data[data[vocab.GROUP].isin(vocab.groups_in(group))]
    rows = rows[rows[outcome].notna()]
    cols = [c for c in controls if c not in vocab.CATEGORICAL_CONTROLS]
    cats = [c for c in controls if c in vocab.CATEGORICAL_CONTROLS]
    if group_dummies and rows[vocab.GROUP].nunique() > 1:
        cats.append(vocab.GROUP)
    parts = [pd.Series(1.0, index=rows.index, name="const"), rows[vocab.TREAT].astype(float), rows[cols].astype(float)]
    if baseline:
        parts.append(rows[baseline].astype(float))
    parts.append(pd.get_dummies(rows[cats], drop_first=True, dtype=float))
    X = pd.concat(parts, axis=1)
    return rows[outcome].to_numpy(float), X, rows[vocab.WEIGHT].to_numpy(float), rows


# --- ITT -------------------------------------------------------------------------------
@pytest.mark.parametrize("cov_type", ["HC1", "HC2", "HC3"])
def test_itt_matches_statsmodels_wls(trial, cov_type):
    r = im.estimate_itt(trial, "swemwbs", "SCR_IW", cov_type=cov_type)
    y, X, w, _ = _independent_design(trial, "SCR_IW", "swemwbs", "bl_swemwbs")
    ref = sm.WLS(y, X, weights=w).fit(cov_type=cov_type, use_t=True)
    assert r.impact == pytest.approx(ref.params[vocab.TREAT], rel=1e-9)
    assert r.se == pytest.approx(ref.bse[vocab.TREAT], rel=1e-8)
    assert r.p == pytest.approx(ref.pvalues[vocab.TREAT], rel=1e-6)
    assert r.nobs == len(y)
    rz = im.estimate_itt(trial, "swemwbs", "SCR_IW", cov_type=cov_type, dist="normal")
    assert rz.p == pytest.approx(sm.WLS(y, X, weights=w).fit(cov_type=cov_type).pvalues[vocab.TREAT], rel=1e-6)


def _with_missing_controls(trial, seed=11):
    """The fake trial with 6 % of baseline EQ5D5L values and 4 % of qualifications missing."""
    d = trial.copy()
    rng = np.random.default_rng(seed)
    d.loc[rng.random(len(d)) < 0.06, "bl_eq5d"] = np.nan
    d.loc[rng.random(len(d)) < 0.04, "qual"] = np.nan
    return d


def test_missing_controls_indicator_matches_statsmodels(trial):
    """The indicator method: a dummy per control with missing values (a level of its own for
    qualification; the observed mean, here 0, for the baseline EQ5D5L), every case kept."""
    d = _with_missing_controls(trial)
    r = im.estimate_itt(d, "eq5d", "SCR_IW")
    rows = d[d[vocab.GROUP].eq("SCR_IW") & d["eq5d"].notna()]
    assert rows["qual"].isna().any() and rows["bl_eq5d"].isna().any()
    y, X, w, _ = _independent_design(d, "SCR_IW", "eq5d", None, controls=[c for c in vocab.SAP_CONTROLS if c != "qual"])
    qual = pd.get_dummies(rows["qual"], dummy_na=True, dtype=float)  # NaN as a level of its own
    X = pd.concat([X, qual.drop(columns=qual.columns[0]), rows["bl_eq5d"].fillna(0.0), rows["bl_eq5d"].isna().astype(float)], axis=1)
    ref = sm.WLS(y, X.to_numpy(), weights=w).fit(cov_type="HC1", use_t=True)
    assert r.nobs == len(rows)  # no case dropped
    assert r.impact == pytest.approx(ref.params[1], rel=1e-9)
    assert r.se == pytest.approx(ref.bse[1], rel=1e-8)
    assert {"qual[missing]", "bl_eq5d[missing]"} <= set(r.fit.names)


def test_missing_controls_drop_and_error(trial):
    d = _with_missing_controls(trial)
    complete = d[d["qual"].notna() & d["bl_eq5d"].notna()]
    r = im.estimate_itt(d, "eq5d", "SCR_IW", missing_controls="drop")
    ref = im.estimate_itt(complete, "eq5d", "SCR_IW", missing_controls="error")
    assert r.nobs == ref.nobs < im.estimate_itt(d, "eq5d", "SCR_IW").nobs
    assert r.impact == pytest.approx(ref.impact, rel=1e-12)
    with pytest.raises(InputError, match=r"control 'qual' has \d+ missing value\(s\); pass missing_controls="):
        im.estimate_itt(d, "eq5d", "SCR_IW", missing_controls="error")
    with pytest.raises(InputError, match="missing_controls"):
        im.estimate_itt(d, "eq5d", "SCR_IW", missing_controls="impute")
    gone = d.assign(bl_eq5d=np.nan)
    with pytest.raises(InputError, match="'bl_eq5d' is missing for every row"):
        im.estimate_itt(gone, "eq5d", "SCR_IW")
    # complete data: no extra column, the same estimate under every option
    base = im.estimate_itt(trial, "eq5d", "SCR_IW")
    assert not any(n.endswith("[missing]") for n in base.fit.names)
    for how in ("drop", "error"):
        assert im.estimate_itt(trial, "eq5d", "SCR_IW", missing_controls=how).impact == base.impact


def test_itt_hand_computed_2x2():
    # binary outcome x binary arm: treatment 30/50 in work, control 20/50; no controls, no weights.
    df = pd.DataFrame({vocab.TREAT: np.repeat([1, 0], 50), "y": np.r_[np.ones(30), np.zeros(20), np.ones(20), np.zeros(30)]})
    kw = dict(controls=(), weights=None, baseline=False)
    r = im.estimate_itt(df, "y", **kw, cov_type="HC0")
    assert r.impact == pytest.approx(0.2)
    assert r.control_mean == pytest.approx(0.4) and r.treatment_mean == pytest.approx(0.6)
    assert r.se == pytest.approx(np.sqrt(0.6 * 0.4 / 50 + 0.4 * 0.6 / 50))  # HC0 = plug-in variances / n
    r2 = im.estimate_itt(df, "y", **kw, cov_type="HC2")
    assert r2.se == pytest.approx(np.sqrt(0.6 * 0.4 / 49 + 0.4 * 0.6 / 49))  # HC2 = Neyman (n - 1)
    assert r.binary and np.isnan(r.as_row()["effect_size"])


def test_pooled_group_indicators(trial):
    d = im.build_design(trial[trial[vocab.GROUP].isin(vocab.groups_in("SCR"))], "eq5d")
    assert "group[SCR_OOW]" in d.names
    # SCR/WMCA OOW: the area dummies nest the site, so the group dummy is spanned and left out
    oow = trial[trial[vocab.GROUP].isin(vocab.groups_in("OOW_pooled"))]
    assert not any(n.startswith("group[") for n in im.build_design(oow, "eq5d").names)
    no_area = [c for c in vocab.SAP_CONTROLS if c != "area"]
    assert "group[WMCA_OOW]" in im.build_design(oow, "eq5d", controls=no_area).names
    # estimates equal an independent regression with group dummies (areas absorbing them)
    for grp, ctrl in (("SCR", vocab.SAP_CONTROLS), ("OOW_pooled", no_area)):
        r = im.estimate_itt(trial, "eq5d", grp, controls=ctrl)
        y, X, w, _ = _independent_design(trial, grp, "eq5d", "bl_eq5d", ctrl)
        assert any(c.startswith("group_") for c in X.columns)
        ref = sm.WLS(y, X, weights=w).fit(cov_type="HC1")
        assert r.impact == pytest.approx(ref.params[vocab.TREAT], rel=1e-9)
        assert r.se == pytest.approx(ref.bse[vocab.TREAT], rel=1e-8)
    r_full = im.estimate_itt(trial, "eq5d", "OOW_pooled")
    y, X, w, _ = _independent_design(trial, "OOW_pooled", "eq5d", "bl_eq5d", group_dummies=False)
    assert r_full.impact == pytest.approx(sm.WLS(y, X, weights=w).fit().params[vocab.TREAT], rel=1e-9)


# --- bad input ---------------------------------------------------------------------------
def test_errors_are_specific(trial):
    scr = trial[trial[vocab.GROUP] == "SCR_IW"]
    with pytest.raises(InputError, match="missing column.*'partner'"):
        im.estimate_itt(scr.drop(columns="partner"), "eq5d")
    bad = scr.copy()
    bad.loc[bad["eq5d"].notna().idxmax(), vocab.TREAT] = 2
    with pytest.raises(InputError, match="'treat' must be 0/1"):
        im.estimate_itt(bad, "eq5d")
    with pytest.raises(InputError, match="no control"):
        im.estimate_itt(scr[scr[vocab.TREAT] == 1], "eq5d")
    bad = scr.copy()
    bad.loc[bad[vocab.RESPONDED] == 1, vocab.WEIGHT] = -1.0
    with pytest.raises(InputError, match="non-positive"):
        im.estimate_itt(bad, "eq5d")
    bad = scr.copy()
    bad.loc[bad["eq5d"].notna().idxmax(), vocab.WEIGHT] = np.nan
    with pytest.raises(InputError, match="missing value"):
        im.estimate_itt(bad, "eq5d")
    bad = scr.copy()
    bad.loc[bad["eq5d"].notna(), "eq5d"] = 0.5
    with pytest.raises(InputError, match="zero variance"):
        im.estimate_itt(bad, "eq5d")
    tiny = scr[scr["eq5d"].notna()].groupby(vocab.TREAT).head(6)
    with pytest.raises(InputError, match="fewer observations than parameters"):
        im.estimate_itt(tiny, "eq5d")
    bad = scr.copy()
    bad["age2"] = bad["age"] * 2
    with pytest.raises(InputError, match="collinear: 'age2'"):
        im.estimate_itt(bad, "eq5d", controls=(*vocab.SAP_CONTROLS, "age2"))
    with pytest.raises(InputError, match="unknown group"):
        im.estimate_itt(trial, "eq5d", "SCR_XX")
    with pytest.raises(InputError, match="sd="):
        im.estimate_itt(trial, "eq5d", "SCR", sd="median")



def test_more_bad_inputs_name_their_cause(trial):
    """Pooled groups, the IV, text values and exact fits: each error names the column."""
    one_arm = trial.copy()  # SCR IW with its treatment arm only, pooled with SCR OOW
    one_arm.loc[(one_arm[vocab.GROUP] == "SCR_IW") & (one_arm[vocab.TREAT] == 0), vocab.TREAT] = 1
    with pytest.raises(InputError, match="no control.*in trial group 'SCR_IW'"):
        im.estimate_itt(one_arm, "eq5d", "SCR")
    with pytest.raises(InputError, match="no control.*in trial group 'SCR_IW'"):
        im.estimate_participation(one_arm, "eq5d", "SCR")
    bad = trial.copy()
    bad["age2"] = bad["age"] * 2
    with pytest.raises(InputError, match="instrument matrix.*collinear: 'age2'"):
        im.estimate_participation(bad, "eq5d", "SCR_IW", controls=(*vocab.SAP_CONTROLS, "age2"))
    scr = trial[trial[vocab.GROUP] == "SCR_IW"]
    bad = scr.copy()
    bad[vocab.TREAT] = np.where(bad[vocab.TREAT] == 1, "T", "C")
    with pytest.raises(InputError, match="'treat' has non-numeric value.*'T'"):
        im.estimate_itt(bad, "eq5d")
    bad = scr.copy()
    bad[vocab.WEIGHT] = bad[vocab.WEIGHT].astype(object)
    bad.loc[bad["eq5d"].notna().idxmax(), vocab.WEIGHT] = "heavy"
    with pytest.raises(InputError, match="weights column 'weight' has non-numeric value.*'heavy'"):
        im.estimate_itt(bad, "eq5d")
    bad = scr.copy()  # constant within each arm: zero residuals, no standard error
    seen = bad["eq5d"].notna()
    bad.loc[seen, "eq5d"] = 0.5 + 0.1 * bad.loc[seen, vocab.TREAT]
    with pytest.raises(InputError, match="outcome .eq5d.: the regressors fit it exactly"):
        im.estimate_itt(bad, "eq5d", baseline=False)



def test_effect_size_sd_conventions(trial):
    """sd="control": the control respondents' weighted s.d. (ddof 0); sd="pooled": all
    respondents' with the outcome, as statsmodels' DescrStatsW gives them."""
    from statsmodels.stats.weightstats import DescrStatsW

    rows = trial[(trial[vocab.GROUP] == "SCR_IW") & trial["eq5d"].notna()]
    ctrl = rows[vocab.TREAT] == 0
    for sd, sub in (("control", rows[ctrl]), ("pooled", rows)):
        r = im.estimate_itt(trial, "eq5d", "SCR_IW", sd=sd)
        assert r.sd == pytest.approx(DescrStatsW(sub["eq5d"], weights=sub[vocab.WEIGHT], ddof=0).std, rel=1e-12)
        assert r.effect_size == pytest.approx(r.impact / r.sd)
    assert im.estimate_itt(trial, "eq5d", "SCR_IW", sd="pooled").impact == im.estimate_itt(trial, "eq5d", "SCR_IW").impact


# --- report tables -----------------------------------------------------------------------
def test_significance_stars_conventions():
    assert im.significance_stars(0.004, "footnote_15") == "**"  # footnote 15: p < .01
    assert im.significance_stars(0.004) == "***"  # default §4.3: 99 %
    assert im.significance_stars(0.07, "footnote_15") == "" and im.significance_stars(0.07) == "*"
    assert im.significance_stars(0.0009, "footnote_15") == "***" and im.significance_stars(np.nan) == ""
    assert im.significance_stars(0.02, (0.2, 0.1, 0.05)) == "***"
    with pytest.raises(InputError, match="convention"):
        im.significance_stars(0.01, "apa")
    with pytest.raises(InputError, match="decreasing"):
        im.significance_stars(0.01, (0.01, 0.05, 0.1))


def test_impact_table_layout_and_units(trial):
    tab = im.impact_table(trial, "SCR_OOW")
    assert list(tab["outcome"]) == list(vocab.OUTCOMES)
    r = im.estimate_itt(trial, "paid_work", "SCR_OOW")
    row = tab.set_index("outcome").loc["paid_work"]
    assert row["impact"] == pytest.approx(100 * r.impact) and row["unit"] == "ppt"
    assert row["control"] == pytest.approx(100 * r.control_mean) and np.isnan(row["effect_size"])
    share = im.impact_table(trial, "SCR_OOW", ["paid_work", "eq5d"], binary_scale="share").set_index("outcome")
    assert share.loc["paid_work", "impact"] == pytest.approx(r.impact)
    e = im.estimate_itt(trial, "eq5d", "SCR_OOW")
    assert share.loc["eq5d", "effect_size"] == pytest.approx(e.impact / e.sd)
    assert share.loc["eq5d", "sd_basis"].startswith("weighted SD, control")
    assert (tab["p_adj"] == tab["p"]).all()
    printed = im.format_impact_table(share)
    assert list(printed.columns) == ["Control", "Treatment", "Impact", "S.E.", "sd.s", "", "Base"]
    assert printed.loc["In paid work", "sd.s"] == "-"
    part = im.format_impact_table(im.impact_table(trial, "SCR", ["paid_work", "eq5d", "swemwbs"], kind="participation"))
    assert list(part.columns) == ["Impact", "S.E.", "sd.s", "", "Base"]  # Tables 4-9, 4-11, 4-13


def test_impact_table_p_adjust(trial):
    outs = ["eq5d", "swemwbs", "jsse"]
    holm = im.impact_table(trial, "SCR_IW", outs, p_adjust="holm")
    np.testing.assert_allclose(holm["p_adj"], multipletests(holm["p"], method="holm")[1])
    assert list(holm["stars"]) == [im.significance_stars(p) for p in holm["p_adj"]]
    custom = im.impact_table(trial, "SCR_IW", outs, p_adjust=lambda p: np.minimum(1, 4 * p))
    np.testing.assert_allclose(custom["p_adj"], np.minimum(1, 4 * holm["p"]))
    with pytest.raises(InputError, match="p_adjust"):
        im.impact_table(trial, "SCR_IW", ["eq5d"], p_adjust="tukey")
    with pytest.raises(InputError, match="duplicates"):
        im.impact_table(trial, "SCR_IW", ["eq5d", "eq5d"])
    with pytest.raises(InputError, match="outcome 'nope'"):
        im.impact_table(trial, "SCR_IW", ["nope"])


def test_impact_table_wy_matches_multiple_testing(trial):
    from hlt_replicate.multiple_testing import westfall_young

    outs = ["eq5d", "swemwbs", "jsse"]
    tab = im.impact_table(trial, "SCR_IW", outs, p_adjust="wy", wy_kwargs=dict(reps=200, seed=3))
    ref = westfall_young(trial, outs, vocab.TREAT, vocab.SAP_CONTROLS, vocab.WEIGHT, reps=200, strata=vocab.GROUP,
                         seed=3, group="SCR_IW", baseline=True)
    np.testing.assert_allclose(tab["p_adj"], ref.loc[outs, "p_wy"])
    np.testing.assert_allclose(tab["p"], ref.loc[outs, "p"], rtol=1e-6)  # same regressions
    assert (tab["p_adj"] >= tab["p"] - 1e-12).all()


# --- participation (IV) ------------------------------------------------------------------
@pytest.mark.parametrize("cov_type,debiased", [("HC0", False), ("HC1", True)])
def test_participation_matches_linearmodels(trial, cov_type, debiased):
    r = im.estimate_participation(trial, "eq5d", "SCR_OOW", cov_type=cov_type)
    y, X, w, rows = _independent_design(trial, "SCR_OOW", "eq5d", "bl_eq5d")
    exog = X.drop(columns=vocab.TREAT)
    ref = IV2SLS(y, exog, rows[vocab.PARTICIPATED].astype(float), rows[vocab.TREAT].astype(float), weights=w).fit(
        cov_type="robust", debiased=debiased
    )
    assert r.impact == pytest.approx(ref.params[vocab.PARTICIPATED], rel=1e-8)
    assert r.se == pytest.approx(ref.std_errors[vocab.PARTICIPATED], rel=1e-7)


def test_bloom_identity(trial):
    b = im.bloom_check(trial, "swemwbs", "SCR")
    assert abs(b.difference) < 1e-10
    assert b.iv == pytest.approx(b.itt / b.first_stage)
    # textbook Bloom ratio without controls: (weighted mean diff) / (participation rate in T)
    b0 = im.bloom_check(trial, "swemwbs", "SCR", controls=(), baseline=False)
    rows = trial[trial[vocab.GROUP].isin(("SCR_IW", "SCR_OOW")) & trial["swemwbs"].notna()]
    # no controls but pooled: the group dummy stays, so compare with the kit-free ratio only
    # for a single group
    b1 = im.bloom_check(trial, "swemwbs", "SCR_IW", controls=(), baseline=False)
    s = rows[rows[vocab.GROUP] == "SCR_IW"]
    t, w = s[vocab.TREAT] == 1, s[vocab.WEIGHT]
    itt = np.average(s.loc[t, "swemwbs"], weights=w[t]) - np.average(s.loc[~t, "swemwbs"], weights=w[~t])
    rate = np.average(s.loc[t, vocab.PARTICIPATED], weights=w[t])
    assert b1.bloom == pytest.approx(itt / rate) and b1.iv == pytest.approx(itt / rate)
    assert abs(b0.difference) < 1e-10
    bad = trial.copy()
    bad[vocab.PARTICIPATED] = 0
    with pytest.raises(InputError, match="Bloom ratio is undefined"):
        im.bloom_check(bad, "swemwbs", "SCR")
    bad = trial.copy()
    bad.loc[bad[vocab.TREAT] == 0, vocab.PARTICIPATED] = 1
    with pytest.raises(InputError, match="control arm"):
        im.estimate_participation(bad, "eq5d", "SCR")


# --- subgroups ---------------------------------------------------------------------------
def test_subgroup_impacts_match_statsmodels_formula(trial):
    res = im.subgroup_impacts(trial, "jsse", "SCR_OOW", "work_history")
    rows = trial[(trial[vocab.GROUP] == "SCR_OOW") & trial["jsse"].notna()].copy()
    formula = (
        "jsse ~ treat * C(work_history, Treatment('never')) + age + female + nonwhite + partner + dep_children"
        " + C(qual) + C(health) + C(area) + C(cohort) + bl_jsse"
    )
    import statsmodels.formula.api as smf

    ref = smf.wls(formula, rows, weights=rows[vocab.WEIGHT]).fit(cov_type="HC1", use_t=True)
    inter = [n for n in ref.params.index if n.startswith("treat:")]
    assert len(inter) == res.df == 3
    ft = ref.f_test(np.eye(len(ref.params))[[list(ref.params.index).index(n) for n in inter]])
    assert res.p_interaction == pytest.approx(float(ft.pvalue), rel=1e-6)
    assert res.wald / res.df == pytest.approx(float(np.squeeze(ft.fvalue)), rel=1e-6)
    tab = res.table.set_index("level")
    assert tab.loc["Never worked", "impact"] == pytest.approx(ref.params["treat"], rel=1e-8)
    name = next(n for n in inter if "always" in n)
    assert tab.loc["Always worked", "impact"] == pytest.approx(ref.params["treat"] + ref.params[name], rel=1e-8)
    assert tab["base"].sum() == len(rows)


def test_subgroup_bands_and_gender(trial):
    s = im.subgroup_column(pd.DataFrame({"age": [20, 34.9, 35, 49.9, 50, np.nan]}), "age_band")
    assert list(s.astype(object).fillna("NA")) == ["Under 35", "Under 35", "35-49", "35-49", "50+", "NA"]
    e = im.subgroup_column(pd.DataFrame({"bl_eqvas": [0, 49, 50, 74, 75, 100]}), "eqvas_band")
    assert list(e.cat.codes) == [0, 0, 1, 1, 2, 2]
    res = im.subgroup_impacts(trial, "paid_work", "OOW_pooled", "female")
    assert list(res.table["level"]) == ["Male", "Female"] and res.df == 1
    assert "female" not in res.fit.names  # the subgroup's own dummy replaces the control
    t = im.subgroup_table(trial, "eq5d", "SCR_IW")
    assert set(t["dimension"]) == set(vocab.SUBGROUP_DIMENSIONS)
    assert t.groupby("dimension")["p_interaction"].nunique().eq(1).all()
    with pytest.raises(InputError, match="increasing"):
        im.subgroup_column(pd.DataFrame({"age": [1]}), "age_band", bands=((50, "old"), (0, "young")))
    one = trial[trial["female"] == 1]
    with pytest.raises(InputError, match="nothing to compare"):
        im.subgroup_impacts(one, "eq5d", "SCR", "female")
    # a level with one arm only: an error, unless min_per_arm drops it
    thin = trial.drop(trial.index[(trial["work_history"] == "never") & (trial[vocab.TREAT] == 0)])
    with pytest.raises(InputError, match="no control.*work_history='Never worked'"):
        im.subgroup_impacts(thin, "eq5d", "SCR_OOW", "work_history")
    res = im.subgroup_impacts(thin, "eq5d", "SCR_OOW", "work_history", min_per_arm=5)
    assert res.dropped == ("Never worked",) and "Never worked" not in set(res.table["level"]) and res.df == 2


# --- charts ------------------------------------------------------------------------------
def test_charts_return_figures(trial):
    r = im.estimate_itt(trial, "paid_work", "SCR_IW")
    fig = charts.impact_chart(r)
    assert isinstance(fig, Figure)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any(t.startswith("Impact: ") and "ppt" in t for t in texts)
    row = im.impact_table(trial, "SCR_IW", ["eq5d"]).iloc[0]
    texts = [t.get_text() for t in charts.impact_chart(row).axes[0].texts]
    assert any("sd)" in t for t in texts)
    fp = charts.forest_plot(im.subgroup_table(trial, "eq5d", "SCR_IW", ("female", "age_band")), overall=(0.01, -0.02, 0.04))
    assert isinstance(fp, Figure)
    assert any("interaction p" in t.get_text() for t in fp.axes[0].texts)
    assert isinstance(charts.forest_plot(im.subgroup_impacts(trial, "eq5d", "SCR_IW", "age_band")), Figure)
    from hlt_replicate.weighting import asmd_table

    assert isinstance(charts.love_plot(asmd_table(trial, "SCR_IW")), Figure)
    with pytest.raises(InputError, match="ImpactResult"):
        charts.impact_chart(3.0)


def test_widget_functions_do_not_mutate_their_input(trial):
    from hlt_replicate import balance, randomisation, weighting

    before = trial.copy()
    im.impact_table(trial, "SCR", ["eq5d", "paid_work"])
    im.subgroup_table(trial, "eq5d", "SCR_IW", ("female", "eqvas_band"))
    im.bloom_check(trial, "eq5d", "SCR_IW")
    balance.balance_table(trial, "SCR_IW")
    weighting.survey_weights(trial, trim="cap", k=2, rake_columns=("female",))
    weighting.asmd_table(trial, "WMCA_OOW", compare="population")
    weighting.trim_weights(trial[vocab.WEIGHT], "percentile", upper=0.95)
    randomisation.ri_impact(trial, "eq5d", "SCR_IW", n_perm=20)
    pd.testing.assert_frame_equal(trial, before)
