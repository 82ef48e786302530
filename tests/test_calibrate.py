"""The calibration machinery: its linear maps equal the kit's estimators, and each
calibrator reaches its goal on toy data."""
from __future__ import annotations

import numpy as np
import pytest

from data_synth import calibrate as cal
from data_synth.apportion import apportion, count_for_share
from data_synth.errors import TargetError
from hlt_replicate.regression import iv2sls, wls


@pytest.fixture()
def toy():
    rng = np.random.default_rng(1)
    n = 600
    T = rng.integers(0, 2, n).astype(float)
    X = np.column_stack([np.ones(n), T, rng.normal(size=n), rng.integers(0, 2, n)])
    w = rng.uniform(0.5, 2.0, n)
    y = 1 + 0.3 * T + X[:, 2] + rng.normal(size=n)
    return rng, T, X, w, y


def test_linear_estimator_equals_wls(toy):
    _, T, X, w, y = toy
    est = cal.LinearEstimator(X, w, j=1)
    fit = wls(y, X, w, "HC1")
    assert est.coef(y) == pytest.approx(fit.params[1], rel=1e-10)
    assert est.se(y) == pytest.approx(fit.bse[1], rel=1e-10)
    assert np.allclose(est.resid(y), fit.resid)


def test_linear_estimator_equals_iv2sls(toy):
    rng, T, X, w, y = toy
    D = T * (rng.random(len(T)) < 0.8)
    Xiv = np.column_stack([D, X[:, [0, 2, 3]]])
    est = cal.LinearEstimator(Xiv, w, j=0, Z=X)
    fit = iv2sls(y, X[:, [0, 2, 3]], D, T, w, "HC1")
    assert est.coef(y) == pytest.approx(fit.params[0], rel=1e-9)
    assert est.se(y) == pytest.approx(fit.bse[0], rel=1e-9)


def test_continuous_hits_means_coef_se_sd(toy):
    _, T, X, w, y = toy
    est = cal.LinearEstimator(X, w, j=1)
    goal = cal.Goal(mean_c=2.0, mean_t=2.5, coef=0.45, se=0.12, sd_c=1.6)
    out = cal.continuous(est, y, T, goal)
    assert out[T == 0].mean() == pytest.approx(2.0, abs=0.002)
    assert out[T == 1].mean() == pytest.approx(2.5, abs=0.002)
    assert est.coef(out) == pytest.approx(0.45, abs=0.002)
    assert est.se(out) == pytest.approx(0.12, abs=0.002)
    wc = w[T == 0]
    yc = out[T == 0]
    sd = np.sqrt(np.average((yc - np.average(yc, weights=wc)) ** 2, weights=wc))
    assert sd == pytest.approx(1.6, abs=0.003)
    assert np.corrcoef(out, y)[0, 1] > 0.8  # a nudge, not a new variable


def test_binary_hits_shares_and_coef(toy):
    rng, T, X, w, _ = toy
    y = (rng.random(len(T)) < 0.3).astype(float)
    est = cal.LinearEstimator(X, w, j=1)
    goal = cal.Goal(mean_c=0.30, mean_t=0.36, coef=0.05)
    out = cal.binary(est, y, T, goal, rng)
    assert set(np.unique(out)) <= {0.0, 1.0}
    assert round(out[T == 0].mean(), 2) == 0.30 and round(out[T == 1].mean(), 2) == 0.36
    assert est.coef(out) == pytest.approx(0.05, abs=0.005)
    assert (out != y).mean() < 0.2


def test_apportion_prints_back():
    counts = apportion(2519, [0.18, 0.24, 0.25, 0.33], decimals=2)
    assert counts.sum() == 2519
    assert [round(c / 2519, 2) for c in counts] == [0.18, 0.24, 0.25, 0.33]
    assert round(count_for_share(1463, 0.57, 2) / 1463, 2) == 0.57


def test_apportion_explains_impossible_shares():
    with pytest.raises(TargetError, match="no whole-number split of 10"):
        apportion(10, [0.33, 0.33, 0.34], decimals=2)
