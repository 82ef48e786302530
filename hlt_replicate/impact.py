"""Intention-to-treat and participation impacts, as in chapter 4 of the 4-month report.

The report (§4.3 and footnote 12) estimates every impact "using linear regression, as
described in the SAP": the outcome on a treatment dummy and the SAP's controls (age,
gender, ethnicity, partner, children, qualification, health condition, area, cohort, plus
the baseline value of the outcome where there is one), with survey weights. Pooled groups
(SCR; SCR/WMCA OOW) add trial-group indicators. Participation impacts (Tables 4-9, 4-11,
4-13) instrument attending at least one IPS session with random assignment.

Conventions, each an option:

* ``cov_type`` — ``"HC1"`` (default; Stata's ``robust``), ``"HC0"``, ``"HC2"``, ``"HC3"``;
* ``dist`` — p-values from Student t with the residual degrees of freedom (default, as
  Stata's ``regress``) or the normal (statsmodels' default for robust covariances);
* ``sd`` — effect sizes divide the impact by the weighted standard deviation of the outcome
  among control-group respondents (default, ``"control"``) or among all respondents
  (``"pooled"``);
* raw means are unweighted means among respondents with a valid outcome, by arm (the
  "Control" and "Treatment" columns of Tables 4-8..4-15);
* ``missing_controls`` — a respondent with a control missing (item non-response at
  baseline: "The number of observations varies across variables due to missing values",
  the "Base" ranges under Tables 4-2..4-4) is kept by the missing-indicator method
  (default, ``"indicator"``: a dummy for the missing values, which count as a level of
  their own for a categorical control and are set to the observed mean for a numeric one),
  dropped (``"drop"``, complete cases) or refused (``"error"``). For baseline covariates in
  a randomised trial the indicator method leaves the impact unbiased and keeps every case
  (White & Thompson 2005, *Statistics in Medicine* 24:993). The report kept them too: its
  regression bases exceed the lowest baseline bases (SCR IW: EQ5D5L at 4 months has base
  1,452 in Table 4-9; the lowest base of Table 4-2's sample column is 1,444).

Report layouts and extensions (below the core estimators):

* :func:`impact_table` / :func:`format_impact_table` — Tables 4-8..4-15 (tidy, then as
  printed), with :func:`significance_stars` under either of the report's two conventions
  and optional p-value adjustment;
* :func:`subgroup_impacts` / :func:`subgroup_table` — §4.3's subgroup analysis (gender,
  age band, work history, EQ-VAS severity) with a robust Wald test of the interaction;
  :func:`hlt_replicate.charts.forest_plot` draws it;
* :func:`bloom_check` — the participation impact against the Bloom (1984) ratio.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import vocab
from ._checks import (
    InputError,
    require_binary,
    require_both_arms,
    require_choice,
    require_columns,
    require_frame,
    require_weights,
)
from .regression import P_DISTRIBUTIONS, Fit, indicators, iv2sls, level_codes, pvalue, recode, wls

SD_CONVENTIONS = ("control", "pooled")
#: What :func:`build_design` does with rows whose controls are missing (module docstring)
MISSING_CONTROLS = ("indicator", "drop", "error")


@dataclass(frozen=True)
class Design:
    """A regression design for one outcome: rows used, y, X (treatment first), weights."""

    y: np.ndarray
    X: np.ndarray
    w: np.ndarray | None
    names: tuple[str, ...]
    index: pd.Index
    treat: np.ndarray


def select_group(data: pd.DataFrame, group: str | None) -> pd.DataFrame:
    """Rows of a trial group or pooled group (``None`` keeps every row)."""
    if group is None:
        return data
    require_columns(data, [vocab.GROUP])
    try:
        members = vocab.groups_in(group)
    except ValueError as err:  # vocab raises a plain ValueError; keep the kit's error type
        raise InputError(str(err)) from None
    out = data[data[vocab.GROUP].isin(members)]
    if out.empty:
        raise InputError(f"no rows for group {group!r} (column {vocab.GROUP!r} values: {sorted(data[vocab.GROUP].unique())[:6]})")
    return out


def control_matrix(data: pd.DataFrame, controls: Sequence[str], missing: str = "error") -> tuple[np.ndarray, list[str]]:
    """Columns for the controls: numeric ones as they are, categorical ones as dummies.
    Missing values raise (``missing="error"``) or get the indicator method
    (``"indicator"``: :func:`build_design`)."""
    require_columns(data, controls, "data (controls)")
    return _control_matrix(data, controls, slice(None), len(data), missing)


def _control_matrix(data: pd.DataFrame, controls: Sequence[str], rows, n: int, missing: str = "error",
                    option: str = "missing") -> tuple[np.ndarray, list[str]]:
    """:func:`control_matrix` of ``data`` restricted to ``rows`` (a boolean mask or a
    slice; ``n`` rows), working on numpy arrays: building a design then costs no
    DataFrame copies, which matters when the generator rebuilds designs in its loops.
    ``option``: the caller's name for ``missing``, for the error message."""
    blocks, names = _control_blocks(data, controls, rows, missing, option)
    return (np.column_stack(blocks) if blocks else np.empty((n, 0))), names


def _control_blocks(data: pd.DataFrame, controls: Sequence[str], rows, missing: str = "error",
                    option: str = "missing") -> tuple[list[np.ndarray], list[str]]:
    """The column blocks of :func:`_control_matrix` and their names, not yet stacked.

    A control with missing values among ``rows`` raises, or with ``missing="indicator"``
    gets a dummy ``"<control>[missing]"``; its missing values then count as a level of their
    own (categorical) or are set to the observed mean (numeric; any constant would do: the
    dummy absorbs it and no other coefficient moves)."""
    blocks, names = [], []
    for c in controls:
        col = data[c]
        levels = vocab.CATEGORICAL_BASELINE.get(c)
        if levels is not None or not pd.api.types.is_numeric_dtype(col):
            codes, uniques = pd.factorize(col.to_numpy()[rows])  # missing values get code -1 (no dummy)
            miss = codes < 0
            codes, order = recode(codes, list(uniques), c, levels)
            mat, nm = indicators(codes, len(order)), [f"{c}[{lv}]" for lv in order[1:]]
        else:
            x = col.to_numpy(dtype=float, na_value=np.nan)[rows]
            miss = np.isnan(x)
            if miss.any() and not miss.all():
                x = np.where(miss, x[~miss].mean(), x)
            mat, nm = x[:, None], [c]
        if miss.any():
            _missing_control(c, miss, missing, option)
            mat, nm = np.column_stack([mat, miss]), nm + [f"{c}[missing]"]
        blocks.append(mat)
        names += nm
    return blocks, names


def _missing_control(control: str, miss: np.ndarray, missing: str, option: str) -> None:
    """Raise unless ``missing == "indicator"``, which keeps the rows with ``control`` missing."""
    if missing != "indicator":
        drop = " or 'drop' (complete cases)" if option == "missing_controls" else ""
        raise InputError(f"control {control!r} has {int(miss.sum())} missing value(s); pass {option}='indicator' "
                         f"(keep them, with a dummy){drop}, or impute them first")
    if miss.all():
        raise InputError(f"control {control!r} is missing for every row used: leave it out of the controls")


def build_design(
    data: pd.DataFrame,
    outcome: str,
    treat: str = vocab.TREAT,
    controls: Sequence[str] = vocab.SAP_CONTROLS,
    weights: str | None = vocab.WEIGHT,
    baseline: str | None | bool = True,
    group_indicators: bool = True,
    regressor: str | None = None,
    missing_controls: str = "indicator",
) -> Design:
    """Build y, X and w for one outcome, dropping rows where the outcome is missing.

    ``baseline=True`` adds the outcome's baseline counterpart from :mod:`vocab` when it has
    one (a column name may be given instead; ``False``/``None`` adds none).
    ``missing_controls`` says what happens to rows with a control (or the baseline value)
    missing: ``"indicator"``, ``"drop"`` or ``"error"`` (module docstring); with
    ``"indicator"`` a column ``"<control>[missing]"`` is added only when some are missing.
    ``group_indicators`` adds trial-group dummies when the rows span several groups.
    ``regressor`` replaces ``treat`` as the first column (the IV's endogenous variable).
    """
    require_frame(data)
    require_choice(missing_controls, MISSING_CONTROLS, "missing_controls")
    if baseline is True:
        meta = vocab.OUTCOMES.get(outcome)
        baseline = meta.baseline if meta is not None else None
    extra = [baseline] if baseline else []
    require_columns(data, [outcome, treat, *controls, *extra] + ([weights] if weights else []))
    observed = data[outcome].notna().to_numpy()
    if missing_controls == "drop":  # complete cases
        observed = observed & data[[*controls, *extra]].notna().all(axis=1).to_numpy()
    n = int(observed.sum())
    if n == 0:
        raise InputError(f"outcome {outcome!r} is missing for every row" + (" with every control observed" if missing_controls == "drop" else ""))
    t = require_binary(data[treat][observed], treat)
    require_both_arms(t, treat, f" among rows with {outcome!r} observed")
    y = np.asarray(data[outcome].to_numpy()[observed], dtype=float)
    if np.ptp(y) == 0:
        raise InputError(f"outcome {outcome!r} has zero variance ({y[0]!r} for every row): no impact can be estimated")
    cblocks, cnames = _control_blocks(data, [*controls, *extra], observed, missing_controls, "missing_controls")
    first = t if regressor is None else np.asarray(data[regressor].to_numpy()[observed], dtype=float)
    X = np.column_stack([np.ones(n), first, *cblocks])  # one copy into the design
    names = ["const", treat if regressor is None else regressor, *cnames]
    groups = data[vocab.GROUP].to_numpy()[observed] if group_indicators and vocab.GROUP in data.columns else None
    if groups is not None and len(pd.unique(groups)) > 1:
        codes, order = level_codes(groups, vocab.GROUP, vocab.GROUPS)
        for k, g in enumerate(order):  # with group indicators, a group with one arm adds nothing to the impact
            require_both_arms(t[codes == k], treat, f" in trial group {g!r} among rows with {outcome!r} observed")
        G, gnames = indicators(codes, len(order)), [f"{vocab.GROUP}[{g}]" for g in order[1:]]
        # A group dummy already spanned by the controls is redundant: in SCR/WMCA OOW the
        # area dummies nest the site, so group[WMCA_OOW] is the sum of the WMCA areas'
        # dummies. Leave such dummies out (the group effect is absorbed either way).
        coef, *_ = np.linalg.lstsq(X, G, rcond=None)
        spanned = np.linalg.norm(G - X @ coef, axis=0) < 1e-8 * np.sqrt(n)
        X = np.column_stack([X, G[:, ~spanned]])
        names += [g for g, s in zip(gnames, spanned) if not s]
    w = require_weights(data[weights].to_numpy()[observed], f"weights column {weights!r}") if weights else None
    return Design(y, X, w, tuple(names), data.index[observed], t)


@dataclass(frozen=True)
class ImpactResult:
    """One impact estimate, with the numbers a report table prints."""

    outcome: str
    group: str | None
    impact: float
    se: float
    p: float
    nobs: int
    control_mean: float
    treatment_mean: float
    sd: float
    binary: bool
    cov_type: str
    dist: str
    fit: Fit = field(repr=False)

    @property
    def effect_size(self) -> float:
        return self.impact / self.sd if self.sd > 0 else float("nan")

    @property
    def tstat(self) -> float:
        return self.impact / self.se

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        from scipy import stats

        q = stats.t.ppf(0.5 + level / 2, self.fit.df_resid) if self.dist == "t" else stats.norm.ppf(0.5 + level / 2)
        return self.impact - q * self.se, self.impact + q * self.se

    def as_row(self) -> dict:
        lo, hi = self.ci()
        return {
            "outcome": self.outcome,
            "group": self.group,
            "control": self.control_mean,
            "treatment": self.treatment_mean,
            "impact": self.impact,
            "se": self.se,
            "p": self.p,
            "ci_low": lo,
            "ci_high": hi,
            "effect_size": np.nan if self.binary else self.effect_size,
            "base": self.nobs,
        }


def _weighted_sd(y: np.ndarray, w: np.ndarray | None) -> float:
    w = np.ones_like(y) if w is None else w
    m = np.average(y, weights=w)
    return float(np.sqrt(np.average((y - m) ** 2, weights=w)))


def _require_residual(resid: np.ndarray, y: np.ndarray, outcome: str) -> None:
    """Raise when the regressors fit the outcome exactly: every residual is zero, so the
    robust standard error is zero too and the p-value meaningless."""
    if np.max(np.abs(resid)) <= 1e-10 * max(1.0, float(np.max(np.abs(y)))):
        raise InputError(f"outcome {outcome!r}: the regressors fit it exactly (every residual is zero), so its standard "
                         "error is not defined (is it constant within each arm, or a copy of a control?)")


def estimate_itt(
    data: pd.DataFrame,
    outcome: str,
    group: str | None = None,
    *,
    treat: str = vocab.TREAT,
    controls: Sequence[str] = vocab.SAP_CONTROLS,
    weights: str | None = vocab.WEIGHT,
    baseline: str | None | bool = True,
    cov_type: str = "HC1",
    dist: str = "t",
    sd: str = "control",
    missing_controls: str = "indicator",
) -> ImpactResult:
    """Intention-to-treat impact of assignment on ``outcome`` among respondents.

    ``data`` holds one row per person with the outcome missing for non-respondents (or only
    respondents). Returns the coefficient on ``treat`` with its robust SE and p-value, the
    raw arm means, the SD used for the effect size, and the base. Missing controls are
    handled as ``missing_controls`` says (:func:`build_design`).
    """
    if sd not in SD_CONVENTIONS:
        raise InputError(f"sd={sd!r} is not one of {SD_CONVENTIONS}")
    if dist not in P_DISTRIBUTIONS:
        raise InputError(f"dist={dist!r} is not one of {P_DISTRIBUTIONS}")
    rows = select_group(data, group)
    d = build_design(rows, outcome, treat, controls, weights, baseline, missing_controls=missing_controls)
    fit = wls(d.y, d.X, d.w, cov_type, d.names)
    _require_residual(fit.resid, d.y, outcome)
    b, s = fit.params[1], fit.bse[1]
    ctrl = d.treat == 0
    sd_val = _weighted_sd(d.y[ctrl], None if d.w is None else d.w[ctrl]) if sd == "control" else _weighted_sd(d.y, d.w)
    meta = vocab.OUTCOMES.get(outcome)
    binary = meta.binary if meta is not None else bool(set(np.unique(d.y)) <= {0.0, 1.0})
    return ImpactResult(
        outcome=outcome,
        group=group,
        impact=float(b),
        se=float(s),
        p=float(pvalue(b / s, fit.df_resid, dist)),
        nobs=fit.nobs,
        control_mean=float(d.y[ctrl].mean()),
        treatment_mean=float(d.y[~ctrl].mean()),
        sd=sd_val,
        binary=binary,
        cov_type=cov_type,
        dist=dist,
        fit=fit,
    )


def estimate_participation(
    data: pd.DataFrame,
    outcome: str,
    group: str | None = None,
    *,
    treat: str = vocab.TREAT,
    participated: str = vocab.PARTICIPATED,
    controls: Sequence[str] = vocab.SAP_CONTROLS,
    weights: str | None = vocab.WEIGHT,
    baseline: str | None | bool = True,
    cov_type: str = "HC1",
    dist: str = "t",
    sd: str = "control",
    missing_controls: str = "indicator",
) -> ImpactResult:
    """Impact of receiving IPS (attending >= 1 session), instrumented by assignment.

    Tables 4-9, 4-11 and 4-13 ("impact of receiving support"). Two-stage least squares with
    the same controls and weights as the ITT; under one-sided non-compliance this is the
    Bloom (1984) ratio ITT / (participation rate), adjusted for covariates.
    ``missing_controls`` as in :func:`build_design`.
    """
    rows = select_group(data, group)
    d = build_design(rows, outcome, treat, controls, weights, baseline, missing_controls=missing_controls)
    sub = rows.loc[d.index]
    require_columns(sub, [participated])
    part = require_binary(sub[participated], participated)
    if (part[d.treat == 0] != 0).any():
        raise InputError(f"column {participated!r} is 1 for some control-arm rows: participation must be 0 in the control arm")
    exog = d.X[:, [0, *range(2, d.X.shape[1])]]
    names = (participated, "const", *d.names[2:])
    fit = iv2sls(d.y, exog, part, d.treat, d.w, cov_type, names, instrument_names=(treat,))
    b, s = fit.params[0], fit.bse[0]
    ctrl = d.treat == 0
    sd_val = _weighted_sd(d.y[ctrl], None if d.w is None else d.w[ctrl]) if sd == "control" else _weighted_sd(d.y, d.w)
    meta = vocab.OUTCOMES.get(outcome)
    return ImpactResult(
        outcome=outcome,
        group=group,
        impact=float(b),
        se=float(s),
        p=float(pvalue(b / s, fit.df_resid, dist)),
        nobs=fit.nobs,
        control_mean=float(d.y[ctrl].mean()),
        treatment_mean=float(d.y[~ctrl].mean()),
        sd=sd_val,
        binary=meta.binary if meta is not None else False,
        cov_type=cov_type,
        dist=dist,
        fit=fit,
    )


# =========================================================================================
# Report layouts: Tables 4-8..4-15, significance stars, p-value adjustment
# =========================================================================================
#: Significance-star conventions, as (one-star, two-star, three-star) p thresholds. The
#: report is inconsistent: §4.3 says "one, two or three asterisks (90, 95 and 99%
#: significance)", footnote 15 (under Tables 4-9..4-13) says "*** p<0.001, ** p<0.01,
#: * p<0.05". With Westfall-Young adjusted p-values (footnote 14), as the report used, the
#: printed stars of Tables 4-8..4-15 fit §4.3's convention (43 of 44 cells on the synthetic
#: trial) better than footnote 15's (38 of 44), so §4.3 is the default.
STAR_CONVENTIONS: dict[str, tuple[float, float, float]] = {
    "footnote_15": (0.05, 0.01, 0.001),
    "section_4_3": (0.10, 0.05, 0.01),
}
#: Methods of ``statsmodels.stats.multitest.multipletests`` accepted by ``p_adjust``.
MULTIPLETESTS_METHODS = ("bonferroni", "sidak", "holm-sidak", "holm", "simes-hochberg", "hommel", "fdr_bh", "fdr_by")
BINARY_SCALES = ("ppt", "share")
TABLE_KINDS = ("itt", "participation")


def significance_stars(p: float, convention: str | Sequence[float] = "section_4_3") -> str:
    """'*', '**', '***' or '' for a p-value. ``convention`` names one of
    :data:`STAR_CONVENTIONS` or gives three decreasing thresholds."""
    if isinstance(convention, str):
        if convention not in STAR_CONVENTIONS:
            raise InputError(f"stars convention {convention!r} is not one of {', '.join(STAR_CONVENTIONS)} (or give 3 thresholds)")
        cuts = STAR_CONVENTIONS[convention]
    else:
        cuts = tuple(float(c) for c in convention)
        if len(cuts) != 3 or not cuts[0] > cuts[1] > cuts[2] > 0:
            raise InputError(f"stars thresholds {convention!r} must be three decreasing numbers in (0, 1)")
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < cuts[2] else "**" if p < cuts[1] else "*" if p < cuts[0] else ""


def _adjust(p_adjust, pvals: np.ndarray, data, group, outcomes, kind, est_kwargs, wy_kwargs) -> np.ndarray:
    """Adjusted p-values for the family ``outcomes`` (see :func:`impact_table`)."""
    if p_adjust is None:
        return pvals.copy()
    if callable(p_adjust):
        out = np.asarray(p_adjust(pvals), dtype=float)
    elif p_adjust == "wy":
        from . import multiple_testing  # imported here: it builds on this module

        kw = dict(treat=est_kwargs["treat"], controls=est_kwargs["controls"], weights=est_kwargs["weights"],
                  strata=vocab.GROUP if vocab.GROUP in data else None, group=group,
                  baseline=est_kwargs["baseline"], cov_type=est_kwargs["cov_type"], dist=est_kwargs["dist"])
        kw.update(wy_kwargs or {})
        res = multiple_testing.westfall_young(data, list(outcomes), **kw)
        out = res.loc[list(outcomes), "p_wy"].to_numpy(float)
    elif p_adjust in MULTIPLETESTS_METHODS:
        from statsmodels.stats.multitest import multipletests

        out = multipletests(pvals, method=p_adjust)[1]
    else:
        raise InputError(f"p_adjust={p_adjust!r} is not None, 'wy', a callable or one of {', '.join(MULTIPLETESTS_METHODS)}")
    if out.shape != pvals.shape:
        raise InputError(f"p-value adjustment returned {out.shape[0] if out.ndim else 1} values for {len(pvals)} outcomes")
    return out


def impact_table(
    data: pd.DataFrame,
    group: str | None,
    outcomes: Sequence[str] = tuple(vocab.OUTCOMES),
    *,
    kind: str = "itt",
    p_adjust: str | None | Callable = None,
    stars: str | Sequence[float] = "section_4_3",
    binary_scale: str = "ppt",
    treat: str = vocab.TREAT,
    participated: str = vocab.PARTICIPATED,
    controls: Sequence[str] = vocab.SAP_CONTROLS,
    weights: str | None = vocab.WEIGHT,
    baseline: str | None | bool = True,
    cov_type: str = "HC1",
    dist: str = "t",
    sd: str = "control",
    wy_kwargs: dict | None = None,
) -> pd.DataFrame:
    """Impacts on several outcomes in the layout of Tables 4-8..4-15 (tidy, one row each).

    ``kind="itt"`` gives intention-to-treat impacts (:func:`estimate_itt`; Tables 4-8, 4-10,
    4-12, 4-14, 4-15 and the primary-outcome figures); ``"participation"`` the impact of
    attending an IPS session (:func:`estimate_participation`; Tables 4-9, 4-11, 4-13).
    ``outcomes`` defaults to all twelve (primary then secondary); pass
    ``vocab.SECONDARY_OUTCOMES`` for the rows of Tables 4-8/4-10/4-12/4-14/4-15 and
    ``vocab.PRIMARY_OUTCOMES`` for Tables 4-9/4-11/4-13.

    Columns: ``outcome, label, group, kind, binary, unit, control, treatment`` (raw,
    unweighted respondent means), ``impact, se, ci_low, ci_high, p`` (unadjusted), ``p_adj``,
    ``stars`` (from ``p_adj`` under ``stars``, see :data:`STAR_CONVENTIONS`),
    ``effect_size`` (impact / ``sd``; NaN for binary outcomes, "-" in the printed tables),
    ``sd`` and ``sd_basis`` (which SD: the weighted SD among control respondents, or among
    all respondents with ``sd="pooled"``), ``base`` (observations in the regression).

    ``binary_scale="ppt"`` (default) puts binary outcomes in percentage points (means in
    per cent), as the primary-outcome figures do; ``"share"`` keeps proportions, as
    Tables 4-8..4-15 print them. ``p_adjust`` adjusts over this table's outcomes: None,
    ``"wy"`` (Westfall–Young free step-down minP, algorithm 2.8 of Westfall & Young 1993,
    the report's footnote 14; via :func:`hlt_replicate.multiple_testing.westfall_young`), a
    ``statsmodels`` ``multipletests`` method
    (``"holm"``, ``"bonferroni"``, ``"fdr_bh"``, …), or a callable mapping the array of
    p-values to adjusted ones.

    With ``"wy"`` the family is the ITT coefficients of ``outcomes`` (same controls, weights,
    covariance and t/normal convention), permuting assignment within trial group;
    ``wy_kwargs`` passes ``reps`` (default 10,000), ``seed``, ``method``, ``step`` … to
    :func:`hlt_replicate.multiple_testing.westfall_young`. For ``kind="participation"`` the
    ITT family's adjusted p-values are used: the IV and ITT t-tests test the same null (no
    effect of assignment).
    """
    require_choice(kind, TABLE_KINDS, "kind")
    require_choice(binary_scale, BINARY_SCALES, "binary_scale")
    significance_stars(0.5, stars)  # validate the convention early
    outcomes = list(outcomes)
    if not outcomes:
        raise InputError("outcomes is empty")
    if len(set(outcomes)) != len(outcomes):
        raise InputError(f"outcomes has duplicates: {outcomes}")
    est_kwargs = dict(treat=treat, controls=controls, weights=weights, baseline=baseline, cov_type=cov_type, dist=dist, sd=sd)
    rows = select_group(require_frame(data), group)  # once, not per outcome
    results = []
    for o in outcomes:
        try:
            if kind == "itt":
                results.append(estimate_itt(rows, o, None, **est_kwargs))
            else:
                results.append(estimate_participation(rows, o, None, participated=participated, **est_kwargs))
        except InputError as err:
            raise InputError(f"outcome {o!r}: {err}") from err
    pvals = np.array([r.p for r in results])
    padj = _adjust(p_adjust, pvals, data, group, outcomes, kind, est_kwargs, wy_kwargs)
    recs = []
    for r, pa in zip(results, padj):
        scale = 100.0 if (r.binary and binary_scale == "ppt") else 1.0
        lo, hi = r.ci()
        meta = vocab.OUTCOMES.get(r.outcome)
        recs.append(dict(
            outcome=r.outcome, label=meta.label if meta else r.outcome, group=group, kind=kind, binary=r.binary,
            unit=("ppt" if scale == 100 else "share") if r.binary else "scale",
            control=r.control_mean * scale, treatment=r.treatment_mean * scale,
            impact=r.impact * scale, se=r.se * scale, ci_low=lo * scale, ci_high=hi * scale,
            p=r.p, p_adj=float(pa), stars=significance_stars(float(pa), stars),
            effect_size=np.nan if r.binary else r.effect_size, sd=r.sd,
            sd_basis=("weighted SD, control respondents" if sd == "control" else "weighted SD, all respondents"),
            base=r.nobs,
        ))
    out = pd.DataFrame(recs)
    out.attrs.update(group=group, kind=kind, p_adjust=p_adjust if isinstance(p_adjust, str | None) else "custom",
                     stars=stars, cov_type=cov_type, dist=dist, binary_scale=binary_scale)
    return out


def format_impact_table(table: pd.DataFrame, decimals: int = 2, es_decimals: int = 1) -> pd.DataFrame:
    """The printed layout of Tables 4-8..4-15 from :func:`impact_table`: columns Control,
    Treatment, Impact, S.E., sd.s, stars, Base (participation tables omit the means);
    "-" in sd.s for binary outcomes; thousands separators in Base."""
    require_frame(table, "table")
    require_columns(table, ["label", "kind", "control", "treatment", "impact", "se", "effect_size", "stars", "base", "binary"], "table")
    participation = (table["kind"] == "participation").all()
    lines = []
    for _, r in table.iterrows():
        line = {}
        if not participation:
            line["Control"] = f"{r['control']:.{decimals}f}"
            line["Treatment"] = f"{r['treatment']:.{decimals}f}"
        line["Impact"] = f"{r['impact']:.{decimals}f}"
        line["S.E."] = f"{r['se']:.{decimals}f}"
        line["sd.s"] = "-" if r["binary"] or pd.isna(r["effect_size"]) else f"{r['effect_size']:.{es_decimals}f}"
        line[""] = r["stars"]
        line["Base"] = f"{int(r['base']):,}"
        lines.append(line)
    return pd.DataFrame(lines, index=pd.Index(table["label"], name=None))


# =========================================================================================
# Subgroup impacts (§4.3: gender, age, work history, EQ-VAS severity; Figures 4-5..4-8 etc.)
# =========================================================================================
#: Age bands (lower bounds inclusive). The report's subgroup figures were lost in
#: extraction, so the cut points are this kit's choice: roughly terciles of the HLT's ages.
AGE_BANDS: tuple[tuple[float, str], ...] = ((0, "Under 35"), (35, "35-49"), (50, "50+"))
#: EQ-VAS (0-100, higher = better health) severity bands at randomisation; kit's choice.
EQVAS_BANDS: tuple[tuple[float, str], ...] = ((0, "Severe (EQ-VAS 0-49)"), (50, "Moderate (50-74)"), (75, "Mild (75-100)"))
SUBGROUP_LABELS: dict[str, str] = {
    "female": "Gender",
    "age_band": "Age",
    "work_history": "Work in last 2 years",
    "eqvas_band": "Health severity (EQ-VAS)",
}
WORK_HISTORY_LABELS: dict[str, str] = {"never": "Never worked", "under_half": "< half the time", "over_half": "> half the time", "always": "Always worked"}


def _band(x: pd.Series, bands: Sequence[tuple[float, str]], name: str) -> pd.Series:
    edges = [b[0] for b in bands]
    if sorted(edges) != list(edges):
        raise InputError(f"{name} bands must have increasing lower bounds, got {edges}")
    codes = np.searchsorted(np.asarray(edges, float), np.asarray(x, float), side="right") - 1
    labels = np.array([b[1] for b in bands], dtype=object)
    out = pd.Series(np.where(codes >= 0, labels[np.clip(codes, 0, None)], None), index=x.index, dtype=object)
    out[x.isna()] = None
    return pd.Categorical(out, categories=[b[1] for b in bands])


def subgroup_column(data: pd.DataFrame, dimension: str, bands: Sequence[tuple[float, str]] | None = None) -> pd.Series:
    """The subgroup of each row for one of :data:`vocab.SUBGROUP_DIMENSIONS` (or any
    categorical column): ``female`` → Male/Female; ``age_band`` from ``age`` and
    ``eqvas_band`` from ``bl_eqvas`` cut at ``bands`` (default :data:`AGE_BANDS`,
    :data:`EQVAS_BANDS`); ``work_history`` labelled. A categorical Series (NaN if unknown)."""
    if dimension == "female":
        require_columns(data, ["female"])
        x = data["female"]
        bad = set(x.dropna().unique()) - {0, 1}
        if bad:
            raise InputError(f"column 'female' must be 0/1, found {sorted(bad)[:5]}")
        return pd.Series(pd.Categorical(x.map({0: "Male", 1: "Female"}), categories=["Male", "Female"]), index=data.index, name=dimension)
    if dimension == "age_band":
        require_columns(data, ["age"])
        return pd.Series(_band(data["age"], bands or AGE_BANDS, "age"), index=data.index, name=dimension)
    if dimension == "eqvas_band":
        require_columns(data, ["bl_eqvas"])
        return pd.Series(_band(data["bl_eqvas"], bands or EQVAS_BANDS, "EQ-VAS"), index=data.index, name=dimension)
    if dimension == "work_history":
        require_columns(data, ["work_history"])
        x = data["work_history"]
        bad = set(x.dropna().unique()) - set(vocab.WORK_HISTORY_LEVELS)
        if bad:
            raise InputError(f"column 'work_history' has unexpected level(s) {sorted(map(str, bad))[:5]}; expected {list(vocab.WORK_HISTORY_LEVELS)}")
        cats = [WORK_HISTORY_LABELS[lv] for lv in vocab.WORK_HISTORY_LEVELS]
        return pd.Series(pd.Categorical(x.map(WORK_HISTORY_LABELS), categories=cats), index=data.index, name=dimension)
    require_columns(data, [dimension])
    x = data[dimension]
    return pd.Series(pd.Categorical(x), index=data.index, name=dimension)


@dataclass(frozen=True)
class SubgroupResult:
    """Impacts within the levels of one subgroup dimension, with the interaction test.

    ``table`` has one row per level: ``level, impact, se, p, ci_low, ci_high, base,
    n_control, n_treatment, control, treatment`` (raw means). ``wald``/``df``/``p_interaction``
    test H0: the impact is the same in every level (the treat × subgroup terms are zero),
    with the robust covariance; F(df, residual df) when ``dist="t"``, else χ²(df).
    """

    outcome: str
    group: str | None
    dimension: str
    table: pd.DataFrame
    wald: float
    df: int
    p_interaction: float
    cov_type: str
    dist: str
    fit: Fit = field(repr=False)
    dropped: tuple = ()  # levels left out for having fewer than min_per_arm in an arm


def subgroup_impacts(
    data: pd.DataFrame,
    outcome: str,
    group: str | None = None,
    dimension: str = "female",
    *,
    bands: Sequence[tuple[float, str]] | None = None,
    treat: str = vocab.TREAT,
    controls: Sequence[str] = vocab.SAP_CONTROLS,
    weights: str | None = vocab.WEIGHT,
    baseline: str | None | bool = True,
    cov_type: str = "HC1",
    dist: str = "t",
    binary_scale: str = "ppt",
    min_per_arm: int | None = None,
) -> SubgroupResult:
    """ITT impact of assignment within each level of a subgroup dimension (§4.3: gender,
    age, work history in the two years before randomisation, EQ-VAS severity), from one
    fully interacted regression:

        y = Σ_g δ_g · treat · 1[g] + Σ_{g>1} α_g · 1[g] + controls (+ baseline, group dummies)

    so δ_g is the impact in subgroup g with common control coefficients (the SAP's controls;
    a control that is the subgroup variable itself is dropped, its dummies are already in).
    The interaction test is the robust Wald test of δ_1 = δ_2 = … = δ_G (equivalently, that
    the treat × subgroup interaction terms are zero). Rows with the subgroup unknown are
    dropped; levels with no rows are left out. A level with no one in an arm is an error
    unless ``min_per_arm`` is given: then levels with fewer than ``min_per_arm`` people in
    either arm are left out (listed in ``dropped``), as the report suppresses small bases.
    Binary outcomes in ppt unless ``binary_scale="share"``.
    """
    from scipy import stats

    require_choice(binary_scale, BINARY_SCALES, "binary_scale")
    require_choice(dist, P_DISTRIBUTIONS, "dist")
    rows = select_group(require_frame(data), group)
    sub = subgroup_column(rows, dimension, bands)
    rows = rows[sub.notna().to_numpy()]
    if rows.empty:
        raise InputError(f"subgroup {dimension!r} is unknown for every row")
    ctrl = [c for c in controls if c != dimension and not (dimension == "work_history" and c == "work_history")]
    d = build_design(rows, outcome, treat, ctrl, weights, baseline)
    s = sub.loc[d.index]
    dropped: list = []
    if min_per_arm is not None:
        for lv in s.cat.categories:
            m = (s == lv).to_numpy()
            if m.any() and min(int((d.treat[m] == 0).sum()), int((d.treat[m] == 1).sum())) < min_per_arm:
                dropped.append(lv)
        if dropped:
            rows = rows.loc[d.index[~s.isin(dropped).to_numpy()]]
            if rows.empty:
                raise InputError(f"every level of subgroup {dimension!r} has fewer than {min_per_arm} people in an arm")
            d = build_design(rows, outcome, treat, ctrl, weights, baseline)
            s = sub.loc[d.index]
    levels = [lv for lv in s.cat.categories if (s == lv).any()]
    if len(levels) < 2:
        raise InputError(f"subgroup {dimension!r} has only level(s) {levels} among rows with {outcome!r} observed: nothing to compare")
    for lv in levels:
        require_both_arms(d.treat[(s == lv).to_numpy()], treat, f" in subgroup {dimension}={lv!r}")
    L = np.column_stack([(s == lv).to_numpy(float) for lv in levels])
    TX = L * d.treat[:, None]
    X = np.column_stack([d.X[:, 0], TX, d.X[:, 2:], L[:, 1:]])
    names = ("const", *[f"{treat}x{lv}" for lv in levels], *d.names[2:], *[f"{dimension}[{lv}]" for lv in levels[1:]])
    fit = wls(d.y, X, d.w, cov_type, names)
    G = len(levels)
    b, V = fit.params[1 : 1 + G], fit.cov[1 : 1 + G, 1 : 1 + G]
    R = np.column_stack([-np.ones(G - 1), np.eye(G - 1)])  # δ_g − δ_1 = 0, g > 1
    rb = R @ b
    wald = float(rb @ np.linalg.solve(R @ V @ R.T, rb))
    q = G - 1
    p_int = float(stats.f.sf(wald / q, q, fit.df_resid) if dist == "t" else stats.chi2.sf(wald, q))
    meta = vocab.OUTCOMES.get(outcome)
    binary = meta.binary if meta is not None else bool(set(np.unique(d.y)) <= {0.0, 1.0})
    scale = 100.0 if binary and binary_scale == "ppt" else 1.0
    crit = stats.t.ppf(0.975, fit.df_resid) if dist == "t" else stats.norm.ppf(0.975)
    recs = []
    for j, lv in enumerate(levels):
        m = (s == lv).to_numpy()
        se = float(np.sqrt(V[j, j]))
        recs.append(dict(
            level=lv, impact=b[j] * scale, se=se * scale, p=float(pvalue(b[j] / se, fit.df_resid, dist)),
            ci_low=(b[j] - crit * se) * scale, ci_high=(b[j] + crit * se) * scale, base=int(m.sum()),
            n_control=int((m & (d.treat == 0)).sum()), n_treatment=int((m & (d.treat == 1)).sum()),
            control=float(d.y[m & (d.treat == 0)].mean()) * scale, treatment=float(d.y[m & (d.treat == 1)].mean()) * scale,
        ))
    return SubgroupResult(outcome, group, dimension, pd.DataFrame(recs), wald, q, p_int, cov_type, dist, fit, tuple(dropped))


def subgroup_table(
    data: pd.DataFrame,
    outcome: str,
    group: str | None = None,
    dimensions: Sequence[str] = vocab.SUBGROUP_DIMENSIONS,
    **kwargs,
) -> pd.DataFrame:
    """:func:`subgroup_impacts` for several dimensions stacked into one tidy table (the data
    of one subgroup figure, e.g. Figure 4-5): ``dimension, dimension_label, level, impact,
    se, p, ci_low, ci_high, base, …, p_interaction``. Dimensions whose subgroup has a single
    level in ``group`` (e.g. work history in SCR IW, if everyone worked) are skipped; levels
    left out under ``min_per_arm`` are listed in ``attrs["dropped"]``."""
    parts, dropped = [], {}
    for dim in dimensions:
        try:
            res = subgroup_impacts(data, outcome, group, dim, **kwargs)
        except InputError as err:
            if "nothing to compare" in str(err):
                continue
            raise
        t = res.table.copy()
        t.insert(0, "dimension_label", SUBGROUP_LABELS.get(dim, dim))
        t.insert(0, "dimension", dim)
        t["p_interaction"] = res.p_interaction
        parts.append(t)
        if res.dropped:
            dropped[dim] = res.dropped
    if not parts:
        raise InputError(f"no subgroup dimension has two or more levels for {outcome!r} in group {group!r}")
    out = pd.concat(parts, ignore_index=True)
    meta = vocab.OUTCOMES.get(outcome)
    out.attrs.update(outcome=outcome, group=group, label=meta.label if meta else outcome, dropped=dropped,
                     unit="ppt" if (meta and meta.binary and kwargs.get("binary_scale", "ppt") == "ppt") else "")
    return out


# =========================================================================================
# Participation checks: the Bloom identity
# =========================================================================================
@dataclass(frozen=True)
class BloomCheck:
    """ITT, first stage and their ratio (Bloom 1984) against the 2SLS participation impact.

    With one instrument (assignment), one endogenous regressor (participation) and the same
    controls and weights in every stage, 2SLS equals reduced form / first stage exactly, so
    ``difference`` should be ~0 (floating point). Without controls the ratio is the textbook
    Bloom estimator: (mean_T − mean_C) / (participation rate_T − rate_C).
    """

    outcome: str
    group: str | None
    itt: float
    first_stage: float
    bloom: float
    iv: float

    @property
    def difference(self) -> float:
        return self.iv - self.bloom


def bloom_check(
    data: pd.DataFrame,
    outcome: str,
    group: str | None = None,
    *,
    treat: str = vocab.TREAT,
    participated: str = vocab.PARTICIPATED,
    controls: Sequence[str] = vocab.SAP_CONTROLS,
    weights: str | None = vocab.WEIGHT,
    baseline: str | None | bool = True,
) -> BloomCheck:
    """Check :func:`estimate_participation` against the Bloom ratio ITT / participation-rate
    difference (both from the same regression design)."""
    rows = select_group(data, group)
    d = build_design(rows, outcome, treat, controls, weights, baseline)
    require_columns(rows, [participated])
    part = require_binary(rows.loc[d.index, participated], participated)
    itt = wls(d.y, d.X, d.w, "HC0", d.names).params[1]
    fs = wls(part, d.X, d.w, "HC0", d.names).params[1]
    if abs(fs) < 1e-12:
        raise InputError(f"participation does not differ between arms in group {group!r}: the Bloom ratio is undefined")
    iv = estimate_participation(data, outcome, group, treat=treat, participated=participated, controls=controls,
                                weights=weights, baseline=baseline).impact
    return BloomCheck(outcome, group, float(itt), float(fs), float(itt / fs), float(iv))
