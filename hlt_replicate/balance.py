"""Baseline balance tables in the layout of Tables 4-2..4-4 of the 4-month report.

Each table (one per trial group) shows, for every baseline characteristic, the mean (a share
for binary variables and for each level of a categorical one) in the full randomised
population, in the 4-month respondent sample, and in that sample's control and treatment
arms (the sample columns weighted by the survey weights), with a p-value of the
treatment–control difference. The report does not say which test it used; this module uses
the natural regression one, as for its other tests:

* a numeric or binary variable: the coefficient on the treatment dummy in a (weighted)
  regression of the variable on a constant and the dummy, with a robust (HC1 by default)
  standard error — i.e. a weighted two-sample test of means; p from Student t with n − 2
  degrees of freedom (``dist="t"``) or the normal;
* a categorical block ("Highest qual:", "Health condition:", "Area:", "Cohort:"): a joint
  Wald test that the treatment–control differences in the shares of all its levels are zero.
  The K level indicators (minus one, since shares sum to one) are regressed on [1, treat] as
  a system and the K−1 differences get a robust covariance that allows the equations'
  errors to correlate within a person (seemingly-unrelated regressions with identical
  regressors, equivalently a person-clustered stacked regression). The statistic is
  referred to F(K−1, n−2) (``dist="t"``) or χ²(K−1) (``dist="normal"``).

It adds what the report does not print: standardised differences (the difference in means
over sqrt((s²_T + s²_C)/2), Austin 2009; weighted variances when weighted).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from . import vocab
from ._checks import InputError, require_binary, require_both_arms, require_choice, require_columns, require_frame, require_weights
from .impact import select_group
from .regression import COV_TYPES, P_DISTRIBUTIONS

#: Rows of Tables 4-2..4-4, in the printed order.
BALANCE_VARIABLES: tuple[str, ...] = ("age", *vocab.BINARY_BASELINE, *vocab.CATEGORICAL_BASELINE, "bl_eq5d")

#: Row labels as printed in Tables 4-2..4-4 (categorical blocks end with a colon).
BASELINE_LABELS: dict[str, str] = {
    "age": "Age",
    "female": "Female",
    "nonwhite": "Non-white",
    "partner": "Partner",
    "dep_children": "Dep. children",
    "qual": "Highest qual:",
    "health": "Health condition:",
    "area": "Area:",
    "cohort": "Cohort:",
    "work_history": "Work history:",
    "bl_eq5d": "EQ5D5L",
    "bl_eqvas": "EQ-VAS",
    "bl_swemwbs": "SWEMWBS",
    "bl_lifesat": "Life satisfaction (ONS1)",
    "bl_looking": "Looking for work",
    "bl_jsse": "Job search self-efficacy",
    "bl_barriers": "Number of barriers",
}

LEVEL_LABELS: dict[str, dict[str, str]] = {"qual": vocab.QUAL_LABELS, "health": vocab.HEALTH_LABELS}

COLUMNS_PRINTED: dict[str, str] = {
    "population": "Full 4-month population",
    "sample": "4-month sample",
    "control": "4-month sample (Control)",
    "treatment": "4-month sample (Treatment)",
    "p": "Test of treatment-control difference",
}


def is_categorical(data: pd.DataFrame, name: str) -> bool:
    """Categorical if listed in :data:`vocab.CATEGORICAL_BASELINE` or not numeric."""
    return name in vocab.CATEGORICAL_BASELINE or name == "work_history" or not pd.api.types.is_numeric_dtype(data[name])


def _levels(data: pd.DataFrame, name: str) -> list:
    known = vocab.CATEGORICAL_BASELINE.get(name) or (vocab.WORK_HISTORY_LEVELS if name == "work_history" else None)
    present = set(data[name].dropna().unique())
    if known is not None:
        extra = sorted(map(str, present - set(known)))
        if extra:
            raise InputError(f"column {name!r} has unexpected level(s) {extra[:5]}; expected {list(known)}")
        return list(known)
    return sorted(present, key=str)


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.sum(w * x) / np.sum(w)) if len(x) else float("nan")


def _wvar(x: np.ndarray, w: np.ndarray) -> float:
    if len(x) == 0:
        return float("nan")
    m = np.sum(w * x) / np.sum(w)
    return float(np.sum(w * (x - m) ** 2) / np.sum(w))


def standardised_difference(x1: np.ndarray, x0: np.ndarray, w1: np.ndarray | None = None, w0: np.ndarray | None = None) -> float:
    """(mean₁ − mean₀) / sqrt((s²₁ + s²₀)/2), weighted when weights are given (Austin 2009,
    *Statistics in Medicine* 28:3083). NaN when both variances are zero."""
    x1, x0 = np.asarray(x1, float), np.asarray(x0, float)
    w1 = np.ones_like(x1) if w1 is None else np.asarray(w1, float)
    w0 = np.ones_like(x0) if w0 is None else np.asarray(w0, float)
    d = _wmean(x1, w1) - _wmean(x0, w0)
    s = np.sqrt((_wvar(x1, w1) + _wvar(x0, w0)) / 2)
    if s == 0:
        return 0.0 if d == 0 else float("nan")
    return float(d / s)


def diff_test(
    Y: np.ndarray, t: np.ndarray, w: np.ndarray | None = None, cov_type: str = "HC1", dist: str = "t"
) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Treatment–control differences of the columns of ``Y`` and their joint robust test.

    Regresses every column of ``Y`` (n × q) on [1, t] with weights ``w``; returns
    ``(diffs, cov, stat, p)``: the q coefficients on ``t``, their q × q sandwich covariance
    (cross-equation terms included), and the Wald statistic with its p-value — F(q, n−2) when
    ``dist="t"`` (for q = 1 the square of the regression t statistic), χ²(q) when
    ``dist="normal"``. Covariance conventions as :func:`hlt_replicate.regression.wls`.
    """
    require_choice(cov_type, COV_TYPES, "cov_type")
    require_choice(dist, P_DISTRIBUTIONS, "dist")
    Y = np.asarray(Y, float)
    Y = Y[:, None] if Y.ndim == 1 else Y
    t = np.asarray(t, float)
    n, q = Y.shape
    if n <= 2:
        raise InputError(f"{n} observation(s) for 2 parameters: fewer observations than parameters")
    w = np.ones(n) if w is None else np.asarray(w, float)
    X = np.column_stack([np.ones(n), t])
    A = np.linalg.inv((X * w[:, None]).T @ X)
    B = A @ (X * w[:, None]).T @ Y  # 2 × q
    E = Y - X @ B
    a = X @ A[1]  # row of (X'WX)^{-1}X' for the treat coefficient, before weights
    g = (w * a)[:, None] * E  # n × q influence terms
    if cov_type in ("HC2", "HC3"):
        h = w * np.einsum("ij,jk,ik->i", X, A, X)
        g = g / np.sqrt(1 - h)[:, None] ** (1 if cov_type == "HC2" else 2)
    V = g.T @ g
    if cov_type == "HC1":
        V *= n / (n - 2)
    d = B[1]
    try:
        stat = float(d @ np.linalg.solve(V, d))
    except np.linalg.LinAlgError:
        stat = float(d @ np.linalg.pinv(V) @ d)
    p = float(stats.f.sf(stat / q, q, n - 2) if dist == "t" else stats.chi2.sf(stat, q))
    return d, V, stat, p


def _resolve_weights(sample: pd.DataFrame, weights) -> np.ndarray | None:
    """Weights of the sample rows from a column name or a Series on the data's index."""
    if weights is None:
        return None
    if isinstance(weights, str):
        require_columns(sample, [weights])
        return require_weights(sample[weights], f"weights column {weights!r} (in the sample)")
    if not isinstance(weights, pd.Series):
        raise InputError(f"weights must be a column name, a pandas Series on data's index, or None; got {type(weights).__name__}")
    missing = sample.index.difference(weights.index)
    if len(missing):
        raise InputError(f"weights Series has no value for {len(missing)} sample row(s) (index {list(missing[:3])} …)")
    return require_weights(weights.loc[sample.index], "weights (in the sample)")


def balance_table(
    data: pd.DataFrame,
    group: str | None = None,
    variables: Sequence[str] = BALANCE_VARIABLES,
    *,
    weights: str | pd.Series | None = vocab.WEIGHT,
    treat: str = vocab.TREAT,
    responded: str | None = vocab.RESPONDED,
    cov_type: str = "HC1",
    dist: str = "t",
) -> pd.DataFrame:
    """Baseline characteristics by arm with tests, as Tables 4-2 (SCR IW), 4-3 (SCR OOW),
    4-4 (WMCA OOW).

    ``data`` holds every randomised recruit; the sample is the rows with ``responded == 1``
    (every row when ``responded`` is None). ``weights`` (a column or a Series on the sample's
    index; None for unweighted) weights the sample columns and the tests; the population
    column is unweighted. Missing values are dropped variable by variable.

    Returns a tidy DataFrame, one row per variable and per level of a categorical one:
    ``variable, level, label, kind`` (numeric / binary / block / level), ``population,
    sample, control, treatment, diff, p`` (per variable; the joint p on a block row),
    ``std_diff``, and counts ``n_population, n_sample, n_control, n_treatment`` (for a level,
    the number of people in that level, for suppression).
    """
    require_frame(data)
    require_choice(cov_type, COV_TYPES, "cov_type")
    require_choice(dist, P_DISTRIBUTIONS, "dist")
    pop = select_group(data, group)
    require_columns(pop, [treat, *variables] + ([responded] if responded else []))
    if responded:
        sample = pop[require_binary(pop[responded], responded) == 1]
        if sample.empty:
            raise InputError(f"no rows with {responded}=1{' in group ' + repr(group) if group else ''}")
    else:
        sample = pop
    t_all = require_binary(sample[treat], treat)
    require_both_arms(t_all, treat, " in the sample")
    w_all = _resolve_weights(sample, weights)
    rows = []
    for v in variables:
        label = BASELINE_LABELS.get(v, v)
        pcol, scol = pop[v], sample[v]
        ok = scol.notna().to_numpy()
        t = t_all[ok]
        w = np.ones(ok.sum()) if w_all is None else w_all[ok]
        if ok.sum() <= 2:
            raise InputError(f"variable {v!r} has {int(ok.sum())} non-missing value(s) in the sample: too few to test")
        require_both_arms(t, treat, f" among sample rows with {v!r} observed")
        c, tr = t == 0, t == 1
        n_pop, n_s, n_c, n_t = int(pcol.notna().sum()), int(ok.sum()), int(c.sum()), int(tr.sum())
        if is_categorical(pop, v):
            levels = _levels(pop, v)
            xs = scol[ok].to_numpy()
            xp = pcol.dropna().to_numpy()
            D = np.column_stack([(xs == lv).astype(float) for lv in levels])
            present = D.sum(0) > 0
            test_cols = np.flatnonzero(present)[:-1]  # drop one present level: shares sum to one
            if len(test_cols):
                diffs, _, _, p_block = diff_test(D[:, test_cols], t, w, cov_type, dist)
            else:
                p_block = float("nan")
            rows.append(dict(variable=v, level=None, label=label, kind="block", p=p_block,
                             n_population=n_pop, n_sample=n_s, n_control=n_c, n_treatment=n_t))
            for j, lv in enumerate(levels):
                dj = D[:, j]
                rows.append(dict(
                    variable=v, level=lv, label=LEVEL_LABELS.get(v, {}).get(lv, lv), kind="level",
                    population=float(np.mean(xp == lv)) if len(xp) else np.nan,
                    sample=_wmean(dj, w), control=_wmean(dj[c], w[c]), treatment=_wmean(dj[tr], w[tr]),
                    diff=_wmean(dj[tr], w[tr]) - _wmean(dj[c], w[c]), p=np.nan,
                    std_diff=standardised_difference(dj[tr], dj[c], w[tr], w[c]),
                    n_population=int(np.sum(xp == lv)), n_sample=int(dj.sum()),
                    n_control=int(dj[c].sum()), n_treatment=int(dj[tr].sum()),
                ))
        else:
            x = np.asarray(scol[ok], float)
            xp = np.asarray(pcol.dropna(), float)
            kind = "binary" if set(np.unique(np.concatenate([x, xp]))) <= {0.0, 1.0} else "numeric"
            if np.ptp(x) == 0:
                p = float("nan")
            else:
                _, _, _, p = diff_test(x, t, w, cov_type, dist)
            rows.append(dict(
                variable=v, level=None, label=label, kind=kind,
                population=float(xp.mean()), sample=_wmean(x, w), control=_wmean(x[c], w[c]),
                treatment=_wmean(x[tr], w[tr]), diff=_wmean(x[tr], w[tr]) - _wmean(x[c], w[c]), p=p,
                std_diff=standardised_difference(x[tr], x[c], w[tr], w[c]),
                n_population=n_pop, n_sample=n_s, n_control=n_c, n_treatment=n_t,
            ))
    out = pd.DataFrame(rows, columns=[
        "variable", "level", "label", "kind", "population", "sample", "control", "treatment",
        "diff", "p", "std_diff", "n_population", "n_sample", "n_control", "n_treatment",
    ])
    out.attrs.update(group=group, weighted=w_all is not None, cov_type=cov_type, dist=dist)
    return out


def _fmt_range(values: pd.Series) -> str:
    lo, hi = int(values.min()), int(values.max())
    return f"{lo:,}" if lo == hi else f"{lo:,}-{hi:,}"


def format_balance_table(table: pd.DataFrame, decimals: int = 2, suppress_below: int | None = 10, p_decimals: int = 2) -> pd.DataFrame:
    """The printed layout of Tables 4-2..4-4 from :func:`balance_table`'s output.

    Strings, one row per printed line (levels indented by their label only), a final
    "Base" row with the range of non-missing counts across variables, and "(-)" in a
    level's cell when fewer than ``suppress_below`` people are in it (the report's rule).
    Column headers say "weighted" when the table was weighted.
    """
    require_frame(table, "table")
    require_columns(table, ["label", "kind", "population", "sample", "control", "treatment", "p"], "table")
    weighted = table.attrs.get("weighted", False)
    suffix = ", weighted" if weighted else ""
    heads = {
        "population": COLUMNS_PRINTED["population"],
        "sample": COLUMNS_PRINTED["sample"] + suffix,
        "control": COLUMNS_PRINTED["control"] + suffix,
        "treatment": COLUMNS_PRINTED["treatment"] + suffix,
        "p": COLUMNS_PRINTED["p"],
    }
    counts = {"population": "n_population", "sample": "n_sample", "control": "n_control", "treatment": "n_treatment"}
    lines = []
    for _, r in table.iterrows():
        line = {"": ("  " if r["kind"] == "level" else "") + str(r["label"])}
        for col in ("population", "sample", "control", "treatment"):
            if r["kind"] == "block":
                line[heads[col]] = ""
            elif r["kind"] == "level" and suppress_below and 0 < r[counts[col]] < suppress_below:
                line[heads[col]] = "(-)"
            else:
                line[heads[col]] = f"{r[col]:.{decimals}f}"
        line[heads["p"]] = "" if r["kind"] == "level" or pd.isna(r["p"]) else f"{r['p']:.{p_decimals}f}"
        lines.append(line)
    var_rows = table[table["kind"] != "level"]
    base = {"": "Base"}
    for col in ("population", "sample", "control", "treatment"):
        base[heads[col]] = _fmt_range(var_rows[counts[col]])
    base[heads["p"]] = ""
    lines.append(base)
    return pd.DataFrame(lines).set_index("")
