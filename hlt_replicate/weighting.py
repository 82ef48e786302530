"""Non-response weights for the 4-month survey, and their diagnostics.

Only 55 % of recruits answered the 4-month survey, and the treatment arm answered more
often (Table 4-1). The report weights respondents back to the randomised population
("4-month sample, weighted", Tables 4-2..4-4) but does not describe its weights. This module
builds them in the standard steps (Valliant, Dever & Kreuter 2018, *Practical Tools for
Designing and Weighting Survey Samples*, ch. 13-14):

1. :func:`response_propensity` — a logistic regression of responding on baseline
   characteristics and arm, separately within each trial group (the first intake period
   pooled with the second: :data:`RESPONSE_POOLED_LEVELS`);
2. :func:`ipw_weights` — the inverse of it for each respondent, each arm scaled to its
   randomised share of the group (which the report's weighted sample columns imply), then
   normalised to mean 1;
3. :func:`trim_weights` — cap extreme weights (at k × mean, or at percentiles), handing the
   excess to the other weights so totals are kept;
4. :func:`rake` / :func:`rake_to_population` — iterative proportional fitting (Deming &
   Stephan 1940) to the full randomised population's margins;
5. :func:`normalise_weights`; :func:`survey_weights` runs 1-5 in one call.

A baseline characteristic with missing values (item non-response: the "Base" ranges under
Tables 4-2..4-4) gets a level of its own: a dummy in the response model, the level
:data:`MISSING_LEVEL` in the raking margins.

Diagnostics: :func:`response_rates` (Table 4-1 with a test of the arm difference),
:func:`asmd_table` (absolute standardised differences before and after weighting),
:func:`kish_deff`, :func:`effective_sample_size`, :func:`weight_summary`, and
:func:`weighted_baseline_table` (Tables 4-2..4-4).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType

import numpy as np
import pandas as pd
from scipy import stats

from . import vocab
from ._checks import (
    InputError,
    as_numeric,
    require_binary,
    require_both_arms,
    require_choice,
    require_columns,
    require_frame,
    require_weights,
)
from .balance import BALANCE_VARIABLES, balance_table, is_categorical, standardised_difference, _levels
from .impact import _control_matrix, select_group

#: Default covariates of the response-propensity model (baseline characteristics of
#: Tables 4-2..4-4 plus work history, §3.3.1); the arm is always added.
RESPONSE_COVARIATES: tuple[str, ...] = (*vocab.SAP_CONTROLS, "work_history")

#: Levels the default response model pools with another (``{covariate: {level: into}}``).
#: The first intake period (May-Jun 2018) shares the second's indicator. It holds 4 % of
#: each group's recruits, and the report's weighted columns leave a quarter to a half of it
#: out in every group (Table 4-2 line 2544: 0.04 in the population, 0.03 in the weighted
#: sample; Table 4-3 line 2593: 0.04 and 0.02; Table 4-4 line 2645: 0.04 and 0.03), which
#: weights from a model with its own indicator cannot do: they bring a level's weighted
#: share back near its population share. Pooling a sparse level (about 50 respondents per
#: group) is also the usual guard against unstable weights. ``pooled={}`` gives every
#: level its own indicator.
RESPONSE_POOLED_LEVELS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {"cohort": MappingProxyType({"May 2018-Jun 2018": "Jul 2018-Sep 2018"})})  # read-only: a default argument


def pooled_covariates(data: pd.DataFrame, covariates: Sequence[str],
                      pooled: Mapping[str, Mapping[str, str]] = RESPONSE_POOLED_LEVELS) -> pd.DataFrame:
    """The ``covariates`` columns of ``data`` with the levels in ``pooled`` recoded to the
    level they join (:data:`RESPONSE_POOLED_LEVELS`): the response model's view of the data.
    A pooled covariate that is not among ``covariates`` is ignored; a level that is not one
    of the covariate's levels (:data:`hlt_replicate.vocab.CATEGORICAL_BASELINE`) raises."""
    require_columns(data, covariates)
    out = {}
    for c in covariates:
        col = data[c]
        if c in pooled:
            levels = vocab.CATEGORICAL_BASELINE.get(c)
            if levels is None:
                raise InputError(f"pooled: {c!r} is not a categorical covariate; pooling applies to "
                                 f"{sorted(vocab.CATEGORICAL_BASELINE)}")
            unknown = sorted({lv for pair in pooled[c].items() for lv in pair} - set(levels))
            if unknown:
                raise InputError(f"pooled[{c!r}]: {unknown} are not levels of {c!r}; expected among {list(levels)}")
            col = col.replace(dict(pooled[c]))
        out[c] = col
    return pd.DataFrame(out, index=data.index)


def logit_fit(X: np.ndarray, y: np.ndarray, max_iter: int = 50, tol: float = 1e-10) -> np.ndarray:
    """Maximum-likelihood logistic regression by Newton–Raphson (IRLS); returns coefficients.

    Equals ``statsmodels.api.Logit(y, X).fit()`` (checked in the tests) but needs no
    formula machinery, so a widget can refit it in milliseconds.
    """
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        eta = np.clip(X @ beta, -30, 30)
        p = 1 / (1 + np.exp(-eta))
        W = p * (1 - p)
        grad = X.T @ (y - p)
        H = (X * W[:, None]).T @ X
        try:
            step = np.linalg.solve(H, grad)
        except np.linalg.LinAlgError as err:
            raise InputError("response model is singular: a covariate is constant or collinear within a group") from err
        beta += step
        if np.max(np.abs(step)) < tol:
            return beta
    raise InputError(
        "response model did not converge (perfect prediction?): a covariate level may contain only respondents or only non-respondents"
    )


def _explain_failed_fit(X: np.ndarray, y: np.ndarray, names: Sequence[str], what: str) -> None:
    """Raise naming the cause when a logit cannot be fitted: the collinear or constant
    columns (:func:`hlt_replicate.regression.check_rank`), or a 0/1 column whose rows
    (where it is 1) all have the same outcome (perfect prediction: the MLE is infinite)."""
    from .regression import check_rank

    check_rank(X, names, what)
    for j in range(1, X.shape[1]):
        col = X[:, j]
        if np.isin(col, (0.0, 1.0)).all() and col.any():
            ys = y[col == 1]
            if ys.min() == ys.max():
                raise InputError(f"{what}: every row with {names[j]!r} = 1 has outcome {int(ys[0])} (perfect prediction): "
                                 "merge the level with another (pooled=...) or leave the covariate out")


def response_propensity(
    data: pd.DataFrame,
    covariates: Sequence[str] = RESPONSE_COVARIATES,
    *,
    responded: str = vocab.RESPONDED,
    treat: str = vocab.TREAT,
    by: str | None = vocab.GROUP,
    missing: str = "indicator",
    pooled: Mapping[str, Mapping[str, str]] = RESPONSE_POOLED_LEVELS,
) -> pd.Series:
    """Estimated probability of responding, from a logit on ``covariates`` and arm fitted
    separately within each level of ``by`` (the trial group). A covariate with missing
    values gets a dummy for them (``missing="indicator"``, as the impact regressions:
    :func:`hlt_replicate.impact.build_design`) or raises (``"error"``). ``pooled``: levels
    that share another's indicator (:data:`RESPONSE_POOLED_LEVELS`: the first intake
    period with the second; ``{}`` for none)."""
    require_frame(data)
    require_choice(missing, ("indicator", "error"), "missing")
    require_columns(data, [responded, treat, *covariates] + ([by] if by else []))
    r = require_binary(data[responded], responded)
    out = np.full(len(data), np.nan)
    t = require_binary(data[treat], treat)
    design = pooled_covariates(data, covariates, pooled)
    for key, rows in _group_rows(data, by):
        n = int(rows.sum()) if isinstance(rows, np.ndarray) else len(data)
        where = f" in {by}={key!r}" if by else ""
        require_both_arms(t[rows], treat, where)
        Xc, names = _control_matrix(design, covariates, rows, n, missing)
        X = np.column_stack([np.ones(n), t[rows], Xc])
        rr = r[rows]
        if rr.min() == rr.max():
            raise InputError(f"group {key!r}: every row has {responded}={int(rr[0])}; a response model needs both")
        try:
            beta = logit_fit(X, rr)
        except InputError:
            _explain_failed_fit(X, rr, ["const", treat, *names], f"response model{where}")
            raise
        out[rows] = 1 / (1 + np.exp(-(X @ beta)))
    return pd.Series(out, index=data.index, name="p_response")


def _group_rows(data: pd.DataFrame, by: str | None):
    """(key, boolean row mask) per level of ``by`` in order of appearance, as
    ``data.groupby(by, sort=False)`` (rows with a missing key in no group); one
    ``(None, all rows)`` when ``by`` is ``None``. Masks instead of sub-frames: no copies."""
    if not by:
        return [(None, slice(None))]
    codes, keys = pd.factorize(data[by])
    return [(key, codes == k) for k, key in enumerate(keys)]


def ipw_weights(
    data: pd.DataFrame,
    covariates: Sequence[str] = RESPONSE_COVARIATES,
    *,
    responded: str = vocab.RESPONDED,
    treat: str = vocab.TREAT,
    by: str | None = vocab.GROUP,
    missing: str = "indicator",
    normalise: str = "arm",
    pooled: Mapping[str, Mapping[str, str]] = RESPONSE_POOLED_LEVELS,
) -> pd.Series:
    """Inverse-probability-of-response weights, mean 1 among each group's respondents;
    ``NaN`` for non-respondents. ``missing`` and ``pooled`` as :func:`response_propensity`.

    ``normalise="arm"`` (default) first scales each arm's weights within the group to the
    arm's randomised count, so the weighted respondents keep the randomisation's split
    between the arms (a calibration to the arm totals, which the design fixes). The report's
    "4-month sample, weighted" columns imply it: SCR IW's and WMCA's printed sample ages
    (Tables 4-2, 4-4: 41.57 from 41.13 and 42.00; 41.45 from 40.72 and 42.18) need the
    control arm's share of the weights within 0.003-0.005 of one half, which plain inverse
    propensities miss by up to 0.007. Means within an arm, and the weighted balance tests,
    are the same either way. ``"group"``: the inverse propensities scaled within the group only."""
    require_choice(normalise, ("arm", "group"), "normalise")
    p = response_propensity(data, covariates, responded=responded, treat=treat, by=by, missing=missing, pooled=pooled)
    resp = np.asarray(data[responded], float) == 1
    w = pd.Series(np.where(resp, 1 / p, np.nan), index=data.index, name=vocab.WEIGHT)
    keys = data[by] if by else pd.Series(0, index=data.index)
    if normalise == "arm":
        arm = pd.Series(np.asarray(data[treat]), index=data.index)
        randomised = pd.Series(1.0, index=data.index).groupby([keys, arm]).transform("sum")
        w = w * randomised / w.groupby([keys, arm]).transform("sum")
    means = w.groupby(keys).transform("mean")
    return w / means


# --- trimming and normalisation ---------------------------------------------------------
TRIM_METHODS = ("cap", "percentile")


def _as_series(w, index=None, name: str = vocab.WEIGHT) -> pd.Series:
    if isinstance(w, pd.Series):
        return w.astype(float).rename(name)
    arr = np.asarray(w, dtype=float)
    return pd.Series(arr, index=index if index is not None else pd.RangeIndex(len(arr)), name=name)


def _by_keys(by, index: pd.Index) -> pd.Series:
    if by is None:
        return pd.Series(0, index=index)
    keys = by if isinstance(by, pd.Series) else pd.Series(np.asarray(by, dtype=object), index=index)
    if len(keys) != len(index):
        raise InputError(f"by has {len(keys)} labels for {len(index)} weights")
    return keys.reindex(index) if not keys.index.equals(index) else keys


def _bound_and_redistribute(w: np.ndarray, upper: float, lower: float | None, max_iter: int = 200) -> np.ndarray:
    """Clip ``w`` to [lower, upper] and rescale the unclipped weights so the total is kept;
    repeat until no weight is outside the bounds (the standard trimming loop, Potter 1990)."""
    total = w.sum()
    out = w.copy()
    lo = -np.inf if lower is None else lower
    at_bound = np.zeros(len(w), bool)
    for _ in range(max_iter):
        over, under = out > upper * (1 + 1e-12), out < lo * (1 - 1e-12)
        if not (over.any() or under.any()):
            return out
        out[over], out[under] = upper, lo
        at_bound |= over | under
        free = ~at_bound
        if not free.any() or out[free].sum() <= 0:
            raise InputError(f"cannot trim to [{lo:.4g}, {upper:.4g}] and keep the total {total:.6g}: bounds too tight")
        out[free] *= (total - out[at_bound].sum()) / out[free].sum()
        if (out[free] <= 0).any():
            raise InputError(f"cannot trim to [{lo:.4g}, {upper:.4g}] and keep the total {total:.6g}: bounds too tight")
    raise InputError("weight trimming did not converge; loosen the bounds")


def trim_weights(
    weights: pd.Series | np.ndarray,
    method: str = "cap",
    *,
    k: float = 5.0,
    upper: float = 0.99,
    lower: float | None = None,
    by: pd.Series | np.ndarray | None = None,
) -> pd.Series:
    """Trim extreme weights, keeping each ``by`` group's total (Potter 1990; Valliant et al.
    2018, §14.4).

    ``method="cap"`` caps weights at ``k`` × the group's mean weight; ``"percentile"``
    winsorises at the ``upper`` quantile (and the ``lower`` one if given). In both, the
    amount removed (or added) is redistributed over the untrimmed weights in proportion to
    their size, and the loop repeats until no weight crosses the bound. Missing weights
    (non-respondents) stay missing. Returns a Series on the input's index.
    """
    require_choice(method, TRIM_METHODS, "method")
    w = _as_series(weights)
    ok = w.notna()
    if ok.sum() == 0:
        raise InputError("weights are all missing")
    require_weights(w[ok], "weights")
    if method == "cap" and not k >= 1:
        raise InputError(f"k={k!r}: the cap k × mean must be at least the mean (k >= 1)")
    if method == "percentile":
        if not 0 < upper <= 1:
            raise InputError(f"upper={upper!r} must be a quantile in (0, 1]")
        if lower is not None and not 0 <= lower < upper:
            raise InputError(f"lower={lower!r} must be a quantile in [0, upper)")
    keys = _by_keys(by, w.index)
    out = w.copy()
    for _, idx in w[ok].groupby(keys[ok], sort=False).groups.items():
        x = w.loc[idx].to_numpy()
        if method == "cap":
            hi, lo = k * x.mean(), None
        else:
            hi = float(np.quantile(x, upper))
            lo = float(np.quantile(x, lower)) if lower is not None else None
        out.loc[idx] = _bound_and_redistribute(x, hi, lo)
    return out


def normalise_weights(
    weights: pd.Series | np.ndarray,
    by: pd.Series | np.ndarray | None = None,
    totals: Mapping | None = None,
) -> pd.Series:
    """Rescale weights to mean 1 within each ``by`` group (so they sum to the number of
    respondents), or to sum to ``totals[group]`` (e.g. the number randomised, to weight up to
    the population). Missing weights stay missing."""
    w = _as_series(weights)
    ok = w.notna()
    require_weights(w[ok], "weights")
    keys = _by_keys(by, w.index)
    out = w.copy()
    for key, idx in w[ok].groupby(keys[ok], sort=False).groups.items():
        s = w.loc[idx].sum()
        if totals is None:
            target = len(idx)
        else:
            if key not in totals:
                raise InputError(f"totals has no entry for group {key!r}")
            target = float(totals[key])
            if not target > 0:
                raise InputError(f"totals[{key!r}]={target!r} must be positive")
        out.loc[idx] = w.loc[idx] * (target / s)
    return out


# --- raking ------------------------------------------------------------------------------
def rake(
    data: pd.DataFrame,
    weights: pd.Series | np.ndarray,
    margins: Mapping[str, Mapping | pd.Series],
    *,
    max_iter: int = 200,
    tol: float = 1e-9,
) -> pd.Series:
    """Iterative proportional fitting (raking; Deming & Stephan 1940) of ``weights`` so the
    weighted shares of each column in ``margins`` equal the target shares.

    ``margins`` maps a column of ``data`` to target shares (or counts) by level; they are
    normalised to sum to one, and the weights' total is kept. Missing values are a level of
    their own, :data:`MISSING_LEVEL`, which then needs a target share. Each sweep multiplies the
    weights in each level of each margin by target/current; stops when every weighted share
    is within ``tol`` of its target. Raises if a level is in the data but not the targets
    (or vice versa) or the margins cannot be met together.
    """
    require_frame(data)
    require_columns(data, list(margins), "data (raking margins)")
    w = _as_series(weights, data.index).to_numpy().copy()
    if len(w) != len(data):
        raise InputError(f"weights has {len(w)} values for {len(data)} rows")
    require_weights(w, "weights")
    total = w.sum()
    specs = []
    for col, target in margins.items():
        x = data[col]
        tgt = pd.Series(target, dtype=float)
        if x.isna().any():
            if MISSING_LEVEL not in tgt.index:
                raise InputError(f"raking column {col!r} has {int(x.isna().sum())} missing value(s); give its margin a share "
                                 f"for the level {MISSING_LEVEL!r} (population_margins does) or drop those rows")
            x = x.astype(object).where(x.notna(), MISSING_LEVEL)
        tgt = tgt[tgt > 0]
        if tgt.sum() <= 0:
            raise InputError(f"margin {col!r} has no positive target")
        tgt = tgt / tgt.sum()
        present = set(pd.unique(x))
        no_target = sorted(map(str, present - set(tgt.index)))
        if no_target:
            raise InputError(f"raking column {col!r}: level(s) {no_target[:5]} are in the data but have no (positive) target share")
        absent = sorted(map(str, set(tgt.index) - present))
        if absent:
            raise InputError(f"raking column {col!r}: target level(s) {absent[:5]} have no respondents, so cannot be weighted up")
        codes = pd.Categorical(x, categories=list(tgt.index)).codes
        specs.append((col, codes, tgt.to_numpy()))
    for _ in range(max_iter):
        for _, codes, shares in specs:
            current = np.bincount(codes, weights=w, minlength=len(shares)) / w.sum()
            w *= (shares / current)[codes]
        w *= total / w.sum()
        worst = max(
            float(np.max(np.abs(np.bincount(codes, weights=w, minlength=len(shares)) / total - shares)))
            for _, codes, shares in specs
        )
        if worst < tol:
            return pd.Series(w, index=data.index, name=vocab.WEIGHT)
    raise InputError(f"raking did not converge in {max_iter} sweeps (inconsistent margins or empty cells?)")


#: Default raking margins: categorical baseline characteristics with no rare levels.
RAKE_COLUMNS: tuple[str, ...] = ("female", "qual", "area", "cohort")
#: The level a missing value takes in raking margins (item non-response is a category of its own).
MISSING_LEVEL = "(missing)"


def population_margins(data: pd.DataFrame, columns: Sequence[str]) -> dict[str, pd.Series]:
    """Shares of each level of ``columns`` among all rows of ``data`` (the randomised
    population), the targets of :func:`rake`; missing values as the level
    :data:`MISSING_LEVEL`."""
    require_columns(data, columns)
    return {c: (data[c].astype(object).where(data[c].notna(), MISSING_LEVEL) if data[c].isna().any() else data[c])
            .value_counts(normalize=True) for c in columns}


def rake_to_population(
    data: pd.DataFrame,
    weights: pd.Series | str = vocab.WEIGHT,
    columns: Sequence[str] = RAKE_COLUMNS,
    *,
    by: Sequence[str] = (vocab.GROUP, vocab.TREAT),
    responded: str = vocab.RESPONDED,
    max_iter: int = 200,
    tol: float = 1e-9,
) -> pd.Series:
    """Rake respondents' weights to the full randomised population's margins, separately
    within each ``by`` cell (default trial group × arm, so each arm's respondents represent
    that arm's randomised recruits). ``data`` holds every recruit; returns a Series on its
    index with NaN for non-respondents. Each cell's weight total is kept."""
    require_frame(data)
    by = list(by)
    require_columns(data, [responded, *columns, *by] + ([weights] if isinstance(weights, str) else []))
    w = data[weights] if isinstance(weights, str) else _as_series(weights, data.index)
    resp = require_binary(data[responded], responded) == 1
    out = pd.Series(np.nan, index=data.index, name=vocab.WEIGHT)
    cells = data.groupby(by, sort=False) if by else [((), data)]
    for key, cell in cells:
        r = cell[resp[data.index.get_indexer(cell.index)]]
        if r.empty:
            raise InputError(f"cell {key!r} has no respondents to rake")
        out.loc[r.index] = rake(r, w.loc[r.index], population_margins(cell, columns), max_iter=max_iter, tol=tol)
    return out


def survey_weights(
    data: pd.DataFrame,
    covariates: Sequence[str] = RESPONSE_COVARIATES,
    *,
    trim: str | None = None,
    k: float = 5.0,
    upper: float = 0.99,
    lower: float | None = None,
    rake_columns: Sequence[str] | None = None,
    responded: str = vocab.RESPONDED,
    treat: str = vocab.TREAT,
    by: str | None = vocab.GROUP,
) -> pd.Series:
    """The whole weighting recipe in one call: inverse response propensity
    (:func:`ipw_weights`), optional trimming (:func:`trim_weights`, ``trim="cap"`` or
    ``"percentile"``, within ``by``), optional raking to the population margins of
    ``rake_columns`` within ``by`` × arm (:func:`rake_to_population`), then mean 1 within
    ``by`` among respondents. NaN for non-respondents."""
    w = ipw_weights(data, covariates, responded=responded, treat=treat, by=by)
    keys = data[by] if by else None
    if trim is not None:
        w = trim_weights(w, trim, k=k, upper=upper, lower=lower, by=keys)
    if rake_columns:
        w = rake_to_population(data, w, rake_columns, by=[c for c in (by, treat) if c], responded=responded)
    return normalise_weights(w, keys)


# --- diagnostics -------------------------------------------------------------------------
def kish_deff(weights: pd.Series | np.ndarray) -> float:
    """Kish's (1965) design effect from unequal weighting: n Σw² / (Σw)² = 1 + CV²
    (population CV of the weights). Missing weights are ignored."""
    w = as_numeric(weights, "weights", "positive numbers")
    w = w[~np.isnan(w)]
    require_weights(w, "weights")
    return float(len(w) * np.sum(w**2) / np.sum(w) ** 2)


def effective_sample_size(weights: pd.Series | np.ndarray) -> float:
    """Kish's effective sample size (Σw)² / Σw² = n / deff. Missing weights are ignored."""
    w = as_numeric(weights, "weights", "positive numbers")
    w = w[~np.isnan(w)]
    require_weights(w, "weights")
    return float(np.sum(w) ** 2 / np.sum(w**2))


def weight_summary(weights: pd.Series | np.ndarray, by: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """Per ``by`` group (and overall): n, sum, mean, min, max, max/min, CV, Kish design
    effect and effective sample size of the (non-missing) weights."""
    w = _as_series(weights)
    ok = w.notna()
    require_weights(w[ok], "weights")
    keys = _by_keys(by, w.index)
    rows = []
    groups = list(w[ok].groupby(keys[ok], sort=False).groups.items())
    if by is not None:
        groups.append(("All", w[ok].index))
    for key, idx in groups:
        x = w.loc[idx].to_numpy()
        rows.append(dict(group=key, n=len(x), sum=x.sum(), mean=x.mean(), min=x.min(), max=x.max(),
                         max_min_ratio=x.max() / x.min(), cv=x.std() / x.mean(),
                         deff=kish_deff(x), ess=effective_sample_size(x)))
    return pd.DataFrame(rows).set_index("group")


def response_rates(
    data: pd.DataFrame,
    *,
    by: str = vocab.GROUP,
    treat: str = vocab.TREAT,
    responded: str = vocab.RESPONDED,
    order: Sequence | None = None,
) -> pd.DataFrame:
    """Numbers randomised and responding by trial group and arm, as Table 4-1, with a test of
    the treatment–control difference in response rates.

    One row per group and a final "Total" row: ``randomised_T, randomised_C, respondents_T,
    respondents_C, rate_T, rate_C`` (per cent), ``diff_ppt`` (T − C), ``chi2`` and ``p`` of
    Pearson's χ² test of the 2×2 table without continuity correction (the same as the
    two-sample z test of proportions). The Total row's test pools the groups.
    """
    require_frame(data)
    require_columns(data, [by, treat, responded])
    t = require_binary(data[treat], treat)
    r = require_binary(data[responded], responded)
    keys = data[by].to_numpy()
    levels = list(order) if order is not None else [g for g in vocab.GROUPS if g in set(keys)] + sorted(set(keys) - set(vocab.GROUPS), key=str)
    rows = []
    for label, mask in [*((g, keys == g) for g in levels), ("Total", np.ones(len(keys), bool))]:
        if not mask.any():
            raise InputError(f"no rows for {by}={label!r}")
        tt, rr = t[mask], r[mask]
        require_both_arms(tt, treat, f" in {by}={label!r}")
        n1, n0 = int(tt.sum()), int((1 - tt).sum())
        s1, s0 = int(rr[tt == 1].sum()), int(rr[tt == 0].sum())
        table = np.array([[s1, n1 - s1], [s0, n0 - s0]])
        if (table.sum(0) == 0).any():
            chi2, p = float("nan"), float("nan")
        else:
            chi2, p, _, _ = stats.chi2_contingency(table, correction=False)
        rows.append(dict(group=label, randomised_T=n1, randomised_C=n0, randomised=n1 + n0,
                         respondents_T=s1, respondents_C=s0, respondents=s1 + s0,
                         rate_T=100 * s1 / n1, rate_C=100 * s0 / n0, rate=100 * (s1 + s0) / (n1 + n0),
                         diff_ppt=100 * (s1 / n1 - s0 / n0), chi2=float(chi2), p=float(p)))
    return pd.DataFrame(rows).set_index("group")


def format_response_table(rates: pd.DataFrame, decimals: int = 1) -> pd.DataFrame:
    """The printed layout of Table 4-1 from :func:`response_rates`: rows "Total randomised",
    "4-month survey respondents", "Respondent %" (plus the T − C difference and its p-value),
    columns group × T/C and Total."""
    require_columns(rates, ["randomised_T", "randomised_C", "respondents_T", "respondents_C", "rate_T", "rate_C", "p"], "rates")
    cols, body = [], {k: [] for k in ("Total randomised", "4-month survey respondents", "Respondent %", "Difference T-C (ppt)", "p-value (T vs C)")}
    for g, r in rates.iterrows():
        if g == "Total":
            continue
        label = vocab.GROUP_LABELS.get(g, str(g))
        for arm in ("T", "C"):
            cols.append((label, arm))
            body["Total randomised"].append(f"{int(r['randomised_' + arm]):,}")
            body["4-month survey respondents"].append(f"{int(r['respondents_' + arm]):,}")
            body["Respondent %"].append(f"{r['rate_' + arm]:.{decimals}f}")
            body["Difference T-C (ppt)"].append(f"{r['diff_ppt']:.{decimals}f}" if arm == "T" else "")
            body["p-value (T vs C)"].append(f"{r['p']:.3f}" if arm == "T" else "")
    if "Total" in rates.index:
        r = rates.loc["Total"]
        cols.append(("Total", ""))
        body["Total randomised"].append(f"{int(r['randomised']):,}")
        body["4-month survey respondents"].append(f"{int(r['respondents']):,}")
        body["Respondent %"].append(f"{r['rate']:.{decimals}f}")
        body["Difference T-C (ppt)"].append(f"{r['diff_ppt']:.{decimals}f}")
        body["p-value (T vs C)"].append(f"{r['p']:.3f}")
    return pd.DataFrame(body, index=pd.MultiIndex.from_tuples(cols)).T


ASMD_COMPARISONS = ("arms", "population")


def asmd_table(
    data: pd.DataFrame,
    group: str | None = None,
    variables: Sequence[str] = BALANCE_VARIABLES,
    *,
    weights: str | pd.Series = vocab.WEIGHT,
    compare: str = "arms",
    treat: str = vocab.TREAT,
    responded: str = vocab.RESPONDED,
) -> pd.DataFrame:
    """Absolute standardised mean differences before and after weighting (a "love plot"
    table; Austin & Stuart 2015).

    ``compare="arms"``: respondents' treatment vs control arm (before: unweighted; after:
    weighted). ``compare="population"``: respondents vs the full randomised population of
    the group (the population unweighted in both). One row per numeric/binary variable and
    per level of each categorical one: ``variable, level, before, after``.
    """
    require_choice(compare, ASMD_COMPARISONS, "compare")
    pop = select_group(require_frame(data), group)
    require_columns(pop, [treat, responded, *variables] + ([weights] if isinstance(weights, str) else []))
    resp = require_binary(pop[responded], responded) == 1
    sample = pop[resp]
    w_all = (sample[weights] if isinstance(weights, str) else _as_series(weights).loc[sample.index]).to_numpy(float)
    require_weights(w_all, "weights (respondents)")
    t = require_binary(sample[treat], treat)
    if compare == "arms":
        require_both_arms(t, treat, f" among the respondents{'' if group is None else f' of {group!r}'}")
    rows = []
    for v in variables:
        ok = sample[v].notna().to_numpy()
        pv = pop[v].dropna()
        if is_categorical(pop, v):
            items = [(lv, (sample[v].to_numpy() == lv).astype(float), (pv.to_numpy() == lv).astype(float)) for lv in _levels(pop, v)]
            items = [it for it in items if it[2].sum() > 0]
        else:
            items = [(None, sample[v].to_numpy(float), pv.to_numpy(float))]
        for lv, x, xp in items:
            x, w, tt = x[ok], w_all[ok], t[ok]
            if compare == "arms":
                b = standardised_difference(x[tt == 1], x[tt == 0])
                a = standardised_difference(x[tt == 1], x[tt == 0], w[tt == 1], w[tt == 0])
            else:
                b = standardised_difference(x, xp)
                a = standardised_difference(x, xp, w, None)
            rows.append(dict(variable=v, level=lv, before=abs(b), after=abs(a)))
    return pd.DataFrame(rows, columns=["variable", "level", "before", "after"])


def weighted_baseline_table(data: pd.DataFrame, group: str, weights: str | pd.Series = vocab.WEIGHT, **kwargs) -> pd.DataFrame:
    """Tables 4-2..4-4 ("4-month sample, weighted"): :func:`hlt_replicate.balance.balance_table`
    with the survey weights. Format with :func:`hlt_replicate.balance.format_balance_table`."""
    return balance_table(data, group, weights=weights, **kwargs)
