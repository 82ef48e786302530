"""Callbacks behind the Voila dashboards in ``dashboards/`` (one notebook each).

A trainer projects these to a room; students move a slider and see a number change. Each
dashboard is a pure function of the data and the widget values that returns a
:class:`DashboardResult`: a few headline numbers (:class:`Readout`) and a
:class:`~hlt_replicate.teaching.View` (tables and a figure). The functions compute nothing
new: they call the kit's own estimators, so what the room sees is what the package returns.

* :func:`randomisation` — re-randomise every recruit with a seed and a blocking scheme: arm
  sizes, balance of the draw and the randomisation distribution of a covariate's difference;
* :func:`weighting` — non-response weights from a chosen response model and trimming rule:
  standardised differences before and after weighting, Kish design effect, effective n;
* :func:`impact` — one ITT impact (group, outcome, survey weights on or off): the report's
  chart and a table;
* :func:`fwer` — the family-wise error rate of K tests under the global null, by procedure
  (:func:`hlt_replicate.lessons.ch04.simulate_fwer`);
* :func:`benefit_cost` — RAND's business case with the slider values
  (:func:`hlt_replicate.lessons.ch05.business_case_view`, the view notebook 05's widget
  shows): BCRs, net benefit, break-even and a tornado chart.

The widget side is kept to :func:`app` (controls + readouts + output, wired by
:func:`hlt_replicate.teaching.wire` as the lessons' widgets are) and one ``*_controls()``
function per dashboard. Readouts are rendered as
``<span class="hlt-readout" data-key="KEY">TEXT</span>`` so a browser test (``tests/browser/``)
can read them, and compare ``TEXT`` with :attr:`Readout.text` of the same call made in the
test.

:func:`load_data` gives the trial the dashboards show: ``HLT_DATA`` (a folder written by
``python -m data_synth generate --out DIR``) or else the cached synthetic trial of seed
``HLT_SEED`` (default 0), with survey weights added.
"""
from __future__ import annotations

import html
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from . import impact as im
from . import randomisation as ra
from . import vocab
from . import weighting as wt
from ._checks import InputError, require_choice
from .balance import balance_table
from .charts import CONTROL_COLOUR, TREATMENT_COLOUR, impact_chart, love_plot
from .teaching import View, wire

__all__ = [
    "Readout", "DashboardResult", "load_data", "randomisation", "weighting", "impact", "fwer", "benefit_cost",
    "readout_html", "app", "randomisation_controls", "weighting_controls", "impact_controls", "fwer_controls",
    "bcr_app", "DASHBOARDS",
]

#: The dashboards: notebook stem in ``dashboards/`` -> one-line description.
DASHBOARDS: dict[str, str] = {
    "randomisation": "Re-randomise with a seed and blocks: balance and the randomisation distribution",
    "weighting": "Non-response weights: response model and trimming -> ASMD, design effect",
    "impact_explorer": "Impacts: group, outcome, survey weights on/off -> chart and table",
    "fwer_simulator": "Multiple testing: K outcomes, correlation -> family-wise error rate by method",
    "bcr_calculator": "Benefit-cost ratios: sliders -> BCR, net benefit, break-even, tornado",
}


# =========================================================================================
# Readouts
# =========================================================================================
@dataclass(frozen=True)
class Readout:
    """One headline number: a stable ``key`` (the ``data-key`` in the page), a label, the
    value and how many decimals it is shown with. Strings are shown as they are."""

    key: str
    label: str
    value: Any
    decimals: int = 3
    p_value: bool = False

    @property
    def text(self) -> str:
        """The value as the dashboard shows it (ASCII minus sign; ``n/a`` for missing;
        ``<0.001`` for a p-value below the last decimal shown)."""
        v = self.value
        if self.p_value and isinstance(v, (float, np.floating)) and math.isfinite(v) and v < 10 ** -self.decimals:
            return f"<{10 ** -self.decimals:.{self.decimals}f}"
        if isinstance(v, str):
            return v
        if v is None:
            return "n/a"
        if isinstance(v, (bool, np.bool_)):
            return "yes" if v else "no"
        if isinstance(v, (int, np.integer)):
            return f"{int(v):,}"
        v = float(v)
        if not math.isfinite(v):
            return "n/a"
        out = f"{v:,.{self.decimals}f}"
        return out[1:] if out.startswith("-") and not out.strip("-0.,") else out  # no "-0.000"


def readout_html(readouts: Sequence[Readout]) -> str:
    """The readouts as a row of labelled boxes, large enough to read on a projector."""
    boxes = []
    for r in readouts:
        boxes.append(
            '<div class="hlt-readout-box" style="display:inline-block;vertical-align:top;margin:0 1.4em 0.5em 0;'
            'padding:0.25em 0.8em;border-left:4px solid #2166ac;background:#f3f6fa">'
            f'<div class="hlt-readout-label" style="font-size:0.85em;color:#333">{html.escape(r.label)}</div>'
            f'<span class="hlt-readout" data-key="{html.escape(r.key)}" '
            'style="font-size:1.7em;font-weight:600;font-variant-numeric:tabular-nums">'
            f"{html.escape(r.text)}</span></div>"
        )
    return '<div class="hlt-readout-row">' + "".join(boxes) + "</div>"


@dataclass
class DashboardResult:
    """What a dashboard callback returns: headline readouts and a view (tables, figure)."""

    readouts: tuple[Readout, ...]
    view: View = field(default_factory=View)

    def __getitem__(self, key: str) -> Readout:
        for r in self.readouts:
            if r.key == key:
                return r
        raise KeyError(f"no readout {key!r}; have {[r.key for r in self.readouts]}")

    def text(self, key: str) -> str:
        return self[key].text

    def texts(self) -> dict[str, str]:
        """``{key: text}`` for every readout (what the page shows)."""
        return {r.key: r.text for r in self.readouts}

    def readout_html(self) -> str:
        return readout_html(self.readouts)

    def show(self) -> None:
        """Display the view for a projector: title, figure, tables, note (the readouts are
        shown by :func:`app`)."""
        from IPython.display import HTML, display

        v = self.view
        if v.title:
            display(HTML(f"<h3>{html.escape(v.title)}</h3>"))
        if v.figure is not None:
            display(v.figure)
        for caption, tab in v.tables.items():
            if caption:
                display(HTML(f"<b>{html.escape(caption)}</b>"))
            display(tab)
        if v.note:
            display(HTML(f"<p><i>{html.escape(v.note)}</i></p>"))

    def _ipython_display_(self) -> None:
        from IPython.display import HTML, display

        display(HTML(self.readout_html()))
        self.show()


# =========================================================================================
# Data
# =========================================================================================
def load_data(seed: int | None = None, folder: str | os.PathLike | None = None) -> pd.DataFrame:
    """The trial the dashboards show, with a ``weight`` column (survey weights of
    :func:`hlt_replicate.weighting.ipw_weights`; NaN for non-respondents).

    ``folder`` (default ``$HLT_DATA``): a trial written by ``python -m data_synth generate
    --out DIR``. Otherwise the synthetic trial of ``seed`` (default ``$HLT_SEED``, else 0)
    from :func:`hlt_replicate.teaching.load_trial` (generated once, then cached on disk).
    """
    folder = folder if folder is not None else (os.environ.get("HLT_DATA") or None)
    if folder is not None:
        from data_synth.io import load_trial as read_folder  # the data layer: imported only here

        data = read_folder(folder)
        data[vocab.WEIGHT] = wt.ipw_weights(data)
        return data
    from .teaching import load_trial

    seed = int(os.environ.get("HLT_SEED", "0")) if seed is None else int(seed)
    return load_trial(seed=seed).data


def _fig(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


# =========================================================================================
# 1. Randomisation
# =========================================================================================
#: Blocking schemes (key -> strata columns, label).
STRATA: dict[str, tuple[tuple[str, ...], str]] = {
    "none": ((), "none: one lottery for all 9,785"),
    "group": ((vocab.GROUP,), "trial group (the HLT's tool)"),
    "group_area": ((vocab.GROUP, vocab.AREA), "group × area"),
    "group_area_cohort": ((vocab.GROUP, vocab.AREA, vocab.COHORT), "group × area × cohort"),
}
#: Covariates whose randomisation distribution is drawn (column -> label).
RI_COVARIATES: dict[str, str] = {
    "age": "Age",
    "female": "Female",
    "bl_eq5d": "EQ5D5L at baseline",
    "bl_eqvas": "EQ-VAS at baseline",
    "bl_swemwbs": "SWEMWBS at baseline",
    "bl_jsse": "Job-search self-efficacy at baseline",
}
#: Rows of the balance summary.
RANDOMISATION_BALANCE: tuple[str, ...] = (
    "age", *vocab.BINARY_BASELINE, "qual", "health", "area", "cohort", "work_history", "bl_eq5d", "bl_eqvas", "bl_swemwbs",
)


def _balance_summary(tab: pd.DataFrame) -> pd.DataFrame:
    """One row per characteristic: arm means (numeric/binary), the largest |standardised
    difference| (over the levels present, for a categorical one) and the test's p-value."""
    rows = []
    for v, part in tab.groupby("variable", sort=False):
        head = part.iloc[0]
        levels = part[(part["kind"] == "level") & (part["n_population"] > 0)]
        sd = levels["std_diff"].abs().max() if head["kind"] == "block" else abs(head["std_diff"])
        rows.append({
            "characteristic": str(head["label"]).rstrip(":"),
            "control": "" if head["kind"] == "block" else f"{head['control']:.3f}",
            "treatment": "" if head["kind"] == "block" else f"{head['treatment']:.3f}",
            "|std. diff.|": float(sd),
            "p": float(head["p"]),
        })
    return pd.DataFrame(rows).set_index("characteristic")


def randomisation(
    data: pd.DataFrame,
    seed: int = 1,
    strata: str = "group",
    group: str = "SCR_OOW",
    covariate: str = "age",
    n_perm: int = 500,
) -> DashboardResult:
    """Re-randomise every recruit 50/50 with ``seed``, blocking on ``strata`` (a key of
    :data:`STRATA`), and look at one trial ``group``'s randomised recruits (no
    non-response): arm sizes, the balance of the draw (:func:`~hlt_replicate.balance.balance_table`,
    unweighted), and where this draw's treatment–control difference in ``covariate`` falls in
    its randomisation distribution (``n_perm`` further draws of the same design).

    Readouts: ``treated``, ``control``, ``t_minus_c`` (arm sizes in the group),
    ``max_std_diff`` (largest |standardised difference| over the balance rows), ``diff``
    (this draw's difference in ``covariate``) and ``ri_p`` (share of draws at least as far
    from zero, (1 + hits)/(1 + n_perm))."""
    require_choice(strata, tuple(STRATA), "strata")
    require_choice(group, vocab.GROUPS, "group")
    require_choice(covariate, tuple(RI_COVARIATES), "covariate")
    if int(n_perm) < 1:
        raise InputError(f"n_perm must be >= 1, got {n_perm}")
    cols, strata_label = STRATA[strata]
    design = ra.hlt_design(data, cols)
    z = design.draw(np.random.default_rng([int(seed), 0]))
    in_g = (data[vocab.GROUP] == group).to_numpy()
    if not in_g.any():
        raise InputError(f"no rows for group {group!r}")
    rows = data.loc[in_g].copy()
    zg = z[in_g].astype(int)
    rows[vocab.TREAT] = zg
    n_t, n_c = int(zg.sum()), int(len(zg) - zg.sum())

    summary = _balance_summary(balance_table(rows, None, RANDOMISATION_BALANCE, weights=None, responded=None))
    x = rows[covariate].to_numpy(float)
    ok = ~np.isnan(x)
    stat = ra.diff_in_means(x[ok])
    P = design.permutation_matrix(int(n_perm), seed=np.random.default_rng([int(seed), 1]), exact=False)[in_g][ok]
    null = np.asarray(stat(P), float)
    obs = float(stat(zg[ok])[0])
    p = float((1 + np.sum(np.abs(null) >= abs(obs) - 1e-12 * max(1.0, abs(obs)))) / (1 + len(null)))

    label = vocab.GROUP_LABELS[group]
    fig = _fig(10, 3.6)
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.2, 1])
    ax1.hist(null, bins=40, color=CONTROL_COLOUR, label=f"{len(null):,} other draws of this design")
    ax1.axvline(obs, color=TREATMENT_COLOUR, lw=2.5, label=f"this draw: {obs:+.3f} (p = {p:.3f})")
    ax1.set_xlabel(f"Treatment − control difference in {RI_COVARIATES[covariate].lower()}")
    ax1.set_ylabel("Draws")
    ax1.legend(frameon=True, framealpha=0.9, edgecolor="none", fontsize=8, loc="upper left", bbox_to_anchor=(0, 1.22),
               ncols=2)
    ax1.spines[["top", "right"]].set_visible(False)
    y = np.arange(len(summary))
    ax2.barh(y, summary["|std. diff.|"], color=TREATMENT_COLOUR)
    ax2.axvline(0.1, color="0.3", ls="--", lw=0.8)
    ax2.set_yticks(y, summary.index, fontsize=8)
    ax2.invert_yaxis()
    ax2.set_xlim(0, max(0.12, float(summary["|std. diff.|"].max()) * 1.1))
    ax2.set_xlabel("|standardised difference| (largest level for a category)")
    ax2.set_title("Balance of this draw (dashed line: 0.1 rule of thumb)", fontsize=9.5)
    ax2.spines[["top", "right"]].set_visible(False)

    readouts = (
        Readout("treated", f"Treated ({label})", n_t),
        Readout("control", f"Control ({label})", n_c),
        Readout("t_minus_c", "T − C", n_t - n_c),
        Readout("max_std_diff", "Largest |std. diff.|", float(summary["|std. diff.|"].max())),
        Readout("diff", f"Difference in {RI_COVARIATES[covariate].lower()}", obs),
        Readout("ri_p", "Randomisation p-value", p, p_value=True),
    )
    view = View(
        title=f"Re-randomisation: seed {seed}, blocks {strata_label}, {label}",
        tables={"Balance of this draw (all randomised recruits of the group)": summary.round(3)},
        figure=fig,
        note="Every draw is a legitimate randomisation: imbalance in one draw is chance, and the p-value of a "
        "covariate difference is uniform over draws. Finer blocks narrow the distribution of blocked characteristics.",
    )
    return DashboardResult(readouts, view)


def randomisation_controls() -> dict:
    """Widgets for :func:`randomisation`."""
    import ipywidgets as w

    style = {"description_width": "initial"}
    return {
        "seed": w.IntSlider(value=1, min=0, max=100, description="Seed", continuous_update=False, style=style),
        "strata": w.Dropdown(options=[(lab, k) for k, (_, lab) in STRATA.items()], value="group", description="Blocks",
                             style=style),
        "group": w.Dropdown(options=[(vocab.GROUP_LABELS[g], g) for g in vocab.GROUPS], value="SCR_OOW",
                            description="Group", style=style),
        "covariate": w.Dropdown(options=[(lab, k) for k, lab in RI_COVARIATES.items()], value="age",
                                description="Covariate", style=style),
    }


# =========================================================================================
# 2. Weighting
# =========================================================================================
#: Trimming rules (key -> label).
TRIM_RULES: dict[str, str] = {"none": "none", "cap": "cap at k × mean", "percentile": "winsorise at the 99th percentile"}
#: Characteristics compared before and after weighting.
ASMD_VARIABLES: tuple[str, ...] = ("age", *vocab.BINARY_BASELINE, "qual", "health", "area", "cohort", "work_history",
                                   "bl_eq5d", "bl_swemwbs", "bl_jsse")


def weighting(
    data: pd.DataFrame,
    covariates: Sequence[str] = wt.RESPONSE_COVARIATES,
    trim: str = "none",
    k: float = 3.0,
    group: str = "SCR_IW",
) -> DashboardResult:
    """Survey weights for one trial ``group`` (:func:`hlt_replicate.weighting.survey_weights`:
    a logit of responding on ``covariates`` and arm, inverted, trimmed by ``trim`` — a key of
    :data:`TRIM_RULES`, ``k`` for the cap — and normalised to mean 1), compared with the
    group's randomised population (:func:`~hlt_replicate.weighting.asmd_table`,
    ``compare="population"``).

    Readouts: ``asmd_before``/``asmd_after`` (largest absolute standardised difference,
    respondents vs all randomised), ``deff`` (Kish design effect), ``ess`` (effective sample
    size), ``max_weight`` and ``respondents``."""
    require_choice(trim, tuple(TRIM_RULES), "trim")
    require_choice(group, vocab.GROUPS, "group")
    covariates = list(covariates)
    unknown = [c for c in covariates if c not in wt.RESPONSE_COVARIATES]
    if unknown:
        raise InputError(f"covariates {unknown} are not among {list(wt.RESPONSE_COVARIATES)}")
    rows = im.select_group(data, group)
    w = wt.survey_weights(rows, covariates, trim=None if trim == "none" else trim, k=float(k), upper=0.99)
    asmd = wt.asmd_table(rows, None, ASMD_VARIABLES, weights=w, compare="population")
    resp_w = w.dropna()
    deff, ess = wt.kish_deff(resp_w), wt.effective_sample_size(resp_w)
    label = vocab.GROUP_LABELS[group]
    readouts = (
        Readout("asmd_before", "Largest ASMD, unweighted", float(asmd["before"].max())),
        Readout("asmd_after", "Largest ASMD, weighted", float(asmd["after"].max())),
        Readout("deff", "Kish design effect", deff),
        Readout("ess", "Effective sample size", ess, 1),
        Readout("max_weight", "Largest weight", float(resp_w.max()), 2),
        Readout("respondents", "Respondents", int(len(resp_w))),
    )
    names = [v if lv is None or (isinstance(lv, float) and np.isnan(lv)) else f"{v}: {lv}"
             for v, lv in zip(asmd["variable"], asmd["level"])]
    worst = asmd.assign(row=names).sort_values("after", ascending=False).head(8).set_index("row")[["before", "after"]]
    fig = Figure(figsize=(10, 0.17 * len(asmd) + 1.5))
    gs = fig.add_gridspec(1, 2, width_ratios=[1.5, 1], left=0.22, right=0.98, top=0.94,
                          bottom=0.55 / (0.17 * len(asmd) + 1.5), wspace=0.25)
    ax1, ax2 = fig.add_subplot(gs[0]), fig.add_subplot(gs[1])
    love_plot(asmd, ax=ax1, title=f"{label}: respondents vs all randomised")
    ax2.hist(resp_w, bins=40, color=CONTROL_COLOUR, edgecolor=TREATMENT_COLOUR, lw=0.3)
    ax2.axvline(1, color="0.3", ls="--", lw=0.8)
    ax2.set_xlabel("Survey weight (mean 1)")
    ax2.set_ylabel("Respondents")
    ax2.set_title(f"Weights: deff {deff:.3f}, effective n {ess:,.0f} of {len(resp_w):,}", fontsize=9.5)
    ax2.spines[["top", "right"]].set_visible(False)
    model = ", ".join(covariates) if covariates else "arm only"
    view = View(
        title=f"Non-response weights for {label}",
        tables={"Largest standardised differences after weighting": worst.round(3)},
        figure=fig,
        note=f"Response model: {model}. Trimming: {TRIM_RULES[trim]}" + (f" (k = {float(k):g})" if trim == "cap" else "")
        + ". Weighting removes differences on what the model includes, at the price of a design effect above 1.",
    )
    return DashboardResult(readouts, view)


def weighting_controls() -> dict:
    """Widgets for :func:`weighting`."""
    import ipywidgets as w

    style = {"description_width": "initial"}
    return {
        "covariates": w.SelectMultiple(options=list(wt.RESPONSE_COVARIATES), value=tuple(wt.RESPONSE_COVARIATES),
                                       rows=5, description="Response model", style=style),
        "trim": w.Dropdown(options=[(lab, k) for k, lab in TRIM_RULES.items()], value="none", description="Trimming",
                           style=style),
        "k": w.FloatSlider(value=3.0, min=1.5, max=6.0, step=0.5, description="cap k", continuous_update=False,
                           style=style),
        "group": w.Dropdown(options=[(vocab.GROUP_LABELS[g], g) for g in vocab.GROUPS], value="SCR_IW",
                            description="Group", style=style),
    }


# =========================================================================================
# 3. Impact explorer
# =========================================================================================
def _impact_row(res: im.ImpactResult) -> dict:
    lo, hi = res.ci()
    return {"control": res.control_mean, "treatment": res.treatment_mean, "impact": res.impact, "s.e.": res.se,
            "95% CI": f"[{lo:.3f}, {hi:.3f}]", "p": res.p, "stars": im.significance_stars(res.p),
            "effect size": np.nan if res.binary else res.effect_size, "base": res.nobs}


def impact(data: pd.DataFrame, group: str = "SCR_IW", outcome: str = "swemwbs", weights: bool = True) -> DashboardResult:
    """The ITT impact on ``outcome`` in ``group`` (a trial or pooled group) among respondents,
    with the SAP controls and the outcome's baseline, survey weights on or off
    (:func:`hlt_replicate.impact.estimate_itt`): the report's chart and a table of both
    weightings.

    Readouts (the estimate with ``weights``): ``impact``, ``se``, ``p``, ``control`` and
    ``treatment`` (raw means; shares for 0/1 outcomes), ``base``."""
    require_choice(group, vocab.ALL_GROUPS, "group")
    require_choice(outcome, tuple(vocab.OUTCOMES), "outcome")
    resp = data[data[vocab.RESPONDED] == 1]
    both = {on: im.estimate_itt(resp, outcome, group, weights=vocab.WEIGHT if on else None) for on in (True, False)}
    res = both[bool(weights)]
    readouts = (
        Readout("impact", "Impact", res.impact),
        Readout("se", "Standard error", res.se),
        Readout("p", "p-value", res.p, p_value=True),
        Readout("control", "Control mean", res.control_mean),
        Readout("treatment", "Treatment mean", res.treatment_mean),
        Readout("base", "Base (respondents)", int(res.nobs)),
    )
    table = pd.DataFrame({("survey weights on" if on else "survey weights off") + (" ← shown" if on == bool(weights) else ""):
                          _impact_row(r) for on, r in both.items()}).T
    for c in ("control", "treatment", "impact", "s.e.", "p", "effect size"):
        table[c] = table[c].astype(float).round(3)
    meta = vocab.OUTCOMES[outcome]
    title = f"{meta.label}, {vocab.GROUP_LABELS[group]}"
    view = View(
        title=title,
        tables={"": table},
        figure=impact_chart(res, title=title + (" (weighted)" if weights else " (unweighted)")),
        note="SAP controls plus the outcome's baseline value, robust (HC1) standard errors, t p-values. Stars: "
        "unadjusted p (*** p<0.001, ** p<0.01, * p<0.05); the report's stars use Westfall-Young adjusted p-values. "
        + ("0/1 outcomes: the table shows shares, the chart percentage points." if meta.binary else ""),
    )
    return DashboardResult(readouts, view)


def impact_controls() -> dict:
    """Widgets for :func:`impact`."""
    import ipywidgets as w

    style = {"description_width": "initial"}
    return {
        "group": w.Dropdown(options=[(vocab.GROUP_LABELS[g], g) for g in vocab.ALL_GROUPS], value="SCR_IW",
                            description="Group", style=style),
        "outcome": w.Dropdown(options=[(o.label, k) for k, o in vocab.OUTCOMES.items()], value="swemwbs",
                              description="Outcome", style=style),
        "weights": w.Checkbox(value=True, description="survey weights", style=style),
    }


# =========================================================================================
# 4. FWER simulator
# =========================================================================================
#: Procedures of :func:`hlt_replicate.lessons.ch04.simulate_fwer` (row name -> readout key, label).
FWER_PROCEDURES: dict[str, tuple[str, str]] = {
    "unadjusted": ("fwer_unadjusted", "Unadjusted"),
    "bonferroni": ("fwer_bonferroni", "Bonferroni"),
    "holm": ("fwer_holm", "Holm"),
    "sidak": ("fwer_sidak", "Šidák"),
    "benjamini-hochberg": ("fwer_bh", "Benjamini–Hochberg"),
    "westfall-young": ("fwer_wy", "Westfall–Young"),
}


def fwer(
    k: int = 5,
    rho: float = 0.0,
    trials: int = 200,
    *,
    n: int = 60,
    reps: int = 200,
    alpha: float = 0.05,
    seed: int = 0,
) -> DashboardResult:
    """Family-wise error rate of ``k`` tests at ``alpha`` when the treatment affects nothing,
    from ``trials`` simulated trials of ``n`` people whose outcomes correlate at ``rho``
    (:func:`hlt_replicate.lessons.ch04.simulate_fwer`, Westfall–Young with ``reps``
    permutations). Readouts: ``fwer_<procedure>`` for each of :data:`FWER_PROCEDURES` and
    ``fwer_independent`` = 1 − (1 − alpha)^k, the unadjusted rate for independent tests."""
    from .lessons.ch04 import simulate_fwer

    tab = simulate_fwer(trials=int(trials), n=int(n), k=int(k), rho=float(rho), reps=int(reps), alpha=float(alpha),
                        seed=int(seed))
    theory = 1 - (1 - float(alpha)) ** int(k)
    readouts = tuple(Readout(key, label, float(tab.loc[proc, "fwer"])) for proc, (key, label) in FWER_PROCEDURES.items())
    readouts += (Readout("fwer_independent", "1 − (1 − α)^K", theory),)
    fig = _fig(7.5, 3.4)
    ax = fig.add_subplot()
    labels = [label for _, label in FWER_PROCEDURES.values()]
    y = np.arange(len(labels))
    vals = tab.loc[list(FWER_PROCEDURES), "fwer"].to_numpy(float)
    err = 1.96 * tab.loc[list(FWER_PROCEDURES), "mcse"].to_numpy(float)
    colours = [TREATMENT_COLOUR if v > alpha + 1e-12 else CONTROL_COLOUR for v in vals]
    ax.barh(y, vals, xerr=err, color=colours, ecolor="0.3", capsize=3)
    ax.axvline(alpha, color="k", ls="--", lw=1, label=f"α = {alpha:g}")
    ax.axvline(theory, color="0.5", ls=":", lw=1.2, label=f"1 − (1 − α)^K = {theory:.3f}")
    for yi, v in zip(y, vals):
        ax.text(v, yi, f"  {v:.3f}", va="center", fontsize=8)
    ax.set_yticks(y, labels, fontsize=9)
    ax.invert_yaxis()
    ax.set_xlim(0, max(0.2, float(vals.max() + err.max()) * 1.25, theory * 1.15))
    ax.set_xlabel(f"Share of {int(trials):,} null trials with at least one p < {alpha:g} (bars: 95% MC interval)")
    ax.legend(frameon=False, fontsize=8, loc="lower right")
    ax.set_title(f"Family-wise error rate: K = {int(k)} outcomes, correlation {float(rho):.2f}, no true effects",
                 fontsize=9.5)
    ax.spines[["top", "right"]].set_visible(False)
    table = tab.rename(index={p: lab for p, (_, lab) in FWER_PROCEDURES.items()}).round(3)
    view = View(
        title=f"FWER with K = {int(k)}, ρ = {float(rho):.2f}",
        tables={"": table},
        figure=fig,
        note=f"Each trial: {int(n)} people, 50/50, a control and survey weights; Westfall–Young uses {int(reps)} "
        "permutations. Bonferroni and Holm control the FWER but become conservative as ρ grows; Westfall–Young "
        "uses the correlation and stays near α. Benjamini–Hochberg controls the false discovery rate, not the FWER.",
    )
    return DashboardResult(readouts, view)


def fwer_controls() -> dict:
    """Widgets for :func:`fwer`."""
    import ipywidgets as w

    style = {"description_width": "initial"}
    return {
        "k": w.IntSlider(value=5, min=1, max=15, description="K outcomes", continuous_update=False, style=style),
        "rho": w.FloatSlider(value=0.0, min=0.0, max=0.9, step=0.1, description="Correlation ρ",
                             continuous_update=False, style=style),
        "trials": w.IntSlider(value=200, min=100, max=1000, step=100, description="Simulated trials",
                              continuous_update=False, style=style),
    }


# =========================================================================================
# 5. BCR calculator
# =========================================================================================
#: Rows of :func:`hlt_replicate.bcr.dashboard`'s table shown as readouts (quantity -> key, label).
BCR_READOUTS: dict[str, tuple[str, str]] = {
    "BCR (Government)": ("bcr_government", "BCR (Government)"),
    "BCR (overall)": ("bcr", "BCR (overall)"),
    "Net benefit to Government per outcome (£)": ("net_benefit_government", "Net benefit to Government per outcome (£)"),
    "Cost per employment outcome (£)": ("cost_per_outcome", "Cost per employment outcome (£)"),
    "Break-even net employment effect": ("break_even_effect", "Break-even net employment effect"),
}


def benefit_cost(option: int = 2, relative: float = 0.2, **values: Any) -> DashboardResult:
    """RAND's business case for ``option`` with the slider ``values``: the view of
    :func:`hlt_replicate.lessons.ch05.business_case_view` (:func:`hlt_replicate.bcr.dashboard`'s
    table and chart) and readouts ``bcr_government``, ``bcr``, ``net_benefit_government``,
    ``cost_per_outcome``, ``break_even_effect`` as its table prints them (``n/a`` when the
    model cannot give one, e.g. no employment effect)."""
    from .lessons.ch05 import business_case_view

    view = business_case_view(option, relative, **values)
    printed = view.table["value"].to_dict()
    readouts = tuple(Readout(key, label, str(printed.get(q, "n/a"))) for q, (key, label) in BCR_READOUTS.items())
    return DashboardResult(readouts, view)


# =========================================================================================
# Widget wiring
# =========================================================================================
_CSS = """<style>
.hlt-readouts.hlt-busy { opacity: 0.45; }
.hlt-controls .widget-dropdown > select { max-width: 320px; }
</style>"""


def app(callback: Callable[..., DashboardResult], controls: Mapping[str, Any], *, title: str = "", intro: str = ""):
    """A dashboard: ``controls`` (``{argument: widget}``) in a wrapping row, the readouts of
    ``callback(**values)`` in an ``HTML`` widget (class ``hlt-readouts``) and its view in an
    ``Output`` widget, re-computed whenever a control changes (:func:`hlt_replicate.teaching.wire`).
    An exception shows its message in the readouts (and its traceback in the output) instead
    of leaving stale numbers on the screen."""
    import ipywidgets as w

    readouts = w.HTML(value="")
    readouts.add_class("hlt-readouts")

    def update(**values):
        readouts.add_class("hlt-busy")
        try:
            result = callback(**values)
        except Exception as err:
            readouts.value = (f'<div class="hlt-readout-error" style="color:#b42318;font-size:1.2em">'
                              f"Could not compute: {html.escape(str(err))}</div>")
            raise
        finally:
            readouts.remove_class("hlt-busy")
        readouts.value = result.readout_html()
        result.show()

    box, out = wire(update, controls, row=True).children
    box.add_class("hlt-controls")
    head = w.HTML(_CSS + (f"<h2>{html.escape(title)}</h2>" if title else "") + (f"<p>{intro}</p>" if intro else ""))
    root = w.VBox([head, box, readouts, out])
    root.add_class("hlt-dashboard")
    return root


def bcr_app(option: int = 2, *, title: str = "", intro: str = ""):
    """The BCR calculator: an option dropdown above :func:`app` over
    :func:`benefit_cost` with :func:`hlt_replicate.bcr.widget_controls` (sliders at RAND's
    inputs for the option, rebuilt when the option changes)."""
    import ipywidgets as w

    from . import bcr

    chooser = w.Dropdown(options=[(f"{o}: {bcr.rand_option_info(o)['name']}", o) for o in bcr.OPTIONS], value=option,
                         description="RAND option", style={"description_width": "initial"})
    holder = w.VBox()

    def build(opt: int) -> None:
        controls = bcr.widget_controls(opt)
        holder.children = [app(lambda **v: benefit_cost(opt, **v), controls, title=title, intro=intro)]

    chooser.observe(lambda change: build(change["new"]), "value")
    build(option)
    return w.VBox([chooser, holder])
