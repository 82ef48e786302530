"""Lesson 03 (``notebooks/03_impact_estimation.ipynb``): impacts, as in §4.3 of the report.

* :func:`published_row` — the published (or derived) cells of one impact, as printed;
* :func:`estimate` — an ITT or participation impact with a chosen control set and weights on
  or off (a thin wrapper of :func:`hlt_replicate.impact.estimate_itt` /
  :func:`~hlt_replicate.impact.estimate_participation`);
* :func:`impact_view` (widget callback) — the report-style chart (raw means as bars, impact
  in a box) and a table: this estimate, the published cells and the synthetic truth;
* :func:`primary_figures` — the three primary-outcome charts of a group (Figures 4-2..4-4 …);
* :func:`secondary_comparison`, :func:`participation_comparison` — Tables 4-8..4-15 and
  4-9/4-11/4-13 reproduced beside the published cells;
* :func:`subgroup_view` — a subgroup forest plot (Figures 4-5..4-8 …);
* :func:`truth_comparison` — 4-month estimates against the true effects in ``truth.json``;
* :func:`sustained_comparison` — the 12-month administrative outcome: truth, all recruits,
  and respondent-only estimates (unweighted, survey weights, true-propensity weights);
* :func:`response_simulation` — re-draw who responds from the true propensities to split a
  respondent-only estimate's error into non-response bias and noise.

Exercises ``ex1``-``ex4``: :func:`check`, :func:`show_solution`, :func:`solution`.
"""
from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import impact as im
from .. import vocab
from ..charts import CONTROL_COLOUR, TREATMENT_COLOUR, forest_plot, impact_chart
from ..teaching import Exercise, ExerciseSet, View, load_trial, published, respondents

SUSTAINED = vocab.SUSTAINED_EMP_12M
#: Control sets offered by the widget: key -> (label, controls, baseline-of-outcome).
CONTROL_SETS: dict[str, tuple[str, tuple[str, ...], bool]] = {
    "sap+baseline": ("SAP controls + baseline outcome (the report)", vocab.SAP_CONTROLS, True),
    "sap": ("SAP controls only", vocab.SAP_CONTROLS, False),
    "none": ("none: difference in means", (), False),
}
KINDS = {"ITT (assignment)": "itt", "participation (IV)": "participation"}
_PUB_STATS = {
    "itt": ("control", "treatment", "impact", "se", "sd_s", "stars", "base"),
    "participation": ("iv_impact", "iv_se", "iv_sd_s", "stars", "iv_base"),
}
COLUMNS = ("Control", "Treatment", "Impact", "S.E.", "sd.s", "", "Base")


def stars_rule(convention: str | None = None) -> str:
    """The thresholds of a star convention (default: the kit's, that of
    :func:`hlt_replicate.impact.significance_stars`) in words."""
    if convention is None:
        convention = inspect.signature(im.significance_stars).parameters["convention"].default
    one, two, three = im.STAR_CONVENTIONS[convention]
    return f"*** p<{three:g}, ** p<{two:g}, * p<{one:g}"


def outcome_label(outcome: str) -> str:
    meta = vocab.OUTCOMES.get(outcome)
    return meta.label if meta else ("Sustained employment, 12 months (admin.)" if outcome == SUSTAINED else outcome)


# =========================================================================================
# Published cells and estimates
# =========================================================================================
def _source(group: str, outcome: str, kind: str) -> tuple[str, str]:
    """(section, label) of the published cells of one impact."""
    if outcome == SUSTAINED:
        return "admin_12m", "IES blog Table 1 (12 months)"
    if kind == "participation":
        return "participation_impacts", vocab.PARTICIPATION_TABLE.get(group, "no participation table")
    if outcome in vocab.PRIMARY_OUTCOMES:
        return "primary_outcomes", "primary-outcome figure (lost; derived)"
    return "secondary_impacts", vocab.SECONDARY_TABLE.get(group, "")


def published_row(group: str, outcome: str, kind: str = "itt") -> dict:
    """Published cells of one impact as printed, keyed like :data:`COLUMNS` (missing cells
    are empty strings), plus ``source`` and ``flag`` (the cells' kind, and "published
    inconsistency" when the targets file marks any of them so)."""
    section, label = _source(group, outcome, kind)
    pub = published(section=section, group=group, variable=outcome)
    row = dict.fromkeys(COLUMNS, "")
    row.update(source=label, flag="")
    if pub.empty:
        return row
    cells = dict(zip(pub["statistic"], pub["printed"]))
    names = dict(zip(_PUB_STATS["itt"], COLUMNS)) | {"iv_impact": "Impact", "iv_se": "S.E.", "iv_sd_s": "sd.s", "iv_base": "Base"}
    for stat, col in names.items():
        if stat in cells:
            row[col] = "" if cells[stat] == "none" else cells[stat]
    shown = pub[pub["statistic"].isin(names)]
    notes = [f"{k}: {', '.join(names[s] or 'stars' for s in part['statistic'])}"
             for k, part in shown.groupby("kind", sort=True) if k != "published"]
    if shown["excluded"].any():
        notes.append("published inconsistency")
    row["flag"] = "; ".join(notes)
    return row


def estimate(
    data: pd.DataFrame,
    group: str,
    outcome: str,
    controls: str = "sap+baseline",
    weights: bool = True,
    kind: str = "itt",
    sample: str = "respondents",
) -> im.ImpactResult:
    """One impact: ``kind`` ``"itt"`` or ``"participation"``, controls from
    :data:`CONTROL_SETS`, survey weights on or off, among ``"respondents"`` or (for the
    12-month outcome, observed for everyone, unweighted) ``"all"`` recruits."""
    _, ctrl, baseline = CONTROL_SETS[controls]
    rows = data if sample == "all" else respondents(data)
    w = vocab.WEIGHT if weights and sample != "all" else None
    fn = im.estimate_itt if kind == "itt" else im.estimate_participation
    return fn(rows, outcome, group, controls=ctrl, weights=w, baseline=baseline)


def printed_row(res: im.ImpactResult) -> dict:
    """An estimate in the printed layout of Tables 4-8..4-15 (shares for 0/1 outcomes)."""
    return {"Control": f"{res.control_mean:.2f}", "Treatment": f"{res.treatment_mean:.2f}", "Impact": f"{res.impact:.2f}",
            "S.E.": f"{res.se:.2f}", "sd.s": "-" if res.binary else f"{res.effect_size:.1f}",
            "": im.significance_stars(res.p), "Base": f"{res.nobs:,}"}


def _truth(trial, group: str, outcome: str) -> float | None:
    g = trial.truth["groups"].get(group)
    if g is None:
        return None
    return g["tau_sustained_emp_12m"] if outcome == SUSTAINED else g["tau"].get(outcome)


def impact_view(
    trial,
    group: str = "SCR_IW",
    outcome: str = "swemwbs",
    controls: str = "sap+baseline",
    weights: bool = True,
    kind: str = "itt",
) -> View:
    """Widget callback: the report-style chart of one impact (raw means as bars, the impact
    and its stars in a box) and a table with this estimate, the published cells and the
    synthetic truth (trial groups only; for the 12-month outcome also the estimate from all
    recruits). Participation (IV) estimates have no chart bars of their own: the chart shows
    the ITT means with the IV impact."""
    data = trial.data
    res = estimate(data, group, outcome, controls, weights, kind)
    lines = {f"this estimate ({'respondents' if outcome != SUSTAINED else 'respondents only'})": printed_row(res)}
    if outcome == SUSTAINED:
        lines["all recruits (admin. data)"] = printed_row(estimate(data, group, outcome, controls, False, kind, sample="all"))
    pub = published_row(group, outcome, kind)
    lines[f"published: {pub['source']}" + (f" [{pub['flag']}]" if pub["flag"] else "")] = {c: pub[c] for c in COLUMNS}
    tau = _truth(trial, group, outcome) if kind == "itt" else None
    if tau is not None:
        lines["truth: τ (synthetic data only)"] = {**dict.fromkeys(COLUMNS, ""), "Impact": f"{tau:.2f}"}
    table = pd.DataFrame(lines).T[list(COLUMNS)]
    title = f"{outcome_label(outcome)}, {vocab.GROUP_LABELS[group]}" + (" (participation, IV)" if kind == "participation" else "")
    fig = impact_chart(res, title=title)
    note = (f"{CONTROL_SETS[controls][0]}; survey weights {'on' if weights else 'off'}. Stars: {stars_rule()}, from the "
            "unadjusted p-value; the report's stars use Westfall-Young adjusted p-values.")
    return View(title=title, tables={"": table}, figure=fig, note=note)


def impact_controls() -> dict:
    """Widgets for :func:`impact_view`: group, outcome, controls, weights, ITT/participation."""
    import ipywidgets as w

    outcomes = [(outcome_label(o), o) for o in (*vocab.OUTCOMES, SUSTAINED)]
    return {
        "group": w.Dropdown(options=[(vocab.GROUP_LABELS[g], g) for g in vocab.ALL_GROUPS], value="SCR_IW", description="Group"),
        "outcome": w.Dropdown(options=outcomes, value="swemwbs", description="Outcome"),
        "controls": w.Dropdown(options=[(v[0], k) for k, v in CONTROL_SETS.items()], value="sap+baseline", description="Controls"),
        "weights": w.Checkbox(value=True, description="survey weights"),
        "kind": w.ToggleButtons(options=list(KINDS.items()), value="itt", description="Impact of"),
    }


# =========================================================================================
# Report figures and tables
# =========================================================================================
def primary_figures(data: pd.DataFrame, group: str) -> Figure:
    """The three primary-outcome charts of ``group`` side by side (employment, health,
    wellbeing; e.g. Figures 4-2..4-4 for SCR IW)."""
    fig = Figure(figsize=(11, 3.5))
    fig.subplots_adjust(left=0.07, right=0.98, top=0.86, bottom=0.14, wspace=0.35)
    resp = respondents(data)
    for ax, o in zip(fig.subplots(1, 3), vocab.PRIMARY_OUTCOMES):
        impact_chart(im.estimate_itt(resp, o, group), ax=ax, title=outcome_label(o))
    fig.suptitle(f"Primary outcomes, {vocab.GROUP_LABELS[group]} (4-month survey respondents)", fontsize=11)
    return fig


def _comparison(tab: pd.DataFrame, group: str, kind: str) -> pd.DataFrame:
    rows = []
    for _, r in tab.iterrows():
        pub = published_row(group, r["outcome"], kind)
        rows.append({"": r["label"], "Impact": f"{r['impact']:.2f}", "published Impact": pub["Impact"],
                     "S.E.": f"{r['se']:.2f}", "published S.E.": pub["S.E."],
                     "sd.s": "-" if r["binary"] else f"{r['effect_size']:.1f}", "published sd.s": pub["sd.s"] or "-",
                     "stars": r["stars"], "published stars": pub[""],
                     "Base": f"{int(r['base']):,}", "published Base": pub["Base"], "note": pub["flag"]})
    return pd.DataFrame(rows).set_index("")


def secondary_comparison(data: pd.DataFrame, group: str, p_adjust: str | None = None, reps: int = 1000, seed: int = 1) -> pd.DataFrame:
    """Table 4-8/4-10/4-12/4-14/4-15 of ``group`` reproduced (respondents, SAP controls,
    survey weights; binary outcomes as shares) beside the published cells. ``p_adjust="wy"``
    takes the stars from Westfall-Young adjusted p-values (``reps`` resamples)."""
    tab = im.impact_table(respondents(data), group, vocab.SECONDARY_OUTCOMES, binary_scale="share", p_adjust=p_adjust,
                          wy_kwargs={"reps": reps, "seed": seed} if p_adjust == "wy" else None)
    return _comparison(tab, group, "itt")


def participation_comparison(data: pd.DataFrame, group: str) -> pd.DataFrame:
    """Table 4-9/4-11/4-13 of ``group`` (impact of attending at least one IPS session, 2SLS
    with assignment as the instrument) beside the published cells."""
    tab = im.impact_table(respondents(data), group, vocab.PRIMARY_OUTCOMES, kind="participation", binary_scale="share")
    return _comparison(tab, group, "participation")


def subgroup_view(data: pd.DataFrame, group: str = "SCR_OOW", outcome: str = "paid_work") -> View:
    """The subgroup figure of one outcome and group (gender, age, work history, EQ-VAS), with
    the overall impact as a band, and its table."""
    resp = respondents(data)
    tab = im.subgroup_table(resp, outcome, group, min_per_arm=10)
    fig = forest_plot(tab, overall=im.estimate_itt(resp, outcome, group))
    show = tab[["dimension_label", "level", "impact", "se", "ci_low", "ci_high", "base", "p_interaction"]].round(3)
    return View(title=f"Subgroups: {outcome_label(outcome)}, {vocab.GROUP_LABELS[group]}", tables={"": show.set_index(["dimension_label", "level"])},
                figure=fig)


def truth_comparison(trial, group: str) -> pd.DataFrame:
    """Each 4-month outcome of a trial group: the true effect τ (``truth.json``), the
    report's estimate with its 95% CI, and whether the CI covers τ."""
    resp = respondents(trial.data)
    rows = []
    for o in vocab.OUTCOMES:
        r = im.estimate_itt(resp, o, group)
        lo, hi = r.ci()
        tau = trial.truth["groups"][group]["tau"][o]
        rows.append({"outcome": outcome_label(o), "truth τ": tau, "estimate": r.impact, "ci_low": lo, "ci_high": hi,
                     "covers τ": bool(lo <= tau <= hi), "estimate − τ (in SEs)": (r.impact - tau) / r.se})
    return pd.DataFrame(rows).set_index("outcome").round(3)


def sustained_estimates(trial, group: str) -> dict[str, im.ImpactResult]:
    """The 12-month impact of one trial group four ways: all recruits (unweighted), and
    respondents only: unweighted, with survey weights, with true-propensity weights."""
    from .ch02 import oracle_weights

    d = trial.data.copy()
    resp = respondents(d)
    kw = dict(baseline=False)
    out = {
        "all recruits": im.estimate_itt(d, SUSTAINED, group, weights=None, **kw),
        "respondents, unweighted": im.estimate_itt(resp, SUSTAINED, group, weights=None, **kw),
        "respondents, survey weights": im.estimate_itt(resp, SUSTAINED, group, weights=vocab.WEIGHT, **kw),
    }
    d["oracle_weight"] = oracle_weights(trial)
    out["respondents, true-propensity weights"] = im.estimate_itt(respondents(d), SUSTAINED, group, weights="oracle_weight", **kw)
    return out


def sustained_comparison(trial) -> View:
    """12-month sustained employment (observed for every recruit): the true effect, the
    estimate from all recruits and three respondent-only estimates per trial group (ppt,
    with 95% CIs), beside the IES blog's published impact; and a dot plot."""
    rows, est = [], {}
    for g in vocab.GROUPS:
        est[g] = sustained_estimates(trial, g)
        pub = published(section="admin_12m", group=g).set_index("statistic")
        row = {"group": vocab.GROUP_LABELS[g], "truth τ": 100 * _truth(trial, g, SUSTAINED)}
        for k, r in est[g].items():
            row[k] = 100 * r.impact
        stars = pub.loc["stars", "value"] if "stars" in pub.index and pub.loc["stars", "value"] != "none" else ""
        row["published (blog)"] = (f"{100 * float(pub.loc['impact', 'value']):.0f}{stars}"
                                   + (f" ({pub.loc['impact', 'kind']})" if pub.loc["impact", "kind"] != "published" else ""))
        rows.append(row)
    table = pd.DataFrame(rows).set_index("group").round(2)
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.add_subplot()
    methods = list(next(iter(est.values())))
    colours = [TREATMENT_COLOUR, CONTROL_COLOUR, "#c55a11", "#6a3d9a"]
    for i, g in enumerate(vocab.GROUPS):
        tau = 100 * _truth(trial, g, SUSTAINED)
        ax.plot([tau, tau], [i - 0.4, i + 0.4], color="k", lw=2.5, label="truth τ" if i == 0 else None)
        for j, (m, c) in enumerate(zip(methods, colours)):
            r = est[g][m]
            lo, hi = r.ci()
            y = i - 0.27 + 0.18 * j
            ax.errorbar(100 * r.impact, y, xerr=[[100 * (r.impact - lo)], [100 * (hi - r.impact)]], fmt="o", color=c,
                        capsize=2, markersize=4, label=m if i == 0 else None)
    ax.axvline(0, color="0.5", lw=0.8, ls="--")
    ax.set_yticks(range(len(vocab.GROUPS)), [vocab.GROUP_LABELS[g] for g in vocab.GROUPS])
    ax.invert_yaxis()
    ax.set_xlabel("Impact on sustained employment at 12 months (ppt, 95% CI)")
    ax.legend(fontsize=7.5, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.spines[["top", "right"]].set_visible(False)
    return View(title="12 months: truth against respondent-only estimates", tables={"Impacts (ppt)": table}, figure=fig)


def response_simulation(trial, group: str = "SCR_IW", reps: int = 500, seed: int = 0) -> View:
    """What if different people had answered? Redraw who responds ``reps`` times from each
    recruit's true propensity (``truth.json``) and recompute the difference in 12-month
    sustained employment between arms among the simulated respondents: unweighted, and
    weighted by the true inverse propensities. Their average minus the all-recruit
    difference is the non-response bias; their spread is the extra noise of using
    respondents only. Differences in means (no controls), so every replicate is one
    matrix product."""
    from .ch02 import true_propensity

    d = trial.data
    m = (d[vocab.GROUP] == group).to_numpy()
    y = d[SUSTAINED].to_numpy(float)[m]
    t = d[vocab.TREAT].to_numpy()[m]
    p = true_propensity(trial).to_numpy()[m]
    R = (np.random.default_rng(seed).random((m.sum(), reps)) < p[:, None]).astype(float)

    def diff(W: np.ndarray) -> np.ndarray:
        arms = [(W * (t == k)[:, None]) for k in (1, 0)]
        return 100 * ((arms[0] * y[:, None]).sum(0) / arms[0].sum(0) - (arms[1] * y[:, None]).sum(0) / arms[1].sum(0))

    full = 100 * (y[t == 1].mean() - y[t == 0].mean())
    actual = 100 * (y[(t == 1) & (d[vocab.RESPONDED].to_numpy()[m] == 1)].mean() - y[(t == 0) & (d[vocab.RESPONDED].to_numpy()[m] == 1)].mean())
    sims = {"respondents, unweighted": diff(R), "respondents, true-propensity weights": diff(R / p[:, None])}
    table = pd.DataFrame({k: {"mean": v.mean(), "bias (mean − all recruits)": v.mean() - full, "sd (non-response noise)": v.std()}
                          for k, v in sims.items()}).T.round(2)
    table.loc["all recruits (no non-response)"] = [round(full, 2), 0.0, 0.0]
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.add_subplot()
    allv = np.concatenate(list(sims.values()))
    bins = np.linspace(allv.min(), allv.max(), 41)
    ax.hist(sims["respondents, unweighted"], bins=bins, color=CONTROL_COLOUR, label="respondents, unweighted")
    ax.hist(sims["respondents, true-propensity weights"], bins=bins, histtype="step", color="#c55a11", lw=1.5,
            label="respondents, true-propensity weights")
    ax.axvline(full, color="k", lw=2, label=f"all recruits {full:.2f}")
    ax.axvline(actual, color=TREATMENT_COLOUR, lw=1.5, ls="--", label=f"the actual respondents {actual:.2f}")
    ax.set_xlabel(f"Difference in sustained employment at 12 months, T − C (ppt), {vocab.GROUP_LABELS[group]}")
    ax.set_ylabel(f"Simulated surveys (of {reps:,})")
    ax.legend(fontsize=7.5, frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return View(title=f"Re-drawing who responds: {vocab.GROUP_LABELS[group]}", tables={"Differences in means (ppt)": table}, figure=fig)


# =========================================================================================
# Exercises
# =========================================================================================
def _wls_coef(y: np.ndarray, X: np.ndarray, w: np.ndarray | None) -> float:
    """Coefficient on column 1 by (weighted) least squares with numpy only."""
    sw = np.ones(len(y)) if w is None else np.sqrt(w)
    b, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
    return float(b[1])


def _design(outcome: str, group: str):
    return im.build_design(im.select_group(respondents(load_trial().data), group), outcome)


def _effect_size(sd_kind: str = "control_weighted") -> float:
    d = _design("swemwbs", "SCR_IW")
    b = _wls_coef(d.y, d.X, d.w)
    c = d.treat == 0
    if sd_kind == "control_weighted":
        y, w = d.y[c], d.w[c]
    elif sd_kind == "control_unweighted":
        y, w = d.y[c], np.ones(c.sum())
    else:
        y, w = d.y, d.w
    m = np.average(y, weights=w)
    return b / float(np.sqrt(np.average((y - m) ** 2, weights=w)))


def _itt_and_first_stage(outcome: str, group: str) -> tuple[float, float]:
    d = _design(outcome, group)
    part = respondents(load_trial().data).loc[d.index, vocab.PARTICIPATED].to_numpy(float)
    return _wls_coef(d.y, d.X, d.w), _wls_coef(part, d.X, d.w)


def _sustained_bias(kind: str) -> float:
    trial = load_trial()
    tau = trial.truth["groups"]["SCR_IW"]["tau_sustained_emp_12m"]
    rows = trial.data if kind == "all" else respondents(trial.data)
    r = im.estimate_itt(rows, SUSTAINED, "SCR_IW", weights=None, baseline=False)
    return 100 * (r.impact - tau)


def _smallest_interaction() -> str:
    tab = im.subgroup_table(respondents(load_trial().data), "paid_work", "SCR_OOW")
    return str(tab.groupby("dimension")["p_interaction"].first().idxmin())


def _namespace() -> dict:
    import sys

    return {"np": np, "pd": pd, "vocab": vocab, "im": im, "load_trial": load_trial, "published": published,
            "respondents": respondents, "lesson": sys.modules[__name__]}


EXERCISES = ExerciseSet(
    [
        Exercise(
            key="ex1",
            title="An effect size in standard deviations",
            expected=_effect_size,
            tol=0.002,
            hints=(
                (lambda a, x: float(a) > 0.5,
                 "That looks like the impact in SWEMWBS points; divide it by the outcome's standard deviation."),
                (lambda a, x: abs(float(a) - _effect_size("control_unweighted")) < 0.002, "Close: the report's SD is the "
                 "weighted SD among control respondents (ImpactResult.sd), not the unweighted one."),
                (lambda a, x: abs(float(a) - _effect_size("pooled")) < 0.002, "That divides by the SD of all respondents; "
                 "the kit's default (sd='control') uses control respondents only."),
            ),
            default_hint="im.estimate_itt(respondents(data), 'swemwbs', 'SCR_IW').effect_size",
            solution_code=(
                "data = load_trial().data\n"
                "res = im.estimate_itt(respondents(data), 'swemwbs', 'SCR_IW')\n"
                "answer = res.effect_size\n"
                "print(f'impact {res.impact:.2f} points / SD {res.sd:.2f} = {answer:.3f} SD')"
            ),
            explanation=(
                "Under one SWEMWBS point on a standard deviation of several points: under a fifth of an SD, which the "
                "report (footnote 13, Cohen's convention) calls small. Effect sizes let you compare outcomes on different "
                "scales; statistical significance depends on the standard error instead."
            ),
        ),
        Exercise(
            key="ex2",
            title="Participation impact by the Bloom ratio",
            expected=lambda: (lambda itt, fs: itt / fs)(*_itt_and_first_stage("eq5d", "SCR_IW")),
            tol=0.0005,
            hints=(
                (lambda a, x: abs(float(a) - _itt_and_first_stage("eq5d", "SCR_IW")[0]) < 0.0005, "That is the ITT impact "
                 "(of being offered IPS). Divide it by the difference in participation rates between the arms."),
                (lambda a, x: abs(float(a) - _itt_and_first_stage("eq5d", "SCR_IW")[1]) < 0.0005, "That is the first stage "
                 "(how much assignment raises participation); the participation impact is ITT / first stage."),
            ),
            default_hint="im.estimate_participation(respondents(data), 'eq5d', 'SCR_IW').impact, or im.bloom_check(...).bloom.",
            solution_code=(
                "data = load_trial().data\n"
                "b = im.bloom_check(respondents(data), 'eq5d', 'SCR_IW')\n"
                "answer = b.iv\n"
                "print(f'ITT {b.itt:.4f} / first stage {b.first_stage:.3f} = {b.bloom:.4f}; 2SLS {b.iv:.4f}')"
            ),
            explanation=(
                "Only a few per cent of SCR IW treatment-group respondents attended no IPS session (Table 4-6), so the "
                "first stage is close to 1 and the participation impact is the ITT scaled up a little: the report's 'in effect, such "
                "estimates merely scale up' the ITT (§4.3). 2SLS with assignment as the instrument equals the ratio "
                "exactly when both stages use the same controls and weights."
            ),
        ),
        Exercise(
            key="ex3",
            title="How wrong are respondent-only estimates at 12 months?",
            expected=lambda: _sustained_bias("respondents"),
            tol=0.05,
            hints=(
                (lambda a, x: abs(float(a) / 100 - x) < 0.05 / 100 or abs(float(a) * 100 - x) < 0.05,
                 "Give percentage points (estimate − τ) × 100."),
                # checked before the sign flip, tightly: the two can lie within 0.05 of each other
                (lambda a, x: abs(float(a) - _sustained_bias("all")) < 0.005, "That uses every recruit. The question is "
                 "about the estimate from survey respondents only (responded == 1)."),
                (lambda a, x: abs(float(a) + x) < 0.05, "Estimate minus truth, not truth minus estimate."),
            ),
            default_hint="im.estimate_itt(respondents(data), 'sustained_emp_12m', 'SCR_IW', weights=None, baseline=False) "
                         "minus trial.truth['groups']['SCR_IW']['tau_sustained_emp_12m'], in ppt.",
            solution_code=(
                "trial = load_trial()\n"
                "tau = trial.truth['groups']['SCR_IW']['tau_sustained_emp_12m']\n"
                "r = im.estimate_itt(respondents(trial.data), 'sustained_emp_12m', 'SCR_IW', weights=None, baseline=False)\n"
                "answer = 100 * (r.impact - tau)\n"
                "print(f'respondents {100 * r.impact:.1f} ppt against truth {100 * tau:.1f} ppt: {answer:+.1f} ppt')"
            ),
            explanation=(
                "Compare the respondents' error with the all-recruits one (the same regression on every recruit): "
                "one draw mixes bias with chance. Only 58% of the group answered, so the respondent-only estimate "
                "has a larger standard error and can land further from τ, on either side. Re-drawing who responds "
                "from the true propensities (lesson.response_simulation) separates the two: the shift of the "
                "re-drawn estimates' centre from τ is the systematic non-response bias, their spread is chance. "
                "Weighting by the true propensities removes the bias but not the chance. The SAP's decision rule "
                "guards against the bias; administrative outcomes, observed for everyone, avoid both."
            ),
        ),
        Exercise(
            key="ex4",
            title="Which subgroup difference is largest?",
            expected=_smallest_interaction,
            kind="choice",
            choices=vocab.SUBGROUP_DIMENSIONS,
            hints=(
                (lambda a, x: a == "work_history", "That is what the report found in the real SCR OOW data. Check what the "
                 "synthetic data say: compare p_interaction across dimensions."),
            ),
            default_hint="im.subgroup_table(respondents(data), 'paid_work', 'SCR_OOW') has one p_interaction per dimension.",
            solution_code=(
                "data = load_trial().data\n"
                "tab = im.subgroup_table(respondents(data), 'paid_work', 'SCR_OOW')\n"
                "p = tab.groupby('dimension')['p_interaction'].first()\n"
                "print(p.round(3))\n"
                "answer = p.idxmin()"
            ),
            explanation=(
                "In the synthetic trial every recruit of a group has the same true effect, so any subgroup difference is "
                "chance. With four dimensions (and more outcomes) some interaction test will look interesting by luck: "
                "the report rightly calls its subgroup analysis exploratory and does not adjust for multiple testing."
            ),
        ),
    ],
    namespace=_namespace,
)

check = EXERCISES.check
show_solution = EXERCISES.show_solution
solution = EXERCISES.solution
expected = EXERCISES.expected
