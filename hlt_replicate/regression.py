"""Weighted least squares and two-stage least squares with robust standard errors.

Small, fast numpy implementations shared by the impact estimator, the Westfall–Young
resampler and the synthetic-data calibration. Cross-checked in the tests against
statsmodels ``WLS(...).fit(cov_type="HC1")`` and linearmodels ``IV2SLS``.

Conventions (Stata ``regress [pweight=w], robust`` and statsmodels agree on these):

* weights are sampling (inverse-probability) weights; point estimates are
  ``(X'WX)^{-1} X'Wy``;
* the sandwich "meat" is ``sum_i w_i^2 e_i^2 x_i x_i'`` (statsmodels' whitened residuals);
* ``HC0`` no small-sample factor; ``HC1`` multiplies by ``n / (n - k)`` (the default, as in
  Stata's ``robust``); ``HC2``/``HC3`` divide ``e_i^2`` by ``(1 - h_ii)`` / ``(1 - h_ii)^2``
  with leverages of the weighted design.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import linalg, stats

from ._checks import InputError, require_choice

COV_TYPES = ("HC0", "HC1", "HC2", "HC3")
P_DISTRIBUTIONS = ("t", "normal")


@dataclass(frozen=True)
class Fit:
    """Coefficients, robust covariance and residuals of one weighted regression."""

    params: np.ndarray
    cov: np.ndarray
    resid: np.ndarray  # unweighted residuals y - X b
    fitted: np.ndarray
    nobs: int
    df_resid: int
    names: tuple[str, ...]

    @property
    def bse(self) -> np.ndarray:
        return np.sqrt(np.diag(self.cov))

    def coef(self, name: str) -> float:
        return float(self.params[self.names.index(name)])

    def se(self, name: str) -> float:
        i = self.names.index(name)
        return float(np.sqrt(self.cov[i, i]))


def pvalue(stat: np.ndarray | float, df: int, dist: str = "t") -> np.ndarray | float:
    """Two-sided p-value of a t statistic: Student t with ``df`` degrees of freedom (Stata's
    ``regress``) or the standard normal (statsmodels' default for robust covariances)."""
    require_choice(dist, P_DISTRIBUTIONS, "dist")
    a = np.abs(stat)
    return 2 * (stats.t.sf(a, df) if dist == "t" else stats.norm.sf(a))


def check_rank(X: np.ndarray, names: Sequence[str], what: str = "design matrix") -> None:
    """Raise naming the columns that are linear combinations of earlier columns."""
    p = X.shape[1]
    if X.shape[0] < p:
        raise InputError(f"{what} has {X.shape[0]} observation(s) but {p} parameter(s): fewer observations than parameters")
    if np.linalg.matrix_rank(X) == p:
        return
    dependent, keep = [], []
    for j in range(p):
        trial = keep + [j]
        if np.linalg.matrix_rank(X[:, trial]) == len(trial):
            keep = trial
        else:
            dependent.append(names[j])
    raise InputError(
        f"{what} is collinear: {', '.join(map(repr, dependent))} "
        "is/are a linear combination of the other columns (drop it or merge categories)"
    )


def wls(
    y: np.ndarray,
    X: np.ndarray,
    w: np.ndarray | None = None,
    cov_type: str = "HC1",
    names: Sequence[str] | None = None,
) -> Fit:
    """Weighted least squares with a heteroskedasticity-robust covariance."""
    require_choice(cov_type, COV_TYPES, "cov_type")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    n, k = X.shape
    names = tuple(names) if names is not None else tuple(f"x{j}" for j in range(k))
    if n <= k:
        raise InputError(f"{n} observation(s) for {k} parameter(s): fewer observations than parameters")
    sw = np.ones(n) if w is None else np.sqrt(np.asarray(w, dtype=float))
    Xs = X * sw[:, None]
    ys = y * sw
    Q, R = np.linalg.qr(Xs)
    if np.min(np.abs(np.diag(R))) < 1e-10 * np.max(np.abs(np.diag(R))):
        check_rank(Xs, names)
    beta = linalg.solve_triangular(R, Q.T @ ys)
    es = ys - Xs @ beta
    Rinv = linalg.solve_triangular(R, np.eye(k))
    bread = Rinv @ Rinv.T
    u2 = es**2
    if cov_type in ("HC2", "HC3"):
        h = np.einsum("ij,ij->i", Q, Q)
        u2 = u2 / (1 - h) ** (1 if cov_type == "HC2" else 2)
    meat = (Xs * u2[:, None]).T @ Xs
    V = bread @ meat @ bread
    if cov_type == "HC1":
        V *= n / (n - k)
    fitted = X @ beta
    return Fit(beta, V, y - fitted, fitted, n, n - k, names)


def iv2sls(
    y: np.ndarray,
    exog: np.ndarray,
    endog: np.ndarray,
    instruments: np.ndarray,
    w: np.ndarray | None = None,
    cov_type: str = "HC1",
    names: Sequence[str] | None = None,
    instrument_names: Sequence[str] | None = None,
) -> Fit:
    """Two-stage least squares, one endogenous regressor per column of ``endog``.

    Regressors are ``[endog, exog]``; instruments ``[instruments, exog]``. Robust covariance
    as linearmodels' ``IV2SLS(...).fit(cov_type="robust")`` (HC0) with an ``n/(n-k)``
    factor for ``HC1``. Weights enter as in linearmodels (rows multiplied by sqrt(w)).
    ``names`` (of the regressors) and ``instrument_names`` name the columns in errors.
    """
    require_choice(cov_type, ("HC0", "HC1"), "cov_type")
    y = np.asarray(y, dtype=float)
    endog = np.atleast_2d(np.asarray(endog, dtype=float).T).T
    exog = np.asarray(exog, dtype=float)
    Z = np.column_stack([np.atleast_2d(np.asarray(instruments, dtype=float).T).T, exog])
    X = np.column_stack([endog, exog])
    n, k = X.shape
    names = tuple(names) if names is not None else tuple(f"x{j}" for j in range(k))
    sw = np.ones(n) if w is None else np.sqrt(np.asarray(w, dtype=float))
    Xs, Zs, ys = X * sw[:, None], Z * sw[:, None], y * sw
    n_inst = Z.shape[1] - exog.shape[1]
    inst = list(instrument_names) if instrument_names is not None else [f"instrument{j}" for j in range(n_inst)]
    check_rank(Zs, [*inst, *names[endog.shape[1]:]], "instrument matrix (instruments and exogenous regressors)")
    Qz, _ = np.linalg.qr(Zs)
    Xhat = Qz @ (Qz.T @ Xs)
    check_rank(Xhat, names, "first-stage fitted regressors (weak or irrelevant instrument?)")
    beta = np.linalg.lstsq(Xhat, ys, rcond=None)[0]
    es = ys - Xs @ beta
    bread = np.linalg.inv(Xhat.T @ Xhat)
    meat = (Xhat * (es**2)[:, None]).T @ Xhat
    V = bread @ meat @ bread
    if cov_type == "HC1":
        V *= n / (n - k)
    fitted = X @ beta
    return Fit(beta, V, y - fitted, fitted, n, n - k, names)


def level_codes(values: pd.Series, name: str, levels: Sequence | None = None) -> tuple[np.ndarray, list]:
    """Integer codes of a categorical series (``-1`` where missing) and the level order they
    index: the present levels in the order of ``levels``, or sorted by their text.

    One hash pass (:func:`pandas.factorize`) instead of building a ``pd.Categorical``:
    designs are rebuilt many times in the generator's calibration loops.
    """
    codes, uniques = pd.factorize(values)
    return recode(codes, list(uniques), name, levels)


def recode(codes: np.ndarray, present: list, name: str, levels: Sequence | None = None) -> tuple[np.ndarray, list]:
    """Re-index :func:`pandas.factorize` codes (into ``present``, order of appearance) to the
    level order of :func:`level_codes`; raises on a level not in ``levels``."""
    if levels is not None:
        unknown = sorted(set(map(str, present)) - set(map(str, levels)))
        if unknown:
            raise InputError(f"column {name!r} has unexpected level(s) {unknown[:5]}; expected {list(levels)}")
        seen = set(present)
        order = [lv for lv in levels if lv in seen]
    else:
        order = sorted(present, key=str)
    rank = {lv: i for i, lv in enumerate(order)}
    # a value equal to no level (possible only when its text matches one) gets no indicator
    remap = np.array([rank.get(lv, -1) for lv in present] + [-1], dtype=np.intp)
    return remap[codes], order


def indicators(codes: np.ndarray, k: int) -> np.ndarray:
    """``n x (k - 1)`` 0/1 matrix: column ``j`` marks code ``j + 1`` (code 0 is the base)."""
    mat = np.zeros((len(codes), max(k - 1, 0)))
    rows = np.flatnonzero(codes > 0)
    mat[rows, codes[rows] - 1] = 1.0
    return mat


def dummies(values: pd.Series, name: str, levels: Sequence | None = None) -> tuple[np.ndarray, list[str]]:
    """Indicator columns for every level of a categorical series but the first present one."""
    codes, order = level_codes(values, name, levels)
    return indicators(codes, len(order)), [f"{name}[{lv}]" for lv in order[1:]]
