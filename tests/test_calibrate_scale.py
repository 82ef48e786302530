"""The discrete calibrators' large-sample machinery: exact low-rank SE updates, and
calibrations that reach their goals in samples of --scale size in bounded time."""
from __future__ import annotations

import time

import numpy as np
import pytest

from data_synth import calibrate as cal


def _design(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    T = rng.integers(0, 2, n).astype(float)
    X = np.column_stack([np.ones(n), T, rng.normal(size=(n, 6)), rng.integers(0, 2, (n, 4))])
    w = rng.uniform(0.5, 2.0, n)
    return rng, T, X, w


def test_hc1_sum_after_equals_recomputing():
    rng, T, X, w = _design(2000)
    est = cal.LinearEstimator(X, w, j=1)
    y = rng.normal(size=len(T))
    e = est.resid(y)
    S = float(np.sum(est.c**2 * e**2))
    q = X.T @ (est.c**2 * e)
    rows = rng.choice(len(y), 300, replace=False)
    dv = rng.choice([-1.0, 1.0], 300)
    y2 = y.copy()
    y2[rows] += dv
    assert est.hc1_sum_after(e, S, q, rows, dv) == pytest.approx(float(np.sum(est.c**2 * est.resid(y2) ** 2)), rel=1e-10)


@pytest.mark.parametrize("n", [2000, 60000])
def test_integer_reaches_coefficient_and_se(n):
    rng, T, X, w = _design(n, 1)
    est = cal.LinearEstimator(X, w, j=1)
    y = np.clip(np.round(4 + 2 * X[:, 2] + rng.normal(0, 2, n)), 0, 10)
    se0 = est.se(y)
    goal = cal.Goal(coef=est.coef(y) + 0.05, se=0.93 * se0, tol_coef=0.005, tol_se=0.01 * se0)
    start = time.process_time()
    out = cal.integer(est, y, T, goal, (0, 10))
    assert time.process_time() - start < 20
    assert out.min() >= 0 and out.max() <= 10 and np.array_equal(out, np.round(out))
    assert [out[T == a].sum() for a in (0, 1)] == [y[T == a].sum() for a in (0, 1)]  # arm totals kept
    assert abs(est.coef(out) - goal.coef) <= goal.tol_coef
    assert abs(est.se(out) - goal.se) <= goal.tol_se


@pytest.mark.parametrize("n", [2000, 60000])
def test_capped_reaches_means_coefficient_and_se(n):
    rng, T, X, w = _design(n, 2)
    est = cal.LinearEstimator(X, w, j=1)
    cap = np.where(rng.random(n) < 0.6, rng.uniform(1, 16, n), 0.0)
    y = np.where(rng.random(n) < 0.7, cap, 0.0)
    mc, mt = y[T == 0].mean(), y[T == 1].mean()
    goal = cal.Goal(mean_c=mc - 0.2, mean_t=mt + 0.2, coef=est.coef(y) + 0.3, se=est.se(y),
                    tol_mean=0.002, tol_se=0.05 * est.se(y))
    start = time.process_time()
    out = cal.capped(est, y, T, goal, cap, rng)
    assert time.process_time() - start < 20
    assert np.all((out >= 0) & (out <= cap + 1e-12))
    assert abs(out[T == 0].mean() - goal.mean_c) <= 0.005 and abs(out[T == 1].mean() - goal.mean_t) <= 0.005
    assert abs(est.coef(out) - goal.coef) <= goal.tol_coef
    assert abs(est.se(out) - goal.se) <= goal.tol_se
