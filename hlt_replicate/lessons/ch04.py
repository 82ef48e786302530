"""Lesson 04 (``notebooks/04_multiple_testing.ipynb``): multiple testing, Westfall–Young and
the SAP decision rule of Table 4-5.

The pure functions behind the notebook's cells and widgets, and its exercises:

* :func:`fwer_independent`, :func:`fwer_curve` — why adjust: the family-wise error rate
  (FWER) of K independent tests at level α;
* :func:`simulate_error_rates` / :func:`fwer_view` (widget callback) / :func:`fwer_controls`
  — simulated trials with K correlated outcomes, some with a true effect: FWER over the true
  nulls and power over the true effects, unadjusted and after Bonferroni, Holm and
  Westfall–Young (through the public :func:`hlt_replicate.multiple_testing.westfall_young`,
  on data from :func:`simulate_null_trial`);
* :func:`simulate_null_trial`, :func:`simulate_fwer` — trials in which the treatment affects
  none of K outcomes, and the FWER of six procedures over many of them (behind the FWER
  simulator dashboard, :func:`hlt_replicate.dashboards.fwer`, and the statistical tests of
  :func:`~hlt_replicate.multiple_testing.westfall_young`);
* :func:`secondary_wy`, :func:`secondary_view` (widget callback), :func:`star_comparison`,
  :func:`star_agreement` — WY-adjusted p-values of the trial's secondary outcomes beside Holm
  and Bonferroni, and the report's stars (read from the targets file) under its two star
  conventions;
* :func:`response_gaps`, :func:`sap_all`, :func:`format_table_4_5`,
  :func:`table_4_5_vs_published`, :func:`sap_rule_view` (widget callback) — Table 4-5 and the
  SAP decision rule per trial group (§4.2.1);
* :func:`subgroup_family` — the size and overlap of the report's exploratory subgroup family
  (§4.3), which was not adjusted;
* :func:`interaction_family` — the report-style interaction tests on a trial whose true effect
  does not vary;
* :func:`mc_spread` — Monte Carlo error of WY p-values across seeds and numbers of resamples.

Exercises ``ex1``-``ex4``: :func:`check`, :func:`show_solution`, :func:`solution`,
:func:`expected`.

Every callback returns a :class:`hlt_replicate.teaching.View`; published numbers come from
``data_synth``'s targets file through :func:`hlt_replicate.teaching.published`, never typed in.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from .. import vocab
from .._checks import InputError
from ..charts import CONTROL_COLOUR, TREATMENT_COLOUR
from ..impact import STAR_CONVENTIONS, significance_stars, subgroup_column, subgroup_table
from ..multiple_testing import (
    TABLE_4_5_LABELS,
    SAPDecision,
    _blas_threads,
    reps_for_precision,
    sap_decision_rule,
    westfall_young,
    wy_adjust,
)
from ..teaching import Exercise, ExerciseSet, View, load_trial, published

#: Procedures compared in the simulation and the secondary-outcome tables: label -> column
#: of a :func:`westfall_young` table.
PROCEDURES: dict[str, str] = {
    "unadjusted": "p",
    "Bonferroni": "p_bonferroni",
    "Holm": "p_holm",
    "Westfall–Young": "p_wy",
}
PROC_COLOURS: dict[str, str] = {
    "unadjusted": "#b42318",
    "Bonferroni": CONTROL_COLOUR,
    "Holm": "#5b8db8",
    "Westfall–Young": TREATMENT_COLOUR,
}
#: The report's star conventions (see :data:`hlt_replicate.impact.STAR_CONVENTIONS`), as
#: the notebook names them.
CONVENTION_LABELS: dict[str, str] = {
    "section_4_3": "§4.3: * 90 %, ** 95 %, *** 99 % (p < .10/.05/.01)",
    "footnote_15": "footnote 15: * p<.05, ** p<.01, *** p<.001",
}
#: Outcomes of the report's subgroup figures (§4.3: the primary outcomes and job-search
#: self-efficacy).
SUBGROUP_OUTCOMES: tuple[str, ...] = ("paid_work", "eq5d", "swemwbs", "jsse")
#: Groups with a secondary-outcome table (Tables 4-8, 4-10, 4-12, 4-14, 4-15), in the report's order.
REPORT_GROUPS: tuple[str, ...] = ("SCR_IW", "SCR_OOW", "SCR", "WMCA_OOW", "OOW_pooled")
#: Resamples behind the reproduced Table 4-5 (fast: about 0.3 s per group). Fixed rather than
#: a notebook parameter because the notebook's checked output prints these p-values.
TABLE_4_5_REPS = 10_000


def _ax_style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)


def _label(group: str | None) -> str:
    return vocab.GROUP_LABELS.get(group, str(group))


# =========================================================================================
# 1 · Why adjust
# =========================================================================================
def fwer_independent(k: int, alpha: float = 0.05) -> float:
    """P(at least one of ``k`` independent true-null tests rejects at level ``alpha``):
    ``1 - (1 - alpha)^k``."""
    if k < 0 or not 0 < alpha < 1:
        raise ValueError(f"need k >= 0 and 0 < alpha < 1, got k={k!r}, alpha={alpha!r}")
    return 1 - (1 - alpha) ** k


def fwer_curve(k_max: int = 20, alpha: float = 0.05) -> View:
    """FWER of k = 1..``k_max`` independent tests: unadjusted, the union bound k·α, and
    after Bonferroni (each test at α/k)."""
    k = np.arange(1, k_max + 1)
    tab = pd.DataFrame(
        {
            "unadjusted FWER": 1 - (1 - alpha) ** k,
            "union bound k·α": np.minimum(1, k * alpha),
            "Bonferroni (α/k each)": 1 - (1 - alpha / k) ** k,
        },
        index=pd.Index(k, name="K outcomes"),
    )
    fig = Figure(figsize=(6, 3), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(k, tab["unadjusted FWER"], "o-", color=PROC_COLOURS["unadjusted"], label="unadjusted: 1 − (1 − α)^K")
    ax.plot(k, tab["union bound k·α"], ":", color="0.4", label="union bound K·α")
    ax.plot(k, tab["Bonferroni (α/k each)"], "s-", color=PROC_COLOURS["Bonferroni"], label="Bonferroni: each at α/K")
    ax.axhline(alpha, color="0.3", lw=0.8, ls="--")
    ax.set_xlabel("Number of independent outcomes tested (K), none affected")
    ax.set_ylabel("P(at least one 'significant')")
    ax.set_ylim(0, 1)
    ax.legend(frameon=False, fontsize=8)
    _ax_style(ax)
    return View(title=f"Family-wise error rate of K independent tests at α = {alpha:g}", tables={"": tab.round(3)},
                figure=fig)


# Under the global null (the treatment affects none of K outcomes), unadjusted testing at 5 %
# rejects somewhere far more often than 5 % (about 1 - 0.95^K for independent outcomes);
# Bonferroni/Holm/Šidák control the FWER but grow conservative when the outcomes are
# correlated; Westfall–Young resampling controls it at the nominal level whatever the
# correlation (Westfall & Young 1993, ch. 2). The simulated trials go through the public
# westfall_young, so the simulation also checks it (tests/test_multiple_testing_fwer.py).

#: Procedures compared by :func:`simulate_fwer` (rows of its result), with the column of a
#: :func:`westfall_young` table each reads.
FWER_SIM_PROCEDURES: dict[str, str] = {
    "unadjusted": "p",
    "bonferroni": "p_bonferroni",
    "holm": "p_holm",
    "sidak": "p_sidak",
    "benjamini-hochberg": "p_bh",
    "westfall-young": "p_wy",
}


def simulate_null_trial(
    n: int = 120,
    k: int = 5,
    rho: float = 0.0,
    rng: np.random.Generator | None = None,
    *,
    weights: bool = True,
    control: bool = True,
) -> tuple[pd.DataFrame, list[str]]:
    """One randomised trial with ``k`` outcomes on which the treatment has no effect.

    Complete randomisation of ``n`` people into two equal arms; outcomes ``y1..yk`` share a
    common factor so that any two correlate at ``rho`` (before the control); an optional
    control ``x`` shifts every outcome, and optional survey weights ``w`` vary across people.
    """
    rng = np.random.default_rng(rng)
    if not 0 <= rho < 1:
        raise InputError(f"rho must be in [0, 1), got {rho!r}")
    treat = rng.permutation(np.arange(n) % 2)
    common = rng.standard_normal(n)
    x = rng.standard_normal(n)
    cols = {"treat": treat, "x": x, "w": rng.uniform(0.5, 2.0, n)}
    names = [f"y{j + 1}" for j in range(k)]
    for name in names:
        y = np.sqrt(rho) * common + np.sqrt(1 - rho) * rng.standard_normal(n)
        cols[name] = y + (0.5 * x if control else 0.0)
    return pd.DataFrame(cols), names


def simulate_fwer(
    trials: int = 500,
    n: int = 120,
    k: int = 5,
    rho: float = 0.0,
    reps: int = 500,
    alpha: float = 0.05,
    *,
    method: str = "permutation",
    step: str = "down",
    weights: bool = True,
    control: bool = True,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Share of simulated null trials in which at least one of ``k`` tests rejects.

    Each trial draws :func:`simulate_null_trial` data and runs :func:`westfall_young` with
    ``reps`` resamples (controls ``x`` and weights ``w`` when enabled). A hypothesis is
    rejected when its p-value is below ``alpha`` (strictly, as the SAP's "p-value < 0.05").
    Returns one row per procedure with the FWER, its binomial standard error and the number
    of trials. With ``reps = B`` permutations the exact FWER of Westfall–Young is
    ``ceil(alpha·B)/(B+1)`` under the global null (0.0499 for B = 500, α = 0.05).
    """
    if trials < 1 or n < 8 or k < 1:
        raise InputError(f"need trials >= 1, n >= 8, k >= 1; got trials={trials}, n={n}, k={k}")
    children = np.random.SeedSequence(seed).spawn(trials)
    hits = {p: 0 for p in FWER_SIM_PROCEDURES}
    it = range(trials)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="simulated trials", leave=False)
    with _blas_threads(1):  # thousands of tiny fits: single-threaded BLAS is far faster
        for i in it:
            _one_trial(children[i], n, k, rho, reps, alpha, method, step, weights, control, hits)
    out = pd.DataFrame({"fwer": {p: h / trials for p, h in hits.items()}})
    out["mcse"] = np.sqrt(out["fwer"] * (1 - out["fwer"]) / trials)
    out["trials"] = trials
    out.index.name = "procedure"
    out.attrs.update({"n": n, "k": k, "rho": rho, "reps": reps, "alpha": alpha, "method": method, "step": step})
    return out


def _one_trial(seed_seq, n, k, rho, reps, alpha, method, step, weights, control, hits) -> None:
    rng = np.random.default_rng(seed_seq)
    data, outcomes = simulate_null_trial(n, k, rho, rng, weights=weights, control=control)
    res = westfall_young(
        data,
        outcomes,
        "treat",
        ["x"] if control else (),
        "w" if weights else None,
        reps,
        method,
        seed=int(rng.integers(2**32)),
        step=step,
    )
    for proc, col in FWER_SIM_PROCEDURES.items():
        hits[proc] += bool((res[col] < alpha).any())


def simulate_error_rates(
    trials: int = 200,
    n: int = 120,
    k: int = 5,
    rho: float = 0.3,
    n_effects: int = 0,
    effect: float = 0.0,
    reps: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
) -> pd.DataFrame:
    """Error rates of the four :data:`PROCEDURES` over ``trials`` simulated trials.

    Each trial is :func:`simulate_null_trial` (``n`` people, two
    equal arms, ``k`` outcomes correlated at ``rho``, a control ``x`` and survey weights
    ``w``) with ``effect`` (in units of the outcomes' residual SD) added to the treated
    people's first ``n_effects`` outcomes. :func:`westfall_young` (``reps`` permutations)
    gives raw, Bonferroni, Holm and WY p-values; a test rejects when p < ``alpha``.

    Returns one row per procedure: ``FWER`` (share of trials with at least one false
    rejection among the ``k - n_effects`` true nulls: *strong* control means this stays at
    or below α whatever the effects), its Monte Carlo ``FWER s.e.``, ``power`` (average share
    of the true effects detected; NaN without effects) and ``trials``.
    """
    if not (1 <= k <= 50 and 0 <= n_effects <= k and trials >= 1 and n >= 8):
        raise ValueError(f"need 1 <= k <= 50, 0 <= n_effects <= k, trials >= 1, n >= 8; got k={k}, "
                         f"n_effects={n_effects}, trials={trials}, n={n}")
    children = np.random.SeedSequence(seed).spawn(trials)
    false_any = dict.fromkeys(PROCEDURES, 0)
    power = dict.fromkeys(PROCEDURES, 0.0)
    for child in children:
        rng = np.random.default_rng(child)
        data, outcomes = simulate_null_trial(n, k, rho, rng)
        for name in outcomes[:n_effects]:
            data[name] = data[name] + effect * data["treat"]
        res = westfall_young(data, outcomes, "treat", ["x"], "w", reps, seed=int(rng.integers(2**32)),
                             corrections=("bonferroni", "holm"))
        for proc, col in PROCEDURES.items():
            rej = res[col].to_numpy() < alpha
            false_any[proc] += bool(rej[n_effects:].any())
            if n_effects:
                power[proc] += float(rej[:n_effects].mean())
    nulls = k - n_effects
    out = pd.DataFrame(index=pd.Index(list(PROCEDURES), name="procedure"))
    out["FWER"] = [false_any[p] / trials if nulls else np.nan for p in PROCEDURES]
    out["FWER s.e."] = np.sqrt(out["FWER"] * (1 - out["FWER"]) / trials)
    out["power"] = [power[p] / trials if n_effects else np.nan for p in PROCEDURES]
    out["trials"] = trials
    out.attrs.update(dict(trials=trials, n=n, k=k, rho=rho, n_effects=n_effects, effect=effect, reps=reps,
                          alpha=alpha, seed=seed))
    return out


def fwer_view(
    k: int = 5,
    rho: float = 0.3,
    n_effects: int = 0,
    effect: float = 0.4,
    n: int = 120,
    *,
    trials: int = 200,
    reps: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
) -> View:
    """Widget callback: :func:`simulate_error_rates` as a table and a two-panel chart (FWER
    over the true nulls with its Monte Carlo error; power over the true effects)."""
    n_effects = min(int(n_effects), int(k))
    res = simulate_error_rates(trials, n, k, rho, n_effects, effect if n_effects else 0.0, reps, alpha, seed)
    nulls = k - n_effects
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    procs = list(res.index)
    colours = [PROC_COLOURS[p] for p in procs]
    y = np.arange(len(procs))
    if nulls:
        ax1.barh(y, res["FWER"], xerr=1.96 * res["FWER s.e."], color=colours, ecolor="0.3", capsize=3)
        ax1.axvline(alpha, color="0.2", ls="--", lw=0.9, label=f"α = {alpha:g}")
        if rho == 0:
            ax1.axvline(fwer_independent(nulls, alpha), color=PROC_COLOURS["unadjusted"], ls=":", lw=1,
                        label=f"1 − (1 − α)^{nulls}")
        ax1.legend(frameon=False, fontsize=8, loc="lower right")
        ax1.set_xlim(0, max(0.3, float((res["FWER"] + 2 * res["FWER s.e."]).max()) * 1.1))
    else:
        ax1.text(0.5, 0.5, "every outcome has an effect:\nno true null to reject falsely", ha="center",
                 va="center", transform=ax1.transAxes, fontsize=9)
    ax1.set_yticks(y, procs)
    ax1.invert_yaxis()
    ax1.set_xlabel(f"FWER: P(≥ 1 false rejection among {nulls} true nulls)")
    _ax_style(ax1)
    if n_effects:
        ax2.barh(y, res["power"], color=colours)
        ax2.set_xlim(0, 1)
        ax2.set_xlabel(f"Power: share of the {n_effects} true effect(s) detected")
    else:
        ax2.text(0.5, 0.5, "no true effects: set 'effects' above 0\nto see power", ha="center", va="center",
                 transform=ax2.transAxes, fontsize=9)
        ax2.set_xticks([])
    ax2.set_yticks(y, procs)
    ax2.invert_yaxis()
    _ax_style(ax2)
    title = (f"{trials} simulated trials: n = {n}, K = {k} outcomes correlated at ρ = {rho:g}, "
             f"{n_effects} with an effect of {effect:g} SD" if n_effects else
             f"{trials} simulated trials: n = {n}, K = {k} outcomes correlated at ρ = {rho:g}, no effects")
    note = (f"Westfall–Young with {reps} permutations per trial. FWER s.e. is the Monte Carlo error of the "
            f"simulation ({trials} trials): differences of a few points are noise.")
    return View(title=title, tables={"": res.round(3)}, figure=fig, note=note)


def fwer_controls() -> dict:
    """Widgets for :func:`fwer_view` (trials and resamples are fixed by the notebook). The
    sliders update on release: each update simulates a few hundred trials (about a second)."""
    import ipywidgets as w

    style = {"description_width": "11em"}
    layout = w.Layout(width="30em")
    kw = dict(continuous_update=False, style=style, layout=layout)
    return {
        "k": w.IntSlider(value=5, min=2, max=12, description="Outcomes K", **kw),
        "rho": w.FloatSlider(value=0.3, min=0.0, max=0.9, step=0.1, description="Correlation ρ", **kw),
        "n_effects": w.IntSlider(value=0, min=0, max=12, description="Outcomes with an effect", **kw),
        "effect": w.FloatSlider(value=0.4, min=0.0, max=1.0, step=0.05, description="Effect (SD)", **kw),
        "n": w.IntSlider(value=120, min=60, max=600, step=20, description="People per trial", **kw),
    }


# =========================================================================================
# 2 · The trial's secondary outcomes: WY beside Holm/Bonferroni, and the report's stars
# =========================================================================================
def secondary_wy(data: pd.DataFrame, group: str, reps: int = 10_000, seed: int = 0) -> pd.DataFrame:
    """Westfall–Young (free step-down minP, permutation) over the nine secondary outcomes of
    ``group``'s table (Tables 4-8, 4-10, 4-12, 4-14, 4-15) among respondents, with the
    report's ITT specification (SAP controls, survey weights, each outcome's baseline where it
    has one, robust SE) — as :func:`hlt_replicate.impact.impact_table` with ``p_adjust="wy"``:
    permutations within trial group for a pooled group. Adds Bonferroni and Holm."""
    resp = data[data[vocab.RESPONDED] == 1]
    strata = vocab.GROUP if group in vocab.POOLED_GROUPS else None
    return westfall_young(resp, list(vocab.SECONDARY_OUTCOMES), vocab.TREAT, vocab.SAP_CONTROLS, vocab.WEIGHT, reps,
                          strata=strata, seed=seed, group=group, baseline=True, corrections=("bonferroni", "holm"))


def secondary_wy_all(data: pd.DataFrame, reps: int = 10_000, seed: int = 0,
                     groups: Sequence[str] = REPORT_GROUPS) -> dict[str, pd.DataFrame]:
    """:func:`secondary_wy` for each group (the report's five secondary-outcome tables)."""
    return {g: secondary_wy(data, g, reps, seed) for g in groups}


def _printed_stars(group: str) -> pd.DataFrame:
    pub = published(section="secondary_impacts", group=group, statistic="stars").set_index("variable")
    return pd.DataFrame({"stars": pub["value"].replace("none", ""), "excluded": pub["excluded"].astype(bool)})


def secondary_table(wy: pd.DataFrame, group: str, convention: str = "section_4_3") -> pd.DataFrame:
    """One group's secondary outcomes: impact, S.E., raw / Bonferroni / Holm / WY p-values,
    the WY p-value's Monte Carlo s.e., the stars the WY p-value earns under ``convention``
    and the stars printed in the report (from the targets file)."""
    if convention not in STAR_CONVENTIONS:
        raise ValueError(f"convention must be one of {list(STAR_CONVENTIONS)}, got {convention!r}")
    pub = _printed_stars(group)
    out = pd.DataFrame(
        {
            "impact": wy["coef"].to_numpy(),
            "S.E.": wy["se"].to_numpy(),
            **{f"p {name}": wy[col].to_numpy() for name, col in PROCEDURES.items()},
            "WY MC s.e.": wy["p_wy_mcse"].to_numpy(),
            "stars (WY)": [significance_stars(p, convention) for p in wy["p_wy"]],
            "stars (printed)": [pub["stars"].get(o, "") for o in wy.index],
        },
        index=pd.Index([vocab.OUTCOMES[o].label for o in wy.index], name=_label(group)),
    )
    out.attrs.update(group=group, convention=convention, reps=wy.attrs.get("reps"))
    return out


def secondary_view(wy_tables: Mapping[str, pd.DataFrame], group: str, convention: str = "section_4_3") -> View:
    """Widget callback: :func:`secondary_table` for ``group`` and a chart of its p-values
    (raw, Bonferroni, Holm, WY; log scale) against the three star thresholds."""
    tab = secondary_table(wy_tables[group], group, convention)
    fig = Figure(figsize=(8, 3.6), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(tab))
    offsets = np.linspace(-0.27, 0.27, len(PROCEDURES))
    for off, (name, col) in zip(offsets, PROCEDURES.items()):
        ax.scatter(np.clip(tab[f"p {name}"], 1e-5, 1), y + off, color=PROC_COLOURS[name], s=22, label=name, zorder=3)
    for cut, ls in zip(STAR_CONVENTIONS[convention], ("--", "-.", ":")):
        ax.axvline(cut, color="0.35", lw=0.8, ls=ls)
    ax.set_xscale("log")
    ax.set_xlim(1e-5, 1.5)
    ax.set_yticks(y, [f"{lab}  {stars}" if stars else lab for lab, stars in zip(tab.index, tab["stars (printed)"])],
                  fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"p-value (log scale); grey lines: star thresholds under {CONVENTION_LABELS[convention].split(':')[0]}")
    ax.legend(frameon=False, fontsize=8, loc="lower left", ncols=2)
    ax.set_title(f"{vocab.SECONDARY_TABLE[group]}, {_label(group)}: secondary outcomes (label: printed stars)",
                 fontsize=9.5)
    _ax_style(ax)
    fmt = tab.copy()
    for c in fmt.columns:
        if c.startswith("p ") or c in ("WY MC s.e.",):
            fmt[c] = fmt[c].round(4)
    fmt[["impact", "S.E."]] = fmt[["impact", "S.E."]].round(3)
    return View(title=f"{vocab.SECONDARY_TABLE[group]} ({_label(group)}): adjusted p-values and stars",
                tables={"": fmt}, figure=fig,
                note=f"WY: free step-down minP, {tab.attrs['reps']:,} permutations, over this table's nine outcomes.")


def secondary_controls() -> dict:
    """Widgets for :func:`secondary_view`."""
    import ipywidgets as w

    return {
        "group": w.Dropdown(options=[(f"{vocab.SECONDARY_TABLE[g]}: {_label(g)}", g) for g in REPORT_GROUPS],
                            value="SCR_IW", description="Table", style={"description_width": "5em"},
                            layout=w.Layout(width="26em")),
        "convention": w.Dropdown(options=[(v, k) for k, v in CONVENTION_LABELS.items()], value="section_4_3",
                                 description="Stars", style={"description_width": "5em"}, layout=w.Layout(width="34em")),
    }


def star_comparison(wy_tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Printed stars beside the stars earned by the raw and the WY p-values under each
    convention, one row per group × secondary outcome (``excluded``: a published
    inconsistency, see the targets file)."""
    rows = []
    for g, wy in wy_tables.items():
        pub = _printed_stars(g)
        for o in wy.index:
            rec = {"group": g, "outcome": o, "printed": pub["stars"].get(o, ""),
                   "excluded": bool(pub["excluded"].get(o, False)), "p": wy.loc[o, "p"], "p_wy": wy.loc[o, "p_wy"]}
            for conv in STAR_CONVENTIONS:
                rec[f"raw, {conv}"] = significance_stars(rec["p"], conv)
                rec[f"WY, {conv}"] = significance_stars(rec["p_wy"], conv)
            rows.append(rec)
    return pd.DataFrame(rows)


def star_agreement(comparison: pd.DataFrame) -> pd.DataFrame:
    """How many printed stars (published inconsistencies left out) each reading reproduces:
    rows raw / WY p-values, columns the two conventions."""
    ok = comparison[~comparison["excluded"]]
    out = pd.DataFrame(
        {conv: [int((ok[f"{src}, {conv}"] == ok["printed"]).sum()) for src in ("raw", "WY")] for conv in STAR_CONVENTIONS},
        index=pd.Index(["raw p-values", "Westfall–Young p-values"], name=f"cells reproduced (of {len(ok)})"),
    )
    return out.rename(columns={"section_4_3": "§4.3 (90/95/99 %)", "footnote_15": "footnote 15 (.05/.01/.001)"})


def best_convention(comparison: pd.DataFrame) -> str:
    """The convention under which the WY p-values reproduce the most printed stars."""
    ok = comparison[~comparison["excluded"]]
    scores = {conv: int((ok[f"WY, {conv}"] == ok["printed"]).sum()) for conv in STAR_CONVENTIONS}
    return max(scores, key=scores.get)


# =========================================================================================
# 3 · Table 4-5 and the SAP decision rule
# =========================================================================================
def response_gaps(data: pd.DataFrame, threshold_ppt: float = 5) -> pd.DataFrame:
    """Response rates by arm (all randomised recruits, unweighted) and the treatment–control
    gap per trial group, beside Table 4-1's printed percentages."""
    pub = published(table="Table 4-1", statistic="response_pct")
    rows = []
    for g in vocab.GROUPS:
        d = data[data[vocab.GROUP] == g]
        rt = 100 * d.loc[d[vocab.TREAT] == 1, vocab.RESPONDED].mean()
        rc = 100 * d.loc[d[vocab.TREAT] == 0, vocab.RESPONDED].mean()
        p = pub[pub["group"] == g].set_index("arm")["value"]
        rows.append({"group": _label(g), "T %": rt, "C %": rc, "gap (ppt)": rt - rc,
                     "T % printed": p.get(1), "C % printed": p.get(0), "gap printed": p.get(1) - p.get(0),
                     f"gap > {threshold_ppt:g}?": abs(rt - rc) > threshold_ppt})
    return pd.DataFrame(rows).set_index("group")


def sap_all(data: pd.DataFrame, reps: int = TABLE_4_5_REPS, seed: int = 0, **kwargs) -> dict[str, SAPDecision]:
    """:func:`hlt_replicate.multiple_testing.sap_decision_rule` for each trial group."""
    return {g: sap_decision_rule(data, g, reps=reps, seed=seed, **kwargs) for g in vocab.GROUPS}


def _decimals_4_5() -> dict[str, int]:
    pub = published(table="Table 4-5")
    return {stat: int(dec) for stat, dec in pub.groupby("statistic")["decimals"].first().items()}


def _fmt(x: float, d: int) -> str:
    s = f"{x:.{d}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s  # no "-0.000"


def format_table_4_5(decisions: Mapping[str, SAPDecision]) -> str:
    """Reproduced Table 4-5 as text in the printed layout: Diff., S.E. and the WY P-val per
    trial group, rounded to the report's decimals (read from the targets file)."""
    dec = _decimals_4_5()
    groups = [g for g in vocab.GROUPS if g in decisions]
    width = max(len(v) for v in TABLE_4_5_LABELS.values()) + 1
    col = 8
    lines = [" " * width + "".join(f"{_label(g):^{3 * col}}" for g in groups),
             " " * width + "".join(f"{'Diff.':>{col}}{'S.E.':>{col}}{'P-val':>{col}}" for _ in groups)]
    rows = decisions[groups[0]].table.index
    for r in rows:
        cells = ""
        for g in groups:
            t = decisions[g].table.loc[r]
            cells += f"{_fmt(t['Diff.'], dec['diff']):>{col}}{_fmt(t['S.E.'], dec['se']):>{col}}{_fmt(t['P-val'], dec['p_wy']):>{col}}"
        lines.append(f"{r:<{width}}{cells}")
    return "\n".join(lines)


def table_4_5_vs_published(decisions: Mapping[str, SAPDecision]) -> pd.DataFrame:
    """Every cell of Table 4-5: printed value, reproduced value rounded as printed, whether
    they agree, and the inconsistency id where the printed cell is a known typesetting error."""
    pub = published(table="Table 4-5")
    notes = {}
    from data_synth.targets import load_targets

    for inc in load_targets().raw.get("inconsistencies", []) or []:
        for ex in inc.get("exclude") or []:
            notes[ex] = inc["id"]
    col = {"diff": "Diff.", "se": "S.E.", "p_wy": "P-val"}
    rows = []
    for r in pub.itertuples():
        tab = decisions[r.group].table
        rep = float(tab.loc[TABLE_4_5_LABELS[r.variable], col[r.statistic]])
        rep_printed = _fmt(rep, int(r.decimals))
        note = next((v for k, v in notes.items() if r.id == k or r.id.startswith(k + ".")), "")
        rows.append({"group": _label(r.group), "row": TABLE_4_5_LABELS[r.variable], "column": col[r.statistic],
                     "printed": r.printed, "reproduced": rep_printed, "match": rep_printed == _fmt(float(r.value), int(r.decimals)),
                     "|difference|": abs(rep - float(r.value)), "inconsistency": note})
    return pd.DataFrame(rows)


def table_4_5_side_by_side(comparison: pd.DataFrame) -> pd.DataFrame:
    """:func:`table_4_5_vs_published` in Table 4-5's layout, each cell "printed | reproduced"
    (a trailing "†" marks a published inconsistency)."""
    cell = comparison["printed"] + " | " + comparison["reproduced"] + np.where(comparison["inconsistency"] != "", " †", "")
    wide = comparison.assign(cell=cell).pivot(index="row", columns=["group", "column"], values="cell")
    rows = list(dict.fromkeys(comparison["row"]))
    cols = [(_label(g), c) for g in vocab.GROUPS for c in ("Diff.", "S.E.", "P-val") if (_label(g), c) in wide.columns]
    return wide.loc[rows, cols]


def apply_sap_rule(decisions: Mapping[str, SAPDecision], threshold_ppt: float = 5, alpha: float = 0.05) -> pd.DataFrame:
    """The SAP rule restated on already computed results, for other thresholds: a group
    triggers when its |response gap| > ``threshold_ppt`` **and** some baseline outcome has a
    WY-adjusted p < ``alpha`` (the resampling does not depend on either, so nothing is
    re-run). With the defaults this equals each :class:`SAPDecision`'s ``decision``."""
    rows = []
    for g, d in decisions.items():
        min_p = float(d.wy["p_wy"].min())
        gap = abs(d.response_gap_ppt) > threshold_ppt
        imb = min_p < alpha
        rows.append({"group": _label(g), "response gap (ppt)": d.response_gap_ppt, "gap > threshold": gap,
                     "smallest WY p": min_p,
                     "outcome": TABLE_4_5_LABELS.get(d.wy["p_wy"].idxmin(), d.wy["p_wy"].idxmin()),
                     "imbalance (p < α)": imb, "rule triggers": gap and imb})
    return pd.DataFrame(rows).set_index("group")


def sap_rule_view(decisions: Mapping[str, SAPDecision], threshold_ppt: float = 5, alpha: float = 0.05) -> View:
    """Widget callback: :func:`apply_sap_rule` as a table and a two-panel chart (response
    gaps against the threshold; smallest adjusted p-values against α)."""
    tab = apply_sap_rule(decisions, threshold_ppt, alpha)
    fig = Figure(figsize=(9, 2.8), layout="constrained")
    ax1, ax2 = fig.subplots(1, 2)
    y = np.arange(len(tab))
    ax1.barh(y, tab["response gap (ppt)"].abs(), color=[TREATMENT_COLOUR if v else CONTROL_COLOUR for v in tab["gap > threshold"]])
    ax1.axvline(threshold_ppt, color="0.2", ls="--", lw=0.9)
    ax1.set_xlabel(f"|response gap| (ppt); dashed: threshold {threshold_ppt:g}")
    ax2.barh(y, tab["smallest WY p"], color=[TREATMENT_COLOUR if v else CONTROL_COLOUR for v in tab["imbalance (p < α)"]])
    ax2.axvline(alpha, color="0.2", ls="--", lw=0.9)
    ax2.set_xlim(0, 1)
    ax2.set_xlabel(f"smallest WY-adjusted p; dashed: α = {alpha:g}")
    for ax in (ax1, ax2):
        ax.set_yticks(y, tab.index)
        ax.invert_yaxis()
        _ax_style(ax)
    n = int(tab["rule triggers"].sum())
    title = (f"Threshold {threshold_ppt:g} ppt, α = {alpha:g}: the rule triggers in {n} group(s)"
             + (f" ({', '.join(tab.index[tab['rule triggers']])})" if n else ""))
    return View(title=title, tables={"": tab.round(3)}, figure=fig)


def sap_controls() -> dict:
    """Widgets for :func:`sap_rule_view`."""
    import ipywidgets as w

    kw = dict(continuous_update=False, style={"description_width": "12em"}, layout=w.Layout(width="32em"))
    return {
        "threshold_ppt": w.FloatSlider(value=5, min=0, max=10, step=0.5, description="Response-gap threshold (ppt)", **kw),
        "alpha": w.FloatSlider(value=0.05, min=0.01, max=0.5, step=0.01, description="α for the adjusted p", **kw),
    }


# =========================================================================================
# 4 · Subgroups: a large, overlapping family, left unadjusted
# =========================================================================================
def subgroup_family(data: pd.DataFrame, group: str = "SCR_IW", outcomes: Sequence[str] = SUBGROUP_OUTCOMES,
                    alpha: float = 0.05) -> View:
    """The report's exploratory subgroup family for one group (§4.3: four dimensions, the
    primary outcomes and job-search self-efficacy): every subgroup impact with its raw p and
    Holm's adjustment over the whole family, how many are 'significant' either way, the
    expected number of false positives if IPS changed nothing, and a chart of how much the
    subgroups overlap (each respondent sits in one level of every dimension at once)."""
    resp = data[(data[vocab.RESPONDED] == 1) & (data[vocab.GROUP].isin(vocab.groups_in(group)))]
    parts = []
    for o in outcomes:
        t = subgroup_table(resp, o, None, vocab.SUBGROUP_DIMENSIONS)
        t.insert(0, "outcome", vocab.OUTCOMES[o].label)
        parts.append(t)
    tab = pd.concat(parts, ignore_index=True)
    from ..multiple_testing import adjust_pvalues

    tab["p (Holm, whole family)"] = adjust_pvalues(tab["p"].to_numpy(), "holm")
    tests = len(tab)
    inter = tab.drop_duplicates(["outcome", "dimension"])
    summary = pd.DataFrame(
        {
            "subgroup impacts tested": [tests],
            "interaction tests": [len(inter)],
            f"expected false positives at {alpha:g} if no effect anywhere": [alpha * tests],
            f"raw p < {alpha:g}": [int((tab["p"] < alpha).sum())],
            f"Holm-adjusted p < {alpha:g}": [int((tab["p (Holm, whole family)"] < alpha).sum())],
            f"interaction p < {alpha:g}": [int((inter["p_interaction"] < alpha).sum())],
        },
        index=[_label(group)],
    ).T
    summary.columns = ["count"]
    # overlap: share of each subgroup's respondents who also belong to each other subgroup
    members = {}
    for dim in vocab.SUBGROUP_DIMENSIONS:
        col = subgroup_column(resp, dim)
        for lv in col.cat.categories:
            m = (col == lv).to_numpy()
            if m.sum():
                members[f"{lv}"] = m
    names = list(members)
    M = np.array([[members[a][members[b]].mean() if members[b].sum() else np.nan for b in names] for a in names]).T
    fig = Figure(figsize=(7.5, 6), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(M, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=7.5)
    ax.set_yticks(range(len(names)), names, fontsize=7.5)
    ax.set_title(f"{_label(group)}: share of the row subgroup's respondents who are also in the column subgroup",
                 fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.7)
    show = tab[["outcome", "dimension_label", "level", "impact", "se", "p", "p (Holm, whole family)", "p_interaction"]]
    return View(title=f"The subgroup family of {_label(group)} (§4.3, exploratory)",
                tables={"How big the family is": summary, "Subgroup impacts (binary outcomes in ppt)": show.round(3)},
                figure=fig)


def interaction_family(data: pd.DataFrame, groups: Sequence[str] = REPORT_GROUPS,
                       outcomes: Sequence[str] = SUBGROUP_OUTCOMES, alpha: float = 0.05) -> View:
    """Every interaction test of the report's subgroup figures (does the impact differ across
    the levels of a dimension?), over ``groups`` × ``outcomes`` × the four dimensions, with raw
    and Holm-adjusted p-values. In the synthetic trial every recruit of a group has the same
    true effect (``truth.json``), so every rejection here is a false positive."""
    resp = data[data[vocab.RESPONDED] == 1]
    rows = []
    for g in groups:
        for o in outcomes:
            t = subgroup_table(resp, o, g, vocab.SUBGROUP_DIMENSIONS)
            for dim, sub in t.groupby("dimension", sort=False):
                rows.append({"group": _label(g), "outcome": vocab.OUTCOMES[o].label,
                             "dimension": sub["dimension_label"].iloc[0], "levels": len(sub),
                             "p_interaction": float(sub["p_interaction"].iloc[0])})
    tab = pd.DataFrame(rows)
    from ..multiple_testing import adjust_pvalues

    tab["p (Holm)"] = adjust_pvalues(tab["p_interaction"].to_numpy(), "holm")
    summary = pd.DataFrame({"count": {
        "interaction tests": len(tab),
        f"expected false positives at {alpha:g} (true effects equal)": alpha * len(tab),
        f"raw p < {alpha:g}": int((tab["p_interaction"] < alpha).sum()),
        f"Holm-adjusted p < {alpha:g}": int((tab["p (Holm)"] < alpha).sum()),
    }})
    fig = Figure(figsize=(6, 2.8), layout="constrained")
    ax = fig.add_subplot()
    ax.hist(tab["p_interaction"], bins=np.linspace(0, 1, 21), color=TREATMENT_COLOUR, edgecolor="white")
    ax.axhline(len(tab) / 20, color="0.3", ls="--", lw=0.9, label="expected if every null is true (uniform)")
    ax.set_xlabel("p-value of the interaction test")
    ax.set_ylabel("tests")
    ax.legend(frameon=False, fontsize=8)
    _ax_style(ax)
    sig = tab[tab["p_interaction"] < alpha].sort_values("p_interaction")
    return View(title="Subgroup variation in the synthetic trial, where the true effect does not vary",
                tables={"": summary, f"Interaction tests with raw p < {alpha:g}": sig.round(4)}, figure=fig)


# =========================================================================================
# 5 · Monte Carlo error of WY p-values
# =========================================================================================
def mc_spread(data: pd.DataFrame, group: str = "WMCA_OOW", reps_list: Sequence[int] = (200, 1000, 4000),
              total: int = 40_000, seed: int = 0) -> View:
    """How much a WY p-value moves between runs with B resamples, for each B in ``reps_list``.

    One run of Table 4-5's WY adjustment for ``group`` draws ``total`` permutations
    (:func:`hlt_replicate.multiple_testing.westfall_young_details`); they are split into
    ``total // B`` disjoint sets of B, each an independent WY run with B resamples (as with
    different seeds), adjusted with :func:`~hlt_replicate.multiple_testing.wy_adjust`. For the
    group's most significant baseline outcome, the spread of these runs is set against the
    binomial Monte Carlo s.e. sqrt(p(1-p)/B)."""
    from ..multiple_testing import westfall_young_details

    resp = data[(data[vocab.RESPONDED] == 1) & (data[vocab.GROUP] == group)]
    det = westfall_young_details(resp, list(vocab.TABLE_4_5_OUTCOMES), vocab.TREAT, vocab.SAP_CONTROLS, vocab.WEIGHT,
                                 int(total), seed=seed, corrections=())
    p_obs = det.table["p"].to_numpy()
    p_star = det.p_star[det.valid]
    target = det.table["p_wy"].idxmin()
    j = list(det.table.index).index(target)
    runs = {}
    for B in reps_list:
        m = p_star.shape[0] // int(B)
        if m < 2:
            raise ValueError(f"total={total} gives fewer than two runs of B={B}")
        runs[int(B)] = np.array([wy_adjust(p_obs, p_star[i * B:(i + 1) * B])[j] for i in range(m)])
    agg = pd.DataFrame({
        "runs": {B: v.size for B, v in runs.items()},
        "mean over runs": {B: v.mean() for B, v in runs.items()},
        "s.d. over runs": {B: v.std(ddof=1) for B, v in runs.items()},
        "MC s.e. sqrt(p(1-p)/B)": {B: math.sqrt(v.mean() * (1 - v.mean()) / B) for B, v in runs.items()},
        "min": {B: v.min() for B, v in runs.items()},
        "max": {B: v.max() for B, v in runs.items()},
    })
    agg.index.name = "B"
    fig = Figure(figsize=(6.5, 3), layout="constrained")
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)  # horizontal jitter only
    for i, (B, v) in enumerate(runs.items()):
        m, se = agg.loc[B, "mean over runs"], agg.loc[B, "MC s.e. sqrt(p(1-p)/B)"]
        ax.fill_between([i - 0.32, i + 0.32], m - 2 * se, m + 2 * se, color=CONTROL_COLOUR, alpha=0.5, lw=0)
        ax.scatter(i + rng.uniform(-0.22, 0.22, v.size), v, color=TREATMENT_COLOUR, s=8, alpha=0.7, zorder=3)
    ax.set_xticks(range(len(runs)), [f"B = {B:,}\n({v.size} runs)" for B, v in runs.items()])
    ax.set_ylabel(f"WY p-value, {TABLE_4_5_LABELS[target]}")
    ax.set_title(f"{_label(group)}: one dot per run; band: mean ± 2 Monte Carlo s.e.", fontsize=9.5)
    _ax_style(ax)
    return View(title=f"Monte Carlo error of a WY p-value ({_label(group)}, {TABLE_4_5_LABELS[target]})",
                tables={"": agg.round(4)}, figure=fig,
                note=f"{total:,} permutations drawn once (seed {seed}) and split into disjoint runs of B.")


# =========================================================================================
# Exercises
# =========================================================================================
#: Exercise 2's toy family: observed p-values of three hypotheses and 20 resamples.
TOY_P = pd.Series({"A": 0.04, "B": 0.09, "C": 0.30}, name="observed p")


def toy_resamples(seed: int = 2, resamples: int = 20, rho: float = 0.5) -> pd.DataFrame:
    """Exercise 2's resampled p-values: ``resamples`` rows × 3 hypotheses (A, B, C), from
    correlated normal statistics, two-sided, rounded to 3 decimals."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(resamples)[:, None]
    z = math.sqrt(rho) * common + math.sqrt(1 - rho) * rng.standard_normal((resamples, 3))
    return pd.DataFrame(np.round(2 * stats.norm.sf(np.abs(z)), 3), columns=list(TOY_P.index),
                        index=pd.RangeIndex(1, resamples + 1, name="resample"))


def _toy(step: str) -> pd.Series:
    return pd.Series(wy_adjust(TOY_P.to_numpy(), toy_resamples().to_numpy(), step), index=TOY_P.index)


@lru_cache(maxsize=1)
def _reference_sap() -> dict[str, SAPDecision]:
    """The SAP rule on the default synthetic trial (exact, seed 0), as the notebook runs it."""
    return sap_all(load_trial(0).data, reps=TABLE_4_5_REPS, seed=0)


def _expected_ex3() -> float:
    dec = _reference_sap()
    return min(float(d.wy["p_wy"].min()) for d in dec.values() if d.gap_exceeds)


def _wmca_eq5d_p() -> float:
    return float(_reference_sap()["WMCA_OOW"].wy.loc["bl_eq5d", "p_wy"])


def _expected_ex4() -> int:
    return reps_for_precision(0.001, _wmca_eq5d_p())


def _namespace() -> dict:
    from .. import multiple_testing as mt

    return {"np": np, "pd": pd, "math": math, "vocab": vocab, "mt": mt, "load_trial": load_trial,
            "published": published, "toy_resamples": toy_resamples, "TOY_P": TOY_P, "sap_all": sap_all}


EXERCISES = ExerciseSet(
    [
        Exercise(
            key="ex1",
            title="The family-wise error rate of a secondary-outcome table",
            expected=lambda: fwer_independent(len(vocab.SECONDARY_OUTCOMES), 0.05),
            tol=0.005,
            hints=(
                (lambda a, x: abs(float(a) - 0.05 * len(vocab.SECONDARY_OUTCOMES)) < 0.005,
                 "That is the union bound K·α, an upper bound. For independent tests the exact value is 1 − (1 − α)^K."),
                (lambda a, x: abs(float(a) - 0.95 ** len(vocab.SECONDARY_OUTCOMES)) < 0.005,
                 "That is the probability that *no* test rejects. Take its complement."),
                (lambda a, x: abs(float(a) - 100 * x) < 0.5, "Give a probability between 0 and 1, not a percentage."),
            ),
            default_hint="Count the outcomes in vocab.SECONDARY_OUTCOMES (K) and compute 1 − (1 − 0.05)^K.",
            solution_code=(
                "K = len(vocab.SECONDARY_OUTCOMES)\n"
                "answer = 1 - (1 - 0.05) ** K\n"
                "print(f'K = {K}: P(at least one false positive) = {answer:.3f}')"
            ),
            explanation=(
                "Each of Tables 4-8, 4-10, 4-12, 4-14 and 4-15 has nine secondary outcomes. If IPS changed none of them "
                "and the tests were independent, at least one would come out 'significant' at 5 % in 1 − 0.95⁹ ≈ 37 % of "
                "trials, and across the five tables one would almost surely see some. Correlated outcomes lower this "
                "(the widget shows how much); adjustment brings it back to 5 %."
            ),
        ),
        Exercise(
            key="ex2",
            title="Westfall–Young step-down by hand",
            expected=lambda: float(_toy("down")["B"]),
            tol=1e-9,
            hints=(
                (lambda a, x: abs(float(a) - float(_toy("single")["B"])) < 1e-9,
                 "That is single-step minP (Algorithm 2.5): the minimum over all three. The step-down (Algorithm 2.8) "
                 "takes, for B, the minimum over B and the hypotheses *less* significant than B only."),
                (lambda a, x: abs(float(a) - float((toy_resamples()["B"] <= TOY_P["B"]).mean())) < 1e-9,
                 "That is B's own resampling p-value, unadjusted: take the minimum of B and C in each resample first."),
            ),
            default_hint=("Order the hypotheses by observed p (A, B, C). For B, in each resample take min(p*_B, p*_C) "
                          "and count the share at or below 0.09; then make sure it is at least A's adjusted value."),
            solution_code=(
                "ps = toy_resamples()                       # 20 resamples x 3 hypotheses\n"
                "order = TOY_P.sort_values().index          # A, B, C: most to least significant\n"
                "# successive minima from the least significant end (Algorithm 2.8)\n"
                "q = ps[order[::-1]].cummin(axis=1)[order]\n"
                "raw_share = (q <= TOY_P[order]).mean()     # share of resamples at or below each observed p\n"
                "adjusted = raw_share.cummax()              # monotone in the order of the observed p\n"
                "print(pd.DataFrame({'observed': TOY_P[order], 'step-down share': raw_share, 'adjusted': adjusted}))\n"
                "answer = adjusted['B']\n"
                "assert np.isclose(answer, mt.wy_adjust(TOY_P, ps, 'down')[1])  # the kit agrees"
            ),
            explanation=(
                "For B the step-down compares its observed p (0.09) with min(p*_B, p*_C) in each resample: C is the only "
                "hypothesis less significant than B, so A no longer competes. Three resamples in twenty fall at or "
                "below, so B's adjusted p-value is 0.15; A's (0.05) is smaller, so the monotonicity step changes nothing. "
                "Single-step minP would also count A and give 0.25; B's own, unadjusted share is 0.10."
            ),
        ),
        Exercise(
            key="ex3",
            title="How far is the SAP rule from triggering?",
            expected=_expected_ex3,
            tol=0.01,
            hints=(
                (lambda a, x: abs(float(a) - float(_reference_sap()["WMCA_OOW"].wy["p_wy"].min())) < 0.01,
                 "That is WMCA's smallest adjusted p-value, but WMCA's response gap is below the 5-point threshold "
                 "(Table 4-1): the rule cannot trigger there at any α."),
                (lambda a, x: abs(float(a) - float(_reference_sap()["SCR_OOW"].wy["p"].min())) < 0.01,
                 "That is a raw p-value. The rule uses the Westfall–Young adjusted p-values."),
            ),
            default_hint=("Run sap_all(data) and, among groups with d.gap_exceeds, take the smallest d.wy['p_wy']: the "
                          "rule triggers for any α above it."),
            solution_code=(
                "data = load_trial(0).data\n"
                "decisions = sap_all(data)                # sap_decision_rule for each trial group\n"
                "for g, d in decisions.items():\n"
                "    print(f\"{g}: gap {d.response_gap_ppt:.1f} ppt, smallest adjusted p {d.wy['p_wy'].min():.3f}\")\n"
                "answer = min(d.wy['p_wy'].min() for d in decisions.values() if d.gap_exceeds)"
            ),
            explanation=(
                "Only the two SCR groups pass the response-gap condition (Table 4-1; WMCA's gap is under 4 points). "
                "Their smallest adjusted p-value is SCR OOW's number of barriers, close to the report's Table 4-5 value: "
                "the rule would trigger only at a significance level above it, more than four times the SAP's 0.05. "
                "It is nowhere near triggering, which is what §4.2.1 concludes."
            ),
        ),
        Exercise(
            key="ex4",
            title="How many resamples for a precise p-value?",
            expected=_expected_ex4,
            kind="number",
            tol=3_000,
            hints=(
                (lambda a, x: abs(float(a) - math.sqrt(x)) < 0.05 * math.sqrt(x),
                 "The s.e. shrinks with the square root of B: solve sqrt(p(1 − p)/B) ≤ 0.001 for B."),
                (lambda a, x: abs(float(a) - x / 1000) < 0.05 * x / 1000,
                 "Divide p(1 − p) by the *square* of the target s.e. (0.001² = 10⁻⁶)."),
                (lambda a, x: abs(float(a) - 0.05 * 0.95 / 1e-6) < 100,
                 "That is for a p-value near 0.05. Use WMCA's adjusted p-value for EQ5D5L (about 0.11)."),
            ),
            default_hint="B = p(1 − p) / s.e.², with p the WMCA EQ5D5L adjusted p-value; or mt.reps_for_precision(0.001, p).",
            solution_code=(
                "d = sap_all(load_trial(0).data)['WMCA_OOW']\n"
                "p = d.wy.loc['bl_eq5d', 'p_wy']\n"
                "print(mt.monte_carlo_error(d.wy).loc['bl_eq5d'])   # at 10,000 resamples\n"
                "answer = mt.reps_for_precision(0.001, p)          # p(1 - p) / 0.001**2, rounded up\n"
                "print(f'p = {p:.4f}: {answer:,} resamples for a Monte Carlo s.e. of 0.001')"
            ),
            explanation=(
                "With p a little above 0.1 the binomial Monte Carlo s.e. is sqrt(p(1 − p)/B): about 0.003 at B = 10,000, "
                "and 0.001 needs nearly ten times as many resamples, close to 100,000 (seconds with the vectorised "
                "engine). For a decision at α = 0.05 the precision that matters is near 0.05: there 10,000 resamples "
                "give ±0.002, ample unless a p-value sits right at the threshold."
            ),
        ),
    ],
    namespace=_namespace,
)

check = EXERCISES.check
show_solution = EXERCISES.show_solution
solution = EXERCISES.solution
expected = EXERCISES.expected
