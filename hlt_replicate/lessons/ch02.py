"""Lesson 02 (``notebooks/02_nonresponse_weighting.ipynb``): survey non-response and weights.

* :func:`table_4_1` — numbers randomised and responding, reproduced beside Table 4-1;
* :func:`table_4_5` — the SAP decision rule's baseline differences, beside Table 4-5;
* :func:`true_propensity` — each recruit's true probability of responding (``truth.json``);
* :func:`propensity_view` — estimated against true response propensities;
* :func:`make_weights` — the weighting recipe with a chosen response model, trimming rule
  and optional raking (a thin wrapper of :func:`hlt_replicate.weighting.survey_weights`);
* :func:`weights_view` (widget callback) — for one trial group: weight diagnostics (Kish
  design effect, effective sample size, largest ASMD before and after), the love plot, the
  weights' distribution and Tables 4-2..4-4 (weighted sample columns beside the published);
* :func:`oracle_weights` — weights from the true propensities (what no real survey has).

Exercises ``ex1``-``ex4``: :func:`check`, :func:`show_solution`, :func:`solution`.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import vocab
from .. import weighting as wt
from ..balance import balance_table
from ..charts import CONTROL_COLOUR, TREATMENT_COLOUR, love_plot
from ..teaching import Exercise, ExerciseSet, View, load_trial, published

BALANCE_TABLE = {"SCR_IW": "Table 4-2", "SCR_OOW": "Table 4-3", "WMCA_OOW": "Table 4-4"}
TRIM_RULES = {"no trimming": "none", "cap at k × mean": "cap", "percentile (winsorise)": "percentile"}
#: Variables of the ASMD diagnostics (Tables 4-2..4-4's rows plus work history).
ASMD_VARIABLES = ("age", *vocab.BINARY_BASELINE, "qual", "health", "area", "cohort", "work_history", "bl_eq5d")


# =========================================================================================
# Table 4-1
# =========================================================================================
def table_4_1(data: pd.DataFrame) -> pd.DataFrame:
    """Randomised, respondents and response rate by group and arm, reproduced (from the
    data) beside published (read from the targets file, as printed)."""
    rates = wt.response_rates(data)
    rows = []
    for g in vocab.GROUPS:
        pub = published(table="Table 4-1", group=g)
        for arm, a in (("T", 1), ("C", 0)):
            p = pub[pub["arm"] == a].set_index("statistic")
            rows.append({
                "group": vocab.GROUP_LABELS[g], "arm": arm,
                "randomised": f"{int(rates.loc[g, f'randomised_{arm}']):,}", "published randomised": p.loc["randomised", "printed"],
                "respondents": f"{int(rates.loc[g, f'respondents_{arm}']):,}", "published respondents": p.loc["respondents", "printed"],
                "response %": f"{rates.loc[g, f'rate_{arm}']:.1f}", "published %": p.loc["response_pct", "printed"],
            })
    return pd.DataFrame(rows).set_index(["group", "arm"])


def table_4_5(data: pd.DataFrame, reps: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Table 4-5: treatment–control differences in baseline outcomes among respondents (the
    coefficient on treatment in a weighted regression on the SAP controls), their S.E. and
    Westfall-Young adjusted p-values over the five outcomes of each group (``reps``
    permutations; 0 skips them), reproduced beside the published cells."""
    from ..impact import estimate_itt
    from ..multiple_testing import westfall_young

    resp = data[data[vocab.RESPONDED] == 1]
    outcomes = list(vocab.TABLE_4_5_OUTCOMES)
    rows = []
    for g in vocab.GROUPS:
        wy = None
        if reps:
            wy = westfall_young(resp, outcomes, controls=vocab.SAP_CONTROLS, weights=vocab.WEIGHT, reps=reps, seed=seed,
                                group=g, baseline=False)
        for var in outcomes:
            r = estimate_itt(resp, var, g, baseline=False)
            pub = published(section="table_4_5", group=g, variable=var).set_index("statistic")
            cell = lambda s: pub.loc[s, "printed"] if s in pub.index else ""  # noqa: E731
            rows.append({"outcome": var, "group": vocab.GROUP_LABELS[g], "Diff.": f"{r.impact:.3f}", "published Diff.": cell("diff"),
                         "S.E.": f"{r.se:.3f}", "published S.E.": cell("se"), "p (unadjusted)": f"{r.p:.2f}",
                         "P-val (WY)": "" if wy is None else f"{wy.loc[var, 'p_wy']:.2f}", "published P-val": cell("p_wy"),
                         "note": "published inconsistency" if pub["excluded"].any() else ""})
    out = pd.DataFrame(rows).set_index(["outcome", "group"])
    return out.reindex(pd.MultiIndex.from_product([outcomes, [vocab.GROUP_LABELS[g] for g in vocab.GROUPS]], names=["outcome", "group"]))


# =========================================================================================
# True against estimated propensities
# =========================================================================================
def true_propensity(trial) -> pd.Series:
    """Each recruit's true probability of answering the 4-month survey (from
    ``trial.truth["response_propensity"]``), on ``trial.data``'s index."""
    tp = trial.truth["response_propensity"]
    p = pd.Series(tp["p"], index=tp["recruit_id"], dtype=float)
    return pd.Series(trial.data[vocab.ID].map(p).to_numpy(), index=trial.data.index, name="p_true")


def propensity_view(trial, covariates: Sequence[str] = wt.RESPONSE_COVARIATES) -> View:
    """Estimated response propensities (logit on ``covariates`` and arm, per group) against
    the true ones: a table per group and a scatter."""
    d = trial.data
    est = wt.response_propensity(d, list(covariates))
    true = true_propensity(trial)
    rows = []
    fig = Figure(figsize=(10, 3.3), layout="constrained")
    axes = fig.subplots(1, len(vocab.GROUPS), sharex=True, sharey=True)
    for ax, g in zip(axes, vocab.GROUPS):
        m = (d[vocab.GROUP] == g).to_numpy()
        e, t = est[m].to_numpy(), true[m].to_numpy()
        rows.append({"group": vocab.GROUP_LABELS[g], "correlation": np.corrcoef(e, t)[0, 1], "mean estimated": e.mean(),
                     "mean true": t.mean(), "mean |est - true|": np.abs(e - t).mean(),
                     "sd estimated": e.std(), "sd true": t.std()})
        ax.scatter(t, e, s=3, alpha=0.25, color=TREATMENT_COLOUR, rasterized=True)
        ax.plot([0, 1], [0, 1], color="0.3", lw=0.8, ls="--")
        ax.set_title(vocab.GROUP_LABELS[g], fontsize=9.5)
        ax.set_xlabel("True propensity (truth.json)")
        ax.spines[["top", "right"]].set_visible(False)
    axes[0].set_ylabel("Estimated propensity")
    lo = float(min(true.min(), est.min()))
    axes[0].set_xlim(max(0, lo - 0.05), 1)
    axes[0].set_ylim(max(0, lo - 0.05), 1)
    return View(title="Estimated against true response propensities", tables={"": pd.DataFrame(rows).set_index("group").round(3)},
                figure=fig)


def oracle_weights(trial) -> pd.Series:
    """Inverse true propensities for respondents (NaN otherwise), mean 1 within group."""
    d = trial.data
    w = pd.Series(np.where(d[vocab.RESPONDED] == 1, 1 / true_propensity(trial), np.nan), index=d.index, name=vocab.WEIGHT)
    return wt.normalise_weights(w, d[vocab.GROUP])


# =========================================================================================
# The weighting recipe and its diagnostics
# =========================================================================================
def make_weights(
    data: pd.DataFrame,
    covariates: Sequence[str] = wt.RESPONSE_COVARIATES,
    trim: str = "none",
    k: float = 5.0,
    upper: float = 0.99,
    rake: bool = False,
) -> pd.Series:
    """Survey weights: inverse propensity from a logit on ``covariates`` (and arm) within
    group; ``trim`` ``"none"``, ``"cap"`` (at ``k`` × mean) or ``"percentile"`` (at the
    ``upper`` quantile); optional raking to the population margins of
    :data:`hlt_replicate.weighting.RAKE_COLUMNS` within group × arm; mean 1 within group."""
    return wt.survey_weights(data, list(covariates), trim=None if trim == "none" else trim, k=k, upper=upper,
                             rake_columns=wt.RAKE_COLUMNS if rake else None)


def diagnostics(data: pd.DataFrame, weights: pd.Series) -> pd.DataFrame:
    """Per trial group: respondents, largest weight, max/min ratio, Kish design effect and
    effective sample size."""
    summ = wt.weight_summary(weights, data[vocab.GROUP])
    summ = summ.rename(index=lambda g: vocab.GROUP_LABELS.get(g, g))
    return summ[["n", "max", "max_min_ratio", "deff", "ess"]].rename(
        columns={"n": "respondents", "max": "largest weight", "max_min_ratio": "max/min", "deff": "Kish deff", "ess": "effective n"}).round(3)


def baseline_comparison(data: pd.DataFrame, group: str, weights: pd.Series | str = vocab.WEIGHT) -> pd.DataFrame:
    """Tables 4-2..4-4 as reproduced with ``weights`` beside the published columns: full
    population and weighted 4-month sample (reproduced and published), weighted control and
    treatment, and the p-value of the difference. Areas outside the group's site are left out."""
    tab = balance_table(data, group, variables=("age", *vocab.BINARY_BASELINE, "qual", "health", "area", "cohort", "bl_eq5d"),
                        weights=weights)
    pub = published(group=group, section="baseline_characteristics")
    pub_val = {(v, s): p for v, s, p in zip(pub["variable"], pub["statistic"], pub["printed"])}
    rows = []
    for _, r in tab.iterrows():
        if r["kind"] == "level" and r["n_population"] == 0:
            continue
        key = r["variable"] if r["kind"] != "level" else f"{r['variable']}={r['level']}"
        label = ("  " + str(r["label"])) if r["kind"] == "level" else str(r["label"])
        if r["kind"] == "block":
            rows.append({"": label, "population": "", "published population": "", "sample, weighted": "",
                         "published sample": "", "control": "", "treatment": "", "p": f"{r['p']:.2f}",
                         "published p": pub_val.get((key, "p_value"), "")})
            continue
        rows.append({"": label, "population": f"{r['population']:.2f}", "published population": pub_val.get((key, "population"), ""),
                     "sample, weighted": f"{r['sample']:.2f}", "published sample": pub_val.get((key, "sample"), ""),
                     "control": f"{r['control']:.2f}", "treatment": f"{r['treatment']:.2f}",
                     "p": "" if pd.isna(r["p"]) else f"{r['p']:.2f}", "published p": pub_val.get((key, "p_value"), "")})
    return pd.DataFrame(rows).set_index("")


def _max_asmd(tab: pd.DataFrame) -> tuple[float, float]:
    return float(tab["before"].max()), float(tab["after"].max())


def weights_view(
    data: pd.DataFrame,
    covariates: Sequence[str] = wt.RESPONSE_COVARIATES,
    trim: str = "none",
    k: float = 5.0,
    upper: float = 0.99,
    rake: bool = False,
    group: str = "SCR_IW",
) -> View:
    """Widget callback: build weights with :func:`make_weights` and show, for ``group``, the
    diagnostics (design effect, effective n, largest ASMD of respondents against the
    population and between arms, before and after weighting), the love plot, the weights'
    histogram and Table 4-2, 4-3 or 4-4 with the new weights."""
    w = make_weights(data, covariates, trim, k, upper, rake)
    pop = wt.asmd_table(data, group, ASMD_VARIABLES, weights=w, compare="population")
    arms = wt.asmd_table(data, group, ASMD_VARIABLES, weights=w, compare="arms")
    diag = diagnostics(data, w)
    (pb, pa), (ab, aa) = _max_asmd(pop), _max_asmd(arms)
    label = vocab.GROUP_LABELS[group]
    summary = pd.DataFrame({
        "response model": [", ".join(covariates) if covariates else "arm only"],
        "trimming": [{"none": "none", "cap": f"cap at {k:g} × mean", "percentile": f"{upper:.0%} percentile"}[trim]],
        "raking": ["to population margins of " + ", ".join(wt.RAKE_COLUMNS) if rake else "no"],
        "Kish deff": [diag.loc[label, "Kish deff"]], "effective n": [diag.loc[label, "effective n"]],
        "max ASMD vs population (before → after)": [f"{pb:.3f} → {pa:.3f}"],
        "max ASMD T vs C (before → after)": [f"{ab:.3f} → {aa:.3f}"],
    }, index=[label]).T
    fig = Figure(figsize=(10, 0.19 * len(pop) + 1.4))
    gs = fig.add_gridspec(1, 2, width_ratios=[1.5, 1], left=0.24, right=0.98, top=0.93, bottom=0.5 / (0.19 * len(pop) + 1.4), wspace=0.25)
    ax1, ax2 = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    love_plot(pop, ax=ax1, title=f"{label}: respondents vs all randomised")
    x = w[(data[vocab.GROUP] == group) & w.notna()]
    ax2.hist(x, bins=40, color=CONTROL_COLOUR, edgecolor=TREATMENT_COLOUR, lw=0.3)
    ax2.axvline(1, color="0.3", ls="--", lw=0.8)
    ax2.set_xlabel("Survey weight (mean 1)")
    ax2.set_ylabel("Respondents")
    ax2.set_title(f"Weights, {label}: deff {diag.loc[label, 'Kish deff']:.3f}", fontsize=9.5)
    ax2.spines[["top", "right"]].set_visible(False)
    return View(title=f"Weights for {label}",
                tables={"Diagnostics": summary, f"{BALANCE_TABLE[group]} with these weights": baseline_comparison(data, group, w)},
                figure=fig)


def weights_controls() -> dict:
    """Widgets for :func:`weights_view`: response-model covariates, trimming rule and its
    parameters, raking, trial group."""
    import ipywidgets as w

    return {
        "covariates": w.SelectMultiple(options=list(wt.RESPONSE_COVARIATES), value=tuple(wt.RESPONSE_COVARIATES),
                                       rows=len(wt.RESPONSE_COVARIATES), description="Response model"),
        "trim": w.Dropdown(options=list(TRIM_RULES.items()), value="none", description="Trimming"),
        "k": w.FloatSlider(value=2.0, min=1.2, max=6.0, step=0.1, description="cap k"),
        "upper": w.FloatSlider(value=0.99, min=0.9, max=1.0, step=0.005, readout_format=".3f", description="percentile"),
        "rake": w.Checkbox(value=False, description="rake to population margins"),
        "group": w.Dropdown(options=[(vocab.GROUP_LABELS[g], g) for g in vocab.GROUPS], value="SCR_IW", description="Group"),
    }


# =========================================================================================
# Exercises
# =========================================================================================
def _data() -> pd.DataFrame:
    return load_trial().data


def _rate(group: str, arm: int) -> float:
    d = _data()
    rows = d[(d[vocab.GROUP] == group) & (d[vocab.TREAT] == arm)]
    return float(rows[vocab.RESPONDED].mean())


def _expected_ex2() -> float:
    w = _data().loc[lambda d: (d[vocab.GROUP] == "WMCA_OOW") & (d[vocab.RESPONDED] == 1), vocab.WEIGHT].to_numpy()
    return float(len(w) * np.sum(w**2) / np.sum(w) ** 2)


def _female_share(kind: str) -> float:
    d = _data()
    arm = d[(d[vocab.GROUP] == "SCR_IW") & (d[vocab.TREAT] == 1)]
    if kind == "population":
        return float(arm["female"].mean())
    r = arm[arm[vocab.RESPONDED] == 1]
    if kind == "unweighted":
        return float(r["female"].mean())
    return float(np.average(r["female"], weights=r[vocab.WEIGHT]))


def _corr(group: str | None) -> float:
    trial = load_trial()
    est = wt.response_propensity(trial.data)
    true = true_propensity(trial)
    m = np.ones(len(est), bool) if group is None else (trial.data[vocab.GROUP] == group).to_numpy()
    return float(np.corrcoef(est[m], true[m])[0, 1])


def _corr_responded() -> float:
    d = _data()
    m = (d[vocab.GROUP] == "SCR_IW").to_numpy()
    return float(np.corrcoef(wt.response_propensity(d)[m], d.loc[m, vocab.RESPONDED])[0, 1])


def _namespace() -> dict:
    import sys

    return {"np": np, "pd": pd, "vocab": vocab, "wt": wt, "load_trial": load_trial, "published": published,
            "lesson": sys.modules[__name__]}


EXERCISES = ExerciseSet(
    [
        Exercise(
            key="ex1",
            title="The response gap in SCR IW",
            expected=lambda: 100 * (_rate("SCR_IW", 1) - _rate("SCR_IW", 0)),
            tol=0.05,
            hints=(
                (lambda a, x: abs(float(a) * 100 - x) < 0.05, "Give percentage points (e.g. 5.0), not a share (0.05)."),
                (lambda a, x: abs(float(a) + x) < 0.05, "Treatment minus control, not control minus treatment."),
            ),
            default_hint="wt.response_rates(data) has a diff_ppt column; or compare responded.mean() by arm in SCR_IW.",
            solution_code=(
                "data = load_trial().data\n"
                "rates = wt.response_rates(data)\n"
                "answer = rates.loc['SCR_IW', 'diff_ppt']\n"
                "print(f'{answer:.1f} ppt (chi-squared p = {rates.loc[\"SCR_IW\", \"p\"]:.2g})')"
            ),
            explanation=(
                "The gap is the largest of the three groups and above the SAP's 5-point trigger, so the decision rule "
                "goes on to test baseline outcomes (Table 4-5). wt.response_rates also tests it: a chi-squared test of "
                "the 2 x 2 table of arm by response."
            ),
        ),
        Exercise(
            key="ex2",
            title="Kish's design effect of the WMCA OOW weights",
            expected=_expected_ex2,
            tol=0.001,
            hints=(
                (lambda a, x: float(a) > 100, "That looks like the effective sample size n/deff. The design effect is "
                 "n Σw² / (Σw)², a number a little above 1."),
                (lambda a, x: abs(float(a) - 1 / x) < 0.001, "Inverted: deff = n Σw² / (Σw)² is at least 1."),
            ),
            default_hint="wt.kish_deff(weights of WMCA_OOW respondents), or n * sum(w**2) / sum(w)**2.",
            solution_code=(
                "data = load_trial().data\n"
                "w = data.loc[(data.group == 'WMCA_OOW') & (data.responded == 1), 'weight']\n"
                "answer = wt.kish_deff(w)\n"
                "print(f'deff {answer:.3f}: {len(w):,} respondents count as {wt.effective_sample_size(w):,.0f}')"
            ),
            explanation=(
                "A design effect a few hundredths above 1 means the weighting costs only a few per cent of the sample's "
                "information (1.05 would be 5%): the weights vary little because response depends only mildly on the "
                "observed characteristics."
            ),
        ),
        Exercise(
            key="ex3",
            title="What raking does",
            expected=lambda: _female_share("population"),
            tol=0.0005,
            hints=(
                (lambda a, x: abs(float(a) - _female_share("unweighted")) < 0.0005, "That is the unweighted share among "
                 "respondents. Weight it with the raked weights (np.average(..., weights=...))."),
                (lambda a, x: abs(float(a) - _female_share("ipw")) < 0.0005, "That is the share with the IPW weights "
                 "before raking. Rake them first (wt.rake_to_population or lesson.make_weights(..., rake=True))."),
            ),
            default_hint="Rake with lesson.make_weights(data, rake=True), then take the weighted mean of female among "
                         "SCR IW treatment-arm respondents.",
            solution_code=(
                "data = load_trial().data\n"
                "w = lesson.make_weights(data, rake=True)\n"
                "r = (data.group == 'SCR_IW') & (data.treat == 1) & (data.responded == 1)\n"
                "answer = np.average(data.loc[r, 'female'], weights=w[r])\n"
                "pop = data.loc[(data.group == 'SCR_IW') & (data.treat == 1), 'female'].mean()\n"
                "print(f'raked respondents {answer:.4f}; all randomised to treatment {pop:.4f}')"
            ),
            explanation=(
                "Raking adjusts the weights until every raking margin (female, qualification, area, cohort) matches the "
                "randomised population of the same group and arm exactly, so the weighted share of women equals the "
                "population share to many decimals. Margins not raked on match only as well as the response model allows."
            ),
        ),
        Exercise(
            key="ex4",
            title="How well does the response model recover the truth?",
            expected=lambda: _corr("SCR_IW"),
            tol=0.005,
            hints=(
                (lambda a, x: abs(float(a) - _corr(None)) < 0.005, "That is over all three groups; keep SCR IW only."),
                (lambda a, x: abs(float(a) - _corr_responded()) < 0.005, "That correlates the estimate with who responded "
                 "(0/1). Use the true probabilities from trial.truth (lesson.true_propensity(trial))."),
            ),
            default_hint="Correlate wt.response_propensity(data) with lesson.true_propensity(trial) within SCR_IW.",
            solution_code=(
                "trial = load_trial()\n"
                "est = wt.response_propensity(trial.data)\n"
                "true = lesson.true_propensity(trial)\n"
                "m = trial.data.group == 'SCR_IW'\n"
                "answer = np.corrcoef(est[m], true[m])[0, 1]\n"
                "print(f'correlation {answer:.3f}')"
            ),
            explanation=(
                "The correlation is well below 1 because the true response model also depends on an unobserved health "
                "factor (and on work history only through a score). Weights can only correct for what the response model "
                "sees: non-response that depends on unobserved health is still there after weighting, which lesson 03 "
                "shows with the 12-month outcome."
            ),
        ),
    ],
    namespace=_namespace,
)

check = EXERCISES.check
show_solution = EXERCISES.show_solution
solution = EXERCISES.solution
expected = EXERCISES.expected
